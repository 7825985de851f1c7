"""Functional importance of the recurrent flows, as in Thorat, Aldegheri & Kietzmann (2021), Figure 4D.

One panel per layer whose incoming flow was replaced; in each, the perturbation groups (location,
orientation, scale, category) along x and one bar per time step the flow modulates (the paper's
T = 2, 3, 4), with the 95% confidence interval over repetitions when there are several.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tfprobe.errors import InvalidTypeError
from tfprobe.figures.saving import check_figure_format, save_figure
from tfprobe.results.flow_perturbation import FlowPerturbationResult, paper_time_step

__all__ = ["plot_flow_perturbation"]

_TITLES = {"input": "Input", "conv1": "Conv1", "conv2": "Conv2", "fc1": "Fc1"}


def _interval(values: np.ndarray) -> np.ndarray:
    """Half-width of the 95% normal interval of the mean over the last axis (0 for one value)."""
    n = values.shape[-1]
    if n < 2:
        return np.zeros(values.shape[:-1])
    return 1.96 * np.nanstd(values, axis=-1, ddof=1) / np.sqrt(n)


def plot_flow_perturbation(
    result: FlowPerturbationResult,
    path: str | os.PathLike[str] | None = None,
    *,
    grouped: bool = True,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Plot functional importance, (control - perturbed) / original accuracy, per layer and time step.

    Parameters
    ----------
    result : FlowPerturbationResult
        From :func:`tfprobe.recurrent.perturb_flows`.
    path : str or path-like, optional
        Save the figure there (format from the suffix), atomically.
    grouped : bool
        Figure 4D's groups (location = mean of x and y, category = mean of the two category swaps); with
        ``False`` one bar group per perturbation run.
    figsize : (width, height), optional
        Default: 3.2 inches per layer by 3.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(result, FlowPerturbationResult):
        raise InvalidTypeError(f"expected a FlowPerturbationResult (from perturb_flows), got {type(result).__name__}")
    if path is not None:
        check_figure_format(path)
    if grouped:
        importance = result.grouped_importance()
        groups, labels = importance.axes["group"], importance.attrs["labels"]
    else:
        importance = result.functional_importance()
        groups = labels = importance.axes["perturbation"]
    values = importance.values  # (group, layer, step, repetition)
    with warnings.catch_warnings():  # NaN where the original accuracy was 0: drawn as no bar
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nan_to_num(np.nanmean(values, axis=-1))
        errors = np.nan_to_num(_interval(values))
    layers, steps = importance.axes["layer"], importance.axes["step"]

    figure = Figure(figsize=figsize or (3.2 * len(layers), 3.0), layout="constrained")
    axes = figure.subplots(1, len(layers), sharey=True, squeeze=False)[0]
    width = 0.8 / len(steps)
    x = np.arange(len(groups))
    colors = _step_colors(len(steps))
    for j, (ax, layer) in enumerate(zip(axes, layers, strict=False)):
        for s, step in enumerate(steps):
            offset = (s - (len(steps) - 1) / 2) * width
            ax.bar(
                x + offset,
                means[:, j, s],
                width,
                yerr=errors[:, j, s] if result.repetitions > 1 else None,
                color=colors[s],
                capsize=2,
                label=f"T = {paper_time_step(step)}",
            )
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(x, labels)
        ax.set_title(f"Flow to {_TITLES.get(layer, layer)}")
    axes[0].set_ylabel("Functional importance")
    axes[-1].legend(frameon=False, fontsize="small")
    attrs: dict[str, Any] = result.attrs
    figure.suptitle(
        f"Recurrent-flow perturbation ({attrs.get('model', 'model')}, {result.repetitions} repetition"
        f"{'s' if result.repetitions != 1 else ''})",
        fontsize="medium",
    )
    if path is not None:
        save_figure(figure, path)
    return figure


def _step_colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["Blues"]
    return [cmap(0.4 + 0.5 * i / max(n - 1, 1)) for i in range(n)]
