"""Early, explicit checks of what users pass in (images, shapes, dtypes, ints).

The int checks here are the only place that tells an int from a bool (``True`` is an ``int`` to Python,
and ``np.int64`` is not one): call them rather than writing ``isinstance(x, bool) or ...`` again.  This
module loads TensorFlow only to look at a tensor, so light modules can use its int checks.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from tfprobe.errors import ImageInputError, InvalidTypeError, InvalidValueError

__all__ = [
    "check_images",
    "check_int",
    "int_in_range",
    "is_int",
    "is_real",
    "non_negative_int",
    "positive_int",
    "shape_matches",
]


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer, a Python ``int`` or a numpy integer, a bool not counting as one."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (int or float, Python or numpy), a bool not counting as one."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _expected_int(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"an int from {low} to {high}"
    if low is not None:
        return f"an int >= {low}"
    return "an int" if high is None else f"an int <= {high}"


def int_in_range(value: Any, name: str, low: int | None = None, high: int | None = None, *, meaning: str = "") -> int:
    """``value`` as an int if it is an integer (not a bool) from ``low`` to ``high`` (both included, None for
    no bound).

    Parameters
    ----------
    value : Any
        What the caller gave.
    name : str
        The argument's name, as the message says it.
    low, high : int or None
        The smallest and largest values allowed.
    meaning : str
        What the value stands for, added to the message in brackets.

    Returns
    -------
    int

    Raises
    ------
    InvalidValueError
        When ``value`` is not an integer or lies outside the range; the message names ``name``, the range
        and ``value``.
    """
    if not is_int(value) or (low is not None and value < low) or (high is not None and value > high):
        said = f" ({meaning})" if meaning else ""
        raise InvalidValueError(f"{name} must be {_expected_int(low, high)}{said}, got {value!r}")
    return int(value)


def check_int(value: Any, name: str, low: int | None = None, high: int | None = None, *, meaning: str = "") -> int:
    """Like :func:`int_in_range`, but a value that is no integer at all (a float, a bool, a string) raises
    :class:`~tfprobe.errors.InvalidTypeError` naming its type; one out of range raises
    :class:`~tfprobe.errors.InvalidValueError`."""
    if not is_int(value):
        raise InvalidTypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    return int_in_range(value, name, low, high, meaning=meaning)


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int if it is a positive integer (not a bool), else an
    :class:`~tfprobe.errors.InvalidValueError` naming ``name``."""
    if not is_int(value) or value < 1:
        raise InvalidValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def non_negative_int(value: Any, name: str, meaning: str = "") -> int:
    """``value`` as an int if it is an integer >= 0 (not a bool), else an
    :class:`~tfprobe.errors.InvalidValueError` naming ``name`` (and what it means)."""
    return int_in_range(value, name, 0, meaning=meaning)


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
        import tensorflow as tf

        dtype = tf.as_dtype(dtype).as_numpy_dtype if not isinstance(dtype, str) else np.dtype(dtype)
        dtype = np.dtype(dtype)
    return dims, dtype


def _concrete_values(images: Any) -> np.ndarray | None:
    """The values of ``images`` when they exist now (not a symbolic tensor)."""
    if isinstance(images, np.ndarray):
        return images
    import tensorflow as tf

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
