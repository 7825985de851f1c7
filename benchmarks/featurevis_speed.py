"""Feature-visualisation speed in the main environment: tfprobe against the seed notebook's loop and
tf-keras-vis, in float32 and in bfloat16.

The task: VGG16 (``weights=None`` costs what ImageNet weights cost), ``block5_conv2``, 10 channels,
128 x 128 images, 40 steps.  In one run, on the same model:

* the seed notebook's ``generate_pattern_for_channel``: one channel at a time, eager, RMS-normalised
  gradient ascent (the baseline), timed over ``--seed-steps`` and given per step;
* tf-keras-vis 0.8.7's ``ActivationMaximization`` on a batch of 10 seed images (its defaults), one score
  per channel;
* ``tfprobe.visualize.render(..., steps=40)`` (the default recipe, compiled by a first call) in float32 and
  in bfloat16, and the machine's limit: the model's forward pass and input gradient alone (a plain
  ``tf.function``, oneDNN's kernels, the whole layer computed), so the JSON says what share of it tfprobe
  reached; the three in turn for ``--rounds`` rounds, the best of each kept.  The speed-ups are those of
  ``--precision`` (default float32; ``auto`` resolves to what the machine runs natively).

Xplique needs another TensorFlow: ``benchmarks/featurevis_peers.py`` measures it, in the side environment
``benchmarks/peers_env.sh`` builds.  Prints seconds per step (for the 10 channels together) and the ratios,
and ends with one JSON line: ``speedup_vs_seed_loop``, ``speedup_vs_tf_keras_vis``, ``seconds_per_step``,
``bfloat16_speedup`` (over float32), ``bfloat16_speedup_vs_seed_loop``, ``share_of_fp32_peak``,
``share_of_bf16_peak``, and the precision used with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import keras

import tfprobe  # noqa: F401  (sets TensorFlow's CPU allocator before TensorFlow runs anything)
from tfprobe import visualize as fv
from tfprobe.visualize.precision import PRECISIONS

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine
import peers


def tfprobe_call(model: keras.Model, layer: str, channels: list[int], size: int, steps: int, precision: str):
    """A timed call of tfprobe's default recipe (compiled by a first call here) and that first call's result."""
    objective = fv.channel(layer, channels)
    options = {"size": size, "precision": precision, "progress": False}
    first = fv.render(model, objective, steps=2, **options)  # compiles

    def call() -> float:
        start = time.perf_counter()
        fv.render(model, objective, steps=steps, **options)
        return time.perf_counter() - start

    return call, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    machine.add_task_arguments(parser)
    parser.add_argument("--precision", choices=PRECISIONS, default="float32", help="tfprobe's precision")
    parser.add_argument("--rounds", type=int, default=3, help="second calls of tfprobe, the best kept")
    parser.add_argument("--no-tf-keras-vis", action="store_true", help="leave tf-keras-vis out")
    args = parser.parse_args()
    channels = list(range(args.channels))
    steps = args.steps

    vgg16 = machine.vgg16(args.size)
    half = machine.vgg16(args.size, "mixed_bfloat16")
    half.set_weights(vgg16.get_weights())
    print(f"VGG16 (weights=None), {args.layer}, {args.channels} channels, {args.size} px, {steps} steps")
    limit_runs = {
        "float32": machine.model_limit(vgg16, args.layer, args.channels, args.size, jit_compile=False),
        "bfloat16": machine.model_limit(half, args.layer, args.channels, args.size, jit_compile=False),
    }

    seed_s = peers.seed_loop(vgg16, args.layer, channels, args.size, args.seed_steps) / args.seed_steps * steps
    print(f"  seed notebook's loop (eager, per channel): {seed_s / steps:.3f} s per step")
    tkv_s = None
    if not args.no_tf_keras_vis:
        try:
            peers.tf_keras_vis(vgg16, args.layer, channels, args.size, 2)  # trace and warm up
            tkv_s = peers.tf_keras_vis(vgg16, args.layer, channels, args.size, steps)[1]
            print(f"  tf-keras-vis 0.8.7 ActivationMaximization: {tkv_s / steps:.3f} s per step")
        except ImportError:
            print("  tf-keras-vis is not installed (pip install tf-keras-vis==0.8.7): left out")
    calls, chosen = {}, {}
    for precision in ("float32", "bfloat16", args.precision):
        calls[precision], chosen[precision] = tfprobe_call(vgg16, args.layer, channels, args.size, steps, precision)
    used, reason = chosen[args.precision].settings["precision"], chosen[args.precision].settings["precision_reason"]
    # float32, bfloat16 and the limit in turn, the best of the rounds kept: drift favours none of them
    seconds = {"float32": float("inf"), "bfloat16": float("inf")}
    limits = dict(seconds)
    for _ in range(args.rounds):
        for precision in seconds:
            seconds[precision] = min(seconds[precision], calls[precision]())
            limits[precision] = min(limits[precision], limit_runs[precision]())
    ours_s, fp32_s, bf16_s = seconds[used], seconds["float32"], seconds["bfloat16"]
    print(f"  tfprobe default recipe, float32: {fp32_s / steps:.3f} s per step")
    print(f"  tfprobe default recipe, bfloat16: {bf16_s / steps:.3f} s per step")
    print(f"  --precision {args.precision}: {used} ({reason})")
    print(
        f"  the machine's limit (the model's forward pass and input gradient alone): {limits['float32']:.3f} s per "
        f"step in float32, {limits['bfloat16']:.3f} in bfloat16"
    )
    print(
        f"{used}: speed-up vs the seed loop {seed_s / ours_s:.1f}x"
        + (f", vs tf-keras-vis {tkv_s / ours_s:.1f}x" if tkv_s else "")
        + f"; bfloat16 {fp32_s / bf16_s:.2f}x the speed of float32 and {seed_s / bf16_s:.1f}x the seed loop's"
        " (its effect on quality: featurevis_quality.py; Xplique: featurevis_peers.py)"
    )
    figures = {
        "speedup_vs_seed_loop": round(seed_s / ours_s, 3),
        "speedup_vs_tf_keras_vis": round(tkv_s / ours_s, 3) if tkv_s else None,
        "seconds_per_step": round(ours_s / steps, 4),
        "precision": used,
        "precision_reason": reason,
        "float32_seconds_per_step": round(fp32_s / steps, 4),
        "bfloat16_seconds_per_step": round(bf16_s / steps, 4),
        "bfloat16_speedup": round(fp32_s / bf16_s, 3),
        "bfloat16_speedup_vs_seed_loop": round(seed_s / bf16_s, 3),
        "float32_speedup_vs_seed_loop": round(seed_s / fp32_s, 3),
        "share_of_fp32_peak": round(limits["float32"] / (fp32_s / steps), 3),
        "share_of_bf16_peak": round(limits["bfloat16"] / (bf16_s / steps), 3),
        "limit_seconds_per_step": {name: round(value, 4) for name, value in limits.items()},
        "seed_loop_seconds_per_step": round(seed_s / steps, 4),
        "tf_keras_vis_seconds_per_step": round(tkv_s / steps, 4) if tkv_s else None,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
