"""The pages of a unit atlas: one self-contained HTML page per layer, and an index linking them.

A layer's page has one section per channel (``id="channel-<c>"``): the channel's feature visualisation, its
top and bottom dataset examples (receptive-field crops when the unit has a field, pixels beyond the image's
border tinted red, else whole images; each with its score and source index), its strongest excitatory and
inhibitory inputs (linked to their sections on the previous layer's page when that layer is in the atlas)
and the channels of the next layer it drives most (linked likewise).  For a layer of several units (the
recurrent network's time steps) a row of buttons above the sections chooses the time step whose
visualisations and examples are shown: plain radio buttons and CSS, no script.

Everything is inside the page (base64 PNG data URIs, an inline style sheet); the only links are to the
atlas's other pages and the optional circuit-explorer pages beside them.  All text is escaped.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tfprobe.examples.atlas_links import Weight
from tfprobe.figures.circuits import display_image
from tfprobe.figures.dataset_examples import display_range
from tfprobe.figures.html import document, png_uri

__all__ = ["LayerSheet", "index_page", "layer_page"]

#: How much of a crop pixel beyond the image's border is the tint (red).
_TINT = 0.5

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fff; }
h1 { font-size: 1.35em; margin-bottom: 0.3em; }
h1 small, h3 small { font-weight: normal; color: #666; }
h2 { font-size: 1.05em; margin: 0 0 0.5em; }
h2 a { color: inherit; text-decoration: none; }
h3 { font-size: 0.85em; margin: 0.6em 0 0.3em; }
.summary, .note, .nav { font-size: 0.85em; color: #444; max-width: 75em; }
.note { font-style: italic; }
nav.channels { font-size: 0.8em; line-height: 1.8; max-width: 75em; }
nav.channels a { margin-right: 0.4em; }
section.channel { border-top: 1px solid #ddd; padding: 1em 0; }
.panels { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.step-panels { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
figure { margin: 0; text-align: center; font-size: 0.75em; }
figure.visualization { width: 136px; }
figure.visualization img { width: 128px; height: 128px; }
img { image-rendering: pixelated; border: 1px solid #ccc; }
ol.examples { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 4px; max-width: 44em; }
li.example { display: flex; flex-direction: column; align-items: center; font-size: 0.7em; }
li.example img { width: 64px; height: 64px; }
.score { font-variant-numeric: tabular-nums; }
.index { color: #888; }
.wiring { font-size: 0.8em; min-width: 16em; }
.wiring ul { list-style: none; padding: 0; margin: 0; }
.wiring li { white-space: nowrap; line-height: 1.5; }
.excitatory .kind { color: #b2182b; }
.inhibitory .kind { color: #2166ac; }
.none { color: #777; font-style: italic; }
table { border-collapse: collapse; font-size: 0.85em; margin-top: 1em; }
th, td { padding: 0.25em 0.8em; text-align: left; border-bottom: 1px solid #eee; }
th { background: #f4f4f4; }
.timestep-choice { position: absolute; opacity: 0; pointer-events: none; }
.timesteps label { display: inline-block; padding: 0.15em 0.7em; margin-right: 0.2em; border: 1px solid #999;
  border-radius: 3px; cursor: pointer; font-size: 0.85em; }
.step { display: none; }
"""


@dataclasses.dataclass
class LayerSheet:
    """What the page of one atlas layer shows.

    Attributes
    ----------
    layer : str
        The layer as the atlas was asked for it.
    page : str
        Its page's file name.
    units : list of str
        The units shown: the layer itself, or one per time step of the recurrent network.
    steps : list of int or None
        The time step of each unit (None for a unit without one).
    channels : list of int
    visualizations : dict of str to (images, values)
        Per unit: its channels' feature visualisations (channels, rows, columns, image channels) in [0, 1]
        and the objective each reached.
    examples : dict of str to DatasetExamples
        Per unit.
    reads : str
        What the layer's circuits read, in words ("conv1", "the image"), or why it has none.
    source : str or None
        The atlas layer its inputs are channels of.
    inputs : dict of int to list of Weight, or None
        Per channel, every input channel, strongest first (None: no circuits).
    drives : dict of int to list of (str, Weight)
        Per channel, the channels of the next atlas layers it drives most.
    explorers : dict of int to str
        Per channel, the URL of its circuit-explorer page (when the atlas wrote them).
    """

    layer: str
    page: str
    units: list[str]
    steps: list[int | None]
    channels: list[int]
    visualizations: dict[str, tuple[np.ndarray, np.ndarray]]
    examples: dict[str, Any]
    reads: str
    source: str | None = None
    inputs: dict[int, list[Weight]] | None = None
    drives: dict[int, list[tuple[str, Weight]]] = dataclasses.field(default_factory=dict)
    explorers: dict[int, str] = dataclasses.field(default_factory=dict)

    @property
    def stepped(self) -> bool:
        """Whether the page chooses between units (time steps)."""
        return len(self.units) > 1


def _tinted(image: np.ndarray, outside: np.ndarray | None) -> np.ndarray:
    """An example for display: in [0, 1], grayscale 2-D, RGB where pixels beyond the border are tinted red."""
    shown = display_range(image)
    if outside is None or not outside.any():
        return shown
    rgb = np.repeat(shown[..., None], 3, axis=-1) if shown.ndim == 2 else shown.copy()
    rgb[outside] = (1.0 - _TINT) * rgb[outside] + _TINT * np.array([1.0, 0.0, 0.0], np.float32)
    return rgb


@dataclasses.dataclass
class _Shown:
    """One unit's examples, read once for every channel of the page: images (channels, k, ...) and scores."""

    kind: str
    #: "top" / "bottom" -> images, scores, source indices, and where crops lie beyond the border
    lists: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]
    note: str


def _shown(examples: Any, channels: list[int]) -> _Shown:
    kind = "crop" if examples.field is not None else "whole"
    rows = examples.rows(channels)
    lists = {}
    for which in ("top", "bottom"):
        if which == "bottom" and examples.bottom_indices is None:
            continue
        scores = examples.scores if which == "top" else examples.bottom_scores
        indices = examples.indices if which == "top" else examples.bottom_indices
        outside = examples.outside(which, channels) if kind == "crop" else None
        lists[which] = (examples.images(kind, which, channels), scores[rows], indices[rows], outside)
    note = examples.field.note if examples.field is not None else examples.no_field
    return _Shown(kind, lists, note)


def _example_list(shown: _Shown, which: str, row: int, layer: str, channel: int) -> str:
    images, scores, indices, outside = shown.lists[which]
    items = []
    for j in range(images.shape[1]):
        mask = None if outside is None else outside[row, j]
        uri = png_uri(_tinted(images[row, j], mask))
        index, score = int(indices[row, j]), float(scores[row, j])
        alt = html.escape(f"{layer} channel {channel}: {which} example {j + 1}, image {index}, score {score:.4g}")
        items.append(
            f'<li class="example" data-index="{index}" data-score="{score:.6g}">'
            f'<img src="{uri}" alt="{alt}"><span class="score">{score:.3g}</span>'
            f'<span class="index">#{index}</span></li>'
        )
    return f'<ol class="examples {which}">{"".join(items)}</ol>'


def _step_block(sheet: LayerSheet, position: int, row: int, shown: _Shown) -> str:
    unit = sheet.units[position]
    channel = sheet.channels[row]
    images, values = sheet.visualizations[unit]
    e = html.escape
    picture = png_uri(display_image(images[row], f"the visualisation of {unit} channel {channel}"))
    alt = e(f"feature visualisation of {unit} channel {channel}")
    figure = (
        f'<figure class="visualization"><img src="{picture}" alt="{alt}">'
        f"<figcaption>feature visualisation<br>{e(unit)}, objective {float(values[row]):.3g}</figcaption></figure>"
    )
    what = "receptive-field crops" if shown.kind == "crop" else "whole images"
    parts = [f'<div class="examples"><h3>top {shown.lists["top"][0].shape[1]} <small>({what})</small></h3>']
    parts.append(_example_list(shown, "top", row, unit, channel))
    if "bottom" in shown.lists:
        parts.append(f"<h3>bottom {shown.lists['bottom'][0].shape[1]}</h3>")
        parts.append(_example_list(shown, "bottom", row, unit, channel))
    if sheet.stepped and shown.note:
        parts.append(f'<p class="note">{e(shown.note)}</p>')
    parts.append("</div>")
    step = sheet.steps[position]
    classes = "step-panels" + (f" step step-{position}" if sheet.stepped else "")
    label = "" if step is None else f' data-timestep="{step}"'
    return f'<div class="{classes}" data-unit="{e(unit)}"{label}>{figure}{"".join(parts)}</div>'


def _weight_line(weight: Weight, label: str, href: str | None) -> str:
    e = html.escape
    name = f'<a href="{e(href)}">{e(label)}</a>' if href else e(label)
    return (
        f'{name} &middot; <span class="kind">{weight.kind}</span> &middot; l2 {weight.l2:.3g} &middot; '
        f"net {weight.net:.3g}"
    )


def _wiring(sheet: LayerSheet, channel: int, pages: Mapping[str, str], count: int) -> str:
    e = html.escape
    parts = ['<div class="wiring">']
    if sheet.inputs is None:
        parts.append(f'<h3>Inputs</h3><p class="none">{e(sheet.reads)}</p>')
    else:
        source_page = pages.get(sheet.source) if sheet.source is not None else None
        weights = sheet.inputs.get(channel, [])
        parts.append(f"<h3>Strongest inputs <small>from {e(sheet.reads)}</small></h3>")
        for kind in ("excitatory", "inhibitory"):
            chosen = [w for w in weights if w.kind == kind][:count]
            items = "".join(
                f'<li class="input {kind}" data-channel="{w.channel}">'
                + _weight_line(w, f"channel {w.channel}", f"{source_page}#channel-{w.channel}" if source_page else None)
                + "</li>"
                for w in chosen
            )
            empty = f'<li class="none">no {kind} inputs</li>'
            parts.append(f'<ul class="inputs {kind}">{items or empty}</ul>')
    edges = sheet.drives.get(channel, [])
    if edges:
        items = "".join(
            f'<li class="drive {w.kind}" data-layer="{e(layer)}" data-channel="{w.channel}">'
            + _weight_line(w, f"{layer} channel {w.channel}", f"{pages[layer]}#channel-{w.channel}")
            + "</li>"
            for layer, w in edges
        )
        parts.append(f'<h3>Drives most</h3><ul class="drives">{items}</ul>')
    explorer = sheet.explorers.get(channel)
    if explorer is not None:
        parts.append(f'<p><a class="explorer" href="{e(explorer)}">circuit explorer of channel {channel}</a></p>')
    parts.append("</div>")
    return "".join(parts)


def _header(sheet: LayerSheet, pages: Mapping[str, str], model: str, summary: str) -> str:
    e = html.escape
    others = " &middot; ".join(
        f"<strong>{e(layer)}</strong>" if layer == sheet.layer else f'<a href="{e(page)}">{e(layer)}</a>'
        for layer, page in pages.items()
    )
    parts = [
        f'<header><p class="nav"><a href="index.html">index</a> &middot; layers: {others}</p>',
        f"<h1>{e(sheet.layer)} <small>unit atlas of {e(model)}</small></h1>",
        f'<p class="summary">{e(summary)}</p>',
    ]
    if sheet.stepped:
        labels = "".join(
            f'<label for="timestep-{i}">{e("t" + str(step) if step is not None else unit)}</label>'
            for i, (unit, step) in enumerate(zip(sheet.units, sheet.steps, strict=True))
        )
        parts.append(f'<nav class="timesteps">time step: {labels}</nav>')
    links = "".join(f'<a href="#channel-{c}">{c}</a>' for c in sheet.channels)
    parts.append(f'<nav class="channels">channels: {links}</nav></header>')
    return "".join(parts)


def _step_style(count: int) -> str:
    rules = []
    for i in range(count):
        rules.append(f"#timestep-{i}:checked ~ main .step-{i} {{ display: flex; }}")
        rules.append(f'#timestep-{i}:checked ~ header label[for="timestep-{i}"] {{ background: #222; color: #fff; }}')
    return "\n".join(rules) + "\n"


def layer_page(sheet: LayerSheet, pages: Mapping[str, str], *, model: str, summary: str, inputs: int = 3) -> str:
    """The page of one atlas layer.

    Parameters
    ----------
    sheet : LayerSheet
    pages : mapping of str to str
        Every atlas layer's page file name, in the atlas's order (the navigation and the links between
        layers).
    model : str
        The model's name, for the heading.
    summary : str
        A line on what the page shows (examples, source, field).
    inputs : int
        Inputs of each kind listed per channel.

    Returns
    -------
    str
        The page.  Channel sections are ``<section class="channel" id="channel-<c>" data-channel="<c>">``;
        examples ``<li class="example" data-index="<source index>" data-score="...">`` in
        ``<ol class="examples top|bottom">``; for several units, each unit's panels are
        ``<div class="step step-<i>" data-unit="..." data-timestep="...">`` chosen by the radio buttons
        ``#timestep-<i>``.
    """
    e = html.escape
    shown = {unit: _shown(sheet.examples[unit], sheet.channels) for unit in sheet.units}
    sections = []
    for row, channel in enumerate(sheet.channels):
        blocks = "".join(_step_block(sheet, i, row, shown[unit]) for i, unit in enumerate(sheet.units))
        sections.append(
            f'<section class="channel" id="channel-{channel}" data-channel="{channel}">'
            f'<h2><a href="#channel-{channel}">{e(sheet.layer)} channel {channel}</a></h2>'
            f'<div class="panels"><div class="steps">{blocks}</div>'
            f"{_wiring(sheet, channel, pages, inputs)}</div></section>"
        )
    radios = ""
    style = _STYLE
    if sheet.stepped:
        radios = "".join(
            f'<input type="radio" class="timestep-choice" name="timestep" id="timestep-{i}"'
            f"{' checked' if i == 0 else ''}>"
            for i in range(len(sheet.units))
        )
        style += _step_style(len(sheet.units))
    body = f"{radios}{_header(sheet, pages, model, summary)}<main>{''.join(sections)}</main>"
    return document(f"{sheet.layer}: unit atlas of {model}", style, body)


def index_page(sheets: Sequence[LayerSheet], *, model: str, facts: Sequence[str], explorers: bool = False) -> str:
    """The atlas's index: a table of its layers linking their pages.

    Parameters
    ----------
    sheets : sequence of LayerSheet
    model : str
    facts : sequence of str
        Lines on how the atlas was made (images, examples, visualisation).
    explorers : bool
        Whether circuit-explorer pages were written (said on the page).

    Returns
    -------
    str
    """
    e = html.escape
    rows = "".join(
        f'<tr><td><a href="{e(sheet.page)}">{e(sheet.layer)}</a></td><td>{e(", ".join(sheet.units))}</td>'
        f"<td>{len(sheet.channels)}</td><td>{e(sheet.reads)}</td></tr>"
        for sheet in sheets
    )
    lines = "".join(f"<li>{e(fact)}</li>" for fact in facts)
    extra = "<li>each channel links to its circuit-explorer page (circuits/)</li>" if explorers else ""
    body = (
        f"<h1>Unit atlas <small>of {e(model)}</small></h1>"
        f'<ul class="summary">{lines}{extra}</ul>'
        "<table><thead><tr><th>layer</th><th>units</th><th>channels</th><th>inputs from</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    return document(f"Unit atlas of {model}", _STYLE, body)
