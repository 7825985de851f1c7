"""The unit atlas: for every channel of some layers, what it looks for, what drives it and what it drives.

:func:`atlas` writes a folder of self-contained HTML pages, one per layer (:mod:`tfprobe.examples.atlas_page`)
and an index.  Each channel gets its feature visualisation (every channel of a layer, at every time step of
the recurrent network, optimised in one batch of one :func:`tfprobe.visualize.render` call), its top and
bottom dataset examples (:func:`tfprobe.dataset_examples`: every layer in one streamed pass), its strongest
excitatory and inhibitory inputs (:func:`tfprobe.circuit`) and the channels of the next layer it drives most,
each linked to its section on the neighbouring layer's page (:mod:`tfprobe.examples.atlas_links`).

Every argument is checked first, then the work runs from the cheapest to the dearest (examples, circuits,
visualisations), so that images the model cannot take stop it before any rendering, and the folder is
written last, all at once: complete or absent.  The result says how long each part took.

    site = tfprobe.atlas(model, ["conv1", "conv2", "fc1"], images, out="atlas", steps=64)
    print(site)       # pages written and how the time split
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import tfprobe
from tfprobe.atomic import check_destination, staged
from tfprobe.errors import ExistingOutputError, InvalidIndexError, InvalidTypeError, InvalidValueError, UnknownUnitError
from tfprobe.examples.atlas_links import Wiring, wire
from tfprobe.examples.atlas_page import LayerSheet, index_page, layer_page
from tfprobe.examples.search import dataset_examples
from tfprobe.figures.html import file_safe
from tfprobe.validation import check_int, is_int

__all__ = ["PARTS", "AtlasResult", "atlas"]

#: The parts of the work :attr:`AtlasResult.seconds` times, in the order they run ("total" is their sum
#: with the checks).
PARTS = ("examples", "circuits", "visualization", "writing")

#: Page names the atlas keeps for itself.
_RESERVED = frozenset({"index", "atlas"})

#: Where the circuit-explorer pages go, inside the atlas's folder.
EXPLORERS = "circuits"


@dataclasses.dataclass(frozen=True)
class AtlasResult:
    """What :func:`atlas` wrote, and how long each part took.

    Attributes
    ----------
    folder : Path
        The atlas's folder.
    index : Path
        Its ``index.html``.
    pages : dict of str to Path
        Each layer's page, in the order the layers were given.
    explorers : dict of str to dict of int to Path
        Per layer, per channel: its circuit-explorer page (empty unless ``explorers=True``).
    seconds : dict of str to float
        Wall time of each part: ``"examples"`` (the pass over the images), ``"circuits"`` (reading and
        linking the weights), ``"visualization"`` (rendering), ``"writing"`` (pages and files), and
        ``"total"``.
    units : dict of str to list of str
        Each layer's units (the recurrent network's: one per time step shown).
    channels : dict of str to list of int
        Each layer's channels shown.
    examples : dict of str to DatasetExamples
        The dataset examples of every unit (what the pages show).
    visualizations : dict of str to Visualization
        Each layer's rendering (its images: the layer's units one after another, each with every channel).
    """

    folder: Path
    index: Path
    pages: dict[str, Path]
    explorers: dict[str, dict[int, Path]]
    seconds: dict[str, float]
    units: dict[str, list[str]]
    channels: dict[str, list[int]]
    examples: dict[str, Any] = dataclasses.field(repr=False)
    visualizations: dict[str, Any] = dataclasses.field(repr=False)

    def timing(self) -> str:
        """How the time split, one part a line: seconds and share of the total."""
        total = self.seconds["total"]
        lines = []
        for part in PARTS:
            share = 100.0 * self.seconds[part] / total if total > 0 else 0.0
            lines.append(f"{part:>13}: {self.seconds[part]:8.2f} s  {share:5.1f}%")
        lines.append(f"{'total':>13}: {total:8.2f} s")
        return "\n".join(lines)

    def __str__(self) -> str:
        channels = sum(len(c) for c in self.channels.values())
        return (
            f"unit atlas of {len(self.pages)} layers ({channels} channels) in {self.folder}: "
            f"{', '.join(p.name for p in self.pages.values())}, index.html\n{self.timing()}"
        )


# ---------------------------------------------------------------------------------------------- checks


def _probe(model_or_probe: Any) -> Any:
    from tfprobe.probe import Probe

    return model_or_probe if isinstance(model_or_probe, Probe) else Probe(model_or_probe)


def _names(layers: Any) -> list[str]:
    names = [layers] if isinstance(layers, str) else list(layers) if isinstance(layers, Sequence) else None
    if names is None or not all(isinstance(name, str) and name for name in names):
        raise InvalidTypeError(f"layers must be a layer name or a sequence of layer names (str), got {layers!r}")
    if not names:
        raise InvalidValueError("layers is empty: name at least one layer")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidValueError(f"layers repeat: {repeated}")
    return names


def _step_count(probe: Any) -> int:
    """The recurrent network's number of time steps (0 for a model without them)."""
    steps = [info.timestep for info in probe.units.values() if info.timestep is not None]
    return max(steps) + 1 if steps else 0


def _timesteps(timesteps: Any, count: int, model: str) -> list[int] | None:
    if timesteps is None:
        return None
    if count == 0:
        raise InvalidValueError(f"timesteps= is for the recurrent network; model {model!r} has no time steps")
    chosen = [timesteps] if is_int(timesteps) else list(timesteps) if isinstance(timesteps, Sequence) else None
    if not chosen or not all(is_int(t) for t in chosen):
        raise InvalidValueError(f"timesteps must be time steps (ints), got {timesteps!r}")
    bad = [int(t) for t in chosen if not 0 <= t < count]
    if bad:
        raise InvalidIndexError(f"time steps {bad} out of range: the network has {count} (0-{count - 1})")
    return sorted({int(t) for t in chosen})


def _units(probe: Any, names: list[str], timesteps: list[int] | None) -> dict[str, list[str]]:
    """Each layer's units, checked: known (the closest names suggested), maps or vectors, one channel count."""
    units: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    for name in names:
        resolved = probe.resolve(name)  # UnknownUnitError with the closest names
        shared = [unit for unit in resolved if unit in owner]
        if shared:
            raise InvalidValueError(
                f"layers {owner[shared[0]]!r} and {name!r} both show unit {shared[0]!r}: give it once"
            )
        owner.update({unit: name for unit in resolved})
        if timesteps is not None:
            resolved = [u for u in resolved if probe.units[u].timestep is None or probe.units[u].timestep in timesteps]
        for unit in resolved:
            shape = probe.units[unit].shape
            if len(shape) not in (1, 3):
                raise InvalidTypeError(
                    f"unit {unit!r} of layer {name!r} has shape {shape}: the atlas shows channels of maps (rows, "
                    "columns, channels) and vectors (channels,)"
                )
        if not resolved:
            raise InvalidValueError(f"layer {name!r} has no unit at time steps {timesteps}")
        counts = {int(probe.units[u].shape[-1]) for u in resolved}
        if len(counts) != 1:
            raise InvalidValueError(f"the units of layer {name!r} have different numbers of channels: {sorted(counts)}")
        units[name] = resolved
    return units


def _channel_list(value: Any, layer: str, count: int) -> list[int]:
    chosen = [value] if is_int(value) else list(value) if isinstance(value, (Sequence, range, np.ndarray)) else None
    if not chosen or not all(is_int(c) for c in chosen):
        raise InvalidValueError(f"channels must be channel numbers (ints), got {value!r}")
    if len(set(chosen)) != len(chosen):
        raise InvalidValueError(f"channels repeat: {[int(c) for c in chosen]}")
    bad = [int(c) for c in chosen if not 0 <= c < count]
    if bad:
        raise InvalidIndexError(
            f"channels {bad} out of range for layer {layer!r}: it has {count} channels (0-{count - 1})"
        )
    return [int(c) for c in chosen]


def _channels(channels: Any, counts: dict[str, int]) -> dict[str, list[int]]:
    """Each layer's channels: all, the same list for every layer, or a list per layer (a mapping)."""
    if channels is None:
        return {layer: list(range(count)) for layer, count in counts.items()}
    if isinstance(channels, Mapping):
        unknown = [key for key in channels if key not in counts]
        if unknown:
            raise InvalidValueError(f"channels names layers not in the atlas: {unknown} (the atlas has {list(counts)})")
        return {
            layer: list(range(count)) if layer not in channels else _channel_list(channels[layer], layer, count)
            for layer, count in counts.items()
        }
    return {layer: _channel_list(channels, layer, count) for layer, count in counts.items()}


def _check_size(size: int | None, input_shape: tuple[int | None, ...]) -> None:
    """Refuse, before any work, visualisations smaller than the images the model takes."""
    fixed = [int(d) for d in input_shape[:2] if d is not None]
    if size is not None and fixed and size < max(fixed):
        raise InvalidValueError(
            f"size {size} is smaller than the {input_shape[0]}x{input_shape[1]} images the model takes; give "
            f"size >= {max(fixed)} (or leave it out: the model's own size)"
        )


def _pages(names: list[str]) -> dict[str, str]:
    """Each layer's page file name: file-safe, unique, never a name the atlas keeps for itself."""
    pages: dict[str, str] = {}
    taken = set(_RESERVED)
    for name in names:
        stem = file_safe(name)
        candidate, number = stem, 2
        while candidate.lower() in taken:
            candidate, number = f"{stem}-{number}", number + 1
        taken.add(candidate.lower())
        pages[name] = f"{candidate}.html"
    return pages


def _destination(out: Any, overwrite: bool) -> Path:
    if out is None or not isinstance(out, (str, os.PathLike)):
        raise InvalidTypeError(f"out must be the path of the atlas's folder, got {out!r}")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ExistingOutputError(f"atlas folder {str(folder)!r} is a file: give a folder path")
    return check_destination(folder, overwrite=overwrite, what="atlas folder")


# ---------------------------------------------------------------------------------------------- the parts


def _examples(
    probe: Any, units: dict[str, list[str]], channels: dict[str, list[int]], images: Any, options: dict[str, Any]
) -> dict[str, Any]:
    """Every unit's dataset examples, in one call: one streamed pass over the images for every layer.

    When every layer shows the same channels only those are ranked; otherwise every channel of each unit is
    (ranking costs little beside the forward pass) and the pages show their own."""
    names = [unit for unit_names in units.values() for unit in unit_names]
    lists = {tuple(shown) for shown in channels.values()}
    chosen = list(next(iter(lists))) if len(lists) == 1 else None
    return dataset_examples(probe, names, images, channels=chosen, bottom=True, **options)


def _weights_names(probe: Any, units: dict[str, list[str]]) -> dict[str, str]:
    """The name :func:`tfprobe.circuit` knows each layer by: the recurrent network's stage, else the layer."""
    names = {}
    for layer, unit_names in units.items():
        info = probe.units[unit_names[0]]
        names[layer] = info.layer if info.timestep is not None else layer
    return names


def _circuits(probe: Any, weights_names: dict[str, str], channels: dict[str, list[int]]) -> tuple[dict, dict[str, str]]:
    """Each layer's circuits per channel (layers without weights left out), and what each layer reads, in words."""
    from tfprobe.circuits.circuit import circuit

    found: dict[str, dict[int, Any]] = {}
    reads: dict[str, str] = {}
    for layer, shown in channels.items():
        try:
            first = circuit(probe, weights_names[layer], shown[0])
        except (InvalidTypeError, UnknownUnitError) as error:  # not a Conv2D or Dense layer
            reads[layer] = f"no circuit: {error}"
            continue
        found[layer] = {shown[0]: first, **{c: circuit(probe, weights_names[layer], c) for c in shown[1:]}}
        reads[layer] = "the image" if first.input_layer is None else str(first.input_layer)
    return found, reads


def _render_unit(probe: Any, unit: str) -> str:
    """The unit rendered for ``unit``: its logits when it ends in a softmax, as circuits render filters."""
    logits = f"{unit}.logits"
    return logits if logits in probe.units else unit


def _visualize(probe: Any, units: list[str], channels: list[int], options: dict) -> Any:
    """Every channel of every unit of a layer, in one batch of one render call."""
    from tfprobe import visualize as fv

    objectives = [fv.channel(_render_unit(probe, unit), channels) for unit in units]
    objective = objectives[0] if len(objectives) == 1 else fv.stack(*objectives)
    return fv.render(probe, objective, **{"batch_size": len(units) * len(channels), **options})


def _summary(sheet: LayerSheet, examples: Any, k: int) -> str:
    first = examples[sheet.units[0]]
    score = f"{first.settings['reduce']} over the map" if first.positions is not None else "the unit's value"
    parts = [
        f"{len(sheet.channels)} channels",
        f"the {k} images that drive each most and least ({score}) of {first.settings['source']}",
    ]
    if first.field is not None:
        rows, columns = first.field.size
        parts.append(f"crops of the {rows} x {columns}-pixel receptive field, pixels beyond the border tinted red")
        if not sheet.stepped:
            parts.append(first.field.note)
    else:
        parts.append(f"whole images ({first.no_field})")
    parts.append(sheet.reads if sheet.inputs is None else f"inputs from {sheet.reads}")
    return "; ".join(parts)


def _facts(probe: Any, examples: Any, vis: Any, k: int) -> list[str]:
    first = next(iter(examples.values()))
    any_vis = next(iter(vis.values()))
    settings = any_vis.settings
    return [
        f"model {probe.model.name}",
        f"dataset examples: {k} top and bottom per channel of {first.settings['source']} "
        f"({first.settings.get('images_seen')} images, {first.settings['reduce']} over each map), one pass over "
        "the images for every layer",
        f"feature visualisations: recipe {settings.get('recipe')}, {any_vis.steps} steps, "
        f"{any_vis.images.shape[1]} pixels, seed {any_vis.seed}",
        f"tfprobe {tfprobe.__version__}",
    ]


def _explorer_pages(
    found: dict[str, dict[int, Any]],
    sheets: dict[str, LayerSheet],
    wiring: Wiring,
    weights_names: dict[str, str],
    pages: dict[str, str],
    folder: Path,
    inputs: int,
) -> dict[str, dict[int, Path]]:
    """Each channel's circuit-explorer page, with the visualisations already rendered (time step 0)."""
    from tfprobe.circuits.explorer import save_explorer

    written: dict[str, dict[int, Path]] = {}
    (folder / EXPLORERS).mkdir()
    for layer, by_channel in found.items():
        sheet = sheets[layer]
        images = sheet.visualizations[sheet.units[0]][0]
        source = wiring.sources[layer]
        atlas_pages = {weights_names[layer]: f"../{pages[layer]}"}
        source_images: dict[int, np.ndarray] = {}
        if source is not None:
            atlas_pages[weights_names[source]] = f"../{pages[source]}"
            source_sheet = sheets[source]
            if next(iter(by_channel.values())).source.grid is None:  # inputs are channels, not a map's neurons
                source_vis = source_sheet.visualizations[source_sheet.units[0]][0]
                source_images = {c: source_vis[row] for row, c in enumerate(source_sheet.channels)}
        written[layer] = {}
        for row, (channel, circuit) in enumerate(by_channel.items()):
            circuit.filter_image = images[row]
            read = {record.channel for record in circuit.inputs}
            circuit.input_images = {c: image for c, image in source_images.items() if c in read}
            name = f"{Path(pages[layer]).stem}_{channel}.html"
            save_explorer(circuit, folder / EXPLORERS / name, inputs, atlas=atlas_pages)
            sheet.explorers[channel] = f"{EXPLORERS}/{name}"
            written[layer][channel] = folder / EXPLORERS / name
    return written


# ---------------------------------------------------------------------------------------------- the atlas


def atlas(
    model_or_probe: Any,
    layers: str | Sequence[str],
    images: Any,
    *,
    out: str | os.PathLike[str],
    channels: int | Sequence[int] | Mapping[str, int | Sequence[int]] | None = None,
    k: int = 9,
    timesteps: int | Sequence[int] | None = None,
    steps: int | None = None,
    size: int | None = None,
    recipe: str = "default",
    seed: int = 0,
    reduce: str = "max",
    inputs: int = 3,
    drives: int = 3,
    explorers: bool = False,
    batch_size: int | None = None,
    render_options: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> AtlasResult:
    """Write a unit atlas: one self-contained HTML page per layer and an index linking them.

    Parameters
    ----------
    model_or_probe : keras.Model, GainModulatedRNN or Probe
    layers : str or sequence of str
        Unit names (see :attr:`tfprobe.Probe.units`) of maps (rows, columns, channels) or vectors; for the
        recurrent network a stage (``"conv1"``, ``"conv2"``, ``"fc1"``) means its every time step, shown with
        a time-step selector.
    images : array, array-like, Scenes, tf.data.Dataset or path
        The images to find dataset examples in, as :func:`tfprobe.dataset_examples` takes them (a folder of
        images, a ``.npy`` / ``.npz`` or HDF5 file, arrays, ...).
    out : path
        The atlas's folder (its parent must exist): ``index.html``, ``<layer>.html`` per layer (nested names
        made file-safe: ``vgg16/block5_conv2`` -> ``vgg16_block5_conv2.html``), ``atlas.json`` and, with
        ``explorers``, ``circuits/<layer>_<channel>.html``.
    channels : int, sequence of int or mapping of str to them, optional
        The channels shown: the same for every layer, or per layer (layers left out: all); default all.
    k : int
        Top and bottom dataset examples per channel.
    timesteps : int or sequence of int, optional
        The recurrent network only: the time steps shown (default all).
    steps, size, recipe, seed
        Of the feature visualisations (:func:`tfprobe.visualize.render`; default steps: the recipe's,
        size: the model's input size).
    reduce : {"max", "mean", "center"}
        How a map's activations become one score per image (:func:`tfprobe.dataset_examples`).
    inputs : int
        Strongest excitatory and inhibitory inputs listed per channel (and in explorer pages).
    drives : int
        Channels of the next layer listed per channel: those it drives with the largest weights, among
        the channels of the next layer that are in the atlas.
    explorers : bool
        Also write a circuit-explorer page per channel of each Conv2D / Dense layer (its inputs'
        visualisations from the previous layer's rendering, when that layer is in the atlas), linked both
        ways with the atlas pages.
    batch_size : int, optional
        Images per forward pass of the dataset-example search.
    render_options : mapping, optional
        More options of :func:`tfprobe.visualize.render` (``precision``, ``batch_size``, ...).
    overwrite : bool
        Replace an existing folder ``out`` (otherwise it is refused before any work).
    progress : bool
        Show progress bars.

    Returns
    -------
    AtlasResult
        The pages written and the seconds each part took.

    Raises
    ------
    FileExistsError
        ``out`` exists and ``overwrite`` is False (before any work).
    UnknownUnitError
        An unknown layer (the closest names suggested).
    ValueError, IndexError, TypeError
        ``k``, ``inputs`` or ``drives`` below 1, channels or time steps out of range, units without
        channels, images the model cannot take, ``k`` above the number of images: before any rendering,
        with nothing written.
    """
    started = time.perf_counter()
    folder = _destination(out, overwrite)
    k = check_int(k, "k", 1)
    inputs = check_int(inputs, "inputs", 1)
    drives = check_int(drives, "drives", 1)
    for value, name in ((steps, "steps"), (size, "size"), (batch_size, "batch_size")):
        if value is not None:
            check_int(value, name, 1)
    probe = _probe(model_or_probe)
    _check_size(size, probe.input_shape)
    names = _names(layers)
    units = _units(probe, names, _timesteps(timesteps, _step_count(probe), probe.model.name))
    counts = {layer: int(probe.units[unit_names[0]].shape[-1]) for layer, unit_names in units.items()}
    shown = _channels(channels, counts)
    pages = _pages(names)
    seconds = {}

    tick = time.perf_counter()
    options = {"k": k, "reduce": reduce, "batch_size": batch_size, "progress": progress}
    examples = _examples(probe, units, shown, images, options)
    seconds["examples"] = time.perf_counter() - tick

    tick = time.perf_counter()
    weights_names = _weights_names(probe, units)
    found, reads = _circuits(probe, weights_names, shown)
    layer_of = {weights_names[layer]: layer for layer in reversed(names)}  # the first layer of a name wins
    wiring = wire(found, layer_of, shown, counts, drives)
    seconds["circuits"] = time.perf_counter() - tick

    tick = time.perf_counter()
    render = {"steps": steps, "size": size, "recipe": recipe, "seed": seed, "progress": progress}
    render.update(render_options or {})
    rendered = {layer: _visualize(probe, units[layer], shown[layer], render) for layer in names}
    seconds["visualization"] = time.perf_counter() - tick

    tick = time.perf_counter()
    sheets = {}
    for layer in names:
        count = len(shown[layer])
        vis = rendered[layer]
        sheets[layer] = LayerSheet(
            layer=layer,
            page=pages[layer],
            units=units[layer],
            steps=[probe.units[u].timestep for u in units[layer]],
            channels=shown[layer],
            visualizations={
                unit: (vis.images[i * count : (i + 1) * count], vis.values[i * count : (i + 1) * count])
                for i, unit in enumerate(units[layer])
            },
            examples={unit: examples[unit] for unit in units[layer]},
            reads=reads[layer],
            source=wiring.sources[layer],
            inputs=wiring.inputs.get(layer),
            drives=wiring.drives[layer],
        )
    explorer_paths: dict[str, dict[int, Path]] = {}
    with staged(folder, directory=True) as temporary:
        if explorers:
            explorer_paths = _explorer_pages(found, sheets, wiring, weights_names, pages, temporary, inputs)
            explorer_paths = {
                layer: {c: folder / path.relative_to(temporary) for c, path in by_channel.items()}
                for layer, by_channel in explorer_paths.items()
            }
        for layer, sheet in sheets.items():
            page = layer_page(sheet, pages, model=probe.model.name, summary=_summary(sheet, examples, k), inputs=inputs)
            (temporary / pages[layer]).write_text(page, encoding="utf-8")
        facts = _facts(probe, examples, rendered, k)
        index = index_page(list(sheets.values()), model=probe.model.name, facts=facts, explorers=explorers)
        (temporary / "index.html").write_text(index, encoding="utf-8")
        description = {
            "format": "tfprobe.atlas/1",
            "tfprobe_version": tfprobe.__version__,
            "model": probe.model.name,
            "pages": pages,
            "units": units,
            "channels": shown,
            "sources": wiring.sources,
            "k": k,
            "reduce": reduce,
            "visualization": {layer: vis.to_dict() for layer, vis in rendered.items()},
            "seconds": {part: round(value, 3) for part, value in seconds.items()},
        }
        (temporary / "atlas.json").write_text(json.dumps(description, indent=1), encoding="utf-8")
    seconds["writing"] = time.perf_counter() - tick
    seconds["total"] = time.perf_counter() - started
    return AtlasResult(
        folder=folder,
        index=folder / "index.html",
        pages={layer: folder / pages[layer] for layer in names},
        explorers=explorer_paths,
        seconds={part: seconds[part] for part in (*PARTS, "total")},
        units=units,
        channels=shown,
        examples=examples,
        visualizations=rendered,
    )
