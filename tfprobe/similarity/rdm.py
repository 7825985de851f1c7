"""RDMs: the condensed dissimilarity vectors of many units (layers, time steps, subjects) over one set of conditions."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tfprobe.atomic import check_destination, staged
from tfprobe.errors import InvalidKeyError, InvalidTypeError, InvalidValueError, MissingFileError
from tfprobe.similarity.condensed import n_conditions_of, to_matrices
from tfprobe.similarity.conditions import MIN_CONDITIONS
from tfprobe.validation import is_int

__all__ = ["FORMAT", "RDMs", "load_rdms"]

FORMAT = "tfprobe-rdms/1"


def _label_array(labels: Sequence[Any] | np.ndarray) -> np.ndarray:
    array = np.asarray(labels)
    if array.dtype == object:
        array = array.astype(str)
    return array


@dataclass(frozen=True)
class RDMs:
    """Representational dissimilarity matrices of several units over the same conditions.

    Each RDM is kept as its condensed vector: the upper triangle of the matrix, row by row (rsatoolbox's
    and scipy's order).

    Attributes
    ----------
    vectors : ndarray (n_rdms, n_pairs) float64
        One condensed vector per RDM.
    names : tuple of str
        One name per RDM (a unit such as ``"conv1@t2"``, a subject, a model), all different.
    conditions : ndarray (n_conditions,)
        The condition labels (ints or strings), in the order of the matrices' rows.
    metric : str
        The dissimilarity measure (see :mod:`tfprobe.similarity.distances`), or what made the vectors
        (``"model"``, an rsatoolbox measure name).
    rdm_descriptors : dict of str to tuple
        Per-RDM descriptors, one value per RDM (``layer``, ``timestep``, ...).
    descriptors : dict
        How the RDMs were made (source file, noise, runs, ...); JSON-able values.
    """

    vectors: np.ndarray
    names: tuple[str, ...]
    conditions: np.ndarray
    metric: str = "unknown"
    rdm_descriptors: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    descriptors: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        vectors = np.asarray(self.vectors, dtype=np.float64)
        if vectors.ndim == 1:
            vectors = vectors[None]
        if vectors.ndim != 2:
            raise InvalidValueError(f"RDM vectors must have shape (n_rdms, n_pairs), got {vectors.shape}")
        n = n_conditions_of(vectors.shape[1])
        names = tuple(str(name) for name in ([self.names] if isinstance(self.names, str) else self.names))
        conditions = _label_array(self.conditions)
        if len(names) != vectors.shape[0]:
            raise InvalidValueError(f"{vectors.shape[0]} RDMs need {vectors.shape[0]} names, got {len(names)}")
        if len(set(names)) != len(names):
            repeated = sorted({name for name in names if names.count(name) > 1})
            raise InvalidValueError(f"RDM names must be different; repeated: {', '.join(map(repr, repeated))}")
        if conditions.ndim != 1 or len(conditions) != n:
            raise InvalidValueError(
                f"RDM vectors of {vectors.shape[1]} pairs have {n} conditions, got {conditions.shape} labels"
            )
        if n < MIN_CONDITIONS:
            raise InvalidValueError(f"an RDM needs at least {MIN_CONDITIONS} conditions, got {n}")
        descriptors = {str(key): tuple(value) for key, value in dict(self.rdm_descriptors).items()}
        for key, values in descriptors.items():
            if len(values) != len(names):
                raise InvalidValueError(f"rdm descriptor {key!r} gives {len(values)} values for {len(names)} RDMs")
        object.__setattr__(self, "vectors", vectors)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "conditions", conditions)
        object.__setattr__(self, "rdm_descriptors", descriptors)
        object.__setattr__(self, "descriptors", dict(self.descriptors))

    # ------------------------------------------------------------------ shape and access

    @property
    def n_rdms(self) -> int:
        """The number of RDMs."""
        return self.vectors.shape[0]

    @property
    def n_conditions(self) -> int:
        """The number of conditions (rows of each matrix)."""
        return len(self.conditions)

    @property
    def n_pairs(self) -> int:
        """The number of condition pairs (entries of each condensed vector)."""
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return self.n_rdms

    def index(self, name: str | int) -> int:
        """The position of the RDM named ``name`` (an int is taken as a position).

        Raises
        ------
        InvalidKeyError
            No RDM has that name (the message lists the names).
        """
        if is_int(name):
            if not -self.n_rdms <= name < self.n_rdms:
                raise InvalidKeyError(f"RDM position {name} is out of range: there are {self.n_rdms} RDMs")
            return int(name) % self.n_rdms
        if name not in self.names:
            raise InvalidKeyError(f"no RDM named {name!r}; the RDMs are {', '.join(self.names)}")
        return self.names.index(name)

    def vector(self, name: str | int = 0) -> np.ndarray:
        """The condensed vector of one RDM (a copy)."""
        return self.vectors[self.index(name)].copy()

    def matrix(self, name: str | int = 0) -> np.ndarray:
        """The square ``(n_conditions, n_conditions)`` matrix of one RDM (zero diagonal)."""
        return to_matrices(self.vectors[self.index(name)][None])[0]

    def matrices(self) -> np.ndarray:
        """Every RDM as a square matrix, ``(n_rdms, n_conditions, n_conditions)``."""
        return to_matrices(self.vectors)

    def subset(self, names: Sequence[str | int]) -> RDMs:
        """The RDMs named ``names``, in that order."""
        if isinstance(names, str):
            names = [names]
        positions = [self.index(name) for name in names]
        return RDMs(
            self.vectors[positions],
            tuple(self.names[p] for p in positions),
            self.conditions,
            self.metric,
            {key: tuple(values[p] for p in positions) for key, values in self.rdm_descriptors.items()},
            self.descriptors,
        )

    def __getitem__(self, key: str | int | Sequence[str | int]) -> RDMs:
        """``rdms["conv1@t2"]`` (one RDM) or ``rdms[["a", "b"]]`` (several), as RDMs."""
        return self.subset([key] if isinstance(key, (str, int, np.integer)) else key)

    def reorder(self, order: Sequence[int] | np.ndarray) -> RDMs:
        """The RDMs with their conditions in a new order (``order[k]``: the old position of the new k-th).

        Raises
        ------
        InvalidValueError
            ``order`` is not a permutation of the conditions.
        """
        order = np.asarray(order)
        if (
            order.ndim != 1
            or order.dtype.kind not in "iu"
            or not np.array_equal(np.sort(order), np.arange(self.n_conditions))
        ):
            raise InvalidValueError(f"order must be a permutation of 0..{self.n_conditions - 1}")
        matrices = self.matrices()[:, order][:, :, order]
        rows, columns = np.triu_indices(self.n_conditions, k=1)
        return RDMs(
            matrices[:, rows, columns],
            self.names,
            self.conditions[order],
            self.metric,
            self.rdm_descriptors,
            self.descriptors,
        )

    def sort_by(self, keys: Sequence[Any] | np.ndarray) -> RDMs:
        """The RDMs with their conditions sorted (stably) by ``keys``, one per condition (e.g. categories)."""
        keys = _label_array(keys)
        if keys.shape != (self.n_conditions,):
            raise InvalidValueError(
                f"sort keys must give one value per condition ({self.n_conditions}), got {keys.shape}"
            )
        return self.reorder(np.argsort(keys, kind="stable"))

    def rename(self, names: Sequence[str] | Mapping[str, str]) -> RDMs:
        """The same RDMs under new names (a sequence of all names, or a mapping old -> new)."""
        if isinstance(names, Mapping):
            names = [names.get(name, name) for name in self.names]
        return RDMs(self.vectors, tuple(names), self.conditions, self.metric, self.rdm_descriptors, self.descriptors)

    def __repr__(self) -> str:
        shown = ", ".join(self.names[:6]) + (", ..." if self.n_rdms > 6 else "")
        return f"RDMs({self.n_rdms} RDMs of {self.n_conditions} conditions, metric={self.metric!r}, names=[{shown}])"

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the RDMs to an HDF5 file atomically (a temporary beside ``path``, then renamed).

        Layout: ``vectors`` (n_rdms, n_pairs) float64, ``names``, ``conditions`` (ints or UTF-8 strings),
        ``rdm_descriptors/<key>`` (JSON), attributes ``format``, ``metric``, ``descriptors`` (JSON).

        Raises
        ------
        ExistingOutputError, MissingFileError
            ``path`` exists without ``overwrite``, or its folder does not exist.
        """
        path = check_destination(path, overwrite=overwrite, what="RDM file")
        strings = h5py.string_dtype()
        with staged(path) as temporary, h5py.File(temporary, "w") as file:
            file.attrs["format"] = FORMAT
            file.attrs["metric"] = self.metric
            file.attrs["descriptors"] = json.dumps(_plain(self.descriptors))
            file.create_dataset("vectors", data=self.vectors)
            file.create_dataset("names", data=np.array(self.names, dtype=object), dtype=strings)
            if self.conditions.dtype.kind in "iub":
                file.create_dataset("conditions", data=self.conditions.astype(np.int64))
            elif self.conditions.dtype.kind == "f":
                file.create_dataset("conditions", data=self.conditions.astype(np.float64))
            else:
                file.create_dataset("conditions", data=self.conditions.astype(str).astype(object), dtype=strings)
            group = file.create_group("rdm_descriptors")
            for key, values in self.rdm_descriptors.items():
                group.attrs[key] = json.dumps(_plain(list(values)))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RDMs:
        """Read RDMs written by :meth:`save`.

        Raises
        ------
        MissingFileError
            No such file.
        InvalidValueError
            The file is not an RDM file of tfprobe.
        """
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f"RDM file {str(path)!r} does not exist")
        try:
            with h5py.File(path, "r") as file:
                if file.attrs.get("format") != FORMAT:
                    raise InvalidValueError(f"{path} is not a tfprobe RDM file (no {FORMAT!r} header)")
                conditions = file["conditions"][()]
                if conditions.dtype == object or conditions.dtype.kind == "S":
                    conditions = np.array([c.decode() if isinstance(c, bytes) else str(c) for c in conditions])
                return cls(
                    vectors=file["vectors"][()],
                    names=tuple(n.decode() if isinstance(n, bytes) else str(n) for n in file["names"][()]),
                    conditions=conditions,
                    metric=str(file.attrs["metric"]),
                    rdm_descriptors={k: tuple(json.loads(v)) for k, v in file["rdm_descriptors"].attrs.items()},
                    descriptors=json.loads(file.attrs["descriptors"]),
                )
        except (OSError, KeyError) as error:
            raise InvalidValueError(f"cannot read RDM file {path}: {error}") from None

    # ------------------------------------------------------------------ rsatoolbox

    def to_rsatoolbox(self) -> Any:
        """These RDMs as an ``rsatoolbox.rdm.RDMs`` (rsatoolbox must be installed; it is optional).

        Names become the rdm descriptor ``"name"`` (with the other rdm descriptors), condition labels the
        pattern descriptor ``"conditions"``, the metric the dissimilarity measure (rsatoolbox's own name:
        ``"squared euclidean"`` for ``"euclidean"``, ...).
        """
        from tfprobe.similarity.interop import to_rsatoolbox

        return to_rsatoolbox(self)

    @classmethod
    def from_rsatoolbox(cls, rdms: Any, *, name_descriptor: str | None = None) -> RDMs:
        """RDMs from an ``rsatoolbox.rdm.RDMs``.

        Parameters
        ----------
        rdms : rsatoolbox.rdm.RDMs
        name_descriptor : str, optional
            The rdm descriptor naming the RDMs (default: ``"name"`` if there is one, else ``"index"``).
        """
        from tfprobe.similarity.interop import from_rsatoolbox

        return from_rsatoolbox(rdms, name_descriptor=name_descriptor)


def load_rdms(path: str | os.PathLike[str]) -> RDMs:
    """Read RDMs written by :meth:`RDMs.save`."""
    return RDMs.load(path)


def check_rdms(value: Any, what: str = "rdms") -> RDMs:
    """``value`` if it is :class:`RDMs`, else an :class:`~tfprobe.errors.InvalidTypeError`."""
    if not isinstance(value, RDMs):
        raise InvalidTypeError(
            f"{what} must be RDMs (from tfprobe.calc_rdm, RDMs.load, RDMs.from_rsatoolbox), got {type(value).__name__}"
        )
    return value


def _plain(value: Any) -> Any:
    """Numpy values as Python ones (JSON cannot hold them)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
