"""Speed and memory of ``tfprobe.dataset_examples`` against the way users rank dataset examples today (issue 28).

The task: the 9 Fashion-MNIST training images (all 60,000 of them) that drive each of the 64 channels of a
VGG-style CNN's ``conv4`` (14 x 14 x 64) most, and the 9 that drive it least, by each channel's spatial maximum.
The CNN (conv32-conv32-pool-conv64-conv64-pool-dense, pixels scaled by its first layer) is seeded and trained
briefly: ``--train-steps`` Adam steps of 128 images (default 100, about a fifth of an epoch; 0 leaves it
untrained).  Both sides read the same images the same way: one uint8 ``.npy`` file memory-mapped, converted to
float32 batch by batch.

* the argsort way, what users write today:
  ``keras.Model(model.input, model.get_layer("conv4").output).predict(images, batch_size=B)`` keeping every
  activation of every image in memory, the spatial maximum per channel, and ``np.argsort`` per channel (a
  stable sort, so that ties go to the lower image index, tfprobe's rule) for the top and the bottom k;
* tfprobe: ``tfprobe.dataset_examples(model, "conv4", images, k=9, batch_size=B)``, one streamed pass keeping a
  running top-k and bottom-k per channel (and each maximum's position, which the argsort way does not find).

Same threads for both (``--threads``, applied to TensorFlow's and the BLAS pools before anything runs), the same
batch size, and compilation counted the same way: after one untimed warm-up of each side (which starts the
process's thread pools and kernels), every timed call of either side starts from a fresh function (a new cut
model for ``predict``, a new probe for tfprobe), so each pays its own tracing once per call.  The two sides
alternate over ``--repeats`` rounds, the order swapped every round; the best time of each is compared.

Each side's CPU time (``time.process_time``: every thread of the process) is reported beside its wall time: on a
machine shared with other work the wall times of the two sides can be slowed unequally, their CPU times much less.

Where the time goes is measured beside them: the argsort way's ``predict`` / channel maximum / argsort; the
forward floor (a plain compiled function of the cut model and the spatial maximum over the same batches: the
work neither side can avoid, so ``speedup_ceiling``, the argsort way's time over it, bounds what any streamed
search can gain here); and tfprobe's top-k merges replayed alone on the same scores.

Memory: each side runs alone in a fresh child process over the first ``--small`` images (default a tenth) and
over all ``--images``, and each child reports its peak resident set size (``VmHWM``; raw peaks, nothing
subtracted).  Streaming keeps tfprobe's peak flat (target ``peak_rss_ratio_60k_over_6k`` <= 1.2); the
argsort way's grows with the images (14 x 14 x 64 float32 activations are 50 KB an image).

Last, when ``tfprobe.atlas`` exists, the atlas of the 64-channel layer in one call (``atlas_seconds``,
``atlas_split``: how its time split).

The last line printed is one JSON object: ``speedup_vs_argsort``, ``same_indices``, ``peak_rss_ratio_60k_over_6k``
and the figures behind them, the targets and whether each was met, ``threads`` and the load average.

Run: ``python benchmarks/dataset_examples_speed.py`` (a few minutes on a 2-core CPU); a quick check:
``python benchmarks/dataset_examples_speed.py --images 300 --small 100 --train-steps 2 --repeats 1``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from memory import child_figures, high_water_mark_kib
from threads import add_threads_argument, describe, pin_threads

LAYER = "conv4"
#: The issue's targets.
TARGETS = {"speedup_vs_argsort": 5.0, "peak_rss_ratio_60k_over_6k": 1.2}


# ---------------------------------------------------------------------------------------------------- data, model


def training_images(count: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``count`` Fashion-MNIST training images (uint8, (count, 28, 28, 1)) in the official file's order,
    their labels, and where they came from (repeated, and said so, when fewer exist)."""
    from tfprobe.datasets import load_fashion_mnist

    data = load_fashion_mnist(allow_single_split=True)
    splits = [data.validation, data.train] + ([data.test] if data.embedded else [])
    order = np.argsort(np.concatenate([split.indices for split in splits]), kind="stable")
    images = np.concatenate([split.images for split in splits])[order]
    labels = np.concatenate([split.labels for split in splits])[order]
    kind = "the embedded test split" if data.embedded else "official training set"
    source = f"Fashion-MNIST ({kind}, {len(images):,} images)"
    if count > len(images):
        repeats = -(-count // len(images))
        images, labels = np.tile(images, (repeats, 1, 1)), np.tile(labels, repeats)
        source += f", repeated to {count:,}"
    return images[:count, ..., None], labels[:count], source


def vgg_style(seed: int) -> Any:
    """conv32-conv32-pool-conv64-conv64-pool-dense128-dense10 for 28 x 28 uint8 images, scaled by its first layer."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inputs = keras.Input((28, 28, 1), name="images")
    x = layers.Rescaling(1 / 255, name="scale")(inputs)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name=LAYER)(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="fc1")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="fashion_vgg")


def train(model: Any, images: np.ndarray, labels: np.ndarray, steps: int) -> float:
    """``steps`` Adam steps of 128 images (the first ones); seconds taken."""
    import keras

    if steps <= 0:
        return 0.0
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    count = min(len(images), steps * 128)
    start = time.perf_counter()
    model.fit(np.asarray(images[:count]), labels[:count], batch_size=128, epochs=1, verbose=0)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------- the two ways


def argsort_way(model: Any, images: Any, k: int, batch_size: int) -> dict[str, Any]:
    """Every activation of the layer kept (``predict``), the spatial maximum, a stable argsort per channel."""
    import keras

    start, cpu = time.perf_counter(), time.process_time()
    cut = keras.Model(model.input, model.get_layer(LAYER).output)
    maps = cut.predict(images, batch_size=batch_size, verbose=0)
    predicted = time.perf_counter()
    scores = maps.max(axis=(1, 2))  # (images, channels)
    reduced = time.perf_counter()
    top = np.argsort(-scores, axis=0, kind="stable")[:k].T  # stable: ties to the lower index
    bottom = np.argsort(scores, axis=0, kind="stable")[:k].T
    done = time.perf_counter()
    return {
        "seconds": done - start,
        "cpu_seconds": time.process_time() - cpu,
        "split": {"predict": predicted - start, "channel_max": reduced - predicted, "argsort": done - reduced},
        "activation_gib": maps.nbytes / 2**30,
        "top": top,
        "bottom": bottom,
        "scores": scores,
    }


def tfprobe_way(model: Any, images: Any, k: int, batch_size: int) -> dict[str, Any]:
    """One streamed ``dataset_examples`` pass (top and bottom k)."""
    import tfprobe

    start, cpu = time.perf_counter(), time.process_time()
    result = tfprobe.dataset_examples(model, LAYER, images, k=k, batch_size=batch_size, progress=False)
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "top": result.indices,
        "bottom": result.bottom_indices,
        "top_scores": result.scores,
    }


WAYS = {"argsort": argsort_way, "tfprobe": tfprobe_way}


def forward_floor(model: Any, images: Any, batch_size: int) -> tuple[float, float]:
    """Seconds (wall and CPU) of the work neither side avoids: the layer computed and reduced to its channel maxima,
    batch by batch, in one compiled function traced beforehand."""
    import keras
    import tensorflow as tf

    cut = keras.Model(model.input, model.get_layer(LAYER).output)
    step = tf.function(lambda x: tf.reduce_max(cut(x, training=False), axis=(1, 2)), reduce_retracing=True)
    step(tf.constant(np.asarray(images[:batch_size], np.float32))).numpy()
    last = len(images) % batch_size
    if last:
        step(tf.constant(np.asarray(images[:last], np.float32))).numpy()
    start, cpu = time.perf_counter(), time.process_time()
    for begin in range(0, len(images), batch_size):
        step(tf.constant(np.asarray(images[begin : begin + batch_size], np.float32))).numpy()
    return time.perf_counter() - start, time.process_time() - cpu


def topk_merges(scores: np.ndarray, k: int, batch_size: int) -> float:
    """Seconds of tfprobe's running top-k and bottom-k merges alone, replayed on the same scores and batches."""
    from tfprobe.examples.topk import TopK

    channels = scores.shape[1]
    warm = TopK.empty(channels, k)
    warm.add(
        scores[:batch_size],
        np.arange(min(batch_size, len(scores))),
        np.zeros((*scores[:batch_size].shape, 2), np.int32),
    )
    top, low = TopK.empty(channels, k), TopK.empty(channels, k, negated=True)
    start = time.perf_counter()
    for begin in range(0, len(scores), batch_size):
        batch = scores[begin : begin + batch_size]
        indices = np.arange(begin, begin + len(batch))
        positions = np.zeros((*batch.shape, 2), np.int32)
        top.add(batch, indices, positions)
        low.add(batch, indices, positions)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------- memory


def child(args: argparse.Namespace) -> None:
    """One side alone over the first ``--images`` images of ``--data`` (run in a fresh process)."""
    pin_threads(args.threads)
    import keras

    import tfprobe  # noqa: F401  (the same TensorFlow allocator as the parent, whichever side runs)

    model = keras.saving.load_model(args.model)
    images = np.load(args.data, mmap_mode="r")[: args.images]
    outcome = WAYS[args.child](model, images, args.k, args.batch_size)
    print(json.dumps({"seconds": outcome["seconds"], "peak_rss_kib": high_water_mark_kib()}))


def peak_rss(way: str, data: Path, model: Path, count: int, args: argparse.Namespace, threads: int) -> float:
    """Peak resident memory (MiB) of one side over ``count`` images, in a fresh child process."""
    command = [
        sys.executable,
        __file__,
        *("--child", way, "--data", str(data), "--model", str(model), "--images", str(count)),
        *("--k", str(args.k), "--batch-size", str(args.batch_size), "--threads", str(threads)),
    ]
    return child_figures(command)["peak_rss_kib"] / 1024


# ---------------------------------------------------------------------------------------------------- atlas


def time_atlas(model: Any, images: Any, folder: Path, k: int, steps: int | None, batch_size: int) -> dict[str, Any]:
    """The atlas of the layer in one call, when ``tfprobe.atlas`` exists: total seconds and how they split."""
    import tfprobe

    atlas = getattr(tfprobe, "atlas", None)
    if atlas is None:
        return {"atlas_seconds": None, "atlas_split": None, "atlas_note": "tfprobe.atlas is not available in this tree"}
    options: dict[str, Any] = {"out": folder, "k": k, "batch_size": batch_size, "progress": False}
    if steps is not None:
        options["steps"] = steps
    start = time.perf_counter()
    result = atlas(model, [LAYER], images, **options)
    seconds = time.perf_counter() - start
    split = getattr(result, "seconds", None)
    return {
        "atlas_seconds": round(seconds, 3),
        "atlas_split": None if split is None else {name: round(float(value), 3) for name, value in dict(split).items()},
        "atlas_note": f"tfprobe.atlas(model, [{LAYER!r}], images, out=..., k={k}, batch_size={batch_size}"
        + ("" if steps is None else f", steps={steps}")
        + ")",
    }


# ---------------------------------------------------------------------------------------------------- main


def compare(args: argparse.Namespace, model: Any, images: Any) -> dict[str, Any]:
    """Both ways, warmed up alike, alternating over the rounds; the best time of each and whether they agree."""
    warm = images[: min(len(images), 2 * args.batch_size)]
    for way in WAYS.values():  # the process's thread pools, kernels and caches, for both alike
        way(model, warm, min(args.k, len(warm)), args.batch_size)
    one_batch = {
        name: way(model, images[: args.batch_size], 1, args.batch_size)["seconds"] for name, way in WAYS.items()
    }
    times: dict[str, list[float]] = {name: [] for name in WAYS}
    cpu_times: dict[str, list[float]] = {name: [] for name in WAYS}
    outcomes: dict[str, dict[str, Any]] = {}
    for round_ in range(args.repeats):
        order = list(WAYS) if round_ % 2 == 0 else list(reversed(WAYS))
        for name in order:
            outcome = WAYS[name](model, images, args.k, args.batch_size)
            times[name].append(outcome["seconds"])
            cpu_times[name].append(outcome["cpu_seconds"])
            print(
                f"  round {round_ + 1}: {name:<8} {outcome['seconds']:7.2f} s ({outcome['cpu_seconds']:.1f} CPU-s, "
                f"load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            if name not in outcomes or outcome["seconds"] <= min(times[name]):
                outcomes[name] = outcome
            del outcome
    return {"times": times, "cpu_times": cpu_times, "outcomes": outcomes, "one_batch": one_batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60000, help="training images ranked (default 60,000: all)")
    parser.add_argument("--small", type=int, default=None, help="images of the small memory run (default: a tenth)")
    parser.add_argument("--k", type=int, default=9)
    parser.add_argument("--batch-size", type=int, default=256, help="batch of both ways (default 256)")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of both ways, alternating (default 2)")
    parser.add_argument("--train-steps", type=int, default=100, help="Adam steps of 128 images before ranking")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-memory", action="store_true", help="skip the child processes measuring peak memory")
    parser.add_argument("--no-atlas", action="store_true", help="skip timing tfprobe.atlas")
    parser.add_argument("--atlas-steps", type=int, default=None, help="feature-visualisation steps of the atlas")
    parser.add_argument("--child", choices=sorted(WAYS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    add_threads_argument(parser)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    small = args.small if args.small is not None else max(args.k, args.images // 10)
    if not args.k <= small <= args.images:
        parser.error(f"need k <= --small <= --images, got {args.k}, {small}, {args.images}")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    load_before = os.getloadavg()
    threads = pin_threads(args.threads)  # before TensorFlow runs anything
    import tensorflow as tf

    pixels, labels, source = training_images(args.images)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        data = folder / "images.npy"
        np.save(data, pixels)
        del pixels
        images = np.load(data, mmap_mode="r")  # both ways read this, converting batch by batch
        model = vgg_style(args.seed)
        train_seconds = train(model, images, labels, args.train_steps)
        model_file = folder / "model.keras"
        model.save(model_file)
        print(
            f"{source}; fashion_vgg (seed {args.seed}) trained for {args.train_steps} steps of 128 images "
            f"({train_seconds:.0f} s); ranking {LAYER} {tuple(model.get_layer(LAYER).output.shape[1:])}, k={args.k}, "
            f"batch {args.batch_size}; TensorFlow {tf.__version__}\n{describe(threads)}",
            flush=True,
        )
        compared = compare(args, model, images)
        outcomes, times = compared["outcomes"], compared["times"]
        baseline, ours = outcomes["argsort"], outcomes["tfprobe"]
        argsort_s, tfprobe_s = min(times["argsort"]), min(times["tfprobe"])
        cpu_times = compared["cpu_times"]
        argsort_cpu, tfprobe_cpu = min(cpu_times["argsort"]), min(cpu_times["tfprobe"])
        same_top = bool(np.array_equal(baseline["top"], ours["top"]))
        same_bottom = bool(np.array_equal(baseline["bottom"], ours["bottom"]))
        top_scores = np.take_along_axis(baseline["scores"].T, baseline["top"], axis=1)
        score_gap = float(np.abs(top_scores - ours["top_scores"]).max())
        floor_s, floor_cpu = forward_floor(model, images, args.batch_size)
        merges_s = topk_merges(baseline["scores"], args.k, args.batch_size)
        split = baseline["split"]
        print(
            f"the argsort way: {argsort_s:.2f} s, {argsort_cpu:.1f} CPU-s (predict {split['predict']:.2f} s keeping "
            f"{baseline['activation_gib']:.2f} GiB of activations, channel max {split['channel_max']:.2f} s, argsort "
            f"{split['argsort']:.2f} s)\ntfprobe.dataset_examples: {tfprobe_s:.2f} s, {tfprobe_cpu:.1f} CPU-s (its "
            f"top-k merges replayed alone {merges_s:.2f} s)\nforward floor (the layer and its channel maxima, "
            f"compiled, batch {args.batch_size}): {floor_s:.2f} s, {floor_cpu:.1f} CPU-s: no streamed search can beat "
            f"the argsort way by more than {argsort_s / floor_s:.2f}x here\none batch, a fresh call each: argsort way "
            f"{compared['one_batch']['argsort']:.2f} s, tfprobe {compared['one_batch']['tfprobe']:.2f} s\nspeedup "
            f"{argsort_s / tfprobe_s:.2f}x (target >= {TARGETS['speedup_vs_argsort']:g}x; in CPU time "
            f"{argsort_cpu / tfprobe_cpu:.2f}x); same top indices: {same_top}, same bottom indices: {same_bottom} "
            f"(largest top-score difference {score_gap:.2g})",
            flush=True,
        )
        memory: dict[str, float] = {}
        if not args.no_memory:
            for way in WAYS:
                for count in (small, args.images):
                    memory[f"{way}_{count}"] = peak_rss(way, data, model_file, count, args, threads["requested"])
                    print(f"  peak RSS, {way} over {count:>6,} images: {memory[f'{way}_{count}']:7.0f} MiB", flush=True)
        atlas = {"atlas_seconds": None, "atlas_split": None, "atlas_note": "skipped (--no-atlas)"}
        if not args.no_atlas:
            atlas = time_atlas(model, images, folder / "atlas", args.k, args.atlas_steps, args.batch_size)
            print(f"atlas of {LAYER}: {atlas['atlas_seconds']} s, split {atlas['atlas_split']} ({atlas['atlas_note']})")

    ratio = memory[f"tfprobe_{args.images}"] / memory[f"tfprobe_{small}"] if memory else None
    argsort_ratio = memory[f"argsort_{args.images}"] / memory[f"argsort_{small}"] if memory else None
    if ratio is not None:
        print(
            f"peak RSS ratio {args.images:,} / {small:,} images: tfprobe {ratio:.3f} (target <= "
            f"{TARGETS['peak_rss_ratio_60k_over_6k']:g}), the argsort way {argsort_ratio:.3f}"
        )
    speedup = argsort_s / tfprobe_s
    figures = {
        "speedup_vs_argsort": round(speedup, 4),
        "same_indices": same_top and same_bottom,
        "same_top_indices": same_top,
        "same_bottom_indices": same_bottom,
        "max_top_score_difference": score_gap,
        "peak_rss_ratio_60k_over_6k": None if ratio is None else round(ratio, 4),
        "argsort_peak_rss_ratio_60k_over_6k": None if argsort_ratio is None else round(argsort_ratio, 4),
        "peak_rss_mib": {key: round(value, 1) for key, value in memory.items()},
        "argsort_seconds": round(argsort_s, 3),
        "tfprobe_seconds": round(tfprobe_s, 3),
        "speedup_vs_argsort_cpu": round(argsort_cpu / tfprobe_cpu, 4),
        "argsort_cpu_seconds": round(argsort_cpu, 3),
        "tfprobe_cpu_seconds": round(tfprobe_cpu, 3),
        "speedup_ceiling": round(argsort_s / floor_s, 4),
        "argsort_times": [round(t, 3) for t in times["argsort"]],
        "tfprobe_times": [round(t, 3) for t in times["tfprobe"]],
        "argsort_split": {name: round(value, 3) for name, value in split.items()},
        "argsort_activation_gib": round(baseline["activation_gib"], 3),
        "forward_floor_seconds": round(floor_s, 3),
        "forward_floor_cpu_seconds": round(floor_cpu, 3),
        "tfprobe_topk_merge_seconds": round(merges_s, 3),
        "one_batch_seconds": {name: round(value, 3) for name, value in compared["one_batch"].items()},
        **atlas,
        "targets": TARGETS,
        "targets_met": {
            "speedup_vs_argsort": speedup >= TARGETS["speedup_vs_argsort"],
            "same_indices": same_top and same_bottom,
            "peak_rss_ratio_60k_over_6k": None if ratio is None else ratio <= TARGETS["peak_rss_ratio_60k_over_6k"],
        },
        "images": args.images,
        "small_images": small,
        "k": args.k,
        "batch_size": args.batch_size,
        "layer": LAYER,
        "train_steps": args.train_steps,
        "train_seconds": round(train_seconds, 1),
        "repeats": args.repeats,
        "source": source,
        "threads": threads,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "median_seconds": {name: round(statistics.median(values), 3) for name, values in times.items()},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
