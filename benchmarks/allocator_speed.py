"""What TensorFlow's BFC CPU allocator, which tfprobe turns on, does to the recurrent network's speed.

tfprobe sets ``TF_CPU_ALLOCATOR_USE_BFC=true`` unless the environment says otherwise (``tfprobe/_runtime.py``).
The allocator is chosen once per process, when TensorFlow starts, so each setting runs in a process of its own:
bglt_0111 with 4 time steps, the same weights and inputs, timed on a training step (``model.compile`` with
Adam(1e-4) and ``train_on_batch``, batch ``--train-batch``) and on inference returning every activation and
flow (batch ``--inference-batch``), the median of ``--repeats`` after ``--warmup`` calls.  The two settings
alternate over ``--rounds`` rounds, the order swapped every round, and the ratios are combined by their
geometric mean: over an even number of rounds, a process that runs faster for being first (or second) then
speeds up each setting alike.  On a machine shared with other work the per-round ratios still spread widely:
read them beside the combined figure.

The last line printed is a JSON object with ``train_step_ratio`` and ``inference_ratio`` (time with TensorFlow's
default allocator / time with BFC; the geometric mean over rounds), the per-round ratios, allocators and times,
and ``threads``.

Run: ``python benchmarks/allocator_speed.py`` (a few minutes on a 2-core CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from threads import add_threads_argument, describe, pin_threads

ALLOCATOR_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"  # tfprobe._runtime.ALLOCATOR_VARIABLE, read here without tfprobe
SETTINGS = {"bfc": "true", "default": "false"}


def measure(args: argparse.Namespace) -> dict[str, object]:
    """Time one process's training step and inference (the allocator is whatever the environment chose)."""
    threads = pin_threads(args.threads)  # before TensorFlow runs anything
    import keras
    import numpy as np
    import tensorflow as tf

    import tfprobe  # sets the allocator only if the environment did not
    from tfprobe.models import NegativeLogLikelihood

    keras.utils.set_random_seed(0)
    model = tfprobe.GainModulatedRNN.from_code("bglt_0111", timesteps=4)
    rng = np.random.default_rng(0)
    train_x = tf.constant(rng.random((args.train_batch, 100, 100, 1), dtype=np.float32))
    train_y = tf.constant(rng.integers(0, 20, args.train_batch))
    test_x = tf.constant(rng.random((args.inference_batch, 100, 100, 1), dtype=np.float32))
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=NegativeLogLikelihood())

    def train_step() -> None:
        model.train_on_batch(train_x, train_y)

    def inference() -> None:
        model(test_x, return_activations=True).log_probs.numpy()

    def median_time(fn: Callable[[], None]) -> float:
        for _ in range(args.warmup):
            fn()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    return {
        "allocator": os.environ.get(ALLOCATOR_VARIABLE),
        "train_step_s": median_time(train_step),
        "inference_s": median_time(inference),
        "threads": threads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="processes per setting, alternating (even: balanced)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--inference-batch", type=int, default=256)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    add_threads_argument(parser)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args)))
        return
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")

    forwarded = [
        f"--{name.replace('_', '-')}={getattr(args, name)}"
        for name in ("repeats", "warmup", "train_batch", "inference_batch")
    ]
    if args.threads is not None:
        forwarded.append(f"--threads={args.threads}")
    rounds = []
    for index in range(args.rounds):
        order = list(SETTINGS) if index % 2 == 0 else list(reversed(SETTINGS))
        result = {}
        for setting in order:
            env = {**os.environ, ALLOCATOR_VARIABLE: SETTINGS[setting]}
            done = subprocess.run(
                [sys.executable, __file__, "--child", *forwarded], env=env, capture_output=True, text=True, check=False
            )
            if done.returncode:
                sys.exit(f"the {setting} allocator's process failed:\n{done.stderr[-3000:]}")
            result[setting] = json.loads(done.stdout.strip().splitlines()[-1])
        threads = result["bfc"]["threads"]
        rounds.append(
            {
                "train_step_ratio": result["default"]["train_step_s"] / result["bfc"]["train_step_s"],
                "inference_ratio": result["default"]["inference_s"] / result["bfc"]["inference_s"],
                **{
                    f"{setting}_{key}": result[setting][key]
                    for setting in SETTINGS
                    for key in ("allocator", "train_step_s", "inference_s")
                },
            }
        )
        last = rounds[-1]
        print(
            f"round {index + 1}: training step (batch {args.train_batch}) BFC {1e3 * last['bfc_train_step_s']:.0f} ms, "
            f"default {1e3 * last['default_train_step_s']:.0f} ms -> {last['train_step_ratio']:.2f}x; inference "
            f"(batch {args.inference_batch}) BFC {1e3 * last['bfc_inference_s']:.0f} ms, default "
            f"{1e3 * last['default_inference_s']:.0f} ms -> {last['inference_ratio']:.2f}x",
            flush=True,
        )
    print(describe(threads))
    figures = {
        "train_step_ratio": round(statistics.geometric_mean(r["train_step_ratio"] for r in rounds), 4),
        "inference_ratio": round(statistics.geometric_mean(r["inference_ratio"] for r in rounds), 4),
        "rounds": [{key: round(v, 4) if isinstance(v, float) else v for key, v in r.items()} for r in rounds],
        "train_batch": args.train_batch,
        "inference_batch": args.inference_batch,
        "threads": threads,
    }
    print(
        f"BFC against TensorFlow's default allocator, geometric mean of {args.rounds} rounds: training step "
        f"{figures['train_step_ratio']:.2f}x, inference {figures['inference_ratio']:.2f}x faster"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
