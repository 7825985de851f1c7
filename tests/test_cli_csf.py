"""``tfprobe csf``: linear probes on a backbone's layers, their CSFs, written to a folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import keras
import pytest

from tfprobe.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    path = tmp_path_factory.mktemp("model") / "backbone.keras"
    keras.Model(inputs, x, name="backbone").save(path)
    return path


QUICK = ["--size", "32", "--pairs", "300", "--validation-pairs", "100", "--epochs", "6", "--orientations", "3"]


def test_csf_writes_figures_and_thresholds_for_each_layer(model_file, tmp_path, capsys) -> None:
    out = tmp_path / "csf"
    arguments = ["csf", "--model", str(model_file), "--layers", "conv1", "conv2", "--pooling", "avg", *QUICK]
    status = main([*arguments, "--max-iterations", "6", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert {p.name for p in out.iterdir()} == {
        "csf.png",
        "training.png",
        "thresholds.json",
        "training_conv1.json",
        "training_conv2.json",
    }
    report = json.loads((out / "thresholds.json").read_text())
    assert list(report["layers"]) == ["conv1", "conv2"] and report["pooling"] == "avg"
    for layer in ("conv1", "conv2"):
        entry = report["layers"][layer]
        assert entry["frequencies"] == [1, 2, 4, 8, 16]
        assert len(entry["thresholds"]) == 5 and all(0 < t < 1 for t in entry["thresholds"])
        assert entry["sensitivity"] == pytest.approx([1 / t for t in entry["thresholds"]])
        assert max(entry["iterations"]) <= 6
        assert entry["validation_accuracy"] > 0.8  # the probe learned the task on held-out pairs
        history = json.loads((out / f"training_{layer}.json").read_text())
        assert len(history["accuracy"]) == 6
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert set(summary["peak_frequency"]) == {"conv1", "conv2"}
    # The folder is refused the second time, unless --overwrite.
    assert main([*arguments, "--max-iterations", "2", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--layers", "conv9"], "unknown layer of backbone 'conv9'"),
        (["--layers", "conv1", "--size", "4"], "--size must be at least 8 pixels"),
        (["--layers", "conv1", "--frequencies", "4", "40"], r"--frequencies must be in \(0, 16\]"),
        (["--layers", "conv1", "--pooling", "max"], "expected none, avg or a grid side"),
        (["--layers", "conv1", "--epochs", "0"], "--epochs must be at least 1"),
    ],
)
def test_csf_bad_input(model_file, tmp_path, capsys, extra, message) -> None:
    out = tmp_path / "never"
    arguments = ["csf", "--model", str(model_file), "--size", "32", "--pairs", "16", "--out", str(out)]
    status = main([*arguments, *extra])
    assert status in (1, 2)
    error = capsys.readouterr().err
    assert re.search(message, error), error
    assert not out.exists()


def test_csf_refuses_the_recurrent_network_and_unknown_weights(tmp_path, capsys) -> None:
    assert main(["csf", "--model", "rnn", "--layers", "conv1", "--out", str(tmp_path / "x")]) == 2
    assert "not the recurrent network" in capsys.readouterr().err
    assert (
        main(
            [
                "csf",
                "--model",
                "vgg16",
                "--weights",
                str(tmp_path / "missing.h5"),
                "--layers",
                "block1_pool",
                "--out",
                str(tmp_path / "y"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
