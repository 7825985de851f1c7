"""Figures of the linear-probe psychophysics: the probe's training curves and contrast sensitivity functions."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tfprobe.errors import InvalidValueError
from tfprobe.figures.saving import check_figure_format, save_figure
from tfprobe.results.csf import ContrastSensitivity

__all__ = ["plot_csf", "plot_probe_training"]


def _history_dict(history: Any) -> dict[str, list[float]]:
    values = getattr(history, "history", history)
    if not isinstance(values, Mapping) or "accuracy" not in values or "loss" not in values:
        raise InvalidValueError("expected a keras History (or its .history dict) with 'accuracy' and 'loss' per epoch")
    return {key: list(map(float, value)) for key, value in values.items()}


def plot_probe_training(histories: Any | Mapping[str, Any], path: str | os.PathLike[str] | None = None) -> Figure:
    """Accuracy and normalised loss (loss / its maximum) per epoch, as the linear-probe lab plots them.

    Parameters
    ----------
    histories : keras History, its ``.history`` dict, or a mapping label -> either
        One probe's training, or several (one panel each, e.g. by layer).
    path : path, optional
        Also save the figure there (atomically; format from the suffix).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if path is not None:
        check_figure_format(path)
    single = hasattr(histories, "history") or (isinstance(histories, Mapping) and "loss" in histories)
    runs = {"": histories} if single else dict(histories)
    if not runs:
        raise InvalidValueError("no training histories to plot")
    runs = {label: _history_dict(history) for label, history in runs.items()}
    figure = Figure(figsize=(4.2 * len(runs), 3.4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(runs), sharey=True, squeeze=False)[0])
    for axis, (label, values) in zip(axes, runs.items(), strict=True):
        epochs = np.arange(1, len(values["accuracy"]) + 1)
        loss = np.asarray(values["loss"])
        axis.plot(epochs, values["accuracy"], "-x", label="accuracy")
        axis.plot(epochs, loss / loss.max(), "-o", label="loss / max loss")
        if "val_accuracy" in values:
            axis.plot(epochs, values["val_accuracy"], "--x", label="held-out accuracy")
        axis.set_xlabel("Epoch")
        axis.set_title(label or "Contrast discrimination training")
        axis.set_ylim(0, 1.05)
        axis.grid(alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=8)
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_csf(
    results: ContrastSensitivity | Mapping[str, ContrastSensitivity], path: str | os.PathLike[str] | None = None
) -> Figure:
    """Contrast sensitivity (1 / threshold) against spatial frequency, one curve per result, log-log axes.

    Parameters
    ----------
    results : ContrastSensitivity or mapping label -> ContrastSensitivity
        Staircases that did not converge are drawn as open markers.
    path : path, optional
        Also save the figure there (atomically; format from the suffix).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if path is not None:
        check_figure_format(path)
    runs = {results.label or "probe": results} if isinstance(results, ContrastSensitivity) else dict(results)
    if not runs or not all(isinstance(r, ContrastSensitivity) for r in runs.values()):
        raise InvalidValueError("expected a ContrastSensitivity or a mapping label -> ContrastSensitivity")
    figure = Figure(figsize=(5.6, 4.0), layout="constrained")
    axis = figure.subplots()
    for label, result in runs.items():
        (line,) = axis.plot(result.frequencies, result.sensitivity, "-", label=label)
        done = result.converged
        axis.plot(result.frequencies[done], result.sensitivity[done], "o", color=line.get_color())
        axis.plot(
            result.frequencies[~done], result.sensitivity[~done], "o", markerfacecolor="none", color=line.get_color()
        )
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("Spatial frequency (cycles per image)")
    axis.set_ylabel("Contrast sensitivity (1 / threshold)")
    axis.set_title("Contrast sensitivity function (open: staircase not converged)", fontsize=9)
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    if path is not None:
        save_figure(figure, path)
    return figure
