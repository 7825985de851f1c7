"""Representational similarity: RDMs, their comparison (RSA) and centered kernel alignment (CKA).

* :func:`calc_rdm` computes the RDM of every unit of a source (arrays, an activation file, a Probe and
  stimuli) over the same conditions, with rsatoolbox's distances (correlation, squared Euclidean,
  Mahalanobis, crossnobis) and cosine / plain Euclidean, into one :class:`RDMs` (save / load as HDF5,
  ``to_rsatoolbox`` / ``from_rsatoolbox``).
* :func:`compare_rdms` compares every RDM with every other (or with reference RDMs) as
  ``rsatoolbox.rdm.compare`` does (Spearman, Pearson, Kendall's tau-a, cosine, whitened Pearson and cosine),
  in one vectorised call, with bootstrap intervals over conditions, a permutation test and the noise
  ceiling, into a labelled :class:`SimilarityMatrix`.
* :func:`cka` and :func:`cka_matrix` give linear or RBF, biased or debiased CKA between units of one or two
  networks, streamed over the stimuli of an activation file.

rsatoolbox is not needed (only to convert to and from its RDMs).
"""

from __future__ import annotations

from tfprobe.similarity.calc import calc_rdm, categorical_rdm, concat_rdms
from tfprobe.similarity.cka import KERNELS, cka, cka_matrix, kernel_matrix
from tfprobe.similarity.compare import METHODS, compare_vectors
from tfprobe.similarity.distances import METRICS
from tfprobe.similarity.inference import bootstrap_samples, compare_rdms, noise_ceiling, pool_rdms
from tfprobe.similarity.mds import classical_mds
from tfprobe.similarity.noise import NOISE_ESTIMATORS, noise_covariance, noise_precision
from tfprobe.similarity.rdm import RDMs, load_rdms
from tfprobe.similarity.result import NoiseCeiling, SimilarityMatrix
from tfprobe.similarity.sources import PatternSource, open_source

__all__ = [
    "KERNELS",
    "METHODS",
    "METRICS",
    "NOISE_ESTIMATORS",
    "NoiseCeiling",
    "PatternSource",
    "RDMs",
    "SimilarityMatrix",
    "bootstrap_samples",
    "calc_rdm",
    "categorical_rdm",
    "cka",
    "cka_matrix",
    "classical_mds",
    "compare_rdms",
    "compare_vectors",
    "concat_rdms",
    "kernel_matrix",
    "load_rdms",
    "noise_ceiling",
    "noise_covariance",
    "noise_precision",
    "open_source",
    "pool_rdms",
]
