"""The fast schedule with and without its curriculum, over several seeds: validation accuracy after N steps.

The curriculum (scenes without clutter fading out of the training batches over the warm-up, see
``tfprobe/recurrent/schedules.py``) was first judged on one run per arm, while single runs this short differ
by several points for reasons other than the schedule.  This script trains bglt_0111 (4 time steps) with
``tfprobe.recurrent.train`` for ``--steps`` steps of the ``"fast"`` schedule, once as it is and once with
``curriculum_fraction=0`` (everything else the same), for each seed: the seed sets the initial weights
(``keras.utils.set_random_seed``) and the training stream (``train(seed=...)``).  Every run is validated on
the same ``--validation`` cluttered scenes (the validation split, seed 1: the set a seed-0 run draws).

The two arms run side by side, each in a process of its own with ``--threads`` threads (default: half the
cores each), going through the seeds in turn; a machine whose load changes then slows both alike.

It prints each run's validation curve as it ends, then per arm the mean and the sample standard deviation of
the final validation accuracy, and last a JSON object with ``runs``, ``arms`` (``mean``, ``std``,
``accuracies``), ``difference`` (mean with minus mean without), ``steps``, ``seeds`` and ``threads``.

Run: ``python benchmarks/curriculum_seeds.py --steps 1000`` (six runs, three per process; one 1,000-step run
takes about 7-8 minutes on a quiet 2-core CPU with both cores).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from threads import add_threads_argument, available_cores, describe, pin_threads

ARMS = ("with curriculum", "without curriculum")


def run_arm(args: argparse.Namespace) -> None:
    """One arm over every seed, in this process: a JSON line per run on stdout, a sentence on stderr."""
    threads = pin_threads(args.threads)  # before TensorFlow runs anything
    import keras

    import tfprobe  # noqa: F401  (sets TensorFlow's CPU allocator before TensorFlow runs anything)
    from tfprobe.datasets import ClutteredScenes
    from tfprobe.models import GainModulatedRNN
    from tfprobe.recurrent import train
    from tfprobe.recurrent.schedules import get_schedule

    schedule = get_schedule("fast") if args.arm == ARMS[0] else get_schedule("fast", curriculum_fraction=0.0)
    validate_every = args.validate_every or max(1, args.steps // 4)
    validation = ClutteredScenes("validation", seed=1, allow_single_split=True).sample(args.validation)
    for seed in args.seeds:
        keras.utils.set_random_seed(seed)
        model = GainModulatedRNN.from_code(args.code, timesteps=4)
        start = time.perf_counter()
        result = train(
            model,
            args.steps,
            schedule=schedule,
            seed=seed,
            validation=validation,
            validate_every=validate_every,
            progress=False,
        )
        run = {
            "arm": args.arm,
            "seed": seed,
            "validation_accuracy": result.validation_accuracy,
            "curve": {int(entry["step"]): round(entry["validation_accuracy"], 4) for entry in result.history},
            "s_per_step": round(result.seconds / result.steps, 4),
            "wall_s": round(time.perf_counter() - start, 1),
            "threads": threads,
        }
        print(json.dumps(run), flush=True)
        curve = ", ".join(f"{100 * accuracy:.1f}% after {step}" for step, accuracy in run["curve"].items())
        print(
            f"{args.arm}, seed {seed}: {100 * run['validation_accuracy']:.1f}% ({curve}); "
            f"{run['s_per_step']:.3f} s per step, {run['wall_s'] / 60:.1f} minutes",
            file=sys.stderr,
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="training steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one run per arm and seed")
    parser.add_argument("--validation", type=int, default=1000, help="validation scenes (the same for every run)")
    parser.add_argument("--validate-every", type=int, default=None, help="default: a quarter of --steps")
    parser.add_argument("--code", default="bglt_0111")
    parser.add_argument("--arm", choices=ARMS, help=argparse.SUPPRESS)  # set in the two child processes
    add_threads_argument(parser, default=max(1, available_cores() // 2), what="half the cores, for each arm")
    args = parser.parse_args()
    if len(set(args.seeds)) < 2:
        parser.error("give at least two distinct --seeds: a spread needs more than one run per arm")
    if args.arm is not None:
        run_arm(args)
        return

    print(
        f"{args.code}, 4 time steps, {args.steps} steps of the fast schedule with its curriculum and without, "
        f"seeds {args.seeds}, {args.validation} validation scenes; the arms side by side, {args.threads} "
        "thread(s) each",
        flush=True,
    )
    forwarded = [
        f"--steps={args.steps}",
        "--seeds",
        *map(str, args.seeds),
        f"--validation={args.validation}",
        f"--code={args.code}",
        f"--threads={args.threads}",
    ]
    if args.validate_every is not None:
        forwarded.append(f"--validate-every={args.validate_every}")
    children = {
        arm: subprocess.Popen([sys.executable, __file__, f"--arm={arm}", *forwarded], stdout=subprocess.PIPE, text=True)
        for arm in ARMS
    }
    outputs = {arm: child.communicate()[0] for arm, child in children.items()}
    failed = [arm for arm, child in children.items() if child.returncode]
    if failed:
        sys.exit(f"the process of {' and '.join(failed)} failed (its error is above)")
    runs = [json.loads(line) for arm in ARMS for line in outputs[arm].splitlines() if line.startswith("{")]
    threads = runs[0]["threads"]
    for run in runs:
        del run["threads"]
    print(describe(threads), "(each arm)")

    arms = {}
    for arm in ARMS:
        accuracies = [run["validation_accuracy"] for run in runs if run["arm"] == arm]
        arms[arm] = {
            "accuracies": [round(a, 4) for a in accuracies],
            "mean": round(statistics.mean(accuracies), 4),
            "std": round(statistics.stdev(accuracies), 4),
        }
        print(
            f"{arm}: {100 * arms[arm]['mean']:.1f}% +- {100 * arms[arm]['std']:.1f} (sample std) over "
            f"{len(accuracies)} seeds: " + ", ".join(f"{100 * a:.1f}%" for a in accuracies)
        )
    difference = arms[ARMS[0]]["mean"] - arms[ARMS[1]]["mean"]
    print(f"difference of the means: {100 * difference:+.1f} points")
    print(
        json.dumps(
            {
                "steps": args.steps,
                "seeds": args.seeds,
                "validation_scenes": args.validation,
                "runs": runs,
                "arms": arms,
                "difference": round(difference, 4),
                "threads": threads,
            }
        )
    )


if __name__ == "__main__":
    main()
