"""Reading IDX files (the MNIST / Fashion-MNIST file format), gzipped or not, with explicit checks.

An IDX file is a 4-byte magic number (two zero bytes, a data-type byte, a
dimension-count byte), one big-endian ``uint32`` size per dimension, then the
values.  MNIST and Fashion-MNIST use unsigned bytes (type ``0x08``): images
are ``0x00000803`` files of shape ``(N, 28, 28)``, labels ``0x00000801`` files
of shape ``(N,)``.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from tfprobe.errors import DatasetFileError, DatasetNotFoundError

__all__ = [
    "DatasetFileError",
    "DatasetNotFoundError",
    "check_images",
    "check_labels",
    "check_pair",
    "read_idx",
    "read_idx_images",
    "read_idx_labels",
]

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
_UBYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz" or data[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise DatasetFileError(
                f"{path}: expected gzip-compressed data, found a corrupt or truncated gzip stream "
                f"({len(data)} bytes; {type(error).__name__}: {error})"
            ) from None
    return data


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file of unsigned bytes, gzipped (by name or content) or raw.

    Parameters
    ----------
    path : str or path-like
        An IDX file such as ``t10k-images-idx3-ubyte`` or ``t10k-images-idx3-ubyte.gz``.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of the shape the header gives.

    Raises
    ------
    DatasetFileError
        Corrupt gzip, a magic number that is not an unsigned-byte IDX one, or a
        payload whose size differs from the header's (truncated or trailing data).
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DatasetFileError(f"{path}: expected an IDX header of at least 4 bytes, found {len(data)} bytes")
    magic = int.from_bytes(data[:4], "big")
    ndim = data[3]
    if data[0] != 0 or data[1] != 0 or data[2] != _UBYTE or ndim == 0:
        raise DatasetFileError(
            f"{path}: expected an IDX magic number 0x000008NN (unsigned bytes, NN dimensions), found 0x{magic:08X}"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DatasetFileError(
            f"{path}: expected a {header_size}-byte header for {ndim} dimensions, found only {len(data)} bytes"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64))
    found = len(data) - header_size
    if found != expected:
        kind = "truncated" if found < expected else "trailing data"
        raise DatasetFileError(f"{path}: {kind}: header shape {shape} expects {expected} payload bytes, found {found}")
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


def check_images(images: np.ndarray, where: str) -> np.ndarray:
    """Return ``images`` as ``uint8`` ``(N, 28, 28)``, or raise :class:`DatasetFileError` naming ``where``."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise DatasetFileError(f"{where}: expected uint8 images, found dtype {images.dtype}")
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DatasetFileError(f"{where}: expected images of shape (N, 28, 28), found shape {images.shape}")
    return images


def check_labels(labels: np.ndarray, where: str) -> np.ndarray:
    """Return ``labels`` as ``int64`` ``(N,)`` with values 0..9, or raise :class:`DatasetFileError`."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DatasetFileError(f"{where}: expected labels of shape (N,), found shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DatasetFileError(f"{where}: expected integer labels, found dtype {labels.dtype}")
    bad = (labels < 0) | (labels >= NUM_CLASSES)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DatasetFileError(
            f"{where}: expected labels in 0..{NUM_CLASSES - 1}, found {int(bad.sum())} outside it "
            f"(first: {int(labels[first])} at index {first})"
        )
    return labels.astype(np.int64)


def check_pair(images: np.ndarray, labels: np.ndarray, images_where: str, labels_where: str) -> None:
    """Raise :class:`DatasetFileError` unless there are as many labels as images."""
    if len(images) != len(labels):
        raise DatasetFileError(
            f"expected as many labels as images, found {len(images)} images in {images_where} "
            f"and {len(labels)} labels in {labels_where}"
        )


def _check_magic(array: np.ndarray, path: Path, ndim: int, what: str) -> None:
    if array.ndim != ndim:
        raise DatasetFileError(
            f"{path}: expected an IDX {what} file (magic 0x{0x800 + ndim:08X}), found magic 0x{0x800 + array.ndim:08X}"
        )


def read_idx_images(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX image file and check it holds ``uint8`` images of shape ``(N, 28, 28)``."""
    path = Path(path)
    images = read_idx(path)
    _check_magic(images, path, 3, "images")
    return check_images(images, str(path))


def read_idx_labels(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX label file and check it holds labels 0..9; returns ``int64`` ``(N,)``."""
    path = Path(path)
    labels = read_idx(path)
    _check_magic(labels, path, 1, "labels")
    return check_labels(labels, str(path))
