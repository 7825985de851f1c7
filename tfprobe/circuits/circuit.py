"""One filter's circuit: the weights from every input channel, ranked, classified, and visualised.

For filter ``f`` of a Conv2D layer the kernel slice ``kernel[:, :, c, f]`` says how input channel ``c`` (a
unit of the previous layer) drives it.  As in the lab notebook, each channel is ranked by the L2 norm of its
slice and called *inhibitory* when its negative weights outweigh its positive ones (``|sum(w < 0)| >
sum(w > 0)``), else *excitatory*.  A Dense layer is the 1 x 1 case.  :meth:`Circuit.render` shows the filter
and its strongest inputs as feature visualisations, the inputs as channels of the layer they come from.

    circuit = tfprobe.circuit(model, "block5_conv2", 2)
    print(circuit)                       # the top inputs, ranked
    circuit.excitatory(5)                # InputRecord(channel=..., rank=..., l2=..., kind="excitatory")
    circuit.render(k=5).input_images     # channel -> image
    circuit.save("block5_conv2_2")       # circuit.json
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import tfprobe
from tfprobe.atomic import staged
from tfprobe.circuits.graph import Source, as_probe, check_weight_layer, find_layer, keras_source, recurrent_source
from tfprobe.errors import ExistingOutputError, InvalidIndexError, InvalidTypeError, InvalidValueError
from tfprobe.validation import check_int, is_int

__all__ = ["KINDS", "Circuit", "InputRecord", "circuit", "input_records"]

#: The two kinds of input, by the lab notebook's rule.
KINDS = ("excitatory", "inhibitory")


@dataclasses.dataclass(frozen=True)
class InputRecord:
    """How one input channel drives a filter.

    Attributes
    ----------
    channel : int
        Index of the input channel (a unit of :attr:`Circuit.input_layer`).
    rank : int
        0-based rank by ``l2``, descending (ties: lower channel first).
    l2 : float
        L2 norm of the filter's kernel slice for that channel.
    positive, negative : float
        Sums of the positive and of the negative weights (``negative <= 0``).
    net : float
        ``positive + negative``.
    negative_share : float
        Share of the slice's L2 mass (sum of squares) in negative weights, in [0, 1] (0 for an all-zero slice).
    kind : str
        ``"inhibitory"`` if ``|negative| > positive`` else ``"excitatory"`` (the lab notebook's rule).
    """

    channel: int
    rank: int
    l2: float
    positive: float
    negative: float
    net: float
    negative_share: float
    kind: str


_TABLE_DTYPE = np.dtype(
    [
        ("channel", np.int64),
        ("rank", np.int64),
        ("l2", np.float64),
        ("positive", np.float64),
        ("negative", np.float64),
        ("net", np.float64),
        ("negative_share", np.float64),
        ("kind", "U10"),
    ]
)


def input_records(kernel: np.ndarray, channels: Sequence[int] | None = None) -> list[InputRecord]:
    """One record per input channel of a filter's kernel ``(kh, kw, in_channels)``, ranked by L2 norm.

    Parameters
    ----------
    kernel : ndarray (kh, kw, in_channels)
        The filter's weights.
    channels : sequence of int, optional
        The input channel each kernel slice reads (default ``0 .. in_channels - 1``; a grouped
        convolution's filter reads one group).

    Returns
    -------
    list of InputRecord
        Sorted by L2 norm, descending; ties by channel, ascending.
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 3:
        raise InvalidValueError(f"a filter's kernel must be (kh, kw, in_channels), got shape {kernel.shape}")
    count = kernel.shape[-1]
    channels = np.arange(count) if channels is None else np.asarray(channels, dtype=np.int64)
    if channels.shape != (count,):
        raise InvalidValueError(f"channels must give one index per kernel slice ({count}), got shape {channels.shape}")
    l2 = np.sqrt(np.sum(np.square(kernel), axis=(0, 1)))
    order = np.lexsort((channels, -l2.astype(np.float64)))
    records = []
    for rank, i in enumerate(order):
        weights = kernel[:, :, i]
        positive = np.sum(weights[weights > 0])  # in the kernel's dtype, as the notebook sums them
        negative = np.sum(weights[weights < 0])
        mass = float(np.sum(np.square(weights.astype(np.float64))))
        negative_mass = float(np.sum(np.square(weights[weights < 0].astype(np.float64))))
        records.append(
            InputRecord(
                channel=int(channels[i]),
                rank=rank,
                l2=float(l2[i]),
                positive=float(positive),
                negative=float(negative),
                net=float(positive) + float(negative),
                negative_share=negative_mass / mass if mass > 0 else 0.0,
                kind="inhibitory" if np.abs(negative) > positive else "excitatory",
            )
        )
    return records


def _check_count(k: Any, available: int, what: str) -> int:
    k = check_int(k, what)
    if not 1 <= k <= available:
        raise InvalidValueError(f"{what} must be between 1 and the {available} input channels, got {k}")
    return int(k)


class Circuit:
    """A filter of a Conv2D or Dense layer and the input channels that drive it.

    Made by :func:`circuit`.

    Attributes
    ----------
    layer : str
        Unit name of the filter's layer.
    filter : int
        The filter (output channel).
    input_layer : str or None
        The unit whose channels feed the layer: the previous Conv2D / Dense layer (reached back through
        pooling, activations, batch normalisation, dropout, padding, flatten and reshape layers); None when
        the input is the model's image.
    kernel : ndarray (kh, kw, in_channels)
        The filter's weights (``(1, 1, in_features)`` for a Dense layer).
    bias : float
    inputs : list of InputRecord
        Every input channel, ranked by L2 norm (descending; ties: lower channel first).
    filter_image : ndarray (h, w, c) or None
        The filter's feature visualisation, set by :meth:`render`.
    input_images : dict of int to ndarray
        Input channel -> its feature visualisation, set by :meth:`render`.
    visualization : Visualization or None
        The rendering behind them (values reached, settings: recipe, precision, compilation), set by
        :meth:`render`.
    """

    def __init__(
        self,
        layer: str,
        filter: int,
        kernel: np.ndarray,
        bias: float,
        source: Source,
        *,
        channels: Sequence[int] | None = None,
        probe: Any = None,
        filter_unit: str | None = None,
    ) -> None:
        self.layer = layer
        self.filter = int(filter)
        self.kernel = np.asarray(kernel)
        self.bias = float(bias)
        self.source = source
        self.input_layer = source.layer
        self.inputs = input_records(self.kernel, channels)
        self.filter_image: np.ndarray | None = None
        self.input_images: dict[int, np.ndarray] = {}
        self.visualization: Any = None
        self._probe = probe
        self._filter_unit = filter_unit or layer
        self._by_channel = {record.channel: record for record in self.inputs}
        self._slices = {int(c): i for i, c in enumerate(np.arange(len(self.inputs)) if channels is None else channels)}

    # ------------------------------------------------------------------ queries

    @property
    def channels(self) -> int:
        """Number of input channels."""
        return len(self.inputs)

    def top(self, k: int) -> list[InputRecord]:
        """The ``k`` input channels of largest L2 norm, strongest first."""
        return self.inputs[: _check_count(k, self.channels, "k")]

    def _of_kind(self, kind: str, k: int | None) -> list[InputRecord]:
        chosen = [record for record in self.inputs if record.kind == kind]
        return chosen if k is None else chosen[: _check_count(k, self.channels, "k")]

    def excitatory(self, k: int | None = None) -> list[InputRecord]:
        """The excitatory inputs by L2 rank: the first ``k`` (fewer if there are fewer), or all."""
        return self._of_kind("excitatory", k)

    def inhibitory(self, k: int | None = None) -> list[InputRecord]:
        """The inhibitory inputs by L2 rank: the first ``k`` (fewer if there are fewer), or all."""
        return self._of_kind("inhibitory", k)

    def record(self, channel: int) -> InputRecord:
        """The record of one input channel."""
        if channel not in self._by_channel:
            raise InvalidIndexError(self._channel_message(channel))
        return self._by_channel[channel]

    def kernel_of(self, channel: int) -> np.ndarray:
        """The filter's weights ``(kh, kw)`` on input channel ``channel``."""
        if not is_int(channel) or channel not in self._slices:
            raise InvalidIndexError(self._channel_message(channel))
        return self.kernel[:, :, self._slices[int(channel)]]

    def _channel_message(self, channel: Any) -> str:
        low, high = min(self._slices), max(self._slices)
        return f"input channel {channel!r} out of range for {self.layer!r} filter {self.filter}: it reads {low}..{high}"

    # ------------------------------------------------------------------ tables

    def table(self) -> np.ndarray:
        """Every input as a row of a structured array (fields as :class:`InputRecord`), ranked."""
        rows = [dataclasses.astuple(record) for record in self.inputs]
        return np.array(rows, dtype=_TABLE_DTYPE)

    def format_table(self, k: int | None = None) -> str:
        """The ``k`` strongest inputs (default: all) as aligned text."""
        records = self.inputs if k is None else self.top(k)
        lines = [f"{'rank':>4} {'channel':>7} {'l2':>9} {'positive':>9} {'negative':>9} {'net':>9} {'neg%':>5}  kind"]
        for r in records:
            lines.append(
                f"{r.rank:>4} {r.channel:>7} {r.l2:>9.4f} {r.positive:>9.4f} {r.negative:>9.4f} {r.net:>9.4f} "
                f"{100 * r.negative_share:>5.1f}  {r.kind}"
            )
        return "\n".join(lines)

    def _title(self) -> str:
        source = "the image" if self.input_layer is None else repr(self.input_layer)
        return (
            f"Circuit of {self.layer!r} filter {self.filter}: {self.channels} input channels from {source}, "
            f"kernel {self.kernel.shape[0]}x{self.kernel.shape[1]}, bias {self.bias:.4g}; "
            f"{len(self.excitatory())} excitatory, {len(self.inhibitory())} inhibitory"
        )

    def __str__(self) -> str:
        shown = min(10, self.channels)
        return f"{self._title()}\nstrongest {shown}:\n{self.format_table(shown)}"

    def __repr__(self) -> str:
        return (
            f"Circuit(layer={self.layer!r}, filter={self.filter}, input_layer={self.input_layer!r}, "
            f"channels={self.channels})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The circuit as JSON-able values: layer, filter, input layer, bias, kernel shape, ranked inputs."""
        model = None if self._probe is None else getattr(self._probe.model, "name", None)
        return {
            "model": model,
            "layer": self.layer,
            "filter": self.filter,
            "input_layer": self.input_layer,
            "bias": self.bias,
            "kernel_shape": [int(d) for d in self.kernel.shape],
            "rule": "inhibitory if |sum of negative weights| > sum of positive weights, else excitatory",
            "inputs": [dataclasses.asdict(record) for record in self.inputs],
        }

    def figure(self, k: int = 5, *, title: str | None = None, path: str | os.PathLike[str] | None = None) -> Any:
        """The filter's visualisation in the centre, its top ``k`` excitatory and inhibitory inputs around
        it, each kernel on a diverging colour scale centred at zero; see
        :func:`tfprobe.figures.circuits.circuit_figure`.  Saved to ``path`` if given."""
        from tfprobe.figures.circuits import circuit_figure

        return circuit_figure(self, k, title=title, path=path)

    def save_html(
        self,
        path: str | os.PathLike[str],
        k: int = 10,
        *,
        title: str | None = None,
        overwrite: bool = False,
        atlas: str | Mapping[str, str] | None = None,
    ) -> Path:
        """Write the weight-explorer page (self-contained HTML, images inlined); see
        :func:`tfprobe.circuits.explorer.save_explorer`.  ``atlas``: the URL of the unit atlas page of the
        filter's layer (or layer -> page URL), to link the filter and its inputs to their atlas sections."""
        from tfprobe.circuits.explorer import save_explorer

        return save_explorer(self, path, k, title=title, overwrite=overwrite, atlas=atlas)

    def save(self, folder: str | os.PathLike[str], *, k: int = 10, overwrite: bool = False) -> Path:
        """Write ``circuit.json`` (:meth:`to_dict` and the tfprobe version), ``circuit.png`` (:meth:`figure`)
        and ``circuit.html`` (:meth:`save_html`) into a new folder, atomically.

        Parameters
        ----------
        folder : path
            Created (its parent must exist); an existing non-empty folder is replaced only with ``overwrite``.
        k : int
            Inputs of each kind in the figure and the page.
        overwrite : bool

        Returns
        -------
        Path
            The folder.
        """
        from tfprobe.circuits.explorer import save_explorer
        from tfprobe.figures.circuits import circuit_figure

        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise ExistingOutputError(f"{str(folder)!r} is a file, not a folder for the circuit")
        if folder.is_dir() and any(folder.iterdir()) and not overwrite:
            raise ExistingOutputError(
                f"folder {str(folder)!r} exists and is not empty: pass overwrite=True to replace it"
            )
        content = {**self.to_dict(), "tfprobe_version": tfprobe.__version__}
        with staged(folder, directory=True) as temporary:
            (temporary / "circuit.json").write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
            circuit_figure(self, k, path=temporary / "circuit.png")
            save_explorer(self, temporary / "circuit.html", k)
        return folder

    # ------------------------------------------------------------------ feature visualisation

    def render(
        self,
        k: int = 10,
        *,
        channels: Sequence[int] | None = None,
        steps: int | None = None,
        size: int | None = None,
        recipe: Any = "default",
        seed: int = 0,
        progress: bool = True,
        timestep: int | None = None,
        **render_options: Any,
    ) -> Circuit:
        """Feature visualisations of the filter and of its ``k`` strongest excitatory and inhibitory inputs.

        The filter (``layer:filter``) and its inputs (up to ``2 k``, channels of :attr:`input_layer`; for a
        Dense layer after a Flatten, the flattened map's neurons) are optimised together, in one batch of one
        :func:`tfprobe.visualize.render` call (:func:`tfprobe.visualize.stack`): one compiled run.

        Parameters
        ----------
        k : int
            Inputs of each kind (fewer if a kind has fewer), between 1 and the input channel count.
        channels : sequence of int, optional
            Render these input channels instead (``[r.channel for r in circuit.top(10)]``: the seed's
            top 10 by L2 norm).
        steps, size, recipe, seed, progress
            As for :func:`tfprobe.visualize.render` (``steps``: the recipe's by default).
        timestep : int, optional
            For the recurrent network only: the time step whose activity is rendered (default 0, the
            feed-forward sweep).
        **render_options
            Passed to :func:`tfprobe.visualize.render` (``value_range``, ``preprocess``, ``batch_size``, ...).

        Returns
        -------
        Circuit
            ``self``, with :attr:`filter_image` and :attr:`input_images` set.
        """
        from tfprobe import visualize as fv

        chosen = (
            [*self.excitatory(k), *self.inhibitory(k)]
            if channels is None
            else [
                self.record(channel)
                for channel in channels  # checks each index
            ]
        )
        if not chosen:
            raise InvalidValueError("channels is empty: give at least one input channel to render")
        if self.input_layer is None:
            raise InvalidValueError(
                f"the input of {self.layer!r} is the model's image: its channels are pixels, with nothing to "
                "render; look at the weights themselves (kernel_of(channel))"
            )
        if self._probe is None:
            raise InvalidValueError(
                "this circuit was made without a model: build it with circuit(model, layer, filter)"
            )
        _, input_unit = self._units(timestep)
        options = {"steps": steps, "size": size, "recipe": recipe, "seed": seed, "progress": progress}
        options.update(render_options)
        channels = list(dict.fromkeys(record.channel for record in chosen))
        if self.source.grid is None:
            inputs = fv.channel(input_unit, channels)
        else:
            y, x, c = np.unravel_index(channels, self.source.grid)
            inputs = fv.neuron(input_unit, c.tolist(), x=x.tolist(), y=y.tolist())
        # the filter and its inputs in one batch, one compiled run: the filter is image 0
        options.setdefault("batch_size", 1 + len(channels))
        result = fv.render(self._probe, self.objective(timestep, inputs), **options)
        self.visualization = result
        self.filter_image = result.images[0]
        self.input_images = {channel: image for channel, image in zip(channels, result.images[1:], strict=True)}
        return self

    def objective(self, timestep: int | None = None, inputs: Any = None) -> Any:
        """What :meth:`render` optimises: the filter's channel (image 0), stacked with ``inputs`` (an
        objective for the input channels) when given."""
        from tfprobe import visualize as fv

        filter_unit, _ = self._units(timestep)
        own = fv.channel(filter_unit, [self.filter])
        return own if inputs is None else fv.stack(own, inputs)

    def _units(self, timestep: int | None) -> tuple[str, str]:
        """The units rendered for the filter and for the inputs."""
        from tfprobe.models.gain_rnn import GainModulatedRNN

        if not isinstance(self._probe.model, GainModulatedRNN):
            if timestep is not None:
                raise InvalidValueError(f"timestep is for the recurrent network; {self._probe.model.name!r} has none")
            logits = f"{self._filter_unit}.logits"
            filter_unit = logits if logits in self._probe.units else self._filter_unit
            return filter_unit, str(self.source.render_unit)
        steps = self._probe.model.timesteps
        t = 0 if timestep is None else timestep
        if not is_int(t) or not 0 <= t < steps:
            raise InvalidValueError(f"timestep must be an int in 0..{steps - 1} for this network, got {timestep!r}")
        return self._filter_unit.format(t=int(t)), str(self.source.render_unit).format(t=int(t))


def _check_filter(filter: Any, count: int, layer: str) -> int:
    filter = check_int(filter, "filter")
    if not 0 <= filter < count:
        raise InvalidIndexError(
            f"filter {filter} out of range for layer {layer!r}: it has {count} filters (0..{count - 1})"
        )
    return int(filter)


def _filter_weights(layer: Any, name: str, filter: Any) -> tuple[int, np.ndarray, float, np.ndarray]:
    """Filter index, kernel (kh, kw, in), bias and the input channels its slices read."""
    import keras

    kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel))
    if isinstance(layer, keras.layers.Dense):
        kernel = kernel[None, None]  # (1, 1, in, out)
    if kernel.ndim != 4:
        raise InvalidTypeError(
            f"layer {name!r} has a kernel of shape {kernel.shape}; circuits need Conv2D or Dense kernels"
        )
    outputs = kernel.shape[-1]
    index = _check_filter(filter, outputs, name)
    groups = int(getattr(layer, "groups", 1) or 1)
    per_group = kernel.shape[2]
    first = (index // (outputs // groups)) * per_group
    channels = np.arange(first, first + per_group)
    bias = 0.0
    if getattr(layer, "use_bias", False) and layer.bias is not None:
        bias = float(np.asarray(keras.ops.convert_to_numpy(layer.bias))[index])
    return index, kernel[:, :, :, index], bias, channels


def circuit(model_or_probe: Any, layer: str, filter: int) -> Circuit:
    """The circuit of filter ``filter`` of ``layer``.

    Parameters
    ----------
    model_or_probe : keras.Model, GainModulatedRNN or Probe
        A functional or Sequential model (nested applications included) or the recurrent network.
    layer : str
        A Conv2D or Dense layer's unit name (``"block5_conv2"``, nested ``"vgg16/block5_conv2"``; for the
        recurrent network its feed-forward layers ``"conv1"``, ``"conv2"``, ``"fc1"``, ``"fc2"``).
    filter : int
        The output channel.

    Returns
    -------
    Circuit

    Raises
    ------
    UnknownUnitError
        An unknown layer (the closest names are suggested).
    TypeError
        A layer that is not Conv2D or Dense (DepthwiseConv2D included).
    IndexError
        A filter index out of range (the message gives the layer's filter count).
    """
    from tfprobe.models.gain_rnn import GainModulatedRNN

    probe = as_probe(model_or_probe)
    if isinstance(probe.model, GainModulatedRNN):
        weights, source = recurrent_source(probe.model, layer)
        filter_unit = "logits" if layer == "fc2" else f"{layer}@t{{t}}"
    else:
        weights = find_layer(probe, layer)
        check_weight_layer(weights, layer)
        source = keras_source(probe, layer)
        filter_unit = layer
    index, kernel, bias, channels = _filter_weights(weights, layer, filter)
    return Circuit(layer, index, kernel, bias, source, channels=channels, probe=probe, filter_unit=filter_unit)
