"""``tfprobe act``: activations of a model's units for stimuli on disk, into an HDF5 file."""

from __future__ import annotations

import hashlib
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
    ("arguments", "status", "message"),
    [
        (
            ["{model}", "{folder}", "--layers", "conv3", "--out", "{out}"],
            2,
            "unknown unit 'conv3'; did you mean 'conv'",
        ),
        (["{model}", "{tmp}/missing", "--layers", "conv", "--out", "{out}"], 2, "stimuli '.*missing' does not exist"),
        (["{model}", "{folder}", "--layers", "conv", "--out", "{out}", "--pool", "median"], 2, "--pool must be none"),
        (["nonsense", "{folder}", "--layers", "conv", "--out", "{out}"], 2, "unknown MODEL 'nonsense'"),
        (["{tmp}/absent.keras", "{folder}", "--layers", "conv", "--out", "{out}"], 2, "model file .* does not exist"),
        (["{model}", "{folder}", "--layers", "conv", "--out", "{out}", "--append", "--overwrite"], 2, "not both"),
        (["{model}", "{folder}", "--out", "{out}"], 2, "give --layers"),
        (
            ["{model}", "{folder}", "--layers", "conv", "--out", "{out}", "--code", "bglt_0111"],
            2,
            "--code applies to the recurrent network",
        ),
        (
            ["rnn", "{folder}", "--layers", "conv1", "--out", "{out}", "--weights", "none"],
            2,
            "--weights applies to keras.applications models",
        ),
        (
            ["{model}", "{folder}", "--layers", "conv", "--out", "{out}", "--preprocess", "vgg16", "--scale", "255"],
            2,
            "--scale sets the range of stimuli that are not preprocessed",
        ),
        (["{model}", "{tmp}/bad.npz", "--layers", "conv", "--out", "{out}"], 1, "cannot read stimulus file .*bad.npz"),
        (
            ["{model}", "{tmp}/wide.npy", "--layers", "conv", "--out", "{out}"],
            1,
            r"expected stimuli of shape \(n, 16, 16, 1\)",
        ),
        (
            ["{model}", "{tmp}/nan.npy", "--layers", "conv", "--out", "{out}"],
            1,
            r"stimulus file .*nan.npy: stimulus 3 holds NaN or infinite values",
        ),
        (
            ["{model}", "{tmp}/broken_images", "--layers", "conv", "--out", "{out}"],
            1,
            r"cannot read image .*broken_images/b.png",
        ),
    ],
)
def test_act_errors_are_one_line_with_their_exit_status(
    model_file, image_folder, tmp_path, capsys, arguments, status, message
) -> None:
    (tmp_path / "bad.npz").write_bytes(b"corrupt")
    np.save(tmp_path / "wide.npy", np.zeros((2, 16, 20, 1), np.float32))
    with_nan = np.zeros((5, 16, 16, 1), np.float32)
    with_nan[3, 2, 2] = np.nan
    np.save(tmp_path / "nan.npy", with_nan)
    broken = tmp_path / "broken_images"
    broken.mkdir()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(broken / "a.png")
    (broken / "b.png").write_bytes(b"not a png")
    values = {"model": model_file, "folder": image_folder, "out": tmp_path / "a.h5", "tmp": tmp_path}
    code = main(["act", *(a.format(**values) for a in arguments)])
    error = capsys.readouterr().err
    assert code == status, error
    assert error.startswith("tfprobe act: error: ") and error.count("\n") == 1
    assert re.search(message, error), error
    assert not (tmp_path / "a.h5").exists() and not list(tmp_path.glob(".a.*"))


def test_act_refuses_to_overwrite_before_loading_the_model(model_file, image_folder, tmp_path, capsys, monkeypatch):
    from tfprobe.cli import models

    out = tmp_path / "acts.h5"
    assert main(["act", str(model_file), str(image_folder), "--layers", "out", "--out", str(out)]) == 0
    with monkeypatch.context() as patch:
        patch.setattr(models, "load", lambda args: pytest.fail("the model must not be loaded"))
        assert main(["act", str(model_file), str(image_folder), "--layers", "conv", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert f"--out {out} exists: pass --overwrite to replace it or --append to add stimuli to it" in error
    assert "overwrite=True" not in error and "mode=" not in error
    assert load_activations(out).units == ["out"]
    assert main(["act", str(model_file), str(image_folder), "--layers", "conv", "--out", str(out), "--overwrite"]) == 0
    assert load_activations(out).units == ["conv"]


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_act_append_refuses_another_model_and_leaves_the_file_unchanged(tmp_path, capsys) -> None:
    scenes = tmp_path / "scenes.npy"
    np.save(scenes, np.random.default_rng(2).random((4, 100, 100, 1)).astype(np.float32))
    more = tmp_path / "more.npz"
    np.savez(more, images=np.random.default_rng(3).random((2, 100, 100, 1)).astype(np.float32), ids=np.array([7, 8]))
    out = tmp_path / "acts.h5"
    base = ["act", "rnn", "--timesteps", "2", "--layers", "fc1@t1", "--pool", "mean", "--out", str(out)]
    assert main([*base, str(scenes)]) == 0
    file = load_activations(out)
    assert file.attrs["model_spec"] == "rnn:bglt_0111:2" and file.attrs["weights"] == "random (seed 0)"
    assert file.attrs["scale"] == "[0, 1]" and file.attrs["preprocessing"] == "none"
    before = checksum(out)
    for extra, message in [
        (["--seed", "1"], "its weights is 'random (seed 0)', these stimuli's is 'random (seed 1)'"),
        (["--code", "bglt_1111"], "its model_spec is 'rnn:bglt_0111:2', these stimuli's is 'rnn:bglt_1111:2'"),
        (["--scale", "255"], "its scale is '[0, 1]', these stimuli's is '[0, 255]'"),
    ]:
        assert main([*base, str(more), "--append", *extra]) == 1
        assert message in capsys.readouterr().err
        assert checksum(out) == before
    repeated = tmp_path / "repeated.npz"
    np.savez(repeated, images=np.zeros((2, 100, 100, 1), np.float32), ids=np.array([3, 9]))
    assert main([*base, str(repeated), "--append"]) == 1
    assert "1 stimulus ids are already in it ('3')" in capsys.readouterr().err
    assert checksum(out) == before
    assert main([*base, str(more), "--append"]) == 0
    assert list(load_activations(out).ids) == [0, 1, 2, 3, 7, 8]


def test_act_takes_code_and_timesteps_like_export(tmp_path, capsys) -> None:
    scenes = tmp_path / "scenes.npy"
    np.save(scenes, (np.random.default_rng(2).random((3, 100, 100)) * 255).astype(np.uint8))  # 8-bit, no channel
    by_options, by_spec = tmp_path / "options.h5", tmp_path / "spec.h5"
    assert (
        main(
            [
                "act",
                "rnn",
                str(scenes),
                "--code",
                "bglt_1011",
                "--timesteps",
                "2",
                "--layers",
                "conv1@t1",
                "--out",
                str(by_options),
            ]
        )
        == 0
    )
    assert "read uint8 values as 8-bit pixels (/ 255)" in capsys.readouterr().out
    assert main(["act", "rnn:bglt_1011:2", str(scenes), "--layers", "conv1@t1", "--out", str(by_spec)]) == 0
    np.testing.assert_array_equal(load_activations(by_options)["conv1@t1"][:], load_activations(by_spec)["conv1@t1"][:])
    assert load_activations(by_options).attrs["code"] == "bglt_1011"


def test_options_and_positionals_mix_freely_and_applications_get_their_preprocessing(tmp_path, capsys) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(4)
    sizes = [(40, 30), (224, 224), (30, 50)]
    for i, (height, width) in enumerate(sizes):
        Image.fromarray((rng.random((height, width, 3)) * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    Image.fromarray((rng.random((224, 224)) * 255).astype(np.uint8)).save(folder / "p3.png")  # grayscale
    out = tmp_path / "vgg.h5"
    status = main(
        [
            "act",
            "vgg16",
            "--weights",
            "none",
            str(folder),
            "--layers",
            "block1_conv1",
            "--out",
            str(out),
            "--pool",
            "mean",
        ]
    )
    assert status == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "resized 2 images to 224x224, converted 1 grayscale to RGB" in printed
    assert "preprocessing: keras.applications.vgg16.preprocess_input" in printed
    file = load_activations(out)
    assert file.attrs["preprocessing"] == "keras.applications.vgg16.preprocess_input"
    assert file.attrs["scale"] == "[0, 255]" and file.attrs["weights"] == "random (seed 0)"
    from tfprobe.datasets.image_folder import ImageFolder
    from tfprobe.models.loading import load_model

    pixels = ImageFolder(folder, size=(224, 224), scale=255)[:]
    model = load_model("vgg16", weights=None, seed=0)
    expected = Probe(model).activations(
        keras.applications.vgg16.preprocess_input(pixels), "block1_conv1", pool="mean", progress=False
    )["block1_conv1"]
    np.testing.assert_allclose(file["block1_conv1"][:], expected, rtol=1e-5, atol=1e-4)
    unprocessed = tmp_path / "raw.h5"
    assert (
        main(
            [
                "act",
                "vgg16",
                str(folder),
                "--weights",
                "none",
                "--preprocess",
                "none",
                "--layers",
                "block1_conv1",
                "--out",
                str(unprocessed),
                "--pool",
                "mean",
            ]
        )
        == 0
    )
    assert load_activations(unprocessed).attrs["preprocessing"] == "none"
    assert not np.allclose(load_activations(unprocessed)["block1_conv1"][:], expected, atol=1e-3)


def test_act_output_is_plain_text_with_a_known_total(model_file, tmp_path) -> None:
    stimuli = tmp_path / "many.npy"
    np.save(stimuli, np.random.default_rng(0).random((40, 16, 16, 1)).astype(np.float32))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tfprobe.cli",
            "act",
            str(model_file),
            str(stimuli),
            "--layers",
            "out",
            "--batch-size",
            "4",
            "--out",
            str(tmp_path / "a.h5"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stdout and "\x1b" not in result.stdout
    progress = [line for line in result.stdout.splitlines() if "/40 stimuli" in line]
    assert progress and progress[-1].strip().startswith("40/40 stimuli") and len(progress) <= 11


def test_act_help() -> None:
    result = subprocess.run([sys.executable, "-m", "tfprobe.cli", "act", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--layers" in result.stdout and "--preprocess" in result.stdout
