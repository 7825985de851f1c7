"""Circuit speed: the seed notebook's workflow for one VGG16 filter, tfprobe versus the seed's way.

The workflow (issue 13): rank the 512 input channels of ``block5_conv2`` filter 2 by the L2 norm of their
kernels, then visualise the filter and its top 10 inputs at 128 px with 40 steps of gradient ascent.

* the seed's way: numpy ranking, then one eager ``generate_pattern`` call per image (the filter, then each
  input channel as a channel of ``block5_conv1``, the layer that feeds it; the seed itself mistakenly
  rendered channels of ``block5_conv2`` with the inputs' indices, which costs the same);
* tfprobe: ``Probe(vgg16).circuit("block5_conv2", 2)`` then ``circuit.render(...)`` of the filter and its top
  10 inputs, the inputs in one compiled run.

VGG16 has ``weights=None`` (ImageNet weights cost the same).  Prints seconds of each and the ratio, and ends
with one JSON line holding ``speedup``.
"""

from __future__ import annotations

import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf

from tfprobe import Probe


def generate_pattern(model: keras.Model, layer_name: str, channel_index: int, size: int, iterations: int):
    """The seed notebook's generate_pattern_for_channel (gray plus noise, RMS-normalised steps), eager."""
    activation_model = keras.Model(inputs=model.input, outputs=model.get_layer(layer_name).output)
    input_img_data = tf.Variable(tf.random.uniform((1, size, size, 3), dtype=tf.float32) * 20 + 128.0)
    for _ in range(iterations):
        with tf.GradientTape() as tape:
            tape.watch(input_img_data)
            loss = tf.reduce_mean(activation_model(input_img_data)[:, :, :, channel_index])
        grads = tape.gradient(loss, input_img_data)
        grads /= tf.sqrt(tf.reduce_mean(tf.square(grads))) + 1e-5
        input_img_data.assign_add(grads * 1.0)
    return input_img_data.numpy()[0]


def seed_way(model: keras.Model, layer: str, input_layer: str, filter_index: int, top: int, size: int, steps: int):
    start = time.perf_counter()
    filters, _ = model.get_layer(layer).get_weights()
    specific_filter = filters[:, :, :, filter_index]
    l2_norms = np.sqrt(np.sum(np.square(specific_filter), axis=(0, 1)))
    top_indices = np.argsort(l2_norms)[-top:]
    generate_pattern(model, layer, filter_index, size, steps)
    for channel in top_indices:
        generate_pattern(model, input_layer, int(channel), size, steps)
    return time.perf_counter() - start, top_indices[::-1]


def tfprobe_way(model: keras.Model, layer: str, filter_index: int, top: int, size: int, steps: int):
    start = time.perf_counter()
    circuit = Probe(model).circuit(layer, filter_index)
    circuit.render(channels=[record.channel for record in circuit.top(top)], size=size, steps=steps, progress=False)
    return time.perf_counter() - start, circuit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="block5_conv2")
    parser.add_argument("--filter", type=int, default=2)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    vgg16 = keras.applications.VGG16(weights=None, include_top=False, input_shape=(args.size, args.size, 3))
    print(f"VGG16 (weights=None), {args.layer} filter {args.filter}, top {args.top} inputs, {args.size} px, "
          f"{args.steps} steps")
    # tfprobe first, cold: its time includes tracing and XLA compilation, the seed's includes none
    ours, circuit = tfprobe_way(vgg16, args.layer, args.filter, args.top, args.size, args.steps)
    print(f"  tfprobe (circuit + render, compiled on the way): {ours:.1f} s")
    seed, seed_top = seed_way(vgg16, args.layer, circuit.input_layer, args.filter, args.top, args.size, args.steps)
    print(f"  the seed's way (eager, one image at a time):     {seed:.1f} s")
    same = [record.channel for record in circuit.top(args.top)] == [int(c) for c in seed_top]
    print(f"speed-up {seed / ours:.1f}x; the same top {args.top} inputs in the same order: {same}")
    print(json.dumps({"speedup": round(seed / ours, 3), "tfprobe_seconds": round(ours, 2),
                      "seed_seconds": round(seed, 2), "same_ranking": same}))


if __name__ == "__main__":
    main()
