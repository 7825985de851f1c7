"""What the machine itself can do, measured beside the benchmarks that compare against it: the cost of a
model's forward pass and input gradient alone (the floor of a feature-visualisation step) and the
throughput of matrix products, in float32 and bfloat16.

A helper module the benchmarks import (it prints no figures of its own; they print its measurements).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import keras
import tensorflow as tf


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    """The feature-visualisation task the speed benchmarks share: VGG16's ``block5_conv2``, 10 channels,
    128 px, 40 steps (issue 12), and the steps of the seed notebook's loop, timed per step."""
    parser.add_argument("--layer", default="block5_conv2")
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--seed-steps", type=int, default=8, help="steps of the seed loop, timed per step")


def vgg16(size: int, policy: str = "float32") -> keras.Model:
    """VGG16 without its top (``weights=None``: ImageNet weights cost the same) for ``size``-px images, its
    layers computing in the Keras dtype policy ``policy``; the same weights for the same arguments."""
    keras.utils.set_random_seed(0)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        return keras.applications.VGG16(weights=None, include_top=False, input_shape=(size, size, 3))
    finally:
        keras.config.set_dtype_policy(previous)


def model_limit(
    model: keras.Model, layer: str, count: int, size: int, jit_compile: bool, repeats: int = 3
) -> Callable[[], float]:
    """A function timing the model's forward pass to ``layer`` and its input gradient for ``count`` images
    (seconds, best of ``repeats``): what one optimisation step cannot go below (the whole layer computed)."""
    cut = keras.Model(model.input, model.get_layer(layer).output)
    images = tf.random.uniform((count, size, size, 3))

    @tf.function(jit_compile=jit_compile)
    def step(x: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(x)
            values = tf.cast(cut(x), tf.float32)
            total = tf.reduce_sum(tf.reduce_mean(values, axis=(1, 2))[:, :count])
        return tape.gradient(total, x)

    step(images).numpy()

    def measure() -> float:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            step(images).numpy()
            best = min(best, time.perf_counter() - start)
        return best

    return measure


def matmul_gflops(dtype: tf.DType, n: int = 2048, repeats: int = 5) -> float:
    """The machine's matrix-product throughput (GFLOP/s) in ``dtype``."""
    a = tf.cast(tf.random.uniform((n, n)), dtype)
    b = tf.cast(tf.random.uniform((n, n)), dtype)
    product = tf.function(lambda x, y: tf.matmul(x, y))
    product(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


