"""Image sources for dataset examples: anything tfprobe reads, streamed from any point, sharded, and read
back by index.

An :class:`ImageSource` wraps arrays, array-likes read one slice at a time (an ``h5py`` dataset,
:class:`~tfprobe.datasets.image_folder.ImageFolder`, :class:`~tfprobe.datasets.image_folder.ArrayFile`),
the cluttered :class:`~tfprobe.datasets.scenes.Scenes`, paths (a folder of images, ``.npy`` / ``.npz``,
an HDF5 file of images) and ``tf.data`` datasets (of images, batches, or ``(images, ...)`` pairs).  Every
image has one index, its position in the source; a shard of the source is a range of those indices
(contiguous for arrays, every n-th element for datasets), so that top-k lists found on different workers
merge by index exactly as a single pass would have ranked them.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tfprobe.errors import ImageInputError, InvalidTypeError, MissingFileError
from tfprobe.probing.stimuli import images_of, is_array_like

__all__ = ["ImageSource", "Shard", "open_source"]

#: HDF5 suffixes read as a file of images.
_HDF5 = (".h5", ".hdf5")


@dataclasses.dataclass(frozen=True)
class Shard:
    """The images of a source one worker streams: global index = ``start + local index * step``."""

    start: int = 0
    step: int = 1
    count: int | None = None

    def global_indices(self, local: np.ndarray) -> np.ndarray:
        """The source's indices of a shard's local indices."""
        return self.start + np.asarray(local, dtype=np.int64) * self.step


class _Rows:
    """Rows ``start .. stop`` of an array-like, itself array-like (read one slice at a time)."""

    def __init__(self, array: Any, start: int, stop: int) -> None:
        self._array, self._start, self._stop = array, start, stop
        self.shape = (stop - start, *array.shape[1:])
        self.dtype = array.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, item: slice) -> np.ndarray:
        begin, end, _ = item.indices(len(self))
        return np.asarray(self._array[self._start + begin : self._start + end])


class ImageSource:
    """Images with one index each, streamed from any index and read back by index.

    Parameters
    ----------
    images : ndarray, array-like, Scenes or tf.data.Dataset
        See the module's docstring (paths are opened by :func:`open_source`).
    input_shape : tuple
        The shape of one image the model takes (to tell a dataset of single images from one of batches).
    description : str, optional
        How the source is named in results (default: its type and size).
    """

    def __init__(self, images: Any, input_shape: tuple[int | None, ...], description: str | None = None) -> None:
        images = getattr(images, "images", images)  # cluttered Scenes: their images
        self._dataset: tf.data.Dataset | None = None
        self._array: Any = None
        if isinstance(images, tf.data.Dataset):
            dataset = images.map(lambda *element: images_of(element[0] if len(element) == 1 else element))
            rank = len(dataset.element_spec.shape)
            if rank == len(input_shape) + 1:  # batches: one image per element from here on
                dataset = dataset.unbatch()
            cardinality = int(dataset.cardinality())
            if cardinality == tf.data.INFINITE_CARDINALITY:
                raise ImageInputError("the image dataset is infinite: take a finite part, e.g. dataset.take(10000)")
            self._dataset = dataset
            self.count = cardinality if cardinality >= 0 else None
            kind = "tf.data.Dataset"
        elif is_array_like(images):
            self._array = images
            self.count = int(images.shape[0])
            kind = type(images).__name__
        else:
            raise InvalidTypeError(
                "images must be an array (n, rows, columns, channels), an array-like read by slices (h5py dataset, "
                "ImageFolder, ArrayFile), Scenes, a tf.data.Dataset, or a path to a folder / .npy / .npz / .h5 "
                f"file; got {type(images).__name__}"
            )
        if self.count == 0:
            raise ImageInputError("the image source holds no images")
        size = "unknown number of" if self.count is None else str(self.count)
        self.description = description or f"{kind} of {size} images"

    @property
    def is_dataset(self) -> bool:
        """Whether the source is a ``tf.data`` dataset (streamed in order only)."""
        return self._dataset is not None

    def shard(self, worker: int, workers: int) -> Shard:
        """The part of the source worker ``worker`` of ``workers`` streams."""
        if workers == 1:
            return Shard(0, 1, self.count)
        if self._dataset is None:  # contiguous blocks, the first ones one image longer
            base, extra = divmod(self.count, workers)
            start = worker * base + min(worker, extra)
            return Shard(start, 1, base + (1 if worker < extra else 0))
        count = None if self.count is None else len(range(worker, self.count, workers))
        return Shard(worker, workers, count)

    def stream(self, shard: Shard, skip: int = 0) -> Any:
        """The shard's images from its local index ``skip`` on, as stimuli a Probe takes."""
        if self._dataset is not None:
            dataset = self._dataset
            if shard.step != 1 or shard.start:
                dataset = dataset.shard(shard.step, shard.start)
            return dataset.skip(skip) if skip else dataset
        start = shard.start + skip
        stop = shard.start + (shard.count if shard.count is not None else self.count - shard.start)
        if start == 0 and stop == self.count:
            return self._array
        return _Rows(self._array, start, stop)

    def read(self, indices: np.ndarray) -> dict[int, np.ndarray]:
        """The images at ``indices`` (the source's indices), by index, as float32 arrays."""
        wanted = sorted({int(i) for i in np.ravel(indices)})
        if self._array is not None:
            return {i: np.asarray(self._array[i : i + 1], dtype=np.float32)[0] for i in wanted}
        found: dict[int, np.ndarray] = {}
        remaining = set(wanted)
        for index, image in enumerate(self._dataset.as_numpy_iterator()):
            if index in remaining:
                found[index] = np.asarray(image, dtype=np.float32)
                remaining.discard(index)
                if not remaining:
                    break
        return found


def open_source(images: Any, input_shape: tuple[int | None, ...]) -> ImageSource:
    """An :class:`ImageSource` for what a user passes: an object, or a path opened here.

    A folder is read as images resized to the model's input size (8-bit pixels as [0, 1] floats);
    ``.npy`` / ``.npz`` as :class:`~tfprobe.datasets.image_folder.ArrayFile`; ``.h5`` / ``.hdf5`` as the
    file's ``images`` dataset, or its only dataset.
    """
    if not isinstance(images, (str, os.PathLike)):
        return ImageSource(images, input_shape)
    from tfprobe.datasets.image_folder import ArrayFile, ImageFolder

    path = Path(images)
    if not path.exists():
        raise MissingFileError(f"image source {str(path)!r} does not exist")
    if path.is_dir():
        height, width, channels = input_shape
        size = None if height is None or width is None else (int(height), int(width))
        return ImageSource(ImageFolder(path, size=size, channels=channels or 3), input_shape, f"folder {path}")
    if path.suffix in _HDF5:
        return ImageSource(_hdf5_images(path), input_shape, f"HDF5 file {path}")
    return ImageSource(ArrayFile(path), input_shape, f"array file {path}")


def _hdf5_images(path: Path) -> Any:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ImageInputError(f"cannot read HDF5 file {path}: {error}") from None
    datasets = [name for name, item in handle.items() if isinstance(item, h5py.Dataset)]
    if "images" in datasets:
        return handle["images"]
    if len(datasets) == 1:
        return handle[datasets[0]]
    raise ImageInputError(
        f"HDF5 file {path}: expected an 'images' dataset or a single dataset, found {sorted(datasets) or 'none'}"
    )
