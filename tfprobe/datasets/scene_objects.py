"""The object images scenes are made of: one split of MNIST digits and one of Fashion-MNIST items."""

from __future__ import annotations

import dataclasses

import numpy as np

from tfprobe.datasets.digits import Split
from tfprobe.datasets.scene_layout import OBJECT_SIDE
from tfprobe.errors import InvalidTypeError, InvalidValueError

ObjectSource = Split | tuple[np.ndarray, np.ndarray]


def _check_images(name: str, images: object) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3 or array.shape[1:] != (OBJECT_SIDE, OBJECT_SIDE) or len(array) == 0:
        raise InvalidValueError(f"{name} images must be an array (N, 28, 28) with N >= 1, got shape {array.shape}")
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise InvalidTypeError(f"{name} images must be uint8 (0-255) or float in [0, 1], got dtype {array.dtype}")
    low, high = float(np.min(array)), float(np.max(array))
    if not (0.0 <= low and high <= 1.0):  # also catches NaN
        raise InvalidValueError(f"{name} images are float, so they must lie in [0, 1]; got values from {low} to {high}")
    return array.astype(np.float64)


def _check_labels(name: str, labels: object, n: int) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != n:
        raise InvalidValueError(
            f"{name} labels must be a vector of {n} class indices (one per image), got {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise InvalidTypeError(f"{name} labels must be integers 0-9, got dtype {array.dtype}")
    if array.min() < 0 or array.max() > 9:
        raise InvalidValueError(f"{name} labels must lie in 0-9, got values from {array.min()} to {array.max()}")
    return array.astype(np.int64)


def _unpack(name: str, source: ObjectSource) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(source, Split):
        images, labels = source.images, source.labels
    elif isinstance(source, tuple) and len(source) == 2:
        images, labels = source
    else:
        kind = type(source).__name__
        raise InvalidTypeError(f"{name} must be a tfprobe.datasets.Split or a tuple (images, labels), got {kind}")
    images = _check_images(name, images)
    labels = _check_labels(name, labels, len(images))
    blank = np.flatnonzero(images.reshape(len(images), -1).max(axis=1) == 0)
    if blank.size:
        raise InvalidValueError(
            f"{name} image {int(blank[0])} is blank (all zero); objects need some ink to be normalised"
        )
    return images, labels


@dataclasses.dataclass(frozen=True)
class ObjectImages:
    """Digit and fashion images of one split, stacked: digits first.

    Attributes
    ----------
    images : ndarray (N, 28, 28)
        uint8 (when both sources are uint8) or float64 in [0, 1].
    labels : ndarray (N,) int64
        Class 0-9 within each domain.
    n_digits : int
        How many of the images are digits.
    """

    images: np.ndarray
    labels: np.ndarray
    n_digits: int

    @classmethod
    def from_sources(cls, digits: ObjectSource, fashion: ObjectSource) -> ObjectImages:
        """Check and stack the two sources (a :class:`Split` or a tuple ``(images, labels)`` each)."""
        digit_images, digit_labels = _unpack("digits", digits)
        fashion_images, fashion_labels = _unpack("fashion", fashion)
        if digit_images.dtype != fashion_images.dtype:
            digit_images, fashion_images = (
                x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x for x in (digit_images, fashion_images)
            )
        return cls(
            images=np.concatenate([digit_images, fashion_images]),
            labels=np.concatenate([digit_labels, fashion_labels]),
            n_digits=len(digit_images),
        )

    @property
    def n_fashion(self) -> int:
        return len(self.images) - self.n_digits

    @property
    def divisor(self) -> float:
        """What the stored values are divided by to lie in [0, 1]."""
        return 255.0 if self.images.dtype == np.uint8 else 1.0

    def stack_index(self, domain: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Position in :attr:`images` of image ``index`` of ``domain`` (0 digits, 1 fashion)."""
        return np.asarray(index) + np.asarray(domain) * self.n_digits

    def category(self, domain: np.ndarray, index: np.ndarray) -> np.ndarray:
        """20-way category: digit classes 0-9, fashion classes 10-19."""
        return self.labels[self.stack_index(domain, index)] + 10 * np.asarray(domain)
