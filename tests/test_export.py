"""SavedModel export: loaded in a separate process, equal to the in-memory model."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from tfprobe import GainModulatedRNN, export_saved_model
from tfprobe.export import saved_model_output_names

LOAD_AND_RUN = textwrap.dedent(
    """
    import sys, numpy as np, tensorflow as tf
    loaded = tf.saved_model.load(sys.argv[1])
    images = tf.constant(np.load(sys.argv[2]))
    outputs = loaded.signatures["serving_default"](images=images)
    classify = loaded.signatures["classify"](images=images)
    np.savez(sys.argv[3], **{name: value.numpy() for name, value in outputs.items()},
             classify_log_probs=classify["log_probs"].numpy())
    print("modules:", sorted(m for m in sys.modules if m.startswith(("tfprobe", "torch"))))
    """
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    keras.utils.set_random_seed(11)
    model = GainModulatedRNN.from_code("bglt_1011", timesteps=3, n_feats=2, jit_compile=False)
    path = export_saved_model(model, tmp_path_factory.mktemp("export") / "rnn")
    return model, path


@pytest.mark.heavy
def test_saved_model_in_another_process_equals_the_model(exported, images, tmp_path):
    model, path = exported
    np.save(tmp_path / "images.npy", images)
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_RUN, str(path), str(tmp_path / "images.npy"), str(tmp_path / "out.npz")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "modules: []" in result.stdout  # neither tfprobe nor torch is needed to run it
    loaded = np.load(tmp_path / "out.npz")
    expected = model(images, return_activations=True).numpy().flat()
    assert set(loaded.files) == set(expected) | {"classify_log_probs"}
    for name, value in expected.items():
        np.testing.assert_allclose(loaded[name], value, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(loaded["classify_log_probs"], expected["log_probs"], atol=1e-5)


def test_output_names_are_documented_and_complete(exported):
    model, _ = exported
    names = saved_model_output_names(model)
    assert names[:2] == ["log_probs", "readout"]
    assert {f"{stage}_t{t}" for stage in ("input", "conv1", "conv2", "fc1") for t in range(3)} <= set(names)
    # bglt_1011: bias flows only; conv1 gets lateral and top-down flows.
    assert "flow_conv1_bias_t1" in names and "flow_conv1_bias_from_fc1_t1" in names
    assert "flow_conv1_bias_lateral_t0" in names and not any("_gain_" in n for n in names)
    assert len(names) == len(set(names))


def test_saved_model_cli_lists_the_signature(exported):
    _, path = exported
    cli = shutil.which("saved_model_cli")
    assert cli is not None, "saved_model_cli is installed with tensorflow"
    result = subprocess.run([cli, "show", "--dir", str(path), "--all"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    assert "signature_def['serving_default']" in text and "signature_def['classify']" in text
    assert "inputs['images'] tensor_info:" in text and "shape: (-1, 100, 100, 1)" in text
    assert "outputs['log_probs'] tensor_info:" in text and "outputs['conv2_t2'] tensor_info:" in text
    assert "outputs['flow_input_bias_from_conv2_t1'] tensor_info:" in text


def test_export_refuses_to_overwrite_and_replaces_atomically(exported, tmp_path):
    model, _ = exported
    target = tmp_path / "model"
    target.mkdir()
    (target / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_saved_model(model, target)
    assert (target / "keep.txt").read_text() == "user data"
    export_saved_model(model, target, overwrite=True)
    assert (target / "saved_model.pb").is_file() and not (target / "keep.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging directory left behind
    with pytest.raises(TypeError, match="expects a GainModulatedRNN, got Sequential"):
        export_saved_model(keras.Sequential([keras.layers.Dense(1)]), tmp_path / "other")

