"""Learning curves of a training run: validation accuracy (and training accuracy) against steps and time."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from tfprobe.errors import InvalidValueError
from tfprobe.figures.saving import check_figure_format, save_figure
from tfprobe.results.training import learning_curve

__all__ = ["plot_learning_curves"]


def plot_learning_curves(
    histories: Mapping[str, Sequence[Mapping[str, float]]] | Sequence[Mapping[str, float]],
    path: str | os.PathLike[str] | None = None,
    *,
    reference: float | None = None,
) -> Figure:
    """Validation accuracy against training steps (left) and training time in minutes (right).

    Parameters
    ----------
    histories : list of dict, or mapping label -> list of dict
        ``TrainingResult.history`` (or ``history.json``) of one run, or of several runs by label (for
        example the ``fast`` and ``original`` schedules side by side).
    path : path, optional
        Also save the figure there (atomically; format from the suffix).
    reference : float, optional
        A horizontal line at this accuracy (in [0, 1]), e.g. the original's 0.81.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if path is not None:
        check_figure_format(path)
    runs = dict(histories) if isinstance(histories, Mapping) else {"validation": histories}
    if not runs or any(len(history) == 0 for history in runs.values()):
        raise InvalidValueError(
            "every history must hold at least one validation entry (step, seconds, validation_accuracy)"
        )
    figure = Figure(figsize=(9.0, 3.6), layout="constrained")
    by_step, by_time = figure.subplots(1, 2, sharey=True)
    for label, history in runs.items():
        curve = learning_curve(list(history))
        (line,) = by_step.plot(curve[:, 0], 100 * curve[:, 2], marker="o", markersize=3, label=label)
        by_time.plot(curve[:, 1] / 60.0, 100 * curve[:, 2], marker="o", markersize=3, color=line.get_color())
    for axis, label in ((by_step, "Training steps"), (by_time, "Training time (minutes)")):
        if reference is not None:
            axis.axhline(100 * reference, color="black", linestyle="--", linewidth=1)
        axis.set_xlabel(label)
        axis.spines["top"].set_visible(False)
        axis.spines["right"].set_visible(False)
    by_step.set_ylabel("Validation accuracy (%)")
    by_step.set_ylim(0, 100)
    by_step.legend(frameon=False)
    if path is not None:
        save_figure(figure, path)
    return figure
