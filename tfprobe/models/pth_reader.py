"""Read PyTorch ``.pth`` state_dicts without torch and without running their code.

A ``.pth`` file is a pickle, and unpickling can call any importable function.
This reader uses an unpickler that resolves only the handful of names a saved
state_dict needs (``collections.OrderedDict``, torch's tensor-rebuilding
helpers and storage types) to inert local stand-ins.  Any other name, such as
``os.system`` or ``builtins.eval``, makes it stop with
:class:`~tfprobe.errors.UnsafeCheckpointError` before anything is called.

Both container formats are read: the zip archive written by PyTorch >= 1.6
(``<name>/data.pkl`` plus one file per storage) and the older stream of
pickles followed by raw storage bytes (``_use_new_zipfile_serialization=False``).
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import ml_dtypes
import numpy as np

from tfprobe.errors import CheckpointError, MissingFileError, UnsafeCheckpointError

__all__ = ["read_torch_pickle", "read_torch_state_dict"]

#: Tensors larger than their storage (stride-0 views) are rebuilt up to this size.
_MAX_EXPANDED_ELEMENTS = 2**28
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype(np.float32),
    "DoubleStorage": np.dtype(np.float64),
    "HalfStorage": np.dtype(np.float16),
    "BFloat16Storage": np.dtype(ml_dtypes.bfloat16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
}


class _RefusedBuild(Exception):
    """A pickle tried to set the state of one of the stand-ins (BUILD opcode)."""


def _refuse_state(self: Any, state: Any) -> None:
    # pickle's BUILD would otherwise write into the stand-in, which is shared by
    # every later read in the process.
    raise _RefusedBuild(type(self).__name__)


@dataclass(frozen=True, slots=True)
class _StorageType:
    """Stand-in for ``torch.FloatStorage`` and friends: only carries a dtype."""

    name: str
    dtype: np.dtype

    __setstate__ = _refuse_state


@dataclass(frozen=True, slots=True)
class _Rebuilder:
    """Stand-in for an allowed function (``_rebuild_tensor_v2``...); immutable."""

    name: str
    function: Callable[..., Any]

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)

    __setstate__ = _refuse_state


@dataclass
class _StorageRef:
    """A storage named in the pickle; its bytes are attached after unpickling.

    Legacy files may also name a slice of another storage (``base``, ``start``).
    """

    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None
    base: _StorageRef | None = None
    start: int = 0

    def array(self) -> np.ndarray | None:
        if self.base is None:
            return self.data
        base = self.base.array()
        return None if base is None else base[self.start : self.start + self.numel]


@dataclass(frozen=True)
class _TensorRecord:
    """A tensor as the pickle describes it: a strided view of a storage."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def materialize(self, source: str) -> np.ndarray:
        storage = self.storage.array()
        if storage is None:
            raise CheckpointError(f"{source}: storage {self.storage.key!r} is referenced but its data is missing")
        if any(s < 0 for s in self.size) or any(s < 0 for s in self.stride) or self.offset < 0:
            raise CheckpointError(
                f"{source}: tensor with negative size/stride/offset: {self.size}, {self.stride}, {self.offset}"
            )
        if 0 in self.size:
            return np.zeros(self.size, dtype=storage.dtype)
        numel = int(np.prod(self.size, dtype=object))
        if numel > max(storage.size, _MAX_EXPANDED_ELEMENTS):
            # Stride-0 views can make a tiny file describe an enormous tensor.
            raise CheckpointError(
                f"{source}: tensor of size {self.size} would hold {numel} elements built from storage "
                f"{self.storage.key!r} of {storage.size}: refusing to expand it (corrupt or crafted file)"
            )
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride, strict=False))
        if last >= storage.size:
            # Checked before as_strided, which would otherwise read past the buffer.
            raise CheckpointError(
                f"{source}: tensor of size {self.size} and stride {self.stride} at offset {self.offset} reaches "
                f"element {last} of storage {self.storage.key!r}, which holds {storage.size}: the file is corrupt"
            )
        item = storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            storage[self.offset :], shape=self.size, strides=tuple(s * item for s in self.stride), writeable=False
        )
        return np.array(view, copy=True)


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, *_: Any) -> _TensorRecord:
    if not isinstance(storage, _StorageRef):
        raise CheckpointError(f"tensor rebuilt from {type(storage).__name__}, expected a storage reference")
    return _TensorRecord(storage, int(storage_offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))


def _rebuild_parameter(data: Any, requires_grad: Any = None, backward_hooks: Any = None, *_: Any) -> Any:
    return data


def _ordered_dict(*args: Any) -> collections.OrderedDict:
    return collections.OrderedDict(*args)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): _Rebuilder("OrderedDict", _ordered_dict),
    ("torch._utils", "_rebuild_tensor"): _Rebuilder("_rebuild_tensor", _rebuild_tensor),
    ("torch._utils", "_rebuild_tensor_v2"): _Rebuilder("_rebuild_tensor_v2", _rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): _Rebuilder("_rebuild_parameter", _rebuild_parameter),
    **{("torch", name): _StorageType(name, dtype) for name, dtype in _STORAGE_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the names a state_dict needs, to inert stand-ins."""

    def __init__(self, file: BinaryIO, source: str, persistent: Callable[[Any], Any] | None) -> None:
        super().__init__(file)
        self._source = source
        self._persistent = persistent

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"{self._source}: refused to load: its pickle asks for {module}.{name}, which a PyTorch "
                "state_dict never needs (only tensors, storages and OrderedDict are rebuilt); "
                "nothing from the file was executed"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise CheckpointError(f"{self._source}: unexpected persistent id {pid!r} in a plain pickle")
        return self._persistent(pid)


def _storage_from_pid(pid: Any, source: str, storages: dict[str, _StorageRef]) -> _StorageRef:
    # zip format: ('storage', storage_type, key, location, numel)
    # legacy:     ('storage', storage_type, root_key, location, numel, view_metadata)
    if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
        raise CheckpointError(f"{source}: unsupported persistent id {pid!r}; expected a storage reference")
    storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
    if not isinstance(storage_type, _StorageType):
        raise CheckpointError(f"{source}: storage of unknown type {storage_type!r}")
    ref = storages.get(key)
    if ref is None:
        ref = storages[key] = _StorageRef(key, storage_type.dtype, numel)
    if len(pid) > 5 and pid[5] is not None:
        view_key, view_offset, view_size = pid[5]
        return _StorageRef(str(view_key), storage_type.dtype, int(view_size), base=ref, start=int(view_offset))
    return ref


def _unpickle(stream: BinaryIO, source: str, persistent: Callable[[Any], Any] | None) -> Any:
    try:
        return _RestrictedUnpickler(stream, source, persistent).load()
    except CheckpointError:
        raise
    except _RefusedBuild as exc:
        raise UnsafeCheckpointError(
            f"{source}: refused to load: its pickle tries to set the state of {exc} (pickle BUILD), which a "
            "PyTorch state_dict never does; nothing from the file was executed"
        ) from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        OverflowError,
        MemoryError,
        RecursionError,
        struct.error,
    ) as exc:
        raise CheckpointError(f"{source}: corrupt or truncated pickle ({type(exc).__name__}: {exc})") from exc


def _materialize(obj: Any, source: str) -> Any:
    if isinstance(obj, _TensorRecord):
        return obj.materialize(source)
    if isinstance(obj, dict):  # dict or OrderedDict, kept as it was
        return type(obj)((k, _materialize(v, source)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(v, source) for v in obj)
    return obj


def _read_zip(path: Path, archive: zipfile.ZipFile) -> Any:
    source = str(path)
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointError(
            f"{source}: a zip archive but not a PyTorch checkpoint: expected one '<name>/data.pkl', "
            f"found {pickles or 'none'}"
        )
    prefix = pickles[0][: -len("data.pkl")]
    big_endian = False
    if f"{prefix}byteorder" in names:
        big_endian = archive.read(f"{prefix}byteorder").strip() == b"big"
    storages: dict[str, _StorageRef] = {}
    try:
        result = _unpickle(
            io.BytesIO(archive.read(pickles[0])), source, lambda pid: _storage_from_pid(pid, source, storages)
        )
        for key, ref in storages.items():
            member = f"{prefix}data/{key}"
            if member not in names:
                raise CheckpointError(f"{source}: storage {key!r} is referenced but '{member}' is missing")
            raw = archive.read(member)
            needed = ref.numel * ref.dtype.itemsize
            if len(raw) < needed:
                raise CheckpointError(
                    f"{source}: storage {key!r} holds {len(raw)} bytes, expected {needed} ({ref.numel} x {ref.dtype})"
                )
            dtype = ref.dtype.newbyteorder(">") if big_endian and ref.dtype.itemsize > 1 else ref.dtype
            ref.data = np.frombuffer(raw, dtype=dtype, count=ref.numel).astype(ref.dtype)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise CheckpointError(f"{source}: damaged zip archive ({type(exc).__name__}: {exc})") from exc
    return _materialize(result, source)


def _remaining_bytes(stream: BinaryIO) -> int:
    """Bytes between the stream's position and the end of its file."""
    return os.fstat(stream.fileno()).st_size - stream.tell()


def _read_legacy(path: Path, stream: BinaryIO) -> Any:
    source = str(path)
    magic = _unpickle(stream, source, None)
    if magic != _LEGACY_MAGIC:
        raise CheckpointError(f"{source}: not a PyTorch checkpoint (no zip archive and no legacy magic number)")
    protocol = _unpickle(stream, source, None)
    if protocol != _LEGACY_PROTOCOL:
        raise CheckpointError(f"{source}: legacy checkpoint of protocol {protocol!r}, expected {_LEGACY_PROTOCOL}")
    sys_info = _unpickle(stream, source, None)
    little = not isinstance(sys_info, dict) or sys_info.get("little_endian", True)
    storages: dict[str, _StorageRef] = {}
    result = _unpickle(stream, source, lambda pid: _storage_from_pid(pid, source, storages))
    keys = _unpickle(stream, source, None)
    if not isinstance(keys, list):
        raise CheckpointError(f"{source}: legacy checkpoint without a storage key list")
    for key in keys:
        ref = storages.get(str(key))
        if ref is None:
            raise CheckpointError(f"{source}: storage {key!r} listed but never referenced")
        header = stream.read(8)
        if len(header) < 8:
            raise CheckpointError(f"{source}: truncated before the data of storage {key!r}")
        (numel,) = struct.unpack("<q" if little else ">q", header)
        if numel < 0 or numel * ref.dtype.itemsize > _remaining_bytes(stream):
            raise CheckpointError(
                f"{source}: storage {key!r} declares {numel} elements, more than the rest of the file holds: "
                "truncated or corrupt"
            )
        raw = stream.read(numel * ref.dtype.itemsize)
        if numel < ref.numel or len(raw) < numel * ref.dtype.itemsize:
            raise CheckpointError(f"{source}: truncated data for storage {key!r}")
        dtype = ref.dtype if little else ref.dtype.newbyteorder(">")
        ref.data = np.frombuffer(raw, dtype=dtype).astype(ref.dtype)
    return _materialize(result, source)


def read_torch_pickle(path: str | os.PathLike[str]) -> Any:
    """Read any object made of dicts, lists, numbers, strings and tensors from a ``.pth`` file.

    Tensors come back as numpy arrays.  Nothing in the file is executed.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    UnsafeCheckpointError
        If the pickle names anything but tensor-rebuilding helpers.
    CheckpointError
        If the file is truncated, corrupt or not a PyTorch checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"checkpoint not found: {path}")
    with open(path, "rb") as stream:
        head = stream.read(4)
        stream.seek(0)
        if head.startswith(b"PK"):
            try:
                with zipfile.ZipFile(stream) as archive:
                    return _read_zip(path, archive)
            except zipfile.BadZipFile as exc:
                raise CheckpointError(
                    f"{path}: starts like a zip archive but cannot be opened as one ({exc}); "
                    "the file is probably truncated"
                ) from exc
        if not head.startswith(b"\x80"):
            raise CheckpointError(
                f"{path}: not a PyTorch checkpoint: expected a zip archive (PyTorch >= 1.6) or a pickle "
                f"stream (legacy format), got a file starting with {head!r}"
            )
        return _read_legacy(path, stream)


def _is_array_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items()
    )


def read_torch_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a PyTorch state_dict (parameter name -> array) from a ``.pth`` file.

    Accepts a bare state_dict and the common wrappers
    ``{"state_dict": ...}`` / ``{"model_state_dict": ...}`` / ``{"model": ...}``;
    the ``module.`` prefix that ``DataParallel`` adds is removed.

    Raises
    ------
    CheckpointError
        If the file holds something other than a mapping of names to tensors.
    """
    obj = read_torch_pickle(path)
    if isinstance(obj, dict) and not _is_array_dict(obj):
        for wrapper in ("state_dict", "model_state_dict", "model"):
            if _is_array_dict(obj.get(wrapper)):
                obj = obj[wrapper]
                break
    if not _is_array_dict(obj):
        found = type(obj).__name__
        if isinstance(obj, dict):
            found += f" with keys {list(obj)[:8]}"
        raise CheckpointError(
            f"{path}: expected a state_dict (a mapping of parameter names to tensors), got {found}"
        )
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return dict(obj)
