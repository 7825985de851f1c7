"""Activations to HDF5 and back: layout, metadata, appending, refusing to overwrite, atomic writes, bad files."""

from __future__ import annotations

import hashlib
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
    assert file.attrs["pooling"] == "adaptive mean 2x2" and file.attrs["format"] == "tfprobe-activations/2"
    assert '"name": "tiny"' in file.attrs["model_config"]
    # what made the file: a model built in Python has no recorded provenance, but its weights' fingerprint
    assert file.attrs["weights"].startswith("unrecorded") and len(file.attrs["weights_sha256"]) == 64
    assert file.attrs["tensorflow_version"] == tf.__version__ and file.attrs["keras_version"] == keras.__version__
    assert file.attrs["scale"] == "as given" and file.attrs["preprocessing"] == "as given"
    assert (file.attrs["code"], file.attrs["timesteps"]) == ("", -1)
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
    with pytest.raises(FileExistsError, match="exists: pass overwrite=True to replace it, or mode='a' to append"):
        probe.extract(images, "out", path, progress=False)
    assert load_activations(path).n_stimuli == 2
    assert probe.extract(images, "out", path, overwrite=True, progress=False).n_stimuli == 10
    with pytest.raises(ActivationFileError, match=r"holds units \['out'\], this extraction records \['conv'\]"):
        probe.extract(images, "conv", path, mode="a", progress=False)
    with pytest.raises(ActivationFileError, match="its pooling is 'none', these stimuli's is 'global mean'"):
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
    with pytest.raises(ValueError, match=r"one id per stimulus: 10 stimuli, got 3 ids"):
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


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_appending_never_mixes_models_and_leaves_a_refused_file_unchanged(images, tmp_path: Path) -> None:
    from tfprobe.models.loading import load_model
    from tfprobe.models.provenance import weights_fingerprint

    path = tmp_path / "acts.h5"
    first = Probe(load_model("rnn:bglt_0111:2", seed=0), batch_size=4)
    scenes = np.random.default_rng(0).random((6, 100, 100, 1)).astype("float32")
    written = first.extract(scenes[:3], "conv1@t1", path, pool="mean", metadata={"scale": "[0, 1]"}, progress=False)
    assert written.attrs["weights"] == "random (seed 0)" and written.attrs["model_spec"] == "rnn:bglt_0111:2"
    assert (written.attrs["code"], written.attrs["timesteps"]) == ("bglt_0111", 2)
    assert written.attrs["weights_sha256"] == weights_fingerprint(first.model)
    before = checksum(path)

    def refused(probe: Probe, pattern: str, **options) -> None:
        arguments = {"pool": "mean", "metadata": {"scale": "[0, 1]"}, "progress": False, **options}
        with pytest.raises((ActivationFileError, ValueError), match=pattern):
            probe.extract(scenes[3:], "conv1@t1", path, mode="a", **arguments)
        assert checksum(path) == before and leftovers(tmp_path) == []

    other_seed = Probe(load_model("rnn:bglt_0111:2", seed=1), batch_size=4)
    refused(other_seed, r"its weights is 'random \(seed 0\)', these stimuli's is 'random \(seed 1\)'")
    other_flags = Probe(load_model("rnn:bglt_1111:2", seed=0), batch_size=4)
    refused(other_flags, "its model_spec is 'rnn:bglt_0111:2', these stimuli's is 'rnn:bglt_1111:2'")
    refused(first, "its pooling is 'global mean', these stimuli's is 'global max'", pool="max")
    refused(first, r"its scale is '\[0, 1\]', these stimuli's is '\[0, 255\]'", metadata={"scale": "[0, 255]"})
    refused(first, r"2 stimulus ids are already in it \(\'1\', \'2\'\)", ids=[1, 2, 7])
    refused(first, r"stimulus ids repeat \(\'9\'\)", ids=[9, 9, 8])
    refused(first, "its stimulus ids are integers, the new ones strings", ids=["a", "b", "c"])
    with pytest.raises(ActivationFileError, match=r"holds units \['conv1@t1'\], this extraction records"):
        first.extract(scenes[3:], "fc1@t1", path, mode="a", pool="mean", progress=False)
    # weights changed in place (same spec, same recorded provenance): the fingerprint tells them apart
    tweaked = load_model("rnn:bglt_0111:2", seed=0)
    tweaked.conv1.kernel.assign(tweaked.conv1.kernel + 1e-3)
    refused(Probe(tweaked), "its weights_sha256 is")
    # the same model and settings append, continuing the numbering
    again = Probe(load_model("rnn:bglt_0111:2", seed=0), batch_size=4)
    appended = again.extract(scenes[3:], "conv1@t1", path, mode="a", pool="mean", metadata={"scale": "[0, 1]"})
    assert list(appended.ids) == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose(
        np.asarray(appended["conv1@t1"]), first.activations(scenes, "conv1@t1", pool="mean", progress=False)["conv1@t1"]
    )


def test_duplicate_ids_are_refused_in_a_new_file(probe, images, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"stimulus ids repeat \('a'\)"):
        probe.extract(images[:3], "out", tmp_path / "a.h5", ids=["a", "b", "a"], progress=False)
    assert leftovers(tmp_path) == [] and not (tmp_path / "a.h5").exists()


def test_files_of_the_first_format_are_read_but_not_appended_to(probe, images, tmp_path: Path) -> None:
    path = tmp_path / "old.h5"
    probe.extract(images[:2], "out", path, progress=False)
    with h5py.File(path, "r+") as file:
        file.attrs["format"] = "tfprobe-activations/1"
    assert load_activations(path).n_stimuli == 2
    with pytest.raises(ActivationFileError, match=r"written by an older tfprobe .* write a new file"):
        probe.extract(images[2:4], "out", path, mode="a", progress=False)


def test_unit_arrays_read_only_what_is_indexed(probe, images, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "acts.h5"
    file = probe.extract(images, ["conv", "out"], path, progress=False)
    expected = probe.activations(images, "conv", progress=False)["conv"]
    unit = file["conv"]
    assert unit.shape == (10, 10, 10, 3) and len(unit) == 10 and unit.ndim == 4 and unit.dtype == np.float32
    reads = []
    original = h5py.Dataset.__getitem__

    def counting(self, key):
        values = original(self, key)
        reads.append(values.size)
        return values

    monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)
    np.testing.assert_array_equal(unit[2:4], expected[2:4])
    assert reads == [2 * 300]  # two stimuli's rows, not the unit
    np.testing.assert_array_equal(unit[[7, 1, 7]], expected[[7, 1, 7]])
    np.testing.assert_array_equal(unit[-1], expected[-1])
    np.testing.assert_array_equal(np.asarray(unit), expected)
    assert reads[-1] == expected.size
    with pytest.raises(IndexError, match=r"out of range .* it has 10 stimuli"):
        unit[[3, 10]]
