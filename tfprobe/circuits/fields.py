"""Receptive fields on the input image: which pixels one position of a spatial unit sees.

For every tensor of a Keras graph, from the model's input to the unit, the field of one position is
tracked per axis as ``(start, size, jump)``: position ``i`` sees input pixels ``start + i * jump`` up to
``start + i * jump + size - 1``.  A window layer (Conv2D and its depthwise / separable kinds, pooling) of
effective kernel ``k = (kernel - 1) * dilation + 1``, stride ``s`` and leading padding ``p`` maps it to
``(start - p * jump, size + (k - 1) * jump, jump * s)``; ``'same'`` padding puts ``total // 2`` zeros before
(TensorFlow's convention, which depends on the input size, so sizes are propagated too); ZeroPadding2D and
Cropping2D shift ``start``; layers that act on each position alone (batch normalisation, activations,
dropout, rescaling, ...) keep the field; layers that merge branches (Add, Concatenate, ...) take the union.

A field that starts before pixel 0 or ends after the last pixel reaches into the padding: crops of it are
clipped at the border and marked there (:func:`crop`).

The recurrent network's stages (``conv1@t``, ``conv2@t``) get their feed-forward field (convolution, then
3 x 3 pooling); after time step 0 its lateral and top-down flows let every unit depend on the whole image,
which :attr:`InputField.feedforward_only` and :attr:`InputField.note` say.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np

from tfprobe.circuits.graph import as_probe, inputs_of, producer
from tfprobe.errors import InvalidTypeError, InvalidValueError, NotComposableError
from tfprobe.validation import check_int

__all__ = ["InputField", "crop", "input_field"]

#: Layers that act on every position alone: the field of their output is that of their input.
_POINTWISE = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
    keras.layers.Softmax,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.Identity,
    keras.layers.Rescaling,
    keras.layers.Normalization,
    keras.layers.Dense,  # on a map: the same weights at every position
)

#: Layers that merge branches of the same grid: the union of their inputs' fields.
_MERGING = (
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Minimum,
    keras.layers.Concatenate,
)


@dataclasses.dataclass(frozen=True)
class InputField:
    """The input pixels one position of a spatial unit sees.

    Attributes
    ----------
    unit : str
    size : (int, int)
        Rows and columns of the field, in input pixels.
    stride : (int, int)
        How far the field moves between neighbouring positions of the unit.
    offset : (int, int)
        Input row and column of the field's top-left pixel for position (0, 0); negative where the field
        starts in the padding.
    image_size : (int, int)
        The input's rows and columns the field was computed for.
    grid : (int, int)
        The unit's rows and columns for that input.
    feedforward_only : bool
        True when the unit also depends on the rest of the image through recurrent flows, so that this is
        only its feed-forward field.
    note : str
        What the field is, in words (shown beside crops).
    """

    unit: str
    size: tuple[int, int]
    stride: tuple[int, int]
    offset: tuple[int, int]
    image_size: tuple[int, int]
    grid: tuple[int, int]
    feedforward_only: bool = False
    note: str = ""

    def box(self, row: int, column: int) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` of position ``(row, column)``'s field, in input pixels (bottom and
        right exclusive), before clipping at the image's border."""
        top = self.offset[0] + int(row) * self.stride[0]
        left = self.offset[1] + int(column) * self.stride[1]
        return top, left, top + self.size[0], left + self.size[1]

    def to_dict(self) -> dict[str, Any]:
        """The field as plain JSON values."""
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> InputField:
        """The field :meth:`to_dict` described."""
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in fields.items()})


@dataclasses.dataclass(frozen=True)
class _Axis:
    """One axis of a field: start, size and jump in input pixels, and the tensor's length along it."""

    start: int
    size: int
    jump: int
    length: int | None


def _window(axis: _Axis, kernel: int, stride: int, dilation: int, padding: str, name: str) -> _Axis:
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        before = 0
        length = None if axis.length is None else (axis.length - effective) // stride + 1
    elif padding == "same":
        if axis.length is None:
            raise InvalidValueError(f"layer {name!r} pads 'same' on an axis of unknown size: give image_size=")
        length = -(-axis.length // stride)
        before = max((length - 1) * stride + effective - axis.length, 0) // 2
    else:
        raise NotComposableError(f"layer {name!r} pads {padding!r}; receptive fields know 'valid' and 'same'")
    return _Axis(axis.start - before * axis.jump, axis.size + (effective - 1) * axis.jump, axis.jump * stride, length)


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if np.isscalar(value) else (int(value[0]), int(value[1]))


def _through(layer: Any, fields: list[tuple[_Axis, _Axis]]) -> tuple[_Axis, _Axis]:
    """The field of ``layer``'s output from those of its inputs."""
    name = layer.name
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise NotComposableError(f"layer {name!r} is channels_first; receptive fields are computed channels_last")
    if isinstance(layer, _MERGING):
        return tuple(_union([field[axis] for field in fields], name) for axis in (0, 1))  # type: ignore[return-value]
    if len(fields) != 1:
        raise NotComposableError(f"layer {name!r} ({type(layer).__name__}) takes {len(fields)} inputs")
    (field,) = fields
    if isinstance(layer, keras.layers.Conv2D) or isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel, stride, dilation = _pair(layer.kernel_size), _pair(layer.strides), _pair(layer.dilation_rate)
        return tuple(  # type: ignore[return-value]
            _window(field[a], kernel[a], stride[a], dilation[a], layer.padding, name) for a in (0, 1)
        )
    if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        size, stride = _pair(layer.pool_size), _pair(layer.strides)
        return tuple(_window(field[a], size[a], stride[a], 1, layer.padding, name) for a in (0, 1))  # type: ignore[return-value]
    if isinstance(layer, (keras.layers.ZeroPadding2D, keras.layers.Cropping2D)):
        amounts = layer.padding if isinstance(layer, keras.layers.ZeroPadding2D) else layer.cropping
        sign = -1 if isinstance(layer, keras.layers.ZeroPadding2D) else 1
        moved = []
        for axis in (0, 1):
            before, after = amounts[axis]
            length = field[axis].length
            if length is not None:
                length = length - sign * (before + after)
            f = field[axis]
            moved.append(_Axis(f.start + sign * before * f.jump, f.size, f.jump, length))
        return moved[0], moved[1]
    if isinstance(layer, _POINTWISE):
        return field
    raise NotComposableError(
        f"layer {name!r} ({type(layer).__name__}) has no known spatial footprint: receptive fields cross "
        "convolutions, pooling, padding / cropping, layers acting on each position alone and merges of "
        "branches (Add, Concatenate, ...)"
    )


def _union(axes: list[_Axis], name: str) -> _Axis:
    if len({a.jump for a in axes}) != 1 or len({a.length for a in axes}) != 1:
        raise NotComposableError(f"layer {name!r} merges maps of different grids; their fields cannot be united")
    start = min(a.start for a in axes)
    end = max(a.start + a.size for a in axes)
    return _Axis(start, end - start, axes[0].jump, axes[0].length)


def _keras_field(probe: Any, unit: str, image_size: tuple[int, int]) -> tuple[_Axis, _Axis]:
    memo: dict[int, tuple[_Axis, _Axis]] = {}

    def field_of(tensor: Any) -> tuple[_Axis, _Axis]:
        key = id(tensor)
        if key not in memo:
            layer = producer(tensor)
            if layer is None:  # an input (of the model or of a nested model)
                memo[key] = (_Axis(0, 1, 1, image_size[0]), _Axis(0, 1, 1, image_size[1]))
            elif isinstance(layer, keras.Model):
                raise NotComposableError(f"unit {unit!r} lies behind the nested model {layer.name!r}: name its layer")
            else:
                memo[key] = _through(layer, [field_of(source) for source in inputs_of(tensor)])
        return memo[key]

    return field_of(probe.tensors[unit])


def _image_size(probe: Any, image_size: Any) -> tuple[int, int]:
    declared = tuple(probe.input_shape[:2])
    if image_size is None:
        if None in declared:
            raise InvalidValueError(
                f"the model takes images of any size {probe.input_shape}: give image_size=(rows, columns)"
            )
        return int(declared[0]), int(declared[1])
    size = tuple(check_int(v, "image_size", 1) for v in np.atleast_1d(image_size))
    if len(size) != 2:
        raise InvalidValueError(f"image_size must be (rows, columns), got {image_size!r}")
    for given, fixed in zip(size, declared, strict=True):
        if fixed is not None and given != fixed:
            raise InvalidValueError(f"the model takes {declared[0]} x {declared[1]} images, image_size={size}")
    return size  # type: ignore[return-value]


#: The recurrent network's feed-forward stages: (convolution, then 3 x 3 max pooling) per stage.
_RECURRENT_STAGES = ("conv1", "conv2")


def _recurrent_field(probe: Any, info: Any, image_size: tuple[int, int]) -> tuple[tuple[_Axis, _Axis], bool, str]:
    if info.layer not in _RECURRENT_STAGES or info.kind not in ("activation", "flow"):
        raise InvalidTypeError(
            f"unit {info.name!r} is not a spatial map of the recurrent network's feed-forward stages "
            f"({', '.join(s + '@t<step>' for s in _RECURRENT_STAGES)} and their flows)"
        )
    model = probe.model
    field = (_Axis(0, 1, 1, image_size[0]), _Axis(0, 1, 1, image_size[1]))
    for stage in _RECURRENT_STAGES:
        conv = getattr(model, stage)
        kernel = _pair(conv.kernel_size)
        field = tuple(_window(field[a], kernel[a], 1, 1, "valid", stage) for a in (0, 1))  # type: ignore[assignment]
        if stage == info.layer and info.kind == "flow":  # flows modulate the map before pooling
            break
        field = tuple(_window(field[a], 3, 3, 1, "valid", stage + " pooling") for a in (0, 1))  # type: ignore[assignment]
        if stage == info.layer:
            break
    recurrent = info.kind == "flow" or (info.timestep or 0) > 0
    if recurrent:
        note = (
            f"feed-forward field of {info.name}: after time step 0 lateral and top-down flows make every unit "
            "depend on the whole image"
        )
    else:
        note = f"receptive field of {info.name} (time step 0: feed-forward only)"
    return field, recurrent, note


def input_field(model_or_probe: Any, unit: str, image_size: Any = None) -> InputField:
    """The receptive field on the input image of one position of a spatial unit.

    Parameters
    ----------
    model_or_probe : keras.Model, GainModulatedRNN or Probe
    unit : str
        A unit with a spatial map (batch, rows, columns, channels), e.g. ``"block3_conv2"`` or ``"conv1@t0"``.
    image_size : (int, int), optional
        The input's rows and columns (needed only for a model that takes any size).

    Returns
    -------
    InputField

    Raises
    ------
    TypeError
        A unit without a spatial map (dense layers, the recurrent network's fc1 and readout).
    NotComposableError
        A layer on the way whose spatial footprint is not known (named).
    """
    from tfprobe.models.gain_rnn import GainModulatedRNN

    probe = as_probe(model_or_probe)
    if not isinstance(unit, str):
        raise InvalidTypeError(f"unit must be a unit name (str), got {type(unit).__name__} {unit!r}")
    names = probe.resolve(unit)
    if len(names) != 1:
        raise InvalidValueError(f"name a single unit: {unit!r} stands for {len(names)} ({names[0]}, ...)")
    (name,) = names
    info = probe.units[name]
    if len(info.shape) != 3:
        raise InvalidTypeError(
            f"unit {name!r} has shape {info.shape}, not a spatial map (rows, columns, channels): it has no "
            "receptive field to crop; its examples are whole images"
        )
    size = _image_size(probe, image_size)
    if isinstance(probe.model, GainModulatedRNN):
        (rows, columns), recurrent, note = _recurrent_field(probe, info, size)
    else:
        rows, columns = _keras_field(probe, name, size)
        recurrent, note = False, f"receptive field of {name}"
    return InputField(
        unit=name,
        size=(rows.size, columns.size),
        stride=(rows.jump, columns.jump),
        offset=(rows.start, columns.start),
        image_size=size,
        grid=(int(rows.length), int(columns.length)),
        feedforward_only=recurrent,
        note=note,
    )


def crop(
    image: np.ndarray, field: InputField, row: int, column: int, fill: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``image`` that position ``(row, column)`` of the field's unit sees, and where it is padding.

    Parameters
    ----------
    image : ndarray (rows, columns, channels)
    field : InputField
    row, column : int
        A position of the unit's map.
    fill : float
        Value of the crop's pixels that fall outside the image (the padding the unit saw).

    Returns
    -------
    crop : ndarray (field rows, field columns, channels)
        Always the field's full size; pixels outside the image are ``fill``.
    outside : ndarray of bool (field rows, field columns)
        True where the field lies outside the image.
    """
    top, left, bottom, right = field.box(row, column)
    height, width = image.shape[:2]
    result = np.full((field.size[0], field.size[1], image.shape[2]), fill, dtype=image.dtype)
    outside = np.ones(field.size, dtype=bool)
    rows = slice(max(top, 0), min(bottom, height))
    columns = slice(max(left, 0), min(right, width))
    inner_rows = slice(rows.start - top, rows.stop - top)
    inner_columns = slice(columns.start - left, columns.stop - left)
    if rows.stop > rows.start and columns.stop > columns.start:
        result[inner_rows, inner_columns] = image[rows, columns]
        outside[inner_rows, inner_columns] = False
    return result, outside
