"""Figures of representational similarity: RDM heatmaps, similarity matrices (units x units, layers x time
steps), similarity over time steps with bootstrap bands, and an MDS map of RDMs.

They take :class:`~tfprobe.similarity.rdm.RDMs` and :class:`~tfprobe.similarity.result.SimilarityMatrix`
objects (or anything with the same attributes), return a matplotlib ``Figure`` and save it when given a path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tfprobe.errors import InvalidValueError
from tfprobe.figures.saving import save_figure

__all__ = ["plot_layer_time", "plot_rdm", "plot_rdm_mds", "plot_similarity_matrix", "plot_similarity_over_time"]

_TIMED = re.compile(r"^(?P<layer>.+)@t(?P<step>-?\d+)$")
_MAX_TICKS = 40


def _finish(figure: Figure, path: str | os.PathLike[str] | None) -> Figure:
    if path is not None:
        save_figure(figure, path)
    return figure


def _timed(names: Sequence[str]) -> dict[str, list[tuple[int, int]]]:
    """Layer -> [(time step, index)] from names ``<layer>@t<step>`` (layers in order of first appearance)."""
    bad = [name for name in names if not _TIMED.match(name)]
    if bad:
        raise InvalidValueError(
            "this figure needs names '<layer>@t<step>' (e.g. 'conv1@t2'); got "
            + ", ".join(repr(b) for b in bad[:5])
            + (" ..." if len(bad) > 5 else "")
        )
    layers: dict[str, list[tuple[int, int]]] = {}
    for index, name in enumerate(names):
        match = _TIMED.match(name)
        layers.setdefault(match["layer"], []).append((int(match["step"]), index))
    return {layer: sorted(steps) for layer, steps in layers.items()}


def _condition_ticks(axis: Any, labels: np.ndarray, categories: np.ndarray | None) -> None:
    n = len(labels)
    if categories is not None:
        edges = np.flatnonzero(categories[1:] != categories[:-1]) + 1
        starts = np.concatenate([[0], edges])
        stops = np.concatenate([edges, [n]])
        centres = (starts + stops - 1) / 2.0
        names = [str(categories[s]) for s in starts]
        for edge in edges:
            axis.axhline(edge - 0.5, color="white", linewidth=1.0)
            axis.axvline(edge - 0.5, color="white", linewidth=1.0)
        axis.set_xticks(centres, names, rotation=90)
        axis.set_yticks(centres, names)
        return
    step = max(1, int(np.ceil(n / _MAX_TICKS)))
    ticks = np.arange(0, n, step)
    axis.set_xticks(ticks, [str(labels[t]) for t in ticks], rotation=90, fontsize=7)
    axis.set_yticks(ticks, [str(labels[t]) for t in ticks], fontsize=7)


def plot_rdm(
    rdms: Any,
    names: str | Sequence[str] | None = None,
    *,
    categories: Sequence[Any] | np.ndarray | None = None,
    columns: int = 4,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Heatmaps of RDMs, one panel per RDM, conditions labelled (or grouped by category).

    Parameters
    ----------
    rdms : RDMs
    names : str or sequence of str, optional
        Which RDMs (default: all of them).
    categories : sequence, optional
        One category per condition: conditions are sorted (stably) by category, the categories' borders
        drawn and their names used as tick labels.
    columns : int
        Panels per row.
    path : path, optional
        Also save the figure there.
    """
    chosen = list(rdms.names) if names is None else [names] if isinstance(names, str) else list(names)
    if not chosen:
        raise InvalidValueError("plot_rdm needs at least one RDM name")
    labels = np.asarray(rdms.conditions)
    order = np.arange(len(labels))
    groups = None
    if categories is not None:
        groups = np.asarray(categories)
        if groups.shape != labels.shape:
            raise InvalidValueError(f"categories must give one value per condition ({len(labels)}), got {groups.shape}")
        order = np.argsort(groups, kind="stable")
        groups = groups[order]
    columns = max(1, min(columns, len(chosen)))
    rows = int(np.ceil(len(chosen) / columns))
    figure = Figure(figsize=(3.4 * columns + 0.8, 3.2 * rows))
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for axis, name in zip(axes, chosen, strict=False):
        matrix = rdms.matrix(name)[np.ix_(order, order)]
        image = axis.imshow(matrix, cmap="viridis", interpolation="nearest")
        _condition_ticks(axis, labels[order], groups)
        axis.set_title(str(name))
        axis.set_xlabel("condition")
        axis.set_ylabel("condition")
        colorbar = figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
        colorbar.set_label(f"dissimilarity ({rdms.metric})")
    for axis in axes[len(chosen) :]:
        axis.set_visible(False)
    figure.tight_layout()
    return _finish(figure, path)


def plot_similarity_matrix(
    result: Any, *, annotate: bool | None = None, path: str | os.PathLike[str] | None = None
) -> Figure:
    """A heatmap of a :class:`~tfprobe.similarity.result.SimilarityMatrix` (rows x columns), labelled.

    Parameters
    ----------
    result : SimilarityMatrix
    annotate : bool, optional
        Write the values in the cells (default: when there are at most 12 x 12).
    path : path, optional
        Also save the figure there.
    """
    values = np.asarray(result.values)
    rows, columns = list(result.rows), list(result.columns)
    annotate = values.shape[0] <= 12 and values.shape[1] <= 12 if annotate is None else annotate
    figure = Figure(figsize=(max(4.0, 0.45 * len(columns) + 2.5), max(3.5, 0.4 * len(rows) + 1.5)))
    axis = figure.subplots()
    image = axis.imshow(values, cmap="magma", interpolation="nearest", aspect="auto")
    axis.set_xticks(np.arange(len(columns)), columns, rotation=90)
    axis.set_yticks(np.arange(len(rows)), rows)
    axis.set_xlabel("compared with")
    axis.set_ylabel("unit")
    if annotate:
        middle = np.nanmean(values) if np.isfinite(values).any() else 0.0
        for (i, j), value in np.ndenumerate(values):
            axis.text(
                j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="black" if value > middle else "white"
            )
    figure.colorbar(image, ax=axis).set_label(result.measure)
    axis.set_title(f"{result.measure} ({result.n_conditions} conditions)")
    figure.tight_layout()
    return _finish(figure, path)


def _column(result: Any, column: str | None) -> int:
    columns = list(result.columns)
    if column is None:
        if len(columns) != 1:
            raise InvalidValueError(f"the result has several columns ({', '.join(columns)}); choose one with column=")
        return 0
    if column not in columns:
        raise InvalidValueError(f"column must be one of {', '.join(columns)}, got {column!r}")
    return columns.index(column)


def plot_layer_time(result: Any, column: str | None = None, *, path: str | os.PathLike[str] | None = None) -> Figure:
    """The similarity of every layer x time step (rows named ``<layer>@t<step>``) with one column item, as a
    layers-by-time-steps heatmap (missing steps blank).

    Parameters
    ----------
    result : SimilarityMatrix
    column : str, optional
        The column item (a model RDM, a brain area, a layer of another network); needed when there are several.
    path : path, optional
        Also save the figure there.
    """
    j = _column(result, column)
    layers = _timed(result.rows)
    steps = sorted({step for entries in layers.values() for step, _ in entries})
    grid = np.full((len(layers), len(steps)), np.nan)
    for row, entries in enumerate(layers.values()):
        for step, index in entries:
            grid[row, steps.index(step)] = result.values[index, j]
    figure = Figure(figsize=(max(3.5, 0.7 * len(steps) + 2.5), max(2.5, 0.5 * len(layers) + 1.5)))
    axis = figure.subplots()
    image = axis.imshow(grid, cmap="magma", interpolation="nearest", aspect="auto")
    axis.set_xticks(np.arange(len(steps)), [str(s) for s in steps])
    axis.set_yticks(np.arange(len(layers)), list(layers))
    axis.set_xlabel("time step")
    axis.set_ylabel("layer")
    for (i, k), value in np.ndenumerate(grid):
        if np.isfinite(value):
            axis.text(k, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="cyan")
    figure.colorbar(image, ax=axis).set_label(result.measure)
    axis.set_title(f"{result.measure} with {result.columns[j]}")
    figure.tight_layout()
    return _finish(figure, path)


def plot_similarity_over_time(
    result: Any, column: str | None = None, *, path: str | os.PathLike[str] | None = None
) -> Figure:
    """Similarity with one column item against time step, one line per layer, with the bootstrap interval as
    a band when the result has one and the noise ceiling as a grey band when it has one.

    Parameters
    ----------
    result : SimilarityMatrix
        Rows named ``<layer>@t<step>``.
    column : str, optional
        The column item; needed when there are several.
    path : path, optional
        Also save the figure there.
    """
    j = _column(result, column)
    layers = _timed(result.rows)
    ci = result.ci
    figure = Figure(figsize=(4.8, 3.6))
    axis = figure.subplots()
    ceiling = result.noise_ceiling
    if ceiling is not None:
        axis.axhspan(ceiling.lower, ceiling.upper, color="0.85", label="noise ceiling")
    for layer, entries in layers.items():
        x = np.array([step for step, _ in entries])
        rows = [index for _, index in entries]
        (line,) = axis.plot(x, result.values[rows, j], marker="o", label=layer)
        if ci is not None:
            axis.fill_between(x, ci[0, rows, j], ci[1, rows, j], color=line.get_color(), alpha=0.2)
    axis.set_xticks(sorted({step for entries in layers.values() for step, _ in entries}))
    axis.set_xlabel("time step")
    axis.set_ylabel(result.measure)
    axis.spines["top"].set_visible(False)
    axis.spines["right"].set_visible(False)
    axis.set_title(f"{result.measure} with {result.columns[j]}")
    axis.legend(frameon=False)
    figure.tight_layout()
    return _finish(figure, path)


def plot_rdm_mds(result: Any, *, path: str | os.PathLike[str] | None = None) -> Figure:
    """A 2-D classical MDS map of the items of a square :class:`~tfprobe.similarity.result.SimilarityMatrix`
    (RDMs compared with each other), distances ``1 - similarity``; the time steps of a layer (names
    ``<layer>@t<step>``) are joined in order.

    Parameters
    ----------
    result : SimilarityMatrix
        Rows and columns the same items (``compare_rdms(rdms)``, ``cka_matrix(...)``).
    path : path, optional
        Also save the figure there.
    """
    from tfprobe.similarity.mds import classical_mds  # an analysis's numpy helper, loaded when drawn

    if list(result.rows) != list(result.columns):
        raise InvalidValueError("plot_rdm_mds needs a square result comparing the same items (rows == columns)")
    values = np.asarray(result.values)
    distances = 1.0 - (values + values.T) / 2.0
    np.fill_diagonal(distances, 0.0)
    points = classical_mds(np.maximum(distances, 0.0), 2)
    figure = Figure(figsize=(4.8, 4.4))
    axis = figure.subplots()
    names = list(result.rows)
    if all(_TIMED.match(name) for name in names):
        for layer, entries in _timed(names).items():
            order = [index for _, index in entries]
            (line,) = axis.plot(points[order, 0], points[order, 1], marker="o", label=layer)
            axis.annotate(f"t{entries[0][0]}", points[order[0]], fontsize=7, color=line.get_color())
            axis.annotate(f"t{entries[-1][0]}", points[order[-1]], fontsize=7, color=line.get_color())
        axis.legend(frameon=False)
    else:
        axis.scatter(points[:, 0], points[:, 1])
        for name, point in zip(names, points, strict=True):
            axis.annotate(name, point, fontsize=8)
    axis.set_xlabel("MDS dimension 1")
    axis.set_ylabel("MDS dimension 2")
    axis.set_aspect("equal", adjustable="datalim")
    axis.set_title(f"MDS of RDMs (1 - {result.measure})")
    figure.tight_layout()
    return _finish(figure, path)
