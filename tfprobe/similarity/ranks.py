"""Ranks of RDM vectors: dense ranks (for Kendall's tau) and average ranks with ties (for Spearman)."""

from __future__ import annotations

import numpy as np

__all__ = ["average_ranks", "dense_ranks"]


def dense_ranks(vectors: np.ndarray) -> np.ndarray:
    """Each row's values replaced by their dense ranks 0, 1, ... (equal values, equal ranks), int64."""
    ranks = np.empty(vectors.shape, dtype=np.int64)
    for row, vector in enumerate(vectors):
        ranks[row] = np.unique(vector, return_inverse=True)[1].reshape(-1)
    return ranks


def average_ranks(vectors: np.ndarray) -> np.ndarray:
    """Each row's values replaced by their ranks 1..n, tied values sharing the mean of their ranks
    (``scipy.stats.rankdata(..., method="average", axis=1)``), float64."""
    ranks = np.empty(vectors.shape, dtype=np.float64)
    for row, vector in enumerate(vectors):
        _, inverse, counts = np.unique(vector, return_inverse=True, return_counts=True)
        ranks[row] = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse.reshape(-1)]
    return ranks
