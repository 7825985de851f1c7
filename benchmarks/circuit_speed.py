"""Circuit speed: the seed notebook's workflow for one VGG16 filter, tfprobe versus the seed's way.

The workflow (issue 13): rank the 512 input channels of ``block5_conv2`` filter 2 by the L2 norm of their
kernels, then visualise the filter and its top 10 inputs at 128 px with 40 steps of gradient ascent.

* the seed's way: numpy ranking, then one eager ``generate_pattern`` call per image (the filter, then each
  input channel as a channel of ``block5_conv1``, the layer that feeds it; the seed itself mistakenly
  rendered channels of ``block5_conv2`` with the inputs' indices, which costs the same);
* tfprobe: ``tfprobe.circuit(Probe(vgg16), "block5_conv2", 2)`` then ``circuit.render(...)`` of the filter and its top
  10 inputs, the inputs in one compiled run.

VGG16 has ``weights=None`` (ImageNet weights cost the same).  Prints seconds of each and the ratio, and ends
with one JSON line holding ``speedup``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

import tfprobe  # sets TensorFlow's CPU allocator before TensorFlow runs anything
from tfprobe import Probe
from tfprobe.visualize.precision import PRECISIONS

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers


def seed_way(model: keras.Model, layer: str, input_layer: str, filter_index: int, top: int, size: int, steps: int):
    start = time.perf_counter()
    filters, _ = model.get_layer(layer).get_weights()
    specific_filter = filters[:, :, :, filter_index]
    l2_norms = np.sqrt(np.sum(np.square(specific_filter), axis=(0, 1)))
    top_indices = np.argsort(l2_norms)[-top:]
    peers.generate_pattern(model, layer, filter_index, size, steps)
    for channel in top_indices:
        peers.generate_pattern(model, input_layer, int(channel), size, steps)
    return time.perf_counter() - start, top_indices[::-1]


def tfprobe_way(
    model: keras.Model, layer: str, filter_index: int, top: int, size: int, steps: int, precision: str
):
    start = time.perf_counter()
    circuit = tfprobe.circuit(Probe(model), layer, filter_index)
    channels = [record.channel for record in circuit.top(top)]
    circuit.render(channels=channels, size=size, steps=steps, precision=precision, progress=False)
    return time.perf_counter() - start, circuit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="block5_conv2")
    parser.add_argument("--filter", type=int, default=2)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--precision", choices=PRECISIONS, default="float32", help="tfprobe's precision")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    vgg16 = keras.applications.VGG16(weights=None, include_top=False, input_shape=(args.size, args.size, 3))
    print(f"VGG16 (weights=None), {args.layer} filter {args.filter}, top {args.top} inputs, {args.size} px, "
          f"{args.steps} steps")
    # tfprobe first, cold: its time includes tracing and XLA compilation, the seed's includes none
    ours, circuit = tfprobe_way(vgg16, args.layer, args.filter, args.top, args.size, args.steps, args.precision)
    used = circuit.visualization.settings["precision"]
    print(f"  tfprobe (circuit + render, compiled on the way, {args.precision}): {ours:.1f} s")
    seed, seed_top = seed_way(vgg16, args.layer, circuit.input_layer, args.filter, args.top, args.size, args.steps)
    print(f"  the seed's way (eager, one image at a time):     {seed:.1f} s")
    same = [record.channel for record in circuit.top(args.top)] == [int(c) for c in seed_top]
    print(f"speed-up {seed / ours:.1f}x; the same top {args.top} inputs in the same order: {same}")
    print(json.dumps({"speedup": round(seed / ours, 3), "tfprobe_seconds": round(ours, 2),
                      "seed_seconds": round(seed, 2), "same_ranking": same, "precision": used}))


if __name__ == "__main__":
    main()
