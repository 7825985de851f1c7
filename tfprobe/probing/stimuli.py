"""Stimulus sets for probing: numpy arrays or ``tf.data`` datasets, checked, in batches.

Only one batch of images is materialised at a time: arrays are sliced,
datasets are iterated (and batched here when their elements are single images).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from tfprobe.errors import ImageInputError
from tfprobe.validation import shape_matches

Stimuli = np.ndarray | tf.data.Dataset


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


def _images_of(element: Any) -> Any:
    if isinstance(element, dict):
        return element["images"]
    if isinstance(element, (tuple, list)):
        return element[0]
    return element


class StimulusSet:
    """A checked stimulus set that yields batches.

    Parameters
    ----------
    stimuli : ndarray or tf.data.Dataset
        An array (n, *shape), or a dataset of single stimuli or of batches (optionally with labels).
    expected : tuple
        Per-stimulus shape the model takes (None: any size).
    batch_size : int
        Batch size for arrays and for datasets of single stimuli.
    """

    def __init__(self, stimuli: Stimuli, expected: tuple[int | None, ...], batch_size: int) -> None:
        self.expected = tuple(expected)
        self.batch_size = batch_size
        if isinstance(stimuli, tf.data.Dataset):
            spec = _image_spec(stimuli.element_spec)
            shape = tuple(spec.shape.as_list())
            if shape_matches(shape, self.expected):
                stimuli = stimuli.batch(batch_size)
            else:
                check_stimulus_shape(shape, self.expected, "stimulus dataset")
            self._dataset: tf.data.Dataset | None = stimuli
            self._array: np.ndarray | None = None
            cardinality = int(stimuli.cardinality())
            self.batches = cardinality if cardinality >= 0 else None
            if cardinality == tf.data.INFINITE_CARDINALITY:
                raise ImageInputError("the stimulus dataset is infinite: take a finite part, e.g. dataset.take(100)")
            self.count: int | None = None
        else:
            array = stimuli if isinstance(stimuli, np.ndarray) else np.asarray(stimuli)
            if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
                raise ImageInputError(f"stimuli must be a numeric array, got dtype {array.dtype}")
            grayscale = self.expected[-1] == 1 and array.ndim == len(self.expected)
            if grayscale and shape_matches((*array.shape[1:], 1), self.expected):
                array = array[..., None]  # grayscale images given without their channel axis
            check_stimulus_shape(array.shape, self.expected, "stimuli")
            if len(array) == 0:
                raise ImageInputError("stimuli: the array holds no stimuli (length 0)")
            self._array = array
            self._dataset = None
            self.count = len(array)
            self.batches = -(-len(array) // batch_size)

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._array is not None:
            for start in range(0, len(self._array), self.batch_size):
                yield np.asarray(self._array[start : start + self.batch_size], dtype=np.float32)
            return
        for element in self._dataset:
            batch = _images_of(element)
            check_stimulus_shape(tuple(batch.shape), self.expected, "stimulus dataset batch")
            yield np.asarray(batch, dtype=np.float32)
