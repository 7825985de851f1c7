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
import math
from typing import Any

import tensorflow as tf

__all__ = [
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


def uniform(seed: tf.Tensor, shape: Any, low: float = 0.0, high: float = 1.0) -> tf.Tensor:
    """Uniform values in [``low``, ``high``) from a seed (two int32), the same with and without XLA."""
    count = tf.reduce_prod(shape)
    second = _hash(tf.cast(seed[1], tf.uint32) + tf.constant(_OFFSET, tf.uint32))  # not fold()'s mixing
    key = _hash(tf.bitwise.bitwise_xor(tf.cast(seed[0], tf.uint32), second))
    counter = tf.cast(tf.range(count), tf.uint32) * tf.constant(_GOLDEN, tf.uint32)
    bits = _hash(tf.bitwise.bitwise_xor(counter, key))
    unit = tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) / 16777216.0
    return tf.reshape(low + (high - low) * unit, shape)


def normal(seed: tf.Tensor, shape: Any, std: float = 1.0) -> tf.Tensor:
    """Gaussian values (Box-Muller on :func:`uniform`)."""
    first = uniform(fold(seed, 1), shape)
    second = uniform(fold(seed, 2), shape)
    radius = tf.sqrt(-2.0 * tf.math.log(1.0 - first))
    return std * radius * tf.cos(2.0 * math.pi * second)


class Transform:
    """Base class: ``__call__(images, seed)``; ``describe()`` says what it does."""

    def __call__(self, images: tf.Tensor, seed: tf.Tensor, strength: float | tf.Tensor = 1.0) -> tf.Tensor:
        return apply_transforms(images, (self,), seed, strength)

    def describe(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{type(self).__name__}({fields})"


class Geometric(Transform, abc.ABC):
    """A transformation that is an affine map: ``matrix(seed, size)`` maps output (x, y, 1) to input."""

    @abc.abstractmethod
    def matrix(self, seed: tf.Tensor, size: tf.Tensor, strength: tf.Tensor) -> tf.Tensor:
        """The map for one draw; ``strength`` in [0, 1] scales the random range (1: as configured)."""


def _about_centre(linear: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """A 3x3 map applying ``linear`` (2x2) about the image centre."""
    centre = (tf.cast(size[::-1], tf.float32) - 1.0) / 2.0  # (x, y)
    shift = centre - tf.linalg.matvec(linear, centre)
    top = tf.concat([linear, shift[:, None]], axis=1)
    return tf.concat([top, tf.constant([[0.0, 0.0, 1.0]])], axis=0)


@dataclasses.dataclass(frozen=True)
class Pad(Geometric):
    """Shrink the content as if the image were padded by ``pixels`` on every side and brought back to size."""

    pixels: int

    def matrix(self, seed: tf.Tensor, size: tf.Tensor, strength: tf.Tensor) -> tf.Tensor:
        side = tf.cast(tf.reduce_max(size), tf.float32)
        factor = (side + 2.0 * self.pixels) / side  # output -> input coordinates grow
        return _about_centre(tf.eye(2) * factor, size)


@dataclasses.dataclass(frozen=True)
class Jitter(Geometric):
    """Shift by a random number of pixels in [-``pixels``, ``pixels``] along each axis."""

    pixels: float

    def matrix(self, seed: tf.Tensor, size: tf.Tensor, strength: tf.Tensor) -> tf.Tensor:
        shift = uniform(seed, [2], -self.pixels, self.pixels) * strength
        return tf.concat([tf.concat([tf.eye(2), shift[:, None]], axis=1), [[0.0, 0.0, 1.0]]], axis=0)


@dataclasses.dataclass(frozen=True)
class Scale(Geometric):
    """Zoom by a random factor in [``low``, ``high``] about the centre."""

    low: float = 0.9
    high: float = 1.1

    def matrix(self, seed: tf.Tensor, size: tf.Tensor, strength: tf.Tensor) -> tf.Tensor:
        factor = 1.0 + (uniform(seed, [], self.low, self.high) - 1.0) * strength
        return _about_centre(tf.eye(2) / factor, size)


@dataclasses.dataclass(frozen=True)
class Rotate(Geometric):
    """Rotate about the centre by a random angle in [-``degrees``, ``degrees``]."""

    degrees: float = 10.0

    def matrix(self, seed: tf.Tensor, size: tf.Tensor, strength: tf.Tensor) -> tf.Tensor:
        angle = uniform(seed, [], -self.degrees, self.degrees) * (math.pi / 180.0) * strength
        cos, sin = tf.cos(angle), tf.sin(angle)
        return _about_centre(tf.stack([tf.stack([cos, -sin]), tf.stack([sin, cos])]), size)


@dataclasses.dataclass(frozen=True)
class Noise(Transform):
    """Add Gaussian noise of standard deviation ``std``."""

    std: float = 0.05

    def __call__(self, images: tf.Tensor, seed: tf.Tensor, strength: float | tf.Tensor = 1.0) -> tf.Tensor:
        return images + normal(seed, tf.shape(images), self.std) * strength


def warp(images: tf.Tensor, matrix: tf.Tensor) -> tf.Tensor:
    """Resample ``images`` (batch, height, width, channels) at ``matrix`` @ (x, y, 1) of every output pixel
    (bilinear; :data:`FILL` outside the image).  Built from gathers, so XLA compiles it."""
    height, width = images.shape[1], images.shape[2]
    ys, xs = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    points = tf.stack([tf.reshape(xs, [-1]), tf.reshape(ys, [-1]), tf.ones([height * width])])
    source = tf.matmul(matrix, points)
    x, y = source[0], source[1]
    x0, y0 = tf.floor(x), tf.floor(y)
    flat = tf.reshape(images, [-1, height * width, images.shape[3]])
    result = 0.0
    for dx in (0.0, 1.0):
        for dy in (0.0, 1.0):
            xi, yi = x0 + dx, y0 + dy
            weight = (1.0 - tf.abs(x - xi)) * (1.0 - tf.abs(y - yi))
            inside = (xi >= 0) & (xi <= width - 1) & (yi >= 0) & (yi <= height - 1)
            index = tf.cast(tf.clip_by_value(yi, 0, height - 1) * width + tf.clip_by_value(xi, 0, width - 1), tf.int32)
            values = tf.gather(flat, index, axis=1)
            if FILL is not None:
                values = tf.where(inside[None, :, None], values, FILL)
            result += weight[None, :, None] * values
    return tf.reshape(result, tf.shape(images))


def apply_transforms(
    images: tf.Tensor, transforms: tuple[Transform, ...], seed: tf.Tensor, strength: float | tf.Tensor = 1.0
) -> tf.Tensor:
    """Apply ``transforms`` in order, each with its own seed folded from ``seed`` and its random range scaled
    by ``strength``; consecutive geometric ones are composed and resampled once."""
    strength = tf.cast(strength, tf.float32)
    size = tf.shape(images)[1:3]
    pending = None
    for index, transform in enumerate(transforms):
        own = fold(seed, index)
        if isinstance(transform, Geometric):
            matrix = transform.matrix(own, size, strength)
            # output -> input maps compose in order: the last transformation applies to output coordinates first
            pending = matrix if pending is None else tf.matmul(pending, matrix)
            continue
        if pending is not None:
            images, pending = warp(images, pending), None
        images = transform(images, own, strength)
    return images if pending is None else warp(images, pending)


def standard_transforms(size: int) -> tuple[Transform, ...]:
    """Lucid's standard set, scaled to the image size: pad, jitter, scale, rotate, jitter (one resampling)."""
    unit = max(1.0, size / 32)
    return (Pad(round(2 * unit)), Jitter(2 * unit), Scale(0.92, 1.08), Rotate(8.0), Jitter(unit))


def gaussian_blur(images: tf.Tensor, sigma: float) -> tf.Tensor:
    """Blur every channel with a Gaussian of standard deviation ``sigma`` pixels (edges reflected)."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(offsets / sigma))
    kernel /= tf.reduce_sum(kernel)
    channels = images.shape[-1]
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    rows = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, channels, 1])
    columns = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, channels, 1])
    blurred = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(blurred, columns, [1, 1, 1, 1], "VALID")
