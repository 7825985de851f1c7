"""The one probing API: a model's units, their activations and input gradients, to memory or to file.

``Probe(model)`` wraps any functional or Sequential Keras model (nested ones
such as ``keras.applications.VGG16`` included) and the recurrent
:class:`~tfprobe.models.GainModulatedRNN` alike::

    probe = Probe(model)
    probe.units                                      # name -> UnitInfo (shape, layer, time step, ...)
    acts = probe.activations(images, ["conv1@t3", "fc1"], pool="mean")
    grads = probe.gradients(images, "block5_conv3", channel=12)
    probe.extract(dataset, ["conv1", "conv2"], "acts.h5", ids=stimulus_ids)
    load_activations("acts.h5")["conv1@t0"]

Every tool builds on its public methods: :meth:`Probe.forward` (the chosen units' activations for a batch,
differentiable for input gradients, compiled once per set of units) for feature visualization, decoding
through time and psychophysics; :attr:`Probe.tensors` for circuits; :meth:`Probe.baseline` and
:meth:`Probe.rerun` for replacing the recurrent network's flows.
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import tfprobe
from tfprobe.errors import InvalidIndexError, InvalidTypeError, InvalidValueError, UnsupportedError
from tfprobe.models.gain_rnn import GainModulatedRNN
from tfprobe.models.provenance import describe_model
from tfprobe.probing.baseline import Baseline
from tfprobe.probing.cluster import spans_workers, worker_count
from tfprobe.probing.keras_graph import KerasGraphUnits, functional_graph
from tfprobe.probing.pooling import Pool, describe_pool, parse_pool, pool_activation, pooled_shape
from tfprobe.probing.recurrent import RecurrentUnits
from tfprobe.probing.stimuli import Stimuli, StimulusSet
from tfprobe.probing.store import ActivationFile, ActivationWriter
from tfprobe.probing.units import UnitInfo, as_name_list
from tfprobe.progress import ProgressBar
from tfprobe.validation import is_int, positive_int

Objective = Callable[[tf.Tensor], tf.Tensor]


def _backend(model: Any) -> RecurrentUnits | KerasGraphUnits:
    if isinstance(model, GainModulatedRNN):
        return RecurrentUnits(model)
    if not isinstance(model, keras.Model):
        raise InvalidTypeError(f"Probe wraps a keras.Model, got {type(model).__name__}")
    if functional_graph(model) is None:
        raise InvalidTypeError(
            f"{type(model).__name__} is a subclassed Keras model: its layers' outputs are not part of a graph "
            "Probe can read; build it as a functional or Sequential model (GainModulatedRNN is supported)"
        )
    return KerasGraphUnits(model)


class Probe:
    """Record what a model's units do.

    Parameters
    ----------
    model : keras.Model
        A functional or Sequential Keras model, or a :class:`GainModulatedRNN`.
    batch_size : int
        Stimuli per forward pass (default for every method).
    strategy : tf.distribute.Strategy, optional
        Split each batch across the strategy's replicas on this machine (default: the strategy the model
        was built in, if it has several local replicas).  Results equal a single device's.  A strategy over
        several workers is not split here (each worker probes its own share).
    """

    def __init__(self, model: keras.Model, *, batch_size: int = 64, strategy: tf.distribute.Strategy | None = None):
        self.model = model
        self._backend = _backend(model)
        self.batch_size = positive_int(batch_size, "batch_size")
        if strategy is None:
            candidate = getattr(model, "distribute_strategy", None)
            local = candidate is not None and not spans_workers(candidate)
            strategy = candidate if local and candidate.num_replicas_in_sync > 1 else None
        elif spans_workers(strategy):
            raise UnsupportedError(
                f"Probe splits each batch across one machine's devices; {type(strategy).__name__} spans "
                f"{worker_count(strategy)} workers, whose replicas live in other processes.  Give each worker "
                "its share of the stimuli (tfprobe.dataset_examples does this with strategy=...)"
            )
        self.strategy = strategy
        self._replicated: dict[Any, Any] = {}  # key -> replicated tf.function
        self._mapped: dict[Any, Any] = {}  # key -> tf.function of the forward pass and a map's fn

    # ------------------------------------------------------------------ units

    @property
    def units(self) -> Mapping[str, UnitInfo]:
        """Every recordable unit by name, with its per-stimulus shape (read-only)."""
        return types.MappingProxyType(self._backend.units)

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        """Shape of one stimulus the model takes (channels-last)."""
        return self._backend.input_shape

    def resolve(self, units: str | Sequence[str]) -> list[str]:
        """The unit names a request stands for, in order, without repeats (``"conv1"`` -> every time step)."""
        names: list[str] = []
        requested = as_name_list(units)
        if not requested:
            raise InvalidValueError("no units requested: name at least one (see probe.units)")
        for name in requested:
            for resolved in self._backend.expand(name):
                if resolved not in names:
                    names.append(resolved)
        return names

    def logits_unit(self) -> str:
        """The unit of the class scores before any softmax: ``<output layer>.logits`` when the output layer
        applies a softmax or sigmoid, else the output layer (the recurrent network's ``logits``)."""
        return self._backend.logits_unit()

    def summary(self) -> str:
        """A table of the units: name, shape, layer, time step, kind."""
        rows = [f"{'unit':<34} {'shape':<18} {'layer':<16} {'t':>3}  kind"]
        for info in self._backend.units.values():
            step = "" if info.timestep is None else str(info.timestep)
            rows.append(f"{info.name:<34} {info.shape!s:<18} {info.layer:<16} {step:>3}  {info.kind}")
        return "\n".join(rows)

    def selectable(self, unit: str) -> bool:
        """Whether :meth:`forward` can compute only chosen channels of ``unit`` (its ``select=``): units made by a
        plain Conv2D or Dense layer of a Keras graph (never the recurrent network's stages, whose channels
        all feed later steps)."""
        (name,) = self._one_unit(unit)
        return self._backend.selectable(name)

    @property
    def tensors(self) -> Mapping[str, Any]:
        """Every unit's symbolic tensor in the model's Keras graph, by unit name: each remembers the layer that
        made it and that layer's inputs, which is how circuits walk the graph.  Keras graphs only."""
        tensors = getattr(self._backend, "tensors", None)
        if tensors is None:
            raise InvalidTypeError(
                f"{type(self.model).__name__} has no Keras graph of symbolic tensors: its units are computed by "
                "its own unrolled loop (see Probe.units); tensors exist for functional and Sequential models"
            )
        return types.MappingProxyType(tensors)

    def _one_unit(self, unit: str) -> list[str]:
        names = self.resolve(unit)
        if len(names) != 1:
            raise InvalidValueError(f"name a single unit: {unit!r} stands for {len(names)} ({names[0]}, ...)")
        return names

    # ------------------------------------------------------------------ forward passes

    def forward(
        self,
        images: Any,
        units: str | Sequence[str],
        *,
        compiled: bool = True,
        select: Mapping[str, tf.Tensor] | None = None,
    ) -> dict[str, tf.Tensor]:
        """The chosen units' activations for one batch, as tensors: the forward pass every tool builds on.

        Runs in inference mode (dropout off, batch-norm statistics fixed).  The values are differentiable:
        under a ``tf.GradientTape`` watching ``images`` they give input gradients of any function of them
        (:meth:`gradients` does this batch by batch; feature visualization traces it into its own step).

        Parameters
        ----------
        images : tensor or ndarray (batch, *input_shape)
            One batch, channels-last (floats in [0, 1] for the recurrent network).
        units : str or sequence of str
            Unit names (see :attr:`units`); for the recurrent network a stage alone means every time step.
        compiled : bool
            Run a ``tf.function`` made once per set of units (relaxed to any batch size; the recurrent
            network compiles its own loop either way).  ``False`` calls the model directly, for callers that
            trace it into a function of their own (inside an XLA-compiled function a nested function of
            unknown batch size makes XLA recompile at every call).
        select : mapping of str to int tensor, optional
            Units (see :meth:`selectable`) whose layer computes only the channels ``index`` (in that order:
            channel ``j`` of the result is the unit's channel ``index[j]``); the layer's other channels are
            never computed.  Only with ``compiled=False``.

        Returns
        -------
        dict of str to tensor
            Unit name -> (batch, *shape), in the order the units were resolved.
        """
        names = tuple(self.resolve(units))
        return self._backend.forward(images, names, compiled=compiled, select=dict(select) if select else None)

    def baseline(self, images: Any) -> Baseline:
        """A normal run of one batch, kept so that :meth:`rerun` can replace some units' values in it.

        Only the recurrent network's combined flows (``"<stage>.<kind>@t<step>"``) can be replaced today.

        Returns
        -------
        Baseline
            ``baseline[unit]`` is a unit's value in the normal run (log-probabilities, activations and
            combined flows).
        """
        return self._backend.baseline(images)

    def rerun(
        self, baseline: Baseline, replace: Mapping[str, Any], units: str | Sequence[str] = "log_probs"
    ) -> dict[str, tf.Tensor]:
        """Run the batch of ``baseline`` again with chosen units' values replaced, and return ``units``.

        For the recurrent network, ``replace`` maps combined flows such as ``"conv1.gain@t1"`` (the gain
        flow into conv1 from time step 1 to 2) to arrays of the flow's shape; every later unit is computed
        from the replaced values, and the run resumes at the first replaced step from the baseline
        (the steps before it cannot change) when only ``"log_probs"`` is asked for, which makes trying many
        replacements on one batch cheap; other units are read from a run from the first step.

        Returns
        -------
        dict of str to tensor
        """
        names = tuple(self.resolve(units))
        return self._backend.rerun(baseline, dict(replace), names)

    def _map_batches(
        self, stimuli: Stimuli, batch_size: int | None, progress: bool, key: Any, fn: Callable[[tf.Tensor], Any]
    ) -> Iterator[Any]:
        """``fn`` of every batch of stimuli, as numpy, split across replicas under a strategy."""
        batches = stimuli if isinstance(stimuli, StimulusSet) else self._batches(stimuli, batch_size)
        if batches.count is not None:
            bar = ProgressBar(batches.count, unit="stimuli", enabled=progress)
        else:
            bar = ProgressBar(batches.batches, unit="batches", enabled=progress)
        done = 0
        for batch in batches:
            if self.strategy is None:
                yield tf.nest.map_structure(np.asarray, fn(tf.constant(batch)))
            else:
                yield self._distributed(key, fn, batch)
            done += len(batch) if batches.count is not None else 1
            bar.update(done)
        bar.close()

    def map(
        self,
        stimuli: Stimuli,
        units: str | Sequence[str],
        fn: Callable[[dict[str, tf.Tensor]], Any],
        *,
        batch_size: int | None = None,
        progress: bool = True,
    ) -> Iterator[Any]:
        """Stream the stimuli batch by batch and yield ``fn`` of the units' activations, as numpy.

        ``fn`` runs inside one compiled function with the forward pass (traced once per set of units and
        ``fn``), so whatever it reduces the activations to (a per-channel maximum, a top-k, a Gram matrix)
        is all that leaves the device: memory stays one batch whatever the number of stimuli.  Under a
        strategy each batch is split across the replicas and the results put back in order.

        Parameters
        ----------
        stimuli, units, batch_size, progress
            As for :meth:`activations`.
        fn : callable
            Maps ``{unit name: (batch, *shape) tensor}`` to a nest of tensors whose first axis is the batch.

        Yields
        ------
        nest of ndarray
            ``fn``'s result for each batch, in the order of the stimuli.
        """
        if not callable(fn):
            raise InvalidTypeError(f"fn must be a function of the activations, got {type(fn).__name__}")
        names = tuple(self.resolve(units))
        key = ("map", names, fn)

        def run(images: tf.Tensor) -> Any:
            return fn(self._backend.forward(images, names, compiled=False))

        if self.strategy is not None:  # the replicated step is compiled as a whole
            yield from self._map_batches(stimuli, batch_size, progress, key, run)
            return
        if key not in self._mapped:
            batch = tf.TensorSpec((None, *self.input_shape), tf.float32)  # any batch size: traced once
            self._mapped[key] = tf.function(run, input_signature=[batch])
        yield from self._map_batches(stimuli, batch_size, progress, key, self._mapped[key])

    def batches(self, stimuli: Stimuli, batch_size: int | None = None) -> StimulusSet:
        """The stimuli checked (shape, dtype, finite values, not empty) and cut into batches, before any work.

        Every method taking stimuli also takes the result, which is then not checked again; its ``count``
        says how many stimuli there are, when that is known before iterating.
        """
        return self._batches(stimuli, batch_size)

    def _activation_batches(
        self, stimuli: Stimuli, names: tuple[str, ...], pool: Pool, batch_size: int | None, progress: bool
    ) -> Iterator[dict[str, np.ndarray]]:
        def run(images: tf.Tensor) -> dict[str, tf.Tensor]:
            outputs = self._backend.forward(images, names)
            return {name: pool_activation(outputs[name], pool) for name in names}

        return self._map_batches(stimuli, batch_size, progress, ("activations", names, repr(pool)), run)

    def _distributed(self, key: Any, fn: Callable[[tf.Tensor], Any], batch: np.ndarray) -> Any:
        """Run ``fn`` on contiguous slices of the batch, one per replica, and put the results back in order.

        The replicated step is a ``tf.function`` made once per ``key`` (running a strategy eagerly is slow).
        """
        replicas = self.strategy.num_replicas_in_sync
        parts = np.array_split(batch, replicas)

        def slice_for(context: tf.distribute.experimental.ValueContext) -> tf.Tensor:
            return tf.constant(parts[context.replica_id_in_sync_group])

        if key not in self._replicated:
            step = tf.function(lambda values: self.strategy.run(fn, args=(values,)), reduce_retracing=True)
            self._replicated[key] = step
        values = self.strategy.experimental_distribute_values_from_function(slice_for)
        results = self._replicated[key](values)
        per_replica = [tf.nest.map_structure(np.asarray, r) for r in self.strategy.experimental_local_results(results)]
        nonempty = [r for r, part in zip(per_replica, parts, strict=True) if len(part)]
        return tf.nest.map_structure(lambda *xs: np.concatenate(xs, axis=0), *nonempty)

    def _batches(self, stimuli: Stimuli, batch_size: int | None) -> StimulusSet:
        if isinstance(stimuli, StimulusSet):
            return stimuli
        size = self.batch_size if batch_size is None else positive_int(batch_size, "batch_size")
        float_only = isinstance(self._backend, RecurrentUnits)  # it takes floats in [0, 1], as model() does
        return StimulusSet(stimuli, self.input_shape, size, float_only=float_only)

    def activations(
        self,
        stimuli: Stimuli,
        units: str | Sequence[str],
        *,
        pool: Pool = None,
        batch_size: int | None = None,
        progress: bool = True,
    ) -> dict[str, np.ndarray]:
        """Activations of ``units`` for every stimulus, one forward pass per batch.

        Parameters
        ----------
        stimuli : ndarray (n, *input_shape), array-like or tf.data.Dataset
            Images (channels-last; floats in [0, 1] for the recurrent network), an array-like read one
            batch at a time (an h5py dataset, :class:`~tfprobe.datasets.image_folder.ImageFolder`), or a
            dataset of images / batches / (images, labels) pairs.  NaN or infinite values are refused,
            naming the first such stimulus.
        units : str or sequence of str
            Unit names (see :attr:`units`); for the recurrent network a stage alone means every time step.
        pool : None, "mean", "max", int or (str, int)
            Spatial pooling (see :mod:`tfprobe.probing.pooling`).
        batch_size : int, optional
        progress : bool
            Show a progress bar.

        Returns
        -------
        dict of str to ndarray
            Unit name -> float32 array (n, *shape).
        """
        names = tuple(self.resolve(units))
        parse_pool(pool)
        chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
        for values in self._activation_batches(stimuli, names, pool, batch_size, progress):
            for name in names:
                chunks[name].append(values[name])
        return {name: np.concatenate(parts).astype(np.float32, copy=False) for name, parts in chunks.items()}

    # ------------------------------------------------------------------ gradients

    def gradients(
        self,
        stimuli: Stimuli,
        unit: str,
        *,
        channel: int | None = None,
        index: Sequence[int] | None = None,
        objective: Objective | None = None,
        batch_size: int | None = None,
        progress: bool = False,
    ) -> np.ndarray:
        """Gradient, with respect to each input image, of a scalar function of one unit.

        By default the scalar is the unit's mean activation; ``channel`` takes the mean of one channel (a
        filter's mean, or one output of a dense layer such as a class logit), ``index`` one element of
        the per-stimulus activation (a single neuron, e.g. ``(y, x, channel)``), and ``objective`` any
        function mapping the batch's activations (batch, *shape) to one value per stimulus (batch,).

        Returns
        -------
        ndarray
            Same shape as the stimuli, float32.
        """
        names = self.resolve(unit)
        if len(names) != 1:
            raise InvalidValueError(f"gradients need a single unit, {unit!r} stands for {len(names)}: {names}")
        (name,) = names
        scalar = _objective(self._backend.units[name], channel, index, objective)

        def run(images: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                tape.watch(images)
                values = scalar(self._backend.forward(images, (name,))[name])
                total = tf.reduce_sum(values)
            return tape.gradient(total, images)

        key = ("gradients", name, channel, None if index is None else tuple(index), id(objective))
        parts = list(self._map_batches(stimuli, batch_size, progress, key, run))
        return np.concatenate(parts).astype(np.float32, copy=False)

    # ------------------------------------------------------------------ files

    def extract(
        self,
        stimuli: Stimuli,
        units: str | Sequence[str],
        path: str | os.PathLike[str],
        *,
        ids: Sequence[Any] | np.ndarray | None = None,
        pool: Pool = None,
        batch_size: int | None = None,
        mode: str = "w",
        overwrite: bool = False,
        progress: bool = True,
        metadata: Mapping[str, Any] | None = None,
    ) -> ActivationFile:
        """Write the activations of ``units`` to an HDF5 file, batch by batch, and return it opened.

        The file records what made it: the model's spec, class and config, where its weights came from
        and a fingerprint of their values, the pooling, and the tfprobe / TensorFlow / Keras versions (see
        :mod:`tfprobe.probing.store`).  Appending (``mode="a"``) is refused, before any stimulus is run
        and with the file unchanged, if any of that differs or an id repeats.

        Parameters
        ----------
        stimuli, units, pool, batch_size, progress
            As for :meth:`activations`.
        path : path
            The ``.h5`` file.
        ids : sequence, optional
            One id (int or str) per stimulus, all different; default: running numbers (continuing when
            appending).
        mode : {"w", "a"}
            Write a new file, or append these stimuli to an existing file made the same way.
        overwrite : bool
            With ``mode="w"``, replace an existing file (otherwise refused).
        metadata : mapping, optional
            How the stimuli were prepared, recorded and compared on appending: ``scale`` (their value
            range) and ``preprocessing`` (default for both: ``"as given"``), and any other fields.

        Returns
        -------
        ActivationFile
        """
        names = tuple(self.resolve(units))
        parse_pool(pool)
        batches = self._batches(stimuli, batch_size)
        if ids is not None and batches.count is not None and len(ids) != batches.count:
            raise InvalidValueError(f"ids must give one id per stimulus: {batches.count} stimuli, got {len(ids)} ids")
        infos = [
            dataclasses.replace(info, shape=pooled_shape(info.shape, pool))
            for info in (self._backend.units[n] for n in names)
        ]
        fields = {
            **describe_model(self.model),
            "pooling": describe_pool(pool),
            "input_shape": [None if d is None else int(d) for d in self.input_shape],
            "scale": "as given",
            "preprocessing": "as given",
            **dict(metadata or {}),
            "tfprobe_version": tfprobe.__version__,
            "tensorflow_version": tf.__version__,
            "keras_version": keras.__version__,
        }
        with ActivationWriter(path, infos, fields, mode=mode, overwrite=overwrite, ids=ids) as writer:
            for values in self._activation_batches(batches, names, pool, batch_size, progress):
                writer.write(values)
            writer.finish()
        return ActivationFile(path)


def _objective(
    info: UnitInfo, channel: int | None, index: Sequence[int] | None, objective: Objective | None
) -> Objective:
    """The per-stimulus scalar of a unit's activation that gradients are taken of."""
    chosen = sum(x is not None for x in (channel, index, objective))
    if chosen > 1:
        raise InvalidValueError("give at most one of channel, index and objective")
    if objective is not None:
        if not callable(objective):
            raise InvalidTypeError(f"objective must be a function of the activations, got {type(objective).__name__}")

        def custom(values: tf.Tensor) -> tf.Tensor:
            result = objective(values)
            if result.shape.rank != 1:
                raise InvalidValueError(
                    f"objective must return one value per stimulus (batch,), got shape {result.shape}"
                )
            return result

        return custom
    if channel is not None:
        channels = info.shape[-1]
        if not is_int(channel) or not 0 <= channel < channels:
            raise InvalidIndexError(
                f"channel {channel!r} out of range for unit {info.name!r}: it has {channels} channels"
            )

        def channel_mean(values: tf.Tensor) -> tf.Tensor:
            selected = values[..., int(channel)]
            return tf.reduce_mean(tf.reshape(selected, (tf.shape(values)[0], -1)), axis=1)

        return channel_mean
    if index is not None:
        index = tuple(int(i) for i in index)
        if len(index) != len(info.shape) or any(not 0 <= i < (d or 0) for i, d in zip(index, info.shape, strict=True)):
            raise InvalidIndexError(f"index {index} out of range for unit {info.name!r} of shape {info.shape}")
        return lambda values: values[(slice(None), *index)]
    return lambda values: tf.reduce_mean(tf.reshape(values, (tf.shape(values)[0], -1)), axis=1)
