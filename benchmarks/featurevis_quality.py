"""Feature-visualisation quality: the seed notebook's naive recipe versus tfprobe's default and MACO recipes.

No pretrained ImageNet weights exist offline, so the benchmark trains its own models: two small VGG-style
CNNs on Fashion-MNIST with different seeds (network A is visualised, network B judges transfer).  Their head
is global average pooling by default; ``--head flatten`` gives VGG16's flattening, under which even real
test images keep only about half of their class logit when jittered by 4 px, so that robustness there
measures the network more than the visualisation.  For the
10 class logits (several seeds each) and 16 channels of A's last conv layer (fewer seeds each), every
recipe runs the same number of steps, i.e. the same number of model evaluations:

* ``naive``: the seed notebook's method, its pixels clipped to the model's valid range (projected ascent),
  so that the comparison is fair;
* ``default``: Fourier spectrum, random pad / jitter / scale / rotation, Adam;
* ``maco``: phase-only Fourier, magnitude from A's training images.

Measured:

* objective reached: ``objective_ratio`` = mean objective of default / of naive (each image's objective is
  its class logit or channel mean, divided by that target's largest value over all recipes so every
  target weighs the same);
* robustness: the mean objective under random jitter of +-4 px and scale 0.9-1.1, divided by the
  untransformed value (a visualisation that only works at one exact pixel alignment is not a feature);
* transfer: the share of class visualisations that the other network classifies as the target class,
  measured both ways (A's images judged by B, B's by A, each rendered the same way) and averaged: one
  direction alone moved by 0.1 between the two, with 50 images each.

Prints the table for every recipe in float32 and bfloat16 and ends with one JSON line (``objective_ratio``,
``robustness_default``, ``robustness_naive``, ``transfer_default``, ``transfer_naive``, ``robustness_maco``,
``transfer_maco``, and the same with a ``_bfloat16`` suffix).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfprobe import Probe
from tfprobe import visualize as fv
from tfprobe.datasets import load_fashion_mnist
from tfprobe.visualize.transform import Jitter, Scale, apply_transforms, fold


def vgg_style(seed: int, head: str = "gap") -> keras.Model:
    """Two blocks of two 3x3 convolutions, then global average pooling (``head="gap"``, as in most modern
    networks) or flattening (``"flatten"``, as in VGG16), a hidden dense layer and a softmax read-out."""
    keras.utils.set_random_seed(seed)
    pooling = keras.layers.GlobalAveragePooling2D(name="gap") if head == "gap" else keras.layers.Flatten(name="flatten")
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv4"),
            keras.layers.MaxPooling2D(name="pool2"),
            pooling,
            keras.layers.Dense(128, activation="relu", name="fc1"),
            keras.layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name=f"fashion_vgg_{head}_{seed}",
    )


def train(
    seed: int, head: str, data, epochs: int, limit: int | None, cache: Path | None
) -> tuple[keras.Model, float, float]:
    """Network ``seed`` trained for ``epochs``, its test accuracy and training seconds (read from ``cache``,
    a folder, when it holds one trained the same way)."""
    name = f"fashion_vgg_{head}_{seed}_e{epochs}_n{limit or len(data.train)}.keras"
    path = None if cache is None else cache / name
    x_test = data.test.images[..., None].astype("float32") / 255
    if path is not None and path.is_file():
        model = keras.saving.load_model(path)
        return model, float(model.evaluate(x_test, data.test.labels, verbose=0)[1]), 0.0
    model = vgg_style(seed, head)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = data.train.images[:limit, ..., None].astype("float32") / 255
    y = data.train.labels[:limit]
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0, shuffle=True)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, data.test.labels, verbose=0)
    if path is not None:
        cache.mkdir(parents=True, exist_ok=True)
        model.save(path)
    return model, float(accuracy), seconds


def objective_values(probe: Probe, images: np.ndarray, unit: str, targets: np.ndarray) -> np.ndarray:
    """Each image's objective: the target channel's mean (or class logit) of ``unit``."""
    values = probe.activations(images, unit, batch_size=256, progress=False)[unit]
    picked = values[np.arange(len(values)), ..., targets]
    return picked.reshape(len(values), -1).mean(axis=1)


def robustness(probe: Probe, images: np.ndarray, unit: str, targets: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """Mean objective under ``draws`` random jitters (+-4 px) and scalings (0.9-1.1), over the untransformed."""
    transforms = (Jitter(4.0), Scale(0.9, 1.1))
    base = objective_values(probe, images, unit, targets)
    moved = []
    for draw in range(draws):
        shifted = apply_transforms(tf.constant(images), transforms, fold(tf.constant([seed, 7]), draw)).numpy()
        moved.append(objective_values(probe, shifted, unit, targets))
    return np.mean(moved, axis=0) / np.maximum(base, 1e-6)


def predicted_class(probe: Probe, images: np.ndarray) -> np.ndarray:
    return probe.activations(images, "predictions", progress=False)["predictions"].argmax(axis=1)


def run_recipes(args, net_a, net_b, natural, precision: str) -> dict[str, dict[str, float]]:
    probe_a, probe_b = Probe(net_a), Probe(net_b)
    classes = np.tile(np.arange(10), args.class_seeds)
    channel_count = net_a.get_layer("conv4").output.shape[-1]
    channels = np.tile(np.arange(min(16, channel_count)), args.channel_seeds)
    logits = probe_a.logits_unit()
    recipes = {
        "naive": fv.naive(clip=True),
        "default": fv.default(),
        "maco": fv.maco(natural),
    }
    rows: dict[str, dict[str, float]] = {}
    reached: dict[str, np.ndarray] = {}
    for name, recipe in recipes.items():
        start = time.perf_counter()
        options = {"recipe": recipe, "steps": args.steps, "precision": precision, "progress": False}
        by_class = fv.render(net_a, fv.class_logit(classes.tolist()), batch_size=64, **options)
        by_channel = fv.render(net_a, fv.channel("conv4", channels.tolist()), batch_size=64, **options)
        seconds = time.perf_counter() - start
        class_values = objective_values(probe_a, by_class.inputs, logits, classes)
        channel_values = objective_values(probe_a, by_channel.inputs, "conv4", channels)
        reached[name] = np.concatenate([class_values, channel_values])
        robust = np.concatenate(
            [
                robustness(probe_a, by_class.inputs, logits, classes, args.draws, 1),
                robustness(probe_a, by_channel.inputs, "conv4", channels, args.draws, 2),
            ]
        )
        # transfer both ways: A's class images judged by B, and B's (rendered the same way) judged by A
        by_class_b = fv.render(net_b, fv.class_logit(classes.tolist()), batch_size=64, **options)
        a_to_b = np.mean(predicted_class(probe_b, by_class.inputs) == classes)
        b_to_a = np.mean(predicted_class(probe_a, by_class_b.inputs) == classes)
        rows[name] = {
            "robustness": float(np.median(robust)),
            "transfer": float((a_to_b + b_to_a) / 2),
            "transfer_a_to_b": float(a_to_b),
            "transfer_b_to_a": float(b_to_a),
            "self": float(np.mean(predicted_class(probe_a, by_class.inputs) == classes)),
            "seconds": seconds,
        }
    # every target weighs the same: divide by its best value over the recipes
    targets = np.concatenate([classes, 100 + channels])
    stacked = np.stack(list(reached.values()))
    best = np.zeros(len(targets))
    for target in np.unique(targets):
        best[targets == target] = max(stacked[:, targets == target].max(), 1e-6)
    for name in rows:
        rows[name]["objective"] = float(np.mean(reached[name] / best))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train", type=int, default=None, help="training images (default: all of the split)")
    parser.add_argument("--steps", type=int, default=256, help="steps of every recipe (default 256)")
    parser.add_argument("--class-seeds", type=int, default=5, help="images per class logit (default 5)")
    parser.add_argument("--channel-seeds", type=int, default=3, help="images per channel (default 3)")
    parser.add_argument("--draws", type=int, default=16, help="random transformations per robustness value")
    parser.add_argument("--no-bfloat16", action="store_true", help="float32 only")
    parser.add_argument(
        "--head",
        choices=("gap", "flatten"),
        default="gap",
        help="the networks' head: global average pooling (default) or VGG16's flattening, whose class "
        "evidence depends on exact positions (real images lose about half their logit under the jitter)",
    )
    parser.add_argument("--models", type=Path, help="folder to keep the trained networks in and reuse them from")
    args = parser.parse_args()

    data = load_fashion_mnist(allow_single_split=True)
    print(f"Fashion-MNIST: {len(data.train):,} training images ({'embedded test split' if data.embedded else 'full'})")
    net_a, accuracy_a, seconds_a = train(0, args.head, data, args.epochs, args.train, args.models)
    net_b, accuracy_b, seconds_b = train(1, args.head, data, args.epochs, args.train, args.models)
    print(
        f"network A: test accuracy {accuracy_a:.3f} ({seconds_a:.0f} s); network B: {accuracy_b:.3f} "
        f"({seconds_b:.0f} s); {args.epochs} epochs each"
    )
    natural = data.train.images[:2000, ..., None].astype("float32") / 255
    results = {"float32": run_recipes(args, net_a, net_b, natural, "float32")}
    if not args.no_bfloat16:
        results["bfloat16"] = run_recipes(args, net_a, net_b, natural, "bfloat16")

    print(
        f"\n{'recipe':<10} {'precision':<9} {'objective':>9} {'robustness':>10} {'transfer':>8} {'A->B':>5} "
        f"{'B->A':>5} {'self':>5} {'seconds':>8}"
    )
    for precision, rows in results.items():
        for name, row in rows.items():
            print(
                f"{name:<10} {precision:<9} {row['objective']:9.3f} {row['robustness']:10.3f} "
                f"{row['transfer']:8.2f} {row['transfer_a_to_b']:5.2f} {row['transfer_b_to_a']:5.2f} "
                f"{row['self']:5.2f} {row['seconds']:8.1f}"
            )
    print("(transfer: the mean of A->B and B->A; self: A's class images that A itself classifies as the target)")
    base = results["float32"]
    figures = {
        "objective_ratio": round(base["default"]["objective"] / base["naive"]["objective"], 4),
        "robustness_default": round(base["default"]["robustness"], 4),
        "robustness_naive": round(base["naive"]["robustness"], 4),
        "transfer_default": round(base["default"]["transfer"], 4),
        "transfer_naive": round(base["naive"]["transfer"], 4),
        "robustness_maco": round(base["maco"]["robustness"], 4),
        "transfer_maco": round(base["maco"]["transfer"], 4),
        "objective_ratio_maco": round(base["maco"]["objective"] / base["naive"]["objective"], 4),
        "accuracy_a": round(accuracy_a, 4),
        "accuracy_b": round(accuracy_b, 4),
        "steps": args.steps,
        "head": args.head,
    }
    if "bfloat16" in results:
        half = results["bfloat16"]
        for name in ("default", "naive", "maco"):
            figures[f"robustness_{name}_bfloat16"] = round(half[name]["robustness"], 4)
            figures[f"transfer_{name}_bfloat16"] = round(half[name]["transfer"], 4)
        figures["objective_ratio_bfloat16"] = round(half["default"]["objective"] / half["naive"]["objective"], 4)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
