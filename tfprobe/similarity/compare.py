"""Comparing RDMs: every RDM of one set against every RDM of another, equal to ``rsatoolbox.rdm.compare``.

Each method except tau-a is a cosine between transformed vectors, so a whole comparison matrix is one
matrix product of row-normalised transforms, each computed once per RDM:

``"cosine"``
    the vectors themselves;
``"corr"``
    the vectors minus their mean (Pearson's r);
``"spearman"``
    their ranks (ties averaged) minus the mean rank;
``"cosine_cov"`` / ``"corr_cov"``
    the whitened ("covariance-weighted") RDM of rsatoolbox (Diedrichsen et al. 2021): ``G = -1/2 H D H``,
    the double-centred matrix of the dissimilarities ``D`` (after subtracting their mean for ``corr_cov``),
    off-diagonal entries weighted ``sqrt(2)`` and the diagonal appended; with ``sigma_k`` (the variances of
    the conditions' pattern estimates, one per condition) ``G_ij`` is divided by ``sqrt(sigma_i sigma_j)``.
    Without ``sigma_k`` (the identity, rsatoolbox's default) this is linear CKA between the RDMs' implied
    Gram matrices.
``"tau-a"``
    Kendall's tau-a (:mod:`tfprobe.similarity.kendall`), a merge sort per pair of RDMs.

A vector of zero length after its transform (a constant RDM under ``corr``) is 0 similar to everything,
as in rsatoolbox.  RDMs must be complete (no NaN entries).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from tfprobe.errors import InvalidValueError
from tfprobe.similarity.condensed import n_conditions_of, pair_indices
from tfprobe.similarity.kendall import tau_a_matrix
from tfprobe.similarity.ranks import average_ranks

__all__ = ["METHODS", "check_method", "check_sigma_k", "compare_vectors", "incidence", "transform", "whiten"]

METHODS = ("spearman", "corr", "tau-a", "cosine", "corr_cov", "cosine_cov")


def check_method(method: str) -> str:
    """``method`` if it is one of :data:`METHODS`, else an :class:`~tfprobe.errors.InvalidValueError` listing them."""
    if method not in METHODS:
        raise InvalidValueError(f"unknown comparison method {method!r}; the choices are {', '.join(METHODS)}")
    return method


def check_sigma_k(sigma_k: np.ndarray | None, method: str, n_conditions: int) -> np.ndarray | None:
    """``sigma_k`` as a positive float vector of one variance per condition, or None."""
    if sigma_k is None:
        return None
    if method not in ("corr_cov", "cosine_cov"):
        raise InvalidValueError(f"sigma_k applies to the methods corr_cov and cosine_cov, not {method!r}")
    sigma = np.asarray(sigma_k, dtype=np.float64)
    if sigma.shape != (n_conditions,):
        raise InvalidValueError(
            f"sigma_k must give one variance per condition, shape ({n_conditions},); got {sigma.shape} (a full "
            "covariance matrix is not supported)"
        )
    if not (np.all(np.isfinite(sigma)) and np.all(sigma > 0)):
        raise InvalidValueError("sigma_k must hold positive finite variances")
    return sigma


def incidence(n: int) -> scipy.sparse.csr_matrix:
    """The sparse ``(n_pairs, n)`` matrix with ones at each pair's two conditions (row sums of a condensed
    vector ``v`` over the full symmetric matrix are ``v @ incidence(n)``)."""
    rows, columns = pair_indices(n)
    count = len(rows)
    positions = np.concatenate([np.arange(count), np.arange(count)])
    return scipy.sparse.csr_matrix((np.ones(2 * count), (positions, np.concatenate([rows, columns]))), shape=(count, n))


def whiten(vectors: np.ndarray, sigma_k: np.ndarray | None = None) -> np.ndarray:
    """rsatoolbox's whitened RDM vectors (``_cov_weighting``): double-centred ``-D/2``, off-diagonal entries
    times ``sqrt(2)``, then the diagonal, ``(k, n_pairs + n)``."""
    n = n_conditions_of(vectors.shape[1])
    rows, columns = pair_indices(n)
    half = -0.5 * vectors
    means = np.asarray((incidence(n).T @ half.T).T) / n  # row means of the full matrix (zero diagonal)
    grand = means.mean(axis=1, keepdims=True)
    off = half - means[:, rows] - means[:, columns] + grand
    diagonal = -2.0 * means + grand
    if sigma_k is not None:
        root = np.sqrt(sigma_k)
        off = off / (root[rows] * root[columns])
        diagonal = diagonal / sigma_k
    return np.concatenate([off * np.sqrt(2.0), diagonal], axis=1)


def _unit_rows(values: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("ij,ij->i", values, values))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms[:, None] > 0, values / norms[:, None], 0.0)


def transform(vectors: np.ndarray, method: str, sigma_k: np.ndarray | None = None) -> np.ndarray:
    """Row-normalised transforms whose inner products are the similarities of ``method`` (not tau-a)."""
    if method == "cosine":
        values = vectors
    elif method == "corr":
        values = vectors - vectors.mean(axis=1, keepdims=True)
    elif method == "spearman":
        ranks = average_ranks(vectors)
        values = ranks - ranks.mean(axis=1, keepdims=True)
    elif method == "cosine_cov":
        values = whiten(vectors, sigma_k)
    elif method == "corr_cov":
        values = whiten(vectors - vectors.mean(axis=1, keepdims=True), sigma_k)
    else:
        raise InvalidValueError(f"method {method!r} has no vector transform")
    return _unit_rows(np.asarray(values, dtype=np.float64))


def compare_vectors(
    first: np.ndarray, second: np.ndarray | None = None, method: str = "corr", sigma_k: np.ndarray | None = None
) -> np.ndarray:
    """The similarity of every row of ``first`` ``(k1, n_pairs)`` with every row of ``second`` ``(k2, n_pairs)``
    (default: ``first`` itself), ``(k1, k2)``."""
    check_method(method)
    if method == "tau-a":
        return tau_a_matrix(first, first if second is None else second)
    left = transform(first, method, sigma_k)
    right = left if second is None else transform(second, method, sigma_k)
    return left @ right.T
