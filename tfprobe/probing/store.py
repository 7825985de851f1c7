"""Activations in HDF5 files: written atomically, appendable, read back lazily (DNNBrain's ``dnn_act``).

Layout of a file::

    /activations/<unit>     float32 (n, *per-stimulus shape), one dataset per unit; nested layer
                            names ("vgg16/block1_conv1") become nested groups
    /stimulus_ids           (n,) int64 or UTF-8 strings
    attributes of /         format, tfprobe version, model name / class / config, units (JSON list,
                            in order), pooling, created
    attributes of a unit    layer, timestep (-1: none), kind, modulation, source

A file is always written beside its destination under a temporary name and
renamed over it only when complete (appending copies the file first), so an
interrupted extraction leaves the old file, or none, and no half-written one.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tfprobe.probing.units import UnitInfo, unknown_unit

FORMAT = "tfprobe-activations/1"


class ActivationFileError(ValueError):
    """An activation file that cannot be read, or does not match what is being appended."""


def _check_path(path: Path, mode: str, overwrite: bool) -> None:
    if mode not in ("w", "a"):
        raise ValueError(f"mode must be 'w' (write a new file) or 'a' (append to one), got {mode!r}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {str(path.parent)!r} for the activation file does not exist")
    if mode == "w" and path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} exists: pass overwrite=True to replace it, or mode='a' to append stimuli to it"
        )


class ActivationWriter:
    """Write batches of activations to an HDF5 file atomically (use as a context manager).

    Parameters
    ----------
    path : path
        The destination ``.h5`` file.
    units : sequence of UnitInfo
        Units, with their per-stimulus shapes after pooling.
    metadata : dict
        Root attributes (model name, class, config, pooling, ...).
    mode : {"w", "a"}
        Write a new file, or append stimuli to an existing one (created if missing).
    overwrite : bool
        With ``mode="w"``, replace an existing file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        units: Sequence[UnitInfo],
        metadata: Mapping[str, Any],
        *,
        mode: str = "w",
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        _check_path(self.path, mode, overwrite)
        self.units = list(units)
        self.metadata = dict(metadata)
        self.appending = mode == "a" and self.path.exists()
        self._temporary: Path | None = None
        self._file: h5py.File | None = None
        self.written = 0  # rows in the file (appending starts after the existing ones)
        self._first = 0  # the first row this writer adds

    def __enter__(self) -> ActivationWriter:
        handle, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
        os.close(handle)
        self._temporary = Path(name)
        try:
            if self.appending:
                shutil.copyfile(self.path, self._temporary)
                self._file = h5py.File(self._temporary, "r+")
                self._check_appendable()
            else:
                self._file = h5py.File(self._temporary, "w")
                self._create()
        except BaseException:
            self._discard()
            raise
        return self

    def _create(self) -> None:
        file = self._file
        file.attrs["format"] = FORMAT
        file.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        file.attrs["units"] = json.dumps([u.name for u in self.units])
        for key, value in self.metadata.items():
            file.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(value)
        for unit in self.units:
            dataset = file.create_dataset(
                f"activations/{unit.name}",
                shape=(0, *unit.shape),
                maxshape=(None, *unit.shape),
                dtype="float32",
                chunks=(max(1, min(256, (1 << 20) // max(1, 4 * (unit.size or 1)))), *unit.shape),
            )
            dataset.attrs["layer"] = unit.layer
            dataset.attrs["timestep"] = -1 if unit.timestep is None else unit.timestep
            dataset.attrs["kind"] = unit.kind
            dataset.attrs["modulation"] = unit.modulation or ""
            dataset.attrs["source"] = unit.source or ""

    def _check_appendable(self) -> None:
        existing = read_units(self._file, self.path)
        wanted = [u.name for u in self.units]
        if existing != wanted:
            raise ActivationFileError(
                f"cannot append to {self.path}: it holds units {existing}, this extraction records {wanted}"
            )
        for unit in self.units:
            shape = tuple(self._file[f"activations/{unit.name}"].shape[1:])
            if shape != tuple(unit.shape):
                raise ActivationFileError(
                    f"cannot append to {self.path}: unit {unit.name!r} has shape {shape} per stimulus there, "
                    f"{tuple(unit.shape)} now (different pooling?)"
                )
        stored = str(self._file.attrs.get("pooling", ""))
        if stored != str(self.metadata.get("pooling", "")):
            raise ActivationFileError(
                f"cannot append to {self.path}: its activations were pooled as {stored!r}, "
                f"these as {self.metadata.get('pooling')!r}"
            )
        self.written = self._first = len(self._file["stimulus_ids"])

    def write(self, batch: Mapping[str, np.ndarray]) -> None:
        """Append one batch: an array (b, *shape) per unit."""
        sizes = {len(batch[u.name]) for u in self.units}
        if len(sizes) != 1:
            raise ValueError(f"a batch must hold the same number of stimuli for every unit, got sizes {sizes}")
        (size,) = sizes
        for unit in self.units:
            dataset = self._file[f"activations/{unit.name}"]
            dataset.resize(self.written + size, axis=0)
            dataset[self.written :] = batch[unit.name]
        self.written += size

    def finish(self, ids: Sequence[Any] | np.ndarray | None) -> None:
        """Store the stimulus ids of what was written (default: running numbers) and publish the file."""
        count = self.written - self._first
        if ids is None:
            new_ids = np.arange(self._first, self.written, dtype=np.int64)
        else:
            new_ids = np.asarray(ids)
            if new_ids.ndim != 1 or len(new_ids) != count:
                raise ValueError(f"ids must give one id per stimulus: {count} stimuli, got {new_ids.shape} ids")
        if self.appending:
            old = self._file["stimulus_ids"]
            merged = np.concatenate([_decode_ids(old[()]), new_ids])
            del self._file["stimulus_ids"]
        else:
            merged = new_ids
        if merged.dtype.kind in "US" or merged.dtype == object:
            self._file.create_dataset("stimulus_ids", data=merged.astype(str).astype(object), dtype=h5py.string_dtype())
        elif merged.dtype.kind in "iu":
            self._file.create_dataset("stimulus_ids", data=merged.astype(np.int64))
        else:
            raise ValueError(f"ids must be integers or strings, got dtype {merged.dtype}")
        self._file.close()
        self._file = None
        os.replace(self._temporary, self.path)
        self._temporary = None

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)
            self._temporary = None

    def __exit__(self, *exc: object) -> None:
        self._discard()  # after finish() there is nothing left to discard


def _decode_ids(values: np.ndarray) -> np.ndarray:
    if values.dtype == object or values.dtype.kind == "S":
        return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])
    return values


def read_units(file: h5py.File, path: Path) -> list[str]:
    if file.attrs.get("format") != FORMAT or "units" not in file.attrs:
        raise ActivationFileError(f"{path} is an HDF5 file but not a tfprobe activation file (no {FORMAT!r} header)")
    return list(json.loads(file.attrs["units"]))


class ActivationFile(Mapping[str, np.ndarray]):
    """A tfprobe activation file, read lazily: ``file[unit]`` loads one unit's (n, ...) array.

    It is a mapping from unit names to arrays, so it can be passed wherever activations are expected
    (for example to :func:`tfprobe.decoding.decode`).

    Attributes
    ----------
    path : Path
    units : list of str
        In the order they were recorded.
    ids : ndarray (n,)
        Stimulus ids.
    attrs : dict
        File metadata (model, pooling, ...).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"activation file {str(self.path)!r} does not exist")
        try:
            with h5py.File(self.path, "r") as file:
                self.units = read_units(file, self.path)
                self.ids = _decode_ids(file["stimulus_ids"][()])
                self.attrs = {key: _attr(value) for key, value in file.attrs.items()}
                datasets = {u: file[f"activations/{u}"] for u in self.units}
                self.unit_attrs = {u: {k: _attr(v) for k, v in d.attrs.items()} for u, d in datasets.items()}
                self.shapes = {u: tuple(d.shape) for u, d in datasets.items()}
        except ActivationFileError:
            raise
        except (OSError, KeyError, ValueError) as error:
            raise ActivationFileError(f"cannot read activation file {self.path}: {error}") from None
        lengths = {shape[0] for shape in self.shapes.values()} | {len(self.ids)}
        if len(lengths) != 1:
            raise ActivationFileError(f"{self.path} is inconsistent: units and ids hold different counts {lengths}")

    def __len__(self) -> int:
        return len(self.units)

    def __iter__(self) -> Iterator[str]:
        return iter(self.units)

    def __getitem__(self, unit: str) -> np.ndarray:
        return self.read(unit)

    @property
    def n_stimuli(self) -> int:
        return len(self.ids)

    def read(self, unit: str, rows: slice | np.ndarray | None = None) -> np.ndarray:
        """One unit's activations (all stimuli, or the given rows)."""
        if unit not in self.units:
            raise unknown_unit(unit, self.units, f"unit in {self.path.name}:")
        try:
            with h5py.File(self.path, "r") as file:
                dataset = file[f"activations/{unit}"]
                return dataset[()] if rows is None else dataset[rows]
        except (OSError, KeyError) as error:
            raise ActivationFileError(f"cannot read unit {unit!r} from {self.path}: {error}") from None

    def subset(self, units: Sequence[str]) -> Mapping[str, np.ndarray]:
        """A lazy mapping of some of the units (each read from disk when asked for)."""
        for unit in units:
            if unit not in self.units:
                raise unknown_unit(unit, self.units, f"unit in {self.path.name}:")
        return _UnitView(self, list(units))

    def __repr__(self) -> str:
        return f"ActivationFile({str(self.path)!r}, {self.n_stimuli} stimuli, units={self.units})"


class _UnitView(Mapping[str, np.ndarray]):
    def __init__(self, file: ActivationFile, units: list[str]) -> None:
        self._file, self._units = file, units

    def __getitem__(self, unit: str) -> np.ndarray:
        if unit not in self._units:
            raise unknown_unit(unit, self._units, "unit in this selection:")
        return self._file.read(unit)

    def __iter__(self) -> Iterator[str]:
        return iter(self._units)

    def __len__(self) -> int:
        return len(self._units)


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def load_activations(path: str | os.PathLike[str]) -> ActivationFile:
    """Open an activation file written by :meth:`tfprobe.Probe.extract`."""
    return ActivationFile(path)
