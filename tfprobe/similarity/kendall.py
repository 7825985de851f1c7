"""Kendall's tau-a between condensed RDM vectors, with optional weights (copies of entries, for the bootstrap).

tau-a is ``(concordant - discordant) / (all pairs)``, ties counted in the denominator (rsatoolbox's
``'tau-a'``).  For two vectors ``x`` and ``y`` whose entries carry integer weights ``w`` (an entry of weight
``w`` stands for ``w`` copies of it, as a bootstrap sample repeats condition pairs)::

    concordant - discordant = total - ties_x - ties_y + ties_xy - 2 * discordant

with ``total = W (W - 1) / 2`` (``W`` the summed weight), ``ties_x`` the pairs of copies tied in ``x``
(``sum W_g (W_g - 1) / 2`` over groups of equal ``x``), ``ties_xy`` those tied in both, and the weighted
discordant pairs counted by a merge sort of ``y`` in the order of ``(x, y)`` (a compiled loop,
``O(n log n)``).
"""

from __future__ import annotations

import numba
import numpy as np

from tfprobe.similarity.ranks import dense_ranks

__all__ = ["PairOrder", "pair_order", "tau_a", "tau_a_matrix"]


@numba.njit(cache=True, nogil=True)
def _weighted_discordance(values: np.ndarray, weights: np.ndarray) -> float:  # pragma: no cover - compiled
    """Sum of ``w_i w_j`` over ``i < j`` with ``values[i] > values[j]`` (a weighted inversion count)."""
    n = values.shape[0]
    keys = values.copy()
    mass = weights.copy()
    keys_buffer = np.empty_like(keys)
    mass_buffer = np.empty_like(mass)
    total = 0.0
    width = 1
    while width < n:
        start = 0
        while start < n:
            middle = min(start + width, n)
            end = min(start + 2 * width, n)
            left_mass = 0.0
            for k in range(start, middle):
                left_mass += mass[k]
            i, j, out = start, middle, start
            while i < middle and j < end:
                if keys[j] < keys[i]:
                    total += mass[j] * left_mass
                    keys_buffer[out] = keys[j]
                    mass_buffer[out] = mass[j]
                    j += 1
                else:
                    left_mass -= mass[i]
                    keys_buffer[out] = keys[i]
                    mass_buffer[out] = mass[i]
                    i += 1
                out += 1
            while i < middle:
                keys_buffer[out] = keys[i]
                mass_buffer[out] = mass[i]
                i += 1
                out += 1
            while j < end:
                keys_buffer[out] = keys[j]
                mass_buffer[out] = mass[j]
                j += 1
                out += 1
            start += 2 * width
        keys, keys_buffer = keys_buffer, keys
        mass, mass_buffer = mass_buffer, mass
        width *= 2
    return total


class PairOrder:
    """What tau-a between two fixed vectors needs whatever the weights: the order of their entries by
    ``(x, y)``, ``y``'s ranks in that order, and the tie groups of ``x``, ``y`` and ``(x, y)``."""

    def __init__(self, x_ranks: np.ndarray, y_ranks: np.ndarray) -> None:
        key = x_ranks * (int(y_ranks.max()) + 1) + y_ranks
        self.order = np.argsort(key, kind="stable")
        self.y_sorted = np.ascontiguousarray(y_ranks[self.order])
        self.x_groups = x_ranks
        self.y_groups = y_ranks
        self.joint_groups = np.unique(key, return_inverse=True)[1].reshape(-1)


def pair_order(x_ranks: np.ndarray, y_ranks: np.ndarray) -> PairOrder:
    """The :class:`PairOrder` of two dense-rank vectors."""
    return PairOrder(x_ranks, y_ranks)


def _tied(groups: np.ndarray, weights: np.ndarray) -> float:
    mass = np.bincount(groups, weights=weights)
    return float(np.sum(mass * (mass - 1.0)) / 2.0)


def tau_a(order: PairOrder, weights: np.ndarray | None = None) -> float:
    """Kendall's tau-a of the two vectors of ``order``, their entries weighted by ``weights`` (default 1 each);
    NaN when fewer than two copies remain."""
    if weights is None:
        weights = np.ones(len(order.order))
    weights = np.asarray(weights, dtype=np.float64)
    total_mass = float(weights.sum())
    total = total_mass * (total_mass - 1.0) / 2.0
    if total <= 0:
        return float("nan")
    discordant = _weighted_discordance(order.y_sorted, np.ascontiguousarray(weights[order.order]))
    difference = (
        total
        - _tied(order.x_groups, weights)
        - _tied(order.y_groups, weights)
        + _tied(order.joint_groups, weights)
        - 2.0 * discordant
    )
    return float(min(1.0, max(-1.0, difference / total)))


def tau_a_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Kendall's tau-a between every row of ``first`` ``(k1, P)`` and every row of ``second`` ``(k2, P)``."""
    x_ranks, y_ranks = dense_ranks(first), dense_ranks(second)
    same = first is second
    result = np.empty((len(first), len(second)))
    for a in range(len(first)):
        for b in range(len(second)):
            if same and b < a:
                result[a, b] = result[b, a]
                continue
            result[a, b] = tau_a(pair_order(x_ranks[a], y_ranks[b]))
    return result
