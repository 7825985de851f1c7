"""Comparing RDMs with inference: the comparison matrix, bootstrap intervals over conditions, a permutation
test and the noise ceiling, equal to rsatoolbox's where rsatoolbox has them.

* Bootstrap (rsatoolbox's ``bootstrap_sample_pattern``): conditions drawn with replacement, pairs of the
  same condition dropped; percentile intervals.  All samples are computed together
  (:mod:`tfprobe.similarity.bootstrap`).
* Permutation test: the conditions of the row RDMs are permuted (the column RDMs kept), ``n_permutations``
  times; the p-value of a similarity is ``(1 + #{null >= observed}) / (1 + n_permutations)``.
* Noise ceiling (rsatoolbox's ``boot_noise_ceiling``): with reference RDMs of several subjects, the lower
  bound is the mean similarity of each subject with the pooled RDM of the others, the upper bound with the
  pooled RDM of all; the pooling depends on the method (rsatoolbox's ``pool_rdm``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfprobe.errors import InvalidValueError
from tfprobe.similarity.bootstrap import bootstrap_similarities, resample_conditions
from tfprobe.similarity.compare import check_method, check_sigma_k, compare_vectors, transform
from tfprobe.similarity.condensed import n_conditions_of, pair_indices, pair_positions
from tfprobe.similarity.kendall import tau_a_matrix
from tfprobe.similarity.ranks import average_ranks
from tfprobe.similarity.rdm import RDMs, check_rdms
from tfprobe.similarity.result import NoiseCeiling, SimilarityMatrix
from tfprobe.validation import is_int, is_real, non_negative_int

__all__ = ["bootstrap_samples", "compare_rdms", "noise_ceiling", "pool_rdms"]

Seed = int | np.random.Generator


def _streams(seed: Seed) -> list[np.random.Generator]:
    """Two independent generators from ``seed``: the bootstrap's and the permutations'."""
    if not (is_int(seed) or isinstance(seed, np.random.Generator)):
        raise InvalidValueError(f"seed must be an int or a numpy Generator, got {seed!r}")
    return np.random.default_rng(seed).spawn(2)


def bootstrap_samples(n_conditions: int, n_bootstrap: int, seed: Seed = 0) -> np.ndarray:
    """The bootstrap samples of conditions :func:`compare_rdms` draws with the same ``seed``: ``(n_bootstrap,
    n_conditions)`` sorted condition indices, drawn with replacement (feed them to rsatoolbox's
    ``subsample_pattern('index', sample)`` to reproduce a sample)."""
    n_bootstrap = non_negative_int(n_bootstrap, "n_bootstrap")
    return resample_conditions(n_conditions, n_bootstrap, _streams(seed)[0])


def _check_complete(rdms: RDMs, what: str) -> None:
    missing = ~np.isfinite(rdms.vectors)
    if missing.any():
        bad = [rdms.names[i] for i in np.flatnonzero(missing.any(axis=1))]
        raise InvalidValueError(f"{what} {', '.join(map(repr, bad[:5]))} hold NaN or infinite dissimilarities")


def _check_pair(rdms: RDMs, other: RDMs) -> None:
    if rdms.n_conditions != other.n_conditions:
        raise InvalidValueError(
            f"RDMs of different conditions cannot be compared: {rdms.n_conditions} conditions "
            f"({rdms.names[0]!r}, ...) and {other.n_conditions} ({other.names[0]!r}, ...)"
        )
    if not np.array_equal(rdms.conditions.astype(str), other.conditions.astype(str)):
        first = int(np.flatnonzero(rdms.conditions.astype(str) != other.conditions.astype(str))[0])
        raise InvalidValueError(
            f"the RDMs' conditions differ (position {first}: {rdms.conditions[first].item()!r} and "
            f"{other.conditions[first].item()!r}); put them in the same order (RDMs.reorder) or give the model RDM "
            "the same condition labels"
        )


def pool_rdms(vectors: np.ndarray, method: str) -> np.ndarray:
    """The RDM vector pooling ``vectors`` (subjects) that fits them best under ``method``
    (rsatoolbox's ``pool_rdm``): normalised means for cosine, z-scored means for correlations, mean ranks for
    rank methods."""
    if method in ("cosine", "cosine_cov"):
        pooled = vectors / np.sqrt(np.mean(vectors**2, axis=1, keepdims=True))
        return pooled.mean(axis=0)
    if method in ("corr", "corr_cov"):
        centred = vectors - vectors.mean(axis=1, keepdims=True)
        pooled = (centred / centred.std(axis=1, keepdims=True)).mean(axis=0)
        return pooled - pooled.min()
    return average_ranks(vectors).mean(axis=0)


def noise_ceiling(references: RDMs, method: str = "corr") -> NoiseCeiling:
    """The noise ceiling of reference RDMs (one per subject), rsatoolbox's ``boot_noise_ceiling``.

    Parameters
    ----------
    references : RDMs
        At least two RDMs of the same conditions (subjects, or repeated measurements).
    method : str
        The comparison method (see :func:`compare_rdms`).

    Returns
    -------
    NoiseCeiling
        ``lower``: the mean similarity of each reference with the pooled RDM of the others; ``upper``: with
        the pooled RDM of all.
    """
    check_rdms(references, "references")
    check_method(method)
    if references.n_rdms < 2:
        raise InvalidValueError(f"a noise ceiling needs at least 2 reference RDMs (subjects), got {references.n_rdms}")
    _check_complete(references, "reference RDMs")
    vectors = references.vectors
    everyone = pool_rdms(vectors, method)[None]
    lower, upper = [], []
    for subject in range(len(vectors)):
        others = pool_rdms(np.delete(vectors, subject, axis=0), method)[None]
        lower.append(compare_vectors(others, vectors[subject : subject + 1], method)[0, 0])
        upper.append(compare_vectors(everyone, vectors[subject : subject + 1], method)[0, 0])
    return NoiseCeiling(float(np.mean(lower)), float(np.mean(upper)))


_noise_ceiling = noise_ceiling  # compare_rdms's argument of the same name hides the function


def _permutation_p_values(
    first: np.ndarray,
    second: np.ndarray | None,
    method: str,
    sigma_k: np.ndarray | None,
    observed: np.ndarray,
    n_permutations: int,
    rng: np.random.Generator,
) -> np.ndarray:
    n = n_conditions_of(first.shape[1])
    rows, columns = pair_indices(n)
    other = first if second is None else second
    equivariant = method != "tau-a" and sigma_k is None
    if equivariant:
        left = transform(first, method)
        right = transform(other, method)
    hits = np.zeros(observed.shape)
    for _ in range(n_permutations):
        order = rng.permutation(n)
        moved = pair_positions(order[rows], order[columns], n)
        if equivariant:
            if left.shape[1] > len(rows):  # whitened vectors: the diagonal follows the conditions
                moved = np.concatenate([moved, len(rows) + order])
            null = left[:, moved] @ right.T
        elif method == "tau-a":
            null = tau_a_matrix(first[:, moved], other)
        else:
            null = compare_vectors(first[:, moved], other, method, sigma_k)
        hits += null >= observed - 1e-12
    return (1.0 + hits) / (1.0 + n_permutations)


def compare_rdms(
    rdms: RDMs,
    other: RDMs | None = None,
    *,
    method: str = "corr",
    sigma_k: np.ndarray | None = None,
    n_bootstrap: int = 0,
    n_permutations: int = 0,
    confidence: float = 0.95,
    seed: Seed = 0,
    noise_ceiling: bool = False,
) -> SimilarityMatrix:
    """Every RDM of ``rdms`` compared with every RDM of ``other`` (or of ``rdms``), equal to
    ``rsatoolbox.rdm.compare``, with optional bootstrap intervals, permutation p-values and noise ceiling.

    Parameters
    ----------
    rdms : RDMs
        The row RDMs (units: layers x time steps).
    other : RDMs, optional
        The column RDMs (reference RDMs: a brain area's subjects, models); default ``rdms`` (every unit
        against every unit).
    method : str
        ``"corr"`` (Pearson, the default), ``"spearman"``, ``"tau-a"`` (Kendall's tau-a), ``"cosine"``,
        ``"corr_cov"`` or ``"cosine_cov"`` (whitened; see :mod:`tfprobe.similarity.compare`).
    sigma_k : ndarray (n_conditions,), optional
        corr_cov / cosine_cov: the variances of the conditions' patterns (default: equal, rsatoolbox's).
    n_bootstrap : int
        Bootstrap samples of the conditions (0: none); gives :attr:`SimilarityMatrix.bootstrap` and ``ci``.
    n_permutations : int
        Permutations of the row RDMs' conditions (0: none); gives ``p_values``.
    confidence : float
        The level of the bootstrap intervals.
    seed : int or numpy Generator
        Seeds the bootstrap and the permutations (the same int, the same samples and intervals).
    noise_ceiling : bool
        Also compute the noise ceiling of ``other`` (its RDMs taken as subjects; at least 2).

    Returns
    -------
    SimilarityMatrix
        ``values[i, j]``: the similarity of ``rdms.names[i]`` and ``other.names[j]``.

    Raises
    ------
    InvalidValueError
        RDMs of different numbers or labels of conditions, incomplete RDMs, an unknown method (the message
        lists the choices), ``sigma_k`` with a bootstrap (its samples change the conditions), bad counts.
    """
    check_rdms(rdms)
    if other is not None:
        check_rdms(other, "other")
        _check_pair(rdms, other)
    check_method(method)
    n_bootstrap = non_negative_int(n_bootstrap, "n_bootstrap")
    n_permutations = non_negative_int(n_permutations, "n_permutations")
    if not (is_real(confidence) and 0.0 < confidence < 1.0):
        raise InvalidValueError(f"confidence must be a number between 0 and 1, got {confidence!r}")
    sigma = check_sigma_k(sigma_k, method, rdms.n_conditions)
    if sigma is not None and n_bootstrap:
        raise InvalidValueError("sigma_k cannot be used with a bootstrap (the samples change the conditions)")
    if noise_ceiling and (other is None or other.n_rdms < 2):
        raise InvalidValueError("noise_ceiling=True needs other= reference RDMs of at least 2 subjects")
    bootstrap_rng, permutation_rng = _streams(seed)
    _check_complete(rdms, "RDMs")
    if other is not None:
        _check_complete(other, "RDMs")
    first, second = rdms.vectors, None if other is None else other.vectors
    values = compare_vectors(first, second, method, sigma)
    bootstrap = None
    if n_bootstrap:
        samples = resample_conditions(rdms.n_conditions, n_bootstrap, bootstrap_rng)
        bootstrap = bootstrap_similarities(first, second, method, samples)
    p_values = None
    if n_permutations:
        p_values = _permutation_p_values(first, second, method, sigma, values, n_permutations, permutation_rng)
    ceiling = _noise_ceiling(other, method) if noise_ceiling else None
    settings: dict[str, Any] = {
        "method": method,
        "n_bootstrap": n_bootstrap,
        "n_permutations": n_permutations,
        "seed": int(seed) if is_int(seed) else "generator",
        "sigma_k": None if sigma is None else "given",
        "metric": rdms.metric,
    }
    return SimilarityMatrix(
        values,
        rdms.names,
        rdms.names if other is None else other.names,
        method,
        rdms.n_conditions,
        bootstrap,
        confidence if n_bootstrap else None,
        p_values,
        ceiling,
        settings,
    )
