"""Feature-visualisation speed: tfprobe's default recipe versus the seed notebook's loop and tf-keras-vis.

The task (as issue 12 sets it): VGG16 (``weights=None`` costs what ImageNet weights cost), ``block5_conv2``,
10 channels, 128 x 128 images, 40 steps.  In one run, on the same model:

* the seed notebook's ``generate_pattern_for_channel``: one channel at a time, eager, 40 steps of
  RMS-normalised gradient ascent (the baseline);
* tf-keras-vis 0.8.7's ``ActivationMaximization`` on a batch of 10 seed images (its defaults: jitter and
  rotation, total-variation and L1 regularisers, RMSprop), one score per channel;
* ``tfprobe.visualize.render(..., recipe="default", steps=40)``: the 10 channels in one compiled loop,
  in float32 and in bfloat16.

Prints seconds per step (for the 10 channels together) and the ratios, and ends with one JSON line:
``speedup_vs_seed_loop``, ``speedup_vs_tf_keras_vis``, ``seconds_per_step``, ``bfloat16_speedup``.
"""

from __future__ import annotations

import argparse
import json
import time

import keras
import tensorflow as tf

from tfprobe import visualize as fv

#: VGG16's input: 0-255 RGB through its caffe-style preprocessing (applied inside tfprobe's graph).
VGG16_INPUT = {"value_range": (0, 255), "preprocess": keras.applications.vgg16.preprocess_input}


def seed_loop(model: keras.Model, layer: str, channels: list[int], size: int, steps: int) -> float:
    """The seed notebook's generate_pattern_for_channel for every channel; seconds."""
    activation_model = keras.Model(inputs=model.input, outputs=model.get_layer(layer).output)
    start = time.perf_counter()
    for channel_index in channels:
        input_img_data = tf.random.uniform((1, size, size, 3), dtype=tf.float32) * 20 + 128.0
        input_img_data = tf.Variable(input_img_data)
        for _ in range(steps):
            with tf.GradientTape() as tape:
                tape.watch(input_img_data)
                all_channels_output = activation_model(input_img_data)
                loss = tf.reduce_mean(all_channels_output[:, :, :, channel_index])
            grads = tape.gradient(loss, input_img_data)
            grads /= tf.sqrt(tf.reduce_mean(tf.square(grads))) + 1e-5
            input_img_data.assign_add(grads * 1.0)
    return time.perf_counter() - start


def tf_keras_vis(model: keras.Model, layer: str, channels: list[int], size: int, steps: int) -> float | None:
    """tf-keras-vis 0.8.7 ActivationMaximization on a batch of seed images, one score per channel; seconds."""
    try:
        from tf_keras_vis.activation_maximization import ActivationMaximization
        from tf_keras_vis.utils.model_modifiers import ExtractIntermediateLayer
    except ImportError:
        print("  tf-keras-vis is not installed (pip install tf-keras-vis==0.8.7): skipped")
        return None
    visualizer = ActivationMaximization(model, model_modifier=[ExtractIntermediateLayer(layer)], clone=True)

    def score(output: tf.Tensor) -> tf.Tensor:
        return tf.stack([tf.reduce_mean(output[i, ..., c]) for i, c in enumerate(channels)])

    seed_input = tf.random.uniform((len(channels), size, size, 3), 0, 255)
    visualizer(score, seed_input=seed_input, steps=2)  # trace and warm up
    start = time.perf_counter()
    visualizer(score, seed_input=seed_input, steps=steps)
    return time.perf_counter() - start


def tfprobe_render(model: keras.Model, layer: str, channels: list[int], size: int, steps: int, precision: str):
    objective = fv.channel(layer, channels)
    options = {"size": size, "precision": precision, "progress": False, **VGG16_INPUT}
    fv.render(model, objective, steps=2, **options)  # compile
    start = time.perf_counter()
    result = fv.render(model, objective, steps=steps, **options)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="block5_conv2")
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--seed-steps", type=int, default=None, help="steps of the seed loop (default: --steps)")
    parser.add_argument(
        "--bfloat16-steps",
        type=int,
        default=8,
        help="steps of the bfloat16 run, timed per step (default 8: bfloat16 is emulated, and slow, on CPUs "
        "without AVX512-BF16)",
    )
    parser.add_argument("--no-tf-keras-vis", action="store_true", help="leave tf-keras-vis out")
    args = parser.parse_args()
    channels = list(range(args.channels))
    seed_steps = args.seed_steps or args.steps

    keras.utils.set_random_seed(0)
    vgg16 = keras.applications.VGG16(weights=None, include_top=False)  # any input size
    fixed = keras.applications.VGG16(weights=None, include_top=False, input_shape=(args.size, args.size, 3))
    fixed.set_weights(vgg16.get_weights())
    print(f"VGG16 (weights=None), {args.layer}, {args.channels} channels, {args.size} px, {args.steps} steps")

    seed_s = seed_loop(fixed, args.layer, channels, args.size, seed_steps) * args.steps / seed_steps
    print(f"  seed notebook's loop (eager, per channel): {seed_s / args.steps:.3f} s per step")
    tkv_s = None if args.no_tf_keras_vis else tf_keras_vis(fixed, args.layer, channels, args.size, args.steps)
    if tkv_s is not None:
        print(f"  tf-keras-vis 0.8.7 ActivationMaximization: {tkv_s / args.steps:.3f} s per step")
    ours_s, _ = tfprobe_render(vgg16, args.layer, channels, args.size, args.steps, "float32")
    print(f"  tfprobe default recipe, float32:           {ours_s / args.steps:.3f} s per step")
    bf16_steps = min(args.bfloat16_steps, args.steps)
    bf16_s, _ = tfprobe_render(vgg16, args.layer, channels, args.size, bf16_steps, "bfloat16")
    bf16_s *= args.steps / bf16_steps
    print(f"  tfprobe default recipe, bfloat16:          {bf16_s / args.steps:.3f} s per step ({bf16_steps} steps)")
    print(
        f"speed-up vs the seed loop {seed_s / ours_s:.1f}x"
        + (f", vs tf-keras-vis {tkv_s / ours_s:.1f}x" if tkv_s else "")
        + f"; bfloat16 {ours_s / bf16_s:.2f}x the speed of float32 (its effect on quality: featurevis_quality.py); "
        f"tfprobe's {ours_s / args.steps:.3f} s per step beside Xplique's 1.02 s measured on this task"
    )
    figures = {
        "speedup_vs_seed_loop": round(seed_s / ours_s, 3),
        "speedup_vs_tf_keras_vis": round(tkv_s / ours_s, 3) if tkv_s else None,
        "seconds_per_step": round(ours_s / args.steps, 4),
        "bfloat16_seconds_per_step": round(bf16_s / args.steps, 4),
        "bfloat16_speedup": round(ours_s / bf16_s, 3),
        "seed_loop_seconds_per_step": round(seed_s / args.steps, 4),
        "tf_keras_vis_seconds_per_step": round(tkv_s / args.steps, 4) if tkv_s else None,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
