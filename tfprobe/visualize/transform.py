"""Transformation robustness: random pad, jitter, scale and rotation, redrawn at every step from a seed.

The geometric transformations are affine maps of the image plane that keep the image's size: ``Pad``
shrinks the content towards the centre (a border of mid-gray appears, as Lucid's constant padding does),
``Jitter`` shifts it, ``Scale`` zooms and ``Rotate`` turns it.  Consecutive geometric transformations are
composed into one matrix and the image is resampled once (bilinear, mid-gray outside), by gathers that XLA
compiles, so a step costs one resampling whatever the list.  ``Noise`` adds Gaussian noise.

Every transformation takes a stateless seed (two int32 values); the render loop folds the step number
into the run's seed, so the same seed gives the same sequence, and every step draws new transformations.
All images of a batch share one draw per step.  The random numbers come from a counter-based integer hash
(:func:`uniform`), not TensorFlow's stateless generators, whose values differ between XLA and graph
execution: the same seed gives the same images whether the loop is compiled with XLA or not.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import math
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

__all__ = [
    "Blur",
    "Geometric",
    "Jitter",
    "Noise",
    "Pad",
    "Rotate",
    "Scale",
    "Transform",
    "apply_transforms",
    "fold",
    "gaussian_blur",
    "normal",
    "standard_transforms",
    "uniform",
]

#: Value of pixels brought in from outside the image (mid-gray, as Lucid's constant padding).
FILL = 0.5
_GOLDEN = 0x9E3779B9
_OFFSET = 0x85EBCA77


def _hash(x: tf.Tensor) -> tf.Tensor:
    """A 32-bit integer hash (lowbias32): every output bit depends on every input bit."""
    for shift, multiplier in ((16, 0x7FEB352D), (15, 0x846CA68B)):
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, shift)) * tf.constant(multiplier, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


def fold(seed: tf.Tensor, value: tf.Tensor | int) -> tf.Tensor:
    """A new seed from ``seed`` (two int32) and ``value``, the same in every execution mode."""
    key = tf.cast(seed, tf.uint32)
    mixed = _hash(tf.bitwise.bitwise_xor(key[1], _hash(tf.cast(value, tf.uint32) + tf.constant(_GOLDEN, tf.uint32))))
    return tf.bitcast(tf.stack([_hash(key[0] + mixed), mixed]), tf.int32)


def _bits(seed: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """``count`` random 32-bit words from a seed (two int32): a hash of a counter keyed by the seed."""
    second = _hash(tf.cast(seed[1], tf.uint32) + tf.constant(_OFFSET, tf.uint32))  # not fold()'s mixing
    key = _hash(tf.bitwise.bitwise_xor(tf.cast(seed[0], tf.uint32), second))
    counter = tf.cast(tf.range(count), tf.uint32) * tf.constant(_GOLDEN, tf.uint32)
    return _hash(tf.bitwise.bitwise_xor(counter, key))


def _count(shape: Any) -> int | tf.Tensor:
    """The number of values of ``shape``: a Python int when it is known (no operation traced for it)."""
    dimensions = list(shape) if isinstance(shape, (list, tuple, tf.TensorShape)) else None
    if dimensions is not None and all(isinstance(d, int) for d in dimensions):
        return math.prod(dimensions)
    return tf.reduce_prod(shape)


def uniform(seed: tf.Tensor, shape: Any, low: float = 0.0, high: float = 1.0) -> tf.Tensor:
    """Uniform values in [``low``, ``high``) from a seed (two int32), the same with and without XLA."""
    bits = _bits(seed, _count(shape))
    unit = tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) / 16777216.0
    return tf.reshape(low + (high - low) * unit, shape)


#: Mean and standard deviation of the sum of four uniform bytes.
_BYTE_SUM_MEAN, _BYTE_SUM_STD = 510.0, math.sqrt(4 * (256**2 - 1) / 12)


def normal(seed: tf.Tensor, shape: Any, std: float = 1.0) -> tf.Tensor:
    """Approximately Gaussian values: the standardised sum of the four bytes of one random word (Irwin-Hall;
    kurtosis 2.7 against a Gaussian's 3, bounded at 3.5 standard deviations).  One hash per value and no
    logarithm or cosine: a fifth of Box-Muller's cost under XLA, for the noise drawn at every step."""
    bits = _bits(seed, _count(shape))
    pairs = tf.constant(0x00FF00FF, tf.uint32)
    pairs = tf.bitwise.bitwise_and(bits, pairs) + tf.bitwise.bitwise_and(tf.bitwise.right_shift(bits, 8), pairs)
    total = tf.bitwise.bitwise_and(pairs, tf.constant(0xFFFF, tf.uint32)) + tf.bitwise.right_shift(pairs, 16)
    standard = (tf.cast(total, tf.float32) - _BYTE_SUM_MEAN) * (1.0 / _BYTE_SUM_STD)
    return tf.reshape(std * standard, shape)


class Transform:
    """Base class: ``__call__(images, seed)``; ``describe()`` says what it does."""

    def __call__(self, images: tf.Tensor, seed: tf.Tensor, strength: float | tf.Tensor = 1.0) -> tf.Tensor:
        return apply_transforms(images, (self,), seed, strength)

    def describe(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{type(self).__name__}({fields})"


class Geometric(Transform, abc.ABC):
    """A transformation that is an affine map of the image plane: :meth:`matrix` maps output (x, y, 1) to
    input."""

    #: How many uniform numbers in [0, 1) one draw of the map takes.
    draws: ClassVar[int] = 0
    #: Whether the map only scales and shifts each axis (no rotation or shear): then a resampling is two
    #: small matrix products instead of gathers.
    axis_aligned: ClassVar[bool] = False

    @abc.abstractmethod
    def matrix(self, numbers: tf.Tensor, size: tuple[int, int], strength: tf.Tensor) -> tf.Tensor:
        """The 3x3 map for one draw: ``numbers`` holds this transformation's :attr:`draws` uniform numbers in
        [0, 1), ``size`` is the image's (height, width), and ``strength`` in [0, 1] scales the random range
        (1: as configured)."""


def _affine(linear: tf.Tensor, shift: tf.Tensor) -> tf.Tensor:
    """The 3x3 map (x, y, 1) -> (linear @ (x, y) + shift, 1)."""
    return tf.concat([tf.concat([linear, shift[:, None]], axis=1), tf.constant([[0.0, 0.0, 1.0]])], axis=0)


def _about_centre(linear: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """A 3x3 map applying ``linear`` (2x2) about the centre of an image of ``size`` (height, width)."""
    centre = tf.constant([(size[1] - 1) / 2.0, (size[0] - 1) / 2.0])  # (x, y)
    return _affine(linear, centre - tf.linalg.matvec(linear, centre))


@dataclasses.dataclass(frozen=True)
class Pad(Geometric):
    """Shrink the content as if the image were padded by ``pixels`` on every side and brought back to size."""

    pixels: int
    axis_aligned: ClassVar[bool] = True

    def matrix(self, numbers: tf.Tensor, size: tuple[int, int], strength: tf.Tensor) -> tf.Tensor:
        side = float(max(size))
        factor = (side + 2.0 * self.pixels) / side  # output -> input coordinates grow
        return _about_centre(tf.eye(2) * factor, size)


@dataclasses.dataclass(frozen=True)
class Jitter(Geometric):
    """Shift by a random number of pixels in [-``pixels``, ``pixels``] along each axis."""

    pixels: float
    draws: ClassVar[int] = 2
    axis_aligned: ClassVar[bool] = True

    def matrix(self, numbers: tf.Tensor, size: tuple[int, int], strength: tf.Tensor) -> tf.Tensor:
        return _affine(tf.eye(2), (2.0 * numbers - 1.0) * (self.pixels * strength))


@dataclasses.dataclass(frozen=True)
class Scale(Geometric):
    """Zoom by a random factor in [``low``, ``high``] about the centre."""

    low: float = 0.9
    high: float = 1.1
    draws: ClassVar[int] = 1
    axis_aligned: ClassVar[bool] = True

    def matrix(self, numbers: tf.Tensor, size: tuple[int, int], strength: tf.Tensor) -> tf.Tensor:
        factor = 1.0 + (self.low + (self.high - self.low) * numbers[0] - 1.0) * strength
        return _about_centre(tf.eye(2) / factor, size)


@dataclasses.dataclass(frozen=True)
class Rotate(Geometric):
    """Rotate about the centre by a random angle in [-``degrees``, ``degrees``]."""

    degrees: float = 10.0
    draws: ClassVar[int] = 1

    def matrix(self, numbers: tf.Tensor, size: tuple[int, int], strength: tf.Tensor) -> tf.Tensor:
        angle = (2.0 * numbers[0] - 1.0) * (self.degrees * math.pi / 180.0) * strength
        cos, sin = tf.cos(angle), tf.sin(angle)
        return _about_centre(tf.reshape(tf.stack([cos, -sin, sin, cos]), (2, 2)), size)


@dataclasses.dataclass(frozen=True)
class Noise(Transform):
    """Add (approximately) Gaussian noise of standard deviation ``std`` (see :func:`normal`)."""

    std: float = 0.05

    def __call__(self, images: tf.Tensor, seed: tf.Tensor, strength: float | tf.Tensor = 1.0) -> tf.Tensor:
        shape = images.shape if images.shape.is_fully_defined() else tf.shape(images)
        return images + normal(seed, shape, self.std) * strength


@dataclasses.dataclass(frozen=True)
class Blur(Transform):
    """Blur with a Gaussian of random standard deviation in [``low``, ``high``] pixels (edges reflected)."""

    low: float = 0.5
    high: float = 1.0

    def __call__(self, images: tf.Tensor, seed: tf.Tensor, strength: float | tf.Tensor = 1.0) -> tf.Tensor:
        sigma = tf.maximum(uniform(seed, [], self.low, self.high) * strength, 1e-3)
        return gaussian_blur(images, sigma, radius=max(1, math.ceil(3 * self.high)))


@functools.lru_cache(maxsize=32)
def _pixel_grid(height: int, width: int) -> np.ndarray:
    """(x, y, 1) of every pixel, row by row: (3, height * width)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xs.ravel(), ys.ravel(), np.ones(height * width, np.float32)])


def warp(images: tf.Tensor, matrix: tf.Tensor) -> tf.Tensor:
    """Resample ``images`` (batch, height, width, channels) at ``matrix`` @ (x, y, 1) of every output pixel
    (bilinear; :data:`FILL` outside the image).  Built from one gather, so XLA compiles it."""
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    source = tf.matmul(matrix[:2], tf.constant(_pixel_grid(height, width)))
    corner = tf.floor(source)
    fraction = source - corner  # (2, pixels): x and y
    corner = tf.cast(corner, tf.int32)
    # the four neighbours of every output pixel: their bilinear weights and, clamped, their indices
    weights, indices = [], []
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        x, y = corner[0] + dx, corner[1] + dy
        weight = (fraction[0] if dx else 1.0 - fraction[0]) * (fraction[1] if dy else 1.0 - fraction[1])
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        weights.append(tf.where(inside, weight, 0.0))
        indices.append(tf.minimum(tf.maximum(y, 0), height - 1) * width + tf.minimum(tf.maximum(x, 0), width - 1))
    weights = tf.stack(weights)  # (4, pixels)
    flat = tf.reshape(images, [-1, height * width, channels])
    values = tf.reshape(tf.gather(flat, tf.concat(indices, 0), axis=1), [-1, 4, height * width, channels])
    # the weights of neighbours outside the image go to the fill value: per pixel, not per image and channel
    result = tf.einsum("bkpc,kp->bpc", values, weights) + (FILL * (1.0 - tf.reduce_sum(weights, 0)))[None, :, None]
    return tf.reshape(result, [-1, height, width, channels])


def _axis_resampling(scale: tf.Tensor, shift: tf.Tensor, size: int) -> tf.Tensor:
    """(size, size): row i holds the bilinear weights with which output pixel i reads the input pixels at
    ``scale * i + shift``; weights of pixels outside the image are left out (one_hot of them is zero)."""
    source = scale * tf.range(size, dtype=tf.float32) + shift
    first = tf.floor(source)
    fraction = (source - first)[:, None]
    first = tf.cast(first, tf.int32)
    return (1.0 - fraction) * tf.one_hot(first, size) + fraction * tf.one_hot(first + 1, size)


def warp_axes(images: tf.Tensor, matrix: tf.Tensor) -> tf.Tensor:
    """:func:`warp` for maps that only scale and shift each axis (``matrix[0, 1] == matrix[1, 0] == 0``):
    bilinear interpolation is separable, so the resampling is a matrix product along the height and one
    along the width, and the fill value takes the weight the two leave out.  The same values as
    :func:`warp`, at a fraction of its cost and of its gradient's (no gathers, no scatters)."""
    height, width = images.shape[1], images.shape[2]
    rows = _axis_resampling(matrix[1, 1], matrix[1, 2], height)  # (height, height)
    columns = _axis_resampling(matrix[0, 0], matrix[0, 2], width)  # (width, width)
    resampled = tf.einsum("ij,bjwc->biwc", rows, images)
    resampled = tf.einsum("ij,bhjc->bhic", columns, resampled)
    inside = tf.reduce_sum(rows, axis=1)[:, None] * tf.reduce_sum(columns, axis=1)[None, :]  # (height, width)
    return resampled + (FILL * (1.0 - inside))[None, :, :, None]


def apply_transforms(
    images: tf.Tensor, transforms: tuple[Transform, ...], seed: tf.Tensor, strength: float | tf.Tensor = 1.0
) -> tf.Tensor:
    """Apply ``transforms`` in order, their random ranges scaled by ``strength``; consecutive geometric ones
    are composed and resampled once.  The geometric transformations' numbers come from one draw of the
    seed; every other transformation gets a seed of its own folded from it."""
    strength = tf.cast(strength, tf.float32)
    size = (int(images.shape[1]), int(images.shape[2]))
    count = sum(t.draws for t in transforms if isinstance(t, Geometric))
    numbers = uniform(fold(seed, len(transforms)), [count]) if count else tf.zeros([0])
    used, pending, aligned = 0, None, True
    for index, transform in enumerate(transforms):
        if isinstance(transform, Geometric):
            matrix = transform.matrix(numbers[used : used + transform.draws], size, strength)
            used += transform.draws
            # output -> input maps compose in order: the last transformation applies to output coordinates first
            pending = matrix if pending is None else tf.matmul(pending, matrix)
            aligned = aligned and transform.axis_aligned
            continue
        if pending is not None:
            images, pending, aligned = (warp_axes if aligned else warp)(images, pending), None, True
        images = transform(images, fold(seed, index), strength)
    return images if pending is None else (warp_axes if aligned else warp)(images, pending)


def standard_transforms(size: int) -> tuple[Transform, ...]:
    """Lucid's standard set, scaled to the image size: pad, jitter, scale, rotate, jitter (one resampling)."""
    unit = max(1.0, size / 32)
    return (Pad(round(2 * unit)), Jitter(2 * unit), Scale(0.92, 1.08), Rotate(8.0), Jitter(unit))


@functools.lru_cache(maxsize=32)
def _reflected_shifts(size: int, radius: int) -> np.ndarray:
    """(2 radius + 1, size, size): for every offset k, the matrix taking a line of ``size`` pixels to the
    line shifted by k, edges reflected (as ``tf.pad(mode="REFLECT")``: the edge pixel is not repeated)."""
    shifts = np.zeros((2 * radius + 1, size, size), np.float32)
    for k in range(-radius, radius + 1):
        for i in range(size):
            j = i + k
            while not 0 <= j < size:  # reflect until inside (several times for lines shorter than the kernel)
                j = -j if j < 0 else 2 * (size - 1) - j
            shifts[k + radius, i, j] += 1.0
    return shifts


def gaussian_blur(images: tf.Tensor, sigma: float | tf.Tensor, radius: int | None = None) -> tf.Tensor:
    """Blur every channel with a Gaussian of standard deviation ``sigma`` pixels (edges reflected), its
    kernel cut at ``radius`` pixels (default: 3 sigma; give it when ``sigma`` is a tensor).

    The separable blur is two matrix products along the image's height and width (banded matrices made from
    the kernel): cheap and exactly differentiable, where a depthwise convolution is slow on CPU under XLA.
    """
    radius = max(1, math.ceil(3 * sigma)) if radius is None else int(radius)
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(offsets / sigma))
    kernel /= tf.reduce_sum(kernel)
    height, width = int(images.shape[1]), int(images.shape[2])
    down = tf.tensordot(kernel, tf.constant(_reflected_shifts(height, radius)), axes=1)  # (height, height)
    across = tf.tensordot(kernel, tf.constant(_reflected_shifts(width, radius)), axes=1)  # (width, width)
    blurred = tf.einsum("ij,bjwc->biwc", down, tf.cast(images, tf.float32))
    return tf.cast(tf.einsum("ij,bhjc->bhic", across, blurred), images.dtype)
