"""Activations in HDF5 files: written atomically, appendable, read back lazily (DNNBrain's ``dnn_act``).

Layout of a file::

    /activations/<unit>     float32 (n, *per-stimulus shape), one dataset per unit; nested layer
                            names ("vgg16/block1_conv1") become nested groups
    /stimulus_ids           (n,) int64 or UTF-8 strings, all different
    attributes of /         format, created, units (JSON list, in order), and what made the file:
                            model_spec, model_class, model_name, model_config, weights (provenance:
                            "imagenet", "random (seed 0)", "file <path> (sha256 ...)", ...),
                            weights_sha256 (a fingerprint of the weight values), code and timesteps
                            (the recurrent network; "" and -1 otherwise), pooling, scale,
                            preprocessing, input_shape, tfprobe_version, tensorflow_version,
                            keras_version
    attributes of a unit    layer, timestep (-1: none), kind, modulation, source

A file is always written beside its destination under a temporary name and renamed over it only when
complete (appending copies the file first), so an interrupted extraction leaves the old file, or none,
and no half-written one.  Appending is refused, before any work and with the file unchanged, when the
new stimuli would be recorded differently (:data:`IDENTITY_FIELDS`, units, shapes) or repeat an id.

Reading is lazy: ``load_activations(path)[unit]`` is a :class:`UnitArray` that reads only the rows it is
indexed with (``[:100]``, ``[idx]``); ``numpy.asarray`` of it reads the whole unit.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tfprobe.atomic import check_destination, staged
from tfprobe.errors import ActivationFileError, DuplicateIdError, InvalidIndexError, InvalidValueError, MissingFileError
from tfprobe.probing.units import UnitInfo, unknown_unit

FORMAT = "tfprobe-activations/2"
#: Formats this version reads (version 1 files lack the provenance fields and cannot be appended to).
READABLE_FORMATS = ("tfprobe-activations/1", FORMAT)
#: Root attributes that must be equal for stimuli to be appended to a file.
IDENTITY_FIELDS = (
    "model_spec",
    "model_class",
    "weights",
    "weights_sha256",
    "code",
    "timesteps",
    "pooling",
    "scale",
    "preprocessing",
    "input_shape",
)


def _stored(value: Any) -> Any:
    """How a metadata value is kept as an HDF5 attribute (scalars as they are, the rest as JSON)."""
    return value if isinstance(value, (int, float, str)) else json.dumps(value)


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode_ids(values: np.ndarray) -> np.ndarray:
    if values.dtype == object or values.dtype.kind == "S":
        return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])
    return values


def _check_ids(ids: Sequence[Any] | np.ndarray | None, where: str) -> np.ndarray | None:
    """Ids as a 1-D int or str array with no repeats (None stays None)."""
    if ids is None:
        return None
    array = np.asarray(ids)
    if array.ndim != 1:
        raise InvalidValueError(f"ids must be a 1-D sequence of ints or strings, got shape {array.shape}")
    if array.dtype.kind not in "iuUSO":
        raise InvalidValueError(f"ids must be integers or strings, got dtype {array.dtype}")
    values, counts = np.unique(array.astype(str), return_counts=True)
    if np.any(counts > 1):
        repeated = values[counts > 1]
        raise DuplicateIdError(f"{where}: stimulus ids repeat ({', '.join(map(repr, repeated[:5].tolist()))})")
    return array


def read_units(file: h5py.File, path: Path) -> list[str]:
    if file.attrs.get("format") not in READABLE_FORMATS or "units" not in file.attrs:
        raise ActivationFileError(f"{path} is an HDF5 file but not a tfprobe activation file (no {FORMAT!r} header)")
    return list(json.loads(file.attrs["units"]))


def _check_appendable(
    path: Path, units: Sequence[UnitInfo], metadata: Mapping[str, Any], ids: np.ndarray | None
) -> int:
    """Refuse appending to ``path`` what would be recorded differently; the number of stimuli it holds."""
    try:
        with h5py.File(path, "r") as file:
            existing = read_units(file, path)
            if file.attrs.get("format") != FORMAT:
                raise ActivationFileError(
                    f"cannot append to {path}: it was written by an older tfprobe ({file.attrs.get('format')}) "
                    "that did not record which model and weights made it; write a new file"
                )
            attrs = {key: _attr(value) for key, value in file.attrs.items()}
            shapes = {name: tuple(file[f"activations/{name}"].shape[1:]) for name in existing}
            stored_ids = _decode_ids(file["stimulus_ids"][()])
    except (OSError, KeyError) as error:
        raise ActivationFileError(f"cannot append to {path}: cannot read it ({error})") from None
    wanted = [unit.name for unit in units]
    if existing != wanted:
        raise ActivationFileError(
            f"cannot append to {path}: it holds units {existing}, this extraction records {wanted}"
        )
    for field in IDENTITY_FIELDS:
        old, new = attrs.get(field), _stored(metadata.get(field, ""))
        if old != new:
            raise ActivationFileError(
                f"cannot append to {path}: its {field} is {_shorten(old)!r}, these stimuli's is {_shorten(new)!r}"
            )
    for unit in units:
        if shapes[unit.name] != tuple(unit.shape):
            raise ActivationFileError(
                f"cannot append to {path}: unit {unit.name!r} has shape {shapes[unit.name]} per stimulus there, "
                f"{tuple(unit.shape)} now"
            )
    numbered = stored_ids.dtype.kind in "iu"
    if ids is None and not numbered:
        raise InvalidValueError(f"cannot append to {path}: its stimulus ids are strings; give ids for the new stimuli")
    if ids is not None:
        if (ids.dtype.kind in "iu") != numbered:
            kinds = ("integers", "strings") if numbered else ("strings", "integers")
            raise InvalidValueError(
                f"cannot append to {path}: its stimulus ids are {kinds[0]}, the new ones {kinds[1]}"
            )
        repeated = np.intersect1d(stored_ids.astype(str), ids.astype(str))
        if len(repeated):
            raise DuplicateIdError(
                f"cannot append to {path}: {len(repeated)} stimulus ids are already in it "
                f"({', '.join(map(repr, repeated[:5].tolist()))})"
            )
    return len(stored_ids)


def _shorten(value: Any, limit: int = 160) -> Any:
    text = str(value)
    return value if len(text) <= limit else text[: limit - 3] + "..."


class ActivationWriter:
    """Write batches of activations to an HDF5 file atomically (use as a context manager).

    Parameters
    ----------
    path : path
        The destination ``.h5`` file.
    units : sequence of UnitInfo
        Units, with their per-stimulus shapes after pooling.
    metadata : dict
        Root attributes (see the module documentation; :data:`IDENTITY_FIELDS` are compared on appending).
    mode : {"w", "a"}
        Write a new file, or append stimuli to an existing one (created if missing).
    overwrite : bool
        With ``mode="w"``, replace an existing file.
    ids : sequence, optional
        One id (int or str) per stimulus, all different and, when appending, new to the file; default:
        running numbers (continuing the file's).

    Raises
    ------
    FileExistsError, FileNotFoundError
        The file exists (``mode="w"`` without ``overwrite``) or its folder does not.
    ActivationFileError
        Appending stimuli recorded differently from the file's (the message names the field and both values).
    DuplicateIdError
        Repeated ids.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        units: Sequence[UnitInfo],
        metadata: Mapping[str, Any],
        *,
        mode: str = "w",
        overwrite: bool = False,
        ids: Sequence[Any] | np.ndarray | None = None,
    ) -> None:
        if mode not in ("w", "a"):
            raise InvalidValueError(f"mode must be 'w' (write a new file) or 'a' (append to one), got {mode!r}")
        self.path = Path(path)
        self.appending = mode == "a" and self.path.exists()
        check_destination(
            self.path,
            overwrite=overwrite or mode == "a",
            what="activation file",
            remedy="pass overwrite=True to replace it, or mode='a' to append stimuli to it",
        )
        self.units = list(units)
        self.metadata = dict(metadata)
        self.ids = _check_ids(ids, str(self.path))
        self._first = _check_appendable(self.path, self.units, self.metadata, self.ids) if self.appending else 0
        self.written = self._first  # rows in the file (appending starts after the existing ones)
        self._file: h5py.File | None = None
        self._stage: Any = None

    def __enter__(self) -> ActivationWriter:
        self._stage = staged(self.path)
        temporary = self._stage.__enter__()
        try:
            if self.appending:
                shutil.copyfile(self.path, temporary)
                self._file = h5py.File(temporary, "r+")
            else:
                self._file = h5py.File(temporary, "w")
                self._create()
        except BaseException as error:
            self._close()
            self._stage.__exit__(type(error), error, error.__traceback__)
            raise
        return self

    def _create(self) -> None:
        file = self._file
        file.attrs["format"] = FORMAT
        file.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        file.attrs["units"] = json.dumps([u.name for u in self.units])
        for key, value in self.metadata.items():
            file.attrs[key] = _stored(value)
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

    def write(self, batch: Mapping[str, np.ndarray]) -> None:
        """Append one batch: an array (b, *shape) per unit."""
        sizes = {len(batch[u.name]) for u in self.units}
        if len(sizes) != 1:
            raise InvalidValueError(f"a batch must hold the same number of stimuli for every unit, got sizes {sizes}")
        (size,) = sizes
        for unit in self.units:
            dataset = self._file[f"activations/{unit.name}"]
            dataset.resize(self.written + size, axis=0)
            dataset[self.written :] = batch[unit.name]
        self.written += size

    def finish(self) -> None:
        """Store the stimulus ids of what was written and publish the file."""
        count = self.written - self._first
        if self.ids is None:
            new_ids = np.arange(self._first, self.written, dtype=np.int64)
        elif len(self.ids) != count:
            raise InvalidValueError(f"ids must give one id per stimulus: {count} stimuli, got {self.ids.shape} ids")
        else:
            new_ids = self.ids
        if self.appending:
            merged = np.concatenate([_decode_ids(self._file["stimulus_ids"][()]), new_ids])
            del self._file["stimulus_ids"]
        else:
            merged = new_ids
        if merged.dtype.kind in "US" or merged.dtype == object:
            self._file.create_dataset("stimulus_ids", data=merged.astype(str).astype(object), dtype=h5py.string_dtype())
        else:
            self._file.create_dataset("stimulus_ids", data=merged.astype(np.int64))
        self._close()
        stage, self._stage = self._stage, None
        stage.__exit__(None, None, None)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        self._close()
        if self._stage is not None:  # not finished: discard the temporary
            stage, self._stage = self._stage, None
            stage.__exit__(kind or RuntimeError, error or RuntimeError("extraction not finished"), traceback)


def _row_indices(rows: Any, n: int, path: Path, unit: str) -> np.ndarray:
    index = np.asarray(rows)
    if index.dtype == bool:
        if index.shape != (n,):
            raise InvalidIndexError(
                f"a boolean row mask for {unit!r} in {path.name} needs shape ({n},), got {index.shape}"
            )
        return np.flatnonzero(index)
    if index.dtype.kind not in "iu" or index.ndim != 1:
        raise InvalidIndexError(f"rows of {unit!r} in {path.name} must be a slice, an int or 1-D ints, got {rows!r}")
    if len(index) and (index.min() < -n or index.max() >= n):
        raise InvalidIndexError(f"row index out of range for {unit!r} in {path.name}: it has {n} stimuli")
    return np.where(index < 0, index + n, index)


class UnitArray:
    """One unit of an activation file, read from disk only when indexed.

    ``unit[:100]``, ``unit[[3, 7]]`` or ``unit[5]`` read those stimuli's rows only; ``numpy.asarray(unit)``
    (or ``unit[()]``, ``unit[:]``) reads all of them.  ``shape``, ``dtype`` and ``len`` need no reading.
    """

    def __init__(self, file: ActivationFile, name: str) -> None:
        self._file = file
        self.name = name
        self.shape = file.shapes[name]
        self.dtype = np.dtype(np.float32)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        return self._file.read(self.name, key)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        values = self._file.read(self.name)
        return values if dtype is None else values.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"UnitArray({self.name!r}, shape={self.shape}, file={self._file.path.name!r}; index it to read)"


class ActivationFile(Mapping[str, UnitArray]):
    """A tfprobe activation file, read lazily: ``file[unit]`` is a :class:`UnitArray` of shape (n, ...).

    It is a mapping from unit names to array-likes, so it can be passed wherever activations are expected
    (for example to :func:`tfprobe.decoding.decode`, which reads one unit at a time).

    Attributes
    ----------
    path : Path
    units : list of str
        In the order they were recorded.
    ids : ndarray (n,)
        Stimulus ids.
    attrs : dict
        File metadata: what made the file (model, weights, pooling, ...; see :mod:`tfprobe.probing.store`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise MissingFileError(f"activation file {str(self.path)!r} does not exist")
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

    def __getitem__(self, unit: str) -> UnitArray:
        if unit not in self.units:
            raise unknown_unit(unit, self.units, f"unit in {self.path.name}:")
        return UnitArray(self, unit)

    @property
    def n_stimuli(self) -> int:
        return len(self.ids)

    def read(self, unit: str, rows: Any = None) -> np.ndarray:
        """One unit's activations: all stimuli, or the given rows (a slice, an int or sorted indices)."""
        if unit not in self.units:
            raise unknown_unit(unit, self.units, f"unit in {self.path.name}:")
        try:
            with h5py.File(self.path, "r") as file:
                dataset = file[f"activations/{unit}"]
                if rows is None:
                    return dataset[()]
                if isinstance(rows, (slice, int, np.integer, tuple)) or np.ndim(rows) == 0:
                    return dataset[rows]
                # h5py reads increasing, unique indices only: read those, then put them in the asked order
                index = _row_indices(rows, dataset.shape[0], self.path, unit)
                unique, inverse = np.unique(index, return_inverse=True)
                return dataset[unique][inverse.reshape(-1)]
        except (OSError, KeyError) as error:
            raise ActivationFileError(f"cannot read unit {unit!r} from {self.path}: {error}") from None

    def subset(self, units: Sequence[str]) -> Mapping[str, UnitArray]:
        """A lazy mapping of some of the units."""
        return {unit: self[unit] for unit in units}

    def __repr__(self) -> str:
        return f"ActivationFile({str(self.path)!r}, {self.n_stimuli} stimuli, units={self.units})"


def load_activations(path: str | os.PathLike[str]) -> ActivationFile:
    """Open an activation file written by :meth:`tfprobe.Probe.extract` (nothing is read until indexed)."""
    return ActivationFile(path)
