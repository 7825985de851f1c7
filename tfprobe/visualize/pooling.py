"""A faster max-pooling gradient for rendering: XLA's CPU select-and-scatter is slow.

The gradient of max pooling routes each output's gradient to the input that was largest in its window;
TensorFlow's ``MaxPoolGrad`` compiles under XLA to a select-and-scatter, which takes about a sixth of a
VGG16 step on CPU.  For non-overlapping windows (strides equal to the pool size, as in VGG and most
classification networks) the same gradient is a mask: upsample the pooled output and the output gradient
to the input's size and keep the gradient where the input equals its window's maximum.  The two differ
only on ties: the mask passes the gradient to every tied input, ``MaxPoolGrad`` to one of them.  After a
ReLU, ties are at zero, where the ReLU stops the gradient anyway; elsewhere ties have probability zero.

:func:`fast_max_pool_gradients` swaps this gradient into Keras' max pooling while a function is traced
(Keras' ``MaxPooling2D`` calls ``keras.src.backend.nn.max_pool`` at call time); the forward values are
TensorFlow's own.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import tensorflow as tf

__all__ = ["fast_max_pool_gradients", "masked_max_pool"]

_LOCK = threading.RLock()


def _pair(value: Any) -> tuple[int, ...]:
    return (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)


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
        raise ValueError(f"masked_max_pool needs static height and width, got shape {inputs.shape}")

    @tf.custom_gradient
    def pool_with_mask(x: tf.Tensor):
        pooled = tf.nn.max_pool2d(x, pool, pool, padding)

        def gradient(upstream: tf.Tensor) -> tf.Tensor:
            def upsample(t: tf.Tensor) -> tf.Tensor:
                return tf.repeat(tf.repeat(t, pool[0], axis=1), pool[1], axis=2)

            maxima, spread = upsample(pooled), upsample(upstream)
            rows, columns = pooled.shape[1] * pool[0], pooled.shape[2] * pool[1]
            if padding == "SAME":  # the windows overhang the input: crop them as TensorFlow pads
                top, left = (rows - height) // 2, (columns - width) // 2
                maxima = maxima[:, top : top + height, left : left + width]
                spread = spread[:, top : top + height, left : left + width]
                return tf.where(tf.equal(x, maxima), spread, tf.zeros_like(spread))
            # valid: the last rows and columns that fit no window get no gradient
            covered = x[:, :rows, :columns]
            inside = tf.where(tf.equal(covered, maxima), spread, tf.zeros_like(spread))
            return tf.pad(inside, [[0, 0], [0, height - rows], [0, width - columns], [0, 0]])

        return pooled, gradient

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
