"""``tfprobe circuit``: the circuit of one filter (its inputs ranked, excitatory and inhibitory) to a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from tfprobe.cli import models
from tfprobe.cli.checks import check_output, check_positive
from tfprobe.cli.failures import UsageError
from tfprobe.cli.parsing import add_command

RECIPES = ("default", "naive", "naive-clipped")


def _check(args: argparse.Namespace) -> None:
    models.check_model(args)
    if args.filter < 0:
        raise UsageError(f"--filter must be a filter index >= 0, got {args.filter}")
    check_positive(args.top, "--top")
    check_positive(args.size, "--size", minimum=8)
    check_positive(args.steps, "--steps")
    if args.recipe not in RECIPES:
        raise UsageError(f"--recipe must be one of {', '.join(RECIPES)}, got {args.recipe!r}")
    check_output(args.out, overwrite=args.overwrite, flag="--out")


def circuit(args: argparse.Namespace) -> int:
    from tfprobe.circuits import circuit as circuit_of

    _check(args)
    model = models.load(args)
    found = circuit_of(model, args.layer, args.filter)
    if args.top > len(found.inputs):
        raise UsageError(f"--top {args.top} is more than the {len(found.inputs)} input channels of {args.layer!r}")
    print(found)
    if not args.no_render and found.input_layer is not None:
        options = {"steps": args.steps, "size": args.size, "recipe": args.recipe, "seed": args.seed}
        found.render(args.top, timestep=args.timestep, **options)
    found.save(args.out, k=args.top, overwrite=args.overwrite)
    print(f"wrote {args.out}/ (circuit.png, circuit.html, circuit.json)")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``circuit``."""
    parser = add_command(
        commands,
        "circuit",
        help="the circuit of one filter: its input channels ranked, excitatory and inhibitory, visualised",
        description=(
            "Rank the input channels of one filter of a Conv2D or Dense layer by the L2 norm of their weights, "
            "label each excitatory or inhibitory (inhibitory when its negative weights outweigh its positive "
            "ones), render the feature visualisations of the filter and of its top excitatory and inhibitory "
            "inputs (channels of the layer that feeds it), and write a figure (circuit.png), a self-contained "
            "weight-explorer page (circuit.html) and the table (circuit.json) to --out. Models as tfprobe act "
            "takes them.\n\nexamples:\n"
            "  tfprobe circuit --model vgg16 --layer block5_conv2 --filter 2 --top 10 --out block5_conv2_2\n"
            "  tfprobe circuit --model model.keras --layer conv4 --filter 3 --top 5 --steps 128 --out conv4_3\n"
            "  tfprobe circuit --model rnn --layer conv2 --filter 0 --timestep 3 --out rnn_conv2_0"
        ),
    )
    models.add_model_options(parser, as_option=True)
    parser.add_argument("--layer", required=True, help="a Conv2D or Dense layer (see tfprobe act MODEL --list)")
    parser.add_argument("--filter", type=int, required=True, help="the filter (output channel) index")
    parser.add_argument("--top", type=int, default=10, help="inputs of each kind shown (default 10)")
    parser.add_argument("--size", type=int, default=128, help="side of the visualisations in pixels (default 128)")
    parser.add_argument("--steps", type=int, default=256, help="optimisation steps (default 256)")
    parser.add_argument("--recipe", default="default", help=f"{', '.join(RECIPES)} (default: default)")
    parser.add_argument("--timestep", type=int, help="the recurrent network: the time step rendered (default 0)")
    parser.add_argument("--no-render", action="store_true", help="weights only: no feature visualisations")
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.set_defaults(handler=circuit)
