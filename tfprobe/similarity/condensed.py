"""Condensed RDM vectors: the upper triangle of a dissimilarity matrix, row by row (rsatoolbox's and scipy's order).

Pair ``(i, j)``, ``i < j``, of ``n`` conditions sits at ``i * n - i * (i + 1) / 2 + j - i - 1``; the vector of
``n`` conditions has ``n * (n - 1) / 2`` entries.
"""

from __future__ import annotations

import math

import numpy as np

from tfprobe.errors import InvalidValueError

__all__ = ["n_conditions_of", "n_pairs", "pair_indices", "pair_positions", "to_matrices", "to_vectors"]


def n_pairs(n: int) -> int:
    """The number of condition pairs of ``n`` conditions, ``n (n - 1) / 2``."""
    return n * (n - 1) // 2


def n_conditions_of(length: int) -> int:
    """The number of conditions whose condensed vector has ``length`` entries.

    Raises
    ------
    InvalidValueError
        When ``length`` is not ``n (n - 1) / 2`` for any ``n``.
    """
    n = round((1 + math.sqrt(1 + 8 * length)) / 2)
    if n_pairs(n) != length:
        raise InvalidValueError(f"a condensed RDM vector has n (n - 1) / 2 entries; {length} is not such a number")
    return n


def pair_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The row and column of every condensed entry of ``n`` conditions (two int arrays, ``i < j``)."""
    return np.triu_indices(n, k=1)


def pair_positions(i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    """Where the pairs ``(i, j)`` (either order, ``i != j``) sit in a condensed vector of ``n`` conditions."""
    low, high = np.minimum(i, j).astype(np.int64), np.maximum(i, j).astype(np.int64)
    return low * n - low * (low + 1) // 2 + high - low - 1


def to_matrices(vectors: np.ndarray) -> np.ndarray:
    """Condensed vectors ``(k, n_pairs)`` as symmetric matrices ``(k, n, n)`` with a zero diagonal."""
    vectors = np.atleast_2d(np.asarray(vectors))
    n = n_conditions_of(vectors.shape[1])
    rows, columns = pair_indices(n)
    matrices = np.zeros((vectors.shape[0], n, n), dtype=vectors.dtype)
    matrices[:, rows, columns] = vectors
    matrices[:, columns, rows] = vectors
    return matrices


def to_vectors(matrices: np.ndarray) -> np.ndarray:
    """Square matrices ``(k, n, n)`` (or one ``(n, n)``) as condensed vectors ``(k, n_pairs)``; the upper
    triangle is read, so the matrices need not be symmetric."""
    matrices = np.asarray(matrices)
    if matrices.ndim == 2:
        matrices = matrices[None]
    if matrices.ndim != 3 or matrices.shape[1] != matrices.shape[2]:
        raise InvalidValueError(f"expected square matrices (k, n, n), got shape {matrices.shape}")
    rows, columns = pair_indices(matrices.shape[1])
    return matrices[:, rows, columns]
