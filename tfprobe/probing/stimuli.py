"""Stimulus sets for probing: numpy arrays, array-likes read on demand, or ``tf.data`` datasets, in batches.

Only one batch of images is materialised at a time: arrays and array-likes (an ``h5py`` dataset, a
:class:`~tfprobe.datasets.image_folder.ImageFolder`, an :class:`~tfprobe.datasets.image_folder.ArrayFile`)
are sliced, datasets are iterated (and batched here when their elements are single images).

Every batch is checked: values must be finite (the error names the first bad stimulus by its index in
the set), and a model that takes float images in [0, 1] (the recurrent network) refuses integer images
rather than guess their scale, exactly as calling the model does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from tfprobe.errors import ImageInputError
from tfprobe.validation import shape_matches

#: What probing accepts as stimuli.
Stimuli = Any  # ndarray, array-like with shape/dtype/__getitem__, or tf.data.Dataset


def _describe(expected: tuple[int | None, ...]) -> str:
    return "(n, " + ", ".join("any" if d is None else str(d) for d in expected) + ")"


def check_stimulus_shape(shape: tuple[int | None, ...], expected: tuple[int | None, ...], what: str) -> None:
    """Raise :class:`ImageInputError` unless ``shape`` is a batch of ``expected`` per-stimulus shape."""
    if shape_matches(tuple(shape[1:]), expected):
        return
    hint = ""
    if shape_matches(tuple(shape), expected):
        hint = "; that is a single stimulus: add the batch axis, e.g. images[None]"
    elif len(shape) == len(expected) + 1 and shape_matches((*shape[2:], shape[1]), expected):
        hint = "; this looks channels-first: move the channel axis last, e.g. np.moveaxis(images, 1, -1)"
    raise ImageInputError(f"{what}: expected stimuli of shape {_describe(expected)}, got {tuple(shape)}{hint}")


def check_finite(batch: np.ndarray, offset: int, what: str = "stimuli") -> None:
    """Raise :class:`ImageInputError` naming the first stimulus (by its index in the set) with NaN or inf."""
    finite = np.isfinite(batch.reshape(len(batch), -1)).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        raise ImageInputError(
            f"{what}: stimulus {offset + first} holds NaN or infinite values "
            f"({int((~finite).sum())} such stimuli in its batch of {len(batch)})"
        )


def _float_only_error(dtype: Any, what: str) -> ImageInputError:
    return ImageInputError(
        f"{what}: expected floating-point images with values in [0, 1], got dtype {np.dtype(dtype)}; "
        "convert with images.astype('float32') / 255 for 8-bit images"
    )


def _image_spec(spec: Any) -> tf.TensorSpec:
    """The image part of a dataset element: the element itself, or the first item of a tuple / dict."""
    if isinstance(spec, tf.TensorSpec):
        return spec
    if isinstance(spec, (tuple, list)) and spec and isinstance(spec[0], tf.TensorSpec):
        return spec[0]
    if isinstance(spec, dict) and "images" in spec:
        return spec["images"]
    raise ImageInputError(
        f"a stimulus dataset must yield images, (images, ...) tuples or {{'images': ...}} dicts; got {spec}"
    )


def images_of(element: Any) -> Any:
    """The images of a dataset element: the element itself, the first item of a tuple, or ``["images"]``."""
    if isinstance(element, dict):
        return element["images"]
    if isinstance(element, (tuple, list)):
        return element[0]
    return element


def is_array_like(stimuli: Any) -> bool:
    """Whether stimuli can be sliced like an array (shape, dtype, length and slicing)."""
    return all(hasattr(stimuli, name) for name in ("shape", "dtype", "__getitem__", "__len__"))


class StimulusSet:
    """A checked stimulus set that yields float32 batches.

    Parameters
    ----------
    stimuli : ndarray, array-like or tf.data.Dataset
        An array (n, *shape); an object with ``shape``, ``dtype``, ``len`` and slicing (read one batch
        at a time); or a dataset of single stimuli or of batches (optionally with labels).
    expected : tuple
        Per-stimulus shape the model takes (None: any size).
    batch_size : int
        Batch size for arrays and for datasets of single stimuli.
    float_only : bool
        Refuse integer images (the model takes floats in [0, 1]).

    Attributes
    ----------
    count : int or None
        Number of stimuli, when known before iterating.
    batches : int or None
        Number of batches, when known.
    """

    def __init__(
        self, stimuli: Stimuli, expected: tuple[int | None, ...], batch_size: int, *, float_only: bool = False
    ) -> None:
        self.expected = tuple(expected)
        self.batch_size = batch_size
        self.float_only = float_only
        self._dataset: tf.data.Dataset | None = None
        self._array: Any = None
        if isinstance(stimuli, tf.data.Dataset):
            self._init_dataset(stimuli)
        else:
            self._init_array(stimuli)

    def _init_dataset(self, dataset: tf.data.Dataset) -> None:
        spec = _image_spec(dataset.element_spec)
        if self.float_only and not spec.dtype.is_floating:
            raise _float_only_error(spec.dtype.as_numpy_dtype, "stimulus dataset")
        shape = tuple(spec.shape.as_list())
        cardinality = int(dataset.cardinality())
        if cardinality == tf.data.INFINITE_CARDINALITY:
            raise ImageInputError("the stimulus dataset is infinite: take a finite part, e.g. dataset.take(100)")
        self.count = None
        if shape_matches(shape, self.expected):  # single stimuli: batched here
            self.count = cardinality if cardinality >= 0 else None
            dataset = dataset.batch(self.batch_size)
            cardinality = int(dataset.cardinality())
        else:
            check_stimulus_shape(shape, self.expected, "stimulus dataset")
        self._dataset = dataset
        self.batches = cardinality if cardinality >= 0 else None

    def _init_array(self, stimuli: Any) -> None:
        array = stimuli if is_array_like(stimuli) else np.asarray(stimuli)
        dtype = np.dtype(array.dtype)
        if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
            raise ImageInputError(f"stimuli must be a numeric array, got dtype {dtype}")
        if self.float_only and not np.issubdtype(dtype, np.floating):
            raise _float_only_error(dtype, "stimuli")
        shape = tuple(array.shape)
        grayscale = self.expected[-1] == 1 and len(shape) == len(self.expected)
        self._add_channel = grayscale and shape_matches((*shape[1:], 1), self.expected)
        if self._add_channel:
            shape = (*shape, 1)  # grayscale images given without their channel axis
        check_stimulus_shape(shape, self.expected, "stimuli")
        if shape[0] == 0:
            raise ImageInputError("stimuli: the array holds no stimuli (length 0)")
        self._checked = isinstance(array, np.ndarray)
        if self._checked:
            for start in range(0, len(array), 4096):  # all of an in-memory array, before any work
                check_finite(np.asarray(array[start : start + 4096]), start)
        self._array = array
        self.count = shape[0]
        self.batches = -(-self.count // self.batch_size)

    def __iter__(self) -> Iterator[np.ndarray]:
        offset = 0
        if self._array is not None:
            for start in range(0, self.count, self.batch_size):
                batch = np.asarray(self._array[start : start + self.batch_size], dtype=np.float32)
                if self._add_channel:
                    batch = batch[..., None]
                if not self._checked:
                    check_finite(batch, start)
                yield batch
            return
        for element in self._dataset:
            batch = images_of(element)
            check_stimulus_shape(tuple(batch.shape), self.expected, "stimulus dataset batch")
            batch = np.asarray(batch, dtype=np.float32)
            check_finite(batch, offset, "stimulus dataset")
            offset += len(batch)
            yield batch
