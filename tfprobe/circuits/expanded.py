"""Expanded weights: the linear kernel from one Conv2D layer's output to a later Conv2D's pre-activation.

As in "Visualizing Weights" (Olah et al., Distill 2020), the layers between two convolutions are replaced by
their linear parts and composed: elementwise activations (ReLU, ...) become the identity, max pooling
becomes average pooling with the same window and stride, average pooling stays, batch normalisation is its
per-channel scale ``gamma / sqrt(moving_variance + epsilon)``, dropout, noise, padding and cropping are the
identity, and intermediate Conv2D layers contribute their kernels (without biases).  Biases and BN shifts
are dropped: the result is the linear map itself.

The composition is computed exactly by automatic differentiation: the linearised path is run with 'valid'
windows on a zero map exactly one receptive field in size, so that ``to_layer`` has a single output
position, and the Jacobian of that position's pre-activation with respect to the input map is the kernel.

Convention: ``W[i, j, c, f]`` is the weight from channel ``c`` of ``from_layer``'s output at offset ``(i, j)``
of the receptive field (row, column; ``(0, 0)`` is the field's top-left pixel) to filter ``f`` of
``to_layer``.  The kernel is over ``from_layer``'s pixel grid for one output position of ``to_layer``; with
strides on the path (pooling, strided convolutions) the next output position reads the same kernel moved by
the product of the strides (:func:`receptive_field` gives both).  A dilated convolution's taps land
``dilation`` pixels apart, with zeros between them.  'same' padding only adds zeros at the
borders, so away from them the expanded kernel is the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfprobe.circuits.graph import as_probe, find_layer, inputs_of, producer
from tfprobe.errors import InvalidTypeError, InvalidValueError, NotComposableError

__all__ = ["NotComposableError", "expanded_weights", "receptive_field"]

#: Elementwise activations treated as the identity (a softmax mixes channels and is not one; glu halves them).
_ELEMENTWISE = {
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "sigmoid", "hard_sigmoid",
    "hard_silu", "hard_swish", "tanh", "softplus", "softsign", "mish", "linear", "exponential", "celu",
}  # fmt: skip

_IDENTITY_LAYERS = (
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.PReLU,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.Identity,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
)


@dataclasses.dataclass(frozen=True)
class _Linear:
    """The linear part of one layer: a map of (batch, h, w, c) tensors, and its window and stride."""

    apply: Callable[[tf.Tensor], tf.Tensor]
    window: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)


def _channels_last(layer: Any) -> None:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise NotComposableError(
            f"layer {layer.name!r} is channels_first; expanded weights compose channels_last layers only"
        )


def _conv(layer: keras.layers.Conv2D) -> _Linear:
    _channels_last(layer)
    weights = keras.ops.convert_to_numpy(layer.kernel)
    (kh, kw), (dh, dw) = weights.shape[:2], tuple(layer.dilation_rate)
    window = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    dilated = np.zeros((*window, *weights.shape[2:]), np.float32)  # zeros between taps: CPUs have no
    dilated[::dh, ::dw] = weights  # gradient of a dilated convolution
    kernel, strides = tf.constant(dilated), tuple(layer.strides)

    def apply(x: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d(x, kernel, strides=strides, padding="VALID")

    return _Linear(apply, window, strides)


def _pool(layer: Any) -> _Linear:
    _channels_last(layer)
    size, strides = tuple(layer.pool_size), tuple(layer.strides)
    return _Linear(lambda x: tf.nn.avg_pool2d(x, size, strides, "VALID"), size, strides)


def _batch_norm(layer: keras.layers.BatchNormalization) -> _Linear:
    if layer.axis not in (-1, 3) and layer.axis != [3] and layer.axis != [-1]:
        raise NotComposableError(f"BatchNormalization {layer.name!r} normalises axis {layer.axis}, not the channels")
    variance = keras.ops.convert_to_numpy(layer.moving_variance)
    scale = 1.0 / np.sqrt(variance + layer.epsilon)
    if layer.scale:
        scale = scale * keras.ops.convert_to_numpy(layer.gamma)
    factor = tf.constant(scale, tf.float32)
    return _Linear(lambda x: x * factor)


def linear_part(layer: Any) -> _Linear:
    """The linear part of a layer on the path between two convolutions, or an error saying why there is none."""
    if isinstance(layer, keras.layers.DepthwiseConv2D) or type(layer) is keras.layers.SeparableConv2D:
        raise NotComposableError(f"layer {layer.name!r} is a {type(layer).__name__}; only Conv2D kernels compose here")
    if isinstance(layer, keras.layers.Conv2D):
        return _conv(layer)
    if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        return _pool(layer)
    if isinstance(layer, keras.layers.BatchNormalization):
        return _batch_norm(layer)
    if isinstance(layer, _IDENTITY_LAYERS):
        return _Linear(lambda x: x)
    if isinstance(layer, keras.layers.Activation):
        name = getattr(layer.activation, "__name__", str(layer.activation))
        if name in _ELEMENTWISE:
            return _Linear(lambda x: x)
        raise NotComposableError(
            f"Activation layer {layer.name!r} applies {name!r}, which is not elementwise; only elementwise "
            "activations are treated as the identity"
        )
    raise NotComposableError(
        f"layer {layer.name!r} ({type(layer).__name__}) on the path has no linear part to compose: expanded "
        "weights cross Conv2D, elementwise activations, MaxPooling2D / AveragePooling2D, BatchNormalization, "
        "dropout, noise, padding and cropping layers, along a single unbranched path"
    )


def _field(path: list[_Linear]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Size (rows, columns) of one output position's field on the path's input grid, and its stride."""
    size, jump = [1, 1], [1, 1]
    for step in reversed(path):
        for axis in (0, 1):
            size[axis] = (size[axis] - 1) * step.stride[axis] + step.window[axis]
    for step in path:
        for axis in (0, 1):
            jump[axis] *= step.stride[axis]
    return (size[0], size[1]), (jump[0], jump[1])


def _upstream(tensor: Any, target: Any) -> bool:
    """Whether ``target`` is ``tensor`` or feeds it through any path."""
    seen, stack = set(), [tensor]
    while stack:
        current = stack.pop()
        if current is target:
            return True
        if id(current) in seen or producer(current) is None:
            continue
        seen.add(id(current))
        stack.extend(inputs_of(current))
    return False


def _keras_path(probe: Any, from_layer: str, to_layer: str) -> list[Any]:
    """The layers from ``from_layer``'s output to ``to_layer`` (included), in order."""
    for name in (from_layer, to_layer):
        layer = find_layer(probe, name)
        if not isinstance(layer, keras.layers.Conv2D) or isinstance(layer, keras.layers.DepthwiseConv2D):
            raise InvalidTypeError(
                f"expanded weights go from a Conv2D layer to a Conv2D layer; {name!r} is a {type(layer).__name__}"
            )
    start, end = probe.tensors[from_layer], probe.tensors[to_layer]
    if start is end or not _upstream(end, start):
        raise InvalidValueError(f"{from_layer!r} is not upstream of {to_layer!r}: its output does not reach that layer")
    layers, tensor = [], end
    while tensor is not start:
        layer = producer(tensor)
        sources = inputs_of(tensor)
        if len(sources) != 1:
            raise NotComposableError(
                f"layer {layer.name!r} ({type(layer).__name__}) on the path from {from_layer!r} to {to_layer!r} "
                f"joins {len(sources)} branches; expanded weights compose a single unbranched path"
            )
        layers.append(layer)
        (tensor,) = sources
    return layers[::-1]


def _recurrent_path(model: Any, from_layer: str, to_layer: str) -> list[_Linear]:
    """The recurrent network's feed-forward path conv1 -> (3 x 3 max pool) -> conv2."""
    if (from_layer, to_layer) != ("conv1", "conv2"):
        raise InvalidValueError(
            "the recurrent network's expanded weights go from 'conv1' to 'conv2' (its only pair of feed-forward "
            f"convolutions); got {from_layer!r} -> {to_layer!r}"
        )
    pool = _Linear(lambda x: tf.nn.avg_pool2d(x, 3, 3, "VALID"), (3, 3), (3, 3))
    return [pool, _conv(model.conv2)]


def expanded_weights(model: Any, from_layer: str, to_layer: str) -> np.ndarray:
    """The linear kernel from ``from_layer``'s output to ``to_layer``'s pre-activation (bias excluded).

    Parameters
    ----------
    model : keras.Model, GainModulatedRNN or Probe
        A functional or Sequential model (nested applications: ``"vgg16/block5_conv1"``); for the recurrent
        network, ``"conv1"`` -> ``"conv2"`` (through its 3 x 3 max pooling; modulation is not part of it).
    from_layer, to_layer : str
        Conv2D layers, ``from_layer`` upstream of ``to_layer`` along one unbranched path.

    Returns
    -------
    ndarray (kh', kw', channels of from_layer, filters of to_layer), float32
        ``kh' x kw'`` is ``to_layer``'s receptive field on ``from_layer``'s output; see the module's
        docstring for the offsets and strides.  For adjacent layers it is ``to_layer``'s kernel.

    Raises
    ------
    TypeError
        A layer that is not Conv2D.
    ValueError
        ``from_layer`` not upstream of ``to_layer``.
    NotComposableError
        A layer on the path without a linear part (Add, Concatenate, Multiply, LayerNormalization, softmax,
        ...), named with the reason.
    """
    from tfprobe.models.gain_rnn import GainModulatedRNN

    probe = as_probe(model)
    if isinstance(probe.model, GainModulatedRNN):
        path = _recurrent_path(probe.model, from_layer, to_layer)
        channels = probe.model.conv1.filters
    else:
        layers = _keras_path(probe, from_layer, to_layer)
        path = [linear_part(layer) for layer in layers[:-1]] + [_conv(layers[-1])]
        channels = int(probe.tensors[from_layer].shape[-1])
    (rows, columns), _ = _field(path)
    field = tf.zeros((1, rows, columns, channels), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(field)
        values = field
        for step in path:
            values = step.apply(values)
        values = values[0, 0, 0, :]  # one position of to_layer: (filters,)
    jacobian = tape.jacobian(values, field, experimental_use_pfor=True)  # (filters, 1, rows, columns, channels)
    return np.transpose(np.asarray(jacobian)[:, 0], (1, 2, 3, 0)).astype(np.float32)


def receptive_field(model: Any, from_layer: str, to_layer: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Receptive field of one ``to_layer`` position on ``from_layer``'s output, and the field's stride.

    Parameters
    ----------
    model : keras.Model, GainModulatedRNN or Probe
    from_layer, to_layer : str
        As for :func:`expanded_weights`.

    Returns
    -------
    (rows, columns), (row stride, column stride)
        The spatial size of :func:`expanded_weights`, and how far the field moves between neighbouring
        positions of ``to_layer`` (the product of the strides on the path).
    """
    from tfprobe.models.gain_rnn import GainModulatedRNN

    probe = as_probe(model)
    if isinstance(probe.model, GainModulatedRNN):
        return _field(_recurrent_path(probe.model, from_layer, to_layer))
    layers = _keras_path(probe, from_layer, to_layer)
    return _field([linear_part(layer) for layer in layers[:-1]] + [_conv(layers[-1])])
