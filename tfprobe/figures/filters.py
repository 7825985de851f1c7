"""Convolution filters and their activation maps (the conv-basics lab): weights and responses on a
diverging colormap centred at zero, so that positive (red) and negative (blue) values read at a glance."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tfprobe.errors import InvalidValueError
from tfprobe.figures.saving import check_figure_format, save_figure

__all__ = ["plot_activation_grid", "plot_filters"]

#: The diverging colormap of weights and activations (white at zero).
DIVERGING = "bwr"
#: Filter panels per row in :func:`plot_filters`.
MAX_COLUMNS = 8


def _symmetric_limit(values: np.ndarray) -> float:
    """max |values|, or 1 when everything is zero (a colormap needs a non-empty range)."""
    limit = float(np.max(np.abs(values))) if values.size else 0.0
    return limit if limit > 0 and math.isfinite(limit) else 1.0


def _clear_ticks(axis: Any) -> None:
    axis.set_xticks([])
    axis.set_yticks([])


def _kernel_of(kernel_or_layer: Any) -> tuple[np.ndarray, list[str] | None]:
    """(kernel (h, w, in, out), channel names or None) of an array or a convolution layer."""
    if hasattr(kernel_or_layer, "get_weights") and hasattr(kernel_or_layer, "built"):
        layer = kernel_or_layer
        names = list(layer.channel_names) if hasattr(layer, "channel_names") else None
        if hasattr(layer, "designed_kernel") and not layer.built:
            return np.asarray(layer.designed_kernel(1)), names
        if not layer.built or not hasattr(layer, "kernel"):
            raise InvalidValueError(
                f"layer {layer.name!r}: expected a built convolution layer (call it on an input first), "
                f"got {'an unbuilt' if not layer.built else 'a kernel-less'} {type(layer).__name__}"
            )
        return np.asarray(layer.kernel), names
    kernel = np.asarray(kernel_or_layer, dtype=np.float64)
    if kernel.ndim == 3:
        kernel = kernel[:, :, None, :]
    if kernel.ndim != 4 or 0 in kernel.shape:
        raise InvalidValueError(
            "kernel must be (height, width, in_channels, out_channels) as in Keras, or (height, width, "
            f"out_channels), got shape {kernel.shape}"
        )
    return kernel, None


def plot_filters(
    kernel_or_layer: Any,
    names: Sequence[str] | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """One panel per output channel of a convolution kernel, on a diverging colormap centred at zero.

    Parameters
    ----------
    kernel_or_layer : array or keras layer
        A kernel (height, width, in_channels, out_channels) in Keras layout, or (height, width,
        out_channels); or a convolution layer (built, or an unbuilt
        :class:`~tfprobe.models.designed_filters.DesignedConv2D`, shown for one input channel).  Each
        panel shows the mean over the input channels (for :func:`~tfprobe.models.designed_filters.designed_filters`
        with several input channels: the design divided by their number).
    names : sequence of str, optional
        One title per output channel; by default a DesignedConv2D's ``channel_names``, else "channel k".
    path : path, optional
        Also save the figure there (atomically; format from the suffix).

    Returns
    -------
    matplotlib.figure.Figure
        One image axis per output channel (same limits ``+-max|w|``) and one shared colorbar.
    """
    if path is not None:
        check_figure_format(path)
    kernel, layer_names = _kernel_of(kernel_or_layer)
    filters = kernel.mean(axis=2)  # (h, w, out)
    count = filters.shape[-1]
    titles = list(names) if names is not None else layer_names or [f"channel {k}" for k in range(count)]
    if len(titles) != count:
        raise InvalidValueError(f"names: expected one per output channel ({count}), got {len(titles)}")
    limit = _symmetric_limit(filters)
    columns = min(count, MAX_COLUMNS)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(1.7 * columns + 0.8, 1.9 * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    image = None
    for index, axis in enumerate(axes):
        if index >= count:
            axis.remove()
            continue
        image = axis.imshow(filters[..., index], cmap=DIVERGING, vmin=-limit, vmax=limit, interpolation="nearest")
        axis.set_title(titles[index], fontsize=9)
        _clear_ticks(axis)
    figure.colorbar(image, ax=list(axes[:count]), shrink=0.85, label="weight")
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_activation_grid(
    stimuli: Any,
    activations: Any,
    channels: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
    stimulus_titles: Sequence[str] | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Stimuli (rows) and their activation maps in chosen channels (columns).

    Parameters
    ----------
    stimuli : array
        (n, height, width) or (n, height, width, channels): shown in gray (the mean over channels), all
        with the same limits.
    activations : array
        (n, height', width', c), e.g. a :class:`~tfprobe.models.designed_filters.DesignedConv2D`'s output.
    channels : sequence of int, optional
        Which of the ``c`` channels to show, in this order (default all).
    names : sequence of str, optional
        Names of *all* ``c`` channels (e.g. ``layer.channel_names``), used as column titles; default
        "channel k".
    stimulus_titles : sequence of str, optional
        One label per stimulus (row), e.g. its orientation.
    path : path, optional
        Also save the figure there (atomically; format from the suffix).

    Returns
    -------
    matplotlib.figure.Figure
        ``n * (1 + len(channels))`` image axes; every activation panel shares the limits ``+-max|a|``
        over the shown channels, with one colorbar.
    """
    if path is not None:
        check_figure_format(path)
    stimuli = np.asarray(stimuli, dtype=np.float64)
    activations = np.asarray(activations, dtype=np.float64)
    if stimuli.ndim == 4:
        stimuli = stimuli.mean(axis=-1)
    if stimuli.ndim != 3 or 0 in stimuli.shape:
        raise InvalidValueError(
            f"stimuli must be (n, height, width) or (n, height, width, channels), got {stimuli.shape}"
        )
    if activations.ndim != 4 or 0 in activations.shape:
        raise InvalidValueError(f"activations must be (n, height, width, channels), got shape {activations.shape}")
    count, depth = len(stimuli), activations.shape[-1]
    if len(activations) != count:
        raise InvalidValueError(f"activations: expected one map per stimulus ({count}), got {len(activations)}")
    chosen = list(range(depth)) if channels is None else [int(c) for c in channels]
    if not chosen:
        raise InvalidValueError("channels: expected at least one channel, got none")
    bad = [c for c in chosen if not 0 <= c < depth]
    if bad:
        raise InvalidValueError(f"channels must be in [0, {depth - 1}] (activations have {depth}), got {bad}")
    labels = list(names) if names is not None else [f"channel {k}" for k in range(depth)]
    if len(labels) != depth:
        raise InvalidValueError(f"names: expected one per activation channel ({depth}), got {len(labels)}")
    if stimulus_titles is not None and len(stimulus_titles) != count:
        raise InvalidValueError(f"stimulus_titles: expected one per stimulus ({count}), got {len(stimulus_titles)}")
    shown = activations[..., chosen]
    limit = _symmetric_limit(shown)
    low, high = float(stimuli.min()), float(stimuli.max())
    if high <= low:
        low, high = low - 0.5, high + 0.5
    columns = 1 + len(chosen)
    aspect = activations.shape[2] / activations.shape[1]
    figure = Figure(figsize=(1.6 * aspect * columns + 1.2, 1.6 * count + 0.4), layout="constrained")
    axes = figure.subplots(count, columns, squeeze=False)
    image = None
    for row in range(count):
        axis = axes[row, 0]
        axis.imshow(stimuli[row], cmap="gray", vmin=low, vmax=high, interpolation="nearest")
        _clear_ticks(axis)
        if stimulus_titles is not None:
            axis.set_ylabel(str(stimulus_titles[row]), fontsize=9)
        if row == 0:
            axis.set_title("stimulus", fontsize=9)
        for column, channel in enumerate(chosen, start=1):
            axis = axes[row, column]
            image = axis.imshow(
                shown[row, ..., column - 1], cmap=DIVERGING, vmin=-limit, vmax=limit, interpolation="nearest"
            )
            _clear_ticks(axis)
            if row == 0:
                axis.set_title(labels[channel], fontsize=9)
    figure.colorbar(image, ax=list(axes[:, 1:].ravel()), shrink=0.8, label="activation")
    if path is not None:
        save_figure(figure, path)
    return figure
