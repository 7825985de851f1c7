"""Decoding through layers and time steps (Thorat, Aldegheri & Kietzmann 2021, Figure 3A).

For each repetition, ``n`` new test scenes are run through the network, once as cluttered scenes and
once as the target alone (clean); a linear classifier is trained on the first ``n - n_test`` scenes'
activity and tested on the last ``n_test`` (the original's 800 / 200 hold-out, linear SVM, no PCA) for
every (layer, time step) and every variable: the category and the category-orthogonal variables
(location x and y, scale, orientation) and the domain (digit or fashion item).  The recurrent flows into
each layer at each transition are decoded the same way (bias and gain flows side by side when a model
has both).  All units and variables of one repetition and image type are decoded in one batched call of
:func:`tfprobe.decode`.

The result keeps the original's axes ``(layer, timestep, variable, image_type, repetition)`` with their
values, and is saved as a self-describing HDF5 file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tfprobe.datasets.scenes import ClutteredScenes, Scenes
from tfprobe.decoding import decode
from tfprobe.decoding.splits import HoldOut
from tfprobe.errors import InvalidTypeError, InvalidValueError
from tfprobe.models.architecture import STAGES
from tfprobe.models.gain_rnn import GainModulatedRNN
from tfprobe.probe import Probe
from tfprobe.progress import ProgressBar
from tfprobe.results.labelled import LabelledArray
from tfprobe.results.time_decoding import AUXILIARY_GROUPS, TimeDecodingResult
from tfprobe.validation import positive_int

__all__ = ["AUXILIARY_GROUPS", "IMAGE_TYPES", "VARIABLES", "TimeDecodingResult", "decode_through_time"]

VARIABLES: tuple[str, ...] = ("category", "domain", "x", "y", "scale", "orientation")
IMAGE_TYPES: tuple[str, ...] = ("cluttered", "clean")


def _check_subset(name: str, given: Sequence[str] | str, allowed: Sequence[str]) -> list[str]:
    chosen = [given] if isinstance(given, str) else list(given)
    unknown = [value for value in chosen if value not in allowed]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise InvalidValueError(f"{name} must be distinct values among {', '.join(allowed)}; got {given!r}")
    return [value for value in allowed if value in chosen]


def _repetition_scenes(scenes: ClutteredScenes | Sequence[Scenes], n: int, repetitions: int) -> list[Scenes]:
    if isinstance(scenes, ClutteredScenes):
        return [scenes.sample(n) for _ in range(repetitions)]
    listed = list(scenes) if isinstance(scenes, Sequence) and not isinstance(scenes, (str, bytes)) else None
    if not listed or not all(isinstance(item, Scenes) for item in listed):
        raise InvalidTypeError(
            "scenes must be a ClutteredScenes (n scenes are drawn per repetition) or a non-empty sequence of "
            f"Scenes (one per repetition); got {type(scenes).__name__}"
        )
    return listed


def _features(
    probe: Probe, images: np.ndarray, layers: list[str], flows: bool, batch_size: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Flattened activity of every (layer, time step) and, with ``flows``, every flow into a layer; and the
    log-probabilities of the same run."""
    model = probe.model
    flow_layers = [stage for stage in layers if stage in model.flow_stages()] if flows else []
    columns = {f"{stage}@t{t + 1}": [f"{stage}@t{t}"] for stage in layers for t in range(model.timesteps)}
    for stage in flow_layers:
        for t in range(model.timesteps - 1):
            columns[f"flow:{stage}@t{t + 1}"] = [f"{stage}.{kind}@t{t}" for kind in model.flags.kinds]
    units = ["log_probs", *(unit for group in columns.values() for unit in group)]
    parts: dict[str, list[np.ndarray]] = {name: [] for name in columns}
    log_probs: list[np.ndarray] = []
    for first in range(0, len(images), batch_size):
        values = probe.forward(images[first : first + batch_size], units)
        log_probs.append(np.asarray(values["log_probs"]))
        for name, group in columns.items():
            flat = [np.asarray(values[unit]).reshape(len(log_probs[-1]), -1) for unit in group]
            parts[name].append(flat[0] if len(flat) == 1 else np.concatenate(flat, 1))
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}, np.concatenate(log_probs)


def decode_through_time(
    model: GainModulatedRNN | Probe,
    scenes: ClutteredScenes | Sequence[Scenes],
    *,
    n: int = 1000,
    repetitions: int = 10,
    variables: Sequence[str] = VARIABLES,
    layers: Sequence[str] = STAGES,
    image_types: Sequence[str] = IMAGE_TYPES,
    flows: bool = True,
    classifier: str = "svm",
    C: float = 1.0,
    standardize: bool = False,
    n_test: int = 200,
    pca: int | None = None,
    batch_size: int = 100,
    progress: bool = False,
) -> TimeDecodingResult:
    """Decode category and category-orthogonal variables from every layer at every time step.

    Parameters
    ----------
    model : GainModulatedRNN or Probe
        The network, or a :class:`~tfprobe.Probe` of it (its activations and flows are read through
        :meth:`~tfprobe.Probe.forward` either way).
    scenes : ClutteredScenes or sequence of Scenes
        A generator (the test split, as the original) from which ``n`` new scenes are drawn per
        repetition, or the scenes of each repetition.
    n, repetitions : int
        Scenes per repetition (1,000 in the original) and repetitions (10).  Ignored for ``repetitions``
        when ``scenes`` lists them.
    variables : sequence of str
        Among ``VARIABLES``: category, domain, x, y, scale, orientation (default all).
    layers : sequence of str
        Among input, conv1, conv2, fc1 (default all).
    image_types : sequence of str
        ``"cluttered"`` (the scenes) and/or ``"clean"`` (the target alone).
    flows : bool
        Also decode the recurrent flow into each layer at each transition.
    classifier, C, standardize, pca : as :func:`tfprobe.decode`
        Default: the original's setting, scikit-learn's ``LinearSVC()`` on the raw activations (squared
        hinge, one-vs-rest, C = 1, penalised intercept), without z-scoring or PCA.
    n_test : int
        Test scenes of the hold-out split (the last ``n_test``; the original's 200 of 1,000).
    batch_size : int
        Scenes run through the network at once.
    progress : bool
        Show a progress bar over repetitions and image types.

    Returns
    -------
    TimeDecodingResult

    Raises
    ------
    ValueError
        Too few scenes for the split, or unknown variables, layers or image types.
    """
    probe = model if isinstance(model, Probe) else None
    model = probe.model if probe is not None else model
    if not isinstance(model, GainModulatedRNN):
        raise InvalidTypeError(f"decode_through_time needs a GainModulatedRNN, got {type(model).__name__}")
    probe = probe if probe is not None else Probe(model)
    variables = _check_subset("variables", variables, VARIABLES)
    layers = _check_subset("layers", layers, STAGES)
    image_types = _check_subset("image_types", image_types, IMAGE_TYPES)
    n = positive_int(n, "n")
    n_test = positive_int(n_test, "n_test")
    batch_size = positive_int(batch_size, "batch_size")
    if isinstance(scenes, ClutteredScenes):
        repetitions = positive_int(repetitions, "repetitions")
        sizes = [n] * repetitions
    else:
        given = _repetition_scenes(scenes, n, 0)
        sizes = [len(item) for item in given]
    smallest = min(sizes)
    if smallest - n_test < 2:
        raise InvalidValueError(
            f"too few scenes for the split: {smallest} scenes per repetition cannot hold {n_test} test scenes and at "
            f"least 2 training scenes (the original: 1,000 scenes, 200 for testing); give more scenes or a smaller "
            f"n_test"
        )
    # Drawn only once the split is known to fit.
    all_scenes = _repetition_scenes(scenes, n, len(sizes)) if isinstance(scenes, ClutteredScenes) else given
    flow_layers = [stage for stage in layers if stage in model.flow_stages()] if flows else []
    steps = list(range(1, model.timesteps + 1))
    transitions = steps[:-1]
    shape = (len(layers), len(steps), len(variables), len(image_types), len(all_scenes))
    decoded = np.zeros(shape)
    decoded_flows = np.zeros((len(flow_layers), len(transitions), len(variables), len(image_types), len(all_scenes)))
    readout = np.zeros((len(image_types), len(all_scenes)))
    bar = ProgressBar(len(all_scenes) * len(image_types), unit="set", enabled=progress)
    for r, item in enumerate(all_scenes):
        targets = {variable: np.asarray(item.labels[variable]) for variable in variables}
        for i, image_type in enumerate(image_types):
            images = item.images if image_type == "cluttered" else item.clean
            features, log_probs = _features(probe, images, layers, bool(flow_layers), batch_size)
            readout[i, r] = np.mean(log_probs.argmax(-1) == np.asarray(item.labels["category"]))
            result = decode(
                features, targets, cv=HoldOut(n_test), classifier=classifier, C=C, standardize=standardize, pca=pca
            )
            scores = result.scores[:, :, 0]
            unit = {name: u for u, name in enumerate(result.units)}
            target = {name: v for v, name in enumerate(result.targets)}
            for j, stage in enumerate(layers):
                for s, t in enumerate(steps):
                    decoded[j, s, :, i, r] = [scores[unit[f"{stage}@t{t}"], target[v]] for v in variables]
            for j, stage in enumerate(flow_layers):
                for s, t in enumerate(transitions):
                    decoded_flows[j, s, :, i, r] = [scores[unit[f"flow:{stage}@t{t}"], target[v]] for v in variables]
            bar.update(r * len(image_types) + i + 1)
    bar.close()

    attrs = {
        "model": model.flags.code,
        "timesteps": model.timesteps,
        "n_feats": model.n_feats,
        "n": sizes[0] if len(set(sizes)) == 1 else sizes,
        "n_test": n_test,
        "classifier": classifier,
        "C": C,
        "standardize": standardize,
        "pca": pca,
        "chance": {variable: 1.0 / (20 if variable == "category" else 2) for variable in variables},
        "split": f"hold-out: the first n - {n_test} scenes train, the last {n_test} test",
    }
    common = {"variable": variables, "image_type": image_types, "repetition": list(range(len(all_scenes)))}
    activations = LabelledArray(decoded, {"layer": layers, "timestep": steps, **common}, attrs)
    flow_array = None
    if flow_layers:
        flow_attrs = {
            **attrs,
            "transition": "t: the flow from time step t to t + 1 (1-based)",
            "kinds": list(model.flags.kinds),
        }
        flow_array = LabelledArray(
            decoded_flows, {"layer": flow_layers, "transition": transitions, **common}, flow_attrs
        )
    readout_array = LabelledArray(readout, {"image_type": image_types, "repetition": common["repetition"]}, attrs)
    return TimeDecodingResult(activations, flow_array, readout_array)
