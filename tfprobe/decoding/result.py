"""DecodingResult: per-fold accuracies of every (unit, target) pair, summaries, text table and JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from tfprobe.atomic import write_json
from tfprobe.errors import InvalidKeyError, InvalidValueError


class Score(NamedTuple):
    """Accuracy of one (unit, target) pair: mean and standard error over folds, and each fold's."""

    mean: float
    sem: float
    folds: np.ndarray


@dataclass(frozen=True)
class DecodingResult:
    """Held-out accuracies of linear read-outs, per unit, target and fold.

    Attributes
    ----------
    scores : ndarray (n_units, n_targets, n_folds)
        Test accuracy of each fold, in [0, 1].
    units, targets : tuple of str
    classes : dict
        Target name -> its class values (as given; ints or strings).
    chance : ndarray (n_targets,)
        1 / number of classes of each target.
    majority : ndarray (n_targets,)
        Accuracy of always guessing the training fold's most frequent class, averaged over folds (the
        chance level when classes are unbalanced).
    settings : dict
        How the result was computed (classifier, C, pca, standardize, cv, seed, ...).
    """

    scores: np.ndarray
    units: tuple[str, ...]
    targets: tuple[str, ...]
    classes: dict[str, list[Any]] = field(default_factory=dict)
    chance: np.ndarray = field(default_factory=lambda: np.zeros(0))
    majority: np.ndarray = field(default_factory=lambda: np.zeros(0))
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        scores = np.asarray(self.scores, dtype=float)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "units", tuple(self.units))
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "chance", np.asarray(self.chance, dtype=float))
        object.__setattr__(self, "majority", np.asarray(self.majority, dtype=float))
        expected = (len(self.units), len(self.targets))
        if scores.ndim != 3 or scores.shape[:2] != expected:
            raise InvalidValueError(
                f"scores must have shape (n_units, n_targets, n_folds) = {expected} + (k,), got {scores.shape}"
            )

    @property
    def n_folds(self) -> int:
        return self.scores.shape[2]

    @property
    def mean(self) -> np.ndarray:
        """Mean accuracy over folds, (n_units, n_targets)."""
        return self.scores.mean(axis=2)

    @property
    def sem(self) -> np.ndarray:
        """Standard error of the mean over folds (sample std with ddof=1 / sqrt(k)), (n_units, n_targets).

        NaN when there is a single fold (e.g. a hold-out split): one score has no spread to estimate;
        the figures draw no error bar then.
        """
        if self.n_folds < 2:
            return np.full(self.scores.shape[:2], np.nan)
        return self.scores.std(axis=2, ddof=1) / np.sqrt(self.n_folds)

    def _index(self, names: Sequence[str], name: str, what: str) -> int:
        try:
            return list(names).index(name)
        except ValueError:
            raise InvalidKeyError(f"no {what} {name!r}; the {what}s are {', '.join(names)}") from None

    def __getitem__(self, key: tuple[str, str]) -> Score:
        """``result[unit, target]`` -> :class:`Score` (mean, sem, folds)."""
        if not (isinstance(key, tuple) and len(key) == 2):
            raise InvalidKeyError(f"index a DecodingResult by (unit, target), got {key!r}")
        u = self._index(self.units, key[0], "unit")
        t = self._index(self.targets, key[1], "target")
        return Score(float(self.mean[u, t]), float(self.sem[u, t]), self.scores[u, t].copy())

    def table(self, *, percent: bool = True) -> str:
        """A text table: one row per unit, one column per target, ``mean +- sem`` (chance in the last row)."""
        scale, unit_sign = (100.0, "%") if percent else (1.0, "")
        digits = 1 if percent else 3
        mean, sem = self.mean * scale, self.sem * scale
        cells = [
            [f"{m:.{digits}f}" + ("" if np.isnan(s) else f" ± {s:.{digits}f}") for m, s in zip(mr, sr, strict=True)]
            for mr, sr in zip(mean, sem, strict=True)
        ]
        chance = [f"{c * scale:.{digits}f}" for c in self.chance] if len(self.chance) else [""] * len(self.targets)
        header = ["unit", *self.targets]
        rows = [[u, *c] for u, c in zip(self.units, cells, strict=True)] + [["chance", *chance]]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        lines = [
            f"accuracy{' (' + unit_sign + ')' if unit_sign else ''}, "
            + (f"mean ± SEM over {self.n_folds} folds" if self.n_folds > 1 else "one split"),
            "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        ]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        capped = self.settings.get("pca_capped") or {}
        if capped:
            lines.append(
                f"PCA to {self.settings.get('pca')} components kept fewer where a unit has fewer features "
                "(or a training fold fewer samples): " + ", ".join(f"{u} {k}" for u, k in capped.items())
            )
        return "\n".join(line.rstrip() for line in lines)

    def __str__(self) -> str:
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (lists, numbers, strings)."""
        return {
            "units": list(self.units),
            "targets": list(self.targets),
            "scores": self.scores.tolist(),
            "classes": {k: [_plain(v) for v in vs] for k, vs in self.classes.items()},
            "chance": self.chance.tolist(),
            "majority": self.majority.tolist(),
            "settings": {k: _plain(v) for k, v in self.settings.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecodingResult:
        return cls(
            scores=np.asarray(data["scores"], dtype=float),
            units=tuple(data["units"]),
            targets=tuple(data["targets"]),
            classes={k: list(v) for k, v in data.get("classes", {}).items()},
            chance=np.asarray(data.get("chance", []), dtype=float),
            majority=np.asarray(data.get("majority", []), dtype=float),
            settings=dict(data.get("settings", {})),
        )

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write :meth:`to_dict` as JSON atomically (temporary file beside ``path``, then renamed).

        An existing file is replaced only with ``overwrite=True``.
        """
        return write_json(path, self.to_dict(), overwrite=overwrite, what="decoding result")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DecodingResult:
        with open(path) as stream:
            return cls.from_dict(json.load(stream))


def _plain(value: Any) -> Any:
    """Numpy scalars to Python ones (JSON cannot hold them)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
