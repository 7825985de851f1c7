"""Speed of tfprobe's cluttered-scene generator against the original per-image one, in one run.

Baseline: ``benchmarks/baselines/reference_scenes.gen_images``, a faithful port
of the study's ``gen_images`` (one scene and one object at a time with scipy's
``zoom`` / ``rotate``).  tfprobe: ``ClutteredScenes.sample``.  Both draw
objects from the same splits (MNIST's offline test copy split 55:5:10 and
Fashion-MNIST's study split).  The comparison runs on one core (the process
is pinned to one CPU); timings alternate between the
two and the median of the repeats is kept.

Before pinning, a second part checks that the ``tf.data`` pipeline keeps a
training step fed: the recurrent network bglt_0111 (4 time steps) trains on
``ClutteredScenes.dataset(batch_size=32)``, and the time each step waits for
its batch is measured against the step itself.

The last line printed is a JSON object with ``speedup`` (images per second,
tfprobe / reference), the rates, and the pipeline figures.

Run: ``python benchmarks/scene_speed.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import keras
import numpy as np

import tfprobe
from tfprobe.datasets import ClutteredScenes, load_fashion_mnist, load_mnist
from tfprobe.models import NegativeLogLikelihood

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from baselines.reference_scenes import gen_images  # noqa: E402


def pipeline_figures(generator: ClutteredScenes, steps: int, batch_size: int) -> dict[str, float]:
    """Train on the pipeline for ``steps`` steps; time spent waiting for batches versus training."""
    model = tfprobe.GainModulatedRNN.from_code("bglt_0111", timesteps=4)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=NegativeLogLikelihood())
    iterator = iter(generator.dataset(batch_size=batch_size))
    images, labels = next(iterator)
    model.train_on_batch(images, labels)  # compile the step
    waits, trains = [], []
    for _ in range(steps):
        start = time.perf_counter()
        images, labels = next(iterator)
        fetched = time.perf_counter()
        model.train_on_batch(images, labels)
        waits.append(fetched - start)
        trains.append(time.perf_counter() - fetched)
    start = time.perf_counter()
    generator.sample(batch_size)
    render = time.perf_counter() - start
    return {
        "train_step_s": statistics.median(trains),
        "render_batch_s": render,
        "max_wait_s": max(waits),
        "wait_fraction": sum(waits) / (sum(waits) + sum(trains)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-scenes", type=int, default=200, help="scenes per reference timing")
    parser.add_argument("--scenes", type=int, default=2000, help="scenes per tfprobe timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pipeline-steps", type=int, default=20, help="training steps fed by tf.data (0: skip)")
    args = parser.parse_args()

    digits = load_mnist(allow_single_split=True).train  # offline: the embedded test splits, divided
    fashion = load_fashion_mnist(allow_single_split=True).train
    generator = ClutteredScenes("train", seed=0, digits=digits, fashion=fashion)
    generator.sample(8)  # compile (or load) the renderer's kernels

    figures: dict[str, float] = {}
    if args.pipeline_steps:
        figures.update(pipeline_figures(generator, args.pipeline_steps, 32))
        print(
            f"pipeline (2 cores): training step {figures['train_step_s'] * 1e3:.0f} ms at batch 32, "
            f"rendering a batch {figures['render_batch_s'] * 1e3:.1f} ms; waited for images "
            f"{figures['wait_fraction']:.1%} of the time (longest wait {figures['max_wait_s'] * 1e3:.1f} ms)"
        )

    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    rng = np.random.default_rng(0)
    reference_rates, tfprobe_rates = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        gen_images(args.reference_scenes, (digits.images, digits.labels), (fashion.images, fashion.labels), rng)
        reference_rates.append(args.reference_scenes / (time.perf_counter() - start))
        start = time.perf_counter()
        generator.sample(args.scenes)
        tfprobe_rates.append(args.scenes / (time.perf_counter() - start))
    reference, fast = statistics.median(reference_rates), statistics.median(tfprobe_rates)
    figures.update(
        {
            "speedup": fast / reference,
            "reference_scenes_per_s": reference,
            "tfprobe_scenes_per_s": fast,
            "cpu": cpu,
        }
    )
    print(
        f"one core (CPU {cpu}): reference gen_images {reference:.0f} scenes/s, "
        f"tfprobe ClutteredScenes.sample {fast:.0f} scenes/s -> {figures['speedup']:.1f}x"
    )
    print(json.dumps({key: round(value, 4) for key, value in figures.items()}))


if __name__ == "__main__":
    main()
