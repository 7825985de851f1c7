"""A normal run of one batch, kept so that a probe can rerun it with some units' values replaced."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfprobe.errors import UnknownUnitError

__all__ = ["Baseline"]


class Baseline:
    """What :meth:`tfprobe.Probe.baseline` returns: one batch's normal run.

    ``baseline[unit]`` reads a unit's value in that run (a tensor of shape (batch, *shape));
    :meth:`tfprobe.Probe.rerun` replays the batch with chosen units replaced, starting from this run.

    Parameters
    ----------
    images : tensor
        The batch.
    values : mapping of str to tensor
        The units the run recorded, by name.
    state : object
        What the model's own rerun needs (the recurrent network's :class:`~tfprobe.models.RNNOutputs`).
    """

    def __init__(self, images: Any, values: Mapping[str, Any], state: Any) -> None:
        self.images = images
        self._values = dict(values)
        self.state = state

    def __getitem__(self, unit: str) -> Any:
        if unit not in self._values:
            raise UnknownUnitError(
                f"the baseline run recorded no unit {unit!r}; it holds {', '.join(list(self._values)[:6])}, ..."
            )
        return self._values[unit]

    def __contains__(self, unit: object) -> bool:
        return unit in self._values

    def __len__(self) -> int:
        return len(self.images)

    @property
    def units(self) -> list[str]:
        """The names of the units the run recorded."""
        return list(self._values)
