"""Speed of the recurrent-network analyses (decoding through time and flow perturbation) against the original's
procedure, in one run.

The workload is one repetition of the study's analyses on bglt_0111 with 4 time steps (randomly initialised from a
fixed seed: timing needs no trained checkpoint):

- decoding: ``--scenes`` scenes (the original: 1,000), category, domain, x, y, scale and orientation decoded from
  input, conv1, conv2 and fc1 at every time step and from every recurrent flow into every layer, for cluttered and
  clean images, trained on the first scenes and tested on the last ``--test`` (800 / 200);
- perturbation: ``--perturbation-scenes`` scenes, each of the six perturbations, every layer and transition, the
  perturbed and the control rerun.

Baseline, the original's procedure: the network run image by image (activations, and for the perturbation every
variant's flows recomputed for each layer and time step, then one rerun per image with the flow replaced, from the
first time step), and one ``sklearn.svm.LinearSVC()`` fitted per (unit, variable, image type).
tfprobe: ``decode_through_time`` (one batched ``tfprobe.decode`` per image type) and ``perturb_flows`` (batched,
every rerun starting at the replaced step), first calls, graph building included.

Both sides get the same threads: ``--threads N`` (default: every core) sets TensorFlow's intra- and inter-op
pools and the BLAS / OpenMP pools numpy and scikit-learn use (through threadpoolctl) before anything runs.
``LinearSVC`` (liblinear) itself runs on one thread whatever the setting.

The last line printed is a JSON object with ``speedup`` (baseline time / tfprobe time, both analyses together),
``decoding_speedup``, ``perturbation_speedup``, the times, the largest accuracy differences between the two, and
``threads`` (the thread settings both sides ran with).

Run: ``python benchmarks/analysis_speed.py`` (needs scikit-learn; over an hour at the original's size on a 2-core
CPU); a quick check: ``python benchmarks/analysis_speed.py --scenes 120 --test 40 --perturbation-scenes 10``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import keras
import numpy as np
from threads import add_threads_argument, describe, pin_threads

import tfprobe
from tfprobe.datasets import ClutteredScenes
from tfprobe.models.architecture import STAGES
from tfprobe.recurrent import decode_through_time, perturb_flows
from tfprobe.recurrent.flow_perturbation import CONDITIONS, permute_differences
from tfprobe.recurrent.time_decoding import IMAGE_TYPES, VARIABLES


def per_image_features(model, images: np.ndarray) -> dict[str, np.ndarray]:
    """Activations and flows, the model run on one image at a time."""
    rows: dict[str, list[np.ndarray]] = {}
    for image in images:
        out = model(image[None], return_activations=True)
        for stage in STAGES:
            for t, activity in enumerate(out.activations[stage]):
                rows.setdefault(f"{stage}@t{t + 1}", []).append(np.asarray(activity).ravel())
        for stage in model.flow_stages():
            for t, flow in enumerate(out.flows[stage]["gain"].combined):
                rows.setdefault(f"flow:{stage}@t{t + 1}", []).append(np.asarray(flow).ravel())
    return {name: np.stack(values) for name, values in rows.items()}


def baseline_decoding(model, scenes, n_test: int) -> np.ndarray:
    """LinearSVC per (image type, unit, variable) on per-image activations; accuracies in that order."""
    from sklearn import svm

    n_train = len(scenes) - n_test
    accuracies = []
    for image_type in IMAGE_TYPES:
        features = per_image_features(model, scenes.images if image_type == "cluttered" else scenes.clean)
        for name in features:
            for variable in VARIABLES:
                y = scenes.labels[variable]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    classifier = svm.LinearSVC().fit(features[name][:n_train], y[:n_train])
                accuracies.append(np.mean(classifier.predict(features[name][n_train:]) == y[n_train:]))
    return np.asarray(accuracies)


def baseline_perturbation(model, perturbed, seed: int) -> np.ndarray:
    """RNN_perturb.py's loops: per image, perturbation, layer and step, the variant's flows recomputed and two
    reruns from the first time step.  Accuracies (perturbation, condition, layer, step)."""
    layers, steps = model.flow_stages(), range(model.timesteps - 1)
    labels = perturbed.scenes.labels["category"]
    correct = np.zeros((len(perturbed.variants), len(CONDITIONS), len(layers), model.timesteps - 1))
    rng = np.random.default_rng(seed)
    for i, image in enumerate(perturbed.scenes.images):
        own = model(image[None], return_activations=True)
        for p, variant_images in enumerate(perturbed.variants.values()):
            for j, layer in enumerate(layers):
                for t in steps:
                    variant = model(variant_images[i][None], return_activations=True)  # recomputed every time
                    changed = np.asarray(variant.flows[layer]["gain"][t])
                    control = permute_differences(np.asarray(own.flows[layer]["gain"][t]), changed, rng)
                    for c, flow in enumerate((changed, control)):
                        log_probs = model.run_with_flows(image[None], {(layer, t): {"gain": flow}})
                        correct[p, c, j, t] += int(np.argmax(np.asarray(log_probs)) == labels[i])
    return correct / len(perturbed.scenes.images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=1000, help="decoding scenes (the original: 1000)")
    parser.add_argument("--test", type=int, default=200, help="held-out decoding scenes (the original: 200)")
    parser.add_argument("--perturbation-scenes", type=int, default=100, help="scenes of the perturbation analysis")
    parser.add_argument("--timesteps", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    add_threads_argument(parser)
    args = parser.parse_args()

    threads = pin_threads(args.threads)  # before TensorFlow runs anything, for both sides alike
    print(describe(threads))
    keras.utils.set_random_seed(args.seed)
    model = tfprobe.GainModulatedRNN.from_code("bglt_0111", timesteps=args.timesteps)
    scenes = ClutteredScenes("test", seed=args.seed, allow_single_split=True).sample(args.scenes)
    perturbed = ClutteredScenes("test", seed=args.seed + 1, allow_single_split=True).sample_perturbed(
        args.perturbation_scenes
    )
    print(
        f"bglt_0111, {args.timesteps} time steps, random weights (seed {args.seed}); decoding {args.scenes} scenes "
        f"({args.test} held out), perturbation {args.perturbation_scenes} scenes"
    )

    start = time.perf_counter()
    decoding = decode_through_time(model, [scenes], n_test=args.test)
    tf_decoding_s = time.perf_counter() - start
    start = time.perf_counter()
    perturbation = perturb_flows(model, perturbed, seed=args.seed)
    tf_perturbation_s = time.perf_counter() - start
    print(f"tfprobe: decoding {tf_decoding_s:.1f} s, perturbation {tf_perturbation_s:.1f} s")

    start = time.perf_counter()
    reference_decoding = baseline_decoding(model, scenes, args.test)
    base_decoding_s = time.perf_counter() - start
    print(f"original procedure: decoding {base_decoding_s:.1f} s", flush=True)
    start = time.perf_counter()
    reference_perturbation = baseline_perturbation(model, perturbed, args.seed)
    base_perturbation_s = time.perf_counter() - start
    print(f"original procedure: perturbation {base_perturbation_s:.1f} s")

    # The same cells in the same order: image type, unit (layers x steps, then flows), variable.
    ours = []
    for i, _ in enumerate(IMAGE_TYPES):
        ours.append(decoding.activations.values[:, :, :, i, 0].reshape(-1, len(VARIABLES)))
        ours.append(decoding.flows.values[:, :, :, i, 0].reshape(-1, len(VARIABLES)))
    decoding_gap = 100 * np.abs(np.concatenate(ours).ravel() - reference_decoding)
    perturbed_gap = 100 * np.abs(perturbation.accuracy.values[:, 0, ..., 0] - reference_perturbation[:, 0])

    figures = {
        "speedup": (base_decoding_s + base_perturbation_s) / (tf_decoding_s + tf_perturbation_s),
        "decoding_speedup": base_decoding_s / tf_decoding_s,
        "perturbation_speedup": base_perturbation_s / tf_perturbation_s,
        "tfprobe_decoding_s": tf_decoding_s,
        "tfprobe_perturbation_s": tf_perturbation_s,
        "baseline_decoding_s": base_decoding_s,
        "baseline_perturbation_s": base_perturbation_s,
        "max_decoding_gap": float(decoding_gap.max()),
        "mean_decoding_gap": float(decoding_gap.mean()),
        "max_perturbed_accuracy_gap": float(perturbed_gap.max()),
        "decoding_cells": int(decoding_gap.size),
    }
    print(
        f"speedup {figures['speedup']:.1f}x (decoding {figures['decoding_speedup']:.1f}x, perturbation "
        f"{figures['perturbation_speedup']:.1f}x); accuracy differences: decoding max "
        f"{figures['max_decoding_gap']:.1f} points (mean {figures['mean_decoding_gap']:.2f}), perturbed reruns max "
        f"{figures['max_perturbed_accuracy_gap']:.1f}"
    )
    print(json.dumps({**{key: round(value, 4) for key, value in figures.items()}, "threads": threads}))


if __name__ == "__main__":
    main()
