"""The result of the recurrent-flow perturbation analysis (Thorat et al. 2021, Figure 4D).

:func:`tfprobe.recurrent.perturb_flows` makes a :class:`FlowPerturbationResult`; the figure of
:mod:`tfprobe.figures.flow_perturbation` draws one.  It holds the accuracies of the perturbed and control
reruns and of the unperturbed network, gives each flow's *functional importance*::

    functional importance = (control accuracy - perturbed accuracy) / original accuracy

grouped as in the paper's Figure 4D, and is saved as a self-describing HDF5 file.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from tfprobe.errors import InvalidValueError
from tfprobe.results.labelled import LabelledArray, load_labelled, save_labelled

__all__ = ["CONDITIONS", "GROUPS", "GROUP_LABELS", "FlowPerturbationResult", "paper_time_step"]

#: The two reruns of each perturbation: the variant's flow, and the original plus its permuted difference.
CONDITIONS: tuple[str, ...] = ("perturbed", "control")
#: Figure 4D's groups of perturbations (averaged), with their axis labels.
GROUPS: dict[str, tuple[str, ...]] = {
    "location": ("x", "y"),
    "orientation": ("orientation",),
    "scale": ("scale",),
    "category": ("category_same_domain", "category_other_domain"),
}
GROUP_LABELS: dict[str, str] = {"location": "Loc.", "orientation": "Ori.", "scale": "Scl.", "category": "Cat."}

_FORMAT = "tfprobe.FlowPerturbationResult/1"


def paper_time_step(step: int) -> int:
    """The 1-based time step (the paper's T) that the flow of 0-based transition ``step`` modulates."""
    return int(step) + 2


# ----------------------------------------------------------------------------- the result
@dataclasses.dataclass(frozen=True)
class FlowPerturbationResult:
    """Accuracies of a recurrent-flow perturbation analysis.

    Attributes
    ----------
    accuracy : LabelledArray
        Axes ``("perturbation", "condition", "layer", "step", "repetition")``: the share of scenes whose
        true category the rerun gets right.  ``step`` holds 0-based transitions (the flow from time step
        t to t + 1); ``accuracy.attrs["T"]`` the paper's time step each modulates (t + 2).
    original_accuracy : LabelledArray
        Axis ``("repetition",)``: the unperturbed network's accuracy on the same scenes.
    """

    accuracy: LabelledArray
    original_accuracy: LabelledArray

    def __post_init__(self) -> None:
        dims = ("perturbation", "condition", "layer", "step", "repetition")
        if self.accuracy.dims != dims:
            raise InvalidValueError(f"accuracy must have axes {dims}, got {self.accuracy.dims}")
        if self.original_accuracy.dims != ("repetition",):
            raise InvalidValueError(
                f"original_accuracy must have the axis ('repetition',), got {self.original_accuracy.dims}"
            )
        if self.accuracy.axes["repetition"] != self.original_accuracy.axes["repetition"]:
            raise InvalidValueError("accuracy and original_accuracy must have the same repetitions")

    @property
    def attrs(self) -> dict[str, Any]:
        """How the numbers were made: model, scenes, seed, control, meaning of the step axis."""
        return dict(self.accuracy.attrs)

    @property
    def perturbations(self) -> list[str]:
        return list(self.accuracy.axes["perturbation"])

    @property
    def layers(self) -> list[str]:
        return list(self.accuracy.axes["layer"])

    @property
    def steps(self) -> list[int]:
        return list(self.accuracy.axes["step"])

    @property
    def repetitions(self) -> int:
        return len(self.accuracy.axes["repetition"])

    def functional_importance(self) -> LabelledArray:
        """``(control - perturbed) / original`` accuracy, per repetition.

        Returns
        -------
        LabelledArray
            Axes ``("perturbation", "layer", "step", "repetition")``; NaN where the original accuracy is 0.
        """
        values = self.accuracy.values
        difference = values[:, 1] - values[:, 0]
        original = np.broadcast_to(self.original_accuracy.values, difference.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            importance = np.where(original > 0, difference / np.where(original > 0, original, 1.0), np.nan)
        axes = {name: self.accuracy.axes[name] for name in ("perturbation", "layer", "step", "repetition")}
        return LabelledArray(importance, axes, {**self.accuracy.attrs, "quantity": "functional importance"})

    def grouped_importance(self) -> LabelledArray:
        """Functional importance in Figure 4D's groups: location (mean of x and y), orientation, scale,
        category (mean of the two category swaps); a group is left out unless all its perturbations ran.

        Returns
        -------
        LabelledArray
            Axes ``("group", "layer", "step", "repetition")``; ``attrs["labels"]`` the axis labels
            ("Loc.", "Ori.", "Scl.", "Cat.").
        """
        importance = self.functional_importance()
        ran = self.perturbations
        groups = [group for group, members in GROUPS.items() if all(m in ran for m in members)]
        if not groups:
            raise InvalidValueError(f"no group of Figure 4D is complete with the perturbations run ({', '.join(ran)})")
        values = np.stack([np.mean([importance.sel(perturbation=m) for m in GROUPS[g]], axis=0) for g in groups])
        axes = {"group": groups, **{name: importance.axes[name] for name in ("layer", "step", "repetition")}}
        attrs = {**importance.attrs, "labels": [GROUP_LABELS[g] for g in groups]}
        return LabelledArray(values, axes, attrs)

    def summary(self) -> str:
        """A text table of the grouped functional importance (mean over repetitions, with the 95% interval
        half-width 1.96 * std / sqrt(repetitions) when there are several)."""
        grouped = self.grouped_importance()
        attrs = self.attrs
        n = self.repetitions
        original = self.original_accuracy.values
        lines = [
            f"Functional importance of the recurrent flows, (control - perturbed) / original accuracy "
            f"({attrs.get('model', 'model')}, {n} repetition{'s' if n != 1 else ''} of "
            f"{attrs.get('scenes_per_repetition', '?')} scenes)",
            f"original accuracy {100 * original.mean():.1f}%"
            + (f" (per repetition: {', '.join(f'{100 * a:.1f}' for a in original)})" if n > 1 else ""),
        ]
        width = 16 if n > 1 else 8
        header = f"{'flow to':<8} {'T':>2}  " + "".join(f"{label:>{width}}" for label in grouped.attrs["labels"])
        lines += [header, "-" * len(header)]
        for layer in grouped.axes["layer"]:
            for step in grouped.axes["step"]:
                cells = []
                for group in grouped.axes["group"]:
                    values = grouped.sel(group=group, layer=layer, step=step)
                    cell = f"{values.mean():+.3f}"
                    if n > 1:
                        cell += f" ± {1.96 * values.std() / np.sqrt(n):.3f}"
                    cells.append(f"{cell:>{width}}")
                lines.append(f"{layer:<8} {paper_time_step(step):>2}  " + "".join(cells))
        return "\n".join(lines)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write both arrays to a self-describing HDF5 file (see :func:`save_labelled`), atomically.

        Raises
        ------
        FileExistsError
            If ``path`` exists and ``overwrite`` is false.
        """
        arrays = {"accuracy": self.accuracy, "original_accuracy": self.original_accuracy}
        return save_labelled(path, arrays, {"format": _FORMAT}, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FlowPerturbationResult:
        """Read a file written by :meth:`save`."""
        arrays, attrs = load_labelled(path)
        if attrs.get("format") != _FORMAT or not {"accuracy", "original_accuracy"} <= set(arrays):
            raise InvalidValueError(
                f"{path} is not a flow-perturbation result (expected format {_FORMAT} with arrays accuracy and "
                f"original_accuracy; got format {attrs.get('format')!r} and arrays {', '.join(arrays)})"
            )
        return cls(arrays["accuracy"], arrays["original_accuracy"])
