"""Feature-visualisation speed against the peers, back to back in one process on the same model.

The task: VGG16 (``weights=None`` costs what ImageNet weights cost), ``block5_conv2``, 10 channels, 128 x 128
images, 40 steps, each library called as its documentation shows a new user (images in [0, 1] fed to the
model as they are, no preprocessing on either side):

* Xplique 2.0.2: ``optimize(Objective.channel(model, layer, channels), nb_steps=40, custom_shape=(128, 128))``
  (Fourier parameterisation, its standard transformations, Adam; ``custom_shape`` set to the image size so
  both libraries optimise 128-px images; its default is 512) and ``maco`` (one channel per call, 32 crops
  per step: reported per image and step, since a step there is 32 model evaluations);
* tfprobe: ``render(model, channel(layer, range(10)), steps=40)`` (the default recipe) and the maco recipe,
  in float32 and in bfloat16;
* tf-keras-vis 0.8.7's ``ActivationMaximization`` and the seed notebook's eager loop (the baselines of
  ``featurevis_speed.py``).

Every library's first call on a fresh copy of the model (tracing and compilation included) and its second
call on the same copy are timed, the best of ``--rounds`` rounds that go through every configuration in turn,
after one warm-up of the model's forward and backward pass at the same shapes so that
no library pays for oneDNN's kernel creation on the others' behalf.  Beside them the machine's own limit is
measured: the model's forward pass and input gradient alone, as a plain ``tf.function`` (oneDNN kernels) and
XLA-compiled, in float32 and bfloat16 (best of 3), so the JSON says what share of the limit each reached.
The bfloat16 run's executed graph (after TensorFlow's oneDNN rewrite) is read to say which convolution
kernels it ran in which type.

Xplique needs TensorFlow <= 2.20: run this with the side environment's Python (``bash benchmarks/peers_env.sh``
builds it); without Xplique the script says so in one line and exits with status 2.

Ends with one JSON line: ``speedup_vs_xplique``, ``speedup_vs_xplique_first_call``,
``bfloat16_speedup_vs_xplique``, ``share_of_fp32_peak``, ``speedup_vs_seed_loop``, ``speedup_vs_tf_keras_vis``
and the seconds behind them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers

peers.require_xplique("featurevis_peers.py")  # before anything imports TensorFlow: one line, no log

import keras  # noqa: E402
import machine  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfprobe  # noqa: E402, F401  (before TensorFlow runs anything: tfprobe sets its allocator)
from tfprobe import visualize as fv  # noqa: E402
from tfprobe.visualize.precision import cpu_flags, executed_convolutions, native_bfloat16  # noqa: E402


def ratio(baseline: float | None, ours: float) -> float | None:
    return None if baseline is None else round(baseline / ours, 3)


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    machine.add_task_arguments(parser)
    parser.add_argument("--maco-steps", type=int, default=4, help="steps of Xplique's maco per channel")
    parser.add_argument("--maco-channels", type=int, default=2, help="channels Xplique's maco renders")
    parser.add_argument(
        "--rounds", type=int, default=3, help="first and second calls of every configuration, the best kept"
    )
    parser.add_argument("--no-baselines", action="store_true", help="leave tf-keras-vis and the seed loop out")
    args = parser.parse_args()
    channels = list(range(args.channels))
    steps = args.steps
    flags = cpu_flags()
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, Xplique "
        f"{__import__('xplique').__version__}; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"AVX512-BF16: {'avx512_bf16' in flags}, AMX-BF16: {'amx_bf16' in flags}"
    )
    print(f"VGG16 (weights=None), {args.layer}, {args.channels} channels, {args.size} px, {steps} steps\n")

    model = machine.vgg16(args.size)
    half_model = machine.vgg16(args.size, "mixed_bfloat16")
    half_model.set_weights(model.get_weights())
    limit_runs = {
        "float32": machine.model_limit(model, args.layer, args.channels, args.size, jit_compile=False),
        "bfloat16": machine.model_limit(half_model, args.layer, args.channels, args.size, jit_compile=False),
        "float32_xla": machine.model_limit(model, args.layer, args.channels, args.size, jit_compile=True),
        "bfloat16_xla": machine.model_limit(half_model, args.layer, args.channels, args.size, jit_compile=True),
    }
    limits = {name: run() for name, run in limit_runs.items()}  # compiled and warmed up: oneDNN's kernels made
    gflops = {"float32": machine.matmul_gflops(tf.float32), "bfloat16": machine.matmul_gflops(tf.bfloat16)}

    def xplique_call(on: keras.Model) -> float:
        return peers.xplique_fourier(on, args.layer, channels, steps=steps, size=args.size)[1]

    def tfprobe_call(on: keras.Model, precision: str, recipe: str = "default", count: int = steps) -> float:
        options = {"recipe": recipe, "precision": precision, "progress": False}
        if recipe == "maco":
            options["maco_images"] = natural
        return timed(lambda: fv.render(on, fv.channel(args.layer, channels), steps=count, **options))

    def fresh() -> keras.Model:
        """The model again, as a new object: no library has traced or compiled anything for it."""
        copy = machine.vgg16(args.size)
        copy.set_weights(model.get_weights())
        return copy

    natural = np.random.default_rng(0).random((16, args.size, args.size, 3), dtype=np.float32)
    runs = {
        "xplique": xplique_call,
        "tfprobe": lambda on: tfprobe_call(on, "float32"),
        "tfprobe_bfloat16": lambda on: tfprobe_call(on, "bfloat16"),
        "tfprobe_maco": lambda on: tfprobe_call(on, "float32", "maco"),
        "tfprobe_maco_bfloat16": lambda on: tfprobe_call(on, "bfloat16", "maco"),
    }
    # rounds through every configuration in turn, each a first call on a fresh copy of the model and a second
    # call on the same copy, the best of each kept, so that slow drift or a busy moment of the machine does
    # not favour one side; the limit is measured in the same rounds and kept likewise
    first = {name: float("inf") for name in runs}
    second = dict(first)
    for _ in range(args.rounds):
        for name, run in runs.items():
            copy = fresh()
            first[name] = min(first[name], run(copy))
            second[name] = min(second[name], run(copy))
        for name, run in limit_runs.items():
            limits[name] = min(limits[name], run())
    times = {name: (first[name], second[name]) for name in runs}
    print("the machine's limit (forward + input gradient of the model alone, per step, best of the rounds):")
    for name, seconds in limits.items():
        print(f"  {name:<13} {seconds:.3f} s")
    print(f"  matrix products: {gflops['float32']:.0f} GFLOP/s in float32, {gflops['bfloat16']:.0f} in bfloat16\n")
    # which convolution kernels the bfloat16 loop ran, read from its executed graph (a model of its own, so
    # that the loop is traced afresh and the timings above are not slowed by the graph collection)
    convolutions = executed_convolutions(lambda: tfprobe_call(fresh(), "bfloat16", count=1))

    maco_calls = [
        peers.xplique_maco(model, args.layer, channels[: args.maco_channels], natural, steps=args.maco_steps)[1]
        for _ in range(2)
    ]
    xplique_maco_per_image_step = maco_calls[1] / (args.maco_steps * args.maco_channels)

    seed_per_step = tkv_per_step = None
    if not args.no_baselines:
        seed_per_step = peers.seed_loop(model, args.layer, channels, args.size, args.seed_steps) / args.seed_steps
        peers.tf_keras_vis(model, args.layer, channels, args.size, 2, value_range=(0.0, 1.0))  # trace
        tkv_per_step = peers.tf_keras_vis(model, args.layer, channels, args.size, steps, value_range=(0.0, 1.0))[1]
        tkv_per_step /= steps

    print(f"{'':<28} {'first call':>11} {'second call':>12} {'per step':>9} {'share of limit':>15}")
    for name, (first, second) in times.items():
        limit = limits["bfloat16" if "bfloat16" in name else "float32"]
        share = "" if "maco" in name else f"{limit / (second / steps):14.0%}"
        print(f"{name:<28} {first:10.1f}s {second:11.1f}s {second / steps:8.3f}s {share:>15}")
    print(
        f"{'xplique_maco':<28} {'':>11} {'':>12} {xplique_maco_per_image_step:8.3f}s per image and step "
        f"({args.maco_channels} channels x {args.maco_steps} steps, 32 crops each)"
    )
    if seed_per_step is not None:
        print(f"{'seed notebook loop':<28} {'':>11} {'':>12} {seed_per_step:8.3f}s ({args.seed_steps} steps)")
        print(f"{'tf-keras-vis 0.8.7':<28} {'':>11} {'':>12} {tkv_per_step:8.3f}s")
    print(f"\nexecuted convolutions of the bfloat16 run: {convolutions}")
    native, why = native_bfloat16(False)
    print(f"native bfloat16 here: {native} ({why})")

    xplique_first, xplique_second = times["xplique"]
    ours_first, ours_second = times["tfprobe"]
    half_second = times["tfprobe_bfloat16"][1]
    faster = "faster" if xplique_second >= ours_second else "SLOWER"
    print(
        f"\ntfprobe float32 is {xplique_second / ours_second:.2f}x Xplique's speed on the second call ({faster}), "
        f"{xplique_first / ours_first:.2f}x on the first; bfloat16 {xplique_second / half_second:.2f}x "
        "Xplique's float32"
    )
    figures = {
        "speedup_vs_xplique": round(xplique_second / ours_second, 3),
        "speedup_vs_xplique_first_call": round(xplique_first / ours_first, 3),
        "bfloat16_speedup_vs_xplique": round(xplique_second / half_second, 3),
        "bfloat16_speedup_vs_xplique_first_call": round(xplique_first / times["tfprobe_bfloat16"][0], 3),
        "share_of_fp32_peak": round(limits["float32"] / (ours_second / steps), 3),
        "share_of_bf16_peak": round(limits["bfloat16"] / (half_second / steps), 3),
        "xplique_share_of_fp32_peak": round(limits["float32"] / (xplique_second / steps), 3),
        "speedup_vs_seed_loop": ratio(seed_per_step, ours_second / steps),
        "speedup_vs_tf_keras_vis": ratio(tkv_per_step, ours_second / steps),
        "bfloat16_speedup_vs_seed_loop": ratio(seed_per_step, half_second / steps),
        "seconds": {name: [round(first, 3), round(second, 3)] for name, (first, second) in times.items()},
        "limit_seconds_per_step": {name: round(value, 4) for name, value in limits.items()},
        "matmul_gflops": {name: round(value, 1) for name, value in gflops.items()},
        "xplique_maco_seconds_per_image_step": round(xplique_maco_per_image_step, 4),
        "bfloat16_convolutions": convolutions,
        "native_bfloat16": native,
        "tensorflow": tf.__version__,
        "steps": steps,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
