"""Arrays with named axes, saved as self-describing HDF5 files.

The recurrent-network analyses produce arrays indexed like the original study's
(layers, time steps, variables, image types, repetitions).  A
:class:`LabelledArray` keeps the axis names and the value of every index with
the numbers, and its file states both as attributes, so the file can be read
without tfprobe (``h5py``: ``f["values"]`` and ``f["values"].attrs``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tfprobe.atomic import check_destination, staged
from tfprobe.errors import InvalidKeyError, InvalidValueError, MissingFileError

__all__ = ["LabelledArray", "load_labelled", "save_labelled"]

_FORMAT = "tfprobe.LabelledArray/1"


@dataclasses.dataclass(frozen=True)
class LabelledArray:
    """An ndarray whose axes have names and whose indices have values.

    Parameters
    ----------
    values : ndarray
        The numbers.
    axes : mapping str -> sequence
        Axis name -> the value of each index along it, in axis order; one entry per dimension of
        ``values``, each as long as that dimension.
    attrs : mapping str -> JSON-serialisable, optional
        Anything that describes how the numbers were made (settings, model, seeds).

    Examples
    --------
    >>> layers = ["input", "conv1", "conv2", "fc1"]
    >>> acc = LabelledArray(np.zeros((4, 2)), {"layer": layers, "image": ["cluttered", "clean"]})
    >>> acc.sel(layer="fc1").shape
    (2,)
    """

    values: np.ndarray
    axes: Mapping[str, Sequence[Any]]
    attrs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        axes = {str(name): list(_plain(v) for v in index) for name, index in dict(self.axes).items()}
        if len(axes) != values.ndim:
            raise InvalidValueError(
                f"values have {values.ndim} dimensions {values.shape} but {len(axes)} axes were named: {list(axes)}"
            )
        for (name, index), size in zip(axes.items(), values.shape, strict=True):
            if len(index) != size:
                raise InvalidValueError(
                    f"axis {name!r} has {size} entries in values but {len(index)} index values: {index}"
                )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "attrs", dict(self.attrs))

    @property
    def dims(self) -> tuple[str, ...]:
        """The axis names, in order."""
        return tuple(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def index(self, axis: str, value: Any) -> int:
        """Position of ``value`` along ``axis``, or a clear error naming the values there are."""
        if axis not in self.axes:
            raise InvalidKeyError(f"no axis {axis!r}; axes are {', '.join(self.dims)}")
        try:
            return self.axes[axis].index(_plain(value))
        except ValueError:
            raise InvalidKeyError(f"{value!r} is not on axis {axis!r}; its values are {self.axes[axis]}") from None

    def sel(self, **selection: Any) -> np.ndarray:
        """The values at the given axis values, e.g. ``sel(layer="fc1", variable="category")``;
        the selected axes are dropped, the others kept in order."""
        key = tuple(self.index(name, selection.pop(name)) if name in selection else slice(None) for name in self.dims)
        if selection:
            raise InvalidKeyError(f"no axis {next(iter(selection))!r}; axes are {', '.join(self.dims)}")
        return self.values[key]

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write an HDF5 file atomically holding this array as dataset ``values`` (see
        :func:`save_labelled`)."""
        return save_labelled(path, {"values": self}, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LabelledArray:
        """Read a file written by :meth:`save`."""
        arrays, _ = load_labelled(path)
        if "values" not in arrays:
            raise InvalidKeyError(f"{path} holds no array named 'values'; it holds {', '.join(arrays)}")
        return arrays["values"]


def save_labelled(
    path: str | os.PathLike[str],
    arrays: Mapping[str, LabelledArray],
    attrs: Mapping[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write several labelled arrays to one HDF5 file, atomically.

    Each array is a dataset named by its key, with attributes ``dims`` (JSON list of axis names),
    ``axis:<name>`` (JSON list of the index values along each axis) and ``attrs`` (JSON); the file's
    own attributes hold ``format`` and ``attrs`` (JSON of ``attrs``).  Readable with h5py alone.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    check_destination(path, overwrite=overwrite, what="results file")
    with staged(path) as temporary, h5py.File(temporary, "w") as file:
        file.attrs["format"] = _FORMAT
        file.attrs["attrs"] = json.dumps(dict(attrs or {}), default=_plain)
        for name, array in arrays.items():
            data = file.create_dataset(name, data=array.values)
            data.attrs["dims"] = json.dumps(list(array.dims))
            for axis, index in array.axes.items():
                data.attrs[f"axis:{axis}"] = json.dumps(index, default=_plain)
            data.attrs["attrs"] = json.dumps(array.attrs, default=_plain)
    return path


def load_labelled(path: str | os.PathLike[str]) -> tuple[dict[str, LabelledArray], dict[str, Any]]:
    """Read a file written by :func:`save_labelled`: the arrays by name, and the file's attributes."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no labelled-array file at {path}")
    with h5py.File(path, "r") as file:
        if file.attrs.get("format") != _FORMAT:
            raise InvalidValueError(f"{path} is not a tfprobe labelled-array file (expected format {_FORMAT})")
        arrays = {}
        for name, data in file.items():
            dims = json.loads(data.attrs["dims"])
            axes = {axis: json.loads(data.attrs[f"axis:{axis}"]) for axis in dims}
            arrays[name] = LabelledArray(data[()], axes, json.loads(data.attrs["attrs"]))
        return arrays, json.loads(file.attrs["attrs"])


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as plain Python values (for JSON)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
