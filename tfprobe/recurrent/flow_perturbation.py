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

from collections.abc import Sequence
from typing import Any

import numpy as np

from tfprobe.datasets.perturbations import PERTURBATIONS, PerturbedScenes
from tfprobe.errors import InvalidTypeError, InvalidValueError
from tfprobe.models.architecture import KINDS, STAGES
from tfprobe.models.gain_rnn import GainModulatedRNN
from tfprobe.probe import Probe
from tfprobe.progress import ProgressBar
from tfprobe.results.flow_perturbation import (
    CONDITIONS,
    GROUP_LABELS,
    GROUPS,
    FlowPerturbationResult,
    paper_time_step,
)
from tfprobe.results.labelled import LabelledArray
from tfprobe.validation import is_int, positive_int

__all__ = [
    "CONDITIONS",
    "GROUPS",
    "GROUP_LABELS",
    "FlowPerturbationResult",
    "permute_differences",
    "perturb_flows",
]

_STEP_MEANING = (
    "step t (0-based) replaces the flow from time step t to t + 1, which modulates time step t + 2 counted "
    "from 1 as in the paper (its legend 'T = 2, 3, 4'); T is in attrs['T']"
)
_CONTROL = (
    "original flow + the difference (variant flow - original flow) with its elements permuted at random "
    "within each image, independently per image and per kind (bias, gain), as RNN_perturb.py does"
)


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
        raise InvalidValueError(
            f"original and variant flows must have one shape (batch, ...), got {original.shape} and {variant.shape}"
        )
    difference = (variant - original).reshape(len(original), -1)
    return original + rng.permuted(difference, axis=1).reshape(original.shape)


# ----------------------------------------------------------------------------- the analysis
def _check_scenes(scenes: Any, perturbations: Sequence[str]) -> list[PerturbedScenes]:
    listed = [scenes] if isinstance(scenes, PerturbedScenes) else scenes
    if not isinstance(listed, Sequence) or isinstance(listed, (str, bytes)) or not listed:
        raise InvalidTypeError(
            "scenes must be a PerturbedScenes (ClutteredScenes.sample_perturbed(n)) or a non-empty sequence of "
            f"them, one per repetition; got {type(scenes).__name__}"
        )
    for r, item in enumerate(listed):
        if not isinstance(item, PerturbedScenes):
            raise InvalidTypeError(f"scenes[{r}] must be a PerturbedScenes, got {type(item).__name__}")
        if len(item) == 0:
            raise InvalidValueError(f"scenes[{r}] holds no scenes")
        missing = [p for p in perturbations if p not in item.variants]
        if missing:
            raise InvalidValueError(f"scenes[{r}] lacks the variants {', '.join(missing)}")
    return list(listed)


def _check_choice(name: str, given: Any, allowed: Sequence[Any], default: Sequence[Any], why: str = "") -> list[Any]:
    values = list(default) if given is None else ([given] if isinstance(given, (str, int)) else list(given))
    if not values:
        raise InvalidValueError(f"{name} must not be empty; choose among {', '.join(map(str, allowed))}")
    integers = all(isinstance(a, (int, np.integer)) for a in allowed)
    for value in values:
        wrong_type = integers and not is_int(value)  # True == 1, but it names no time step
        if wrong_type or value not in allowed:
            raise InvalidValueError(
                f"unknown {name[:-1]} {value!r}: expected one of {', '.join(map(str, allowed))}{why}"
            )
    if len(set(values)) != len(values):
        raise InvalidValueError(f"{name} repeat: {values}")
    return values


def _entropy(seed: int | np.random.Generator) -> int:
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63))
    if not is_int(seed) or seed < 0:
        raise InvalidTypeError(f"seed must be a non-negative int or a numpy.random.Generator, got {seed!r}")
    return int(seed)


def perturb_flows(
    model: GainModulatedRNN | Probe,
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
    model : GainModulatedRNN or Probe
        With at least two time steps (or a :class:`~tfprobe.Probe` of one: the runs and reruns go through
        its :meth:`~tfprobe.Probe.baseline` and :meth:`~tfprobe.Probe.rerun`).
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
    probe = model if isinstance(model, Probe) else None
    model = probe.model if probe is not None else model
    if not isinstance(model, GainModulatedRNN):
        raise InvalidTypeError(f"perturb_flows needs a GainModulatedRNN, got {type(model).__name__}")
    probe = probe if probe is not None else Probe(model)
    if model.timesteps < 2:
        raise InvalidValueError(f"a model with {model.timesteps} time step has no recurrent flows to perturb")
    perturbations = _check_choice("perturbations", perturbations, PERTURBATIONS, PERTURBATIONS)
    flowing = model.flow_stages()
    if not flowing:
        raise InvalidValueError(f"no recurrent flow reaches any stage of a {model.flags.code} model")
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
            original = probe.baseline(images)
            original_counts[r] += _correct(original["log_probs"], truth)
            for i, p in enumerate(perturbations):
                variant = probe.baseline(item.variants[p][batch])
                for s, t in enumerate(steps):
                    for j, layer in enumerate(layers):
                        kinds = model.flags.kinds
                        units = {kind: f"{layer}.{kind}@t{t}" for kind in kinds}
                        own = {kind: np.asarray(original[units[kind]]) for kind in kinds}
                        changed = {kind: np.asarray(variant[units[kind]]) for kind in kinds}
                        reruns = {
                            "perturbed": changed,
                            "control": {
                                kind: permute_differences(own[kind], changed[kind], streams[(p, layer, t, kind)])
                                for kind in kinds
                            },
                        }
                        for c, condition in enumerate(CONDITIONS):
                            replace = {units[kind]: value for kind, value in reruns[condition].items()}
                            log_probs = probe.rerun(original, replace)["log_probs"]
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
