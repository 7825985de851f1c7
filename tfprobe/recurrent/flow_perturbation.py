"""How much the network's decisions depend on what its recurrent flows carry (Thorat et al. 2021, Figure 4D).

The original study's perturbation analysis (its ``RNN_perturb.py``): a scene is run through the network,
then run again with the recurrent flow into one layer at one time step replaced by the flow the network
computes, at that layer and step, for a variant of the scene with one target property changed (its
location, orientation, scale or category).  If the flow carries that property and the network uses it,
the category read out at the end suffers.  The control replaces the flow by the original one plus the
variant's difference from it with its elements randomly permuted within each image: a change of the same
size and value distribution that carries no information about the property.  Accuracy on the scene's true
category for both, relative to the unperturbed accuracy, gives the flow's *functional importance* for the
property::

    functional importance = (control accuracy - perturbed accuracy) / original accuracy

Grouped as in the paper's Figure 4D: location (mean of the x and y swaps), orientation, scale, category
(mean of the swaps within and across domain).

Every combination is run in batches through :meth:`GainModulatedRNN.run_with_flows`: each scene and each
variant is run once, and every rerun starts at the replaced time step from the original run's flows (the
activity before it cannot change), compiled once per time step.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfprobe.datasets.perturbations import PERTURBATIONS, PerturbedScenes
from tfprobe.models.architecture import KINDS, STAGES
from tfprobe.models.gain_rnn import GainModulatedRNN
from tfprobe.progress import ProgressBar
from tfprobe.recurrent.labelled import LabelledArray, load_labelled, save_labelled
from tfprobe.validation import positive_int

__all__ = [
    "CONDITIONS",
    "GROUPS",
    "FlowPerturbationResult",
    "permute_differences",
    "perturb_flows",
]

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
_STEP_MEANING = (
    "step t (0-based) replaces the flow from time step t to t + 1, which modulates time step t + 2 counted "
    "from 1 as in the paper (its legend 'T = 2, 3, 4'); T is in attrs['T']"
)
_CONTROL = (
    "original flow + the difference (variant flow - original flow) with its elements permuted at random "
    "within each image, independently per image and per kind (bias, gain), as RNN_perturb.py does"
)


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
            raise ValueError(f"accuracy must have axes {dims}, got {self.accuracy.dims}")
        if self.original_accuracy.dims != ("repetition",):
            raise ValueError(f"original_accuracy must have the axis ('repetition',), got {self.original_accuracy.dims}")
        if self.accuracy.axes["repetition"] != self.original_accuracy.axes["repetition"]:
            raise ValueError("accuracy and original_accuracy must have the same repetitions")

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
            raise ValueError(f"no group of Figure 4D is complete with the perturbations run ({', '.join(ran)})")
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
            raise ValueError(
                f"{path} is not a flow-perturbation result (expected format {_FORMAT} with arrays accuracy and "
                f"original_accuracy; got format {attrs.get('format')!r} and arrays {', '.join(arrays)})"
            )
        return cls(arrays["accuracy"], arrays["original_accuracy"])


# ----------------------------------------------------------------------------- the control flow
def permute_differences(original: np.ndarray, variant: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``original`` plus each image's ``variant - original`` with its elements randomly permuted.

    One permutation per image (first axis), over all of that image's elements: the control flow of the
    perturbation analysis, a change with each image's exact multiset of difference values but none of
    its arrangement.

    Parameters
    ----------
    original, variant : ndarray (batch, ...)
        Flows of the same shape.
    rng : numpy.random.Generator
        Consumed image by image, so splitting a batch in two gives the same permutations.

    Returns
    -------
    ndarray, float32, the shape of ``original``
    """
    original = np.asarray(original, dtype=np.float32)
    variant = np.asarray(variant, dtype=np.float32)
    if original.shape != variant.shape or original.ndim < 1:
        raise ValueError(
            f"original and variant flows must have one shape (batch, ...), got {original.shape} and {variant.shape}"
        )
    difference = (variant - original).reshape(len(original), -1)
    return original + rng.permuted(difference, axis=1).reshape(original.shape)


# ----------------------------------------------------------------------------- the analysis
def _check_scenes(scenes: Any, perturbations: Sequence[str]) -> list[PerturbedScenes]:
    listed = [scenes] if isinstance(scenes, PerturbedScenes) else scenes
    if not isinstance(listed, Sequence) or isinstance(listed, (str, bytes)) or not listed:
        raise TypeError(
            "scenes must be a PerturbedScenes (ClutteredScenes.sample_perturbed(n)) or a non-empty sequence of "
            f"them, one per repetition; got {type(scenes).__name__}"
        )
    for r, item in enumerate(listed):
        if not isinstance(item, PerturbedScenes):
            raise TypeError(f"scenes[{r}] must be a PerturbedScenes, got {type(item).__name__}")
        if len(item) == 0:
            raise ValueError(f"scenes[{r}] holds no scenes")
        missing = [p for p in perturbations if p not in item.variants]
        if missing:
            raise ValueError(f"scenes[{r}] lacks the variants {', '.join(missing)}")
    return list(listed)


def _check_choice(name: str, given: Any, allowed: Sequence[Any], default: Sequence[Any], why: str = "") -> list[Any]:
    values = list(default) if given is None else ([given] if isinstance(given, (str, int)) else list(given))
    if not values:
        raise ValueError(f"{name} must not be empty; choose among {', '.join(map(str, allowed))}")
    integers = all(isinstance(a, (int, np.integer)) for a in allowed)
    for value in values:
        wrong_type = isinstance(value, (bool, np.bool_)) or (integers and not isinstance(value, (int, np.integer)))
        if wrong_type or value not in allowed:
            raise ValueError(f"unknown {name[:-1]} {value!r}: expected one of {', '.join(map(str, allowed))}{why}")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} repeat: {values}")
    return values


def _entropy(seed: int | np.random.Generator) -> int:
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int or a numpy.random.Generator, got {seed!r}")
    return int(seed)


def perturb_flows(
    model: GainModulatedRNN,
    scenes: PerturbedScenes | Sequence[PerturbedScenes],
    *,
    perturbations: Sequence[str] = PERTURBATIONS,
    layers: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
    seed: int | np.random.Generator = 0,
    batch_size: int = 100,
    progress: bool = False,
) -> FlowPerturbationResult:
    """Replace recurrent flows by those of perturbed scenes and measure what it costs the network.

    For each perturbation, each layer and each transition ``t``, the scenes are run with the combined flow
    into the layer from time step ``t`` to ``t + 1`` (every kind the model has: bias and/or gain) replaced
    by (``"perturbed"``) the flow the network computes there for the scene's variant, or (``"control"``)
    the original flow plus the variant's difference from it randomly permuted within each image
    (:func:`permute_differences`; independently per kind, as the original).  All other flows are the
    network's own.  Accuracy is on the scene's true category.

    Parameters
    ----------
    model : GainModulatedRNN
        With at least two time steps.
    scenes : PerturbedScenes or sequence of PerturbedScenes
        ``ClutteredScenes(...).sample_perturbed(n)``; a sequence gives one repetition per element (the
        original ran 5 repetitions of 1,000 scenes per network).
    perturbations : sequence of str
        Among ``PERTURBATIONS`` (default all six).
    layers : sequence of str, optional
        Stages whose incoming flow is replaced; default every stage a recurrent flow reaches under the
        model's flags (:meth:`GainModulatedRNN.flow_stages`).
    steps : sequence of int, optional
        0-based transitions, from 0 to ``timesteps - 2`` (default all); transition ``t`` modulates the
        paper's time step ``T = t + 2``.
    seed : int or numpy.random.Generator
        Source of the control permutations.  Each (repetition, perturbation, layer, step, kind) draws from
        its own stream, image by image, so results do not depend on ``batch_size`` or on which other
        perturbations, layers or steps are run.
    batch_size : int
        Scenes run at once.
    progress : bool
        Show a progress bar (over scene variants).

    Returns
    -------
    FlowPerturbationResult

    Examples
    --------
    >>> scenes = ClutteredScenes("test", seed=0).sample_perturbed(1000)
    >>> result = perturb_flows(model, scenes)
    >>> print(result.summary())
    >>> plot_flow_perturbation(result, "figure4d.png")
    """
    if not isinstance(model, GainModulatedRNN):
        raise TypeError(f"perturb_flows needs a GainModulatedRNN, got {type(model).__name__}")
    if model.timesteps < 2:
        raise ValueError(f"a model with {model.timesteps} time step has no recurrent flows to perturb")
    perturbations = _check_choice("perturbations", perturbations, PERTURBATIONS, PERTURBATIONS)
    flowing = model.flow_stages()
    if not flowing:
        raise ValueError(f"no recurrent flow reaches any stage of a {model.flags.code} model")
    layers = _check_choice(
        "layers", layers, flowing, flowing, f" (the stages a recurrent flow reaches in a {model.flags.code} model)"
    )
    layers = [stage for stage in STAGES if stage in layers]
    transitions = list(range(model.timesteps - 1))
    steps = sorted(int(t) for t in _check_choice("steps", steps, transitions, transitions, " (0-based transitions)"))
    repetitions = _check_scenes(scenes, perturbations)
    batch_size = positive_int(batch_size, "batch_size")
    entropy = _entropy(seed)

    counts = np.zeros((len(perturbations), len(CONDITIONS), len(layers), len(steps), len(repetitions)))
    original_counts = np.zeros(len(repetitions))
    sizes = [len(item) for item in repetitions]
    bar = ProgressBar(sum(sizes) * len(perturbations), unit="variant", enabled=progress)
    done = 0
    for r, item in enumerate(repetitions):
        # One permutation stream per (repetition, perturbation, layer, step, kind), read image by image.
        streams = {
            (p, layer, t, kind): np.random.default_rng(
                [entropy, r, PERTURBATIONS.index(p), STAGES.index(layer), t, KINDS.index(kind)]
            )
            for p in perturbations
            for layer in layers
            for t in steps
            for kind in model.flags.kinds
        }
        labels = np.asarray(item.scenes.labels["category"])
        for first in range(0, len(item), batch_size):
            batch = slice(first, first + batch_size)
            images, truth = item.scenes.images[batch], labels[batch]
            original = model._combined_outputs(images)
            original_counts[r] += _correct(original.log_probs, truth)
            for i, p in enumerate(perturbations):
                variant = model._combined_outputs(item.variants[p][batch])
                for s, t in enumerate(steps):
                    for j, layer in enumerate(layers):
                        kinds = model.flags.kinds
                        own = {kind: np.asarray(original.flows[layer][kind][t]) for kind in kinds}
                        changed = {kind: np.asarray(variant.flows[layer][kind][t]) for kind in kinds}
                        reruns = {
                            "perturbed": changed,
                            "control": {
                                kind: permute_differences(own[kind], changed[kind], streams[(p, layer, t, kind)])
                                for kind in kinds
                            },
                        }
                        for c, condition in enumerate(CONDITIONS):
                            log_probs = model.run_with_flows(images, {(layer, t): reruns[condition]}, start=original)
                            counts[i, c, j, s, r] += _correct(log_probs, truth)
                done += len(truth)
                bar.update(done)
    bar.close()

    per_repetition = np.asarray(sizes, dtype=float)
    attrs = {
        "model": model.flags.code,
        "timesteps": model.timesteps,
        "n_feats": model.n_feats,
        "scenes_per_repetition": sizes,
        "swap": [item.swap for item in repetitions],
        "seed": entropy,
        "T": [paper_time_step(t) for t in steps],
        "steps": _STEP_MEANING,
        "control": _CONTROL,
        "accuracy": "share of scenes whose true category is the argmax of the log-probabilities",
    }
    accuracy = LabelledArray(
        counts / per_repetition,
        {
            "perturbation": perturbations,
            "condition": list(CONDITIONS),
            "layer": layers,
            "step": steps,
            "repetition": list(range(len(repetitions))),
        },
        attrs,
    )
    original_accuracy = LabelledArray(
        original_counts / per_repetition, {"repetition": list(range(len(repetitions)))}, attrs
    )
    return FlowPerturbationResult(accuracy, original_accuracy)


def _correct(log_probs: Any, truth: np.ndarray) -> int:
    return int((np.argmax(np.asarray(log_probs), axis=-1) == truth).sum())
