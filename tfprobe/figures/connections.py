"""A diagram of the recurrent network's connections: stages as boxes, bottom-up arrows, lateral self-loops and
top-down arcs coloured by modulation kind and labelled with their parameter counts (the lab's "ToSubmit 3")."""

from __future__ import annotations

import os
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path as MplPath

from tfprobe.figures.saving import save_figure
from tfprobe.models.architecture import N_CLASSES, STAGES, stage_shapes
from tfprobe.models.connections import Connection, compact_count, connection_summary, connections

__all__ = ["KIND_COLORS", "plot_connections"]

#: Colour of each kind of connection.
KIND_COLORS = {"drive": "0.15", "bias": "tab:orange", "gain": "tab:blue"}

# Geometry, in data units: boxes are 2 wide and 0.6 high, one stage every 1.5 up.
_HALF_WIDTH, _HALF_HEIGHT, _STEP = 1.0, 0.3, 1.5
_LOOP_WIDTHS = {"bias": 0.45, "gain": 0.8}  # how far right the lateral loops reach
_LOOP_HEIGHTS = {"bias": 0.08, "gain": 0.18}  # where on the box's right edge they leave and return
_LANE_FIRST, _LANE_STEP = 0.35, 0.28  # how far left the top-down arcs reach, lane by lane


def _level(stage: str) -> float:
    return _STEP * (len(STAGES) if stage == "output" else STAGES.index(stage))


def _box_text(stage: str, n_feats: int) -> str:
    if stage == "output":
        return f"output\n{N_CLASSES} classes"
    return f"{stage}\n{'x'.join(str(d) for d in stage_shapes(n_feats)[stage])}"


def _arrow(axis, path: MplPath, connection: Connection) -> FancyArrowPatch:
    arrow = FancyArrowPatch(
        path=path,
        arrowstyle="-|>",
        mutation_scale=11,
        linewidth=1.4,
        color=KIND_COLORS[connection.kind],
        zorder=2,
    )
    # The gid names the connection, so a saved SVG (and a test) can tell the arrows apart.
    arrow.set_gid(f"{connection.direction}:{connection.kind}:{connection.layer}")
    axis.add_patch(arrow)
    return arrow


def _label(axis, x: float, y: float, connection: Connection, **kwargs: Any) -> None:
    axis.text(
        x,
        y,
        compact_count(connection.parameters),
        fontsize=7,
        color=KIND_COLORS[connection.kind],
        ha="center",
        va="center",
        zorder=4,
        bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
        **kwargs,
    )


def _feedforward(axis, connection: Connection) -> None:
    y0 = _level(connection.source) + _HALF_HEIGHT
    y1 = _level(connection.target) - _HALF_HEIGHT
    _arrow(axis, MplPath([(0.0, y0), (0.0, y1)]), connection)
    text = compact_count(connection.parameters)
    if connection.direction == "readout":
        text += " (fc1 of all t)"
    axis.text(0.08, (y0 + y1) / 2, text, fontsize=7, color=KIND_COLORS["drive"], va="center", zorder=4)


def _lateral(axis, connection: Connection, kinds: tuple[str, ...]) -> float:
    """A loop leaving the box's right edge and coming back to it; returns where its label ends."""
    y, h, width = _level(connection.target), _LOOP_HEIGHTS[connection.kind], _LOOP_WIDTHS[connection.kind]
    x = _HALF_WIDTH
    # A cubic Bezier whose middle point lies 0.75 * reach to the right of the edge.
    reach = width / 0.75
    vertices = [(x, y + h), (x + reach, y + h + 0.1), (x + reach, y - h - 0.1), (x, y - h)]
    _arrow(axis, MplPath(vertices, [MplPath.MOVETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4]), connection)
    # Labels right of the outermost loop, one above the other when there are two kinds.
    label_x = x + max(_LOOP_WIDTHS[kind] for kind in kinds) + 0.3
    _label(axis, label_x, y - _spread(list(kinds), connection.kind, 0.2), connection)
    return label_x + 0.3


def _topdown(axis, connection: Connection, lane: int, offsets: tuple[float, float]) -> float:
    """An arc down the left side in its own lane; returns how far left it reaches."""
    x = -_HALF_WIDTH
    y0 = _level(connection.source) + offsets[0]
    y1 = _level(connection.target) + offsets[1]
    bulge = _LANE_FIRST + lane * _LANE_STEP
    # Control points 4/3 * bulge out put the curve's middle exactly ``bulge`` left of the boxes.
    control = x - 4.0 / 3.0 * bulge
    vertices = [(x, y0), (control, y0), (control, y1), (x, y1)]
    _arrow(axis, MplPath(vertices, [MplPath.MOVETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4]), connection)
    # Along the arc's vertical middle, so neighbouring lanes' labels do not overlap.
    _label(axis, x - bulge, (y0 + y1) / 2, connection, rotation=90)
    return x - bulge


def _spread(items: list[str], value: str, spacing: float = 0.1) -> float:
    """Vertical offset of ``value`` among ``items`` sharing a box edge, centred on the edge's middle."""
    return spacing * (items.index(value) - (len(items) - 1) / 2)


def _boxes(axis, n_feats: int) -> None:
    for stage in (*STAGES, "output"):
        y = _level(stage)
        axis.add_patch(
            FancyBboxPatch(
                (-_HALF_WIDTH, y - _HALF_HEIGHT),
                2 * _HALF_WIDTH,
                2 * _HALF_HEIGHT,
                boxstyle="round,pad=0.02",
                facecolor="0.93",
                edgecolor="0.3",
                zorder=3,
            )
        )
        axis.text(0.0, y, _box_text(stage, n_feats), ha="center", va="center", fontsize=9, zorder=5)


def _legend(axis, summary: dict[str, Any], kinds: tuple[str, ...]) -> None:
    """One entry for the feed-forward arrows and one per kind that has arrows, saying where they are."""
    handles = [Line2D([], [], color=KIND_COLORS["drive"], label="bottom-up / readout")]
    for kind in kinds:
        where = [
            place
            for direction, place in (("lateral", "lateral loops, right"), ("top-down", "top-down arcs, left"))
            if summary["counts"][direction][kind]
        ]
        if where:
            handles.append(Line2D([], [], color=KIND_COLORS[kind], label=f"{kind} ({'; '.join(where)})"))
    axis.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.01), frameon=False, fontsize=8)


def plot_connections(model: Any, path: str | os.PathLike[str] | None = None) -> Figure:
    """Draw every connection of ``model``: the stages (input, conv1, conv2, fc1, then the output) as boxes
    stacked bottom to top with their map shapes, bottom-up arrows straight up the middle, lateral
    connections as loops on the right, top-down ones as arcs down the left, coloured by kind (bias,
    gain) and labelled with their parameter counts.

    Parameters
    ----------
    model : GainModulatedRNN
    path : path, optional
        Also save the figure there.

    Returns
    -------
    Figure
        Every arrow is a :class:`~matplotlib.patches.FancyArrowPatch` whose gid is
        ``"<direction>:<kind>:<layer>"``, one per entry of :func:`~tfprobe.models.connections.connections`.
    """
    found = connections(model)
    summary = connection_summary(model)
    figure = Figure(figsize=(7.0, 6.4))
    axis = figure.subplots()

    _boxes(axis, model.n_feats)

    right, left = _HALF_WIDTH + 0.5, -_HALF_WIDTH - 0.5
    topdown = [c for c in found if c.direction == "top-down"]
    # Lanes from the inside out: short spans first, then by source, bias inside gain.
    order = sorted(
        {(c.source, c.target) for c in topdown},
        key=lambda pair: (STAGES.index(pair[0]) - STAGES.index(pair[1]), STAGES.index(pair[0]), pair[1]),
    )
    kinds = model.flags.kinds
    for connection in found:
        if connection.direction in ("bottom-up", "readout"):
            _feedforward(axis, connection)
        elif connection.direction == "lateral":
            right = max(right, _lateral(axis, connection, kinds) + 0.2)
        else:
            pair = (connection.source, connection.target)
            lane = order.index(pair) * len(kinds) + kinds.index(connection.kind)
            # Arcs leaving one box (arriving at one box) are spread along its left edge.
            leaving = sorted({t for s, t in order if s == connection.source}, key=STAGES.index)
            arriving = sorted({s for s, t in order if t == connection.target}, key=STAGES.index)
            offsets = (_spread(leaving, connection.target), _spread(arriving, connection.source))
            left = min(left, _topdown(axis, connection, lane, offsets) - 0.35)

    top = _level("output") + _HALF_HEIGHT + 0.3
    axis.set_xlim(left, right)
    axis.set_ylim(-_HALF_HEIGHT - 0.3, top)
    axis.set_aspect("equal")
    axis.set_axis_off()
    _legend(axis, summary, kinds)
    axis.set_title(
        f"{summary['code']}: {summary['lateral']['number']} lateral, {summary['topdown']['number']} top-down "
        f"connections; {compact_count(summary['total_parameters'])} parameters "
        f"({100 * summary['recurrent_share']:.0f}% recurrent)",
        fontsize=10,
    )
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure
