"""A measured contrast sensitivity function (:func:`tfprobe.psychophysics.measure_csf`), saved as JSON."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from tfprobe.atomic import staged
from tfprobe.results.staircase import StaircaseResult

__all__ = ["ContrastSensitivity"]


@dataclasses.dataclass
class ContrastSensitivity:
    """A measured contrast sensitivity function.

    Attributes
    ----------
    frequencies : ndarray
        Spatial frequencies, cycles per image.
    thresholds : ndarray
        Contrast thresholds (75% correct by default).
    sensitivity : ndarray
        1 / thresholds.
    staircase : StaircaseResult
        Convergence flags, iterations and every tested contrast and accuracy.
    size : int
        Image side in pixels.
    n_orientations : int
    label : str
        What was measured (e.g. the layer).
    """

    frequencies: np.ndarray
    thresholds: np.ndarray
    staircase: StaircaseResult
    size: int
    n_orientations: int
    label: str = ""

    @property
    def sensitivity(self) -> np.ndarray:
        return 1.0 / self.thresholds

    @property
    def converged(self) -> np.ndarray:
        return self.staircase.converged

    @property
    def peak_frequency(self) -> float:
        """The spatial frequency of highest sensitivity."""
        return float(self.frequencies[int(np.argmax(self.sensitivity))])

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "size": self.size,
            "n_orientations": self.n_orientations,
            "frequencies": self.frequencies.tolist(),
            "thresholds": self.thresholds.tolist(),
            "sensitivity": self.sensitivity.tolist(),
            "peak_frequency": self.peak_frequency,
            "staircase": self.staircase.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContrastSensitivity:
        stair = data["staircase"]
        staircase = StaircaseResult(
            thresholds=np.asarray(stair["thresholds"], float),
            converged=np.asarray(stair["converged"], bool),
            iterations=np.asarray(stair["iterations"], int),
            contrasts=[np.asarray(c, float) for c in stair["contrasts"]],
            accuracies=[np.asarray(a, float) for a in stair["accuracies"]],
            target=float(stair["target"]),
        )
        return cls(
            frequencies=np.asarray(data["frequencies"], float),
            thresholds=np.asarray(data["thresholds"], float),
            staircase=staircase,
            size=int(data["size"]),
            n_orientations=int(data["n_orientations"]),
            label=str(data.get("label", "")),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the result as JSON (atomically)."""
        path = Path(path)
        with staged(path) as temporary:
            Path(temporary).write_text(json.dumps(self.to_dict(), indent=2))
        return path
