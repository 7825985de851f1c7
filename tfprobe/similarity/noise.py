"""Noise precision matrices for the Mahalanobis and crossnobis distances, estimated from repeated measurements.

The residuals are the measurements minus their condition's mean, with ``n_rows - n_conditions`` degrees of
freedom (rsatoolbox's ``prec_from_unbalanced``).  The covariance estimators are rsatoolbox's:

* ``"full"``: the sample covariance ``R^T R / dof``;
* ``"diag"``: its diagonal (a univariate noise normaliser);
* ``"shrinkage_eye"``: shrunk towards a multiple of the identity (Ledoit & Wolf 2004);
* ``"shrinkage_diag"``: shrunk towards its diagonal (Schäfer & Strimmer 2005), rsatoolbox's default.

The precision is the inverse of the covariance.
"""

from __future__ import annotations

import numpy as np

from tfprobe.errors import InvalidValueError
from tfprobe.similarity.conditions import Design, average_rows

__all__ = ["NOISE_ESTIMATORS", "noise_covariance", "noise_precision"]

NOISE_ESTIMATORS = ("shrinkage_diag", "shrinkage_eye", "diag", "full")


def _shrink_to_eye(residuals: np.ndarray, dof: int) -> np.ndarray:
    rows, features = residuals.shape
    sample = residuals.T @ residuals / rows
    squares = residuals**2
    spread = np.sum(squares.T @ squares / rows - sample * sample) / rows
    scale = np.trace(sample) / features
    distance = np.sum((sample - scale * np.eye(features)) ** 2)
    spread = min(distance, spread)
    shrunk = spread / distance * scale * np.eye(features) + (distance - spread) / distance * sample
    return shrunk * rows / dof


def _shrink_to_diagonal(residuals: np.ndarray, dof: int) -> np.ndarray:
    rows, features = residuals.shape
    products = residuals.T @ residuals
    squares = residuals**2
    sample = products / dof
    variance = np.diag(sample)
    deviation = np.sqrt(variance)
    correlation = products / np.outer(deviation, deviation) / (rows - 1)
    correlation_squares = squares.T @ squares / np.outer(variance, variance) / (rows - 1)
    spread = rows / dof**2 * (correlation_squares - correlation**2)
    off = ~np.eye(features, dtype=bool)
    weight = float(np.clip(np.sum(spread[off]) / np.sum(correlation[off] ** 2), 0.0, 1.0))
    return sample * np.where(off, 1.0 - weight, 1.0)


def noise_covariance(measurements: np.ndarray, design: Design, method: str = "shrinkage_diag") -> np.ndarray:
    """The noise covariance ``(features, features)`` of measurements around their condition means.

    Parameters
    ----------
    measurements : ndarray (n_rows, features)
    design : Design
        The condition of every row; some condition must be measured more than once.
    method : {"shrinkage_diag", "shrinkage_eye", "diag", "full"}
        The estimator (see the module documentation).

    Raises
    ------
    InvalidValueError
        An unknown method, or no repeated measurements to estimate the noise from.
    """
    if method not in NOISE_ESTIMATORS:
        raise InvalidValueError(f"unknown noise estimator {method!r}; the choices are {', '.join(NOISE_ESTIMATORS)}")
    dof = design.n_rows - design.n_conditions
    if dof < 1:
        raise InvalidValueError(
            f"estimating the noise ({method!r}) needs repeated measurements: {design.n_rows} rows of "
            f"{design.n_conditions} conditions leave no residuals; give conditions with repeats"
        )
    measurements = np.asarray(measurements, dtype=np.float64)
    residuals = measurements - average_rows(measurements, design.codes, design.n_conditions)[design.codes]
    residuals = residuals - residuals.mean(axis=0, keepdims=True)
    if method == "full":
        return residuals.T @ residuals / dof
    if method == "diag":
        return np.diag(np.einsum("ij,ij->j", residuals, residuals) / dof)
    if method == "shrinkage_eye":
        return _shrink_to_eye(residuals, dof)
    return _shrink_to_diagonal(residuals, dof)


def noise_precision(measurements: np.ndarray, design: Design, method: str = "shrinkage_diag") -> np.ndarray:
    """The inverse of :func:`noise_covariance` (same parameters).

    Raises
    ------
    InvalidValueError
        As :func:`noise_covariance`, or a singular covariance (use a shrinkage estimator).
    """
    covariance = noise_covariance(measurements, design, method)
    try:
        return np.linalg.inv(covariance)
    except np.linalg.LinAlgError:
        raise InvalidValueError(
            f"the {method!r} noise covariance of {covariance.shape[0]} features is singular; use a shrinkage "
            "estimator ('shrinkage_diag' or 'shrinkage_eye') or give the precision matrix"
        ) from None
