"""Units of feed-forward Keras models: every layer's output, nested models included.

A functional or Sequential model is replayed once on fresh symbolic inputs,
layer by layer (Keras's own graph walk), recording each layer's output
tensor; a nested functional model (``keras.applications.VGG16`` inside a
Sequential, say) is replayed too, so its layers appear as
``"vgg16/block3_conv1"``.  Any subset of those tensors then becomes the
outputs of a new functional model sharing the original's layers and weights:
one forward pass per batch yields all requested units.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfprobe.errors import InvalidTypeError, InvalidValueError, UnsupportedError
from tfprobe.probing.units import UnitInfo, unknown_unit


def functional_graph(model: Any) -> Any | None:
    """The functional graph behind a model (itself, or a Sequential's), or None for subclassed models."""
    if isinstance(model, keras.Sequential):
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise InvalidValueError(
                f"Sequential model {model.name!r} has no defined input yet: start it with keras.Input(shape) "
                "or build it (model.build((None, height, width, channels))) before probing"
            )
        return graph
    if hasattr(model, "_run_through_graph") and hasattr(model, "_nodes_by_depth") and hasattr(model, "inputs"):
        return model
    return None


def _flat(outputs: Any) -> list[Any]:
    return [x for x in tf.nest.flatten(outputs) if isinstance(x, keras.KerasTensor)]


_SQUASHING = ("softmax", "sigmoid")


def _squashes(layer: Any) -> bool:
    """Whether a layer ends in a softmax or sigmoid (its input or pre-activation are then the logits)."""
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "") in _SQUASHING


class DenseLogits(keras.layers.Layer):
    """A Dense layer's pre-activation ``x @ kernel + bias``, sharing the layer's weights."""

    def __init__(self, dense: keras.layers.Dense, **kwargs: Any) -> None:
        super().__init__(name=f"{dense.name}_logits", **kwargs)
        self.dense = dense

    def call(self, inputs: Any) -> Any:
        values = keras.ops.matmul(inputs, self.dense.kernel)
        return values + self.dense.bias if self.dense.use_bias else values


class KerasGraphUnits:
    """Every layer output of a functional or Sequential model, recordable by name."""

    def __init__(self, model: keras.Model) -> None:
        graph = functional_graph(model)
        if graph is None:
            raise InvalidTypeError(f"{type(model).__name__} is not a functional or Sequential Keras model")
        self.model = model
        self.inputs = [
            keras.Input(shape=tuple(x.shape[1:]), dtype=x.dtype, name=f"probe_{x.name}") for x in graph.inputs
        ]
        self.tensors: dict[str, Any] = {}
        self.units: dict[str, UnitInfo] = {}
        for original, fresh in zip(graph.inputs, self.inputs, strict=True):
            history = getattr(original, "_keras_history", None)
            self._record(history.operation.name if history else "input", fresh, kind="input")
        outputs = _flat(self._replay(graph, self.inputs, prefix=""))
        by_tensor = {id(tensor): name for name, tensor in self.tensors.items()}
        self.output_units = [by_tensor[id(tensor)] for tensor in outputs if id(tensor) in by_tensor]
        self._forward_functions: dict[tuple[str, ...], Any] = {}
        self._extractors: dict[tuple[str, ...], keras.Model] = {}

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        """Shape of one stimulus (the first input's, without the batch axis)."""
        return tuple(self.inputs[0].shape[1:])

    def _record(self, name: str, tensor: Any, kind: str = "layer") -> None:
        unique, count = name, 1
        while unique in self.tensors:  # a shared layer called again
            unique, count = f"{name}#{count}", count + 1
        self.tensors[unique] = tensor
        self.units[unique] = UnitInfo(name=unique, shape=tuple(tensor.shape[1:]), layer=name, kind=kind)

    def _replay(self, graph: Any, inputs: list[Any], prefix: str) -> Any:
        def operation_fn(operation: Any) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                nested = functional_graph(operation) if isinstance(operation, keras.Model) else None
                if nested is not None:
                    inputs = tf.nest.flatten((args, kwargs.get("inputs")))
                    outputs = self._replay(nested, inputs, f"{prefix}{operation.name}/")
                else:
                    outputs = operation(*args, **kwargs)
                tensors = _flat(outputs)
                if len(tensors) == 1:
                    self._record(prefix + operation.name, tensors[0])
                    if _squashes(operation) and args and isinstance(args[0], keras.KerasTensor):
                        dense = isinstance(operation, keras.layers.Dense)
                        logits = DenseLogits(operation)(args[0]) if dense else args[0]
                        self._record(f"{prefix}{operation.name}.logits", logits, kind="logits")
                else:
                    for i, tensor in enumerate(tensors):
                        self._record(f"{prefix}{operation.name}:{i}", tensor)
                return outputs

            return call

        return graph._run_through_graph([x for x in inputs if x is not None], operation_fn=operation_fn)

    def logits_unit(self) -> str:
        """The model's output before its softmax (``<layer>.logits``), or its output when it has none."""
        if not self.output_units:
            raise InvalidValueError(f"model {self.model.name!r} has no output layer to take class logits from")
        output = self.output_units[0]
        return f"{output}.logits" if f"{output}.logits" in self.units else output

    def _no_replacement(self) -> UnsupportedError:
        return UnsupportedError(
            f"replacing units in a run is supported for the recurrent network's flows (GainModulatedRNN); "
            f"{self.model.name!r} is a Keras graph"
        )

    def baseline(self, images: Any) -> Any:
        """Refused: replacing units is built for the recurrent network's flows."""
        raise self._no_replacement()

    def rerun(self, baseline: Any, replace: Any, names: tuple[str, ...]) -> Any:
        """Refused, as :meth:`baseline`."""
        raise self._no_replacement()

    def expand(self, name: str) -> list[str]:
        """``[name]`` if the model has that unit; otherwise an error suggesting the closest names."""
        if name in self.units:
            return [name]
        raise unknown_unit(name, self.units)

    def extractor(self, names: tuple[str, ...]) -> keras.Model:
        """A model from the inputs to the named units' outputs, sharing the original's layers and weights."""
        inputs = self.inputs[0] if len(self.inputs) == 1 else self.inputs
        return keras.Model(inputs, {name: self.tensors[name] for name in names}, name=f"{self.model.name}_probe")

    def _selective_layer(self, name: str) -> tuple[Any, Any] | None:
        """The layer that makes unit ``name`` and its input tensor, when :meth:`forward` can compute only
        some of its channels: a plain Conv2D (channels last, one group) or Dense layer, or a Dense layer's
        logits."""
        history = getattr(self.tensors.get(name), "_keras_history", None)
        if history is None:
            return None
        layer = history.operation
        weights = layer.dense if isinstance(layer, DenseLogits) else layer
        if type(weights) not in (keras.layers.Conv2D, keras.layers.Dense):
            return None  # subclasses may compute something else (DesignedConv2D, quantized layers, ...)
        if isinstance(weights, keras.layers.Conv2D) and (weights.groups != 1 or weights.data_format != "channels_last"):
            return None
        if getattr(weights, "lora_enabled", False) or getattr(weights, "quantization_mode", None):
            return None
        inputs = layer._inbound_nodes[history.node_index].input_tensors
        return (layer, inputs[0]) if len(inputs) == 1 else None

    def selectable(self, name: str) -> bool:
        """Whether :meth:`forward` can compute only some channels of ``name`` (``select=``)."""
        return self._selective_layer(name) is not None

    @staticmethod
    def _selected_channels(layer: Any, inputs: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        """``layer``'s output channels ``index`` only, computed as the layer computes them."""
        logits = isinstance(layer, DenseLogits)
        weights = layer.dense if logits else layer
        kernel = tf.cast(tf.gather(tf.convert_to_tensor(weights.kernel), index, axis=-1), inputs.dtype)
        if isinstance(weights, keras.layers.Conv2D):
            values = keras.ops.conv(
                inputs, kernel, weights.strides, weights.padding, weights.data_format, weights.dilation_rate
            )
        else:
            values = keras.ops.matmul(inputs, kernel)
        if weights.use_bias:
            values = values + tf.cast(tf.gather(tf.convert_to_tensor(weights.bias), index), values.dtype)
        return values if logits or weights.activation is None else weights.activation(values)

    def forward(
        self,
        images: tf.Tensor,
        names: tuple[str, ...],
        *,
        compiled: bool = True,
        select: dict[str, tf.Tensor] | None = None,
    ) -> dict[str, tf.Tensor]:
        """The named units' activations for a batch (inference mode: dropout off, batch-norm statistics fixed).

        The extractor runs as a ``tf.function`` made once per set of names (relaxed to any batch size);
        ``compiled=False`` calls it directly, for callers that trace it into a function of their own (inside
        an XLA-compiled function, a nested function of unknown batch size makes XLA take the caller's inputs
        for compile-time constants and recompile at every call).

        ``select`` maps units (see :meth:`selectable`) to channel indices: for those, only the channels
        ``index`` are computed, in that order (the layer's other output channels are never computed; channel
        ``j`` of the result is the unit's channel ``index[j]``).  Only with ``compiled=False``.
        """
        if select:
            if compiled:
                raise InvalidValueError(
                    "forward(select=...) runs inside the caller's own traced function: use compiled=False"
                )
            layers = {name: self._selective_layer(name) for name in select}
            missing = [name for name, found in layers.items() if found is None]
            if missing:
                raise InvalidValueError(
                    f"units {missing} are not made by a plain Conv2D or Dense layer: select cannot apply"
                )
            key = (names, tuple(sorted(select)))
            if key not in self._extractors:
                inputs = self.inputs[0] if len(self.inputs) == 1 else self.inputs
                outputs = {name: self.tensors[name] for name in names if name not in select}
                outputs.update({f"{name}\x00input": layers[name][1] for name in select})
                self._extractors[key] = keras.Model(inputs, outputs, name=f"{self.model.name}_probe")
            values = dict(self._extractors[key](images, training=False))
            for name, index in select.items():
                values[name] = self._selected_channels(layers[name][0], values.pop(f"{name}\x00input"), index)
            return {name: values[name] for name in names}
        if not compiled:
            if names not in self._extractors:
                self._extractors[names] = self.extractor(names)
            return dict(self._extractors[names](images, training=False))
        if names not in self._forward_functions:
            extractor = self.extractor(names)
            self._forward_functions[names] = tf.function(lambda x: extractor(x, training=False), reduce_retracing=True)
        return dict(self._forward_functions[names](images))
