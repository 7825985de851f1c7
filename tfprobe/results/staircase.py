"""The thresholds a set of bisection staircases found (:func:`tfprobe.psychophysics.bisection_staircase`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["StaircaseResult"]


@dataclasses.dataclass
class StaircaseResult:
    """Thresholds of a set of staircases.

    Attributes
    ----------
    thresholds : ndarray (n,)
        The last contrast tested by each staircase (the lab's estimate).
    converged : ndarray of bool (n,)
        Whether each staircase pinned its threshold down (target reached, bracket narrow enough).
    iterations : ndarray of int (n,)
        Tests each staircase made.
    contrasts, accuracies : list of ndarray
        Every tested contrast and the accuracy there, per staircase, in order.
    target : float
    """

    thresholds: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    contrasts: list[np.ndarray]
    accuracies: list[np.ndarray]
    target: float

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, for JSON."""
        return {
            "target": self.target,
            "thresholds": self.thresholds.tolist(),
            "converged": self.converged.tolist(),
            "iterations": self.iterations.tolist(),
            "contrasts": [c.tolist() for c in self.contrasts],
            "accuracies": [a.tolist() for a in self.accuracies],
        }
