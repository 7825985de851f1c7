"""Spatial pooling of activations, to keep their dimension small.

``pool`` is None (keep everything), ``"mean"`` or ``"max"`` (over all spatial
positions: one value per channel), an int ``k`` (adaptive average pooling to
k x k, PyTorch's ``adaptive_avg_pool2d`` bins) or ``("max", k)`` /
``("mean", k)``.  Units without spatial axes (vectors) are left as they are.
"""

from __future__ import annotations

import math

import tensorflow as tf

from tfprobe.errors import InvalidValueError
from tfprobe.validation import is_int

Pool = str | int | tuple[str, int] | None
_REDUCERS = {"mean": tf.reduce_mean, "max": tf.reduce_max}


def parse_pool(pool: Pool) -> tuple[str, int | None] | None:
    """``pool`` as (reducer, output side or None for global), or None; a clear error otherwise."""
    if pool is None:
        return None
    if isinstance(pool, str) and pool in _REDUCERS:
        return pool, None
    if is_int(pool) and pool >= 1:
        return "mean", pool
    if isinstance(pool, tuple) and len(pool) == 2 and pool[0] in _REDUCERS and is_int(pool[1]) and pool[1] >= 1:
        return pool[0], pool[1]
    raise InvalidValueError(
        f"pool must be None, 'mean', 'max', an int k (adaptive mean pooling to k x k) or ('max' | 'mean', k); "
        f"got {pool!r}"
    )


def describe_pool(pool: Pool) -> str:
    parsed = parse_pool(pool)
    if parsed is None:
        return "none"
    reducer, side = parsed
    return f"global {reducer}" if side is None else f"adaptive {reducer} {side}x{side}"


def _bins(size: int, side: int) -> list[tuple[int, int]]:
    return [(math.floor(i * size / side), math.ceil((i + 1) * size / side)) for i in range(side)]


def pool_activation(values: tf.Tensor, pool: Pool) -> tf.Tensor:
    """Pool a batch of activations (batch, height, width, channels); other ranks pass through."""
    parsed = parse_pool(pool)
    if parsed is None or values.shape.rank != 4:
        return values
    reducer, side = parsed
    reduce = _REDUCERS[reducer]
    if side is None:
        return reduce(values, axis=(1, 2))
    height, width = int(values.shape[1]), int(values.shape[2])
    if side > min(height, width):
        raise InvalidValueError(
            f"cannot pool a {height}x{width} map to {side}x{side}: choose k <= {min(height, width)}"
        )
    rows = [reduce(values[:, a:b], axis=1, keepdims=True) for a, b in _bins(height, side)]
    tall = tf.concat(rows, axis=1)
    cols = [reduce(tall[:, :, a:b], axis=2, keepdims=True) for a, b in _bins(width, side)]
    return tf.concat(cols, axis=2)


def pooled_shape(shape: tuple[int | None, ...], pool: Pool) -> tuple[int | None, ...]:
    """Per-stimulus shape after pooling."""
    parsed = parse_pool(pool)
    if parsed is None or len(shape) != 3:
        return tuple(shape)
    _, side = parsed
    return (shape[-1],) if side is None else (side, side, shape[-1])
