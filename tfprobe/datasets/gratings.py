"""Gratings: square-wave (full field or a circular patch on gray) and sinusoidal with a Gaussian envelope.

One convention for every stimulus and designed filter in tfprobe: pixel coordinates are centred
(``x = column - width // 2``, ``y = row - height // 2``, rows growing downwards), and a grating at
``orientation`` theta (radians) is modulated along the direction ``(cos theta, sin theta)``: theta = 0
gives vertical bars, theta = pi / 2 horizontal ones.  Spatial frequency is given in cycles per image
width (the period is ``width / frequency`` pixels), at most the Nyquist limit of ``width / 2``.  Values
are luminances ``mean + contrast / 2 * carrier``: gray-centred in [0, 1] with the default
``mean=0.5``; ``mean=0`` gives the zero-centred stimuli the conv-basics lab feeds its filters.

The sinusoidal grating is the contrast-sensitivity stimulus of the linear-probe lab (ModelFest-like:
``contrast * cos(...)`` times a Gaussian of sigma ``size / 6`` peaking at 1, then mapped to [0, 1]); for
even sizes its coordinates run from ``-size / 2`` to ``size / 2 - 1``, as that lab's crop of a
``size + 1`` grid does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tfprobe.errors import InvalidValueError
from tfprobe.validation import int_in_range, is_int

__all__ = [
    "csf_frequencies",
    "grating_orientations",
    "sinusoidal_grating",
    "sinusoidal_gratings",
    "square_grating",
]

#: Smallest stimulus side accepted.
MIN_SIZE = 8


def _size(size: int | Sequence[int]) -> tuple[int, int]:
    """``size`` as (height, width), each an int >= MIN_SIZE."""
    pair = (size, size) if is_int(size) else tuple(size)
    if len(pair) != 2 or not all(is_int(s) for s in pair):
        raise InvalidValueError(f"size must be an int or (height, width) of ints, got {size!r}")
    if min(pair) < MIN_SIZE:
        raise InvalidValueError(
            f"size must be at least {MIN_SIZE} pixels on each side, got {tuple(int(s) for s in pair)}"
        )
    return int(pair[0]), int(pair[1])


def _check_frequency(frequency: float | np.ndarray, width: int) -> np.ndarray:
    values = np.asarray(frequency, dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise InvalidValueError(f"spatial frequency must be finite and >= 0 cycles per image, got {frequency!r}")
    nyquist = width / 2
    if np.any(values > nyquist):
        raise InvalidValueError(
            f"spatial frequency {float(values.max()):g} cycles per image is above the Nyquist limit of a "
            f"{width}-pixel-wide image ({nyquist:g} cycles per image, a 2-pixel period)"
        )
    return values


def _check_contrast(contrast: float | np.ndarray) -> np.ndarray:
    values = np.asarray(contrast, dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values > 1):
        raise InvalidValueError(f"contrast must be in [0, 1], got {contrast!r}")
    return values


def _centred_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Column (x) and row (y) coordinates, centred as described in the module documentation."""
    x = np.arange(width, dtype=np.float64) - width // 2
    y = np.arange(height, dtype=np.float64) - height // 2
    return np.meshgrid(x, y)


def _carrier(height: int, width: int, frequency: np.ndarray, orientation: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """cos(2 pi f / width * (x cos theta + y sin theta) + phase) for a batch of parameters: (n, h, w)."""
    x, y = _centred_grid(height, width)
    theta = orientation[:, None, None]
    along = x[None] * np.cos(theta) + y[None] * np.sin(theta)
    return np.cos(2 * np.pi * frequency[:, None, None] / width * along + phase[:, None, None])


def square_grating(
    size: int | Sequence[int] = (48, 64),
    orientation: float = 0.0,
    frequency: float = 3.6,
    *,
    contrast: float = 1.0,
    phase: float = 0.0,
    mean: float = 0.5,
    patch: bool = False,
    patch_centre: tuple[float, float] = (0.5, 0.75),
    patch_radius: float = 1 / 6,
) -> np.ndarray:
    """A square-wave grating, full field or in a circular patch on gray.

    Parameters
    ----------
    size : int or (height, width)
        Image size in pixels (each side >= 8).  The default 48 x 64 and ``frequency`` 3.6 (a period of
        about 17.6 pixels) are the conv-basics lab's stimulus.
    orientation : float
        Radians; 0 = vertical bars (modulation along x), pi / 2 = horizontal bars.
    frequency : float
        Cycles per image width, at most ``width / 2``.
    contrast : float
        In [0, 1]: the bars are ``mean +- contrast / 2``.
    phase : float
        Radians, at the image centre.
    mean : float
        The gray level (0.5: values in [0, 1]; 0: zero-centred, values +-0.5).
    patch : bool
        Draw the grating only inside a circle and fill the rest with ``mean``.
    patch_centre : (float, float)
        The circle's centre as fractions of (height, width); the lab's patch sits on the right.
    patch_radius : float
        The circle's radius as a fraction of the width.

    Returns
    -------
    ndarray
        float32 (height, width).
    """
    height, width = _size(size)
    frequency = _check_frequency(frequency, width)
    contrast = _check_contrast(contrast)
    one = (np.atleast_1d(frequency), np.atleast_1d(float(orientation)), np.atleast_1d(float(phase)))
    carrier = _carrier(height, width, *one)[0]
    image = mean + 0.5 * float(contrast) * np.where(carrier > 0, 1.0, -1.0)
    if patch:
        if not 0 < patch_radius:
            raise InvalidValueError(f"patch_radius must be > 0 (a fraction of the width), got {patch_radius!r}")
        rows, columns = np.mgrid[0:height, 0:width]
        centre_row, centre_column = patch_centre[0] * height, patch_centre[1] * width
        inside = np.hypot(rows - centre_row, columns - centre_column) < patch_radius * width
        image = np.where(inside, image, mean)
    return image.astype(np.float32)


def _gaussian_envelope(height: int, width: int, sigma_fraction: float) -> np.ndarray:
    x, y = _centred_grid(height, width)
    sigma = sigma_fraction * min(height, width)
    envelope = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    return envelope / envelope.max()


def sinusoidal_gratings(
    size: int | Sequence[int],
    frequency: float | Sequence[float] | np.ndarray,
    orientation: float | Sequence[float] | np.ndarray = 0.0,
    contrast: float | Sequence[float] | np.ndarray = 1.0,
    *,
    phase: float | Sequence[float] | np.ndarray = 0.0,
    envelope: str | None = "gaussian",
    sigma: float = 1 / 6,
    mean: float = 0.5,
    channels: int = 1,
) -> np.ndarray:
    """A batch of sinusoidal gratings; the parameters broadcast against each other to the batch size.

    Parameters
    ----------
    size : int or (height, width)
        Each side >= 8; even sizes are handled (see the module documentation).
    frequency : float or array
        Cycles per image width, each at most ``width / 2`` (the Nyquist limit).
    orientation : float or array
        Radians (:func:`grating_orientations` gives the lab's 13 from 0 to pi).
    contrast : float or array
        Michelson contrast at the envelope's peak, in [0, 1].
    phase : float or array
        Radians, at the image centre (0: a bright bar through the centre).
    envelope : {"gaussian", None}
        Multiply the carrier by a Gaussian of standard deviation ``sigma * min(height, width)`` peaking at
        1 in the centre, or not (a full-field grating).
    sigma : float
        The envelope's width as a fraction of the image side (the lab's 1/6).
    mean : float
        Gray level (0.5: values in [0, 1]).
    channels : int
        1 or 3 (the same luminance repeated, for RGB backbones).

    Returns
    -------
    ndarray
        float32 (n, height, width, channels), n the broadcast size of the parameters.
    """
    height, width = _size(size)
    if envelope not in ("gaussian", None):
        raise InvalidValueError(f"envelope must be 'gaussian' or None, got {envelope!r}")
    if channels not in (1, 3):
        raise InvalidValueError(f"channels must be 1 or 3, got {channels!r}")
    if not sigma > 0:
        raise InvalidValueError(f"sigma must be > 0 (a fraction of the image side), got {sigma!r}")
    frequency, orientation, contrast, phase = np.broadcast_arrays(
        np.atleast_1d(_check_frequency(frequency, width)),
        np.atleast_1d(np.asarray(orientation, dtype=np.float64)),
        np.atleast_1d(_check_contrast(contrast)),
        np.atleast_1d(np.asarray(phase, dtype=np.float64)),
    )
    if frequency.ndim != 1:
        raise InvalidValueError("frequency, orientation, contrast and phase must be numbers or 1-D arrays")
    carrier = _carrier(height, width, frequency, orientation, phase)
    if envelope == "gaussian":
        carrier = carrier * _gaussian_envelope(height, width, sigma)[None]
    images = mean + 0.5 * contrast[:, None, None] * carrier
    images = images.astype(np.float32)[..., None]
    return np.repeat(images, channels, axis=-1) if channels == 3 else images


def sinusoidal_grating(
    size: int | Sequence[int],
    frequency: float,
    orientation: float = 0.0,
    contrast: float = 1.0,
    **options: float | str | int | None,
) -> np.ndarray:
    """One sinusoidal grating, (height, width, channels) float32; see :func:`sinusoidal_gratings`."""
    for name, value in (("frequency", frequency), ("orientation", orientation), ("contrast", contrast)):
        if np.ndim(value) != 0:
            raise InvalidValueError(
                f"{name} must be one number here (use sinusoidal_gratings for a batch), got {value!r}"
            )
    return sinusoidal_gratings(size, frequency, orientation, contrast, **options)[0]


def grating_orientations(n: int = 13) -> np.ndarray:
    """``n`` orientations evenly from 0 to pi inclusive (the lab's 13: steps of pi / 12)."""
    n = int_in_range(n, "n", 1)
    return np.linspace(0.0, math.pi, n) if n > 1 else np.zeros(1)


def csf_frequencies(size: int) -> np.ndarray:
    """The lab's spatial frequencies for a ``size``-pixel image: every divisor of ``size`` up to
    ``size / 2`` (1, 2, 4, 7, 8, 14, 16, 28, 32, 56, 112 for 224)."""
    height, width = _size(size)
    if height != width:
        raise InvalidValueError(f"csf_frequencies takes one side (square images), got {size!r}")
    return np.array([f for f in range(1, width // 2 + 1) if width % f == 0], dtype=np.float64)
