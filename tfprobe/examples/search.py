"""Dataset examples: the images of a source that drive each channel of a unit most and least, in one pass.

:func:`dataset_examples` streams the images through :meth:`tfprobe.Probe.map`: inside the compiled forward
pass each channel's map is reduced to one score per image (and the position of its maximum), and a small
compiled step per batch merges them into a running top-k per channel (:mod:`tfprobe.examples.topk`) that
keeps the k highest and k lowest.  Memory is the lists
(channels x k) and one batch, whatever the number of images; several units (layers, time steps) share the
pass.  Long runs save the lists every few batches to a checkpoint and resume from it.  Under a
``tf.distribute`` strategy over several workers each worker streams its shard of the source and the lists
are gathered and merged, equal to one process's.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tfprobe.atomic import staged
from tfprobe.circuits.fields import input_field
from tfprobe.circuits.graph import as_probe
from tfprobe.errors import (
    CheckpointMismatchError,
    ImageInputError,
    InvalidIndexError,
    InvalidTypeError,
    InvalidValueError,
)
from tfprobe.examples.result import DatasetExamples
from tfprobe.examples.sources import ImageSource, open_source
from tfprobe.examples.topk import REDUCTIONS, TopK, channel_scores, merge_lists
from tfprobe.models.provenance import weights_fingerprint
from tfprobe.probing.cluster import all_gather, spans_workers, worker_count, worker_index
from tfprobe.validation import check_int, is_int, positive_int

__all__ = ["dataset_examples"]


def _check_channels(channels: Any, counts: dict[str, int]) -> np.ndarray | None:
    if channels is None:
        return None  # every channel of each unit
    chosen = [channels] if is_int(channels) else list(channels)
    if not chosen or not all(is_int(c) for c in chosen):
        raise InvalidValueError(f"channels must be channel numbers (ints), got {channels!r}")
    if len(set(chosen)) != len(chosen):
        raise InvalidValueError(f"channels repeat: {chosen}")
    for name, count in counts.items():
        bad = [int(c) for c in chosen if not 0 <= c < count]
        if bad:
            raise InvalidIndexError(
                f"channels {bad} out of range for unit {name!r}: it has {count} channels (0-{count - 1})"
            )
    return np.asarray(chosen, np.int32)


def _settings(
    probe: Any, names: list[str], k: int, channels: np.ndarray | None, reduce: str, bottom: bool, source: ImageSource
) -> dict[str, Any]:
    return {
        "units": names,
        "k": k,
        "channels": None if channels is None else channels.tolist(),
        "reduce": reduce,
        "bottom": bottom,
        "source": source.description,
        "source_count": source.count,
        "model": probe.model.name,
    }


class _Checkpoint:
    """The running lists and how many images of the shard they have seen, saved atomically to one ``.npz``."""

    def __init__(self, path: Path | None, settings: dict[str, Any], every: int) -> None:
        self.path, self.settings, self.every = path, settings, every

    def load(self, lists: dict[str, tuple[TopK, TopK | None]]) -> tuple[dict[str, tuple[TopK, TopK | None]], int]:
        if self.path is None or not self.path.exists():
            return lists, 0
        with np.load(self.path, allow_pickle=False) as saved:
            recorded = json.loads(str(saved["settings"]))
            differing = sorted(
                key for key in self.settings.keys() | recorded.keys() if recorded.get(key) != self.settings.get(key)
            )
            if differing:
                details = "; ".join(
                    f"{key}: {recorded.get(key)!r} there, {self.settings.get(key)!r} now" for key in differing
                )
                raise CheckpointMismatchError(
                    f"checkpoint {self.path} was made by a different search ({details}): remove it, or give "
                    "another checkpoint path"
                )
            restored = {
                name: (
                    TopK.from_state(saved, f"{name}.top", negated=False),
                    TopK.from_state(saved, f"{name}.bottom", negated=True) if bottom is not None else None,
                )
                for name, (_, bottom) in lists.items()
            }
            return restored, int(saved["processed"])

    def save(self, lists: dict[str, tuple[TopK, TopK | None]], processed: int) -> None:
        if self.path is None:
            return
        arrays: dict[str, Any] = {"settings": np.array(json.dumps(self.settings)), "processed": np.array(processed)}
        for name, (top, bottom) in lists.items():
            arrays.update(top.state(f"{name}.top"))
            if bottom is not None:
                arrays.update(bottom.state(f"{name}.bottom"))
        with staged(self.path) as temporary:
            with open(temporary, "wb") as stream:
                np.savez(stream, **arrays)


def _gathered(
    strategy: Any, lists: dict[str, tuple[TopK, TopK | None]], processed: int
) -> tuple[dict[str, tuple[TopK, TopK | None]], int]:
    """Every worker's lists merged into one, on every worker, and the number of images all workers ranked."""
    arrays: dict[str, np.ndarray] = {"processed": np.array(processed, np.int64)}
    for name, pair in lists.items():
        for which, item in zip(("top", "bottom"), pair, strict=True):
            if item is not None:
                arrays.update(item.state(f"{name}.{which}"))
    everyone = all_gather(strategy, arrays)
    per_worker = [{key: value[w] for key, value in everyone.items()} for w in range(worker_count(strategy))]
    merged = {}
    for name, (_, bottom) in lists.items():
        top = merge_lists([TopK.from_state(arrays, f"{name}.top", negated=False) for arrays in per_worker])
        low = None
        if bottom is not None:
            low = merge_lists([TopK.from_state(arrays, f"{name}.bottom", negated=True) for arrays in per_worker])
        merged[name] = (top, low)
    return merged, int(everyone["processed"].sum())


def dataset_examples(
    model_or_probe: Any,
    units: str | Sequence[str],
    images: Any,
    *,
    k: int = 9,
    channels: int | Sequence[int] | None = None,
    reduce: str = "max",
    bottom: bool = True,
    batch_size: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 50,
    strategy: tf.distribute.Strategy | None = None,
    progress: bool = True,
) -> DatasetExamples | dict[str, DatasetExamples]:
    """The k images of a source that drive each channel of a unit most (and least), in one streamed pass.

    Parameters
    ----------
    model_or_probe : keras.Model, GainModulatedRNN or Probe
    units : str or sequence of str
        Unit names (see :attr:`Probe.units`): layers with a map (rows, columns, channels) or a vector
        (channels,); for the recurrent network a stage alone (``"conv1"``) means every time step.  All
        units share one pass over the images.
    images : array, array-like, Scenes, tf.data.Dataset or path
        Images as the model takes them (channels-last; floats in [0, 1] for the recurrent network): an
        array (n, rows, columns, channels), an array-like read by slices (h5py dataset, ImageFolder,
        ArrayFile), the cluttered :class:`~tfprobe.datasets.scenes.Scenes`, a ``tf.data`` dataset of
        images, batches or ``(images, labels)`` pairs, or a path to a folder of images, a ``.npy`` /
        ``.npz`` file or an HDF5 file of images.
    k : int
        Images kept per channel (at least 1, at most the number of images).
    channels : int or sequence of int, optional
        The channels to rank (default: all).
    reduce : {"max", "mean", "center"}
        How a map becomes one score per image and channel (see :func:`tfprobe.examples.topk.channel_scores`);
        the position of the maximum is kept for crops either way (the centre for ``"center"``).
    bottom : bool
        Also keep the k lowest scores.
    batch_size : int, optional
        Images per forward pass (default: the probe's).  The result does not depend on it.
    checkpoint : path, optional
        An ``.npz`` file the lists are saved to every ``checkpoint_every`` batches and at the end; if it
        exists, the search resumes from it (it must have been made by the same search: units, k, channels,
        reduction, source and model).  Under several workers each worker keeps its own
        (``<name>.worker<i>.npz``).
    checkpoint_every : int
        Batches between checkpoints.
    strategy : tf.distribute.Strategy, optional
        A strategy over several workers (``MultiWorkerMirroredStrategy``): each worker streams its shard
        of the images (every worker gives the same source), and the merged lists, equal to one process's,
        are returned on every worker.  A one-machine strategy splits each batch across its devices.
    progress : bool
        Show a progress bar.

    Returns
    -------
    DatasetExamples, or dict of str to DatasetExamples
        One result when ``units`` names a single unit, else one per unit in the order resolved.

    Raises
    ------
    UnknownUnitError
        A unit the model does not have (the closest names suggested).
    ValueError
        ``k`` below 1 or above the number of images, an empty source, an unknown ``reduce``, channels out
        of range, images the model cannot take (shapes named): all before any image is run.
    """
    multi_worker = strategy is not None and spans_workers(strategy)
    if strategy is not None and not multi_worker:
        from tfprobe.probe import Probe

        model = getattr(model_or_probe, "model", model_or_probe)
        probe = Probe(model, batch_size=getattr(model_or_probe, "batch_size", 64), strategy=strategy)
    else:
        probe = as_probe(model_or_probe)
    names = probe.resolve(units)
    infos = {name: probe.units[name] for name in names}
    for name, info in infos.items():
        if len(info.shape) not in (1, 3):
            raise InvalidTypeError(
                f"unit {name!r} has shape {info.shape}: dataset examples rank channels of a map (rows, columns, "
                "channels) or a vector (channels,)"
            )
    k = check_int(k, "k", 1)
    if reduce not in REDUCTIONS:
        raise InvalidValueError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
    chosen = _check_channels(channels, {name: int(info.shape[-1]) for name, info in infos.items()})
    every = positive_int(checkpoint_every, "checkpoint_every")
    size = probe.batch_size if batch_size is None else positive_int(batch_size, "batch_size")
    source = open_source(images, probe.input_shape)
    workers, worker = (worker_count(strategy), worker_index(strategy)) if multi_worker else (1, 0)
    shard = source.shard(worker, workers)
    stimuli = probe.batches(source.stream(shard), size)  # shapes, dtype and values checked before any work
    if source.count is not None and k > source.count:
        raise InvalidValueError(f"k={k} is more than the {source.count} images of the source")
    path = None
    if checkpoint is not None:
        path = Path(checkpoint)
        if workers > 1:
            path = path.with_name(f"{path.stem}.worker{worker}{path.suffix or '.npz'}")
        if not path.parent.is_dir():
            raise InvalidValueError(f"folder {str(path.parent)!r} for the checkpoint does not exist")
    settings = _settings(probe, names, k, chosen, reduce, bottom, source)
    if path is not None:
        settings.update(shard=[shard.start, shard.step, shard.count], weights_sha256=weights_fingerprint(probe.model))

    count = {name: int(infos[name].shape[-1]) if chosen is None else len(chosen) for name in names}
    lists = {
        name: (TopK.empty(count[name], k), TopK.empty(count[name], k, negated=True) if bottom else None)
        for name in names
    }
    saver = _Checkpoint(path, settings, every)
    lists, processed = saver.load(lists)
    scores_of = _ChannelScores(tuple(names), reduce, None if chosen is None else tuple(chosen.tolist()))
    remaining = None if shard.count is None else shard.count - processed
    batches = 0
    if remaining != 0:
        if processed:  # resumed: the rest of the shard
            stimuli = probe.batches(source.stream(shard, processed), size)
        for result in probe.map(stimuli, names, scores_of, progress=progress):
            n = len(next(iter(result.values()))["scores"])
            indices = shard.global_indices(np.arange(processed, processed + n))
            for name, found in result.items():
                top, low = lists[name]
                top.add(found["scores"], indices, found.get("positions"))
                if low is not None:
                    low.add(found["scores"], indices, found.get("positions"))
            processed += n
            batches += 1
            if batches % every == 0:
                saver.save(lists, processed)
        saver.save(lists, processed)
    seen_total = processed
    if multi_worker:
        lists, seen_total = _gathered(strategy, lists, processed)
    if seen_total < k:
        raise ImageInputError(f"k={k} is more than the {seen_total} images the source gave")
    results = {}
    for name in names:
        top, low = lists[name]
        field, why = _field(probe, name)
        results[name] = DatasetExamples.from_lists(
            name,
            np.arange(infos[name].shape[-1]) if chosen is None else chosen,
            top.ranked(),
            None if low is None else low.ranked(),
            spatial=len(infos[name].shape) == 3,
            field=field,
            no_field=why,
            settings={**_settings(probe, names, k, chosen, reduce, bottom, source), "images_seen": seen_total},
            reader=source.read,
        )
    if isinstance(units, str) and len(names) == 1:
        return results[names[0]]
    return results


@dataclasses.dataclass(frozen=True)
class _ChannelScores:
    """The reduction run inside the compiled forward pass: per unit, its channels' scores and positions.

    A frozen dataclass, so that equal searches on one Probe share its compiled function.
    """

    names: tuple[str, ...]
    reduce: str
    channels: tuple[int, ...] | None

    def __call__(self, outputs: dict[str, tf.Tensor]) -> dict[str, Any]:
        channels = None if self.channels is None else tf.constant(self.channels, tf.int32)
        found = {}
        for name in self.names:
            scores, positions = channel_scores(outputs[name], self.reduce, channels)
            found[name] = {"scores": scores} if positions is None else {"scores": scores, "positions": positions}
        return found


def _field(probe: Any, name: str) -> tuple[Any, str]:
    """The unit's receptive field on the input, or None and why it has none."""
    from tfprobe.errors import NotComposableError

    try:
        return input_field(probe, name), ""
    except (NotComposableError, InvalidTypeError, InvalidValueError) as error:
        return None, str(error)
