"""The one ImageNet preprocessing module: each mode is Keras's, on arrays and tensors, and is undone exactly."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfprobe.models import load_model
from tfprobe.models.preprocessing import (
    FAMILY_MODES,
    IMAGE_RANGE,
    MODES,
    PIXEL_RANGE,
    deprocess_pixels,
    family_mode,
    model_family,
    model_input,
    preprocess_pixels,
)
from tfprobe.psychophysics import PixelPreprocessing

KERAS = {
    "vgg16": keras.applications.vgg16.preprocess_input,
    "vgg19": keras.applications.vgg19.preprocess_input,
    "resnet50": keras.applications.resnet50.preprocess_input,
    "mobilenetv2": keras.applications.mobilenet_v2.preprocess_input,
}


def _pixels(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, size=(2, 5, 6, 3)).astype(np.float32)


@pytest.mark.parametrize("family", sorted(FAMILY_MODES))
def test_each_family_is_its_keras_preprocess_input_on_arrays_and_tensors(family: str) -> None:
    pixels = _pixels()
    kept = pixels.copy()
    expected = KERAS[family](pixels.copy())
    np.testing.assert_array_equal(preprocess_pixels(pixels, family_mode(family)), expected)
    np.testing.assert_array_equal(pixels, kept)  # Keras's own would have edited the array in place
    traced = tf.function(lambda x: preprocess_pixels(x, family_mode(family)))
    np.testing.assert_allclose(traced(tf.constant(pixels)), expected, rtol=0, atol=1e-5)  # a graph may round
    # In a Keras graph, from images in [0, 1]: the same values.
    layer = PixelPreprocessing(family_mode(family))
    np.testing.assert_allclose(layer(pixels / 255.0), expected, rtol=1e-6, atol=1e-4)


def test_the_torch_mode_standardises_with_the_imagenet_statistics() -> None:
    pixels = _pixels(1)
    expected = keras.applications.imagenet_utils.preprocess_input(pixels.copy(), mode="torch")
    values = preprocess_pixels(pixels, "torch")
    np.testing.assert_array_equal(values, expected)
    np.testing.assert_allclose(values[..., 0], (pixels[..., 0] / 255.0 - 0.485) / 0.229, rtol=1e-5)
    np.testing.assert_allclose(PixelPreprocessing("torch")(pixels / 255.0), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", [*MODES, "none"])
def test_deprocess_undoes_every_mode(mode: str) -> None:
    pixels = _pixels(2)
    np.testing.assert_allclose(deprocess_pixels(preprocess_pixels(pixels, mode), mode), pixels, atol=1e-3)


def test_bad_modes_and_families_are_named() -> None:
    with pytest.raises(ValueError, match="mode must be one of caffe, tf, torch, none, got 'imagenet'"):
        preprocess_pixels(_pixels(), "imagenet")
    with pytest.raises(ValueError, match="family must be one of vgg16, vgg19, resnet50, mobilenetv2, got 'vgg11'"):
        family_mode("vgg11")
    assert family_mode("VGG16") == "caffe"


def test_model_input_finds_a_family_by_how_the_model_was_loaded() -> None:
    vgg = load_model("vgg16", weights=None, include_top=False, seed=1)
    assert model_family(vgg) == "vgg16"
    spec = model_input(vgg, (None, None, 3))
    assert spec.value_range == PIXEL_RANGE and spec.preprocessing == "keras.applications.vgg16.preprocess_input"
    images = _pixels(3) / np.float32(255.0)
    expected = keras.applications.vgg16.preprocess_input(images * np.float32(255.0))
    np.testing.assert_allclose(spec.to_model(images), expected, atol=1e-4)
    np.testing.assert_allclose(tf.function(spec.to_model)(tf.constant(images)), expected, atol=1e-4)
    plain = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)])
    assert model_family(plain) is None
    spec = model_input(plain, (8, 8, 1))
    assert (spec.height, spec.width, spec.channels) == (8, 8, 1)
    assert spec.value_range == IMAGE_RANGE and spec.preprocess is None and spec.preprocessing == "none"
    assert model_input(plain, (8, 8, 1), value_range=(0, 255)).to_model(np.ones(2)).tolist() == [255.0, 255.0]
    with pytest.raises(ValueError, match=r"value_range must be \(low, high\) with high > low"):
        model_input(plain, (8, 8, 1), value_range=(1, 1))
