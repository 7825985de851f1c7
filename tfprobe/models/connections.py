"""The recurrent network's connections, as a table: which stage feeds which, how, and with how many weights.

The original lab asks (its "ToSubmit 3") for the number of lateral and top-down connections of the
network of Thorat, Aldegheri & Kietzmann (2021) and the layers that carry them.  This module answers
from the model itself: the wiring comes from :mod:`tfprobe.models.architecture` (the projections the
model's flags switch on) and the shapes and parameter counts from the Keras layers that exist, so every
weight of the model lies on exactly one :class:`Connection`.

A projection exists once per modulation kind that is switched on: the authors' ``bglt_0111`` network
(gain, lateral, top-down) has 3 lateral and 6 top-down gain connections; ``bglt_1111`` has twice as
many, a bias and a gain connection on every pathway.  (The authors' PyTorch class builds all 18
projection modules whatever the flags and multiplies the switched-off ones by zero; the Keras port
builds only the switched-on ones, and those are what is counted here.)
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfprobe.errors import InvalidTypeError, InvalidValueError
from tfprobe.models.architecture import KINDS, STAGES, Projection

__all__ = ["DIRECTIONS", "Connection", "connection_summary", "connections", "format_connections"]

#: The directions a connection can run in, in the order tables list them.
DIRECTIONS: tuple[str, ...] = ("bottom-up", "lateral", "top-down", "readout")
#: The feed-forward chain: (source, target, Keras layer, operation).  The readout reads fc1 of every step.
_FEEDFORWARD: tuple[tuple[str, str, str, str, str], ...] = (
    ("input", "conv1", "conv1", "conv", "bottom-up"),
    ("conv1", "conv2", "conv2", "conv", "bottom-up"),
    ("conv2", "fc1", "fc1", "dense", "bottom-up"),
    ("fc1", "output", "fc2", "dense", "readout"),
)


@dataclass(frozen=True)
class Connection:
    """One connection of the network and the Keras layer that carries it.

    Attributes
    ----------
    source, target : str
        Stages (``"input"``, ``"conv1"``, ``"conv2"``, ``"fc1"``; the readout's target is ``"output"``).
    direction : str
        ``"bottom-up"``, ``"lateral"`` (a stage onto itself), ``"top-down"`` (a higher stage onto a
        lower one) or ``"readout"`` (fc1 of all time steps onto the 20 classes).
    kind : str
        ``"drive"`` for bottom-up and readout connections, else the modulation: ``"bias"`` or ``"gain"``.
    layer : str
        Name of the Keras layer (``"conv1"``, ``"gain_fc1_to_conv1"``).
    operation : str
        ``"conv"``, ``"conv_transpose"`` or ``"dense"``.
    shape : tuple of int
        Shape of the layer's kernel (Keras layout: ``(h, w, in, out)`` for a convolution, ``(h, w, out, in)``
        for a transposed one, ``(in, out)`` for a dense layer).
    parameters : int
        Number of weights of the layer, kernel and bias.
    torch_name : str
        The module's name in the authors' PyTorch model (``"conv1"``, ``"fc1c1g"``).
    """

    source: str
    target: str
    direction: str
    kind: str
    layer: str
    operation: str
    shape: tuple[int, ...]
    parameters: int
    torch_name: str

    @property
    def is_recurrent(self) -> bool:
        """True for lateral and top-down connections."""
        return self.direction in ("lateral", "top-down")

    @property
    def pathway(self) -> str:
        """``"source->target"``, e.g. ``"fc1->conv1"``."""
        return f"{self.source}->{self.target}"


def _check_model(model: Any) -> None:
    from tfprobe.models.gain_rnn import GainModulatedRNN

    if not isinstance(model, GainModulatedRNN):
        raise InvalidTypeError(f"expected a tfprobe.GainModulatedRNN, got {type(model).__name__}")


def _layer_connection(
    layer: Any, source: str, target: str, direction: str, kind: str, operation: str, torch_name: str
) -> Connection:
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        raise InvalidValueError(f"layer {layer.name!r} has no kernel: is the model built?")
    parameters = int(sum(int(np.prod(weight.shape)) for weight in layer.weights))
    return Connection(
        source=source,
        target=target,
        direction=direction,
        kind=kind,
        layer=layer.name,
        operation=operation,
        shape=tuple(int(d) for d in kernel.shape),
        parameters=parameters,
        torch_name=torch_name,
    )


def _recurrent(model: Any, projection: Projection, kind: str) -> Connection:
    return _layer_connection(
        model.projection_layer(projection, kind),
        projection.source,
        projection.target,
        "lateral" if projection.is_lateral else "top-down",
        kind,
        projection.operation,
        projection.torch_name(kind),
    )


def connections(model: Any) -> list[Connection]:
    """Every connection of ``model``: the feed-forward chain, the readout, and each recurrent projection
    for each modulation kind that is switched on.

    Parameters
    ----------
    model : GainModulatedRNN

    Returns
    -------
    list of Connection
        Bottom-up connections first (input->conv1, conv1->conv2, conv2->fc1), then the recurrent ones
        grouped by target stage from the input up (lateral before top-down within a stage, bias before
        gain), then the readout (fc1 of all steps -> output).  Their parameters sum to
        ``model.count_params()``.
    """
    _check_model(model)
    found = [
        _layer_connection(getattr(model, layer), source, target, direction, "drive", operation, layer)
        for source, target, layer, operation, direction in _FEEDFORWARD
        if direction == "bottom-up"
    ]
    for target in STAGES:
        into = [p for p in model.recurrent_projections if p.target == target]
        # Lateral first, then top-down from the nearest stage up.
        into.sort(key=lambda p: (not p.is_lateral, STAGES.index(p.source)))
        found += [_recurrent(model, p, kind) for p in into for kind in model.flags.kinds]
    found += [
        _layer_connection(getattr(model, layer), source, target, direction, "drive", operation, layer)
        for source, target, layer, operation, direction in _FEEDFORWARD
        if direction == "readout"
    ]
    return found


def connection_summary(model: Any) -> dict[str, Any]:
    """Counts of the connections of ``model`` and the lab's "ToSubmit 3" answer in words.

    Parameters
    ----------
    model : GainModulatedRNN

    Returns
    -------
    dict
        ``code`` (the ``bglt`` flag code), ``counts`` (``{direction: {kind: number}}`` for every direction
        and the kinds it can have), ``by_direction`` (``{direction: number}``), ``total_parameters``
        (equal to ``model.count_params()``), ``recurrent_parameters`` and ``recurrent_share`` (their
        fraction of the total), ``lateral`` and ``topdown`` (each ``{"number", "pathways", "layers",
        "torch_names"}``: ``number`` counts connections once per kind, ``pathways`` lists each pathway
        once, as the stage for lateral ones and ``"source->target"`` for top-down ones), and ``answer``,
        the two counts and their layers in words.
    """
    found = connections(model)
    counts: dict[str, dict[str, int]] = {
        direction: {kind: 0 for kind in (KINDS if direction in ("lateral", "top-down") else ("drive",))}
        for direction in DIRECTIONS
    }
    for connection in found:
        counts[connection.direction][connection.kind] += 1
    total = sum(c.parameters for c in found)
    recurrent = sum(c.parameters for c in found if c.is_recurrent)

    def described(direction: str) -> dict[str, Any]:
        chosen = [c for c in found if c.direction == direction]
        pathways = list(dict.fromkeys(c.target if direction == "lateral" else c.pathway for c in chosen))
        return {
            "number": len(chosen),
            "pathways": pathways,
            "layers": [c.layer for c in chosen],
            "torch_names": [c.torch_name for c in chosen],
        }

    lateral, topdown = described("lateral"), described("top-down")
    return {
        "code": model.flags.code,
        "counts": counts,
        "by_direction": {direction: sum(by_kind.values()) for direction, by_kind in counts.items()},
        "total_parameters": total,
        "recurrent_parameters": recurrent,
        "recurrent_share": recurrent / total if total else 0.0,
        "lateral": lateral,
        "topdown": topdown,
        "answer": _answer(model, lateral, topdown),
    }


def _answer(model: Any, lateral: dict[str, Any], topdown: dict[str, Any]) -> str:
    kinds = model.flags.kinds
    # "(gain)" with one kind; "(bias and gain, 2 per pathway)" with both.
    per = f" ({' and '.join(kinds)}{f', {len(kinds)} per pathway' if len(kinds) > 1 else ''})"

    def sentence(label: str, part: dict[str, Any], what: str, flag: bool) -> str:
        if not part["number"]:
            reason = "no modulation kind (bias, gain) is on" if flag else f"the {label} flag is off"
            return f"{label}: 0 connections ({reason})."
        return (
            f"{label}: {part['number']} connections{per} on {len(part['pathways'])} {what} "
            f"({', '.join(part['pathways'])}); layers {', '.join(part['layers'])} "
            f"(the authors' {', '.join(part['torch_names'])})."
        )

    return "\n".join(
        [
            sentence("lateral", lateral, "stages", model.flags.lateral),
            sentence("top-down", topdown, "pathways", model.flags.topdown),
        ]
    )


def compact_count(n: int) -> str:
    """A parameter count in a few characters: ``9_510_912 -> "9.5M"``, ``1608 -> "1.6k"``, ``416 -> "416"``."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1_000:
        return f"{n / 1_000:.1f}k"
    return str(n)


def format_connections(model: Any) -> str:
    """A table of every connection of ``model`` (source, target, direction, kind, layer, operation, kernel
    shape, parameters), then the counts and parameter totals.

    Parameters
    ----------
    model : GainModulatedRNN

    Returns
    -------
    str
    """
    found = connections(model)
    summary = connection_summary(model)
    header = ("source", "target", "direction", "kind", "layer", "operation", "kernel shape", "parameters")
    rows: list[tuple[str, ...]] = [
        (
            c.source if c.direction != "readout" else "fc1 (all t)",
            c.target,
            c.direction,
            c.kind,
            c.layer,
            c.operation,
            "x".join(str(d) for d in c.shape),
            f"{c.parameters:,}",
        )
        for c in found
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        # Parameter counts right-aligned, everything else left-aligned.
        cells = [value.ljust(width) for value, width in zip(row[:-1], widths[:-1], strict=True)]
        cells.append(row[-1].rjust(widths[-1]))
        return "  ".join(cells).rstrip()

    rule = "-" * len(line(header))
    counts = ", ".join(f"{number} {direction}" for direction, number in summary["by_direction"].items())
    lines = [
        f"Connections of {type(model).__name__} {summary['code']} (n_feats={model.n_feats}, "
        f"timesteps={model.timesteps})",
        rule,
        line(header),
        rule,
        *(line(row) for row in rows),
        rule,
        f"connections: {len(found)} ({counts})",
        f"parameters: {summary['total_parameters']:,} in total, {summary['recurrent_parameters']:,} recurrent "
        f"({100 * summary['recurrent_share']:.1f}%)",
        *(textwrap.fill(part, width=120, subsequent_indent="    ") for part in summary["answer"].split("\n")),
    ]
    return "\n".join(lines)
