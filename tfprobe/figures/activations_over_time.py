"""Activations of the recurrent network over its time steps, scene by scene (the study's Figure 3B).

Thorat, Aldegheri & Kietzmann (2021) show the input layer as the recurrent gain and bias have modulated
it: at ``t = 1`` it is the scene itself, at later steps the top-down flows have brightened or dimmed
parts of it.  The same grid shows a conv map (one channel) or the fc1 vector of each step.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tfprobe.datasets.scenes import CATEGORY_NAMES
from tfprobe.errors import InvalidTypeError, InvalidValueError
from tfprobe.figures.saving import check_figure_format, save_figure
from tfprobe.models.architecture import IMAGE_SIZE, N_CLASSES, STAGES, stage_shapes
from tfprobe.validation import check_images, is_int

__all__ = ["plot_activations_over_time"]

#: Colour of a row title whose prediction differs from the true label.
MISMATCH_COLOR = "tab:red"
_CMAPS = {"input": "gray", "conv1": "viridis", "conv2": "viridis", "fc1": "viridis"}


def _check_model(model: Any) -> None:
    from tfprobe.models.gain_rnn import GainModulatedRNN

    if not isinstance(model, GainModulatedRNN):
        raise InvalidTypeError(f"expected a tfprobe.GainModulatedRNN, got {type(model).__name__}")


def _check_scenes(scenes: Sequence[int] | None, n: int) -> list[int]:
    if scenes is None:
        return list(range(min(4, n)))
    chosen = list(scenes) if not isinstance(scenes, (int, np.integer)) else [scenes]
    bad = [i for i in chosen if not is_int(i) or not 0 <= i < n]
    if bad or not chosen:
        raise InvalidValueError(f"scenes must be a non-empty list of indices in [0, {n}), got {scenes!r}")
    return [int(i) for i in chosen]


def _check_stages(stages: Sequence[str] | str) -> tuple[str, ...]:
    chosen = (stages,) if isinstance(stages, str) else tuple(stages)
    bad = [s for s in chosen if s not in STAGES]
    if bad or not chosen:
        raise InvalidValueError(f"stages must be a non-empty selection of {', '.join(STAGES)}, got {stages!r}")
    return chosen


def _check_channel(channel: int, stages: tuple[str, ...], n_feats: int) -> int:
    if not is_int(channel) or channel < 0:
        raise InvalidValueError(f"channel must be an integer >= 0, got {channel!r}")
    for stage in stages:
        if stage in ("conv1", "conv2"):
            channels = stage_shapes(n_feats)[stage][-1]
            if channel >= channels:
                raise InvalidValueError(f"channel must be in [0, {channels}) for {stage}, got {channel}")
    return int(channel)


def _check_labels(labels: Any, n: int) -> np.ndarray | None:
    if labels is None:
        return None
    if isinstance(labels, Mapping):
        if "category" not in labels:
            raise InvalidValueError(f"labels given as a mapping need a 'category' entry, got keys {sorted(labels)}")
        labels = labels["category"]
    values = np.asarray(labels)
    if values.ndim != 1 or len(values) != n:
        raise InvalidValueError(f"labels: expected one category per image, shape ({n},), got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.integer) or values.min(initial=0) < 0 or values.max(initial=0) >= N_CLASSES:
        raise InvalidValueError(
            f"labels: expected integer categories in [0, {N_CLASSES}), got {values.dtype} {values!r}"
        )
    return values.astype(int)


def _grid(units: int) -> tuple[int, int]:
    """The most nearly square (rows, columns) with ``rows * columns == units``: fc1 drawn as an image."""
    rows = max(d for d in range(1, math.isqrt(units) + 1) if units % d == 0)
    return rows, units // rows


def _panel(activation: np.ndarray, stage: str, channel: int) -> np.ndarray:
    """The 2-D picture of one example's activation at one stage."""
    if stage == "input":
        return activation[..., 0]
    if stage == "fc1":
        return activation.reshape(_grid(activation.shape[-1]))
    return activation[..., channel]


def _row_title(i: int, stage: str, channel: int, n_feats: int, true: int | None, predicted: int) -> str:
    if stage in ("conv1", "conv2"):
        what = f"{stage} ch {channel}"
    elif stage == "fc1":
        what = "fc1 ({}x{})".format(*_grid(stage_shapes(n_feats)["fc1"][0]))
    else:
        what = stage
    truth = f"true: {CATEGORY_NAMES[true]}\n" if true is not None else ""
    return f"#{i} {what}\n{truth}predicted: {CATEGORY_NAMES[predicted]}"


def plot_activations_over_time(
    model: Any,
    images: Any,
    labels: Any = None,
    *,
    scenes: Sequence[int] | None = None,
    stages: Sequence[str] | str = ("input",),
    channel: int = 0,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Activations of chosen scenes at every time step: one row per scene and stage, one column per step.

    The input row shows the image as the recurrent bias and gain modulate it (the study's Figure 3B);
    conv rows show one channel of the pooled map, the fc1 row the unit vector folded into a grid.  Each
    row is titled with the scene's index, its true category (when ``labels`` are given) and the
    model's prediction (argmax of its log-probabilities), in red when they differ.

    Parameters
    ----------
    model : GainModulatedRNN
    images : array, (n, 100, 100, 1)
        Channels-last float images in [0, 1].
    labels : array of int (n,) or mapping with ``"category"``, optional
        True categories (``Scenes.labels`` works as is).
    scenes : sequence of int, optional
        Which images (default: the first four).
    stages : sequence of str
        Stages among ``input``, ``conv1``, ``conv2``, ``fc1``.
    channel : int
        Channel of the conv maps; it must exist in every conv stage chosen.  The input has one channel
        and fc1 none, so it does not apply to them.
    path : path, optional
        Also save the figure there.

    Returns
    -------
    Figure
        ``len(scenes) * len(stages)`` rows of ``model.timesteps`` axes, row-major, each with one image;
        the first row of each scene's block is titled ``"t = 1"``, ``"t = 2"``, ...

    Notes
    -----
    The model is run once, on the chosen scenes only.  Conv and fc1 rows share their colour limits
    across time steps, so brightening and dimming over time are visible; the input is drawn on [0, 1].
    """
    _check_model(model)
    check_images(images, (IMAGE_SIZE, IMAGE_SIZE, 1), what="images")
    images = np.asarray(images)
    chosen = _check_scenes(scenes, len(images))
    stages = _check_stages(stages)
    channel = _check_channel(channel, stages, model.n_feats)
    true = _check_labels(labels, len(images))
    if path is not None:
        check_figure_format(path)

    out = model(images[chosen], return_activations=True)
    predicted = np.argmax(np.asarray(out.log_probs), axis=-1)
    steps = model.timesteps
    rows = len(chosen) * len(stages)
    figure = Figure(figsize=(1.9 * steps + 1.4, 1.9 * rows), layout="constrained")
    axes = figure.subplots(rows, steps, squeeze=False)
    for k, i in enumerate(chosen):
        wrong = true is not None and true[i] != predicted[k]
        for j, stage in enumerate(stages):
            row = axes[k * len(stages) + j]
            panels = [_panel(np.asarray(out.activations[stage][t][k]), stage, channel) for t in range(steps)]
            limits = (0.0, 1.0) if stage == "input" else (min(p.min() for p in panels), max(p.max() for p in panels))
            for t, (axis, panel) in enumerate(zip(row, panels, strict=True)):
                axis.imshow(panel, cmap=_CMAPS[stage], vmin=limits[0], vmax=limits[1], interpolation="nearest")
                axis.set_xticks([])
                axis.set_yticks([])
                if j == 0:
                    axis.set_title(f"t = {t + 1}", fontsize=10)
            title = _row_title(i, stage, channel, model.n_feats, None if true is None else int(true[i]), predicted[k])
            row[0].set_ylabel(title, fontsize=8, color=MISMATCH_COLOR if wrong else "black")
    figure.suptitle(f"{model.flags.code}: activations over time", fontsize=10)
    if path is not None:
        save_figure(figure, path)
    return figure
