"""What a model takes as input, and the one mapping of images to it: ImageNet preprocessing modes and families.

``keras.applications`` models take RGB pixels in [0, 255] through their family's ``preprocess_input``,
which is one of three modes (:data:`MODES`)::

    caffe   RGB -> BGR, the ImageNet mean pixel subtracted (VGG16, VGG19, ResNet50)
    tf      scaled to [-1, 1] (MobileNetV2)
    torch   scaled to [0, 1], then each channel standardised with ImageNet's mean and standard deviation

Other models, the recurrent network included, take images in [0, 1] as they are (mode ``"none"``).
:func:`preprocess_pixels` applies a mode to numpy arrays and to tensors alike (inside a graph too, so
gradients flow through it) and :func:`deprocess_pixels` undoes it for display; :func:`model_input` tells
what a given model takes (its input size, value range and preprocessing) and :meth:`ModelInput.to_model`
maps images in [0, 1] to it.  Every part of tfprobe that feeds images to a model goes through this module.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from tfprobe.errors import InvalidValueError
from tfprobe.models.loading import APPLICATIONS
from tfprobe.models.provenance import recorded_spec

__all__ = [
    "CAFFE_MEAN_BGR",
    "FAMILY_MODES",
    "IMAGE_RANGE",
    "MODES",
    "PIXEL_RANGE",
    "TORCH_MEAN",
    "TORCH_STD",
    "ModelInput",
    "deprocess_pixels",
    "family_mode",
    "model_family",
    "model_input",
    "preprocess_pixels",
    "preprocessing_name",
]

#: The preprocessing modes of ``keras.applications`` (``keras.applications.imagenet_utils.preprocess_input``).
MODES = ("caffe", "tf", "torch")
#: The mode of each ImageNet family :func:`tfprobe.models.load_model` loads.
FAMILY_MODES = {"vgg16": "caffe", "vgg19": "caffe", "resnet50": "caffe", "mobilenetv2": "tf"}
#: The values the families take before their preprocessing: RGB pixels 0-255.
PIXEL_RANGE = (0.0, 255.0)
#: The values other models take (no preprocessing): images in [0, 1].
IMAGE_RANGE = (0.0, 1.0)
#: The ImageNet mean pixel in BGR order, which the caffe mode subtracts.
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
#: The ImageNet mean and standard deviation of RGB values in [0, 1], which the torch mode standardises with.
TORCH_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
TORCH_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def family_mode(family: str) -> str:
    """The preprocessing mode of an ImageNet family (``"vgg16"`` -> ``"caffe"``), any letter case.

    Raises
    ------
    InvalidValueError
        Not one of :data:`FAMILY_MODES`.
    """
    if not isinstance(family, str) or family.lower() not in FAMILY_MODES:
        raise InvalidValueError(f"family must be one of {', '.join(FAMILY_MODES)}, got {family!r}")
    return FAMILY_MODES[family.lower()]


def model_family(model: keras.Model) -> str | None:
    """The ImageNet family :func:`tfprobe.models.load_model` loaded ``model`` as (``"vgg16"``), or None."""
    spec = str(recorded_spec(model) or "").lower().removesuffix("-notop")
    return spec if spec in FAMILY_MODES else None


def preprocessing_name(family: str) -> str:
    """How a family's preprocessing is named in results and files: ``"keras.applications.vgg16.preprocess_input"``."""
    family_mode(family)
    return f"keras.applications.{APPLICATIONS[family.lower()].module}.preprocess_input"


def _check_mode(mode: str, allowed: tuple[str, ...]) -> None:
    if mode not in allowed:
        raise InvalidValueError(f"mode must be one of {', '.join(allowed)}, got {mode!r}")


def preprocess_pixels(pixels: Any, mode: str) -> Any:
    """RGB pixels in [0, 255] (channels last) -> what a model of preprocessing ``mode`` takes.

    Exactly ``keras.applications.imagenet_utils.preprocess_input`` (what each family's ``preprocess_input``
    calls), except that a numpy array is never changed in place.

    Parameters
    ----------
    pixels : ndarray, array-like or tensor (..., 3)
        Pixel values 0-255; a tensor (eager or symbolic, e.g. inside a ``tf.function``) stays a tensor and
        differentiable.
    mode : {"caffe", "tf", "torch", "none"}
        See :data:`MODES`; ``"none"`` returns ``pixels`` unchanged.

    Returns
    -------
    ndarray or tensor
        Same shape; numpy input of integers becomes float32, floats keep their precision.
    """
    _check_mode(mode, (*MODES, "none"))
    if mode == "none":
        return pixels
    if isinstance(pixels, (np.ndarray, np.generic, list, tuple)):
        pixels = np.asarray(pixels)
        pixels = np.array(pixels, dtype=pixels.dtype if pixels.dtype.kind == "f" else np.float32, copy=True)
    return keras.applications.imagenet_utils.preprocess_input(pixels, data_format="channels_last", mode=mode)


def deprocess_pixels(values: Any, mode: str) -> np.ndarray:
    """Undo :func:`preprocess_pixels`: model inputs -> RGB pixels, clipped to [0, 255].

    Parameters
    ----------
    values : array-like (..., 3)
        What the model takes (an optimised image, preprocessed photos).
    mode : {"caffe", "tf", "torch", "none"}

    Returns
    -------
    ndarray
        float32 RGB pixels 0-255 (``"none"``: ``values`` as float32, unclipped).
    """
    _check_mode(mode, (*MODES, "none"))
    array = np.array(values, dtype=np.float32, copy=True)
    if mode == "none":
        return array
    if mode == "caffe":
        pixels = (array + CAFFE_MEAN_BGR)[..., ::-1]
    elif mode == "tf":
        pixels = (array + 1.0) * 127.5
    else:
        pixels = (array * TORCH_STD + TORCH_MEAN) * 255.0
    return np.clip(pixels, 0.0, 255.0)


@dataclasses.dataclass(frozen=True)
class ModelInput:
    """The input a model takes.

    Attributes
    ----------
    height, width, channels : int or None
        Per-image shape (None: any size).
    value_range : (float, float)
        The pixel values the model expects before its preprocessing.
    preprocess : callable or None
        The model's own preprocessing of values in ``value_range`` (numpy arrays or tensors).
    preprocessing : str
        How to name it ("none", "keras.applications.vgg16.preprocess_input").
    """

    height: int | None
    width: int | None
    channels: int
    value_range: tuple[float, float] = IMAGE_RANGE
    preprocess: Callable[[Any], Any] | None = None
    preprocessing: str = "none"

    def to_model(self, images: Any) -> Any:
        """Images in [0, 1] -> what the model takes (value range, then preprocessing); tensors stay tensors."""
        low, high = self.value_range
        values = low + (high - low) * images
        return values if self.preprocess is None else self.preprocess(values)


def model_input(
    model: Any,
    input_shape: tuple[int | None, ...],
    *,
    value_range: tuple[float, float] | None = None,
    preprocess: Callable[[Any], Any] | None = None,
) -> ModelInput:
    """The input spec of ``model`` (``input_shape``: one image's, as :attr:`tfprobe.Probe.input_shape`).

    A model :func:`tfprobe.models.load_model` loaded as an ImageNet family takes :data:`PIXEL_RANGE`
    through that family's preprocessing; any other model takes [0, 1] as it is.  ``value_range`` and
    ``preprocess`` override what is found.

    Raises
    ------
    InvalidValueError
        A ``value_range`` that is not (low, high) with high > low.
    """
    height, width, channels = (*tuple(input_shape), None, None, None)[:3]
    found_range, found_preprocess, name = IMAGE_RANGE, None, "none"
    family = model_family(model)
    if family is not None:
        found_range = PIXEL_RANGE
        found_preprocess = functools.partial(preprocess_pixels, mode=FAMILY_MODES[family])
        name = preprocessing_name(family)
    if value_range is not None:
        low, high = (float(v) for v in value_range)
        if not high > low:
            raise InvalidValueError(f"value_range must be (low, high) with high > low, got {value_range!r}")
        found_range = (low, high)
    if preprocess is not None:
        found_preprocess, name = preprocess, getattr(preprocess, "__qualname__", repr(preprocess))
    return ModelInput(height, width, channels or 3, found_range, found_preprocess, name)
