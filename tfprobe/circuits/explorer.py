"""A circuit as one self-contained HTML page, after the Distill weight explorer.

The page shows what :func:`tfprobe.figures.circuits.circuit_figure` draws: the filter's feature
visualisation in the centre with its layer, filter index and bias; on the left the ``k`` strongest
excitatory inputs and on the right the ``k`` strongest inhibitory ones (by L2 norm).  Each input gives its
visualisation, its kernel slice as an inline SVG heatmap on a red-blue scale centred at zero (one symmetric
scale for the page, with a legend; hovering a cell shows its weight), its channel, the input layer and its
L2 norm, positive and negative sums, net weight and negative share.  A table of every input, ranked,
follows.

Everything is inside the file: images are base64 PNG data URIs, the style sheet is inline, and there is no
script, so the page opens anywhere, offline, and can be mailed or archived as is.  All text is escaped.
With ``atlas=`` the page also links to the unit atlas (:func:`tfprobe.atlas`): the filter to its section
of its layer's atlas page, each listed input to its channel on the input layer's page.

    circuit = tfprobe.circuit(model, "block5_conv2", 2).render(k=10)
    save_explorer(circuit, "block5_conv2_2.html", k=10)
    save_explorer(circuit, "atlas/circuits/block5_conv2_2.html", atlas="../block5_conv2.html")
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize, to_hex

from tfprobe.atomic import check_destination, staged
from tfprobe.errors import FolderNotFileError, InvalidTypeError, InvalidValueError
from tfprobe.figures.circuits import KERNEL_CMAP, chosen_inputs, display_image, kernel_limit
from tfprobe.figures.html import document, file_safe, png_uri

__all__ = ["explorer_html", "save_explorer"]

_CELL = 14  # pixels per kernel weight in the SVG heatmaps

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fff; }
h1 { font-size: 1.3em; }
h2 { font-size: 1.05em; margin: 0.2em 0 0.6em; }
.explorer { display: grid; grid-template-columns: 1fr auto 1fr; gap: 2em; align-items: start; }
.centre { text-align: center; }
.centre img, .centre .placeholder { width: 224px; height: 224px; }
.inputs { list-style: none; padding: 0; margin: 0; }
.input { display: flex; gap: 0.6em; align-items: center; margin-bottom: 0.8em; }
.input img, .input .placeholder { width: 72px; height: 72px; flex: none; }
img { image-rendering: pixelated; border: 1px solid #ccc; }
.placeholder { display: flex; align-items: center; justify-content: center; background: #d9d9d9;
  color: #555; font-size: 0.75em; text-align: center; border: 1px solid #ccc; }
.kernel { flex: none; border: 1px solid #999; }
.facts { font-size: 0.8em; line-height: 1.35; white-space: nowrap; }
.excitatory .channel { color: #b2182b; }
.inhibitory .channel { color: #2166ac; }
.channel { font-weight: bold; }
.none { color: #777; font-style: italic; }
.legend { font-size: 0.75em; margin-top: 1em; }
h2.all-inputs { margin-top: 2em; }
table { border-collapse: collapse; margin-top: 0.5em; font-size: 0.8em; }
th, td { padding: 0.2em 0.7em; text-align: right; border-bottom: 1px solid #eee; }
th { background: #f4f4f4; }
tr.shown { background: #fffbe6; }
a.channel { text-decoration: none; border-bottom: 1px dotted currentColor; }
.atlas { font-size: 0.8em; margin-top: 0.6em; }
"""


class _AtlasLinks:
    """Where a circuit's filter and inputs are in the unit atlas: the atlas pages of its layers, or none."""

    def __init__(self, circuit: Any, atlas: str | Mapping[str, str] | None) -> None:
        self.pages: dict[str, str] = {}
        self.grid = getattr(getattr(circuit, "source", None), "grid", None)
        if atlas is None:
            return
        if isinstance(atlas, str):
            if not atlas:
                raise InvalidValueError("atlas must be the URL of the filter's layer's atlas page, got ''")
            self.pages[str(circuit.layer)] = atlas
            if circuit.input_layer is not None:  # the input layer's page beside it, named as the atlas names it
                folder = atlas.rpartition("/")[0]
                name = f"{file_safe(str(circuit.input_layer))}.html"
                self.pages[str(circuit.input_layer)] = f"{folder}/{name}" if folder else name
        elif isinstance(atlas, Mapping):
            if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in atlas.items()):
                raise InvalidTypeError(f"atlas must map layer names to page URLs (str to str), got {dict(atlas)!r}")
            self.pages.update(atlas)
        else:
            raise InvalidTypeError(
                f"atlas must be a page URL (str) or a mapping of layer names to page URLs, got {type(atlas).__name__}"
            )

    def filter(self, circuit: Any) -> str | None:
        """The atlas URL of the filter's channel section, if its layer has a page."""
        page = self.pages.get(str(circuit.layer))
        return None if page is None else f"{page}#channel-{circuit.filter}"

    def input(self, circuit: Any, channel: int) -> str | None:
        """The atlas URL of an input's channel section (a flattened map's neuron: its channel's)."""
        page = None if circuit.input_layer is None else self.pages.get(str(circuit.input_layer))
        if page is None:
            return None
        if self.grid is not None:
            channel = int(np.unravel_index(channel, self.grid)[-1])
        return f"{page}#channel-{channel}"


def _image(image: Any, alt: str, what: str) -> str:
    if image is None:
        return f'<div class="placeholder" title="{html.escape(alt)}">not rendered</div>'
    uri = png_uri(display_image(image, what))
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _kernel_svg(kernel: np.ndarray, limit: float, label: str) -> str:
    """A kernel ``(kh, kw)`` as an SVG heatmap, one rect per weight titled with its value."""
    rows, columns = kernel.shape
    colormap = colormaps[KERNEL_CMAP]
    norm = Normalize(-limit, limit)
    cells = []
    for y in range(rows):
        for x in range(columns):
            value = float(kernel[y, x])
            cells.append(
                f'<rect x="{x * _CELL}" y="{y * _CELL}" width="{_CELL}" height="{_CELL}" '
                f'fill="{to_hex(colormap(norm(value)))}"><title>{value:.4g}</title></rect>'
            )
    return (
        f'<svg class="kernel" xmlns="http://www.w3.org/2000/svg" width="{columns * _CELL}" '
        f'height="{rows * _CELL}" viewBox="0 0 {columns * _CELL} {rows * _CELL}" role="img" '
        f'aria-label="{html.escape(label)}">{"".join(cells)}</svg>'
    )


def _legend(limit: float) -> str:
    colormap = colormaps[KERNEL_CMAP]
    stops = "".join(f'<stop offset="{t:.2f}" stop-color="{to_hex(colormap(t))}"/>' for t in np.linspace(0.0, 1.0, 11))
    return (
        '<div class="legend">kernel weight: '
        f"{-limit:.3g} "
        '<svg width="160" height="12" xmlns="http://www.w3.org/2000/svg" aria-label="colour scale">'
        f'<defs><linearGradient id="scale">{stops}</linearGradient></defs>'
        '<rect width="160" height="12" fill="url(#scale)"/></svg>'
        f" {limit:.3g} (blue inhibits, red excites; 0 is white)</div>"
    )


def _entry(circuit: Any, record: Any, limit: float, links: _AtlasLinks) -> str:
    source = "image" if circuit.input_layer is None else circuit.input_layer
    e = html.escape
    target = links.input(circuit, record.channel)
    label = f"channel {record.channel}"
    if target is None:
        label = f'<span class="channel">{label}</span>'
    else:
        label = f'<a class="channel" href="{e(target)}" title="this channel in the unit atlas">{label}</a>'
    facts = (
        f"{label} of {e(str(source))}<br>"
        f"l2 {record.l2:.4g} &middot; net {record.net:.4g}<br>"
        f"positive {record.positive:.4g} &middot; negative {record.negative:.4g}<br>"
        f"negative share {100 * record.negative_share:.1f}%"
    )
    image = _image(
        circuit.input_images.get(record.channel),
        f"{source} channel {record.channel}",
        f"input channel {record.channel}'s image",
    )
    kernel = _kernel_svg(circuit.kernel_of(record.channel), limit, f"kernel of channel {record.channel}")
    return (
        f'<li class="input {e(record.kind)}" data-channel="{record.channel}">'
        f'{image}{kernel}<div class="facts">{facts}</div></li>'
    )


def _column(circuit: Any, kind: str, records: list[Any], limit: float, links: _AtlasLinks) -> str:
    if records:
        items = "".join(_entry(circuit, record, limit, links) for record in records)
    else:
        items = f'<li class="none">no {kind} inputs</li>'
    return f'<section class="{kind}"><h2>{kind} inputs</h2><ul class="inputs">{items}</ul></section>'


def _centre(circuit: Any, counts: tuple[int, int], limit: float, links: _AtlasLinks) -> str:
    e = html.escape
    source = "the image" if circuit.input_layer is None else circuit.input_layer
    kh, kw = circuit.kernel.shape[:2]
    image = _image(
        circuit.filter_image,
        f"{circuit.layer} filter {circuit.filter}",
        f"the image of {circuit.layer!r} filter {circuit.filter}",
    )
    return (
        f'<section class="centre">{image}'
        f"<h2>{e(str(circuit.layer))} filter {circuit.filter}</h2>"
        f'<div class="facts">bias {circuit.bias:.4g}<br>{len(circuit.inputs)} input channels from {e(str(source))}, '
        f"kernel {kh}&times;{kw}<br>{counts[0]} excitatory, {counts[1]} inhibitory</div>"
        f"{_legend(limit)}{_atlas_link(links.filter(circuit))}</section>"
    )


def _atlas_link(target: str | None) -> str:
    if target is None:
        return ""
    return f'<p class="atlas"><a class="atlas" href="{html.escape(target)}">this filter in the unit atlas</a></p>'


def _table(circuit: Any, shown: set[int]) -> str:
    head = "".join(
        f"<th>{name}</th>"
        for name in ("rank", "channel", "kind", "l2", "positive", "negative", "net", "negative share")
    )
    rows = []
    for r in circuit.inputs:
        marked = ' class="shown"' if r.channel in shown else ""
        rows.append(
            f"<tr{marked}><td>{r.rank}</td><td>{r.channel}</td><td>{html.escape(r.kind)}</td><td>{r.l2:.4g}</td>"
            f"<td>{r.positive:.4g}</td><td>{r.negative:.4g}</td><td>{r.net:.4g}</td>"
            f"<td>{100 * r.negative_share:.1f}%</td></tr>"
        )
    return (
        '<h2 class="all-inputs">All inputs, by L2 norm</h2><table class="all-inputs">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def explorer_html(
    circuit: Any, k: int = 10, *, title: str | None = None, atlas: str | Mapping[str, str] | None = None
) -> str:
    """A circuit as a self-contained HTML page (inline images and style, no script, nothing external).

    Parameters
    ----------
    circuit : Circuit
        A :class:`~tfprobe.circuits.circuit.Circuit`, rendered or not (missing images are "not rendered"
        placeholders).
    k : int
        Inputs of each kind listed beside the filter, by L2 norm (fewer when a kind has fewer); the table
        below lists every input.
    title : str, optional
        The page's title and heading (default: "Circuit of <layer> filter <filter>").
    atlas : str or mapping of str to str, optional
        Links to the unit atlas (:func:`tfprobe.atlas`): the URL of the atlas page of the filter's layer
        (relative to this page), whose ``#channel-<filter>`` section the page links to; each listed input
        links to ``#channel-<c>`` of the input layer's page, taken to be beside it and named as the atlas
        names pages (:func:`tfprobe.figures.html.file_safe`).  A mapping of layer names (the circuit's
        ``layer`` and ``input_layer``) to page URLs says exactly where each page is; a layer it leaves out
        is not linked.  An input of a flattened map links to its channel.  Default: no links, and every
        ``src`` and ``href`` of the page is a data URI.

    Returns
    -------
    str
        The page.  Listed inputs are ``<li class="input excitatory|inhibitory" data-channel="...">``.
    """
    links = _AtlasLinks(circuit, atlas)
    excitatory, inhibitory = chosen_inputs(circuit, k)
    limit = kernel_limit(circuit, excitatory + inhibitory)
    counts = (
        sum(r.kind == "excitatory" for r in circuit.inputs),
        sum(r.kind == "inhibitory" for r in circuit.inputs),
    )
    heading = title if title is not None else f"Circuit of {circuit.layer} filter {circuit.filter}"
    shown = {r.channel for r in excitatory + inhibitory}
    body = (
        f"<h1>{html.escape(heading)}</h1>"
        '<main class="explorer">'
        f"{_column(circuit, 'excitatory', excitatory, limit, links)}"
        f"{_centre(circuit, counts, limit, links)}"
        f"{_column(circuit, 'inhibitory', inhibitory, limit, links)}"
        f"</main>{_table(circuit, shown)}"
    )
    return document(heading, _STYLE, body)


def save_explorer(
    circuit: Any,
    path: str | os.PathLike[str],
    k: int = 10,
    *,
    title: str | None = None,
    overwrite: bool = False,
    atlas: str | Mapping[str, str] | None = None,
) -> Path:
    """Write :func:`explorer_html` of a circuit to ``path`` atomically.

    Parameters
    ----------
    circuit : Circuit
    path : path
        The HTML file; its folder must exist.
    k : int
        Inputs of each kind listed beside the filter.
    title : str, optional
        As for :func:`explorer_html`.
    overwrite : bool
        Replace an existing file (otherwise FileExistsError).
    atlas : str or mapping of str to str, optional
        Links to the unit atlas, as for :func:`explorer_html`.

    Returns
    -------
    Path
        The file written.
    """
    if Path(path).is_dir():
        raise FolderNotFileError(f"explorer page {str(path)!r} is a folder: give a file path such as 'circuit.html'")
    path = check_destination(path, overwrite=overwrite, what="explorer page")
    page = explorer_html(circuit, k, title=title, atlas=atlas)
    with staged(path) as temporary:
        temporary.write_text(page, encoding="utf-8")
    return path
