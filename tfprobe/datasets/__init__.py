"""Datasets and stimuli: MNIST / Fashion-MNIST with the study's split, its cluttered scenes, gratings
(:mod:`tfprobe.datasets.gratings`) and the random-shape contrast pairs (:mod:`tfprobe.datasets.shapes`).

See :mod:`tfprobe.datasets.digits` for where the data is looked for, in which order,
:mod:`tfprobe.datasets.scenes` for the scene generator, and :mod:`tfprobe.datasets.photos` for the few
photographs tfprobe ships.  Names are imported on first use, so the
loaders work without loading TensorFlow (the scenes' ``tf.data`` stream needs it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfprobe._lazy import lazy_exports

_EXPORTS = {
    "CATEGORY_NAMES": "tfprobe.datasets.scenes",
    "ClutteredScenes": "tfprobe.datasets.scenes",
    "ContrastPairs": "tfprobe.datasets.shapes",
    "SHAPES": "tfprobe.datasets.shapes",
    "adjust_contrast": "tfprobe.datasets.shapes",
    "csf_frequencies": "tfprobe.datasets.gratings",
    "grating_orientations": "tfprobe.datasets.gratings",
    "random_shape": "tfprobe.datasets.shapes",
    "sinusoidal_grating": "tfprobe.datasets.gratings",
    "sinusoidal_gratings": "tfprobe.datasets.gratings",
    "square_grating": "tfprobe.datasets.gratings",
    "DataSurvey": "tfprobe.datasets.digits",
    "DatasetFileError": "tfprobe.datasets.idx",
    "DatasetNotFoundError": "tfprobe.datasets.idx",
    "EmbeddedDataError": "tfprobe.datasets.embedded",
    "ImageSplits": "tfprobe.datasets.digits",
    "LABEL_KEYS": "tfprobe.datasets.scenes",
    "PERTURBATIONS": "tfprobe.datasets.perturbations",
    "PHOTOS": "tfprobe.datasets.photos",
    "PerturbedScenes": "tfprobe.datasets.perturbations",
    "SceneLayout": "tfprobe.datasets.scene_layout",
    "Scenes": "tfprobe.datasets.scenes",
    "Split": "tfprobe.datasets.digits",
    "embedded_dir": "tfprobe.datasets.embedded",
    "load_fashion_mnist": "tfprobe.datasets.digits",
    "load_mnist": "tfprobe.datasets.digits",
    "photo_path": "tfprobe.datasets.photos",
    "photo_paths": "tfprobe.datasets.photos",
    "read_idx": "tfprobe.datasets.idx",
    "survey": "tfprobe.datasets.digits",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from tfprobe.datasets.digits import DataSurvey, ImageSplits, Split, load_fashion_mnist, load_mnist, survey
    from tfprobe.datasets.embedded import EmbeddedDataError, embedded_dir
    from tfprobe.datasets.gratings import (
        csf_frequencies,
        grating_orientations,
        sinusoidal_grating,
        sinusoidal_gratings,
        square_grating,
    )
    from tfprobe.datasets.idx import DatasetFileError, DatasetNotFoundError, read_idx
    from tfprobe.datasets.perturbations import PERTURBATIONS, PerturbedScenes
    from tfprobe.datasets.photos import PHOTOS, photo_path, photo_paths
    from tfprobe.datasets.scene_layout import SceneLayout
    from tfprobe.datasets.scenes import CATEGORY_NAMES, LABEL_KEYS, ClutteredScenes, Scenes
    from tfprobe.datasets.shapes import SHAPES, ContrastPairs, adjust_contrast, random_shape

__all__ = [
    "CATEGORY_NAMES",
    "LABEL_KEYS",
    "PERTURBATIONS",
    "PHOTOS",
    "SHAPES",
    "ClutteredScenes",
    "ContrastPairs",
    "DataSurvey",
    "DatasetFileError",
    "DatasetNotFoundError",
    "EmbeddedDataError",
    "ImageSplits",
    "PerturbedScenes",
    "SceneLayout",
    "Scenes",
    "Split",
    "adjust_contrast",
    "csf_frequencies",
    "embedded_dir",
    "grating_orientations",
    "load_fashion_mnist",
    "load_mnist",
    "photo_path",
    "photo_paths",
    "random_shape",
    "read_idx",
    "sinusoidal_grating",
    "sinusoidal_gratings",
    "square_grating",
    "survey",
]
