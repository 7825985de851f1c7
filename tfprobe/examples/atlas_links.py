"""How the layers of a unit atlas connect: each channel's strongest inputs and the channels it drives most.

Both directions are read from the circuits (:func:`tfprobe.circuit`) of the atlas's layers.  The weights from
one input channel to one filter are summed over the kernel (their L2 norm, positive and negative sums), and
for a Dense layer reading a flattened map over the map's positions too, so that every weight is between two
channels and links to a channel's section of an atlas page.  A channel's *inputs* are those of its own
circuit; the channels it *drives* are the filters of the next layer in the atlas (a layer whose circuit reads
it) with the largest weights from it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["Weight", "Wiring", "channel_weights", "input_channels", "wire"]


@dataclasses.dataclass(frozen=True)
class Weight:
    """The weights between one channel and a filter, summed over the kernel (and a flattened map's positions).

    Attributes
    ----------
    channel : int
        The other end: the input channel (for a filter's inputs) or the filter (for what a channel drives).
    l2 : float
        L2 norm of the weights.
    positive, negative : float
        Sums of the positive and of the negative weights.
    kind : str
        ``"inhibitory"`` when the negative weights outweigh the positive ones, else ``"excitatory"``.
    """

    channel: int
    l2: float
    positive: float
    negative: float
    kind: str

    @property
    def net(self) -> float:
        """``positive + negative``."""
        return self.positive + self.negative


def _kind(positive: float, negative: float) -> str:
    return "inhibitory" if abs(negative) > positive else "excitatory"


def channel_weights(circuit: Any) -> list[Weight]:
    """A circuit's inputs per input channel, strongest (L2) first, ties by channel.

    Parameters
    ----------
    circuit : Circuit
        A circuit of :func:`tfprobe.circuit`.  For a Dense layer reading a flattened map
        (``circuit.source.grid``), the inputs of one channel at every position are summed: L2 norms in
        quadrature, positive and negative sums as sums.

    Returns
    -------
    list of Weight
    """
    grid = getattr(circuit.source, "grid", None)
    if grid is None:
        return [Weight(r.channel, r.l2, r.positive, r.negative, r.kind) for r in circuit.inputs]
    grouped: dict[int, list[Any]] = {}
    for record in circuit.inputs:
        grouped.setdefault(int(np.unravel_index(record.channel, grid)[-1]), []).append(record)
    weights = []
    for channel, records in grouped.items():
        positive = float(sum(r.positive for r in records))
        negative = float(sum(r.negative for r in records))
        l2 = math.sqrt(sum(r.l2**2 for r in records))
        weights.append(Weight(channel, l2, positive, negative, _kind(positive, negative)))
    return sorted(weights, key=lambda w: (-w.l2, w.channel))


def input_channels(circuit: Any) -> int:
    """How many channels of its input layer a circuit reads (a flattened map's channels, not its neurons)."""
    grid = getattr(circuit.source, "grid", None)
    return int(grid[-1]) if grid is not None else len(circuit.inputs)


@dataclasses.dataclass(frozen=True)
class Wiring:
    """The connections between the layers of an atlas.

    Attributes
    ----------
    sources : dict of str to str or None
        Per atlas layer, the atlas layer its circuits read (None when that layer is not in the atlas, the
        layer reads the image, or its input channels are not that layer's channels).
    inputs : dict of str to dict of int to list of Weight
        Per atlas layer with circuits, per channel: every input channel, strongest first.
    drives : dict of str to dict of int to list of (str, Weight)
        Per atlas layer, per channel: the filters of the next atlas layers it drives most, strongest first,
        as (next layer, weight to that filter); empty when no layer of the atlas reads it.
    """

    sources: dict[str, str | None]
    inputs: dict[str, dict[int, list[Weight]]]
    drives: dict[str, dict[int, list[tuple[str, Weight]]]]


def wire(
    circuits: Mapping[str, Mapping[int, Any]],
    layer_names: Mapping[str, str],
    channels: Mapping[str, list[int]],
    counts: Mapping[str, int],
    drives: int,
) -> Wiring:
    """Connect the layers of an atlas through their circuits.

    Parameters
    ----------
    circuits : mapping of str to mapping of int to Circuit
        Per atlas layer with weights, its channels' circuits.
    layer_names : mapping of str to str
        The name a circuit gives each atlas layer (``Circuit.layer`` / ``input_layer``) -> the atlas layer.
    channels : mapping of str to list of int
        The channels of every atlas layer.
    counts : mapping of str to int
        Every atlas layer's number of channels.
    drives : int
        Filters of the next layers listed per channel.

    Returns
    -------
    Wiring
    """
    sources: dict[str, str | None] = {layer: None for layer in channels}
    inputs: dict[str, dict[int, list[Weight]]] = {}
    driven: dict[str, dict[int, list[tuple[str, Weight]]]] = {
        layer: {c: [] for c in shown} for layer, shown in channels.items()
    }
    for layer, by_channel in circuits.items():
        inputs[layer] = {channel: channel_weights(circuit) for channel, circuit in by_channel.items()}
        first = next(iter(by_channel.values()), None)
        if first is None or first.input_layer is None:
            continue
        source = layer_names.get(str(first.input_layer))
        if source is None or input_channels(first) != counts[source]:  # e.g. a readout of every time step
            continue
        sources[layer] = source
        shown = set(channels[source])
        for filter_channel, weights in inputs[layer].items():
            for weight in weights:
                if weight.channel in shown:
                    edge = Weight(filter_channel, weight.l2, weight.positive, weight.negative, weight.kind)
                    driven[source][weight.channel].append((layer, edge))
    for by_channel in driven.values():
        for channel, edges in by_channel.items():
            by_channel[channel] = sorted(edges, key=lambda e: (-e[1].l2, e[0], e[1].channel))[:drives]
    return Wiring(sources, inputs, driven)
