"""Finding a weight layer in a model and the layers that feed it.

Keras models (functional, Sequential, nested applications) are read through the graph a
:class:`~tfprobe.Probe` replays (:attr:`~tfprobe.Probe.tensors`): unit names are layer names (nested ones as
``"vgg16/block5_conv2"``), and each unit's tensor remembers the layer that made it and that layer's inputs.
Walking back from a layer's input through layers that keep channels apart (pooling, elementwise activations,
batch normalisation, dropout, padding, cropping, flatten, reshape) reaches the unit whose channels feed it.

The recurrent :class:`~tfprobe.models.GainModulatedRNN` has no such graph: its feed-forward weight layers
are addressed by name (``conv1``, ``conv2``, ``fc1``, ``fc2``) and their sources are fixed by its
architecture (see :func:`recurrent_source`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras

from tfprobe.errors import InvalidTypeError
from tfprobe.models.architecture import stage_shapes
from tfprobe.probing.units import unknown_unit

__all__ = [
    "PASSTHROUGH",
    "WEIGHT_LAYERS",
    "Source",
    "as_probe",
    "check_weight_layer",
    "find_layer",
    "inputs_of",
    "keras_source",
    "producer",
    "recurrent_source",
]

#: Layers whose kernels make circuits: what ``layer`` may name.
WEIGHT_LAYERS: tuple[type, ...] = (keras.layers.Conv2D, keras.layers.Dense)

#: Single-input layers that keep every channel apart (the walk back to a layer's source crosses them).
PASSTHROUGH: tuple[type, ...] = (
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.PReLU,
    keras.layers.BatchNormalization,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.Identity,
    keras.layers.Flatten,
    keras.layers.Reshape,
)

#: Layers that lay a spatial map out as a vector: the next Dense layer reads neurons, not channels.
FLATTENING: tuple[type, ...] = (keras.layers.Flatten, keras.layers.Reshape)


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a weight layer's input channels come from.

    Attributes
    ----------
    layer : str or None
        The unit whose channels feed the layer (the previous Conv2D / Dense layer, or the first layer on
        the way back that is neither a weight layer nor channel-keeping, such as a Concatenate); None when
        the input is the model's image.
    render_unit : str or None
        The unit whose channels (or neurons) stand for the inputs in a feature visualisation: ``layer``
        itself, or for a Dense layer after a Flatten the unit that was flattened.
    grid : tuple of int or None
        For a Dense layer reading a flattened map: that map's shape (height, width, channels), so that
        input feature ``i`` is the neuron ``numpy.unravel_index(i, grid)`` of ``render_unit``.
    """

    layer: str | None
    render_unit: str | None
    grid: tuple[int, ...] | None = None


def as_probe(model_or_probe: Any) -> Any:
    """A :class:`~tfprobe.Probe` itself, or one made for a bare model."""
    from tfprobe.probe import Probe

    return model_or_probe if isinstance(model_or_probe, Probe) else Probe(model_or_probe)


def producer(tensor: Any) -> Any | None:
    """The layer that made a symbolic tensor (None for a model input)."""
    history = getattr(tensor, "_keras_history", None)
    if history is None or isinstance(history.operation, keras.layers.InputLayer):
        return None
    return history.operation


def inputs_of(tensor: Any) -> list[Any]:
    """The symbolic tensors the layer that made ``tensor`` was called on."""
    history = tensor._keras_history
    node = history.operation._inbound_nodes[history.node_index]
    return list(node.input_tensors)


def find_layer(probe: Any, name: str) -> Any:
    """The layer behind unit ``name`` of a probe of a Keras model (read from :attr:`Probe.tensors`); unknown
    names suggest the closest ones."""
    if not isinstance(name, str):
        raise InvalidTypeError(f"layer must be a unit name (str), got {type(name).__name__} {name!r}")
    if name not in probe.tensors:
        raise unknown_unit(name, [n for n in probe.tensors if not n.endswith(".logits")], what="layer")
    layer = producer(probe.tensors[name])
    if layer is None:
        raise InvalidTypeError(f"{name!r} is the model's input, not a layer with weights: name a Conv2D or Dense layer")
    return layer


def check_weight_layer(layer: Any, name: str) -> None:
    """Refuse layers whose kernels are not a circuit of this kind, saying which types are."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        raise InvalidTypeError(
            f"layer {name!r} is a DepthwiseConv2D: each of its filters reads one input channel, so it has no "
            "weights across input channels to rank; circuits are made of Conv2D and Dense layers"
        )
    if not isinstance(layer, WEIGHT_LAYERS):
        raise InvalidTypeError(
            f"layer {name!r} is a {type(layer).__name__}, which has no kernel across input channels; "
            "circuits are made of Conv2D and Dense layers"
        )


def keras_source(probe: Any, name: str) -> Source:
    """The unit whose channels feed weight layer ``name``, walking back through channel-keeping layers."""
    names = {id(tensor): unit for unit, tensor in probe.tensors.items()}
    (tensor,) = inputs_of(probe.tensors[name])[:1]
    flattened: tuple[str, tuple[int, ...]] | None = None
    while True:
        layer = producer(tensor)
        unit = names.get(id(tensor))
        if layer is None:
            return Source(None, None)
        if isinstance(layer, FLATTENING) and len(tensor.shape) == 2:
            (before,) = inputs_of(tensor)
            if len(before.shape) == 4 and names.get(id(before)) is not None:
                flattened = (names[id(before)], tuple(int(d) for d in before.shape[1:]))
        if isinstance(layer, WEIGHT_LAYERS) or not isinstance(layer, PASSTHROUGH) or len(inputs_of(tensor)) != 1:
            if unit is None:  # a tensor only a nested model saw: report its layer's name
                unit = layer.name
            if flattened is not None:
                return Source(unit, flattened[0], flattened[1])
            return Source(unit, unit)
        (tensor,) = inputs_of(tensor)


#: The recurrent network's feed-forward weight layers and their sources: (source layer, render unit, flattened).
RECURRENT_LAYERS = {
    "conv1": (None, None, False),
    "conv2": ("conv1", "conv1@t{t}", False),
    "fc1": ("conv2", "conv2@t{t}", True),
    "fc2": ("fc1", "readout", False),
}


def recurrent_source(model: Any, name: str) -> tuple[Any, Source]:
    """The feed-forward weight layer ``name`` of a GainModulatedRNN and its source.

    ``render_unit`` may hold ``{t}``, the time step to render at; ``fc2`` reads the readout (fc1 of every
    time step, concatenated).
    """
    if not isinstance(name, str):
        raise InvalidTypeError(f"layer must be a layer name (str), got {type(name).__name__} {name!r}")
    if name not in RECURRENT_LAYERS:
        projections = [p.layer_name(kind) for p in model.recurrent_projections for kind in model.flags.kinds]
        if name in projections:
            raise InvalidTypeError(
                f"{name!r} is a recurrent projection of the network (it modulates a stage rather than driving "
                f"it); circuits are made of the feed-forward layers {', '.join(RECURRENT_LAYERS)}"
            )
        raise unknown_unit(name, list(RECURRENT_LAYERS), what="layer")
    source, render_unit, flat = RECURRENT_LAYERS[name]
    grid = stage_shapes(model.n_feats)[source] if flat else None  # conv2's pooled map, flattened into fc1
    return getattr(model, name), Source(source, render_unit, grid)
