"""Computing RDMs: every unit of a source over one set of conditions, and model RDMs of labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tfprobe.errors import InvalidKeyError, InvalidValueError
from tfprobe.similarity.condensed import pair_indices
from tfprobe.similarity.conditions import Design, average_rows, make_design
from tfprobe.similarity.distances import check_finite, check_metric, crossnobis_vector, distance_vector
from tfprobe.similarity.noise import NOISE_ESTIMATORS, noise_precision
from tfprobe.similarity.rdm import RDMs
from tfprobe.similarity.sources import PatternSource, open_source

__all__ = ["calc_rdm", "categorical_rdm", "concat_rdms"]

Noise = None | str | np.ndarray | Mapping[str, np.ndarray]


def _default_runs(design: Design) -> Design:
    """Run k of each condition: its k-th row (rsatoolbox's default folds), which needs equal counts."""
    counts = design.counts
    if len(set(counts.tolist())) != 1:
        uneven = ", ".join(f"{design.labels[c].item()!r} {counts[c]}" for c in np.argsort(counts)[:3])
        raise InvalidValueError(
            f"crossnobis without runs= numbers each condition's rows as runs 0, 1, ..., which needs the same count "
            f"for every condition; counts differ ({uneven}, ...): give runs="
        )
    runs = np.zeros(design.n_rows, dtype=np.int64)
    for code in range(design.n_conditions):
        runs[design.codes == code] = np.arange(counts[code])
    return Design(design.labels, design.codes, runs, np.arange(counts[0]))


def _check_crossnobis(design: Design) -> Design:
    if not design.repeated:
        raise InvalidValueError(
            "crossnobis needs repeated measurements: give conditions= with every condition measured in several "
            f"runs (each of the {design.n_conditions} conditions has a single row)"
        )
    if design.runs is None:
        design = _default_runs(design)
    if len(design.run_labels) < 2:
        raise InvalidValueError(f"crossnobis needs at least 2 runs, got 1 ({design.run_labels[0].item()!r})")
    seen = np.zeros((len(design.run_labels), design.n_conditions), dtype=bool)
    seen[design.runs, design.codes] = True
    if not seen.all():
        run, code = np.argwhere(~seen)[0]
        raise InvalidValueError(
            f"crossnobis needs every condition in every run: condition {design.labels[code].item()!r} is missing "
            f"from run {design.run_labels[run].item()!r} ({int((~seen).sum())} such gaps)"
        )
    return design


def _check_noise(noise: Noise, metric: str, design: Design | None, names: list[str]) -> None:
    if noise is None:
        return
    if metric not in ("mahalanobis", "crossnobis"):
        raise InvalidValueError(f"noise= applies to the mahalanobis and crossnobis metrics, not {metric!r}")
    if isinstance(noise, str):
        if noise not in NOISE_ESTIMATORS:
            raise InvalidValueError(f"unknown noise estimator {noise!r}; the choices are {', '.join(NOISE_ESTIMATORS)}")
        if design is not None and not design.repeated:
            raise InvalidValueError(
                f"estimating the noise ({noise!r}) needs repeated measurements: give conditions= with repeats"
            )
    elif isinstance(noise, Mapping):
        missing = [name for name in names if name not in noise]
        if missing:
            raise InvalidKeyError(f"noise= gives no precision matrix for units {', '.join(map(repr, missing))}")


def _precision(noise: Noise, name: str, patterns: np.ndarray, design: Design) -> np.ndarray | None:
    if noise is None:
        return None
    if isinstance(noise, str):
        return noise_precision(patterns, design, noise)
    matrix = np.asarray(noise[name] if isinstance(noise, Mapping) else noise, dtype=np.float64)
    features = patterns.shape[1]
    if matrix.shape != (features, features):
        raise InvalidValueError(
            f"unit {name!r} has {features} features, so its noise precision must be ({features}, {features}); "
            f"got {matrix.shape}"
        )
    return matrix


def _unit_vector(
    name: str, patterns: np.ndarray, design: Design, metric: str, noise: Noise, remove_mean: bool
) -> np.ndarray:
    if patterns.shape[0] != design.n_rows:
        raise InvalidValueError(
            f"unit {name!r} has {patterns.shape[0]} stimuli but the conditions describe {design.n_rows} rows"
        )
    check_finite(patterns, design.labels[design.codes], name)
    precision = _precision(noise, name, patterns, design)
    if metric == "crossnobis":
        return crossnobis_vector(patterns, design, precision=precision, remove_mean=remove_mean)
    averaged = average_rows(patterns, design.codes, design.n_conditions) if design.repeated else patterns
    return distance_vector(averaged, metric, design.labels, precision=precision, remove_mean=remove_mean, unit=name)


def _design(source: PatternSource, n_rows: int | None, conditions: Any, runs: Any, metric: str) -> Design | None:
    if n_rows is None:
        return None
    if runs is not None and metric != "crossnobis":
        raise InvalidValueError(f"runs= applies to the crossnobis metric, not {metric!r}")
    design = make_design(n_rows, conditions, runs, default_labels=source.ids)
    return _check_crossnobis(design) if metric == "crossnobis" else design


def calc_rdm(
    source: Any,
    units: str | Sequence[str] | None = None,
    *,
    metric: str = "correlation",
    conditions: Sequence[Any] | np.ndarray | None = None,
    runs: Sequence[Any] | np.ndarray | None = None,
    noise: Noise = None,
    remove_mean: bool = False,
    stimuli: Any = None,
    pool: Any = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> RDMs:
    """The RDM of every unit of ``source`` over the same conditions (rsatoolbox's ``calc_rdm``, many units at once).

    Parameters
    ----------
    source : mapping, ndarray, ActivationFile, path or Probe
        Where the patterns come from (see :func:`tfprobe.similarity.sources.open_source`): ``{unit: (n, ...)
        array}``, one array, an activation file written by ``tfprobe act`` / ``Probe.extract`` (read one unit
        at a time), or a :class:`~tfprobe.Probe` with ``stimuli``.
    units : str or sequence of str, optional
        Which units (default: all of an array source or file).  Missing names are refused before any work.
    metric : str
        ``"correlation"`` (default), ``"cosine"``, ``"euclidean"`` (squared, per feature, as rsatoolbox),
        ``"plain_euclidean"``, ``"mahalanobis"`` or ``"crossnobis"`` (see :mod:`tfprobe.similarity.distances`).
    conditions : sequence, optional
        One condition label per stimulus row; rows with the same label are averaged into one condition
        (crossnobis keeps the runs apart).  Default: every stimulus is a condition, labelled by the file's
        stimulus ids (or 0, 1, ...).  Conditions keep the order of their first row.
    runs : sequence, optional
        Crossnobis only: one run (fold) label per row.  Default: a condition's k-th row is in run k.
    noise : None, str, ndarray or mapping
        Mahalanobis / crossnobis only: the noise precision.  None is the identity (rsatoolbox's default); an
        estimator name (``"shrinkage_diag"``, ``"shrinkage_eye"``, ``"diag"``, ``"full"``) estimates it from
        the residuals of the repeated measurements of each unit (rsatoolbox's ``prec_from_unbalanced``); a
        ``(features, features)`` matrix, or a mapping unit -> matrix, gives it.
    remove_mean : bool
        Subtract each pattern's mean over features first (rsatoolbox's ``remove_mean``; not for correlation
        and cosine).
    stimuli, pool, batch_size, progress
        With a Probe source: what to run and how (see :meth:`tfprobe.Probe.activations`).

    Returns
    -------
    RDMs
        One RDM per unit, named by the unit, with the rdm descriptors ``layer`` and ``timestep``.

    Raises
    ------
    InvalidValueError
        Fewer than 3 conditions; labels of the wrong length; NaN or infinite patterns, or patterns for which
        the metric is undefined (constant patterns for correlation; the conditions are named); crossnobis
        without repeated measurements; an unknown metric (the message lists the choices).
    InvalidKeyError
        Units missing from the source (listed).
    """
    check_metric(metric)
    if remove_mean and metric in ("correlation", "cosine"):
        raise InvalidValueError(f"remove_mean does not apply to {metric!r} (correlation removes the mean itself)")
    opened = open_source(source, units, stimuli=stimuli, pool=pool, batch_size=batch_size, progress=progress)
    design = _design(opened, opened.n_stimuli, conditions, runs, metric)
    _check_noise(noise, metric, design, opened.names)
    vectors = []
    for name, patterns in opened.units():
        if design is None:  # a Probe over a dataset of unknown length: known now
            design = _design(opened, patterns.shape[0], conditions, runs, metric)
            _check_noise(noise, metric, design, opened.names)
        vectors.append(_unit_vector(name, patterns, design, metric, noise, remove_mean))
    settings: dict[str, Any] = {"source": opened.describe(), "remove_mean": bool(remove_mean)}
    if metric in ("mahalanobis", "crossnobis"):
        settings["noise"] = "identity" if noise is None else noise if isinstance(noise, str) else "given"
    if metric == "crossnobis":
        settings["runs"] = design.run_labels.tolist()
    return RDMs(
        np.stack(vectors),
        tuple(opened.names),
        design.labels,
        metric,
        opened.descriptors(),
        settings,
    )


def categorical_rdm(
    labels: Sequence[Any] | np.ndarray,
    *,
    name: str = "category",
    conditions: Sequence[Any] | np.ndarray | None = None,
) -> RDMs:
    """A model RDM of categories: 0 between conditions of the same label, 1 between different ones
    (rsatoolbox's ``get_categorical_rdm``).

    Parameters
    ----------
    labels : sequence
        One label per condition.
    name : str
        The RDM's name.
    conditions : sequence, optional
        The condition labels (default 0, 1, ...), to match the RDMs it is compared with.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise InvalidValueError(f"labels must be 1-D (one per condition), got shape {labels.shape}")
    conditions = np.arange(len(labels)) if conditions is None else np.asarray(conditions)
    if conditions.shape != labels.shape:
        raise InvalidValueError(f"{len(labels)} labels need {len(labels)} conditions, got {conditions.shape}")
    rows, columns = pair_indices(len(labels))
    vector = (labels[rows] != labels[columns]).astype(np.float64)
    return RDMs(vector[None], (name,), conditions, "model", {"layer": (name,), "timestep": (-1,)}, {"source": "labels"})


def concat_rdms(*rdms: RDMs) -> RDMs:
    """Several RDMs objects over the same conditions as one (names must stay different).

    Raises
    ------
    InvalidValueError
        Different numbers or labels of conditions, or repeated names.
    """
    if not rdms:
        raise InvalidValueError("concat_rdms needs at least one RDMs")
    first = rdms[0]
    for other in rdms[1:]:
        if other.n_conditions != first.n_conditions:
            raise InvalidValueError(
                f"RDMs of {first.n_conditions} and {other.n_conditions} conditions cannot be joined "
                f"({first.names[0]!r}, {other.names[0]!r})"
            )
        if not np.array_equal(other.conditions.astype(str), first.conditions.astype(str)):
            raise InvalidValueError("RDMs with different condition labels cannot be joined; reorder them first")
    keys = set.intersection(*(set(r.rdm_descriptors) for r in rdms))
    metrics = {r.metric for r in rdms}
    return RDMs(
        np.concatenate([r.vectors for r in rdms]),
        tuple(name for r in rdms for name in r.names),
        first.conditions,
        metrics.pop() if len(metrics) == 1 else "mixed",
        {key: tuple(v for r in rdms for v in r.rdm_descriptors[key]) for key in sorted(keys)},
        {"parts": [r.descriptors for r in rdms]},
    )
