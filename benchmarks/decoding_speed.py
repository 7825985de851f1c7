"""Speed of ``tfprobe.decoding.decode`` against scikit-learn's LinearSVC as the original study uses it, in one run.

The grid is one repetition of the original decoding analysis (``RNN_analyse_reprs_recurrence.py``):
1,000 cluttered scenes, the activations of input, conv1, conv2 and fc1 at each of the 4 time steps of
the recurrent network bglt_0111, 6 variables (category, x, y, scale, orientation, domain), trained on
the first 800 scenes and tested on the last 200.  The network is randomly initialised from a fixed seed
(no trained checkpoint is needed to time the decoders), so accuracies are near chance for some pairs.

Baseline: for every (unit, variable), ``sklearn.svm.LinearSVC()`` with its defaults, fitted on the raw
flattened activations of the training scenes and scored on the test scenes, exactly as the original.
tfprobe: one call ``decode(..., cv=HoldOut(200), classifier="svm", C=1.0, standardize=False,
intercept_scaling=1.0)``, the same model (squared hinge, one-vs-rest, liblinear's penalised intercept).
tfprobe runs twice: the first call includes building its TensorFlow graphs, the second does not; the
speedup uses the first.

The last line printed is a JSON object with ``speedup`` (LinearSVC time / tfprobe's first-call time),
``max_accuracy_gap`` (largest |accuracy difference| in percentage points) and the times.

Run: ``python benchmarks/decoding_speed.py`` (needs scikit-learn).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import keras
import numpy as np

import tfprobe
from tfprobe.datasets import ClutteredScenes
from tfprobe.decoding import HoldOut, decode

STAGES = ("input", "conv1", "conv2", "fc1")
VARIABLES = ("category", "x", "y", "scale", "orientation", "domain")


def activations(n_scenes: int, seed: int, timesteps: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Flattened activations of every stage and time step for ``n_scenes`` scenes, and their labels."""
    scenes = ClutteredScenes("train", seed=seed, allow_single_split=True).sample(n_scenes)
    keras.utils.set_random_seed(seed)
    model = tfprobe.GainModulatedRNN.from_code("bglt_0111", timesteps=timesteps)
    # batches of 250 bound the memory of the 96x96 maps the network computes on the way
    recorded = tfprobe.Probe(model, batch_size=250).activations(scenes.images, list(STAGES), progress=False)
    flat = {name: values.reshape(n_scenes, -1) for name, values in recorded.items()}
    return flat, {key: scenes.labels[key] for key in VARIABLES}


def linear_svc(features: dict[str, np.ndarray], labels: dict[str, np.ndarray], n_train: int) -> tuple[np.ndarray, int]:
    """The original's loop: a default LinearSVC per (unit, variable); accuracies and convergence warnings."""
    from sklearn import svm

    accuracy = np.zeros((len(features), len(labels)))
    n_warnings = 0
    for u, data in enumerate(features.values()):
        for v, y in enumerate(labels.values()):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                classifier = svm.LinearSVC()
                classifier.fit(data[:n_train, :], y[:n_train])
                predicted = classifier.predict(data[n_train:, :])
            n_warnings += len(caught)
            accuracy[u, v] = np.mean(predicted == y[n_train:])
    return accuracy, n_warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=1000, help="number of scenes (the original: 1000)")
    parser.add_argument("--test", type=int, default=None, help="scenes held out at the end (default: scenes / 5)")
    parser.add_argument("--timesteps", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0, help="seeds the scenes and the network's random weights")
    args = parser.parse_args()
    n_test = args.test if args.test is not None else args.scenes // 5

    features, labels = activations(args.scenes, args.seed, args.timesteps)
    n_train = args.scenes - n_test
    print(
        f"{args.scenes} scenes ({n_train} train / {n_test} test), bglt_0111 with {args.timesteps} time steps, "
        f"randomly initialised (keras seed {args.seed}); {len(features)} units x {len(labels)} variables"
    )

    start = time.perf_counter()
    reference, n_warnings = linear_svc(features, labels, n_train)
    sklearn_s = time.perf_counter() - start
    print(f"scikit-learn LinearSVC, one fit per pair: {sklearn_s:.1f} s ({n_warnings} convergence warnings)")

    times = []
    for _ in range(2):
        start = time.perf_counter()
        result = decode(
            features,
            labels,
            cv=HoldOut(n_test),
            classifier="svm",
            C=1.0,
            standardize=False,
            intercept_scaling=1.0,
        )
        times.append(time.perf_counter() - start)
    print(f"tfprobe decode: {times[0]:.1f} s first call (graphs built), {times[1]:.1f} s second call")

    ours = result.scores[:, :, 0]
    gap = (ours - reference) * 100.0
    print(f"speedup {sklearn_s / times[0]:.1f}x (second call {sklearn_s / times[1]:.1f}x)")
    print("accuracy (%) tfprobe / LinearSVC:")
    width = max(len(name) for name in features)
    print(" " * width + "  " + "  ".join(f"{name:>13}" for name in labels))
    for u, name in enumerate(features):
        cells = "  ".join(f"{ours[u, v] * 100:5.1f} / {reference[u, v] * 100:5.1f}" for v in range(len(labels)))
        print(f"{name:<{width}}  {cells}")
    figures = {
        "speedup": sklearn_s / times[0],
        "speedup_warm": sklearn_s / times[1],
        "max_accuracy_gap": float(np.abs(gap).max()),
        "mean_accuracy_gap": float(np.abs(gap).mean()),
        "sklearn_s": sklearn_s,
        "tfprobe_s": times[0],
        "tfprobe_warm_s": times[1],
        "pairs": int(gap.size),
    }
    print(f"accuracy gap: max {figures['max_accuracy_gap']:.1f} points, mean {figures['mean_accuracy_gap']:.2f}")
    print(json.dumps({key: round(value, 4) for key, value in figures.items()}))


if __name__ == "__main__":
    main()
