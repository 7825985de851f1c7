"""Dissimilarities between condition patterns, as condensed vectors, from Gram matrices computed in float64.

Every metric is a function of inner products of patterns, so each is computed from one ``(n, n)`` Gram
(kernel) matrix accumulated over blocks of features: a unit with many features is never copied whole to
float64.  Metrics (``x_i`` the pattern of condition ``i``, ``F`` the number of features):

``"correlation"``
    ``1 - r(x_i, x_j)``, Pearson's correlation across features (rsatoolbox's ``'correlation'``).
``"cosine"``
    ``1 - x_i . x_j / (|x_i| |x_j|)``, the cosine distance (scipy's ``'cosine'``; not an rsatoolbox metric).
``"euclidean"``
    ``|x_i - x_j|^2 / F``, the squared Euclidean distance per feature (rsatoolbox's ``'euclidean'``).
``"plain_euclidean"``
    ``|x_i - x_j|``, the Euclidean distance, not squared nor divided (scipy's ``'euclidean'``).
``"mahalanobis"``
    ``(x_i - x_j)^T P (x_i - x_j) / F`` with a noise precision ``P`` (the identity by default, which is
    ``"euclidean"``), rsatoolbox's ``'mahalanobis'``.
``"crossnobis"``
    The cross-validated Mahalanobis distance over runs (leave one run out), rsatoolbox's ``'crossnobis'``:
    for each run ``r``, ``(a_i - a_j)^T P (b_i - b_j) / F`` with ``a`` the condition means of the other
    runs and ``b`` those of run ``r``, averaged over runs.  Unbiased, so it can be negative.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from tfprobe.errors import InvalidValueError
from tfprobe.similarity.condensed import pair_indices
from tfprobe.similarity.conditions import Design

__all__ = ["METRICS", "check_metric", "crossnobis_vector", "distance_vector", "gram"]

METRICS = ("correlation", "cosine", "euclidean", "plain_euclidean", "mahalanobis", "crossnobis")

#: Entries of float64 blocks of features (about 32 MB).
_BLOCK_ENTRIES = 1 << 22


def check_metric(metric: str) -> str:
    """``metric`` if it is one of :data:`METRICS`, else an :class:`~tfprobe.errors.InvalidValueError` listing them."""
    if metric not in METRICS:
        raise InvalidValueError(f"unknown metric {metric!r}; the choices are {', '.join(METRICS)}")
    return metric


def _named(labels: np.ndarray, rows: np.ndarray, limit: int = 5) -> str:
    names = ", ".join(repr(label) for label in labels[rows[:limit]].tolist())
    return names + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def check_finite(patterns: np.ndarray, labels: np.ndarray, unit: str) -> None:
    """Refuse NaN or infinite patterns, naming their conditions."""
    finite = np.isfinite(patterns).all(axis=1)
    if not finite.all():
        raise InvalidValueError(
            f"unit {unit!r}: the patterns of conditions {_named(labels, np.flatnonzero(~finite))} hold NaN or "
            "infinite values"
        )


def _blocks(features: int, rows: int) -> range:
    return range(0, features, max(1, _BLOCK_ENTRIES // max(1, rows)))


def gram(
    patterns: np.ndarray,
    other: np.ndarray | None = None,
    *,
    row_means: np.ndarray | None = None,
    column_means: np.ndarray | None = None,
) -> np.ndarray:
    """``X Y^T`` in float64, after subtracting ``row_means`` (one per row) and ``column_means`` (one per
    feature) from both, accumulated over blocks of features.

    Parameters
    ----------
    patterns : ndarray (n, F)
    other : ndarray (m, F), optional
        Default: ``patterns`` (the Gram matrix).
    row_means : ndarray (n,), optional
        Subtracted from each row of ``patterns`` (only when ``other`` is None).
    column_means : ndarray (F,), optional
        Subtracted from every row of both.
    """
    second = patterns if other is None else other
    result = np.zeros((patterns.shape[0], second.shape[0]))
    step = _blocks(patterns.shape[1], patterns.shape[0] + second.shape[0]).step
    for start in range(0, patterns.shape[1], step):
        block = slice(start, start + step)
        left = patterns[:, block].astype(np.float64)
        right = left if other is None else second[:, block].astype(np.float64)
        if row_means is not None:
            left -= row_means[:, None]
        if column_means is not None:
            left -= column_means[block]
            if other is not None:
                right -= column_means[block]
        result += left @ right.T
    return result


def _row_means(patterns: np.ndarray) -> np.ndarray:
    return patterns.mean(axis=1, dtype=np.float64)


def _column_means(patterns: np.ndarray, row_means: np.ndarray | None) -> np.ndarray:
    means = patterns.mean(axis=0, dtype=np.float64)
    return means if row_means is None else means - row_means.mean()


def _squared_distances(kernel: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    diagonal = np.diag(kernel)
    return diagonal[rows] + diagonal[columns] - 2.0 * kernel[rows, columns]


def distance_vector(
    patterns: np.ndarray,
    metric: str,
    labels: np.ndarray,
    *,
    precision: np.ndarray | None = None,
    remove_mean: bool = False,
    unit: str = "patterns",
) -> np.ndarray:
    """The condensed dissimilarities of one unit's condition patterns (every metric but crossnobis).

    Parameters
    ----------
    patterns : ndarray (n_conditions, F)
        One row per condition (averaged already), finite.
    metric : str
        One of :data:`METRICS` except ``"crossnobis"``.
    labels : ndarray (n_conditions,)
        The conditions' labels, named in errors.
    precision : ndarray (F, F), optional
        The noise precision of ``"mahalanobis"`` (default: the identity).
    remove_mean : bool
        Subtract each pattern's mean over features first (``euclidean``, ``plain_euclidean``,
        ``mahalanobis``; correlation always does).
    unit : str
        The unit's name, for errors.

    Raises
    ------
    InvalidValueError
        Patterns for which the metric is undefined (a constant pattern for correlation, a zero pattern for
        cosine), naming the conditions.
    """
    rows, columns = pair_indices(patterns.shape[0])
    if metric in ("correlation", "cosine"):
        means = _row_means(patterns) if metric == "correlation" else None
        kernel = gram(patterns, row_means=means)
        norms = np.sqrt(np.diag(kernel))
        scale = np.abs(patterns).max(axis=1).astype(np.float64) * np.sqrt(patterns.shape[1])
        flat = norms <= 1e-12 * np.maximum(scale, np.finfo(float).tiny)
        if flat.any():
            what = "constant" if metric == "correlation" else "all zero"
            raise InvalidValueError(
                f"unit {unit!r}: {metric} distance is undefined for conditions {_named(labels, np.flatnonzero(flat))}"
                f": their patterns are {what}"
            )
        return 1.0 - kernel[rows, columns] / (norms[rows] * norms[columns])
    means = _row_means(patterns) if remove_mean else None
    centre = _column_means(patterns, means)
    if metric == "mahalanobis" and precision is not None:
        centred = patterns.astype(np.float64) - centre
        if means is not None:
            centred -= means[:, None]
        kernel = centred @ precision @ centred.T
    else:
        kernel = gram(patterns, row_means=means, column_means=centre)
    squared = np.maximum(_squared_distances(kernel, rows, columns), 0.0)
    if metric == "plain_euclidean":
        return np.sqrt(squared)
    return squared / patterns.shape[1]


def crossnobis_vector(
    measurements: np.ndarray,
    design: Design,
    *,
    precision: np.ndarray | None = None,
    remove_mean: bool = False,
) -> np.ndarray:
    """Cross-validated Mahalanobis dissimilarities (leave one run out) of one unit's measurements.

    Parameters
    ----------
    measurements : ndarray (n_rows, F)
        Finite; every condition measured in every run.
    design : Design
        Conditions and runs of the rows (``design.runs`` set).
    precision : ndarray (F, F), optional
        The noise precision (default: the identity, rsatoolbox's default).
    remove_mean : bool
        Subtract each run-averaged pattern's mean over features first (rsatoolbox's ``remove_mean``).
    """
    runs, n_runs, n = design.runs, len(design.run_labels), design.n_conditions
    groups = runs * n + design.codes
    counts = np.bincount(groups, minlength=n_runs * n).astype(np.float64).reshape(n_runs, n)
    summing = scipy.sparse.csr_matrix(
        (np.ones(len(groups)), (groups, np.arange(len(groups)))), shape=(n_runs * n, len(groups))
    )
    rows, columns = pair_indices(n)
    total = np.zeros(len(rows))
    features = measurements.shape[1]
    # sums per (run, condition) over blocks of features, centred on the overall mean (distances ignore it)
    centre = measurements.mean(axis=0, dtype=np.float64)
    sums = np.zeros((n_runs, n, features)) if precision is not None or remove_mean else None
    kernels = np.zeros((n_runs, n, n))
    step = _blocks(features, 2 * n_runs * n).step
    for start in range(0, features, step if sums is None else features):
        block = slice(start, start + (step if sums is None else features))
        part = np.asarray(summing @ (measurements[:, block].astype(np.float64) - centre[block]))
        part = part.reshape(n_runs, n, -1)
        if sums is not None:
            sums[...] = part
            continue
        everything = part.sum(axis=0)
        for run in range(n_runs):
            test = part[run] / counts[run][:, None]
            train = (everything - part[run]) / (counts.sum(axis=0) - counts[run])[:, None]
            kernels[run] += train @ test.T
    if sums is not None:
        everything = sums.sum(axis=0)
        for run in range(n_runs):
            test = sums[run] / counts[run][:, None]
            train = (everything - sums[run]) / (counts.sum(axis=0) - counts[run])[:, None]
            if remove_mean:
                test = test - test.mean(axis=1, keepdims=True)
                train = train - train.mean(axis=1, keepdims=True)
            kernels[run] = train @ (test.T if precision is None else precision @ test.T)
    for run in range(n_runs):
        kernel = kernels[run]
        diagonal = np.diag(kernel)
        total += diagonal[rows] + diagonal[columns] - kernel[rows, columns] - kernel[columns, rows]
    return total / n_runs / features
