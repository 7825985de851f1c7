"""Circuits: how a filter's input channels drive it, and expanded weights across layers.

* :func:`circuit` (``tfprobe.circuit(model_or_probe, layer, filter)``): one Conv2D / Dense filter's
  weights from every input channel, ranked by L2 norm and classified excitatory / inhibitory, with feature
  visualisations of the filter and its strongest inputs (:meth:`Circuit.render`).
* :func:`expanded_weights`: the linear kernel between two Conv2D layers through the layers between them
  (Olah et al., "Visualizing Weights", Distill 2020).
* :func:`input_field`: the exact receptive field on the input image of a spatial unit's position, through
  convolutions, pooling, padding and merges, and :func:`crop` of an image to it.
"""

from tfprobe.circuits.circuit import Circuit, InputRecord, circuit, input_records
from tfprobe.circuits.expanded import NotComposableError, expanded_weights, receptive_field
from tfprobe.circuits.fields import InputField, crop, input_field

__all__ = [
    "Circuit",
    "InputField",
    "InputRecord",
    "NotComposableError",
    "circuit",
    "crop",
    "expanded_weights",
    "input_field",
    "input_records",
    "receptive_field",
]
