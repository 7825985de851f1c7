"""Stimuli from files: a folder of images, or an array file (.npy / .npz)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tfprobe.datasets.idx import DatasetNotFoundError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


def load_image_folder(
    folder: str | os.PathLike[str], size: tuple[int, int] | None = None, channels: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """The images of a folder (sorted by name) as float32 (n, height, width, channels) in [0, 1], and their names.

    Parameters
    ----------
    folder : path
    size : (height, width), optional
        Resize every image to this size (bilinear); default: all images must share one size.
    channels : {1, 3}
        Grayscale or RGB.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetNotFoundError(f"stimulus folder {str(folder)!r} does not exist")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DatasetNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    images = []
    for file in files:
        try:
            with Image.open(file) as image:
                image = image.convert("L" if channels == 1 else "RGB")
                if size is not None:
                    image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                array = np.asarray(image, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError) as error:
            raise ValueError(f"cannot read image {file}: {error}") from None
        if images and array.shape[:2] != images[0].shape[:2]:
            raise ValueError(
                f"{file.name} is {array.shape[1]}x{array.shape[0]} but {files[0].name} is "
                f"{images[0].shape[1]}x{images[0].shape[0]}: give a size to resize them to"
            )
        images.append(array.reshape(*array.shape[:2], channels))
    return np.stack(images), np.array([f.name for f in files])


def load_array_file(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Stimuli from ``.npy`` (one array) or ``.npz`` (``images``, or its only array; ``ids`` if present)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"stimulus file {str(path)!r} does not exist")
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False), None
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                keys = list(archive.keys())
                if "images" in keys:
                    images = archive["images"]
                elif len([k for k in keys if k != "ids"]) == 1:
                    images = archive[next(k for k in keys if k != "ids")]
                else:
                    raise ValueError(f"{path} holds arrays {keys}: name the stimuli 'images'")
                return images, (archive["ids"] if "ids" in keys else None)
    except (OSError, ValueError) as error:
        if "name the stimuli" in str(error):
            raise
        raise ValueError(f"cannot read stimulus file {path}: {error}") from None
    raise ValueError(f"stimulus file {path} must be .npy or .npz (or give a folder of images)")
