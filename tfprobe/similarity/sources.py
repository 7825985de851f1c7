"""Where patterns come from: arrays, an activation file (``tfprobe act`` / ``Probe.extract``) or a Probe and stimuli.

:func:`open_source` wraps any of them in a :class:`PatternSource`, which checks the unit names before any
work, reads one unit at a time as a ``(n_stimuli, features)`` matrix (:meth:`PatternSource.units`), or
streams every unit's rows chunk by chunk in one pass (:meth:`PatternSource.chunks`).
"""

from __future__ import annotations

import abc
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from tfprobe.errors import InvalidKeyError, InvalidTypeError, InvalidValueError
from tfprobe.validation import positive_int

__all__ = ["PatternSource", "open_source", "timed_name"]

_TIMED = re.compile(r"^(?P<layer>.+)@t(?P<step>-?\d+)$")


def timed_name(name: str) -> tuple[str, int]:
    """``(layer, time step)`` of a unit name ``"<layer>@t<step>"``; ``(name, -1)`` for other names."""
    match = _TIMED.match(name)
    return (match["layer"], int(match["step"])) if match else (name, -1)


def _flat(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 0:
        raise InvalidValueError(f"unit {name!r} is a scalar; patterns need one row per stimulus")
    if array.dtype.kind not in "fiub":
        raise InvalidValueError(f"unit {name!r} must hold numbers, got dtype {array.dtype}")
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    return array.reshape(array.shape[0], -1)


class PatternSource(abc.ABC):
    """Units' activations, ``(n_stimuli, *shape)`` each, read as ``(n_stimuli, features)`` patterns.

    Use :func:`open_source` to make one.

    Attributes
    ----------
    available : list of str
        Every unit the source holds (for a Probe: every recordable unit).
    names : list of str
        The units asked for, checked and in order.
    ids : ndarray or None
        Stimulus ids (an activation file's), None otherwise.
    """

    def __init__(self, names: list[str], available: list[str], ids: np.ndarray | None = None) -> None:
        self.names = names
        self.available = available
        self.ids = ids

    @property
    def n_stimuli(self) -> int | None:
        """The number of stimuli when known before reading (None for a Probe on a dataset)."""
        return None

    @abc.abstractmethod
    def units(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(name, patterns)`` of every unit in turn, ``patterns`` ``(n_stimuli, features)``."""

    @abc.abstractmethod
    def chunks(self, size: int) -> Iterator[dict[str, np.ndarray]]:
        """Every unit's rows of the next ``size`` stimuli, ``{name: (rows, features)}``, in one pass."""

    @abc.abstractmethod
    def widths(self) -> list[int | None]:
        """The number of features of each unit, when known before reading."""

    def descriptors(self) -> dict[str, tuple[Any, ...]]:
        """Per-unit ``layer`` and ``timestep`` (-1 without one), from the source or the names."""
        pairs = [timed_name(name) for name in self.names]
        return {"layer": tuple(p[0] for p in pairs), "timestep": tuple(p[1] for p in pairs)}

    def describe(self) -> str:
        """What the patterns were read from (kept in the results' descriptors)."""
        return "arrays"


def _time_steps(name: str, available: list[str]) -> list[str]:
    """``name`` itself if a unit has it, else every ``"<name>@t<step>"`` unit (a stage at all its time steps)."""
    if name in available:
        return [name]
    steps = [unit for unit in available if timed_name(unit)[0] == name and unit != name]
    return sorted(steps, key=lambda unit: timed_name(unit)[1]) or [name]


def _check_names(units: str | Sequence[str] | None, available: list[str], where: str) -> list[str]:
    if units is None:
        names = list(available)
    elif isinstance(units, str):
        names = [units]
    else:
        names = list(units)
        if not all(isinstance(name, str) for name in names):
            raise InvalidTypeError(f"units must be names (str), got {names!r}")
    if not names:
        raise InvalidValueError(f"no units to read from {where}: name at least one")
    names = [expanded for name in names for expanded in _time_steps(name, available)]
    missing = [name for name in names if name not in available]
    if missing:
        listing = ", ".join(available[:20]) + (", ..." if len(available) > 20 else "")
        raise InvalidKeyError(
            f"{where} has no unit{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}; it has {listing}"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidValueError(f"units are named more than once: {', '.join(map(repr, repeated))}")
    return names


class _Arrays(PatternSource):
    def __init__(self, arrays: Mapping[str, Any], units: str | Sequence[str] | None) -> None:
        available = [str(name) for name in arrays]
        super().__init__(_check_names(units, available, "the activations"), available)
        self._arrays = arrays
        lengths = {name: len(arrays[name]) for name in self.names}
        if len(set(lengths.values())) > 1:
            raise InvalidValueError(
                "units hold different numbers of stimuli: "
                + ", ".join(f"{name} {count}" for name, count in lengths.items())
            )
        self._n = next(iter(lengths.values()))

    @property
    def n_stimuli(self) -> int:
        return self._n

    def widths(self) -> list[int | None]:
        return [int(np.prod(np.shape(self._arrays[name])[1:], dtype=np.int64)) for name in self.names]

    def units(self) -> Iterator[tuple[str, np.ndarray]]:
        for name in self.names:
            yield name, _flat(self._arrays[name], name)

    def chunks(self, size: int) -> Iterator[dict[str, np.ndarray]]:
        size = positive_int(size, "batch_size")
        for start in range(0, self._n, size):
            yield {name: _flat(self._arrays[name][start : start + size], name) for name in self.names}


class _File(_Arrays):
    def __init__(self, file: Any, units: str | Sequence[str] | None) -> None:
        PatternSource.__init__(self, _check_names(units, list(file.units), file.path.name), list(file.units), file.ids)
        self._file = file
        self._n = file.n_stimuli
        self._arrays = file

    def widths(self) -> list[int | None]:
        return [int(np.prod(self._file.shapes[name][1:], dtype=np.int64)) for name in self.names]

    def units(self) -> Iterator[tuple[str, np.ndarray]]:
        for name in self.names:
            yield name, _flat(self._file.read(name), name)

    def chunks(self, size: int) -> Iterator[dict[str, np.ndarray]]:
        size = positive_int(size, "batch_size")
        for start in range(0, self._n, size):
            yield {name: _flat(self._file.read(name, slice(start, start + size)), name) for name in self.names}

    def descriptors(self) -> dict[str, tuple[Any, ...]]:
        attrs = [self._file.unit_attrs.get(name, {}) for name in self.names]
        fallback = super().descriptors()
        return {
            "layer": tuple(str(a.get("layer", layer)) for a, layer in zip(attrs, fallback["layer"], strict=True)),
            "timestep": tuple(
                int(a.get("timestep", step)) for a, step in zip(attrs, fallback["timestep"], strict=True)
            ),
        }

    def describe(self) -> str:
        return str(self._file.path)


class _Probe(PatternSource):
    def __init__(
        self,
        probe: Any,
        stimuli: Any,
        units: str | Sequence[str] | None,
        pool: Any,
        batch_size: int | None,
        progress: bool,
    ) -> None:
        from tfprobe.probing.pooling import parse_pool

        if units is None:
            raise InvalidValueError("name the units to record from the Probe (see probe.units)")
        names = probe.resolve(units)  # unknown names raise UnknownUnitError, with suggestions
        super().__init__(names, list(probe.units))
        parse_pool(pool)
        self._stimuli = probe.batches(stimuli, batch_size)  # checked before any work
        self._raw, self._probe, self._pool = stimuli, probe, pool
        self._batch_size, self._progress = batch_size, progress
        self._n = self._stimuli.count

    @property
    def n_stimuli(self) -> int | None:
        return self._n

    def widths(self) -> list[int | None]:
        from tfprobe.probing.pooling import pooled_shape

        shapes = [pooled_shape(self._probe.units[name].shape, self._pool) for name in self.names]
        return [None if None in shape else int(np.prod(shape, dtype=np.int64)) for shape in shapes]

    def units(self) -> Iterator[tuple[str, np.ndarray]]:
        values = self._probe.activations(
            self._stimuli, self.names, pool=self._pool, batch_size=self._batch_size, progress=self._progress
        )
        for name in self.names:
            yield name, _flat(values.pop(name), name)

    def chunks(self, size: int) -> Iterator[dict[str, np.ndarray]]:
        import tensorflow as tf

        from tfprobe.probing.pooling import pool_activation

        pool = self._pool

        def flatten(values: dict[str, Any]) -> dict[str, Any]:
            return {
                name: tf.reshape(pool_activation(tensor, pool), (tf.shape(tensor)[0], -1))
                for name, tensor in values.items()
            }

        size = positive_int(size, "batch_size")
        for values in self._probe.map(self._raw, self.names, flatten, batch_size=size, progress=self._progress):
            yield {name: np.asarray(values[name]) for name in self.names}

    def descriptors(self) -> dict[str, tuple[Any, ...]]:
        infos = [self._probe.units[name] for name in self.names]
        return {
            "layer": tuple(info.layer for info in infos),
            "timestep": tuple(-1 if info.timestep is None else int(info.timestep) for info in infos),
        }

    def describe(self) -> str:
        return f"Probe of {type(self._probe.model).__name__} {getattr(self._probe.model, 'name', '')}".strip()


def _is_probe(value: Any) -> bool:
    return all(hasattr(value, attribute) for attribute in ("resolve", "activations", "map", "units"))


def open_source(
    source: Any,
    units: str | Sequence[str] | None = None,
    *,
    stimuli: Any = None,
    pool: Any = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> PatternSource:
    """A :class:`PatternSource` over ``source``, its unit names checked before any reading.

    Parameters
    ----------
    source : mapping, ndarray, ActivationFile, path or Probe
        ``{unit: (n, ...) array-like}`` (an :class:`~tfprobe.probing.store.ActivationFile` is one), one array
        (the unit ``"patterns"``), the path of an activation file, or a :class:`~tfprobe.Probe` (then
        ``stimuli`` are run through it).
    units : str or sequence of str, optional
        The units to read; default every unit of an array source or file (a Probe needs them named).  A
        name no unit has but units ``"<name>@t<step>"`` have stands for all of them, in time order (a
        recurrent network's stage at every time step).
    stimuli : images, optional
        With a Probe: the stimuli (see :meth:`tfprobe.Probe.activations`).
    pool : optional
        With a Probe: spatial pooling (see :mod:`tfprobe.probing.pooling`).
    batch_size : int, optional
        With a Probe: stimuli per forward pass.
    progress : bool
        With a Probe: show a progress bar.

    Raises
    ------
    InvalidKeyError
        Units the source does not have (the message lists them and the units there are).
    InvalidValueError, InvalidTypeError
        ``stimuli`` missing for a Probe or given for another source; a source of another kind.
    """
    if _is_probe(source):
        if stimuli is None:
            raise InvalidValueError("a Probe needs stimuli=... to record patterns from")
        return _Probe(source, stimuli, units, pool, batch_size, progress)
    if stimuli is not None or pool is not None:
        raise InvalidValueError(
            "stimuli= and pool= apply to a Probe source only; this source holds activations already"
        )
    store = sys.modules.get("tfprobe.probing.store")  # an ActivationFile exists only once its module is loaded
    if isinstance(source, (str, os.PathLike)):
        from tfprobe.probing.store import ActivationFile

        source, store = ActivationFile(source), sys.modules["tfprobe.probing.store"]
    if store is not None and isinstance(source, store.ActivationFile):
        return _File(source, units)
    if isinstance(source, np.ndarray):
        return _Arrays({"patterns": source}, units)
    if isinstance(source, Mapping):
        return _Arrays(source, units)
    raise InvalidTypeError(
        "patterns come from a mapping {unit: array}, an array, an activation file (or its path) or a Probe, "
        f"got {type(source).__name__}"
    )
