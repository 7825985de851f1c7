"""Which rows of a pattern matrix belong to which condition (and which run), and averaging them.

Conditions keep the order in which they first appear among the rows.  A condition measured in several
rows (several stimuli, or repeated measurements) is the average of its rows for every metric except
crossnobis, which uses the rows of each run separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse

from tfprobe.errors import InvalidValueError

__all__ = ["MIN_CONDITIONS", "Design", "average_rows", "make_design"]

#: The fewest conditions an RDM is made of (two conditions give a single dissimilarity: nothing to compare).
MIN_CONDITIONS = 3


@dataclass(frozen=True)
class Design:
    """Condition (and run) of every row of a pattern matrix.

    Attributes
    ----------
    labels : ndarray (n_conditions,)
        The distinct condition labels, in order of first appearance.
    codes : ndarray (n_rows,) int
        Each row's condition, an index into ``labels``.
    runs : ndarray (n_rows,) int or None
        Each row's run (cross-validation fold), an index into ``run_labels``; None without runs.
    run_labels : ndarray (n_runs,) or None
    """

    labels: np.ndarray
    codes: np.ndarray
    runs: np.ndarray | None = None
    run_labels: np.ndarray | None = None

    @property
    def n_conditions(self) -> int:
        """The number of conditions."""
        return len(self.labels)

    @property
    def n_rows(self) -> int:
        """The number of rows (measurements)."""
        return len(self.codes)

    @property
    def counts(self) -> np.ndarray:
        """How many rows each condition has."""
        return np.bincount(self.codes, minlength=self.n_conditions)

    @property
    def repeated(self) -> bool:
        """Whether some condition has several rows."""
        return self.n_rows > self.n_conditions


def _first_appearance(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values in order of first appearance, and each value's index among them."""
    unique, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return unique[order], rank[inverse.reshape(-1)]


def _labels(values: Sequence[Any] | np.ndarray, n_rows: int, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidValueError(f"{what} must be a 1-D sequence of labels (one per row), got shape {array.shape}")
    if len(array) != n_rows:
        raise InvalidValueError(f"{what} gives {len(array)} labels for {n_rows} rows of patterns: give one per row")
    if array.dtype.kind not in "iuUSOb" and not (array.dtype.kind == "f" and np.all(np.isfinite(array))):
        raise InvalidValueError(f"{what} must hold ints or strings, got dtype {array.dtype}")
    if array.dtype == object:
        array = array.astype(str)
    return array


def make_design(
    n_rows: int,
    conditions: Sequence[Any] | np.ndarray | None = None,
    runs: Sequence[Any] | np.ndarray | None = None,
    *,
    default_labels: Sequence[Any] | np.ndarray | None = None,
) -> Design:
    """The design of ``n_rows`` rows of patterns.

    Parameters
    ----------
    n_rows : int
        Rows of the pattern matrices (stimuli or measurements).
    conditions : sequence, optional
        One condition label per row; rows with the same label are one condition.  Default: every row is a
        condition, labelled by ``default_labels`` (or 0, 1, ...).
    runs : sequence, optional
        One run (fold) label per row, for crossnobis.
    default_labels : sequence, optional
        The labels of the rows when ``conditions`` is not given (for example the stimulus ids of a file).

    Raises
    ------
    InvalidValueError
        Labels of the wrong length or kind, or fewer than :data:`MIN_CONDITIONS` conditions.
    """
    if conditions is None:
        labels = np.arange(n_rows) if default_labels is None else _labels(default_labels, n_rows, "stimulus ids")
        labels, codes = _first_appearance(labels) if len(np.unique(labels)) < n_rows else (labels, np.arange(n_rows))
    else:
        labels, codes = _first_appearance(_labels(conditions, n_rows, "conditions"))
    if len(labels) < MIN_CONDITIONS:
        raise InvalidValueError(
            f"an RDM needs at least {MIN_CONDITIONS} conditions, got {len(labels)}"
            + (f" ({', '.join(map(repr, labels.tolist()))})" if len(labels) else "")
        )
    run_codes = run_labels = None
    if runs is not None:
        run_labels, run_codes = _first_appearance(_labels(runs, n_rows, "runs"))
    return Design(labels, codes.astype(np.int64), run_codes, run_labels)


def average_rows(patterns: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """The mean row of each group, ``(n_groups, features)`` float64 (a group without rows is NaN)."""
    counts = np.bincount(codes, minlength=n_groups).astype(np.float64)
    with np.errstate(divide="ignore"):
        weights = np.where(counts > 0, 1.0 / counts, np.nan)[codes]
    averaging = scipy.sparse.csr_matrix(
        (weights, (codes, np.arange(len(codes)))), shape=(n_groups, len(codes)), dtype=np.float64
    )
    means = np.asarray(averaging @ patterns.astype(np.float64, copy=False))
    means[counts == 0] = np.nan
    return means
