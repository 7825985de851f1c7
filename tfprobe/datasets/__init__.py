"""MNIST and Fashion-MNIST loaders with the original study's split, and an IDX reader.

See :mod:`tfprobe.datasets.digits` for where the data is looked for, in which order.
"""

from __future__ import annotations

from tfprobe.datasets.digits import ImageSplits, Split, load_fashion_mnist, load_mnist
from tfprobe.datasets.idx import DatasetFileError, DatasetNotFoundError, read_idx

__all__ = [
    "DatasetFileError",
    "DatasetNotFoundError",
    "ImageSplits",
    "Split",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
]
