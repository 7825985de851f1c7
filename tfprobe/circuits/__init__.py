"""Circuits: how a filter's input channels drive it, and expanded weights across layers.

* :func:`circuit` (``tfprobe.circuit(model_or_probe, layer, filter)``): one Conv2D / Dense filter's
  weights from every input channel, ranked by L2 norm and classified excitatory / inhibitory, with feature
  visualisations of the filter and its strongest inputs (:meth:`Circuit.render`).
* :func:`expanded_weights`: the linear kernel between two Conv2D layers through the layers between them
  (Olah et al., "Visualizing Weights", Distill 2020).
"""

from tfprobe.circuits.circuit import Circuit, InputRecord, circuit, input_records
from tfprobe.circuits.expanded import NotComposableError, expanded_weights, receptive_field

__all__ = [
    "Circuit",
    "InputRecord",
    "NotComposableError",
    "circuit",
    "expanded_weights",
    "input_records",
    "receptive_field",
]
