"""Frozen backbones: any Keras model cut at a named layer, taking images in [0, 1] with its own preprocessing.

A linear probe reads a frozen network: nothing of the backbone trains, batch normalisation runs in
inference mode, and the images go through the preprocessing the backbone was trained with (caffe-style
BGR minus the ImageNet mean for VGG16 / ResNet50, [-1, 1] for MobileNetV2; see
:mod:`tfprobe.models.preprocessing`), inside the graph.  The layer's activations come from
:meth:`tfprobe.Probe.forward` (``compiled=False``), traced into the backbone's own graph, so the backbone
runs inside whichever compiled function calls it (the probe's training step, the CSF's feature function).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from tfprobe.errors import InvalidTypeError, InvalidValueError
from tfprobe.models.preprocessing import FAMILY_MODES, MODES, model_family, preprocess_pixels
from tfprobe.probe import Probe
from tfprobe.probing.units import unknown_unit

__all__ = ["PixelPreprocessing", "frozen_backbone"]

#: The preprocessing modes: those of :data:`tfprobe.models.preprocessing.MODES` ("caffe": RGB 0-255 -> BGR
#: minus the ImageNet mean; "tf": to [-1, 1]; "torch": ImageNet-standardised) and "none" (the images as they
#: are, in [0, 1]).
PREPROCESSING_MODES = (*MODES, "none")


@keras.saving.register_keras_serializable(package="tfprobe")
class PixelPreprocessing(keras.layers.Layer):
    """Images in [0, 1] -> what a backbone takes, as its ``keras.applications`` ``preprocess_input`` does
    to pixels in [0, 255] (``mode`` "caffe", "tf" or "torch"; see
    :func:`tfprobe.models.preprocessing.preprocess_pixels`), or unchanged (``mode="none"``)."""

    def __init__(self, mode: str = "caffe", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise InvalidValueError(f"mode must be one of {', '.join(PREPROCESSING_MODES)}, got {mode!r}")
        self.mode = mode

    def call(self, images: Any) -> Any:
        if self.mode == "none":
            return images
        pixels = keras.ops.multiply(keras.ops.cast(images, self.compute_dtype), 255.0)
        return preprocess_pixels(pixels, self.mode)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode}


def _preprocessing_mode(model: keras.Model, preprocess: str) -> str:
    if preprocess != "auto":
        if preprocess in PREPROCESSING_MODES:
            return preprocess
        if preprocess in FAMILY_MODES:
            return FAMILY_MODES[preprocess]
        raise InvalidValueError(
            f"preprocess must be 'auto', a family ({', '.join(FAMILY_MODES)}) or a mode "
            f"({', '.join(PREPROCESSING_MODES)}), got {preprocess!r}"
        )
    family = model_family(model)
    return FAMILY_MODES[family] if family is not None else "none"


def frozen_backbone(
    model: keras.Model,
    layer: str,
    *,
    input_size: int | tuple[int, int] = 224,
    preprocess: str = "auto",
    name: str | None = None,
) -> keras.Model:
    """``model`` up to ``layer``, frozen, taking RGB images in [0, 1] of ``input_size``.

    Parameters
    ----------
    model : keras.Model
        A functional Keras model (``keras.applications``, :func:`tfprobe.models.load_model`, a ``.keras``
        file); its input must take ``input_size`` RGB images.
    layer : str
        The layer whose output is the representation probed (e.g. ``"conv3_block4_out"`` of ResNet50, the
        linear-probe lab's ``layer2``; ``"block3_pool"`` of VGG16).
    input_size : int or (height, width)
        Image size the probe works at.
    preprocess : str
        ``"auto"`` (the preprocessing of the family :func:`tfprobe.models.load_model` loaded the model as,
        else none), a family name (``"vgg16"``, ``"resnet50"``, ``"mobilenetv2"``) or a mode
        (``"caffe"``, ``"tf"``, ``"torch"``, ``"none"``).
    name : str, optional
        The backbone model's name (default ``"<model>_to_<layer>"``).

    Returns
    -------
    keras.Model
        Not trainable; maps (n, height, width, 3) images in [0, 1] to the layer's activations.

    Raises
    ------
    UnknownUnitError
        No layer of that name (the error lists the closest names).
    ValueError
        A model that cannot take RGB images of ``input_size``, or a size the cut network cannot process
        (its feature map would vanish).
    """
    if not isinstance(model, keras.Model):
        raise InvalidTypeError(f"model must be a keras.Model, got {type(model).__name__}")
    height, width = (input_size, input_size) if isinstance(input_size, (int, np.integer)) else tuple(input_size)
    if min(height, width) < 1:
        raise InvalidValueError(f"input_size must be positive, got {input_size!r}")
    names = [item.name for item in model.layers]
    if layer not in names:
        raise unknown_unit(layer, names, what=f"layer of {model.name}")
    mode = _preprocessing_mode(model, preprocess)
    try:
        expected = tuple(model.inputs[0].shape[1:])
    except (AttributeError, IndexError, ValueError):
        raise InvalidValueError(
            f"{model.name} is not a functional model with one image input; cannot cut it at a layer"
        ) from None
    given = (height, width, 3)
    if len(expected) != 3 or any(e is not None and e != g for e, g in zip(expected, given, strict=True)):
        raise InvalidValueError(
            f"{model.name} takes inputs of shape {expected} (None = any size); it cannot take RGB images of "
            f"{height} x {width}: choose input_size to match, or load it without its classifier (include_top=False)"
        )
    if len(model.inputs) != 1:
        raise InvalidValueError(f"{model.name} has {len(model.inputs)} inputs; a backbone takes one batch of images")
    probe = Probe(model)
    images = keras.Input(given, name="images")
    try:
        # Probe.forward called on the symbolic input puts the model up to the layer (inference mode) in the
        # backbone's graph: whoever runs the backbone compiles it with the rest of their step.
        features = probe.forward(PixelPreprocessing(mode, name="preprocessing")(images), layer, compiled=False)[layer]
    except Exception as error:  # Keras raises several kinds when a feature map would vanish
        raise InvalidValueError(
            f"{model.name} up to {layer!r} cannot process {height} x {width} images: "
            f"{' '.join(str(error).split())[:300]}"
        ) from None
    if any(dim is not None and dim < 1 for dim in features.shape[1:]):
        raise InvalidValueError(f"{model.name} up to {layer!r} leaves no activations for {height} x {width} images")
    backbone = keras.Model(images, features, name=name or f"{model.name}_to_{layer}")
    backbone.trainable = False
    return backbone
