"""The random-shape contrast dataset of the linear-probe lab: pairs of one shape at two contrasts.

Each pair is one random filled shape (circle, ellipse or rectangle, of a random RGB colour on a gray
background of 128) shown twice at two contrasts drawn uniformly from ``contrast_range``; the label says
which image has the higher contrast (0: the first, 1: the second).  Contrast ``c`` maps a pixel ``p`` in
[0, 1] to ``(1 - c) / 2 + c * p``.  Shapes are drawn with Pillow; the geometry follows the lab's OpenCV
code, with its sizes (given for 224 px) scaled to the image size.  Pair ``i`` is drawn from
``numpy.random.default_rng([seed, i])``, so a set is the same whatever the batching or parallelism.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from tfprobe.datasets.gratings import MIN_SIZE
from tfprobe.errors import InvalidIndexError, InvalidValueError
from tfprobe.validation import int_in_range

__all__ = ["SHAPES", "ContrastPairs", "adjust_contrast", "random_shape"]

#: The shapes, by label.
SHAPES = ("circle", "ellipse", "rectangle")

_REFERENCE_SIDE = 224  # the lab's sizes are given for this side


def adjust_contrast(images: np.ndarray, contrast: float | np.ndarray) -> np.ndarray:
    """``(1 - c) / 2 + c * images``: scale an image in [0, 1] about mid-gray to contrast ``c`` in [0, 1].

    ``contrast`` may be one number or one per image (broadcast against the leading axis).
    """
    images = np.asarray(images, dtype=np.float32)
    contrast = np.asarray(contrast, dtype=np.float32)
    if not np.all(np.isfinite(contrast)) or np.any(contrast < 0) or np.any(contrast > 1):
        raise InvalidValueError(f"contrast must be in [0, 1], got {contrast!r}")
    contrast = contrast.reshape(contrast.shape + (1,) * (images.ndim - contrast.ndim))
    return (1 - contrast) / 2 + contrast * images


def _scaled(value: float, size: int) -> int:
    return max(1, round(value * size / _REFERENCE_SIDE))


def random_shape(rng: np.random.Generator, size: int) -> tuple[np.ndarray, int]:
    """One filled shape of a random colour on gray: (uint8 image (size, size, 3), shape label)."""
    image = Image.new("RGB", (size, size), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    cx, cy = (int(v) for v in rng.integers(size // 4, 3 * (size // 4), 2))
    label = int(rng.integers(0, len(SHAPES)))
    if label == 0:
        radius = int(rng.integers(_scaled(10, size), max(_scaled(10, size) + 1, size // 4)))
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
    elif label == 1:
        minor = int(rng.integers(_scaled(10, size), _scaled(20, size) + 1))
        major = int(rng.integers(_scaled(30, size), max(_scaled(30, size) + 1, size // 4)))
        angle = np.deg2rad(rng.integers(0, 360))
        t = np.linspace(0, 2 * np.pi, 90, endpoint=False)
        # The lab's cv2.ellipse axes are (first, second) half-lengths before the rotation.
        xs = cx + minor * np.cos(t) * np.cos(angle) - major * np.sin(t) * np.sin(angle)
        ys = cy + minor * np.cos(t) * np.sin(angle) + major * np.sin(t) * np.cos(angle)
        draw.polygon(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=colour)
    else:
        corner = rng.integers(0, size, 2)
        x0, x1 = sorted((cx, int(corner[0])))
        y0, y1 = sorted((cy, int(corner[1])))
        draw.rectangle([x0, y0, x1, y1], fill=colour)
    return np.asarray(image, dtype=np.uint8), label


@dataclass(frozen=True)
class ContrastPairs:
    """A seeded set of ``n`` contrast-discrimination pairs of ``size`` x ``size`` RGB images.

    Parameters
    ----------
    n : int
        Pairs in the set (an epoch of :meth:`dataset`).
    size : int
        Image side in pixels (>= 8; the lab uses 224).
    contrast_range : (float, float)
        Contrasts are drawn uniformly from this range, within [0, 1] (the lab's (0.04, 1)).
    seed : int
        The set's identity: the same seed gives the same pairs.
    """

    n: int
    size: int = 224
    contrast_range: tuple[float, float] = (0.04, 1.0)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n", "size"):
            int_in_range(getattr(self, name), name, 1)
        if self.size < MIN_SIZE:
            raise InvalidValueError(f"size must be at least {MIN_SIZE} pixels, got {self.size}")
        low, high = self.contrast_range
        if not 0 <= low < high <= 1:
            raise InvalidValueError(
                f"contrast_range must be (low, high) with 0 <= low < high <= 1, got {self.contrast_range!r}"
            )

    def __len__(self) -> int:
        return int(self.n)

    def pairs(self, indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The pairs at ``indices``: first and second images (k, size, size, 3) float32 in [0, 1], labels
        (k,) int64 (1 when the second image has the higher contrast) and contrasts (k, 2)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= self.n):
            raise InvalidIndexError(f"pair indices must be in [0, {self.n}), got {indices.min()}..{indices.max()}")
        first = np.empty((indices.size, self.size, self.size, 3), np.float32)
        second = np.empty_like(first)
        contrasts = np.empty((indices.size, 2), np.float32)
        for row, index in enumerate(indices):
            rng = np.random.default_rng([int(self.seed), int(index)])
            image, _ = random_shape(rng, self.size)
            contrasts[row] = rng.uniform(*self.contrast_range, 2)
            pixels = image.astype(np.float32) / 255.0
            first[row] = adjust_contrast(pixels, contrasts[row, 0])
            second[row] = adjust_contrast(pixels, contrasts[row, 1])
        labels = np.argmax(contrasts, axis=1).astype(np.int64)
        return first, second, labels, contrasts

    def arrays(self) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        """The whole set in memory: ``((first, second), labels)``, what ``keras.Model.fit`` takes."""
        first, second, labels, _ = self.pairs(np.arange(self.n))
        return (first, second), labels

    def dataset(self, batch_size: int = 32, *, shuffle: bool = False, parallel_calls: int = 2) -> tf.data.Dataset:  # noqa: F821
        """The set as a batched, prefetched ``tf.data.Dataset`` of ``((first, second), label)``.

        ``shuffle`` reorders the pairs every epoch (seeded by the set's seed); the pairs themselves are
        always the same.
        """
        import tensorflow as tf

        batch_size = int_in_range(batch_size, "batch_size", 1)
        side = self.size

        def render(indices: np.ndarray) -> list[np.ndarray]:
            first, second, labels, _ = self.pairs(indices)
            return [first, second, labels]

        def as_element(indices: tf.Tensor) -> tuple:
            first, second, labels = tf.numpy_function(render, [indices], [tf.float32, tf.float32, tf.int64])
            first = tf.ensure_shape(first, (None, side, side, 3))
            second = tf.ensure_shape(second, (None, side, side, 3))
            return (first, second), tf.ensure_shape(labels, (None,))

        indices = tf.data.Dataset.range(self.n)
        if shuffle:
            indices = indices.shuffle(self.n, seed=int(self.seed), reshuffle_each_iteration=True)
        batches = indices.batch(int(batch_size)).map(as_element, num_parallel_calls=parallel_calls, deterministic=True)
        return batches.prefetch(tf.data.AUTOTUNE)
