"""Figures of cluttered scenes: a labelled grid, same-label pairs (the lab's "ToSubmit 1"), perturbations."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from tfprobe.datasets.perturbations import PERTURBATIONS, PerturbedScenes
from tfprobe.datasets.scenes import CATEGORY_NAMES, LABEL_VALUES, Scenes, as_generator
from tfprobe.errors import InvalidValueError
from tfprobe.figures.saving import save_figure

_SHORT = {"x": ("left", "right"), "y": ("top", "bottom"), "scale": ("small", "large"), "orientation": ("ccw", "cw")}


def describe(
    labels: dict[str, np.ndarray], i: int, keys: Sequence[str] = ("category", "x", "y", "scale", "orientation")
) -> str:
    """A short caption of scene ``i``'s labels, e.g. ``"Sandal\\nleft top large cw"``."""
    lines = []
    if "category" in keys:
        lines.append(CATEGORY_NAMES[int(labels["category"][i])])
    words = [_SHORT[key][int(labels[key][i])] for key in keys if key in _SHORT]
    if words:
        lines.append(" ".join(words))
    return "\n".join(lines)


def _show(axis, image: np.ndarray, title: str) -> None:
    axis.imshow(np.asarray(image)[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    axis.set_title(title, fontsize=9)
    axis.set_xticks([])
    axis.set_yticks([])


def _check_indices(indices: Sequence[int], n: int) -> list[int]:
    chosen = [int(i) for i in indices]
    bad = [i for i in chosen if not 0 <= i < n]
    if bad or not chosen:
        raise InvalidValueError(f"scene indices must be a non-empty list in [0, {n}), got {list(indices)!r}")
    return chosen


def plot_scene_grid(
    scenes: Scenes,
    indices: Sequence[int] | None = None,
    *,
    columns: int = 4,
    clean: bool = False,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """A grid of scenes titled with their labels (category, then x, y, scale and orientation).

    Parameters
    ----------
    scenes : Scenes
    indices : sequence of int, optional
        Which scenes (default: the first ``2 * columns``).
    columns : int
    clean : bool
        Show each scene's clean image (target alone) below it.
    path : path, optional
        Also save the figure there.
    """
    if indices is None:
        indices = range(min(len(scenes), 2 * columns))
    chosen = _check_indices(indices, len(scenes))
    rows = -(-len(chosen) // columns)
    per_scene = 2 if clean else 1
    figure = Figure(figsize=(2.2 * columns, 2.5 * rows * per_scene))
    axes = figure.subplots(rows * per_scene, columns, squeeze=False)
    for axis in axes.ravel():
        axis.set_axis_off()
    for slot, i in enumerate(chosen):
        row, col = divmod(slot, columns)
        axis = axes[row * per_scene, col]
        axis.set_axis_on()
        _show(axis, scenes.images[i], f"#{i}: {describe(scenes.labels, i)}")
        if clean:
            below = axes[row * per_scene + 1, col]
            below.set_axis_on()
            _show(below, scenes.clean[i], "target alone")
    if path is not None:
        save_figure(figure, path)
    return figure


def same_label_pairs(labels: np.ndarray, n_pairs: int, seed: int | np.random.Generator = 0) -> list[tuple[int, int]]:
    """``n_pairs`` pairs of scene indices sharing a label, each pair of a different label value."""
    rng = as_generator(seed)
    values, counts = np.unique(labels, return_counts=True)
    candidates = values[counts >= 2]
    if len(candidates) < n_pairs:
        raise InvalidValueError(
            f"need {n_pairs} label values that occur at least twice, found {len(candidates)}; sample more scenes"
        )
    pairs = []
    for value in rng.choice(candidates, size=n_pairs, replace=False):
        first, second = rng.choice(np.flatnonzero(labels == value), size=2, replace=False)
        pairs.append((int(first), int(second)))
    return pairs


def plot_same_label_pairs(
    scenes: Scenes,
    n_pairs: int = 2,
    *,
    label: str = "category",
    seed: int | np.random.Generator = 0,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Scenes side by side in pairs that share a label (the lab's "ToSubmit 1": e.g. two 5s and two Sandals).

    Parameters
    ----------
    scenes : Scenes
    n_pairs : int
        Number of pairs, drawn side by side: ``2 * n_pairs`` panels in one row.
    label : str
        Which label the pairs share (``category`` by default).
    seed : int or numpy.random.Generator
        Which pairs are picked.
    path : path, optional
        Also save the figure there.
    """
    if label not in scenes.labels:
        raise InvalidValueError(f"label must be one of {', '.join(scenes.labels)}, got {label!r}")
    pairs = same_label_pairs(scenes.labels[label], n_pairs, seed)
    figure = Figure(figsize=(2.6 * 2 * n_pairs, 3.0))
    axes = figure.subplots(1, 2 * n_pairs, squeeze=False)[0]
    for p, pair in enumerate(pairs):
        for j, i in enumerate(pair):
            value = int(scenes.labels[label][i])
            name = CATEGORY_NAMES[value] if label == "category" else LABEL_VALUES[label][value]
            _show(axes[2 * p + j], scenes.images[i], f"#{i} {label}: {name}")
    figure.suptitle(f"Pairs of scenes with the same {label}")
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_perturbations(
    perturbed: PerturbedScenes, index: int = 0, *, path: str | os.PathLike[str] | None = None
) -> Figure:
    """One scene and its six variants (one target property changed, clutter identical)."""
    (index,) = _check_indices([index], len(perturbed))
    figure = Figure(figsize=(2.2 * (1 + len(PERTURBATIONS)), 2.8))
    axes = figure.subplots(1, 1 + len(PERTURBATIONS), squeeze=False)[0]
    _show(axes[0], perturbed.scenes.images[index], f"scene\n{describe(perturbed.scenes.labels, index)}")
    for axis, name in zip(axes[1:], PERTURBATIONS, strict=True):
        _show(
            axis,
            perturbed.variants[name][index],
            f"{name.replace('_', ' ')}\n{describe(perturbed.variant_labels[name], index)}",
        )
    figure.suptitle(f"Perturbations ({perturbed.swap} swap)")
    if path is not None:
        save_figure(figure, path)
    return figure
