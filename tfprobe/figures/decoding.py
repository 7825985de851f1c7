"""Figures of decoding results: accuracy per unit (DNNBrain's bar plot) and over time steps (the study's Fig. 3A)."""

from __future__ import annotations

import os
import re

import numpy as np
from matplotlib.figure import Figure

from tfprobe.decoding.result import DecodingResult
from tfprobe.errors import InvalidValueError
from tfprobe.figures.saving import save_figure

_TIMED_UNIT = re.compile(r"^(?P<layer>.+)@t(?P<step>\d+)$")


def _target_index(result: DecodingResult, target: str | None) -> int:
    if target is None:
        if len(result.targets) != 1:
            raise InvalidValueError(
                f"the result has several targets ({', '.join(result.targets)}); choose one with target="
            )
        return 0
    if target not in result.targets:
        raise InvalidValueError(f"target must be one of {', '.join(result.targets)}, got {target!r}")
    return result.targets.index(target)


def _chance_line(axis, result: DecodingResult, t: int) -> None:
    if len(result.chance):
        axis.axhline(result.chance[t], color="0.4", linestyle="--", linewidth=1, label="chance")


def _error(sem: np.ndarray) -> np.ndarray:
    """SEM for drawing: NaN (a single fold) draws no error bar."""
    return np.nan_to_num(sem, nan=0.0)


def plot_layerwise(
    result: DecodingResult,
    target: str | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """One bar per unit: mean accuracy over folds with SEM error bars, and the chance level.

    Parameters
    ----------
    result : DecodingResult
    target : str, optional
        Which target (needed when the result has several).
    path : path, optional
        Also save the figure there.
    """
    t = _target_index(result, target)
    mean, sem = result.mean[:, t], result.sem[:, t]
    figure = Figure(figsize=(max(4.0, 0.6 * len(result.units) + 1.5), 3.6))
    axis = figure.subplots()
    x = np.arange(len(result.units))
    axis.bar(x, mean, yerr=_error(sem), color="tab:blue", capsize=3, label="accuracy")
    _chance_line(axis, result, t)
    axis.set_xticks(
        x, result.units, rotation=45 if len(result.units) > 6 else 0, ha="right" if len(x) > 6 else "center"
    )
    axis.set_ylabel("accuracy")
    axis.set_ylim(0.0, 1.0)
    axis.spines["top"].set_visible(False)
    axis.spines["right"].set_visible(False)
    axis.set_title(f"Decoding {result.targets[t]} ({result.n_folds} fold{'s' if result.n_folds != 1 else ''})")
    axis.legend(frameon=False, loc="upper left")
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def _timed_units(result: DecodingResult) -> dict[str, list[tuple[int, int]]]:
    """Layer -> [(time step, unit index)], from unit names ``<layer>@t<k>``."""
    layers: dict[str, list[tuple[int, int]]] = {}
    bad = [name for name in result.units if not _TIMED_UNIT.match(name)]
    if bad:
        raise InvalidValueError(
            f"plot_over_time needs unit names '<layer>@t<step>' (e.g. 'conv1@t2'); "
            f"got {', '.join(repr(b) for b in bad[:5])}{' ...' if len(bad) > 5 else ''}"
        )
    for u, name in enumerate(result.units):
        match = _TIMED_UNIT.match(name)
        layers.setdefault(match["layer"], []).append((int(match["step"]), u))
    return {layer: sorted(steps) for layer, steps in layers.items()}


def plot_over_time(
    result: DecodingResult,
    target: str | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Accuracy against time step, one line per layer with a SEM band (the study's Figure 3A).

    Units must be named ``<layer>@t<step>``; layers keep their first-appearance order.

    Parameters
    ----------
    result : DecodingResult
    target : str, optional
        Which target (needed when the result has several).
    path : path, optional
        Also save the figure there.
    """
    t = _target_index(result, target)
    layers = _timed_units(result)
    mean, sem = result.mean[:, t], _error(result.sem[:, t])
    figure = Figure(figsize=(4.8, 3.6))
    axis = figure.subplots()
    for layer, steps in layers.items():
        x = np.array([step for step, _ in steps])
        units = [u for _, u in steps]
        (line,) = axis.plot(x, mean[units], marker="o", label=layer)
        axis.fill_between(x, mean[units] - sem[units], mean[units] + sem[units], color=line.get_color(), alpha=0.2)
    _chance_line(axis, result, t)
    steps = sorted({step for s in layers.values() for step, _ in s})
    axis.set_xticks(steps)
    axis.set_xlabel("time step")
    axis.set_ylabel("accuracy")
    axis.spines["top"].set_visible(False)
    axis.spines["right"].set_visible(False)
    axis.set_title(f"Decoding {result.targets[t]} over time")
    axis.legend(frameon=False)
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure
