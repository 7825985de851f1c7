"""Input gradients (the seed notebook's gradient of a filter's mean with respect to the image) and SmoothGrad."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfprobe.errors import InvalidValueError
from tfprobe.validation import non_negative_int

__all__ = ["input_gradients"]


def input_gradients(
    model: Any,
    images: np.ndarray,
    unit: str,
    *,
    channel: int | None = None,
    smooth: int = 0,
    noise: float = 0.15,
    seed: int = 0,
    batch_size: int | None = None,
) -> np.ndarray:
    """Gradient of ``unit``'s mean activation (or of one channel's) with respect to each image.

    Parameters
    ----------
    model : keras.Model or Probe
    images : ndarray (n, height, width, channels)
        In the model's own input space (as for :meth:`tfprobe.Probe.gradients`).
    unit : str
        Any unit :class:`tfprobe.Probe` names.
    channel : int, optional
        Take the mean of this channel (a filter, or a class logit of a dense layer).
    smooth : int
        SmoothGrad (Smilkov et al., 2017): average the gradients of this many noisy copies of every image
        (0: the plain gradient).
    noise : float
        SmoothGrad's noise, as a share of each image's value range (max - min).
    seed : int
        Seeds the noise.

    Returns
    -------
    ndarray
        Same shape as ``images``, float32.
    """
    from tfprobe.probe import Probe

    probe = model if isinstance(model, Probe) else Probe(model)
    images = np.asarray(images, dtype=np.float32)
    smooth = non_negative_int(smooth, "smooth", "a number of noisy copies")
    if not smooth:
        return probe.gradients(images, unit, channel=channel, batch_size=batch_size)
    if not noise > 0:
        raise InvalidValueError(f"noise must be positive, got {noise!r}")
    rng = np.random.default_rng(seed)
    spread = images.max(axis=tuple(range(1, images.ndim))) - images.min(axis=tuple(range(1, images.ndim)))
    scale = (noise * spread).reshape(-1, *([1] * (images.ndim - 1))).astype(np.float32)
    total = np.zeros_like(images)
    for _ in range(smooth):
        noisy = images + rng.standard_normal(images.shape, dtype=np.float32) * scale
        total += probe.gradients(noisy, unit, channel=channel, batch_size=batch_size)
    return total / smooth
