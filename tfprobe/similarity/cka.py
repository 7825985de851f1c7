"""Centered kernel alignment (CKA) between units' activations: linear or RBF, biased or debiased.

``CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` for the stimulus-by-stimulus kernels ``K`` and
``L`` of two units (Kornblith et al. 2019), any widths.  The biased HSIC is ``tr(K H L H)`` (``H`` the
centring matrix); the debiased one is the unbiased estimator of Song et al. (2012), as used by Nguyen et
al. (2021): with ``K~`` the kernel with its diagonal set to 0,
``[tr(K~ L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n (n-3))``, which equals the Frobenius
product of the U-centred kernels over ``n (n - 3)``.

Kernels: ``"linear"`` (``K = X X'``) and ``"rbf"`` (``K_ij = exp(-|x_i - x_j|^2 / (2 s^2))``) with the median
heuristic of Kornblith et al.'s reference code: ``s^2 = bandwidth^2 * median(|x_i - x_j|^2)``, the median
taken over all ``n^2`` pairs of stimuli (the zero diagonal included), ``bandwidth`` 1 by default.

Two ways to compute, chosen by ``strategy``:

``"features"`` (linear CKA only)
    One streamed pass over the stimuli accumulating, per pair of units, the feature cross-products
    ``X_u' X_v``, the sums of the features and of the squared norms ``|x_i|^2`` (and their products with
    the features, for the debiased HSIC).  Memory: ``8 * sum over pairs of width_u * width_v`` bytes, flat in
    the number of stimuli; time linear in it.  (Features are shifted by the first chunk's mean, which
    changes neither HSIC, for accuracy.)
``"samples"``
    The ``n x n`` kernel of each unit, one unit read at a time, centred (or U-centred) and kept.  Memory:
    ``8 * n_units * n^2`` bytes, flat in the widths.  RBF CKA always works this way.

``"auto"`` (the default) takes the features way for linear CKA when it needs less memory than the
samples way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from tfprobe.errors import InvalidValueError
from tfprobe.similarity.distances import gram
from tfprobe.similarity.result import SimilarityMatrix
from tfprobe.similarity.sources import PatternSource, open_source
from tfprobe.validation import is_real, positive_int

__all__ = ["KERNELS", "STRATEGIES", "cka", "cka_matrix", "kernel_matrix"]

KERNELS = ("linear", "rbf")
STRATEGIES = ("auto", "features", "samples")


def _check_options(kernel: str, debiased: bool, bandwidth: float, strategy: str = "auto") -> None:
    if kernel not in KERNELS:
        raise InvalidValueError(f"unknown CKA kernel {kernel!r}; the choices are {', '.join(KERNELS)}")
    if strategy not in STRATEGIES:
        raise InvalidValueError(f"unknown CKA strategy {strategy!r}; the choices are {', '.join(STRATEGIES)}")
    if kernel == "rbf" and strategy == "features":
        raise InvalidValueError("RBF CKA needs the stimulus-by-stimulus kernels: use strategy='samples' or 'auto'")
    if not (is_real(bandwidth) and bandwidth > 0):
        raise InvalidValueError(
            f"bandwidth must be a positive number (a multiple of the median distance), got {bandwidth!r}"
        )


def _measure(kernel: str, debiased: bool) -> str:
    return f"{'debiased ' if debiased else ''}{'linear' if kernel == 'linear' else 'RBF'} CKA"


def _check_rows(patterns: np.ndarray, name: str, first_row: int = 0) -> None:
    finite = np.isfinite(patterns).all(axis=1)
    if not finite.all():
        raise InvalidValueError(
            f"unit {name!r} has NaN or infinite activations, first for stimulus {first_row + int(np.argmin(finite))}"
        )


def _check_count(n: int, debiased: bool) -> None:
    fewest = 4 if debiased else 2
    if n < fewest:
        raise InvalidValueError(f"{'debiased ' if debiased else ''}CKA needs at least {fewest} stimuli, got {n}")


# ---------------------------------------------------------------------- the samples way


def kernel_matrix(patterns: np.ndarray, kernel: str = "linear", bandwidth: float = 1.0) -> np.ndarray:
    """The ``(n, n)`` float64 kernel of one unit's patterns ``(n, features)`` (see the module documentation).

    Raises
    ------
    InvalidValueError
        RBF of patterns that are all equal (no median distance).
    """
    linear = gram(patterns, column_means=patterns.mean(axis=0, dtype=np.float64))
    if kernel == "linear":
        return linear
    diagonal = np.diag(linear)
    squared = np.maximum(diagonal[:, None] + diagonal[None, :] - 2.0 * linear, 0.0)
    median = float(np.median(squared))
    if median <= 0:
        raise InvalidValueError("RBF CKA: the median squared distance between stimuli is 0 (most patterns are equal)")
    return np.exp(-squared / (2.0 * bandwidth**2 * median))


def _centre(kernel: np.ndarray, debiased: bool) -> np.ndarray:
    """``H K H`` (biased) or the U-centred kernel (debiased, zero diagonal)."""
    n = kernel.shape[0]
    if not debiased:
        rows = kernel.mean(axis=1)
        return kernel - rows[:, None] - rows[None, :] + rows.mean()
    kernel = kernel.copy()
    np.fill_diagonal(kernel, 0.0)
    sums = kernel.sum(axis=1)
    centred = kernel - sums[:, None] / (n - 2) - sums[None, :] / (n - 2) + sums.sum() / ((n - 1) * (n - 2))
    np.fill_diagonal(centred, 0.0)
    return centred


def _alignment(cross: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``cross[i, j] / sqrt(left[i] right[j])``, NaN where an HSIC of a unit with itself is not positive."""
    scale = np.sqrt(np.outer(np.maximum(left, 0.0), np.maximum(right, 0.0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, cross / scale, np.nan)


def _samples_way(sources: list[PatternSource], kernel: str, debiased: bool, bandwidth: float) -> tuple[np.ndarray, int]:
    kernels = []
    counts = set()
    for source in sources:
        for name, patterns in source.units():
            _check_rows(patterns, name)
            _check_count(patterns.shape[0], debiased)
            counts.add(patterns.shape[0])
            if len(counts) > 1:
                raise InvalidValueError(f"the units hold different numbers of stimuli ({sorted(counts)})")
            kernels.append(_centre(kernel_matrix(patterns, kernel, bandwidth), debiased).ravel())
    stacked = np.stack(kernels)
    return stacked @ stacked.T, counts.pop()


# ---------------------------------------------------------------------- the features way


class _FeatureMoments:
    """Streamed statistics of units' features for linear HSICs between chosen pairs of units."""

    def __init__(self, names: list[str], pairs: list[tuple[int, int]]) -> None:
        self.names = names
        self.pairs = pairs
        self.n = 0
        self.shift: list[np.ndarray] | None = None
        self.cross: dict[tuple[int, int], np.ndarray] = {}
        self.sums: list[np.ndarray] = []
        self.norm_sums = np.zeros(len(names))
        self.norm_products = np.zeros((len(names), len(names)))
        self.weighted: dict[tuple[int, int], np.ndarray] = {}  # (u, v): sum_i |x_v,i|^2 x_u,i

    def update(self, blocks: list[np.ndarray]) -> None:
        """Add the next chunk of stimuli: one ``(rows, width)`` block per unit, in the order of ``names``."""
        blocks = [block.astype(np.float64) for block in blocks]
        if self.shift is None:
            self.shift = [block.mean(axis=0) for block in blocks]
            self.sums = [np.zeros(block.shape[1]) for block in blocks]
        blocks = [block - shift for block, shift in zip(blocks, self.shift, strict=True)]
        norms = np.stack([np.einsum("ij,ij->i", block, block) for block in blocks], axis=1)
        self.n += norms.shape[0]
        self.norm_sums += norms.sum(axis=0)
        self.norm_products += norms.T @ norms
        for u, block in enumerate(blocks):
            self.sums[u] += block.sum(axis=0)
        for u, v in self.pairs:
            product = blocks[u].T @ blocks[v]
            self.cross[u, v] = self.cross[u, v] + product if (u, v) in self.cross else product
            for a, b in {(u, v), (v, u)}:
                weighted = norms[:, b] @ blocks[a]
                self.weighted[a, b] = self.weighted[a, b] + weighted if (a, b) in self.weighted else weighted

    def hsic(self, u: int, v: int, debiased: bool) -> float:
        """The HSIC of units ``u`` and ``v`` (any positive scale common to all pairs)."""
        n = self.n
        cross = self.cross[u, v] if (u, v) in self.cross else self.cross[v, u].T
        if not debiased:
            centred = cross - np.outer(self.sums[u], self.sums[v]) / n
            return float(np.sum(centred * centred)) / (n - 1) ** 2
        sums_u, sums_v = self.sums[u], self.sums[v]
        both = self.norm_products[u, v]
        trace = float(np.sum(cross * cross)) - both
        total_u = float(sums_u @ sums_u) - self.norm_sums[u]
        total_v = float(sums_v @ sums_v) - self.norm_sums[v]
        chained = (
            float(sums_u @ cross @ sums_v)
            - float(sums_u @ self.weighted[u, v])
            - float(sums_v @ self.weighted[v, u])
            + both
        )
        return (trace + total_u * total_v / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * chained) / (n * (n - 3))


def _aligned(streams: list[Iterator[dict[str, np.ndarray]]]) -> Iterator[list[dict[str, np.ndarray]]]:
    """Chunks of several sources over the same stimuli, cut to equal lengths."""
    pending: list[dict[str, np.ndarray] | None] = [None] * len(streams)
    while True:
        for i, stream in enumerate(streams):
            if pending[i] is None or len(next(iter(pending[i].values()))) == 0:
                pending[i] = next(stream, None)
        if any(chunk is None for chunk in pending):
            if not all(chunk is None for chunk in pending):
                raise InvalidValueError("the two sources hold different numbers of stimuli")
            return
        size = min(len(next(iter(chunk.values()))) for chunk in pending)
        yield [{k: v[:size] for k, v in chunk.items()} for chunk in pending]
        pending = [{k: v[size:] for k, v in chunk.items()} for chunk in pending]


def _features_way(
    sources: list[PatternSource], pairs: list[tuple[int, int]], debiased: bool, batch_size: int
) -> tuple[_FeatureMoments, int]:
    names = [name for source in sources for name in source.names]
    moments = _FeatureMoments(names, pairs)
    for chunks in _aligned([source.chunks(batch_size) for source in sources]):
        blocks = [chunk[name] for chunk, source in zip(chunks, sources, strict=True) for name in source.names]
        for name, block in zip(names, blocks, strict=True):
            _check_rows(block, name, moments.n)
        moments.update(blocks)
    _check_count(moments.n, debiased)
    return moments, moments.n


# ---------------------------------------------------------------------- entry points


def _features_memory(widths: list[int], pairs: list[tuple[int, int]]) -> float:
    return 8.0 * sum(widths[u] * widths[v] for u, v in pairs)


def _strategy(strategy: str, kernel: str, widths: list[int | None], n: int | None, pairs: list[tuple[int, int]]) -> str:
    if strategy != "auto":
        return strategy
    if kernel == "rbf":
        return "samples"
    if n is None or any(width is None for width in widths):
        return "features"
    return "features" if _features_memory(widths, pairs) <= 8.0 * len(widths) * n * n else "samples"


def cka(
    x: np.ndarray, y: np.ndarray, *, kernel: str = "linear", debiased: bool = False, bandwidth: float = 1.0
) -> float:
    """CKA between two units' activations over the same stimuli (Kornblith et al. 2019).

    Parameters
    ----------
    x, y : ndarray (n_stimuli, ...)
        Activations, one row per stimulus (flattened to features; the widths may differ).
    kernel : {"linear", "rbf"}
    debiased : bool
        Use the unbiased HSIC estimator (Song et al. 2012; Nguyen et al. 2021).
    bandwidth : float
        RBF: the kernel width as a multiple of the median distance (see the module documentation).

    Returns
    -------
    float
        In [0, 1] for the biased estimator (the debiased one can dip below 0); NaN when a unit is constant.
    """
    _check_options(kernel, debiased, bandwidth)
    return float(cka_matrix({"x": x}, {"y": y}, kernel=kernel, debiased=debiased, bandwidth=bandwidth).values[0, 0])


def cka_matrix(
    source: Any,
    other: Any = None,
    *,
    units: str | Sequence[str] | None = None,
    other_units: str | Sequence[str] | None = None,
    kernel: str = "linear",
    debiased: bool = False,
    bandwidth: float = 1.0,
    strategy: str = "auto",
    batch_size: int = 1024,
    stimuli: Any = None,
    other_stimuli: Any = None,
    pool: Any = None,
    progress: bool = False,
) -> SimilarityMatrix:
    """CKA between every pair of units of one network (``other`` None), or between the units of two networks.

    Parameters
    ----------
    source : mapping, ndarray, ActivationFile, path or Probe
        The activations (see :func:`tfprobe.similarity.sources.open_source`).
    other : same kinds, optional
        A second network's activations of the same stimuli in the same order: the result is the
        cross-network matrix (rows: ``source``'s units, columns: ``other``'s).
    units, other_units : str or sequence of str, optional
        The units of each (default: all of an array source or file).  Missing ones are refused before any work.
    kernel : {"linear", "rbf"}
    debiased : bool
        Use the unbiased HSIC.
    bandwidth : float
        RBF: the kernel width as a multiple of the median distance.
    strategy : {"auto", "features", "samples"}
        How to compute (see the module documentation): streamed feature cross-products (linear only, memory
        flat in the number of stimuli) or one ``n x n`` kernel per unit.
    batch_size : int
        Stimuli per chunk of the streamed pass.
    stimuli, other_stimuli, pool, progress
        For Probe sources: the stimuli of each, pooling and a progress bar.

    Returns
    -------
    SimilarityMatrix
        ``values[i, j]``: the CKA of row unit ``i`` and column unit ``j``; NaN for a unit whose activations
        are constant.

    Raises
    ------
    InvalidValueError
        An unknown kernel or strategy (the choices are listed), sources of different stimuli, NaN activations,
        too few stimuli (2; 4 debiased).
    InvalidKeyError
        Units missing from a source (listed).
    """
    _check_options(kernel, debiased, bandwidth, strategy)
    batch_size = positive_int(batch_size, "batch_size")
    first = open_source(source, units, stimuli=stimuli, pool=pool, progress=progress)
    sources = [first]
    if other is not None:
        second = open_source(other, other_units, stimuli=other_stimuli, pool=pool, progress=progress)
        if first.n_stimuli is not None and second.n_stimuli is not None and first.n_stimuli != second.n_stimuli:
            raise InvalidValueError(
                f"the two sources hold different numbers of stimuli ({first.n_stimuli} and {second.n_stimuli}); "
                "CKA compares activations of the same stimuli"
            )
        if (
            first.ids is not None
            and second.ids is not None
            and not np.array_equal(first.ids.astype(str), second.ids.astype(str))
        ):
            raise InvalidValueError(
                "the two activation files hold different stimulus ids (or orders); CKA needs the same"
            )
        sources.append(second)
    k1 = len(first.names)
    k = sum(len(s.names) for s in sources)
    if other is None:
        pairs = [(u, v) for u in range(k1) for v in range(u, k1)]
    else:
        pairs = [(u, u) for u in range(k)] + [(u, v) for u in range(k1) for v in range(k1, k)]
    widths = [width for s in sources for width in s.widths()]
    chosen = _strategy(strategy, kernel, widths, first.n_stimuli, pairs)
    if chosen == "features":
        moments, n = _features_way(sources, pairs, debiased, batch_size)
        own = np.array([moments.hsic(u, u, debiased) for u in range(k)])
        cross = np.empty((k1, k - k1 if other is not None else k1))
        for u, v in pairs:
            if other is None:
                cross[u, v] = cross[v, u] = moments.hsic(u, v, debiased)
            elif u != v:
                cross[u, v - k1] = moments.hsic(u, v, debiased)
    else:
        products, n = _samples_way(sources, kernel, debiased, bandwidth)
        own = np.diag(products).copy()
        cross = products[:k1, :k1] if other is None else products[:k1, k1:]
    columns = own[:k1] if other is None else own[k1:]
    values = _alignment(cross, own[:k1], columns)
    names = tuple(first.names)
    return SimilarityMatrix(
        values,
        names,
        names if other is None else tuple(sources[1].names),
        _measure(kernel, debiased),
        n,
        settings={
            "kernel": kernel,
            "debiased": bool(debiased),
            "bandwidth": float(bandwidth),
            "strategy": chosen,
            "batch_size": batch_size,
            "sources": [s.describe() for s in sources],
        },
    )
