"""ImageNet classifiers offline: the models, their preprocessing and its inverse, image files, class names.

::

    model = vgg16()                                   # ImageNet weights from Keras's cache (see load_model)
    images = load_images(photo_paths().values())      # RGB pixels 0-255, as keras.utils.load_img reads them
    predict(model, images, top=3)                     # [[("n02123045", "tabby", 0.61), ...], ...]
    deprocess_input(preprocess_input(images))         # back to RGB floats in [0, 1], for display

Class names come from ``assets/imagenet_classes.tsv`` (shipped with tfprobe: index, WordNet id, name in
Keras's short style such as ``picket_fence``), so nothing is downloaded.  Models are loaded by
:func:`tfprobe.models.loading.load_model`, the one loader ``tfprobe act`` uses too.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from PIL import Image, UnidentifiedImageError

from tfprobe._assets import asset_path
from tfprobe.errors import DatasetFileError, InvalidValueError, MissingFileError
from tfprobe.models.loading import load_model
from tfprobe.models.preprocessing import FAMILY_MODES, deprocess_pixels, family_mode, model_family, preprocess_pixels
from tfprobe.validation import int_in_range, is_int, positive_int

__all__ = [
    "IMAGE_SIZE",
    "INTERPOLATIONS",
    "class_names",
    "decode_predictions",
    "deprocess_input",
    "load_image",
    "load_images",
    "mobilenetv2",
    "predict",
    "preprocess_input",
    "resnet50",
    "vgg16",
    "vgg19",
]

#: Input size of the ImageNet classifiers, (height, width).
IMAGE_SIZE = (224, 224)
#: Resampling filters by name, as ``keras.utils.load_img`` names them.
INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "hamming": Image.Resampling.HAMMING,
    "box": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
}
N_CLASSES = 1000

Weights = str | os.PathLike[str] | None


# ---------------------------------------------------------------------------------------------- models


def vgg16(weights: Weights = "imagenet", include_top: bool = True, seed: int = 0) -> keras.Model:
    """VGG16 (``keras.applications``), as :func:`~tfprobe.models.loading.load_model` ``("vgg16", ...)`` loads it.

    Parameters
    ----------
    weights : "imagenet", path or None
        ImageNet weights (Keras's cache, else a download with a short timeout; offline and not cached, a
        :class:`~tfprobe.models.loading.WeightsUnavailableError` names the file to provide), a local
        weights file (``.weights.h5``, or Keras's ``.h5``), or None for random weights from ``seed``.
    include_top : bool
        Keep the 1000-class classifier (224 x 224 input) or drop it (any input size).
    seed : int
        Seed of random weights.

    Returns
    -------
    keras.Model
        Taking images through :func:`preprocess_input` (caffe style: BGR, ImageNet mean subtracted).
    """
    return load_model("vgg16", weights=weights, include_top=include_top, seed=seed)


def vgg19(weights: Weights = "imagenet", include_top: bool = True, seed: int = 0) -> keras.Model:
    """VGG19; parameters as :func:`vgg16`."""
    return load_model("vgg19", weights=weights, include_top=include_top, seed=seed)


def resnet50(weights: Weights = "imagenet", include_top: bool = True, seed: int = 0) -> keras.Model:
    """ResNet50; parameters as :func:`vgg16` (caffe-style preprocessing too)."""
    return load_model("resnet50", weights=weights, include_top=include_top, seed=seed)


def mobilenetv2(weights: Weights = "imagenet", include_top: bool = True, seed: int = 0) -> keras.Model:
    """MobileNetV2; parameters as :func:`vgg16` (its preprocessing scales pixels to [-1, 1])."""
    return load_model("mobilenetv2", weights=weights, include_top=include_top, seed=seed)


# ---------------------------------------------------------------------------------------------- preprocessing
# One family's preprocessing by name; the modes themselves are tfprobe.models.preprocessing's.


def _rgb_batch(values: Any, what: str) -> np.ndarray:
    array = np.array(values, dtype=np.float32)
    if array.ndim not in (3, 4) or array.shape[-1] != 3:
        raise InvalidValueError(
            f"{what}: expected images (n, height, width, 3) or one (height, width, 3), got {array.shape}"
        )
    return array


def preprocess_input(images: Any, family: str = "vgg16") -> np.ndarray:
    """RGB pixels (0-255) -> what the ``family``'s ImageNet model takes (its ``keras.applications``
    ``preprocess_input``, without touching ``images``).

    Parameters
    ----------
    images : array-like (n, height, width, 3) or (height, width, 3)
        RGB pixel values in [0, 255], as :func:`load_images` returns.
    family : str
        ``"vgg16"``, ``"vgg19"``, ``"resnet50"`` (caffe style: RGB -> BGR, ImageNet mean subtracted) or
        ``"mobilenetv2"`` (scaled to [-1, 1]).

    Returns
    -------
    ndarray
        float32, same shape.
    """
    return np.asarray(preprocess_pixels(_rgb_batch(images, "preprocess_input"), family_mode(family)))


def deprocess_input(values: Any, family: str = "vgg16") -> np.ndarray:
    """Undo :func:`preprocess_input` for display: model inputs -> RGB floats in [0, 1].

    Caffe style adds the ImageNet mean back to the BGR channels and flips them to RGB; values are clipped
    to 0-255 and divided by 255.

    Parameters
    ----------
    values : array-like (n, height, width, 3) or (height, width, 3)
        Model inputs (e.g. an optimised image, or preprocessed photos).
    family : str
        As for :func:`preprocess_input`.

    Returns
    -------
    ndarray
        float32 RGB in [0, 1], same shape (``matplotlib``'s ``imshow`` shows it as it is).
    """
    mode = family_mode(family)
    return deprocess_pixels(_rgb_batch(values, "deprocess_input"), mode) / np.float32(255.0)


# ---------------------------------------------------------------------------------------------- image files


def _check_size(size: Any) -> tuple[int, int] | None:
    if size is None:
        return None
    if not isinstance(size, (tuple, list)) or len(size) != 2 or not all(is_int(s) and s > 0 for s in size):
        raise InvalidValueError(f"size must be (height, width) with two positive ints, or None; got {size!r}")
    return int(size[0]), int(size[1])


def load_image(
    path: str | os.PathLike[str], size: tuple[int, int] | None = IMAGE_SIZE, interpolation: str = "nearest"
) -> np.ndarray:
    """One image file as RGB pixels, exactly as ``keras.utils.img_to_array(keras.utils.load_img(path,
    target_size=size, interpolation=interpolation))`` reads it.

    Parameters
    ----------
    path : path
        Any image file PIL decodes (JPEG, PNG, ...; grayscale, palette and RGBA ones are converted to RGB).
    size : (height, width) or None
        Resize to this size (None: keep the file's size).
    interpolation : str
        One of :data:`INTERPOLATIONS` (Keras's default is ``"nearest"``).

    Returns
    -------
    ndarray
        float32 (height, width, 3), values 0-255.

    Raises
    ------
    FileNotFoundError
        No such file.
    DatasetFileError
        A file that does not decode as an image (named, with PIL's reason).
    """
    size = _check_size(size)
    if interpolation not in INTERPOLATIONS:
        raise InvalidValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}")
    file = Path(path)
    if not file.is_file():
        raise MissingFileError(f"image file {str(file)!r} does not exist")
    try:
        with Image.open(io.BytesIO(file.read_bytes())) as opened:
            image = opened.convert("RGB") if opened.mode != "RGB" else opened
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), INTERPOLATIONS[interpolation])
            return np.asarray(image, dtype=np.float32).reshape(image.size[1], image.size[0], 3)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DatasetFileError(f"cannot decode image file {file}: {' '.join(str(error).split())}") from None


def load_images(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    size: tuple[int, int] | None = IMAGE_SIZE,
    interpolation: str = "nearest",
) -> np.ndarray:
    """Image files of any size as one batch of RGB pixels (see :func:`load_image`).

    Parameters
    ----------
    paths : path or iterable of paths
    size : (height, width) or None
        Resize every image to this size; None keeps their size, which must then be the same for all.
    interpolation : str
        As for :func:`load_image`.

    Returns
    -------
    ndarray
        float32 (n, height, width, 3), values 0-255.

    Raises
    ------
    ValueError
        No paths, or differing sizes with ``size=None`` (both files named).
    """
    files = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not files:
        raise InvalidValueError("load_images needs at least one image file, got none")
    images = [load_image(file, size, interpolation) for file in files]
    for file, image in zip(files, images, strict=True):
        if image.shape != images[0].shape:
            raise InvalidValueError(
                f"{file} is {image.shape[1]}x{image.shape[0]} but {files[0]} is {images[0].shape[1]}x"
                f"{images[0].shape[0]}: give a size to resize them to"
            )
    return np.stack(images)


# ---------------------------------------------------------------------------------------------- classes


@functools.cache
def class_names() -> tuple[tuple[str, str], ...]:
    """The 1000 ImageNet classes in the order of the classifiers' outputs: ``(wnid, name)`` pairs.

    Read from the shipped ``assets/imagenet_classes.tsv`` (WordNet ids sorted, as Keras orders them;
    names in Keras's style, the first WordNet lemma with underscores: ``("n03930313", "picket_fence")``).
    """
    path = asset_path("imagenet_classes.tsv")
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines[1:] if line]
    if lines[:1] != ["index\twnid\tname"] or len(rows) != N_CLASSES or any(len(r) != 3 for r in rows):
        raise DatasetFileError(f"{path} is damaged: expected a header and {N_CLASSES} rows of index, wnid, name")
    if [int(r[0]) for r in rows] != list(range(N_CLASSES)):
        raise DatasetFileError(f"{path} is damaged: its indices are not 0..{N_CLASSES - 1} in order")
    return tuple((wnid, name) for _, wnid, name in rows)


def decode_predictions(probabilities: Any, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """The ``top`` classes of each prediction, best first: ``(wnid, name, probability)``, offline.

    Parameters
    ----------
    probabilities : array-like (n, 1000) or (1000,)
        Classifier outputs (one vector counts as a batch of one).
    top : int
        Classes per prediction, 1 to 1000 (ties keep the class order).

    Returns
    -------
    list of lists of (str, str, float)
        As ``keras.applications.imagenet_utils.decode_predictions``, without its download.
    """
    values = np.asarray(probabilities, dtype=np.float64)
    if values.ndim == 1:
        values = values[None]
    if values.ndim != 2 or values.shape[1] != N_CLASSES:
        raise InvalidValueError(
            f"decode_predictions expects ImageNet outputs of shape (n, {N_CLASSES}), got {np.shape(probabilities)}"
        )
    top = int_in_range(top, "top", 1, N_CLASSES)
    names = class_names()
    order = np.argsort(-values, axis=1, kind="stable")[:, : int(top)]
    return [[(*names[i], float(row[i])) for i in best] for row, best in zip(values, order, strict=True)]


def _preprocessing(model: keras.Model, preprocess: str | Callable[[np.ndarray], Any] | None) -> Callable:
    if callable(preprocess):
        return preprocess
    if preprocess is None:
        return lambda images: images
    if preprocess != "auto":
        family_mode(preprocess)  # a clear error for an unknown family
        return functools.partial(preprocess_input, family=preprocess)
    family = model_family(model)
    if family is None:
        raise InvalidValueError(
            "the model's preprocessing is unknown (it was not loaded by tfprobe.models.load_model / vgg16()): "
            f"pass preprocess= one of {', '.join(FAMILY_MODES)}, a function of RGB pixels 0-255, or None"
        )
    return functools.partial(preprocess_input, family=family)


def predict(
    model: keras.Model,
    images_or_paths: Any,
    top: int = 5,
    *,
    preprocess: str | Callable[[np.ndarray], Any] | None = "auto",
    batch_size: int = 32,
) -> list[list[tuple[str, str, float]]]:
    """Classify images with an ImageNet classifier: the ``top`` classes of each, best first.

    Parameters
    ----------
    model : keras.Model
        A 1000-class classifier (e.g. :func:`vgg16`).
    images_or_paths : path, sequence of paths, or array-like
        Image files (read by :func:`load_images` at the model's input size), or RGB pixels 0-255
        (n, height, width, 3) or one image (height, width, 3).
    top : int
        Classes per image.
    preprocess : "auto", family name, callable or None
        "auto": the preprocessing of the application the model was loaded as (an error if unknown); a
        family (``"vgg16"``, ...); a function of RGB pixels 0-255; or None (pixels as they are).
    batch_size : int
        Images per forward pass.

    Returns
    -------
    list of lists of (wnid, name, probability)
    """
    batch_size = positive_int(batch_size, "batch_size")
    transform = _preprocessing(model, preprocess)
    outputs = model.outputs[0].shape if getattr(model, "outputs", None) else None
    if outputs is not None and outputs[-1] != N_CLASSES:
        raise InvalidValueError(f"predict needs a {N_CLASSES}-class ImageNet classifier; the model outputs {outputs}")
    images = _images(images_or_paths, model)
    chunks = []
    for start in range(0, len(images), int(batch_size)):
        batch = np.asarray(transform(np.array(images[start : start + int(batch_size)])), dtype=np.float32)
        chunks.append(keras.ops.convert_to_numpy(model(batch, training=False)))
    return decode_predictions(np.concatenate(chunks), top=top)


def _images(images_or_paths: Any, model: keras.Model) -> np.ndarray:
    if isinstance(images_or_paths, (str, os.PathLike)):
        images_or_paths = [images_or_paths]
    if isinstance(images_or_paths, Sequence) and images_or_paths and isinstance(images_or_paths[0], (str, os.PathLike)):
        height, width = tuple(model.inputs[0].shape[1:3]) if getattr(model, "inputs", None) else (None, None)
        size = (height, width) if height and width else IMAGE_SIZE
        return load_images(images_or_paths, size=size)
    images = np.asarray(images_or_paths, dtype=np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise InvalidValueError(
            "predict expects image files, or RGB pixels (n, height, width, 3) / (height, width, 3); "
            f"got an array of shape {np.shape(images_or_paths)}"
        )
    return images
