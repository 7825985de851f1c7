"""Feature-visualisation quality: tfprobe's recipes against the seed notebook's and Xplique's, and the time
tfprobe's default recipe takes to reach Xplique's quality.

No pretrained ImageNet weights exist offline, so the benchmark trains its own models: two small VGG-style
CNNs on Fashion-MNIST with different seeds (network A is visualised, network B judges transfer), kept in
``--models`` so later runs (and the side environment) reuse the same networks.  Their head is global average
pooling by default; ``--head flatten`` gives VGG16's flattening, under which even real test images keep only
about half of their class logit when jittered by 4 px, so that robustness there measures the network more
than the visualisation.  For the 10 class logits (several seeds each) and 16 channels of A's last conv
layer (fewer seeds each), every recipe runs its library's default number of steps (``--steps`` gives all
the same; the naive recipe always runs as many as the default, so both cost the same model evaluations):

* ``naive``: the seed notebook's method, its pixels clipped to the model's valid range (projected ascent),
  so that the comparison is fair;
* ``default``: tfprobe's default recipe;
* ``maco``: tfprobe's MACO, magnitude from A's training images;
* ``xplique``: Xplique 2.0.2's ``optimize`` (Fourier parameterisation, its default decay 0.85 and Adam at
  0.05, as its documentation recommends) with its "standard" transformations generated for the 28-px image
  (``custom_shape=(28, 28)``: Xplique's default 512 x 512 canvas and transformations are sized for ImageNet
  models and give flat fields with a few dots here);
* ``xplique-maco``: Xplique's ``maco`` (Nadam at 1.0, noise 0.08, 32 crops), magnitude from the same
  training images, on a 28-px canvas with crops covering 80% to 100% of it (its default crops, 50% down to
  5% of a 512-px canvas, are tiles of a large image; on 28 px they are 1 to 14 px wide).

The Xplique rows need Xplique, which needs TensorFlow <= 2.20: run this script with the side environment's
Python (``bash benchmarks/peers_env.sh`` builds it); elsewhere they are left out and said so.

Measured for every recipe:

* objective reached: each image's objective (class logit or channel mean) divided by that target's largest
  value over all recipes, so every target weighs the same, averaged (1.0: always the best);
* robustness: the mean objective under random jitter of +-4 px and scale 0.9-1.1, divided by the
  untransformed value (a visualisation that only works at one exact pixel alignment is not a feature);
* transfer: the share of class visualisations that the other network classifies as the target class,
  measured both ways (A's images judged by B, B's by A, each rendered the same way) and averaged;
* saturated: the share of pixels within 1% of the ends of the value range (images that win only by
  saturating show it here);
* seconds: wall time of A's class and channel images (first calls: Xplique traces its step at every call;
  tfprobe's compilation is included when the recipe first meets the network).

Time to quality: the wall time tfprobe's default recipe needs to reach both the objective and the
robustness Xplique's Fourier recipe reaches in its default 256 steps (the fewest steps of a ladder that
does, timed on a fresh copy of network A so its compilation is counted, as Xplique's tracing is), over
Xplique's time.

Ends with one JSON line: ``objective_vs_xplique``, ``robustness_default``, ``robustness_xplique``,
``transfer_default``, ``transfer_xplique``, ``transfer_maco``, ``transfer_xplique_maco``, ``objective_maco``,
``time_to_quality_vs_xplique``, the saturation of every recipe, and the bfloat16 figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import tfprobe  # noqa: F401  (sets TensorFlow's CPU allocator before TensorFlow runs anything)
from tfprobe import Probe
from tfprobe import visualize as fv
from tfprobe.datasets import load_fashion_mnist
from tfprobe.visualize.transform import Jitter, Scale, apply_transforms, fold

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers

CHANNEL_LAYER = "conv4"
#: Xplique's default number of steps (``optimize`` and ``maco``).
XPLIQUE_STEPS = 256
#: Step counts tried for the time to quality, in order.
LADDER = (16, 24, 32, 48, 64, 96, 128, 192, 256)


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
            keras.layers.Conv2D(64, 3, padding="same", activation="relu", name=CHANNEL_LAYER),
            keras.layers.MaxPooling2D(name="pool2"),
            pooling,
            keras.layers.Dense(128, activation="relu", name="fc1"),
            keras.layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name=f"fashion_vgg_{head}_{seed}",
    )


def train(
    seed: int, head: str, data, epochs: int, limit: int | None, cache: Path | None
) -> tuple[keras.Model, float, float, Path | None]:
    """Network ``seed`` trained for ``epochs``, its test accuracy, training seconds and file (read from
    ``cache``, a folder, when it holds one trained the same way)."""
    name = f"fashion_vgg_{head}_{seed}_e{epochs}_n{limit or len(data.train)}.keras"
    path = None if cache is None else cache / name
    x_test = data.test.images[..., None].astype("float32") / 255
    if path is not None and path.is_file():
        model = keras.saving.load_model(path)
        return model, float(model.evaluate(x_test, data.test.labels, verbose=0)[1]), 0.0, path
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
    return model, float(accuracy), seconds, path


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


def saturated_share(images: np.ndarray) -> float:
    """The share of pixels within 1% of either end of [0, 1]."""
    return float(np.mean((images <= 0.01) | (images >= 0.99)))


#: A renderer: (network, "class" or "channel", targets) -> (images in [0, 1], seconds).
Renderer = Callable[[keras.Model, str, Sequence[int]], tuple[np.ndarray, float]]


def tfprobe_renderer(recipe: fv.Recipe, precision: str) -> Renderer:
    def render(net: keras.Model, kind: str, targets: Sequence[int]) -> tuple[np.ndarray, float]:
        objective = fv.class_logit(list(targets)) if kind == "class" else fv.channel(CHANNEL_LAYER, list(targets))
        start = time.perf_counter()
        result = fv.render(net, objective, recipe=recipe, precision=precision, batch_size=64, progress=False)
        return result.inputs, time.perf_counter() - start

    return render


def xplique_renderer(steps: int) -> Renderer:
    heads: dict[int, keras.Model] = {}

    def render(net: keras.Model, kind: str, targets: Sequence[int]) -> tuple[np.ndarray, float]:
        if kind == "class":
            head = heads.setdefault(id(net), peers.linear_head(net))
            return peers.xplique_fourier(head, "predictions", targets, kind="neuron", steps=steps)
        return peers.xplique_fourier(net, CHANNEL_LAYER, targets, kind="channel", steps=steps)

    return render


def xplique_maco_renderer(steps: int, natural: np.ndarray) -> Renderer:
    heads: dict[int, keras.Model] = {}
    options = {"steps": steps, "box_size": 0.9}

    def render(net: keras.Model, kind: str, targets: Sequence[int]) -> tuple[np.ndarray, float]:
        if kind == "class":
            head = heads.setdefault(id(net), peers.linear_head(net))
            return peers.xplique_maco(head, "predictions", targets, natural, kind="neuron", **options)
        return peers.xplique_maco(net, CHANNEL_LAYER, targets, natural, kind="channel", **options)

    return render


@dataclasses.dataclass
class Rendered:
    """One recipe's images: A's class and channel images, B's class images, and A's wall time."""

    class_a: np.ndarray
    channel_a: np.ndarray
    class_b: np.ndarray
    seconds: float


@dataclasses.dataclass
class Setup:
    net_a: keras.Model
    net_b: keras.Model
    classes: np.ndarray
    channels: np.ndarray
    draws: int

    @property
    def probes(self) -> tuple[Probe, Probe]:
        return Probe(self.net_a), Probe(self.net_b)


def render_all(setup: Setup, renderer: Renderer, with_b: bool = True) -> Rendered:
    class_a, class_seconds = renderer(setup.net_a, "class", setup.classes.tolist())
    channel_a, channel_seconds = renderer(setup.net_a, "channel", setup.channels.tolist())
    class_b = renderer(setup.net_b, "class", setup.classes.tolist())[0] if with_b else None
    return Rendered(class_a, channel_a, class_b, class_seconds + channel_seconds)


def raw_objectives(setup: Setup, rendered: Rendered) -> np.ndarray:
    probe_a = Probe(setup.net_a)
    return np.concatenate(
        [
            objective_values(probe_a, rendered.class_a, probe_a.logits_unit(), setup.classes),
            objective_values(probe_a, rendered.channel_a, CHANNEL_LAYER, setup.channels),
        ]
    )


def measure(setup: Setup, rendered: Rendered) -> dict[str, float]:
    """Robustness, transfer, saturation and seconds of one recipe's images (the objective is normalised later,
    over all recipes)."""
    probe_a, probe_b = Probe(setup.net_a), Probe(setup.net_b)
    robust = np.concatenate(
        [
            robustness(probe_a, rendered.class_a, probe_a.logits_unit(), setup.classes, setup.draws, 1),
            robustness(probe_a, rendered.channel_a, CHANNEL_LAYER, setup.channels, setup.draws, 2),
        ]
    )
    row = {
        "robustness": float(np.median(robust)),
        "self": float(np.mean(predicted_class(probe_a, rendered.class_a) == setup.classes)),
        "saturated": saturated_share(np.concatenate([rendered.class_a.ravel(), rendered.channel_a.ravel()])),
        "seconds": rendered.seconds,
    }
    if rendered.class_b is not None:
        a_to_b = float(np.mean(predicted_class(probe_b, rendered.class_a) == setup.classes))
        b_to_a = float(np.mean(predicted_class(probe_a, rendered.class_b) == setup.classes))
        row.update(transfer=(a_to_b + b_to_a) / 2, transfer_a_to_b=a_to_b, transfer_b_to_a=b_to_a)
    return row


def normalise_objectives(setup: Setup, reached: dict[str, np.ndarray]) -> tuple[dict[str, float], np.ndarray]:
    """Every row's mean objective as a share of each target's best over all rows, and those bests."""
    targets = np.concatenate([setup.classes, 100 + setup.channels])
    stacked = np.stack(list(reached.values()))
    best = np.zeros(len(targets))
    for target in np.unique(targets):
        best[targets == target] = max(stacked[:, targets == target].max(), 1e-6)
    return {name: float(np.mean(values / best)) for name, values in reached.items()}, best


def time_to_quality(
    setup: Setup, model_file: Path | None, goal_objective: float, goal_robustness: float, best: np.ndarray
) -> dict[str, float | int | None]:
    """The fewest default-recipe steps (of :data:`LADDER`) reaching both goals, and the wall time of that
    rendering on a fresh copy of network A (compilation included)."""
    chosen, reached = None, None
    for steps in LADDER:
        rendered = render_all(setup, tfprobe_renderer(fv.default(steps=steps), "float32"), with_b=False)
        objective = float(np.mean(raw_objectives(setup, rendered) / best))
        robust = measure(setup, rendered)["robustness"]
        print(f"  default, {steps:3d} steps: objective {objective:.3f}, robustness {robust:.3f}")
        if objective >= goal_objective and robust >= goal_robustness:
            chosen, reached = steps, (objective, robust)
            break
    if chosen is None:
        return {"steps": None, "seconds": None}
    fresh = keras.saving.load_model(model_file) if model_file is not None else keras.models.clone_model(setup.net_a)
    if model_file is None:
        fresh.set_weights(setup.net_a.get_weights())
    fresh_setup = dataclasses.replace(setup, net_a=fresh)
    seconds = render_all(fresh_setup, tfprobe_renderer(fv.default(steps=chosen), "float32"), with_b=False).seconds
    return {"steps": chosen, "seconds": seconds, "objective": reached[0], "robustness": reached[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train", type=int, default=None, help="training images (default: all of the split)")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="steps of every recipe (default: each library's own: tfprobe's default 128 and the naive recipe as "
        "many, maco 256, Xplique's 256)",
    )
    parser.add_argument("--class-seeds", type=int, default=5, help="images per class logit (default 5)")
    parser.add_argument("--channel-seeds", type=int, default=3, help="images per channel (default 3)")
    parser.add_argument("--draws", type=int, default=16, help="random transformations per robustness value")
    parser.add_argument("--no-bfloat16", action="store_true", help="float32 only")
    parser.add_argument("--no-xplique", action="store_true", help="leave Xplique out even where it is installed")
    parser.add_argument(
        "--head",
        choices=("gap", "flatten"),
        default="gap",
        help="the networks' head: global average pooling (default) or VGG16's flattening, whose class "
        "evidence depends on exact positions (real images lose about half their logit under the jitter)",
    )
    parser.add_argument(
        "--models",
        type=Path,
        default=Path(__file__).resolve().parent / ".models",
        help="folder to keep the trained networks in and reuse them from (default benchmarks/.models)",
    )
    args = parser.parse_args()

    data = load_fashion_mnist(allow_single_split=True)
    print(f"Fashion-MNIST: {len(data.train):,} training images ({'embedded test split' if data.embedded else 'full'})")
    net_a, accuracy_a, seconds_a, file_a = train(0, args.head, data, args.epochs, args.train, args.models)
    net_b, accuracy_b, seconds_b, _ = train(1, args.head, data, args.epochs, args.train, args.models)
    print(
        f"network A: test accuracy {accuracy_a:.3f} ({seconds_a:.0f} s); network B: {accuracy_b:.3f} "
        f"({seconds_b:.0f} s); {args.epochs} epochs each; TensorFlow {tf.__version__}"
    )
    natural = data.train.images[:2000, ..., None].astype("float32") / 255
    channel_count = net_a.get_layer(CHANNEL_LAYER).output.shape[-1]
    setup = Setup(
        net_a,
        net_b,
        classes=np.tile(np.arange(10), args.class_seeds),
        channels=np.tile(np.arange(min(16, channel_count)), args.channel_seeds),
        draws=args.draws,
    )

    renderers: dict[str, Renderer] = {}
    steps: dict[str, int] = {}
    precisions = ["float32"] + ([] if args.no_bfloat16 else ["bfloat16"])
    for precision in precisions:
        suffix = "" if precision == "float32" else "_bfloat16"
        default = fv.default() if args.steps is None else fv.default(steps=args.steps)
        naive = dataclasses.replace(fv.naive(clip=True), steps=default.steps)  # as many evaluations as default
        maco = fv.maco(natural) if args.steps is None else fv.maco(natural, steps=args.steps)
        renderers[f"naive{suffix}"] = tfprobe_renderer(naive, precision)
        renderers[f"default{suffix}"] = tfprobe_renderer(default, precision)
        renderers[f"maco{suffix}"] = tfprobe_renderer(maco, precision)
        steps.update({f"naive{suffix}": naive.steps, f"default{suffix}": default.steps, f"maco{suffix}": maco.steps})
    with_xplique = not args.no_xplique and peers.xplique_available()
    if with_xplique:
        peer_steps = args.steps or XPLIQUE_STEPS
        renderers["xplique"] = xplique_renderer(peer_steps)
        renderers["xplique-maco"] = xplique_maco_renderer(peer_steps, natural)
        steps.update({"xplique": peer_steps, "xplique-maco": peer_steps})
    elif not args.no_xplique:
        print(peers.missing_xplique_message("featurevis_quality.py"))

    rows: dict[str, dict[str, float]] = {}
    reached: dict[str, np.ndarray] = {}
    for name, renderer in renderers.items():
        rendered = render_all(setup, renderer)
        reached[name] = raw_objectives(setup, rendered)
        rows[name] = measure(setup, rendered)
        print(f"  rendered {name} ({rendered.seconds:.1f} s)", flush=True)
    objectives, best = normalise_objectives(setup, reached)
    for name in rows:
        rows[name]["objective"] = objectives[name]

    print(
        f"\n{'recipe':<18} {'steps':>5} {'objective':>9} {'robustness':>10} {'transfer':>8} {'A->B':>5} {'B->A':>5} "
        f"{'self':>5} {'saturated':>9} {'seconds':>8}"
    )
    for name, row in rows.items():
        print(
            f"{name:<18} {steps[name]:5d} {row['objective']:9.3f} {row['robustness']:10.3f} {row['transfer']:8.2f} "
            f"{row['transfer_a_to_b']:5.2f} {row['transfer_b_to_a']:5.2f} {row['self']:5.2f} "
            f"{row['saturated']:9.3f} {row['seconds']:8.1f}"
        )
    print("(transfer: the mean of A->B and B->A; self: A's class images that A itself classifies as the target)")

    figures: dict[str, float | int | str | None] = {
        "objective_vs_xplique": None,
        "robustness_default": round(rows["default"]["robustness"], 4),
        "robustness_xplique": None,
        "transfer_default": round(rows["default"]["transfer"], 4),
        "transfer_xplique": None,
        "transfer_maco": round(rows["maco"]["transfer"], 4),
        "transfer_xplique_maco": None,
        "objective_maco": round(rows["maco"]["objective"], 4),
        "time_to_quality_vs_xplique": None,
    }
    if with_xplique:
        goal = rows["xplique"]
        print(
            f"\ntime to Xplique's quality (objective {goal['objective']:.3f}, robustness {goal['robustness']:.3f} "
            f"in {goal['seconds']:.1f} s):"
        )
        quality = time_to_quality(setup, file_a, goal["objective"], goal["robustness"], best)
        if quality["seconds"] is not None:
            print(
                f"  tfprobe's default recipe reaches it in {quality['steps']} steps: {quality['seconds']:.1f} s "
                f"(fresh network, compilation included) against Xplique's {goal['seconds']:.1f} s"
            )
            figures["time_to_quality_vs_xplique"] = round(quality["seconds"] / goal["seconds"], 4)
        else:
            print(f"  tfprobe's default recipe does not reach it within {LADDER[-1]} steps")
        figures.update(
            objective_vs_xplique=round(rows["default"]["objective"] / goal["objective"], 4),
            robustness_xplique=round(goal["robustness"], 4),
            transfer_xplique=round(goal["transfer"], 4),
            transfer_xplique_maco=round(rows["xplique-maco"]["transfer"], 4),
            time_to_quality_steps=quality["steps"],
            time_to_quality_seconds=None if quality["seconds"] is None else round(quality["seconds"], 3),
            xplique_seconds=round(goal["seconds"], 3),
        )
    for name, row in rows.items():
        key = name.replace("-", "_")
        figures[f"objective_{key}"] = round(row["objective"], 4)
        figures[f"robustness_{key}"] = round(row["robustness"], 4)
        figures[f"transfer_{key}"] = round(row["transfer"], 4)
        figures[f"saturated_{key}"] = round(row["saturated"], 4)
    if "default_bfloat16" in rows:
        figures["bfloat16_max_quality_gap"] = round(
            max(
                abs(rows[f"{name}_bfloat16"][metric] - rows[name][metric])
                for name in ("default", "maco")
                for metric in ("objective", "robustness", "transfer")
            ),
            4,
        )
    figures.update(
        accuracy_a=round(accuracy_a, 4), accuracy_b=round(accuracy_b, 4), steps=steps, head=args.head,
        tensorflow=tf.__version__,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
