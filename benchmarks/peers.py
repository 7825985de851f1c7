"""The feature-visualisation peers, called as their documentation shows, for the benchmarks beside this file.

A helper module the benchmarks import (it prints no figures of its own).

* Xplique 2.0.2 (``xplique.features_visualizations``): ``optimize`` (Lucid-style Fourier parameterisation,
  its "standard" transformations, Adam at 0.05, 256 steps) and ``maco`` (phase-only Fourier with a natural
  magnitude spectrum, random crops, Nadam at 1.0, 256 steps), one objective per image;
* tf-keras-vis 0.8.7's ``ActivationMaximization``;
* the seed notebook's loop (``generate_pattern_for_channel``: eager gradient ascent on raw pixels, one
  channel at a time).

Xplique needs TensorFlow <= 2.20: it lives in the side environment ``benchmarks/peers_env.sh`` builds.
:func:`require_xplique` stops a benchmark with one line saying how to build it when Xplique is missing.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras

#: The side environment's interpreter, once ``bash benchmarks/peers_env.sh`` has built it.
PEERS_PYTHON = Path(__file__).resolve().parent / ".peers-env" / "bin" / "python"
BUILD_COMMAND = "bash benchmarks/peers_env.sh"


def xplique_available() -> bool:
    """Whether Xplique is installed in this interpreter (found without importing it or TensorFlow)."""
    return importlib.util.find_spec("xplique") is not None


def missing_xplique_message(script: str) -> str:
    """The one line that says how to run ``script`` where Xplique is installed."""
    return (
        f"Xplique is not installed in this environment (it needs TensorFlow <= 2.20): build the side environment "
        f"with `{BUILD_COMMAND}`, then run `benchmarks/.peers-env/bin/python benchmarks/{script}`"
    )


def require_xplique(script: str) -> None:
    """Exit with status 2 and one line (no traceback) when Xplique is missing."""
    if not xplique_available():
        print(missing_xplique_message(script), file=sys.stderr)
        raise SystemExit(2)


def linear_head(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose last layer has no softmax (Xplique's documentation asks for logits)."""
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.layers[-1].activation = keras.activations.linear
    return copy


def xplique_fourier(
    model: keras.Model,
    layer: str,
    targets: Sequence[int],
    *,
    kind: str = "channel",
    steps: int = 256,
    size: int | None = None,
    value_range: tuple[float, float] = (0.0, 1.0),
    learning_rate: float = 0.05,
    fft_decay: float = 0.85,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Xplique's ``optimize`` for one image per target (a channel of ``layer``, or a neuron of it with
    ``kind="neuron"``), rendered at ``size`` (default: the model's input size) with Xplique's standard
    transformations for that size; images in [0, 1] and seconds (the call's wall time, tracing included:
    Xplique traces its step at every call)."""
    import keras
    from xplique.features_visualizations import Objective, optimize

    make = Objective.channel if kind == "channel" else Objective.neuron
    objective = make(model, layer, [int(t) for t in targets])
    size = size or int(model.input_shape[1])
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    images, _ = optimize(
        objective,
        optimizer=keras.optimizers.Adam(learning_rate),
        nb_steps=steps,
        fft_decay=fft_decay,
        custom_shape=(size, size),
        values_range=value_range,
    )
    final = np.asarray(images[-1])
    seconds = time.perf_counter() - start
    low, high = value_range
    return ((final - low) / (high - low)).astype(np.float32), seconds


def xplique_maco(
    model: keras.Model,
    layer: str,
    targets: Sequence[int],
    natural: np.ndarray,
    *,
    kind: str = "channel",
    steps: int = 256,
    size: int | None = None,
    box_size: float | None = None,
    crops: int = 32,
    noise: float = 0.08,
    learning_rate: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Xplique's ``maco`` once per target (it optimises one objective at a time), the magnitude spectrum
    from ``natural`` images in [0, 1]; images in [0, 1] and the seconds of all calls."""
    import keras
    import tensorflow as tf
    from xplique.features_visualizations import Objective, maco

    make = Objective.channel if kind == "channel" else Objective.neuron
    size = size or int(model.input_shape[1])
    dataset = tf.data.Dataset.from_tensor_slices(natural.astype(np.float32)).batch(256)
    images = []
    start = time.perf_counter()
    for index, target in enumerate(targets):
        keras.utils.set_random_seed(seed * 100_003 + index)
        image, _ = maco(
            make(model, layer, int(target)),
            optimizer=keras.optimizers.Nadam(learning_rate),
            maco_dataset=dataset,
            nb_steps=steps,
            noise_intensity=noise,
            box_size=box_size,
            nb_crops=crops,
            values_range=(0.0, 1.0),
            custom_shape=(size, size),
        )
        images.append(np.asarray(image, dtype=np.float32))
    return np.stack(images), time.perf_counter() - start


def tf_keras_vis(
    model: keras.Model, layer: str, channels: Sequence[int], size: int, steps: int, value_range=(0.0, 255.0)
) -> tuple[np.ndarray, float]:
    """tf-keras-vis 0.8.7 ActivationMaximization on a batch of seed images, one score per channel (its
    defaults: jitter and rotation, total-variation and L1 regularisers, RMSprop); images and seconds."""
    import tensorflow as tf
    from tf_keras_vis.activation_maximization import ActivationMaximization
    from tf_keras_vis.utils.model_modifiers import ExtractIntermediateLayer

    start = time.perf_counter()
    visualizer = ActivationMaximization(model, model_modifier=[ExtractIntermediateLayer(layer)], clone=True)

    def score(output: tf.Tensor) -> tf.Tensor:
        return tf.stack([tf.reduce_mean(output[i, ..., c]) for i, c in enumerate(channels)])

    low, high = value_range
    seed_input = tf.random.uniform((len(channels), size, size, model.input_shape[-1]), low, high)
    images = visualizer(score, seed_input=seed_input, steps=steps, input_range=(low, high))
    return np.asarray(images), time.perf_counter() - start


def generate_pattern(model: keras.Model, layer: str, channel: int, size: int, steps: int) -> np.ndarray:
    """The seed notebook's ``generate_pattern_for_channel``: eager gradient ascent on raw 0-255 pixels from
    gray plus noise, RMS-normalised steps of one pixel value; the image."""
    import keras
    import tensorflow as tf

    activation_model = keras.Model(inputs=model.input, outputs=model.get_layer(layer).output)
    input_img_data = tf.Variable(tf.random.uniform((1, size, size, 3), dtype=tf.float32) * 20 + 128.0)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            tape.watch(input_img_data)
            loss = tf.reduce_mean(activation_model(input_img_data)[:, :, :, channel])
        grads = tape.gradient(loss, input_img_data)
        grads /= tf.sqrt(tf.reduce_mean(tf.square(grads))) + 1e-5
        input_img_data.assign_add(grads * 1.0)
    return input_img_data.numpy()[0]


def seed_loop(model: keras.Model, layer: str, channels: Sequence[int], size: int, steps: int) -> float:
    """The seed notebook's loop: :func:`generate_pattern` for every channel, one after another; seconds."""
    start = time.perf_counter()
    for channel in channels:
        generate_pattern(model, layer, int(channel), size, steps)
    return time.perf_counter() - start
