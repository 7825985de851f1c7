"""``tfprobe csf``: the contrast sensitivity function of a backbone's layers, measured with linear probes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tfprobe.cli import models
from tfprobe.cli.checks import check_positive
from tfprobe.cli.failures import UsageError
from tfprobe.cli.parsing import add_command

__all__ = ["add_commands", "csf"]


def _pooling(text: str) -> str | int | None:
    if text == "none":
        return None
    if text == "avg":
        return "avg"
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"--pooling: expected none, avg or a grid side (an int >= 1), got {text!r}")
    return int(text)


def _check(args: argparse.Namespace) -> None:
    if models.is_recurrent(str(args.model)):
        raise UsageError("tfprobe csf probes RGB backbones (vgg16, resnet50, a .keras file), not the recurrent network")
    if models.application_name(str(args.model)) is not None:
        args.no_top = True  # the probe cuts the network anyway; without the classifier any input size works
    models.check_model(args)
    args.pooling = _pooling(args.pooling)
    for flag in ("size", "pairs", "epochs", "orientations", "max_iterations", "batch_size"):
        check_positive(getattr(args, flag), "--" + flag.replace("_", "-"))
    check_positive(args.validation_pairs, "--validation-pairs", minimum=0)
    if args.size < 8:
        raise UsageError(f"--size must be at least 8 pixels, got {args.size}")
    if args.frequencies is not None and any(f <= 0 or f > args.size / 2 for f in args.frequencies):
        raise UsageError(
            f"--frequencies must be in (0, {args.size / 2:g}] cycles per image (the Nyquist limit of --size "
            f"{args.size}), got {args.frequencies}"
        )
    if args.out.exists() and not args.overwrite:
        raise UsageError(f"--out {str(args.out)!r} exists: choose another folder, or pass --overwrite to replace it")
    if not args.out.parent.is_dir():
        raise UsageError(f"--out {args.out}: folder {str(args.out.parent)!r} does not exist")


def csf(args: argparse.Namespace) -> int:
    """Train a probe per layer, measure its CSF, write the figures and thresholds; print a JSON summary."""
    _check(args)
    import time

    from tfprobe.atomic import staged
    from tfprobe.datasets.shapes import ContrastPairs
    from tfprobe.figures.psychophysics import plot_csf, plot_probe_training
    from tfprobe.psychophysics.csf import csf_by_layer

    started = time.perf_counter()
    model = models.load(args)
    validation = (
        ContrastPairs(args.validation_pairs, size=args.size, seed=args.seed + 1) if args.validation_pairs else None
    )
    results = csf_by_layer(
        model,
        args.layers,
        size=args.size,
        train_pairs=ContrastPairs(args.pairs, size=args.size, seed=args.seed),
        validation_pairs=validation,
        epochs=args.epochs,
        pooling=args.pooling,
        frequencies=args.frequencies,
        n_orientations=args.orientations,
        max_iterations=args.max_iterations,
        seed=args.seed,
        verbose=0 if args.quiet else 2,
    )
    report = {
        "model": str(args.model),
        "weights": {None: "imagenet", "none": "random"}.get(args.weights, args.weights),
        "size": args.size,
        "pairs": args.pairs,
        "epochs": args.epochs,
        "pooling": args.pooling,
        "layers": {},
        "seconds": None,
    }
    for layer, (history, result) in results.items():
        values = history.history
        report["layers"][layer] = {
            "train_accuracy": float(values["accuracy"][-1]),
            **({"validation_accuracy": float(values["val_accuracy"][-1])} if "val_accuracy" in values else {}),
            **{key: result.to_dict()[key] for key in ("frequencies", "thresholds", "sensitivity", "peak_frequency")},
            "converged": result.converged.tolist(),
            "iterations": result.staircase.iterations.tolist(),
        }
    report["seconds"] = round(time.perf_counter() - started, 1)
    with staged(args.out, directory=True) as folder:
        folder = Path(folder)
        plot_csf({layer: result for layer, (_, result) in results.items()}, folder / "csf.png")
        plot_probe_training({layer: history for layer, (history, _) in results.items()}, folder / "training.png")
        (folder / "thresholds.json").write_text(json.dumps(report, indent=2))
        for layer, (history, _) in results.items():
            (folder / f"training_{layer}.json").write_text(json.dumps(history.history, indent=2))
    summary = {
        "out": str(args.out.resolve()),
        "peak_frequency": {layer: r.peak_frequency for layer, (_, r) in results.items()},
        "seconds": report["seconds"],
    }
    print(json.dumps(summary))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "csf",
        help="contrast sensitivity function of a backbone's layers, with linear probes",
        description=(
            "For each --layers, cut the backbone there (frozen, with its own preprocessing), train a linear "
            "probe to tell which of two images has the higher contrast (random shapes, SGD with momentum), then "
            "find with a bisection staircase the contrast of a Gaussian-windowed grating the probe tells from "
            "gray 75% of the time, at every spatial frequency (13 orientations, both intervals). Writes csf.png, "
            "training.png, thresholds.json and training_<layer>.json into --out.\n\nexamples:\n"
            "  tfprobe csf --model resnet50 --layers conv2_block3_out conv3_block4_out --out csf-resnet50\n"
            "  tfprobe csf --model vgg16 --weights none --layers block1_pool block3_pool --size 112 --out csf-vgg\n"
            "  tfprobe csf --model backbone.keras --layers conv1 conv2 --size 64 --pooling avg --out csf-mine"
        ),
    )
    models.add_model_options(parser, as_option=True)
    parser.add_argument("--layers", nargs="+", required=True, help="layers to probe")
    parser.add_argument("--out", type=Path, required=True, help="folder to write (refused if it exists)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out")
    parser.add_argument("--size", type=int, default=224, help="image side in pixels (default 224)")
    parser.add_argument("--pairs", type=int, default=1000, help="training pairs (default 1000)")
    parser.add_argument("--validation-pairs", type=int, default=200, help="held-out pairs (default 200; 0: none)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument("--pooling", default="none", help="none (default: full feature maps), avg, or a grid side k")
    parser.add_argument("--frequencies", type=float, nargs="+", help="cycles per image (default: divisors of --size)")
    parser.add_argument("--orientations", type=int, default=13, help="grating orientations from 0 to pi (default 13)")
    parser.add_argument("--max-iterations", type=int, default=20, help="staircase cap (default 20)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per batch (default 32)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=csf)
