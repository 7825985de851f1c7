"""A faster, deterministic max-pooling gradient for rendering.

The gradient of max pooling routes each output's gradient to the input that was largest in its window.
TensorFlow's ``MaxPoolGrad`` compiles under XLA to a select-and-scatter, which takes about a sixth of a
VGG16 step on CPU; in a TensorFlow graph, oneDNN's rewrite of it into its own fast kernel happens in some
processes and not in others (the rewrite checks the forward op's type in an order that varies), and
Eigen's kernel then costs about a tenth of the step.  For non-overlapping windows (strides equal to the
pool size, as in VGG and most classification networks) the same gradient is a mask: view every window as
its own pair of axes, compare it with its maximum by broadcasting and keep the output gradient where the
input is the maximum.  The two differ only on ties: the mask passes the gradient to every tied input,
``MaxPoolGrad`` to one of them.  After a ReLU, ties are at zero, where the ReLU stops the gradient anyway;
elsewhere ties have probability zero.

:func:`fast_max_pool_gradients` swaps this gradient into Keras' max pooling while a function is traced
(Keras' ``MaxPooling2D`` calls ``keras.src.backend.nn.max_pool`` at call time); the forward values are
TensorFlow's own.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

import tensorflow as tf

from tfprobe.errors import InvalidValueError

__all__ = ["fast_max_pool_gradients", "masked_max_pool"]

_LOCK = threading.RLock()


def _pair(value: Any) -> tuple[int, ...]:
    return (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)


def _pooled_size(size: int, pool: int, padding: str) -> int:
    return -(-size // pool) if padding == "SAME" else size // pool


@functools.cache
def _mask_gradient(pool: tuple[int, int], padding: str, height: int, width: int):
    """The mask gradient for one pooling, XLA-compiled: it fuses the comparison, the selection and the
    reshapes into one loop (in a TensorFlow graph they are separate passes over the input)."""
    pooled_rows, pooled_columns = _pooled_size(height, pool[0], padding), _pooled_size(width, pool[1], padding)
    rows, columns = pooled_rows * pool[0], pooled_columns * pool[1]
    top, left = (rows - height) // 2, (columns - width) // 2

    def gradient(x: tf.Tensor, pooled: tf.Tensor, upstream: tf.Tensor) -> tf.Tensor:
        if padding == "SAME":  # the windows overhang the input: pad it as TensorFlow does (never a maximum)
            paddings = [[0, 0], [top, rows - height - top], [left, columns - width - left], [0, 0]]
            windows = tf.pad(x, paddings, constant_values=tf.constant(-float("inf"), x.dtype))
        elif (rows, columns) != (height, width):  # valid: the last rows and columns that fit no window get none
            windows = x[:, :rows, :columns]
        else:
            windows = x
        # every window as its own pair of axes, compared with its maximum by broadcasting (no upsampled copies)
        channels = x.shape[3]
        is_maximum = tf.equal(
            tf.reshape(windows, [-1, pooled_rows, pool[0], pooled_columns, pool[1], channels]),
            pooled[:, :, None, :, None, :],
        )
        spread = tf.where(is_maximum, upstream[:, :, None, :, None, :], tf.zeros((), upstream.dtype))
        spread = tf.reshape(spread, [-1, rows, columns, channels])
        if padding == "SAME":
            return spread[:, top : top + height, left : left + width] if (rows, columns) != (height, width) else spread
        if (rows, columns) != (height, width):
            return tf.pad(spread, [[0, 0], [0, height - rows], [0, width - columns], [0, 0]])
        return spread

    return tf.function(gradient, jit_compile=True, autograph=False, reduce_retracing=True)


def masked_max_pool(inputs: tf.Tensor, pool_size: Any, padding: str = "valid") -> tf.Tensor:
    """2-D max pooling (channels last, strides = ``pool_size``) whose gradient is computed as a mask.

    Parameters
    ----------
    inputs : tf.Tensor
        (batch, height, width, channels), height and width known when traced.
    pool_size : int or (int, int)
    padding : {"valid", "same"}

    Returns
    -------
    tf.Tensor
        Exactly ``tf.nn.max_pool2d(inputs, pool_size, pool_size, padding)``.
    """
    pool = _pair(pool_size)
    padding = padding.upper()
    height, width = inputs.shape[1], inputs.shape[2]
    if height is None or width is None:
        raise InvalidValueError(f"masked_max_pool needs static height and width, got shape {inputs.shape}")

    gradient_of = _mask_gradient(pool, padding, height, width)

    @tf.custom_gradient
    def pool_with_mask(x: tf.Tensor):
        pooled = tf.nn.max_pool2d(x, pool, pool, padding)
        return pooled, lambda upstream: gradient_of(x, pooled, upstream)

    return pool_with_mask(inputs)


@contextlib.contextmanager
def fast_max_pool_gradients() -> Iterator[None]:
    """Within the context, Keras' 2-D max pooling with non-overlapping windows (channels last, static size)
    uses :func:`masked_max_pool`; other poolings are unchanged.  Meant around the tracing of a function."""
    try:
        from keras.src import backend
    except ImportError:  # a Keras without this layout: keep its own pooling
        yield
        return
    module = getattr(backend, "nn", None)
    original = getattr(module, "max_pool", None)
    if original is None or backend.backend() != "tensorflow":
        yield
        return

    def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
        pool = _pair(pool_size)
        stride = pool if strides is None else _pair(strides)
        spatial_static = inputs.shape.rank == 4 and None not in inputs.shape[1:3]
        channels_last = backend.standardize_data_format(data_format) == "channels_last"
        if len(pool) == 2 and stride == pool and spatial_static and channels_last:
            return masked_max_pool(inputs, pool, padding)
        return original(inputs, pool_size, strides, padding, data_format)

    with _LOCK:
        module.max_pool = max_pool
        try:
            yield
        finally:
            module.max_pool = original
