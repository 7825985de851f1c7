"""Building blocks of the recurrent network, written for speed under XLA.

Each computes exactly what its textbook counterpart computes (up to float
rounding) but through operations that XLA compiles well: a strided transposed
convolution becomes a stride-1 convolution followed by a pixel shuffle
(``depth_to_space``); a convolution with few channels becomes one on
space-to-depth blocks, whose wider matrix products keep the CPU's vector
units busy; non-overlapping max pooling becomes a reshape and a maximum.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfprobe.errors import InvalidValueError

__all__ = [
    "BlockedConv2D",
    "SubpixelConv2DTranspose",
    "conv2d_blocked",
    "conv_transpose_subpixel",
    "max_pool_non_overlapping",
]


def max_pool_non_overlapping(x: tf.Tensor, size: int = 3) -> tf.Tensor:
    """Max pooling with window = stride = ``size`` and 'valid' padding.

    Equal to ``tf.nn.max_pool2d(x, size, size, "VALID")`` and to PyTorch's
    ``MaxPool2d(size, size)``: rows and columns beyond the last whole window
    are dropped, and the gradient of a window goes to its first maximum in
    row-major order, as both do.  (A plain ``reduce_max`` would split it
    among tied maxima, which are common on uniform backgrounds.)

    Parameters
    ----------
    x : tf.Tensor
        ``(batch, height, width, channels)``.
    size : int
        Window size and stride.
    """
    height, width, channels = x.shape[1] // size, x.shape[2] // size, x.shape[3]
    cropped = x[:, : height * size, : width * size, :]
    return _pool_blocks(cropped, size, height, width, channels)


def _pool_blocks(x: tf.Tensor, size: int, height: int, width: int, channels: int) -> tf.Tensor:
    @tf.custom_gradient
    def pool(x: tf.Tensor) -> tuple[tf.Tensor, Any]:
        blocks = tf.reshape(x, (-1, height, size, width, size, channels))
        pooled = tf.reduce_max(blocks, axis=(2, 4))

        def gradient(upstream: tf.Tensor) -> tf.Tensor:
            hit = tf.cast(tf.equal(blocks, pooled[:, :, None, :, None, :]), tf.int32)
            # First maximum in row-major order: first hit in its row, in the first row with a hit.
            first_in_row = hit * tf.cast(tf.equal(tf.cumsum(hit, axis=4), 1), tf.int32)
            row_has_hit = tf.reduce_max(hit, axis=4, keepdims=True)
            rows_before = tf.cumsum(row_has_hit, axis=2, exclusive=True)
            first = tf.logical_and(tf.equal(first_in_row, 1), tf.equal(rows_before, 0))
            spread = tf.where(first, upstream[:, :, None, :, None, :], tf.zeros_like(blocks))
            return tf.reshape(spread, tf.shape(x))

        return pooled, gradient

    return pool(x)


def conv_transpose_subpixel(inputs: tf.Tensor, kernel: tf.Tensor, stride: int) -> tf.Tensor:
    """A 'valid' transposed convolution with equal strides, as a sub-pixel convolution.

    Output pixel ``s * i + k`` of a transposed convolution receives input ``i``
    through kernel tap ``k``.  Padding the kernel to ``taps * s`` taps and
    grouping output pixels into blocks of ``s`` turns the operation into a
    stride-1 convolution with ``taps`` taps and ``s * s * out`` channels, whose
    channels a pixel shuffle (``depth_to_space``) lays out as the blocks.

    Parameters
    ----------
    inputs : tf.Tensor
        ``(batch, height, width, in_channels)``.
    kernel : tf.Tensor
        ``(k_h, k_w, out_channels, in_channels)``, the layout of
        :class:`keras.layers.Conv2DTranspose`.
    stride : int
        The stride in both spatial directions.

    Returns
    -------
    tf.Tensor
        ``(batch, (height - 1) * stride + k_h, (width - 1) * stride + k_w, out_channels)``.
    """
    k_h, k_w, out_channels, in_channels = kernel.shape
    taps_h, taps_w = -(-k_h // stride), -(-k_w // stride)
    kernel = tf.pad(kernel, [[0, taps_h * stride - k_h], [0, taps_w * stride - k_w], [0, 0], [0, 0]])
    kernel = tf.reshape(kernel, (taps_h, stride, taps_w, stride, out_channels, in_channels))
    # (tap_h, tap_w, in, row-in-block, col-in-block, out), taps reversed: a
    # convolution correlates, while tap t of the transposed one looks back t inputs.
    kernel = tf.reverse(tf.transpose(kernel, (0, 2, 5, 1, 3, 4)), axis=[0, 1])
    kernel = tf.reshape(kernel, (taps_h, taps_w, in_channels, stride * stride * out_channels))
    padded = tf.pad(inputs, [[0, 0], [taps_h - 1, taps_h - 1], [taps_w - 1, taps_w - 1], [0, 0]])
    blocks = tf.nn.conv2d(padded, kernel, strides=1, padding="VALID")
    outputs = tf.nn.depth_to_space(blocks, stride)
    height, width = inputs.shape[1], inputs.shape[2]
    return outputs[:, : (height - 1) * stride + k_h, : (width - 1) * stride + k_w, :]


@keras.saving.register_keras_serializable(package="tfprobe")
class SubpixelConv2DTranspose(keras.layers.Conv2DTranspose):
    """:class:`keras.layers.Conv2DTranspose` computed by :func:`conv_transpose_subpixel`.

    Same weights, same arguments, same outputs; only 'valid' padding,
    channels-last data, no dilation and equal strides are supported.  Under
    XLA it is several times faster than the native transposed convolution.
    """

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, **kwargs: Any) -> None:
        super().__init__(filters, kernel_size, strides=strides, **kwargs)
        if self.padding != "valid" or self.data_format != "channels_last" or self.output_padding is not None:
            raise InvalidValueError(
                "SubpixelConv2DTranspose supports padding='valid', data_format='channels_last' and no "
                f"output_padding; got padding={self.padding!r}, data_format={self.data_format!r}, "
                f"output_padding={self.output_padding!r}"
            )
        if len(set(self.strides)) != 1 or set(self.dilation_rate) != {1}:
            raise InvalidValueError(
                f"SubpixelConv2DTranspose needs equal strides and no dilation; got strides={self.strides}, "
                f"dilation_rate={self.dilation_rate}"
            )

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        outputs = conv_transpose_subpixel(inputs, self.kernel, self.strides[0])
        if self.use_bias:
            outputs = outputs + self.bias
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


@cache
def _blocked_kernel_index(k_h: int, k_w: int, block: int) -> tuple[np.ndarray, int, int]:
    """Which tap of the original kernel each weight of the blocked kernel is.

    Output pixel ``block * I + a`` reads input pixel ``block * (I + t) + b``
    through tap ``block * t + b - a``; index ``k_h * k_w`` stands for zero.
    """
    taps_h, taps_w = -(-(block - 1 + k_h) // block), -(-(block - 1 + k_w) // block)
    t_h, t_w, b_h, b_w, a_h, a_w = np.ogrid[:taps_h, :taps_w, :block, :block, :block, :block]
    u, v = block * t_h + b_h - a_h, block * t_w + b_w - a_w
    inside = (u >= 0) & (u < k_h) & (v >= 0) & (v < k_w)
    index = np.where(inside, u * k_w + v, k_h * k_w)
    return index, taps_h, taps_w


def conv2d_blocked(inputs: tf.Tensor, kernel: tf.Tensor, block: int, padding: int = 0) -> tf.Tensor:
    """A stride-1 convolution computed on ``block x block`` space-to-depth blocks.

    Equal to ``tf.nn.conv2d`` with explicit zero ``padding`` on every side.
    The blocked convolution has ``block**2`` times the channels and a kernel of
    ``ceil((block - 1 + k) / block)`` taps, which turns a convolution with one
    or a few input channels into matrix products wide enough to run fast.

    Parameters
    ----------
    inputs : tf.Tensor
        ``(batch, height, width, in_channels)``.
    kernel : tf.Tensor
        ``(k_h, k_w, in_channels, out_channels)``.
    block : int
        Block size; 1 is a plain convolution.
    padding : int
        Zeros added on every side ("same" for an odd kernel is ``k // 2``).
    """
    k_h, k_w, in_channels, out_channels = kernel.shape
    pad = [[0, 0], [padding, padding], [padding, padding], [0, 0]]
    if block == 1:
        return tf.nn.conv2d(inputs, kernel, strides=1, padding=pad)
    height, width = inputs.shape[1] + 2 * padding, inputs.shape[2] + 2 * padding
    out_h, out_w = height - k_h + 1, width - k_w + 1
    index, taps_h, taps_w = _blocked_kernel_index(k_h, k_w, block)
    in_h, in_w = (-(-out_h // block) + taps_h - 1) * block, (-(-out_w // block) + taps_w - 1) * block
    pad[1][1] += in_h - height
    pad[2][1] += in_w - width
    blocks = tf.nn.space_to_depth(tf.pad(inputs, pad), block)
    taps = tf.concat([tf.reshape(kernel, (k_h * k_w, in_channels, out_channels)), tf.zeros_like(kernel[:1, 0])], 0)
    blocked = tf.gather(taps, index)  # (t_h, t_w, b_h, b_w, a_h, a_w, in, out)
    blocked = tf.transpose(blocked, (0, 1, 2, 3, 6, 4, 5, 7))
    blocked = tf.reshape(blocked, (taps_h, taps_w, block * block * in_channels, block * block * out_channels))
    outputs = tf.nn.depth_to_space(tf.nn.conv2d(blocks, blocked, strides=1, padding="VALID"), block)
    return outputs[:, :out_h, :out_w, :]


@keras.saving.register_keras_serializable(package="tfprobe")
class BlockedConv2D(keras.layers.Conv2D):
    """:class:`keras.layers.Conv2D` computed by :func:`conv2d_blocked`.

    Same weights and outputs as ``Conv2D``; stride 1, no dilation,
    channels-last, and 'valid' or 'same' padding (odd kernels) only.

    Parameters
    ----------
    block_size : int
        Space-to-depth block size (1 computes a plain convolution).
    """

    def __init__(self, filters: int, kernel_size: Any, block_size: int = 1, **kwargs: Any) -> None:
        super().__init__(filters, kernel_size, **kwargs)
        self.block_size = int(block_size)
        if self.block_size < 1:
            raise InvalidValueError(f"block_size must be >= 1, got {block_size!r}")
        if set(self.strides) != {1} or set(self.dilation_rate) != {1} or self.data_format != "channels_last":
            raise InvalidValueError(
                "BlockedConv2D supports strides=1, dilation_rate=1 and channels_last; got "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}, data_format={self.data_format!r}"
            )
        if self.padding == "same" and (len(set(self.kernel_size)) != 1 or self.kernel_size[0] % 2 == 0):
            raise InvalidValueError(
                f"BlockedConv2D with padding='same' needs a square odd kernel, got {self.kernel_size}"
            )

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        padding = self.kernel_size[0] // 2 if self.padding == "same" else 0
        outputs = conv2d_blocked(inputs, self.kernel, self.block_size, padding)
        if self.use_bias:
            outputs = outputs + self.bias
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "block_size": self.block_size}
