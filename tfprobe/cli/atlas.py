"""``tfprobe atlas``: a unit atlas of some layers (HTML pages per layer and an index) written to a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from tfprobe.cli import models
from tfprobe.cli.checks import check_existing, check_output, check_positive
from tfprobe.cli.failures import UsageError
from tfprobe.cli.parsing import add_command
from tfprobe.cli.visualize import parse_channels

RECIPES = ("default", "naive", "naive-clipped")
#: What --images may be besides a folder of images (tfprobe.examples.open_source reads them).
IMAGE_FILES = (".npy", ".npz", ".h5", ".hdf5")


def parse_timesteps(text: str | None) -> list[int] | None:
    """``"0,3"`` or ``"0:4"``: the time steps shown."""
    if text is None:
        return None
    try:
        return parse_channels(text)
    except UsageError:
        message = f"--show-timesteps must be START:STOP, a comma-separated list or one step, got {text!r}"
        raise UsageError(message) from None


def _check(args: argparse.Namespace) -> None:
    models.check_model(args)
    repeated = sorted({layer for layer in args.layer if args.layer.count(layer) > 1})
    if repeated:
        raise UsageError(f"--layer repeats {', '.join(repeated)}")
    if args.channels is not None:
        parse_channels(args.channels)
    parse_timesteps(args.show_timesteps)
    check_positive(args.k, "--k")
    check_positive(args.inputs, "--inputs")
    check_positive(args.drives, "--drives")
    check_positive(args.size, "--size", minimum=8)
    check_positive(args.steps, "--steps")
    check_positive(args.batch_size, "--batch-size")
    if args.recipe not in RECIPES:
        raise UsageError(f"--recipe must be one of {', '.join(RECIPES)}, got {args.recipe!r}")
    check_existing(args.images, "--images", folder_allowed=True)
    if not args.images.is_dir() and args.images.suffix.lower() not in IMAGE_FILES:
        raise UsageError(f"--images {args.images}: expected a folder of images or a {', '.join(IMAGE_FILES)} file")
    check_output(args.out, overwrite=args.overwrite, flag="--out")


def atlas(args: argparse.Namespace) -> int:
    from tfprobe.examples.atlas import atlas as write_atlas
    from tfprobe.probe import Probe

    _check(args)
    probe = Probe(models.load(args))
    for layer in args.layer:  # before any work: unknown layers name the closest ones
        probe.resolve(layer)
    result = write_atlas(
        probe,
        args.layer,
        str(args.images),
        out=args.out,
        channels=None if args.channels is None else parse_channels(args.channels),
        k=args.k,
        timesteps=parse_timesteps(args.show_timesteps),
        steps=args.steps,
        size=args.size,
        recipe=args.recipe,
        inputs=args.inputs,
        drives=args.drives,
        explorers=args.explorers,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    pages = ", ".join(path.name for path in result.pages.values())
    print(f"wrote {args.out}/ (index.html, {pages}{', circuits/' if args.explorers else ''})")
    print(result.timing())
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``atlas``."""
    parser = add_command(
        commands,
        "atlas",
        help="a unit atlas: per channel its visualisation, dataset examples and circuit, as linked HTML pages",
        description=(
            "Write a unit atlas of the given layers to --out: one self-contained HTML page per layer and an "
            "index. Every channel gets its feature visualisation (each layer's channels rendered in one batch), "
            "the --k images of --images that drive it most and least (receptive-field crops where the unit has "
            "a field; one pass over the images for all layers), its strongest excitatory and inhibitory inputs "
            "from its weights and the channels of the next layer it drives most, linked across the pages. For "
            "the recurrent network a stage (conv1, conv2, fc1) shows every time step, chosen on the page. "
            "--images is a folder of images, a .npy / .npz file or an HDF5 file, as the model takes them (the "
            "recurrent network: floats in [0, 1]). Models as tfprobe act takes them.\n\nexamples:\n"
            "  tfprobe atlas --model model.keras --layer conv1 --layer conv2 --images photos/ --out atlas\n"
            "  tfprobe atlas --model rnn --layer conv1 --layer conv2 --images scenes.npy --k 6 --out rnn_atlas\n"
            "  tfprobe atlas --model vgg16 --layer block5_conv2 --channels 0:32 --images photos/ --explorers "
            "--out vgg_atlas"
        ),
    )
    models.add_model_options(parser, as_option=True)
    parser.add_argument(
        "--layer",
        action="append",
        required=True,
        help="a layer to show (repeat for several; see tfprobe act MODEL --list)",
    )
    parser.add_argument("--images", type=Path, required=True, help="a folder of images, or a .npy / .npz / .h5 file")
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    parser.add_argument(
        "--channels", help="channels shown in every layer: START:STOP, a list 3,5,7 or one (default all)"
    )
    parser.add_argument("--k", type=int, default=9, help="top and bottom dataset examples per channel (default 9)")
    parser.add_argument(
        "--show-timesteps", help="the recurrent network: time steps shown, e.g. 0,3 or 0:4 (default all)"
    )
    parser.add_argument("--steps", type=int, help="optimisation steps of the visualisations (default: the recipe's)")
    parser.add_argument("--size", type=int, help="side of the visualisations in pixels (default: the model's input)")
    parser.add_argument("--recipe", default="default", help=f"{', '.join(RECIPES)} (default: default)")
    parser.add_argument("--inputs", type=int, default=3, help="strongest inputs of each kind listed (default 3)")
    parser.add_argument("--drives", type=int, default=3, help="channels of the next layer listed (default 3)")
    parser.add_argument("--explorers", action="store_true", help="also write a circuit-explorer page per channel")
    parser.add_argument("--batch-size", type=int, help="images per forward pass of the example search")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.set_defaults(handler=atlas)
