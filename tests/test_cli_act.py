"""``tfprobe act``: activations of a model's units for stimuli on disk, into an HDF5 file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from tfprobe import Probe, load_activations
from tfprobe.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, name="out"),
        ],
        name="tiny_cli",
    )
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stimuli")
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray((rng.random((16, 16)) * 255).astype(np.uint8)).save(folder / f"img_{i}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_act_writes_a_file_from_a_folder_of_images(model_file, image_folder, tmp_path, capsys) -> None:
    out = tmp_path / "acts.h5"
    status = main(
        ["act", str(model_file), str(image_folder), "--layers", "conv", "out", "--out", str(out), "--pool", "mean"]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "5 stimuli" in printed and "conv: 5x4" in printed and f"wrote {out}" in printed
    file = load_activations(out)
    assert file.units == ["conv", "out"] and list(file.ids) == [f"img_{i}.png" for i in range(5)]
    images = np.stack([np.asarray(Image.open(image_folder / f"img_{i}.png"), np.float32) / 255 for i in range(5)])
    expected = Probe(keras.saving.load_model(model_file)).activations(
        images[..., None], ["conv", "out"], pool="mean", progress=False
    )
    np.testing.assert_allclose(file["conv"], expected["conv"], atol=1e-6)
    np.testing.assert_allclose(file["out"], expected["out"], atol=1e-6)
    assert file.attrs["model_name"] == "tiny_cli" and file.attrs["pooling"] == "global mean"


def test_act_on_arrays_appends_and_lists_units(model_file, tmp_path, capsys) -> None:
    rng = np.random.default_rng(1)
    first = tmp_path / "first.npz"
    np.savez(first, images=(rng.random((4, 16, 16, 1)) * 255).astype(np.uint8), ids=np.array([10, 11, 12, 13]))
    second = tmp_path / "second.npy"
    np.save(second, rng.random((2, 16, 16, 1)).astype(np.float32))
    out = tmp_path / "acts.h5"
    assert main(["act", str(model_file), str(first), "--layers", "out", "--out", str(out)]) == 0
    assert main(["act", str(model_file), str(second), "--layers", "out", "--out", str(out), "--append"]) == 0
    file = load_activations(out)
    assert list(file.ids) == [10, 11, 12, 13, 4, 5] and file["out"].shape == (6, 3)
    capsys.readouterr()
    assert main(["act", str(model_file), "--list"]) == 0
    assert "conv" in capsys.readouterr().out


def test_act_on_the_recurrent_network(tmp_path, capsys) -> None:
    scenes = tmp_path / "scenes.npy"
    np.save(scenes, np.random.default_rng(2).random((3, 100, 100, 1)).astype(np.float32))
    out = tmp_path / "rnn.h5"
    status = main(
        [
            "act",
            "rnn:bglt_0111:2",
            str(scenes),
            "--layers",
            "fc1",
            "conv2.gain@t0",
            "--out",
            str(out),
            "--pool",
            "max:3",
        ]
    )
    assert status == 0, capsys.readouterr().err
    file = load_activations(out)
    assert file.units == ["fc1@t0", "fc1@t1", "conv2.gain@t0"]
    assert file.shapes["conv2.gain@t0"] == (3, 3, 3, 16) and file.unit_attrs["fc1@t1"]["timestep"] == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["{model}", "{folder}", "--layers", "conv3", "--out", "{out}"], "unknown unit 'conv3'; did you mean 'conv'"),
        (
            ["{model}", "{tmp}/missing", "--layers", "conv", "--out", "{out}"],
            "stimulus file '.*missing' does not exist",
        ),
        (["{model}", "{folder}", "--layers", "conv", "--out", "{out}", "--pool", "median"], "--pool must be none"),
        (["nonsense", "{folder}", "--layers", "conv", "--out", "{out}"], "unknown model 'nonsense'"),
        (["{tmp}/absent.keras", "{folder}", "--layers", "conv", "--out", "{out}"], "model file .* does not exist"),
        (["{model}", "{folder}", "--layers", "conv", "--out", "{out}", "--append", "--overwrite"], "not both"),
        (["{model}", "{folder}", "--out", "{out}"], "give STIMULI, --layers and --out"),
        (["{model}", "{tmp}/bad.npz", "--layers", "conv", "--out", "{out}"], "cannot read stimulus file"),
        (
            ["{model}", "{tmp}/wide.npy", "--layers", "conv", "--out", "{out}"],
            r"expected stimuli of shape \(n, 16, 16, 1\)",
        ),
    ],
)
def test_act_errors_are_one_line_with_exit_status_2(
    model_file, image_folder, tmp_path, capsys, arguments, message
) -> None:
    (tmp_path / "bad.npz").write_bytes(b"corrupt")
    np.save(tmp_path / "wide.npy", np.zeros((2, 16, 20, 1), np.float32))
    values = {"model": model_file, "folder": image_folder, "out": tmp_path / "a.h5", "tmp": tmp_path}
    status = main(["act", *(a.format(**values) for a in arguments)])
    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith("tfprobe act: error: ") and error.count("\n") == 1
    assert re.search(message, error), error
    assert not (tmp_path / "a.h5").exists()


def test_act_refuses_to_overwrite(model_file, image_folder, tmp_path, capsys) -> None:
    out = tmp_path / "acts.h5"
    assert main(["act", str(model_file), str(image_folder), "--layers", "out", "--out", str(out)]) == 0
    assert main(["act", str(model_file), str(image_folder), "--layers", "conv", "--out", str(out)]) == 2
    assert "exists: pass overwrite=True" in capsys.readouterr().err
    assert load_activations(out).units == ["out"]
    assert main(["act", str(model_file), str(image_folder), "--layers", "conv", "--out", str(out), "--overwrite"]) == 0
    assert load_activations(out).units == ["conv"]


def test_act_help() -> None:
    result = subprocess.run([sys.executable, "-m", "tfprobe.cli", "act", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--layers" in result.stdout and "--pool" in result.stdout
