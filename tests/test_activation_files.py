"""Activations to HDF5 and back: layout, metadata, appending, refusing to overwrite, atomic writes, bad files."""

from __future__ import annotations

from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfprobe import Probe, load_activations
from tfprobe.probing import ActivationFileError


@pytest.fixture(scope="module")
def probe() -> Probe:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(3, 3, activation="relu", name="conv"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(4, name="out"),
        ],
        name="tiny",
    )
    return Probe(model, batch_size=4)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(1).random((10, 12, 12, 1)).astype("float32")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_extract_writes_what_activations_returns(probe, images, tmp_path: Path) -> None:
    path = tmp_path / "acts.h5"
    file = probe.extract(images, ["conv", "out"], path, pool=2, progress=False)
    expected = probe.activations(images, ["conv", "out"], pool=2, progress=False)
    assert file.units == ["conv", "out"] and list(file) == ["conv", "out"] and len(file) == 2
    for unit in file.units:
        np.testing.assert_array_equal(file[unit], expected[unit])
    np.testing.assert_array_equal(file.ids, np.arange(10))
    assert file.attrs["model_name"] == "tiny" and file.attrs["model_class"] == "Sequential"
    assert file.attrs["pooling"] == "adaptive mean 2x2" and file.attrs["format"] == "tfprobe-activations/1"
    assert '"name": "tiny"' in file.attrs["model_config"]
    assert file.unit_attrs["conv"]["layer"] == "conv" and file.unit_attrs["conv"]["timestep"] == -1
    np.testing.assert_array_equal(file.read("out", rows=slice(2, 5)), expected["out"][2:5])
    # re-read from disk by a fresh reader, and with h5py directly
    again = load_activations(path)
    assert again.n_stimuli == 10 and again.shapes["conv"] == (10, 2, 2, 3)
    with h5py.File(path, "r") as raw:
        np.testing.assert_array_equal(raw["activations/out"][()], expected["out"])
    assert leftovers(tmp_path) == []


def test_string_ids_and_appending(probe, images, tmp_path: Path) -> None:
    path = tmp_path / "acts.h5"
    names = [f"scene-{i}" for i in range(10)]
    probe.extract(images[:6], "out", path, ids=names[:6], progress=False)
    appended = probe.extract(
        tf.data.Dataset.from_tensor_slices(images[6:]), "out", path, ids=names[6:], mode="a", progress=False
    )
    assert list(appended.ids) == names
    np.testing.assert_allclose(appended["out"], probe.activations(images, "out", progress=False)["out"], atol=1e-6)
    # appending without ids continues the numbering of an int-id file
    numbered = tmp_path / "numbered.h5"
    probe.extract(images[:3], "out", numbered, progress=False)
    assert list(probe.extract(images[3:5], "out", numbered, mode="a", progress=False).ids) == [0, 1, 2, 3, 4]
    # mode="a" on a missing file creates it
    fresh = probe.extract(images[:2], "out", tmp_path / "fresh.h5", mode="a", progress=False)
    assert fresh.n_stimuli == 2


def test_existing_files_are_refused_unless_asked(probe, images, tmp_path: Path) -> None:
    path = tmp_path / "acts.h5"
    probe.extract(images[:2], "out", path, progress=False)
    with pytest.raises(FileExistsError, match="exists: pass overwrite=True to replace it, or mode='a'"):
        probe.extract(images, "out", path, progress=False)
    assert load_activations(path).n_stimuli == 2
    assert probe.extract(images, "out", path, overwrite=True, progress=False).n_stimuli == 10
    with pytest.raises(ActivationFileError, match=r"holds units \['out'\], this extraction records \['conv'\]"):
        probe.extract(images, "conv", path, mode="a", progress=False)
    with pytest.raises(ActivationFileError, match="were pooled as 'none', these as 'global mean'"):
        probe.extract(images, "out", path, mode="a", pool="mean", progress=False)
    assert load_activations(path).n_stimuli == 10
    with pytest.raises(ValueError, match="mode must be 'w'"):
        probe.extract(images, "out", path, mode="x")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        probe.extract(images, "out", tmp_path / "missing" / "a.h5")
    assert leftovers(tmp_path) == []


def failing_stimuli(images: np.ndarray, after: int) -> tf.data.Dataset:
    def generate():
        for i, image in enumerate(images):
            if i == after:
                raise RuntimeError("stimulus source failed")
            yield image

    return tf.data.Dataset.from_generator(generate, output_signature=tf.TensorSpec((12, 12, 1), tf.float32))


def test_an_interrupted_extraction_leaves_no_half_written_file(probe, images, tmp_path: Path) -> None:
    path = tmp_path / "acts.h5"
    with pytest.raises(Exception, match="stimulus source failed"):
        probe.extract(failing_stimuli(images, 7), "out", path, batch_size=2, progress=False)
    assert not path.exists() and leftovers(tmp_path) == []
    probe.extract(images[:4], "out", path, progress=False)
    before = path.read_bytes()
    with pytest.raises(Exception, match="stimulus source failed"):
        probe.extract(failing_stimuli(images, 5), "out", path, batch_size=2, mode="a", progress=False)
    assert path.read_bytes() == before and leftovers(tmp_path) == []
    with pytest.raises(ValueError, match=r"one id per stimulus: 10 stimuli, got \(3,\) ids"):
        probe.extract(images, "out", tmp_path / "ids.h5", ids=[1, 2, 3], progress=False)
    assert not (tmp_path / "ids.h5").exists() and leftovers(tmp_path) == []


def test_bad_files_are_named(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file" * 10)
    with pytest.raises(ActivationFileError, match=r"cannot read activation file .*garbage\.h5"):
        load_activations(garbage)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as file:
        file["x"] = np.zeros(3)
    with pytest.raises(ActivationFileError, match="not a tfprobe activation file"):
        load_activations(other)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_activations(tmp_path / "none.h5")


def test_truncated_file_is_reported(probe, images, tmp_path: Path) -> None:
    path = tmp_path / "acts.h5"
    probe.extract(images, ["conv", "out"], path, progress=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ActivationFileError, match=r"acts\.h5"):
        file = load_activations(path)
        file["conv"]
