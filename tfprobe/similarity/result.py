"""SimilarityMatrix: a labelled matrix of similarities (RDM comparisons or CKA), with bootstrap intervals,
permutation p-values and a noise ceiling when they were computed."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from tfprobe.atomic import write_json
from tfprobe.errors import InvalidKeyError, InvalidValueError, MissingFileError

__all__ = ["NoiseCeiling", "SimilarityMatrix"]


class NoiseCeiling(NamedTuple):
    """The noise ceiling of reference RDMs (subjects): the mean similarity of each subject's RDM with the
    pooled RDM of the others (``lower``) and of all subjects (``upper``)."""

    lower: float
    upper: float


def _optional(value: Any) -> np.ndarray | None:
    return None if value is None else np.asarray(value, dtype=np.float64)


@dataclass(frozen=True)
class SimilarityMatrix:
    """Similarities of every row item (an RDM, a unit) with every column item.

    Attributes
    ----------
    values : ndarray (n_rows, n_columns)
    rows, columns : tuple of str
        The names of the compared items.
    measure : str
        How they were compared: an RDM comparison method (``"spearman"``, ``"corr"``, ...) or a CKA
        (``"linear CKA"``, ``"debiased RBF CKA"``, ...).
    n_conditions : int
        The conditions (stimuli) the similarities are computed over.
    bootstrap : ndarray (n_bootstrap, n_rows, n_columns) or None
        The similarities on each bootstrap sample of the conditions (NaN for degenerate samples).
    confidence : float or None
        The level of :attr:`ci`.
    p_values : ndarray (n_rows, n_columns) or None
        One-sided permutation p-values (similarity at least as high when the conditions of the row item
        are permuted), ``(1 + hits) / (1 + n_permutations)``.
    noise_ceiling : NoiseCeiling or None
        Of the column RDMs, taken as subjects.
    settings : dict
        How the result was computed (seed, numbers of samples, kernel, ...).
    """

    values: np.ndarray
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    measure: str
    n_conditions: int
    bootstrap: np.ndarray | None = None
    confidence: float | None = None
    p_values: np.ndarray | None = None
    noise_ceiling: NoiseCeiling | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        rows, columns = tuple(map(str, self.rows)), tuple(map(str, self.columns))
        if values.shape != (len(rows), len(columns)):
            raise InvalidValueError(f"values must have shape ({len(rows)}, {len(columns)}), got {values.shape}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "bootstrap", _optional(self.bootstrap))
        object.__setattr__(self, "p_values", _optional(self.p_values))
        if self.noise_ceiling is not None:
            object.__setattr__(self, "noise_ceiling", NoiseCeiling(*map(float, self.noise_ceiling)))
        if self.bootstrap is not None and self.bootstrap.shape[1:] != values.shape:
            raise InvalidValueError(f"bootstrap must have shape (n, {values.shape[0]}, {values.shape[1]})")
        object.__setattr__(self, "settings", dict(self.settings))

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_rows, n_columns)``."""
        return self.values.shape

    @property
    def ci(self) -> np.ndarray | None:
        """Percentile bootstrap confidence intervals ``(2, n_rows, n_columns)`` (low, high) at :attr:`confidence`,
        over the samples that are not NaN; None without a bootstrap."""
        if self.bootstrap is None:
            return None
        tail = (1.0 - (self.confidence or 0.95)) / 2.0
        return np.nanpercentile(self.bootstrap, [100.0 * tail, 100.0 * (1.0 - tail)], axis=0)

    @property
    def sem(self) -> np.ndarray | None:
        """The bootstrap standard error (standard deviation over samples), or None without a bootstrap."""
        return None if self.bootstrap is None else np.nanstd(self.bootstrap, axis=0, ddof=1)

    def _position(self, names: tuple[str, ...], name: str, what: str) -> int:
        if name not in names:
            raise InvalidKeyError(f"no {what} {name!r}; the {what}s are {', '.join(names)}")
        return names.index(name)

    def __getitem__(self, key: tuple[str, str]) -> float:
        """``result[row, column]``: one similarity."""
        if not (isinstance(key, tuple) and len(key) == 2):
            raise InvalidKeyError(f"index a SimilarityMatrix by (row, column) names, got {key!r}")
        return float(
            self.values[self._position(self.rows, key[0], "row"), self._position(self.columns, key[1], "column")]
        )

    def column(self, name: str) -> np.ndarray:
        """The similarities of every row item with the column item ``name``."""
        return self.values[:, self._position(self.columns, name, "column")].copy()

    def row(self, name: str) -> np.ndarray:
        """The similarities of the row item ``name`` with every column item."""
        return self.values[self._position(self.rows, name, "row")].copy()

    def subset(self, rows: Sequence[str] | None = None, columns: Sequence[str] | None = None) -> SimilarityMatrix:
        """The similarities of some rows and columns (default all), with their intervals and p-values."""
        r = [self._position(self.rows, n, "row") for n in (self.rows if rows is None else rows)]
        c = [self._position(self.columns, n, "column") for n in (self.columns if columns is None else columns)]
        return SimilarityMatrix(
            self.values[np.ix_(r, c)],
            tuple(self.rows[i] for i in r),
            tuple(self.columns[j] for j in c),
            self.measure,
            self.n_conditions,
            None if self.bootstrap is None else self.bootstrap[:, r][:, :, c],
            self.confidence,
            None if self.p_values is None else self.p_values[np.ix_(r, c)],
            self.noise_ceiling,
            self.settings,
        )

    def table(self, *, digits: int = 3) -> str:
        """A text table: one line per row item, one column per column item (with the interval when bootstrapped)."""
        ci = self.ci
        cells = []
        for i in range(len(self.rows)):
            line = []
            for j in range(len(self.columns)):
                text = f"{self.values[i, j]:.{digits}f}"
                if ci is not None:
                    text += f" [{ci[0, i, j]:.{digits}f}, {ci[1, i, j]:.{digits}f}]"
                if self.p_values is not None:
                    text += f" p={self.p_values[i, j]:.{digits}f}"
                line.append(text)
            cells.append(line)
        header = ["", *self.columns]
        body = [[name, *line] for name, line in zip(self.rows, cells, strict=True)]
        widths = [max(len(str(r[k])) for r in [header, *body]) for k in range(len(header))]
        lines = [f"{self.measure} over {self.n_conditions} conditions"]
        lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *body]]
        if self.noise_ceiling is not None:
            lower, upper = self.noise_ceiling
            lines.append(f"noise ceiling: lower {lower:.{digits}f}, upper {upper:.{digits}f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (NaN as null)."""

        def listed(array: np.ndarray | None) -> Any:
            return None if array is None else np.where(np.isnan(array), None, array).tolist()

        return {
            "values": listed(self.values),
            "rows": list(self.rows),
            "columns": list(self.columns),
            "measure": self.measure,
            "n_conditions": int(self.n_conditions),
            "bootstrap": listed(self.bootstrap),
            "confidence": self.confidence,
            "p_values": listed(self.p_values),
            "noise_ceiling": None if self.noise_ceiling is None else list(self.noise_ceiling),
            "settings": self.settings,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimilarityMatrix:
        """The inverse of :meth:`to_dict`."""

        def array(value: Any) -> np.ndarray | None:
            return None if value is None else np.array(value, dtype=np.float64)

        return cls(
            values=array(data["values"]),
            rows=tuple(data["rows"]),
            columns=tuple(data["columns"]),
            measure=data["measure"],
            n_conditions=int(data["n_conditions"]),
            bootstrap=array(data.get("bootstrap")),
            confidence=data.get("confidence"),
            p_values=array(data.get("p_values")),
            noise_ceiling=None if data.get("noise_ceiling") is None else NoiseCeiling(*data["noise_ceiling"]),
            settings=dict(data.get("settings", {})),
        )

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write :meth:`to_dict` as JSON atomically (a temporary beside ``path``, then renamed)."""
        return write_json(path, self.to_dict(), overwrite=overwrite, what="similarity result")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SimilarityMatrix:
        """Read a result written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f"similarity result {str(path)!r} does not exist")
        with open(path) as stream:
            return cls.from_dict(json.load(stream))
