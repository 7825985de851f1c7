"""Figures of feature visualisations and input gradients."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tfprobe.figures.saving import save_figure

__all__ = ["plot_gradients", "plot_visualization"]


def _image(axis: Any, image: np.ndarray) -> None:
    if image.shape[-1] == 1:
        axis.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        axis.imshow(np.clip(image, 0.0, 1.0))
    axis.set_xticks([])
    axis.set_yticks([])


def plot_visualization(
    visualization: Any,
    *,
    columns: int | None = None,
    path: str | os.PathLike[str] | None = None,
    mask: bool = False,
) -> Figure:
    """A grid of a :class:`~tfprobe.visualize.Visualization`'s images, titled with label and objective value.

    ``mask=True`` adds each image's attribution mask (MACO's transparency) below it.
    """
    count = len(visualization.images)
    columns = columns or min(count, 8)
    rows = math.ceil(count / columns)
    per = 2 if mask else 1
    figure = Figure(figsize=(1.9 * columns, 2.1 * rows * per), layout="constrained")
    axes = figure.subplots(rows * per, columns, squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    for index in range(count):
        row, column = divmod(index, columns)
        axis = axes[row * per, column]
        axis.set_axis_on()
        _image(axis, visualization.images[index])
        axis.set_title(f"{visualization.labels[index]}\n{visualization.values[index]:.3g}", fontsize=8)
        if mask:
            below = axes[row * per + 1, column]
            below.set_axis_on()
            below.imshow(visualization.attribution[index], cmap="magma", vmin=0.0, vmax=1.0)
            below.set_xticks([])
            below.set_yticks([])
            below.set_title("attribution", fontsize=7)
    recipe = visualization.settings.get("recipe", "")
    figure.suptitle(f"{visualization.objective}  ({recipe}, {visualization.steps} steps)", fontsize=9)
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_gradients(
    images: np.ndarray,
    gradients: np.ndarray,
    *,
    titles: list[str] | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Images above their input gradients, the gradients standardised for display as the seed notebook
    does (``(g - mean) / std * 0.15 + 0.5``)."""
    images, gradients = np.asarray(images, np.float32), np.asarray(gradients, np.float32)
    count = len(images)
    figure = Figure(figsize=(2.2 * count, 4.6), layout="constrained")
    axes = figure.subplots(2, count, squeeze=False)
    for index in range(count):
        lo, hi = images[index].min(), images[index].max()
        _image(axes[0, index], (images[index] - lo) / (hi - lo + 1e-12))
        g = gradients[index]
        shown = (g - g.mean()) / (g.std() + 1e-3) * 0.15 + 0.5
        _image(axes[1, index], np.clip(shown, 0.0, 1.0))
        if titles:
            axes[0, index].set_title(titles[index], fontsize=8)
    axes[1, 0].set_ylabel("input gradient", fontsize=8)
    if path is not None:
        save_figure(figure, path)
    return figure
