"""Stimuli from files, read one batch at a time: a folder of images, or an array file (.npy / .npz).

:class:`ImageFolder` and :class:`ArrayFile` are array-likes (``shape``, ``dtype``, ``len``, slicing) that
read only the stimuli a slice asks for, so probing a large stimulus set streams it from disk instead of
holding it in memory.  :class:`ImageFolder` reads every image's header when it is made (cheap: no pixels),
so a file that is not an image, or sizes that differ without a target size, are reported before any work,
and :meth:`ImageFolder.conversions` says what reading will do (resizing, grayscale to RGB, ...).
"""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from tfprobe.datasets.idx import DatasetFileError, DatasetNotFoundError
from tfprobe.errors import InvalidIndexError, InvalidValueError, MissingFileError

__all__ = ["IMAGE_SUFFIXES", "ArrayFile", "ImageFolder", "Transformed"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_CHANNEL_MODES = {1: "L", 3: "RGB"}
#: Resampling filters by name (PIL's; ``keras.utils.load_img`` uses the same names).
_RESAMPLING = {member.name.lower(): member for member in Image.Resampling}
_MODE_NAMES = {
    "L": "grayscale",
    "1": "black-and-white",
    "P": "palette",
    "RGBA": "RGBA",
    "LA": "grayscale+alpha",
    "CMYK": "CMYK",
    "I": "32-bit integer",
    "I;16": "16-bit",
    "F": "floating-point",
    "RGB": "RGB",
}


def _rows(key: Any, n: int) -> tuple[range | list[int], bool]:
    """The row indices a key selects and whether it selects a single row (which drops the first axis)."""
    if isinstance(key, (int, np.integer)):
        index = int(key) + (n if key < 0 else 0)
        if not 0 <= index < n:
            raise InvalidIndexError(f"stimulus index {key} out of range for {n} stimuli")
        return [index], True
    if isinstance(key, slice):
        return range(*key.indices(n)), False
    index = np.asarray(key)
    if index.dtype.kind in "iu" and index.ndim == 1:
        return [int(i) + (n if i < 0 else 0) for i in index], False
    raise InvalidIndexError(f"index stimuli with an int, a slice or 1-D ints, got {key!r}")


class ImageFolder:
    """The images of a folder (sorted by name) as float32 ``(n, height, width, channels)``, read on demand.

    :meth:`from_files` reads a list of image files the same way.

    Parameters
    ----------
    folder : path
    size : (height, width), optional
        Resize every image to this size (with ``interpolation``); default: all images must share one size.
    channels : {1, 3}
        Grayscale or RGB (images in other modes are converted).
    scale : float
        Pixel values are ``8-bit value / 255 * scale``: 1 gives [0, 1], 255 gives [0, 255].
    interpolation : str
        Resampling filter: ``"nearest"``, ``"bilinear"`` (default), ``"bicubic"``, ``"hamming"``, ``"box"`` or
        ``"lanczos"`` (``keras.utils.load_img`` and ``tfprobe.models.load_images`` default to nearest).

    Attributes
    ----------
    folder : Path or None
        The folder (None when made by :meth:`from_files`).
    files : list of Path
        The image files, in the order they are read.

    Raises
    ------
    DatasetNotFoundError
        The folder does not exist or holds no images.
    DatasetFileError
        A file that does not open as an image (named).
    ValueError
        Differing sizes without ``size``, an unknown ``channels`` or ``interpolation``.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        size: tuple[int, int] | None = None,
        channels: int = 3,
        scale: float = 1.0,
        *,
        interpolation: str = "bilinear",
    ) -> None:
        self.folder: Path | None = Path(folder)
        if not self.folder.is_dir():
            raise DatasetNotFoundError(f"stimulus folder {str(self.folder)!r} does not exist")
        files = sorted(p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DatasetNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {self.folder}")
        self._open(files, size, channels, scale, interpolation)

    @classmethod
    def from_files(
        cls,
        files: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        size: tuple[int, int] | None = None,
        channels: int = 3,
        scale: float = 1.0,
        *,
        interpolation: str = "bilinear",
    ) -> ImageFolder:
        """Image files (of any image format PIL reads, in the order given) read as a folder's are.

        Raises
        ------
        MissingFileError
            A file that does not exist (named).
        ValueError
            No files; otherwise as :class:`ImageFolder`.
        """
        paths = [Path(f) for f in ([files] if isinstance(files, (str, os.PathLike)) else files)]
        if not paths:
            raise InvalidValueError("expected at least one image file, got none")
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise MissingFileError(f"image file {missing[0]!r} does not exist")
        reader = cls.__new__(cls)
        reader.folder = None
        reader._open(paths, size, channels, scale, interpolation)
        return reader

    def _open(
        self, files: list[Path], size: tuple[int, int] | None, channels: int, scale: float, interpolation: str
    ) -> None:
        """Check the options and read every file's header (no pixels)."""
        if channels not in _CHANNEL_MODES:
            raise InvalidValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
        if interpolation not in _RESAMPLING:
            raise InvalidValueError(f"interpolation must be one of {', '.join(_RESAMPLING)}, got {interpolation!r}")
        self.files, self.interpolation = files, interpolation
        self.channels, self.scale = channels, float(scale)
        self.modes, self.sizes = [], []
        for file in self.files:
            try:
                with Image.open(file) as image:  # reads the header only
                    self.modes.append(image.mode)
                    self.sizes.append(image.size[::-1])  # (height, width)
            except (UnidentifiedImageError, OSError) as error:
                raise DatasetFileError(f"cannot read image {file}: {' '.join(str(error).split())}") from None
        if size is None and len(set(self.sizes)) > 1:
            other = next(i for i, s in enumerate(self.sizes) if s != self.sizes[0])
            raise InvalidValueError(
                f"{self.files[other].name} is {self.sizes[other][1]}x{self.sizes[other][0]} but {self.files[0].name} "
                f"is {self.sizes[0][1]}x{self.sizes[0][0]}: give a size to resize them to"
            )
        self.size = tuple(size) if size is not None else self.sizes[0]
        self.shape = (len(self.files), *self.size, channels)
        self.dtype = np.dtype(np.float32)
        self.ids = np.array([f.name for f in self.files])

    def __len__(self) -> int:
        return len(self.files)

    def conversions(self) -> str:
        """What reading does to the images, in one line ("resized 12 images to 224x224, converted 3
        grayscale to RGB"), or "" when they are read as they are."""
        parts = []
        resized = sum(size != self.size for size in self.sizes)
        if resized:
            parts.append(f"resized {resized} image{'s' * (resized > 1)} to {self.size[1]}x{self.size[0]}")
        wanted = _CHANNEL_MODES[self.channels]
        for mode, count in sorted(Counter(m for m in self.modes if m != wanted).items()):
            parts.append(f"converted {count} {_MODE_NAMES.get(mode, mode)} to {_MODE_NAMES[wanted]}")
        return ", ".join(parts)

    def _read(self, index: int) -> np.ndarray:
        file = self.files[index]
        try:
            with Image.open(file) as image:
                image = image.convert(_CHANNEL_MODES[self.channels])
                if image.size[::-1] != self.size:
                    image = image.resize((self.size[1], self.size[0]), _RESAMPLING[self.interpolation])
                array = np.asarray(image, dtype=np.float32)
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise DatasetFileError(f"cannot read image {file}: {' '.join(str(error).split())}") from None
        return array.reshape(*self.size, self.channels) * (self.scale / 255.0)

    def __getitem__(self, key: Any) -> np.ndarray:
        rows, single = _rows(key, len(self))
        if single:
            return self._read(rows[0])
        if not rows:
            return np.zeros((0, *self.shape[1:]), np.float32)
        return np.stack([self._read(i) for i in rows])

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        values = self[:]
        return values if dtype is None else values.astype(dtype, copy=False)


class ArrayFile:
    """The stimuli of a ``.npy`` file, or of one array of a ``.npz`` file, read one slice at a time.

    A ``.npz`` file's stimuli are its ``images`` array, or its only array besides ``ids``; ``ids`` (if
    present) names the stimuli.  Nothing but the header is read when the file is opened.

    Raises
    ------
    DatasetNotFoundError
        The file does not exist.
    DatasetFileError
        A file numpy cannot read (named, with numpy's reason), an object array, or an ``.npz`` without a
        clear stimulus array.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._stream: BinaryIO | None = None
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetNotFoundError(f"stimulus file {str(self.path)!r} does not exist")
        if self.path.suffix not in (".npy", ".npz"):
            raise InvalidValueError(f"stimulus file {self.path} must be .npy or .npz (or give a folder of images)")
        self.member: str | None = None
        self.ids: np.ndarray | None = None
        try:
            if self.path.suffix == ".npz":
                with zipfile.ZipFile(self.path) as archive:
                    names = [n.removesuffix(".npy") for n in archive.namelist()]
                self.member = self._pick(names)
                if "ids" in names:
                    with np.load(self.path, allow_pickle=False) as archive:
                        self.ids = archive["ids"]
            with self._open() as stream:
                self.shape, self.dtype, self._offset = self._header(stream)
        except (OSError, ValueError, zipfile.BadZipFile, KeyError) as error:
            if isinstance(error, DatasetFileError):
                raise
            raise DatasetFileError(f"cannot read stimulus file {self.path}: {' '.join(str(error).split())}") from None
        self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def _pick(self, names: list[str]) -> str:
        if "images" in names:
            return "images"
        others = [n for n in names if n != "ids"]
        if len(others) != 1:
            raise DatasetFileError(f"{self.path} holds arrays {names}: name the stimuli 'images'")
        return others[0]

    def _open(self) -> BinaryIO:
        if self.member is None:
            return open(self.path, "rb")
        archive = zipfile.ZipFile(self.path)
        stream = archive.open(f"{self.member}.npy")
        stream._archive = archive  # closed with the stream  # type: ignore[attr-defined]
        return stream

    def _header(self, stream: BinaryIO) -> tuple[tuple[int, ...], np.dtype, int]:
        version = np.lib.format.read_magic(stream)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise DatasetFileError(f"{self.path}: .npy format version {version} is not read (1.0 and 2.0 are)")
        shape, fortran, dtype = readers[version](stream)
        if dtype.hasobject:
            raise DatasetFileError(f"{self.path}: object arrays are not read (they would need pickle)")
        if fortran and len(shape) > 1:
            raise DatasetFileError(f"{self.path}: expected a C-ordered array, got a Fortran-ordered one")
        if len(shape) == 0:
            raise DatasetFileError(f"{self.path}: expected an array of stimuli, got a scalar")
        return tuple(int(d) for d in shape), np.dtype(dtype), stream.tell()

    def __len__(self) -> int:
        return self.shape[0]

    def _read_rows(self, start: int, stop: int) -> np.ndarray:
        if self._stream is None:
            self._stream = self._open()
        position = self._offset + start * self._row_bytes
        if self._stream.tell() != position:
            self._stream.seek(position)
        count = (stop - start) * self._row_bytes
        data = self._stream.read(count)
        if len(data) != count:
            raise DatasetFileError(f"{self.path} is truncated: expected {count} bytes for rows {start}:{stop}")
        return np.frombuffer(data, dtype=self.dtype).reshape(stop - start, *self.shape[1:]).copy()

    def __getitem__(self, key: Any) -> np.ndarray:
        rows, single = _rows(key, len(self))
        if isinstance(rows, range) and rows.step == 1:
            return self._read_rows(rows.start, max(rows.start, rows.stop))
        if single:
            return self._read_rows(rows[0], rows[0] + 1)[0]
        return np.stack([self._read_rows(i, i + 1)[0] for i in rows]) if len(rows) else self._read_rows(0, 0)

    def close(self) -> None:
        if self._stream is not None:
            archive = getattr(self._stream, "_archive", None)
            self._stream.close()
            if archive is not None:
                archive.close()
            self._stream = None

    def __del__(self) -> None:
        self.close()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        values = self[:]
        return values if dtype is None else values.astype(dtype, copy=False)


class Transformed:
    """An array-like whose slices are ``function(source[slice])`` (scaling, model preprocessing)."""

    def __init__(self, source: Any, function: Callable[[np.ndarray], np.ndarray], dtype: Any = np.float32) -> None:
        self.source, self.function = source, function
        self.shape = tuple(source.shape)
        self.dtype = np.dtype(dtype)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self.function(np.asarray(self.source[key], dtype=self.dtype)), dtype=self.dtype)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        values = self[:]
        return values if dtype is None else values.astype(dtype, copy=False)
