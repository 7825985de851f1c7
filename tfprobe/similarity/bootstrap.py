"""Comparisons of RDMs on bootstrap samples of their conditions, all samples at once.

A bootstrap sample draws ``n`` conditions with replacement; the sampled RDMs (rsatoolbox's
``bootstrap_sample_pattern`` + ``subsample_pattern``) hold every pair of drawn conditions except pairs of
the same condition, which are dropped.  So a sample with ``c_u`` copies of condition ``u`` is the original
vector with the pair ``(u, v)`` repeated ``c_u c_v`` times: each comparison is a weighted one, with weights
``w_uv = c_u c_v``, and is computed from the counts without building the sampled RDMs:

* ``corr`` / ``cosine``: weighted sums ``sum w``, ``sum w x``, ``sum w x y`` for every pair of RDMs and every
  sample, as matrix products of the weights of a block of pairs (samples x pairs) with the vectors and
  their products in that block;
* ``spearman``: weighted average ranks (a compiled pass per RDM and sample), then the weighted Pearson;
* ``corr_cov`` / ``cosine_cov``: the double centring of a sampled RDM with its missing pairs (rsatoolbox's
  least-squares projection) reduces to a diagonal-plus-rank-one system per sample (solved in closed form),
  and the whitened inner products to the weighted sums above plus sums over conditions;
* ``tau-a``: the weighted merge sort of :mod:`tfprobe.similarity.kendall` per pair of RDMs and sample.

Samples with fewer than 3 distinct conditions give NaN (as rsatoolbox's ``eval_bootstrap_pattern``).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from tfprobe.similarity.condensed import n_conditions_of, pair_indices
from tfprobe.similarity.conditions import MIN_CONDITIONS
from tfprobe.similarity.kendall import pair_order, tau_a
from tfprobe.similarity.ranks import dense_ranks

__all__ = ["bootstrap_similarities", "counts_of", "resample_conditions"]

#: Samples handled together (bounds the memory of the per-sample sums).
_CHUNK = 256
#: Condition pairs per block of the weighted sums (a (samples, block) float64 weight matrix: 32 MB).
_PAIR_BLOCK = 16384


def resample_conditions(n_conditions: int, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """``n_bootstrap`` samples of ``n_conditions`` condition indices drawn with replacement, each sorted,
    ``(n_bootstrap, n_conditions)`` int64."""
    return np.sort(rng.integers(0, n_conditions, size=(n_bootstrap, n_conditions)), axis=1)


def counts_of(samples: np.ndarray, n_conditions: int) -> np.ndarray:
    """How often each condition is drawn in each sample, ``(n_samples, n_conditions)`` float64."""
    offsets = samples + n_conditions * np.arange(len(samples))[:, None]
    return np.bincount(offsets.ravel(), minlength=n_conditions * len(samples)).reshape(len(samples), -1).astype(float)


# ---------------------------------------------------------------------- weighted moments


def _moments(vectors: np.ndarray, products: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, ...]:
    """Weighted sums over condition pairs with weights ``c_u c_v``: ``S0`` (B,), ``S1`` (B, m) of each
    vector and ``S2`` (B, p) of each product ``vectors[a] * vectors[b]`` for ``(a, b)`` in ``products``.

    The pairs are taken in blocks: the block's weights ``(B, block)`` times the block's vectors and products
    ``(block, m + p)``, one matrix product per block (few, large products keep a shared machine's BLAS
    threads busy)."""
    samples, n = counts.shape
    rows, columns = pair_indices(n)
    first, second = products[:, 0], products[:, 1]
    sums = np.zeros((samples, len(vectors) + len(products)))
    for start in range(0, len(rows), _PAIR_BLOCK):
        block = slice(start, start + _PAIR_BLOCK)
        weights = counts[:, rows[block]] * counts[:, columns[block]]
        part = vectors[:, block]
        sums += weights @ np.concatenate([part, part[first] * part[second]]).T
    total = (n**2 - np.sum(counts**2, axis=1)) / 2.0  # sum over u < v of c_u c_v (sum c = n)
    return total, sums[:, : len(vectors)], sums[:, len(vectors) :]


def _pairs(k1: int, k2: int, same: bool) -> tuple[np.ndarray, np.ndarray]:
    """Products needed: the cross pairs (row a of the first set, row b of the second) and the squares,
    as indices into the stacked vectors; and where each cross pair sits among the products."""
    if same:
        a, b = np.triu_indices(k1)
        products = np.stack([a, b], axis=1)
        return products, products
    cross = np.stack(np.meshgrid(np.arange(k1), k1 + np.arange(k2), indexing="ij"), axis=-1).reshape(-1, 2)
    squares = np.repeat(np.arange(k1 + k2)[:, None], 2, axis=1)
    return np.concatenate([cross, squares]), cross


def _assemble(values: np.ndarray, k1: int, k2: int, same: bool) -> np.ndarray:
    """Per-sample matrices ``(B, k1, k2)`` from the per-sample values of the cross pairs."""
    if same:
        a, b = np.triu_indices(k1)
        matrix = np.empty((len(values), k1, k1))
        matrix[:, a, b] = values
        matrix[:, b, a] = values
        return matrix
    return values.reshape(len(values), k1, k2)


def _square_index(products: np.ndarray) -> dict[int, int]:
    return {int(a): p for p, (a, b) in enumerate(products) if a == b}


def _moment_similarity(
    stacked: np.ndarray, counts: np.ndarray, k1: int, k2: int, same: bool, centred: bool
) -> np.ndarray:
    products, cross = _pairs(k1, k2, same)
    total, first, second = _moments(stacked, products, counts)
    squares = _square_index(products)
    square = np.stack([second[:, squares[i]] for i in range(len(stacked))], axis=1)  # (B, m)
    a, b = cross[:, 0], cross[:, 1]
    cross_values = second[:, : len(cross)]
    if centred:
        means = first / total[:, None]
        variance = square / total[:, None] - means**2
        covariance = cross_values / total[:, None] - means[:, a] * means[:, b]
        norm = np.sqrt(np.maximum(variance[:, a] * variance[:, b], 0.0))
    else:
        covariance = cross_values
        norm = np.sqrt(square[:, a] * square[:, b])
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(norm > 0, covariance / norm, 0.0)
    return _assemble(values, k1, k2, same)


# ---------------------------------------------------------------------- spearman


@numba.njit(cache=True, nogil=True)
def _centred_ranks(
    rows: np.ndarray,
    columns: np.ndarray,
    positions: np.ndarray,
    groups: np.ndarray,
    counts: np.ndarray,
    mean_rank: float,
    ranks: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Average ranks (ties averaged) of each vector's entries, each entry repeated ``c_row c_column`` times,
    minus their weighted mean ``mean_rank`` (half-integers: exact in float32 below 2^22).  Per vector, its
    entries in ascending order: ``rows`` / ``columns`` their conditions, ``positions`` their places in the
    vector, ``groups`` their tie groups (non-decreasing)."""
    for vector in range(rows.shape[0]):
        size = rows.shape[1]
        below = 0.0
        start = 0
        while start < size:
            group = groups[vector, start]
            stop = start
            mass = 0.0
            while stop < size and groups[vector, stop] == group:
                mass += counts[rows[vector, stop]] * counts[columns[vector, stop]]
                stop += 1
            rank = below + (mass + 1.0) / 2.0 - mean_rank
            for entry in range(start, stop):
                ranks[vector, positions[vector, entry]] = rank
            below += mass
            start = stop


@numba.njit(cache=True, nogil=True, fastmath=True)
def _weighted_products(
    ranks: np.ndarray, rows: np.ndarray, columns: np.ndarray, counts: np.ndarray, k1: int, same: bool, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """``out[a, b] = sum_p w_p r_a,p r_b,p`` with ``w_p = c_row c_column`` of pair ``p``: every pair of the first
    ``k1`` vectors (``same``), or the first ``k1`` against the others plus each vector with itself on the
    diagonal of ``out`` ((k, k) either way)."""
    size = ranks.shape[1]
    count = ranks.shape[0]
    out[:, :] = 0.0
    weights = np.empty(512)
    for start in range(0, size, 512):
        stop = min(start + 512, size)
        for entry in range(start, stop):
            weights[entry - start] = counts[rows[entry]] * counts[columns[entry]]
        for a in range(count):
            first = a if same or a >= k1 else k1
            for b in range(first, count):
                if not same and a >= k1 and b != a:
                    continue
                total = 0.0
                for entry in range(start, stop):
                    total += weights[entry - start] * ranks[a, entry] * ranks[b, entry]
                out[a, b] += total
            if not same and a < k1:
                total = 0.0
                for entry in range(start, stop):
                    total += weights[entry - start] * ranks[a, entry] * ranks[a, entry]
                out[a, a] += total


def _workers() -> int:
    """Threads for the compiled per-sample loops: the cores this process may use (at most 8), or fewer when
    ``OMP_NUM_THREADS`` says so (the limit numeric libraries share; benchmarks set it for every pool)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if limit.isdigit() and int(limit) > 0:
        cores = min(cores, int(limit))
    return max(1, min(cores, 8))


def _spearman(stacked: np.ndarray, counts: np.ndarray, k1: int, k2: int, same: bool) -> np.ndarray:
    n = counts.shape[1]
    rows, columns = pair_indices(n)
    orders = np.argsort(stacked, axis=1, kind="stable")
    ascending = np.take_along_axis(stacked, orders, axis=1)
    steps = np.concatenate([np.zeros((len(stacked), 1), bool), ascending[:, 1:] != ascending[:, :-1]], axis=1)
    groups = np.ascontiguousarray(np.cumsum(steps, axis=1, dtype=np.int32))  # tie groups in ascending order
    sorted_rows = np.ascontiguousarray(rows[orders].astype(np.int32))
    sorted_columns = np.ascontiguousarray(columns[orders].astype(np.int32))
    positions = np.ascontiguousarray(orders.astype(np.int32))
    rows, columns = rows.astype(np.int32), columns.astype(np.int32)
    exact = np.float32 if n * n < 1 << 22 else np.float64  # centred half-integer ranks up to n^2 / 4
    buffers = threading.local()

    def one(count: np.ndarray) -> np.ndarray:
        # compiled loops without the GIL and without BLAS: samples run in parallel threads, none waiting on
        # another library's thread pool on a busy machine
        if not hasattr(buffers, "ranks"):
            buffers.ranks = np.empty(stacked.shape, dtype=exact)
        ranks = buffers.ranks
        total = (n**2 - float(np.sum(count**2))) / 2.0  # the summed weights
        _centred_ranks(sorted_rows, sorted_columns, positions, groups, count, (total + 1.0) / 2.0, ranks)
        moments = np.empty((len(stacked), len(stacked)))
        _weighted_products(ranks, rows, columns, count, k1, same, moments)
        scale = np.sqrt(np.diag(moments))
        with np.errstate(invalid="ignore", divide="ignore"):
            if same:
                upper = moments / np.outer(scale, scale)
                return np.triu(upper) + np.triu(upper, 1).T
            return moments[:k1, k1:] / np.outer(scale[:k1], scale[k1:])

    with ThreadPoolExecutor(_workers()) as pool:
        result = np.stack(list(pool.map(one, counts)))
    return np.nan_to_num(result, nan=0.0)


# ---------------------------------------------------------------------- whitened (cov) methods


def _full(vector: np.ndarray, n: int) -> np.ndarray:
    rows, columns = pair_indices(n)
    matrix = np.zeros((n, n))
    matrix[rows, columns] = vector
    matrix[columns, rows] = vector
    return matrix


def _solve_centring(half_sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The row effects ``beta`` (B, n) of the least-squares double centring of sampled RDMs with missing
    pairs: ``(n/2 + 1 - c_u) beta_u + 1/2 sum_v c_v beta_v = h_u`` for every sample (Sherman-Morrison)."""
    n = counts.shape[1]
    diagonal = n / 2.0 + 1.0 - counts
    beta = np.empty_like(half_sums)
    regular = np.all(np.abs(diagonal) > 1e-9, axis=1)
    if regular.any():
        d, c, h = diagonal[regular], counts[regular], half_sums[regular]
        scaled, inverse = h / d, 1.0 / d
        factor = 0.5 * np.sum(c * scaled, axis=1) / (1.0 + 0.5 * np.sum(c * inverse, axis=1))
        beta[regular] = scaled - inverse * factor[:, None]
    for sample in np.flatnonzero(~regular):  # a condition drawn n/2 + 1 times: solve the present ones directly
        present = counts[sample] > 0
        c = counts[sample, present]
        system = np.diag(diagonal[sample, present]) + 0.5 * np.outer(np.ones(len(c)), c)
        beta[sample] = 0.0
        beta[sample, present] = np.linalg.solve(system, half_sums[sample, present])
    return beta


def _whitened(stacked: np.ndarray, counts: np.ndarray, k1: int, k2: int, same: bool, centred: bool) -> np.ndarray:
    n = counts.shape[1]
    products, cross = _pairs(k1, k2, same)
    total, first, second = _moments(stacked, products, counts)
    means = first / total[:, None] if centred else np.zeros_like(first)
    index = {(int(a), int(b)): p for p, (a, b) in enumerate(products)}
    remaining = n - counts  # sum over v != u of c_v
    betas, halves = [], []
    for vector in range(len(stacked)):
        sums = (_full(stacked[vector], n) @ counts.T).T  # (B, n): sum_v c_v d_uv
        half = -0.5 * (sums - means[:, vector : vector + 1] * remaining)  # sum_v c_v y_uv of the centred -d/2
        halves.append(half)
        betas.append(_solve_centring(half, counts))

    def inner(a: int, b: int) -> np.ndarray:
        key = (a, b) if (a, b) in index else (b, a)
        products_ab = second[:, index[key]]
        mean_a, mean_b = means[:, a], means[:, b]
        pair_sum = 0.25 * (products_ab - mean_b * first[:, a] - mean_a * first[:, b] + mean_a * mean_b * total)
        beta_a, beta_b = betas[a], betas[b]
        linear = np.sum(counts * beta_b * halves[a], axis=1) + np.sum(counts * beta_a * halves[b], axis=1)
        quadratic = (
            np.sum(counts * beta_a * beta_b * remaining, axis=1)
            + np.sum(counts * beta_a, axis=1) * np.sum(counts * beta_b, axis=1)
            - np.sum(counts**2 * beta_a * beta_b, axis=1)
        )
        off = pair_sum - 0.5 * linear + 0.25 * quadratic
        return 2.0 * off + np.sum(counts * beta_a * beta_b, axis=1)

    norms = np.sqrt(np.stack([inner(v, v) for v in range(len(stacked))], axis=1))
    values = np.stack([inner(int(a), int(b)) for a, b in cross], axis=1)
    scale = norms[:, cross[:, 0]] * norms[:, cross[:, 1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(scale > 0, values / scale, 0.0)
    return _assemble(values, k1, k2, same)


# ---------------------------------------------------------------------- tau-a


def _tau(stacked: np.ndarray, counts: np.ndarray, k1: int, k2: int, same: bool) -> np.ndarray:
    n = counts.shape[1]
    rows, columns = pair_indices(n)
    ranks = dense_ranks(stacked)
    pairs = [(a, b) for a in range(k1) for b in range(k2) if not (same and b < a)]
    orders = {(a, b): pair_order(ranks[a], ranks[b if same else k1 + b]) for a, b in pairs}

    def one(count: np.ndarray) -> np.ndarray:  # the merge sorts release the GIL: samples run in parallel
        weights = count[rows] * count[columns]
        values = np.empty((k1, k2))
        for a, b in pairs:
            values[a, b] = tau_a(orders[a, b], weights)
            if same:
                values[b, a] = values[a, b]
        return values

    with ThreadPoolExecutor(_workers()) as pool:
        return np.stack(list(pool.map(one, counts)))


# ---------------------------------------------------------------------- entry point


def bootstrap_similarities(
    first: np.ndarray, second: np.ndarray | None, method: str, samples: np.ndarray
) -> np.ndarray:
    """The comparison matrix of ``first`` (k1, n_pairs) against ``second`` (k2, n_pairs; None: ``first``
    itself) on every bootstrap sample of conditions, ``(n_samples, k1, k2)``.

    Equal to rsatoolbox's ``compare`` of the RDMs subsampled by ``subsample_pattern('index', sample)``; NaN
    for samples with fewer than 3 distinct conditions.
    """
    n = n_conditions_of(first.shape[1])
    same = second is None
    k1, k2 = len(first), len(first) if same else len(second)
    stacked = first if same else np.concatenate([first, second])
    if method in ("corr", "corr_cov"):  # shift- and scale-free: standardise for accuracy
        stacked = stacked - stacked.mean(axis=1, keepdims=True)
    scale = np.sqrt(np.mean(stacked**2, axis=1, keepdims=True))
    stacked = np.ascontiguousarray(stacked / np.where(scale > 0, scale, 1.0))
    result = np.full((len(samples), k1, k2), np.nan)
    counts_all = counts_of(samples, n)
    valid = np.flatnonzero(np.count_nonzero(counts_all, axis=1) >= MIN_CONDITIONS)
    for start in range(0, len(valid), _CHUNK):
        chosen = valid[start : start + _CHUNK]
        counts = counts_all[chosen]
        if method in ("corr", "cosine"):
            result[chosen] = _moment_similarity(stacked, counts, k1, k2, same, centred=method == "corr")
        elif method == "spearman":
            result[chosen] = _spearman(stacked, counts, k1, k2, same)
        elif method in ("corr_cov", "cosine_cov"):
            result[chosen] = _whitened(stacked, counts, k1, k2, same, centred=method == "corr_cov")
        else:
            result[chosen] = _tau(stacked, counts, k1, k2, same)
    return result
