"""A bisection staircase: the contrast at which an observer reaches a target accuracy, for many conditions at once.

The linear-probe lab's procedure: start at the middle of [low, high] (contrast 0.5); test the observer
there; if its accuracy reaches the target (75% correct), the threshold lies below and the upper bound
moves down to the tested contrast, otherwise the lower bound moves up; test at the new middle; repeat.
Here every condition (one per spatial frequency, say) runs its own staircase, and all the conditions
still running are tested together in one call of the observer, so a network sees them in one batch.

A staircase stops when the accuracy is within ``accuracy_tolerance`` of the target, when its bracket is
narrower than ``tolerance`` times the tested contrast (converged), or after ``max_iterations`` tests
(the lab's cap; reported as not converged unless the bracket is narrow enough).  A condition whose
observer never reaches the target (the bracket closes on ``high``) is reported as not converged: its
threshold is above the highest contrast.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tfprobe.errors import InvalidValueError
from tfprobe.results.staircase import StaircaseResult
from tfprobe.validation import int_in_range

__all__ = ["StaircaseResult", "bisection_staircase"]


def bisection_staircase(
    accuracy_of: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n_conditions: int,
    *,
    target: float = 0.75,
    low: float = 0.0,
    high: float = 1.0,
    max_iterations: int = 20,
    tolerance: float = 0.01,
    accuracy_tolerance: float = 1e-4,
) -> StaircaseResult:
    """Run ``n_conditions`` bisection staircases together.

    Parameters
    ----------
    accuracy_of : callable(contrasts, conditions) -> accuracies
        The observer: proportion correct (in [0, 1]) at ``contrasts[i]`` for condition ``conditions[i]``
        (both 1-D arrays of the same length, the conditions still running).
    n_conditions : int
    target : float
        The accuracy that defines the threshold (0.75: 75% correct in 2AFC).  An accuracy equal to the
        target counts as reaching it.
    low, high : float
        The contrast range searched, ``0 <= low < high <= 1``.
    max_iterations : int
        Cap on the tests per staircase (the lab stops after about 20).
    tolerance : float
        Converged when the bracket is narrower than ``tolerance`` times the contrast tested last.
    accuracy_tolerance : float
        Also stop when the accuracy is this close to the target.

    Returns
    -------
    StaircaseResult
    """
    int_in_range(n_conditions, "n_conditions", 1)
    if not 0 < target < 1:
        raise InvalidValueError(f"target must be an accuracy in (0, 1), got {target!r}")
    if not 0 <= low < high <= 1:
        raise InvalidValueError(f"the contrast range must satisfy 0 <= low < high <= 1, got low={low!r}, high={high!r}")
    int_in_range(max_iterations, "max_iterations", 1)
    if not tolerance > 0:
        raise InvalidValueError(f"tolerance must be > 0, got {tolerance!r}")
    n = int(n_conditions)
    lows, highs = np.full(n, float(low)), np.full(n, float(high))
    mids = (lows + highs) / 2
    reached = np.zeros(n, bool)  # the target was reached at some tested contrast
    converged = np.zeros(n, bool)
    running = np.ones(n, bool)
    iterations = np.zeros(n, int)
    contrasts: list[list[float]] = [[] for _ in range(n)]
    accuracies: list[list[float]] = [[] for _ in range(n)]
    while running.any():
        active = np.flatnonzero(running)
        measured = np.asarray(accuracy_of(mids[active].copy(), active.copy()), dtype=np.float64).reshape(-1)
        if measured.shape != active.shape:
            raise InvalidValueError(f"accuracy_of returned {measured.shape[0]} accuracies for {active.size} conditions")
        if not np.all((measured >= 0) & (measured <= 1)):
            raise InvalidValueError(f"accuracy_of must return proportions correct in [0, 1], got {measured}")
        for condition, accuracy in zip(active, measured, strict=True):
            contrasts[condition].append(float(mids[condition]))
            accuracies[condition].append(float(accuracy))
            iterations[condition] += 1
            above = accuracy >= target
            reached[condition] |= above
            narrow = highs[condition] - lows[condition] <= 2 * tolerance * mids[condition]
            if abs(accuracy - target) < accuracy_tolerance or (narrow and reached[condition]):
                converged[condition] = reached[condition] or abs(accuracy - target) < accuracy_tolerance
                running[condition] = False
                continue
            if iterations[condition] >= max_iterations:
                running[condition] = False
                continue
            if above:
                highs[condition] = mids[condition]
            else:
                lows[condition] = mids[condition]
            mids[condition] = (lows[condition] + highs[condition]) / 2
    thresholds = np.array([c[-1] for c in contrasts])
    return StaircaseResult(
        thresholds=thresholds,
        converged=converged,
        iterations=iterations,
        contrasts=[np.array(c) for c in contrasts],
        accuracies=[np.array(a) for a in accuracies],
        target=float(target),
    )
