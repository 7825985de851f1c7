"""Activation scores of image sets: equal to the Keras model's own numbers, and a seeded permutation test."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from tfprobe import Probe
from tfprobe.datasets import photo_path, photo_paths
from tfprobe.datasets.idx import DatasetFileError, DatasetNotFoundError
from tfprobe.datasets.image_folder import ImageFolder
from tfprobe.models import load_model
from tfprobe.probing.image_sets import image_set_scores, permutation_test

ANIMATE = ["chelsea", "grace_hopper"]
THINGS = ["coffee", "rocket", "china", "flower"]


def _pixels(names: list[str], size: tuple[int, int], interpolation: str = "nearest") -> np.ndarray:
    """The photos as Keras reads them: RGB 0-255 at ``size``."""
    return np.stack(
        [
            keras.utils.img_to_array(keras.utils.load_img(photo_path(n), target_size=size, interpolation=interpolation))
            for n in names
        ]
    )


@pytest.fixture(scope="module")
def small_model() -> keras.Model:
    keras.utils.set_random_seed(11)
    inputs = keras.Input((48, 48, 3))
    x = keras.layers.Conv2D(6, 5, strides=2, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(4, name="fc")(x))


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sets")
    result = {}
    for name, members in (("animate", ANIMATE), ("things", THINGS)):
        (root / name).mkdir()
        for member in members:
            shutil.copy(photo_path(member), root / name / f"{member}.jpg")
        result[name] = root / name
    return result


def test_scores_equal_the_keras_model_on_the_shipped_photos(small_model: keras.Model, folders: dict) -> None:
    conv = keras.Model(small_model.inputs[0], small_model.get_layer("conv").output)
    scores = image_set_scores(small_model, "conv", folders, channel=2, batch_size=3)
    for name, members in (("animate", ANIMATE), ("things", sorted(THINGS))):
        direct = np.asarray(conv(_pixels(members, (48, 48)) / 255.0))  # a plain model takes [0, 1]
        np.testing.assert_allclose(scores.scores[name], direct[..., 2].mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
        assert [Path(f).name for f in scores.files[name]] == [f"{m}.jpg" for m in members]
    by_max = image_set_scores(small_model, "conv", {"all": list(photo_paths().values())}, reduce="max")
    direct = np.asarray(conv(_pixels(list(photo_paths()), (48, 48)) / 255.0))
    np.testing.assert_allclose(by_max.scores["all"], direct.max(axis=(1, 2, 3)), rtol=1e-5, atol=1e-6)
    fc = image_set_scores(Probe(small_model), "fc", {"a": _pixels(ANIMATE, (48, 48)).astype(np.uint8)}, channel=1)
    expected = np.asarray(small_model(_pixels(ANIMATE, (48, 48)) / 255.0))[:, 1]
    np.testing.assert_allclose(fc.scores["a"], expected, rtol=1e-5, atol=1e-6)
    assert fc.files == {"a": None}


def test_listed_files_are_read_as_keras_reads_them_with_any_interpolation(small_model, tmp_path: Path) -> None:
    files = [photo_path(n) for n in THINGS]
    for interpolation in ("nearest", "bicubic"):
        reader = ImageFolder.from_files(files, (40, 30), scale=255.0, interpolation=interpolation)
        np.testing.assert_array_equal(reader[:], _pixels(THINGS, (40, 30), interpolation))
    assert reader.folder is None and reader.files == [Path(f) for f in files]
    assert reader.ids.tolist() == [Path(f).name for f in files]
    scores = image_set_scores(small_model, "conv", {"t": files}, channel=1, interpolation="bicubic")
    conv = keras.Model(small_model.inputs[0], small_model.get_layer("conv").output)
    direct = np.asarray(conv(_pixels(THINGS, (48, 48), "bicubic") / 255.0))[..., 1].mean(axis=(1, 2))
    np.testing.assert_allclose(scores.scores["t"], direct, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"interpolation must be one of nearest, .*, got 'cubic'"):
        ImageFolder.from_files(files, (40, 30), interpolation="cubic")
    with pytest.raises(FileNotFoundError, match=r"image file .*none\.png' does not exist"):
        ImageFolder.from_files([files[0], tmp_path / "none.png"])
    with pytest.raises(ValueError, match="at least one image file"):
        ImageFolder.from_files([])


def test_application_models_get_their_preprocessing() -> None:
    vgg = load_model("vgg16", weights=None, include_top=False, seed=2)
    scores = image_set_scores(
        vgg, "block1_conv2", {"photos": [photo_path(n) for n in THINGS]}, channel=5, size=(40, 40)
    )
    block = keras.Model(vgg.inputs[0], vgg.get_layer("block1_conv2").output)
    direct = np.asarray(block(keras.applications.vgg16.preprocess_input(_pixels(THINGS, (40, 40)))))
    np.testing.assert_allclose(scores.scores["photos"], direct[..., 5].mean(axis=(1, 2)), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="give size="):
        image_set_scores(vgg, "block1_conv1", {"photos": [photo_path("coffee")]})


def test_summary_and_figure() -> None:
    rng = np.random.default_rng(1)
    arrays = {"low": rng.random((5, 48, 48, 3)) * 0.2, "high": 0.8 + rng.random((7, 48, 48, 3)) * 0.2}
    keras.utils.set_random_seed(0)
    inputs = keras.Input((48, 48, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 1, kernel_initializer="ones", name="sum")(inputs))
    scores = image_set_scores(model, "sum", arrays, channel=0)
    np.testing.assert_allclose(scores.scores["low"], arrays["low"].sum(axis=3).mean(axis=(1, 2)), rtol=1e-5)
    summary = scores.summary()
    values = scores.scores["high"]
    assert summary["high"].n == 7 and summary["high"].mean == pytest.approx(values.mean())
    assert summary["high"].sem == pytest.approx(values.std(ddof=1) / math.sqrt(7))
    comparison = scores.compare("high", "low")
    assert comparison.difference == pytest.approx(values.mean() - scores.scores["low"].mean())
    assert comparison.exact and comparison.permutations == math.comb(12, 7)  # 792 relabellings
    assert comparison.p_value == pytest.approx(1 / 792)  # only the observed split is as extreme (sizes differ)
    figure = scores.figure()
    assert isinstance(figure, Figure)
    (axes,) = figure.axes
    assert len(axes.patches) == 2
    points = [c for c in axes.collections if isinstance(c, PathCollection)]
    assert [len(c.get_offsets()) for c in points] == [5, 7]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["low\n(n=5)", "high\n(n=7)"]
    with pytest.raises(KeyError, match="no image set 'mid'"):
        scores.compare("mid", "low")


def test_permutation_test_is_seeded_and_separates_different_sets() -> None:
    rng = np.random.default_rng(42)
    a, b, c = rng.normal(0, 1, 40), rng.normal(2, 1, 40), rng.normal(0, 1, 40)
    different = permutation_test(a, b, permutations=2000, seed=3)
    assert not different.exact and different.permutations == 2000
    assert different.p_value == pytest.approx(1 / 2001)  # no relabelling is as extreme
    assert different.difference == pytest.approx(a.mean() - b.mean())
    same = permutation_test(a, c, permutations=2000, seed=3)
    assert same.p_value > 0.05  # not significant (0.12 for these draws)
    assert permutation_test(a, c, permutations=2000, seed=3) == same
    assert permutation_test(a, c, permutations=2000, seed=4).p_value != same.p_value
    # exact: 3 vs 3 values have 20 relabellings; the observed split and its mirror are the extremes
    exact = permutation_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert exact.exact and exact.p_value == pytest.approx(2 / 20) and exact.difference == -3.0
    null_ps = [
        permutation_test(*np.random.default_rng(s).normal(size=(2, 15)), permutations=500).p_value for s in range(40)
    ]
    assert 0.0 < np.mean(np.array(null_ps) < 0.05) <= 0.15  # about 5% under the null
    with pytest.raises(ValueError, match="at least one finite score"):
        permutation_test([], [1.0])


def test_bad_sets_are_named_before_any_work(small_model: keras.Model, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    shutil.copy(photo_path("coffee"), corrupt / "a.jpg")
    (corrupt / "b.jpg").write_bytes(b"\xff\xd8 this is no JPEG")
    with pytest.raises(DatasetFileError, match=re.escape(str(corrupt / "b.jpg"))):
        image_set_scores(small_model, "conv", {"ok": [photo_path("china")], "bad": corrupt}, channel=0)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(photo_path("rocket").read_bytes()[:2500])
    with pytest.raises(DatasetFileError, match=re.escape(str(truncated))):
        image_set_scores(small_model, "conv", {"t": [truncated]}, channel=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(DatasetNotFoundError, match=f"image set 'plants': no images .* in {re.escape(str(empty))}"):
        image_set_scores(small_model, "conv", {"plants": empty}, channel=0)
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        image_set_scores(small_model, "conv", {"birds": tmp_path / "birds"}, channel=0)
    with pytest.raises(IndexError, match="channel 6 out of range for unit 'conv': it has 6 channels"):
        image_set_scores(small_model, "conv", {"a": [photo_path("china")]}, channel=6)
    with pytest.raises(ValueError, match="floats in \\[0, 1\\]"):
        image_set_scores(small_model, "conv", {"a": np.full((2, 48, 48, 3), 255.0)}, channel=0)
    with pytest.raises(ValueError, match="reduce must be"):
        image_set_scores(small_model, "conv", {"a": [photo_path("china")]}, reduce="median")
