"""Early, explicit checks of what users pass in (images, shapes, dtypes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tfprobe.errors import ImageInputError

__all__ = ["check_images", "non_negative_int", "positive_int", "shape_matches"]


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int if it is a positive integer (not a bool), else a ValueError naming ``name``."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def non_negative_int(value: Any, name: str, meaning: str = "") -> int:
    """``value`` as an int if it is an integer >= 0 (not a bool), else a ValueError naming ``name`` (and
    what it means)."""
    if not _is_int(value) or value < 0:
        said = f" ({meaning})" if meaning else ""
        raise ValueError(f"{name} must be an int >= 0{said}, got {value!r}")
    return int(value)


def shape_matches(shape: tuple[int | None, ...], expected: tuple[int | None, ...]) -> bool:
    """Whether ``shape`` is ``expected``, a None in either (unknown or any size) matching every size."""
    if len(shape) != len(expected):
        return False
    return all(e is None or s is None or s == e for s, e in zip(shape, expected, strict=True))


def _shape_and_dtype(images: Any) -> tuple[tuple[int | None, ...], np.dtype | None]:
    shape = getattr(images, "shape", None)
    dtype = getattr(images, "dtype", None)
    if shape is None:
        array = np.asarray(images)
        return array.shape, array.dtype
    dims = tuple(None if d is None else int(d) for d in (shape.as_list() if hasattr(shape, "as_list") else shape))
    if dtype is not None and not isinstance(dtype, np.dtype):
        dtype = tf.as_dtype(dtype).as_numpy_dtype if not isinstance(dtype, str) else np.dtype(dtype)
        dtype = np.dtype(dtype)
    return dims, dtype


def _concrete_values(images: Any) -> np.ndarray | None:
    """The values of ``images`` when they exist now (not a symbolic tensor)."""
    if isinstance(images, np.ndarray):
        return images
    if isinstance(images, tf.Tensor):
        return images.numpy() if tf.executing_eagerly() and hasattr(images, "numpy") else None
    if isinstance(images, (list, tuple)):
        return np.asarray(images)
    return None


def check_images(images: Any, expected: tuple[int, ...], what: str = "images") -> None:
    """Raise :class:`ImageInputError` unless ``images`` is a float batch of ``expected`` shape.

    Parameters
    ----------
    images : array-like or tensor
        A batch, channels-last: ``(batch, *expected)``.
    expected : tuple of int
        Per-example shape, for example ``(100, 100, 1)``.
    what : str
        How to name the input in messages.

    Notes
    -----
    Non-finite values are looked for only when the values exist (numpy arrays
    and eager tensors), not while a graph is being traced.
    """
    shape, dtype = _shape_and_dtype(images)
    wanted = f"(batch, {', '.join(map(str, expected))})"
    if len(shape) == len(expected) and tuple(shape) == tuple(expected):
        raise ImageInputError(
            f"{what}: expected a batch of shape {wanted}, got a single image of shape {tuple(shape)}; "
            "add the batch axis, e.g. images[None]"
        )
    if len(shape) != len(expected) + 1:
        raise ImageInputError(f"{what}: expected shape {wanted} (channels-last), got {tuple(shape)}")
    per_example = tuple(shape[1:])
    if not shape_matches(per_example, tuple(expected)):
        hint = ""
        channels_first = (expected[-1], *expected[:-1])
        if per_example == channels_first:
            hint = "; this looks channels-first: move the channel axis last, e.g. np.moveaxis(images, 1, -1)"
        raise ImageInputError(f"{what}: expected shape {wanted} (channels-last), got {tuple(shape)}{hint}")
    if dtype is None or not np.issubdtype(dtype, np.floating):
        raise ImageInputError(
            f"{what}: expected floating-point images with values in [0, 1], got dtype {dtype}; "
            "convert with images.astype('float32') / 255 for 8-bit images"
        )
    values = _concrete_values(images)
    if values is not None:
        finite = np.isfinite(values)
        if not finite.all():
            bad = np.argwhere(~finite)[0]
            raise ImageInputError(
                f"{what}: expected finite values, got {int((~finite).sum())} NaN/inf values "
                f"(first at index {tuple(int(i) for i in bad)})"
            )
