"""What a training run's history holds, as arrays to plot (:func:`tfprobe.recurrent.train` writes the history)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["learning_curve"]


def learning_curve(history: list[dict[str, float]], key: str = "validation_accuracy") -> np.ndarray:
    """``(steps, seconds, value)`` rows of a history, for plotting against steps or time."""
    rows = [(entry["step"], entry["seconds"], entry.get(key, math.nan)) for entry in history]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)
