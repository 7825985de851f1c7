"""Datasets and stimuli: MNIST / Fashion-MNIST with the study's split, and its cluttered scenes.

See :mod:`tfprobe.datasets.digits` for where the data is looked for, in which order, and
:mod:`tfprobe.datasets.scenes` for the scene generator.
"""

from __future__ import annotations

from tfprobe.datasets.digits import DataSurvey, ImageSplits, Split, load_fashion_mnist, load_mnist, survey
from tfprobe.datasets.embedded import EmbeddedDataError, embedded_dir
from tfprobe.datasets.idx import DatasetFileError, DatasetNotFoundError, read_idx
from tfprobe.datasets.perturbations import PERTURBATIONS, PerturbedScenes
from tfprobe.datasets.scene_layout import SceneLayout
from tfprobe.datasets.scenes import CATEGORY_NAMES, LABEL_KEYS, ClutteredScenes, Scenes

__all__ = [
    "CATEGORY_NAMES",
    "LABEL_KEYS",
    "PERTURBATIONS",
    "ClutteredScenes",
    "DataSurvey",
    "DatasetFileError",
    "DatasetNotFoundError",
    "EmbeddedDataError",
    "ImageSplits",
    "PerturbedScenes",
    "SceneLayout",
    "Scenes",
    "Split",
    "embedded_dir",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "survey",
]
