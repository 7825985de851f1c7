"""Decoding through layers and time steps, drawn as the study's Figure 3A.

One line per layer against the time step, with a 95% confidence band over repetitions
(1.96 x std / sqrt(repetitions), as the original's notebook), and the chance level dashed.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure

from tfprobe.errors import InvalidTypeError, InvalidValueError
from tfprobe.figures.saving import check_figure_format, save_figure
from tfprobe.results.labelled import LabelledArray
from tfprobe.results.time_decoding import AUXILIARY_GROUPS, TimeDecodingResult

__all__ = ["plot_auxiliary_through_time", "plot_decoding_through_time", "plot_flow_decoding"]

_LAYER_NAMES = {"input": "Input", "conv1": "Conv1", "conv2": "Conv2", "fc1": "FC"}


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the last axis and the 95% interval half-width (0 for one repetition)."""
    n = values.shape[-1]
    half = 1.96 * values.std(axis=-1) / np.sqrt(n) if n > 1 else np.zeros(values.shape[:-1])
    return values.mean(axis=-1), half


def _panel(axis, array: LabelledArray, select: dict, time_axis: str, title: str, chance: float | None) -> None:
    steps = np.asarray(array.axes[time_axis])
    for layer in array.axes["layer"]:
        values = 100.0 * array.sel(layer=layer, **select)  # (time, repetition)
        mean, half = _band(values)
        (line,) = axis.plot(steps, mean, marker="o", label=_LAYER_NAMES.get(layer, layer))
        axis.fill_between(steps, mean - half, mean + half, color=line.get_color(), alpha=0.3)
    if chance is not None:
        axis.axhline(100.0 * chance, color="black", linestyle="--", linewidth=1)
    axis.set_xticks(steps)
    axis.set_title(title)
    axis.spines["top"].set_visible(False)
    axis.spines["right"].set_visible(False)


def _check(result: object, path: str | os.PathLike[str] | None) -> None:
    if not isinstance(result, TimeDecodingResult):
        raise InvalidTypeError(f"expected a TimeDecodingResult (from decode_through_time), got {type(result).__name__}")
    if path is not None:
        check_figure_format(path)


def _choice(name: str, value: str, allowed: list) -> None:
    if value not in allowed:
        raise InvalidValueError(f"{name} {value!r} was not decoded; the result has {', '.join(map(str, allowed))}")


def plot_decoding_through_time(
    result: TimeDecodingResult,
    path: str | os.PathLike[str] | None = None,
    *,
    variable: str = "category",
    image_type: str = "cluttered",
) -> Figure:
    """Decoding accuracy of one variable against time step, one line per layer (Figure 3A).

    Parameters
    ----------
    result : TimeDecodingResult
    path : path, optional
        Also save the figure there (atomically; format from the suffix).
    variable, image_type : str
        What to plot (default the category on cluttered scenes, as the paper).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check(result, path)
    array = result.activations
    _choice("variable", variable, array.axes["variable"])
    _choice("image_type", image_type, array.axes["image_type"])
    figure = Figure(figsize=(4.8, 4.0), layout="constrained")
    axis = figure.subplots()
    chance = array.attrs.get("chance", {}).get(variable)
    _panel(
        axis,
        array,
        {"variable": variable, "image_type": image_type},
        "timestep",
        f"{variable.capitalize()} ({image_type})",
        chance,
    )
    axis.set_ylim(0, 100)
    axis.set_xlabel("Time step")
    axis.set_ylabel("Decoding accuracy (%)")
    axis.legend(frameon=False)
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_auxiliary_through_time(
    result: TimeDecodingResult, path: str | os.PathLike[str] | None = None, *, image_type: str = "cluttered"
) -> Figure:
    """The category-orthogonal variables through time: location (mean of x and y), scale, orientation,
    one panel each, one line per layer with 95% bands."""
    _check(result, path)
    _choice("image_type", image_type, result.activations.axes["image_type"])
    missing = [
        v for members in AUXILIARY_GROUPS.values() for v in members if v not in result.activations.axes["variable"]
    ]
    if missing:
        raise InvalidValueError(f"the auxiliary panels need the variables {', '.join(missing)}, which were not decoded")
    grouped = result.auxiliary(image_type)
    figure = Figure(figsize=(4.0 * len(AUXILIARY_GROUPS), 3.8), layout="constrained")
    axes = figure.subplots(1, len(AUXILIARY_GROUPS), sharey=True)
    for axis, group in zip(axes, AUXILIARY_GROUPS, strict=True):
        _panel(axis, grouped, {"group": group}, "timestep", f"{group.capitalize()} ({image_type})", 0.5)
        axis.set_ylim(40, 100)
        axis.set_xlabel("Time step")
    axes[0].set_ylabel("Decoding accuracy (%)")
    axes[0].legend(frameon=False)
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_flow_decoding(
    result: TimeDecodingResult, path: str | os.PathLike[str] | None = None, *, image_type: str = "cluttered"
) -> Figure:
    """Decoding from the recurrent flow into each layer, one panel per variable, against the transition."""
    _check(result, path)
    if result.flows is None:
        raise InvalidValueError("the result holds no flow decoding: run decode_through_time with flows=True")
    flows = result.flows
    _choice("image_type", image_type, flows.axes["image_type"])
    variables = flows.axes["variable"]
    figure = Figure(figsize=(3.4 * len(variables), 3.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(variables), sharey=True))
    for axis, variable in zip(axes, variables, strict=True):
        chance = flows.attrs.get("chance", {}).get(variable)
        _panel(
            axis,
            flows,
            {"variable": variable, "image_type": image_type},
            "transition",
            f"{variable.capitalize()}",
            chance,
        )
        axis.set_ylim(0, 100)
        axis.set_xlabel("Flow from time step")
    axes[0].set_ylabel("Decoding accuracy (%)")
    axes[0].legend(frameon=False, title="flow into")
    figure.suptitle(f"Decoding from the recurrent flows ({image_type})")
    if path is not None:
        save_figure(figure, path)
    return figure
