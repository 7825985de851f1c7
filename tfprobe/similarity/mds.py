"""Classical (Torgerson) multidimensional scaling, in numpy: points whose distances match given ones."""

from __future__ import annotations

import numpy as np

from tfprobe.errors import InvalidValueError
from tfprobe.validation import positive_int

__all__ = ["classical_mds"]


def classical_mds(distances: np.ndarray, n_components: int = 2) -> np.ndarray:
    """Coordinates ``(k, n_components)`` of ``k`` points whose Euclidean distances best match ``distances``.

    The double-centred matrix of squared distances ``B = -1/2 H D^2 H`` is decomposed; the coordinates are
    its leading eigenvectors times the square roots of their eigenvalues (components with non-positive
    eigenvalues are 0).  Each component's sign is fixed so that its largest coordinate is positive.

    Parameters
    ----------
    distances : ndarray (k, k)
        Symmetric, non-negative, zero diagonal (``1 - similarity`` of RDMs, for example).
    n_components : int
        Dimensions of the embedding.

    Raises
    ------
    InvalidValueError
        A matrix that is not square, symmetric and finite.
    """
    n_components = positive_int(n_components, "n_components")
    distances = np.asarray(distances, dtype=np.float64)
    if distances.ndim != 2 or distances.shape[0] != distances.shape[1]:
        raise InvalidValueError(f"distances must be a square matrix, got shape {distances.shape}")
    if not np.all(np.isfinite(distances)) or not np.allclose(distances, distances.T, atol=1e-9):
        raise InvalidValueError("distances must be finite and symmetric")
    squared = distances**2
    centred = squared - squared.mean(axis=0) - squared.mean(axis=1)[:, None] + squared.mean()
    values, vectors = np.linalg.eigh(-0.5 * centred)
    order = np.argsort(values)[::-1][:n_components]
    values, vectors = values[order], vectors[:, order]
    coordinates = vectors * np.sqrt(np.maximum(values, 0.0))
    if coordinates.shape[1] < n_components:
        coordinates = np.pad(coordinates, ((0, 0), (0, n_components - coordinates.shape[1])))
    signs = np.sign(coordinates[np.argmax(np.abs(coordinates), axis=0), np.arange(n_components)])
    return coordinates * np.where(signs == 0, 1.0, signs)
