"""The grid of a unit's dataset examples: one row per channel, its top images then its bottom images."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from tfprobe.errors import InvalidValueError
from tfprobe.figures.saving import save_figure

__all__ = ["display_range", "examples_figure"]


def display_range(image: np.ndarray) -> np.ndarray:
    """An image for display in [0, 1]: as it is when it lies there, else scaled by its own range (model
    inputs that were preprocessed, e.g. mean-subtracted); grayscale as (rows, columns)."""
    image = np.asarray(image, np.float32)
    low, high = float(image.min()), float(image.max())
    if low < 0.0 or high > 1.0:
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return image[..., 0] if image.shape[-1] == 1 else image[..., :3]


def examples_figure(
    panels: Mapping[str, tuple[np.ndarray, np.ndarray]],
    channels: Sequence[int],
    *,
    masks: Mapping[str, np.ndarray] | None = None,
    title: str = "",
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Draw dataset examples.

    Parameters
    ----------
    panels : mapping of str to (images, scores)
        ``"top"`` and optionally ``"bottom"``: images (channels, k, rows, columns, image channels) and their
        scores (channels, k).
    channels : sequence of int
        The channel of each row.
    masks : mapping of str to ndarray of bool, optional
        Per panel, (channels, k, rows, columns): pixels beyond the image's border (the padding a unit saw),
        tinted red.
    title : str
    path : path, optional
        Also save the figure there.

    Returns
    -------
    Figure
        One axis per image, labelled ``"<panel> <channel> <rank>"``.
    """
    if not panels or "top" not in panels:
        raise InvalidValueError("give at least the 'top' panel of images and scores")
    rows = len(channels)
    k = panels["top"][0].shape[1]
    columns = sum(images.shape[1] for images, _ in panels.values())
    gap = 1 if len(panels) > 1 else 0
    figure = Figure(figsize=(0.95 * (columns + gap) + 0.8, 1.05 * rows + 0.7), layout="constrained")
    grid = figure.add_gridspec(rows, columns + gap, width_ratios=[1] * k + [0.25] * gap + [1] * (columns - k))
    for panel_number, (which, (images, scores)) in enumerate(panels.items()):
        start = 0 if panel_number == 0 else k + gap
        for r, channel in enumerate(channels):
            for j in range(images.shape[1]):
                axis = figure.add_subplot(grid[r, start + j])
                axis.set_label(f"{which} {channel} {j}")
                axis.imshow(display_range(images[r, j]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                if masks is not None and masks[which][r, j].any():
                    overlay = np.zeros((*masks[which][r, j].shape, 4), np.float32)
                    overlay[masks[which][r, j]] = (0.85, 0.1, 0.1, 0.45)
                    axis.imshow(overlay, interpolation="nearest")
                axis.set_xticks([])
                axis.set_yticks([])
                axis.set_xlabel(f"{scores[r, j]:.3g}", fontsize=7, labelpad=1)
                if j == 0:
                    axis.set_ylabel(f"ch {channel}", fontsize=8)
                if r == 0 and j == 0:
                    axis.set_title(f"{which} {images.shape[1]}", fontsize=8, loc="left")
    if title:
        figure.suptitle(title, fontsize=9)
    if path is not None:
        save_figure(figure, path)
    return figure
