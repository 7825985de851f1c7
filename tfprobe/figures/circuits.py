"""A filter's circuit as a figure: its feature visualisation between its strongest inputs of each kind.

After the Distill weight explorer: the filter's own visualisation in the centre, its ``k`` strongest
excitatory inputs (by L2 norm) in the columns on the left and its ``k`` strongest inhibitory inputs on the
right.  Each input shows its kernel slice on a red-blue scale centred at zero (red excites, blue inhibits;
one symmetric scale for every kernel of the figure, with a colorbar) beside its own visualisation, titled
with its channel, L2 norm and kind.  A missing visualisation (a circuit not yet rendered) is a grey
"not rendered" placeholder; grayscale images ``(h, w, 1)`` are drawn with a gray colormap.

    circuit = tfprobe.circuit(model, "block5_conv2", 2).render(k=5)
    figure = circuit_figure(circuit, k=5, path="block5_conv2_2.png")

The helpers :func:`chosen_inputs`, :func:`kernel_limit` and :func:`display_image` pick the inputs, the
colour scale and check the images for both this figure and :mod:`tfprobe.circuits.explorer`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tfprobe.errors import InvalidValueError
from tfprobe.figures.saving import save_figure
from tfprobe.validation import check_int

__all__ = ["KERNEL_CMAP", "chosen_inputs", "circuit_figure", "display_image", "kernel_limit"]

#: Diverging colormap of the kernels: blue negative (inhibitory), white zero, red positive (excitatory).
KERNEL_CMAP = "RdBu_r"

_PLACEHOLDER = "#d9d9d9"


def chosen_inputs(circuit: Any, k: int) -> tuple[list[Any], list[Any]]:
    """The ``k`` strongest excitatory and the ``k`` strongest inhibitory inputs of a circuit (by L2 norm).

    Parameters
    ----------
    circuit : Circuit
        A :class:`~tfprobe.circuits.circuit.Circuit` (anything with ``inputs`` ranked by L2 norm).
    k : int
        Inputs of each kind, at least 1; a kind with fewer inputs gives all it has.

    Returns
    -------
    excitatory, inhibitory : list of InputRecord
        Each strongest first.
    """
    k = check_int(k, "k")
    if k < 1:
        raise InvalidValueError(f"k must be at least 1, got {k}")
    excitatory = [record for record in circuit.inputs if record.kind == "excitatory"][:k]
    inhibitory = [record for record in circuit.inputs if record.kind == "inhibitory"][:k]
    return excitatory, inhibitory


def kernel_limit(circuit: Any, records: list[Any]) -> float:
    """The colour scale's half-range: the largest absolute weight of the given inputs' kernels (1 if all zero).

    Parameters
    ----------
    circuit : Circuit
    records : list of InputRecord
        The inputs whose kernels are drawn.

    Returns
    -------
    float
        Draw every kernel with ``vmin=-limit, vmax=limit``.
    """
    largest = max((float(np.max(np.abs(circuit.kernel_of(r.channel)))) for r in records), default=0.0)
    if not np.isfinite(largest):
        raise InvalidValueError(f"the kernel of {circuit.layer!r} filter {circuit.filter} has non-finite weights")
    return largest if largest > 0 else 1.0


def display_image(image: Any, what: str) -> np.ndarray:
    """A feature visualisation checked and clipped for display: ``(h, w)`` grayscale or ``(h, w, 3)`` RGB.

    Parameters
    ----------
    image : array (h, w), (h, w, 1) or (h, w, 3)
        Values in [0, 1] (clipped).
    what : str
        Names the image in errors (e.g. ``"input channel 7's image"``).

    Returns
    -------
    ndarray
        float32, 2-D for grayscale, 3-D for RGB.
    """
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)) or 0 in array.shape:
        raise InvalidValueError(f"{what} must be (h, w, 1) or (h, w, 3), got shape {np.shape(image)}")
    if not np.all(np.isfinite(array)):
        raise InvalidValueError(f"{what} has non-finite values")
    return np.clip(array, 0.0, 1.0)


def _draw_image(axis: Any, image: Any, what: str) -> None:
    axis.set_xticks([])
    axis.set_yticks([])
    if image is None:
        axis.set_facecolor(_PLACEHOLDER)
        axis.set_box_aspect(1)  # square, as the images are
        axis.text(0.5, 0.5, "not rendered", ha="center", va="center", fontsize=7, color="#555555")
        return
    shown = display_image(image, what)
    if shown.ndim == 2:
        axis.imshow(shown, cmap="gray", vmin=0.0, vmax=1.0)
    else:
        axis.imshow(shown)


def _draw_input(figure: Figure, spec: Any, circuit: Any, record: Any, limit: float, kernel_first: bool) -> Any:
    """Kernel and visualisation of one input, kernel next to the centre; returns the kernel's image."""
    left, right = spec.subgridspec(1, 2, wspace=0.05)
    kernel_axis = figure.add_subplot(left if kernel_first else right)
    image_axis = figure.add_subplot(right if kernel_first else left)
    kernel_axis.set_label(f"kernel {record.channel}")
    image_axis.set_label(f"input {record.channel}")
    shown = kernel_axis.imshow(circuit.kernel_of(record.channel), cmap=KERNEL_CMAP, vmin=-limit, vmax=limit)
    kernel_axis.set_xticks([])
    kernel_axis.set_yticks([])
    _draw_image(image_axis, circuit.input_images.get(record.channel), f"input channel {record.channel}'s image")
    label = f"ch {record.channel}  l2 {record.l2:.3g}\n{record.kind}"
    kernel_axis.set_title(label, fontsize=7, color="#b2182b" if record.kind == "excitatory" else "#2166ac")
    return shown


def _draw_side(figure: Figure, specs: Any, circuit: Any, records: list[Any], limit: float, left: bool) -> Any:
    kind = "excitatory" if left else "inhibitory"
    if not records:
        axis = figure.add_subplot(specs[0])
        axis.set_label(f"no {kind}")
        axis.set_axis_off()
        axis.text(0.5, 0.5, f"no {kind} inputs", ha="center", va="center", fontsize=8, transform=axis.transAxes)
        return None
    shown = None
    for row, record in enumerate(records):
        shown = _draw_input(figure, specs[row], circuit, record, limit, kernel_first=not left)
    return shown


def circuit_figure(
    circuit: Any,
    k: int = 5,
    *,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """A circuit's filter visualisation in the centre, its top-``k`` excitatory inputs left, inhibitory right.

    Parameters
    ----------
    circuit : Circuit
        A :class:`~tfprobe.circuits.circuit.Circuit`, rendered (:meth:`~tfprobe.circuits.circuit.Circuit.render`)
        or not (missing images are "not rendered" placeholders).
    k : int
        Inputs of each kind, by L2 norm (fewer when a kind has fewer).
    title : str, optional
        The figure's title (default: layer, filter and where the inputs come from).
    path : path, optional
        Also save the figure there (format from the suffix, see :func:`~tfprobe.figures.save_figure`).

    Returns
    -------
    Figure
        Axes: the centre (label ``"filter"``), per input a kernel (``"kernel <channel>"``) and an image
        (``"input <channel>"``), one ``"no <kind>"`` axis for a kind without inputs, and the colorbar.
    """
    excitatory, inhibitory = chosen_inputs(circuit, k)
    limit = kernel_limit(circuit, excitatory + inhibitory)
    rows = max(len(excitatory), len(inhibitory), 1)
    figure = Figure(figsize=(9.5, max(3.2, 1.25 * rows + 0.9)), layout="constrained")
    grid = figure.add_gridspec(rows, 4, width_ratios=[2, 2.6, 2, 0.12])

    centre = figure.add_subplot(grid[:, 1])
    centre.set_label("filter")
    _draw_image(centre, circuit.filter_image, f"the image of {circuit.layer!r} filter {circuit.filter}")
    centre.set_title(f"{circuit.layer} filter {circuit.filter}\nbias {circuit.bias:.3g}", fontsize=9)

    left = _draw_side(figure, [grid[row, 0] for row in range(rows)], circuit, excitatory, limit, left=True)
    right = _draw_side(figure, [grid[row, 2] for row in range(rows)], circuit, inhibitory, limit, left=False)
    shown = left if left is not None else right
    colorbar_axis = figure.add_subplot(grid[:, 3])
    colorbar_axis.set_label("colorbar")
    if shown is not None:
        figure.colorbar(shown, cax=colorbar_axis, label="weight")
    else:  # a circuit without inputs: nothing to scale
        colorbar_axis.set_axis_off()

    source = "the image" if circuit.input_layer is None else circuit.input_layer
    default = f"Circuit of {circuit.layer} filter {circuit.filter}: excitatory (left) and inhibitory (right) inputs"
    figure.suptitle(title if title is not None else f"{default} from {source}", fontsize=10)
    if path is not None:
        save_figure(figure, path)
    return figure
