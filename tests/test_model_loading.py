"""ImageNet applications offline: weights from a file, from Keras's cache, and a clear error when neither."""

from __future__ import annotations

import socket
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

from tfprobe.models import WeightsUnavailableError, imagenet_weights_path, load_model, loading, vgg16
from tfprobe.models.provenance import describe_model


def _same_weights(a: keras.Model, b: keras.Model) -> bool:
    return len(a.weights) == len(b.weights) and all(
        np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.weights, b.weights, strict=True)
    )


@pytest.fixture(scope="module")
def notop() -> keras.Model:
    """VGG16 without its classifier, random weights from seed 3 (the 'trained' weights of these tests)."""
    return load_model("vgg16", weights=None, include_top=False, seed=3)


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Downloads fail as offline, and are recorded."""
    calls: list[str] = []

    def refuse(url: str, target: Path, file_hash: str | None, timeout: float) -> None:
        calls.append(url)
        raise OSError("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(loading, "_download", refuse)
    return calls


def _keras_h5(model: keras.Model, path: Path) -> Path:
    """The model's weights in the legacy .h5 layout Keras's downloaded weight files have."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as file:
        save_weights_to_hdf5_group(file, model)
    return path


def test_a_weights_file_given_by_path_is_loaded(notop: keras.Model, tmp_path: Path) -> None:
    new_format = tmp_path / "mine.weights.h5"
    notop.save_weights(new_format)
    legacy = _keras_h5(notop, tmp_path / "mine.h5")
    for path in (new_format, legacy):
        model = vgg16(weights=path, include_top=False)
        assert _same_weights(model, notop)
        assert describe_model(model)["weights"].startswith(f"file {path.resolve()} (sha256 ")
    assert not _same_weights(load_model("vgg16", weights=None, include_top=False, seed=0), notop)


def test_imagenet_weights_come_from_the_keras_cache_without_network(
    notop: keras.Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[str]
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    cached = _keras_h5(notop, tmp_path / "keras" / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert imagenet_weights_path("vgg16", include_top=False) == cached
    model = vgg16(weights="imagenet", include_top=False)
    assert _same_weights(model, notop)
    assert describe_model(model)["weights"] == "imagenet"
    assert no_network == []


@pytest.mark.parametrize("include_top", [True, False])
def test_uncached_imagenet_weights_offline_raise_a_clear_error_after_one_attempt(
    include_top: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[str]
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    name = "vgg16_weights_tf_dim_ordering_tf_kernels" + ("" if include_top else "_notop") + ".h5"
    expected = tmp_path / "empty" / "models" / name
    with pytest.raises(WeightsUnavailableError) as caught:
        vgg16(weights="imagenet", include_top=include_top)
    message = str(caught.value)
    assert str(expected) in message
    assert f"https://storage.googleapis.com/tensorflow/keras-applications/vgg16/{name}" in message
    assert "Temporary failure in name resolution" in message
    assert "copy it to" in message and "weights=<path>" in message
    assert no_network == [f"https://storage.googleapis.com/tensorflow/keras-applications/vgg16/{name}"]
    assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, ValueError)
    assert not expected.exists()


def test_the_download_waits_briefly_on_the_network_and_restores_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}

    def fake_get_file(fname: str, origin: str, **kwargs: object) -> str:
        seen.update(fname=fname, origin=origin, timeout=socket.getdefaulttimeout(), **kwargs)
        raise Exception(f"URL fetch failure on {origin}: None -- timed out")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    before = socket.getdefaulttimeout()
    with pytest.raises(WeightsUnavailableError, match="timed out"):
        load_model("resnet50", weights="imagenet", include_top=False)
    assert socket.getdefaulttimeout() == before
    assert seen["timeout"] == loading.DOWNLOAD_TIMEOUT <= 10
    assert seen["fname"] == "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert seen["cache_dir"] == str(tmp_path) and seen["cache_subdir"] == "models"
    assert seen["file_hash"] == "4d473c1dd8becc155b73f8504c6f6626"


@pytest.mark.parametrize(
    ("name", "include_top"),
    [
        ("vgg16", True),
        ("vgg16", False),
        ("vgg19", False),
        ("resnet50", True),
        ("resnet50", False),
        ("mobilenetv2", True),
        ("mobilenetv2", False),
    ],
)
@pytest.mark.filterwarnings("ignore:`input_shape` is undefined")  # MobileNetV2 without a top, as Keras warns
def test_cache_file_names_and_urls_are_the_ones_keras_uses(
    name: str, include_top: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keras.src.utils import file_utils

    asked: dict[str, object] = {}

    def record(fname: str, origin: str, **kwargs: object) -> str:
        asked.update(fname=fname, origin=origin, file_hash=kwargs.get("file_hash"))
        raise RuntimeError("recorded")

    monkeypatch.setattr(file_utils, "get_file", record)
    with pytest.raises(RuntimeError, match="recorded"):
        loading.APPLICATIONS[name].build(weights="imagenet", include_top=include_top)
    application = loading.APPLICATIONS[name]
    assert asked["fname"] == imagenet_weights_path(name, include_top).name == application.weights_file(include_top)
    assert asked["origin"] == application.weights_url(include_top)
    assert asked["file_hash"] == application.weights_hashes[0 if include_top else 1]


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras, before it gives up on the file
def test_a_weights_file_that_does_not_fit_or_exist_is_named(notop: keras.Model, tmp_path: Path) -> None:
    path = tmp_path / "vgg16.weights.h5"
    notop.save_weights(path)
    with pytest.raises(ValueError, match=r"could not load vgg19 .*vgg16\.weights\.h5"):
        load_model("vgg19", weights=path, include_top=False)
    with pytest.raises(FileNotFoundError, match=r"missing\.h5"):
        vgg16(weights=tmp_path / "missing.h5")


def test_keras_cache_dir_follows_keras_home_when_called(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert loading.keras_cache_dir() == tmp_path / "models"
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert loading.keras_cache_dir() == tmp_path / "home" / ".keras" / "models"
    with pytest.raises(ValueError, match="unknown application 'vgg11'"):
        imagenet_weights_path("vgg11")
