"""Speed of a full contrast sensitivity function (CSF) measurement: tfprobe against a per-trial loop, in one run.

The workload is the linear-probe lab's test: a 2AFC probe on ResNet50 up to ``conv3_block4_out`` (the lab's
``layer2``, 512 x 28 x 28 features at 224 px; ``weights=None``: timing needs no ImageNet weights), a bisection
staircase (at most ``--max-iterations`` tests) at every spatial frequency of a ``--size`` image (the divisors of
the size up to size / 2: 11 for 224), each test made of the 13 orientations shown in both intervals (26 trials).

Baseline, the lab's procedure trial by trial: for each frequency, for each staircase test, for each trial, make
the grating and the gray image and run the whole probe (backbone on both images, read-out) on that one pair.
tfprobe: ``measure_csf``: the gray image's features once, each grating's features once for both of its trials,
every frequency still searching tested in one batch.  Both run the same staircase on the same probe, so they
must find the same thresholds (checked).

The last line printed is a JSON object with ``speedup`` (baseline time / tfprobe time), the times, the number of
backbone images each ran, and the largest threshold difference.

Run: ``python benchmarks/csf_speed.py`` (``--size 64 --layer conv2_block3_out`` for a quick run).
"""

from __future__ import annotations

import argparse
import json
import time

import keras
import numpy as np

from tfprobe.datasets import csf_frequencies, grating_orientations, sinusoidal_gratings
from tfprobe.models import load_model
from tfprobe.psychophysics import TwoAFCProbe, bisection_staircase, frozen_backbone, measure_csf


def reference_csf(probe: TwoAFCProbe, frequencies, orientations, max_iterations: int) -> tuple[np.ndarray, int]:
    """Trial by trial, as the lab's loop: every trial runs the probe on its own pair of images."""
    size = probe.input_size[0]
    calls = 0

    def accuracy(contrast: float, frequency: float) -> float:
        nonlocal calls
        correct = 0
        for theta in orientations:
            grating = sinusoidal_gratings(size, frequency, theta, contrast, channels=3)
            gray = sinusoidal_gratings(size, frequency, theta, 0.0, channels=3)
            correct += int(np.argmax(probe([gray, grating], training=False)[0]) == 1)
            correct += int(np.argmax(probe([grating, gray], training=False)[0]) == 0)
            calls += 4
        return correct / (2 * len(orientations))

    thresholds = []
    for frequency in frequencies:
        result = bisection_staircase(
            lambda c, k, f=frequency: np.array([accuracy(float(c[0]), f)]), 1, max_iterations=max_iterations
        )
        thresholds.append(result.thresholds[0])
    return np.array(thresholds), calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=224, help="image side (default 224)")
    parser.add_argument("--layer", default="conv3_block4_out", help="ResNet50 layer (default conv3_block4_out)")
    parser.add_argument("--orientations", type=int, default=13, help="orientations per test (default 13)")
    parser.add_argument("--max-iterations", type=int, default=20, help="staircase cap (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    resnet = load_model("resnet50", weights=None, include_top=False)
    backbone = frozen_backbone(resnet, args.layer, input_size=args.size)
    # An untrained read-out (timing does not need a trained one), whose decisions depend on contrast and frequency.
    probe = TwoAFCProbe(backbone, standardize=False)
    frequencies = csf_frequencies(args.size)
    orientations = grating_orientations(args.orientations)
    print(
        f"ResNet50 up to {args.layer} ({'x'.join(map(str, backbone.outputs[0].shape[1:]))} features), "
        f"{args.size} px, {len(frequencies)} spatial frequencies x {len(orientations)} orientations x 2 intervals, "
        f"staircase of at most {args.max_iterations} tests"
    )
    # Warm both paths up once (graph building for tfprobe, the first eager call for the loop).
    measure_csf(probe, frequencies[:1], n_orientations=args.orientations, max_iterations=1)
    probe([np.zeros((1, args.size, args.size, 3), np.float32)] * 2)

    start = time.perf_counter()
    ours = measure_csf(probe, frequencies, n_orientations=args.orientations, max_iterations=args.max_iterations)
    tfprobe_s = time.perf_counter() - start
    tests = int(ours.staircase.iterations.sum())
    tfprobe_images = tests * len(orientations) + 1
    print(f"tfprobe measure_csf: {tfprobe_s:.1f} s ({tests} staircase tests, {tfprobe_images} backbone images)")

    start = time.perf_counter()
    reference, calls = reference_csf(probe, frequencies, orientations, args.max_iterations)
    reference_s = time.perf_counter() - start
    print(f"per-trial loop:      {reference_s:.1f} s ({calls} backbone images)")

    gap = float(np.max(np.abs(np.log(ours.thresholds) - np.log(reference))))
    if gap > 1e-6:
        print(f"WARNING: thresholds differ (largest log ratio {gap:.3g}): decisions flip within float rounding")
    speedup = reference_s / tfprobe_s
    print(f"speedup: {speedup:.1f}x")
    figures = {
        "speedup": round(speedup, 2),
        "tfprobe_s": round(tfprobe_s, 2),
        "reference_s": round(reference_s, 2),
        "tfprobe_backbone_images": tfprobe_images,
        "reference_backbone_images": calls,
        "staircase_tests": tests,
        "max_log_threshold_gap": gap,
        "size": args.size,
        "layer": args.layer,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
