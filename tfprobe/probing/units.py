"""What a probe can record: named units with their shapes, and resolving the names users type."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Sequence

from tfprobe.errors import InvalidTypeError, UnknownUnitError


@dataclasses.dataclass(frozen=True)
class UnitInfo:
    """One recordable unit.

    Attributes
    ----------
    name : str
        What to ask for: a layer name (``"block3_conv1"``, nested ones as ``"vgg16/block3_conv1"``), or
        for the recurrent network ``"conv1@t3"`` (a stage at a time step) and ``"conv1.gain.from_fc1@t2"``
        (a recurrent flow into a stage, by kind and source, from step t to t + 1).
    shape : tuple of int or None
        Shape of one stimulus's activation (no batch axis), channels-last.
    layer : str
        The layer (or stage) it belongs to.
    timestep : int or None
        Time step, for recurrent units.
    kind : str
        ``"layer"``, ``"activation"`` (a stage of the recurrent network), ``"flow"`` or ``"output"``.
    modulation, source : str or None
        For flows: ``"bias"`` or ``"gain"``, and ``"lateral"`` / ``"from_<stage>"`` (None: all sources summed).
    """

    name: str
    shape: tuple[int | None, ...]
    layer: str
    timestep: int | None = None
    kind: str = "layer"
    modulation: str | None = None
    source: str | None = None

    @property
    def size(self) -> int | None:
        """Number of values per stimulus (None if a dimension is unknown)."""
        total = 1
        for dim in self.shape:
            if dim is None:
                return None
            total *= dim
        return total


def unknown_unit(name: str, known: Iterable[str], what: str = "unit") -> UnknownUnitError:
    """An error naming ``name`` and the closest known names."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    listing = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    return UnknownUnitError(f"unknown {what} {name!r}{hint} (the model has: {listing})")


def as_name_list(units: str | Sequence[str] | None, what: str = "units") -> list[str]:
    """``units`` as a list of names (a single string is one name); None stays an empty request."""
    if units is None:
        return []
    if isinstance(units, str):
        return [units]
    names = list(units)
    if not all(isinstance(name, str) for name in names):
        raise InvalidTypeError(f"{what} must be names (str), got {names!r}")
    return names
