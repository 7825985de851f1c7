"""The result of decoding through layers and time steps (Thorat, Aldegheri & Kietzmann 2021, Figure 3A).

:func:`tfprobe.recurrent.decode_through_time` makes a :class:`TimeDecodingResult`; the figures of
:mod:`tfprobe.figures.time_decoding` draw one.  It keeps the original's axes ``(layer, timestep, variable,
image_type, repetition)`` with their values, and is saved as a self-describing HDF5 file.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from tfprobe.errors import InvalidValueError
from tfprobe.results.labelled import LabelledArray, load_labelled, save_labelled

__all__ = ["AUXILIARY_GROUPS", "TimeDecodingResult"]

#: The category-orthogonal variables as the original groups them (location = mean of x and y).
AUXILIARY_GROUPS: dict[str, tuple[str, ...]] = {
    "location": ("x", "y"),
    "scale": ("scale",),
    "orientation": ("orientation",),
}
_FORMAT = "tfprobe.TimeDecodingResult/1"


@dataclasses.dataclass(frozen=True)
class TimeDecodingResult:
    """Held-out decoding accuracy through layers and time steps.

    Attributes
    ----------
    activations : LabelledArray
        Axes ``("layer", "timestep", "variable", "image_type", "repetition")``; ``timestep`` is 1-based
        as in the paper (1 .. T).
    flows : LabelledArray or None
        Decoding from the recurrent flow into each layer, axes ``("layer", "transition", "variable",
        "image_type", "repetition")``; transition ``t`` (1-based) is the flow from time step ``t`` to
        ``t + 1``.  None when flows were not decoded.
    readout_accuracy : LabelledArray
        The network's own category accuracy on the same scenes, axes ``("image_type", "repetition")``.
    """

    activations: LabelledArray
    flows: LabelledArray | None
    readout_accuracy: LabelledArray

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self.activations.attrs)

    @property
    def repetitions(self) -> int:
        return len(self.activations.axes["repetition"])

    def auxiliary(self, image_type: str = "cluttered") -> LabelledArray:
        """The category-orthogonal variables grouped as the original: location (mean of x and y), scale,
        orientation.  Axes ``("layer", "timestep", "group", "repetition")``."""
        values = np.stack(
            [
                np.mean([self.activations.sel(variable=v, image_type=image_type) for v in members], axis=0)
                for members in AUXILIARY_GROUPS.values()
            ],
            axis=2,
        )
        axes = {
            "layer": self.activations.axes["layer"],
            "timestep": self.activations.axes["timestep"],
            "group": list(AUXILIARY_GROUPS),
            "repetition": self.activations.axes["repetition"],
        }
        return LabelledArray(values, axes, {**self.attrs, "image_type": image_type})

    def auxiliary_through_time(self, image_type: str = "cluttered") -> np.ndarray:
        """Mean auxiliary decoding per time step, over layers, groups and repetitions: the original's
        "auxiliary variable avg. decoding through time" (0.65, 0.73, 0.83, 0.85 for its trained networks)."""
        return self.auxiliary(image_type).values.mean(axis=(0, 2, 3))

    def auxiliary_through_layers(self, image_type: str = "cluttered") -> np.ndarray:
        """Mean auxiliary decoding per layer, over time steps, groups and repetitions."""
        return self.auxiliary(image_type).values.mean(axis=(1, 2, 3))

    def summary(self) -> str:
        """Text tables: read-out accuracy, category decoding per layer and time step, auxiliary means."""
        acc = self.activations
        steps = acc.axes["timestep"]
        lines = [
            f"Decoding through time ({self.attrs.get('model', 'model')}, {self.repetitions} repetition(s) of "
            f"{self.attrs.get('n')} scenes, {self.attrs.get('classifier')}, test {self.attrs.get('n_test')})",
            "read-out accuracy: "
            + ", ".join(
                f"{t} {100 * self.readout_accuracy.sel(image_type=t).mean():.1f}%"
                for t in self.readout_accuracy.axes["image_type"]
            ),
        ]
        for image_type in acc.axes["image_type"]:
            lines.append(f"{image_type}: decoding accuracy (%) per time step")
            lines.append(f"{'layer':<7}{'variable':<13}" + "".join(f"{'t=' + str(t):>8}" for t in steps))
            for layer in acc.axes["layer"]:
                for variable in acc.axes["variable"]:
                    row = acc.sel(layer=layer, variable=variable, image_type=image_type).mean(axis=-1)
                    lines.append(f"{layer:<7}{variable:<13}" + "".join(f"{100 * v:8.1f}" for v in row))
        if all(v in acc.axes["variable"] for members in AUXILIARY_GROUPS.values() for v in members):
            through_time = self.auxiliary_through_time()
            lines.append("auxiliary variables, mean through time: " + ", ".join(f"{v:.3f}" for v in through_time))
            lines.append(
                "auxiliary variables, mean through layers: "
                + ", ".join(f"{v:.3f}" for v in self.auxiliary_through_layers())
            )
        return "\n".join(lines)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write every array to one self-describing HDF5 file (see :func:`save_labelled`), atomically."""
        arrays = {"activations": self.activations, "readout_accuracy": self.readout_accuracy}
        if self.flows is not None:
            arrays["flows"] = self.flows
        return save_labelled(path, arrays, {"format": _FORMAT}, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TimeDecodingResult:
        """Read a file written by :meth:`save`."""
        arrays, attrs = load_labelled(path)
        if attrs.get("format") != _FORMAT:
            raise InvalidValueError(
                f"{path} is not a decoding-through-time result (format {attrs.get('format')!r}, expected {_FORMAT})"
            )
        return cls(arrays["activations"], arrays.get("flows"), arrays["readout_accuracy"])
