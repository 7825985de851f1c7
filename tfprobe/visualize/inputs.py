"""What a model takes as input: its image size, channels, value range and preprocessing.

Visualisations are optimised as images in [0, 1]; inside the graph they are mapped to the model's value
range and passed through its own preprocessing, so what the model sees is what it was trained on:
``keras.applications`` models (VGG16, ResNet50, ...) take 0-255 RGB pixels through their family's
``preprocess_input`` (VGG16: caffe-style BGR with the ImageNet mean subtracted); other models, the
recurrent network included, take [0, 1] unless told otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

__all__ = ["ModelInput", "model_input"]


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
        The model's own preprocessing, applied inside the graph.
    preprocessing : str
        How to name it ("none", "keras.applications.vgg16.preprocess_input").
    """

    height: int | None
    width: int | None
    channels: int
    value_range: tuple[float, float] = (0.0, 1.0)
    preprocess: Callable[[Any], Any] | None = None
    preprocessing: str = "none"

    def to_model(self, images: Any) -> Any:
        """Images in [0, 1] -> what the model takes (value range, then preprocessing)."""
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

    A model loaded by :func:`tfprobe.models.loading.load_model` from a keras.applications name gets that
    family's range and preprocessing; ``value_range`` and ``preprocess`` override what is found.
    """
    from tfprobe.models.loading import APPLICATIONS
    from tfprobe.models.provenance import recorded_spec

    height, width, channels = (*tuple(input_shape), None, None, None)[:3]
    found_range, found_preprocess, name = (0.0, 1.0), None, "none"
    family = APPLICATIONS.get(str(recorded_spec(model) or "").lower().removesuffix("-notop"))
    if family is not None:
        found_range, found_preprocess = (0.0, 255.0), family.preprocess_input
        name = f"keras.applications.{family.module}.preprocess_input"
    if value_range is not None:
        low, high = (float(v) for v in value_range)
        if not high > low:
            raise ValueError(f"value_range must be (low, high) with high > low, got {value_range!r}")
        found_range = (low, high)
    if preprocess is not None:
        found_preprocess, name = preprocess, getattr(preprocess, "__qualname__", repr(preprocess))
    return ModelInput(height, width, channels or 3, found_range, found_preprocess, name)
