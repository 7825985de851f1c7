"""``tfprobe visualize``: feature visualisations of a unit's channels (or of classes), written to a folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tfprobe.cli import models
from tfprobe.cli.checks import check_existing, check_output, check_positive
from tfprobe.cli.failures import UsageError
from tfprobe.cli.parsing import add_command

RECIPES = ("default", "naive", "naive-clipped", "maco")
#: tfprobe.visualize.precision.PRECISIONS, written out: importing tfprobe.visualize loads TensorFlow.
PRECISIONS = ("float32", "bfloat16", "auto")
CLASSES = "classes"


def parse_channels(text: str) -> list[int]:
    """``"0:16"`` (a range), ``"3,5,7"`` (a list) or ``"12"``."""
    try:
        if ":" in text:
            start, _, stop = text.partition(":")
            values = list(range(int(start or 0), int(stop)))
        else:
            values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 0:
        raise UsageError(f"--channels must be START:STOP, a comma-separated list or one index (>= 0), got {text!r}")
    return values


def _unit_and_channels(args: argparse.Namespace) -> tuple[str, list[int] | None]:
    unit, _, index = args.unit.rpartition(":")
    if unit and index.isdigit() and args.channels is None:
        return unit, [int(index)]
    return args.unit, None if args.channels is None else parse_channels(args.channels)


def _maco_images(path: Path, input_shape: tuple[int | None, ...]) -> Any:
    from tfprobe.datasets.image_folder import ArrayFile, ImageFolder

    height, width, channels = input_shape
    if path.is_dir():
        size = None if height is None else (height, width)
        return ImageFolder(path, size=size, channels=channels or 3)[:]
    stimuli = ArrayFile(path)
    values = stimuli[:]
    return values / 255.0 if stimuli.dtype.kind in "iu" else values


def _check(args: argparse.Namespace) -> None:
    models.check_model(args)
    if args.recipe not in RECIPES:
        raise UsageError(f"--recipe must be one of {', '.join(RECIPES)}, got {args.recipe!r}")
    if args.recipe == "maco" and args.maco_images is None:
        raise UsageError("--recipe maco takes its magnitude spectrum from natural images: give --maco-images")
    if args.maco_images is not None:
        check_existing(args.maco_images, "--maco-images", folder_allowed=True)
    _unit_and_channels(args)
    check_positive(args.size, "--size", minimum=8)
    check_positive(args.steps, "--steps")
    check_positive(args.batch_size, "--batch-size")
    check_output(args.out, overwrite=args.overwrite, flag="--out")


def visualize(args: argparse.Namespace) -> int:
    from tfprobe import visualize as fv
    from tfprobe.probe import Probe

    _check(args)
    model = models.load(args)
    probe = Probe(model)
    unit, channels = _unit_and_channels(args)
    if unit == CLASSES:
        count = probe.units[probe.logits_unit()].shape[-1]
        objective = fv.class_logit(channels if channels is not None else list(range(min(16, count))))
    else:
        names = probe.resolve(unit)
        if len(names) != 1:
            raise UsageError(f"{unit!r} stands for {len(names)} units ({names[0]}, ...): name one, e.g. {names[-1]!r}")
        if channels is None:
            channels = list(range(min(16, probe.units[names[0]].shape[-1])))
        objective = fv.channel(names[0], channels)
    maco = _maco_images(args.maco_images, probe.input_shape) if args.maco_images is not None else None
    print(f"{type(model).__name__} {model.name}: {objective!r}, recipe {args.recipe}")
    result = fv.render(
        probe,
        objective,
        recipe=args.recipe,
        size=args.size,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        precision=args.precision,
        maco_images=maco,
    )
    result.save(args.out, overwrite=args.overwrite)
    precision = result.settings["precision"]
    if args.precision == "auto":
        precision += f" ({result.settings['precision_reason']})"
    print(
        f"{len(result)} images of {result.images.shape[1]} px in {result.seconds:.1f} s, {precision}; "
        "objective reached:"
    )
    for label, value in zip(result.labels, result.values, strict=True):
        print(f"  {label}: {value:.4g}")
    print(f"wrote {args.out}/ (grid.png, one PNG per image, visualization.json)")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``visualize``."""
    parser = add_command(
        commands,
        "visualize",
        help="render images that maximise a unit's channels (feature visualisation)",
        description=(
            "Optimise one image per channel of UNIT (or per class with UNIT 'classes', taken before the "
            "softmax) and write the grid, one PNG per image and a JSON of the objective values and settings "
            "to --out. Models as tfprobe act takes them; keras.applications models get their own value range "
            "and preprocessing inside the graph. Recipes: default (Fourier spectrum, decorrelated colours, "
            "random pad/jitter/scale/rotation, Adam), naive (the seed notebook's gradient ascent), "
            "naive-clipped, maco (phase only, magnitude from --maco-images).\n\nexamples:\n"
            "  tfprobe visualize vgg16 block5_conv2 --channels 0:16 --recipe default --size 128 --steps 256 "
            "--out block5_conv2\n"
            "  tfprobe visualize rnn conv1@t3 --channels 0:8 --out rnn_conv1_t3\n"
            "  tfprobe visualize model.keras classes --channels 0:10 --out classes"
        ),
    )
    models.add_model_options(parser)
    parser.add_argument("unit", metavar="UNIT", help="a unit (see tfprobe act MODEL --list), UNIT:CHANNEL, or classes")
    parser.add_argument("--channels", help="START:STOP, a list (3,5,7) or one index (default: the first 16)")
    parser.add_argument("--recipe", default="default", help=f"{', '.join(RECIPES)} (default: default)")
    parser.add_argument("--size", type=int, help="image side in pixels (default: the model's input, or 128)")
    parser.add_argument("--steps", type=int, help="optimisation steps (default: the recipe's)")
    parser.add_argument("--batch-size", type=int, default=32, help="images optimised together (default 32)")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="bfloat16 halves the convolutions' cost where the hardware has it; auto picks it only there "
        "(default float32)",
    )
    parser.add_argument("--maco-images", type=Path, help="folder or .npy/.npz of natural images (for --recipe maco)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.set_defaults(handler=visualize)
