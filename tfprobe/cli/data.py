"""``tfprobe data``: where MNIST and Fashion-MNIST are looked for, and which copy a load would use."""

from __future__ import annotations

import argparse

from tfprobe.cli.failures import UsageError
from tfprobe.cli.parsing import add_command

DATA_SETS = ("mnist", "fashion-mnist")


def data(args: argparse.Namespace) -> int:
    from tfprobe.datasets.digits import survey

    unknown = [name for name in args.datasets if name not in DATA_SETS]
    if unknown:
        raise UsageError(f"expected data sets among {', '.join(DATA_SETS)}, got {', '.join(unknown)}")
    surveys = [survey(name) for name in args.datasets or DATA_SETS]
    print("\n\n".join(str(found) for found in surveys))
    return 0 if all(found.usable for found in surveys) else 1


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``data``."""
    parser = add_command(
        commands,
        "data",
        help="show where MNIST and Fashion-MNIST are found",
        description=(
            "List, for MNIST and Fashion-MNIST, every place tfprobe looks in, in order ($TFPROBE_DATA_DIR, "
            "Debian's dataset-fashion-mnist, the Keras cache, tensorflow-datasets, the test splits embedded in "
            "tfprobe), what each holds, and which copy a load would use. Nothing is downloaded. Exit status 0 "
            "when every data set asked for is usable, 1 otherwise."
        ),
    )
    parser.add_argument(
        "datasets",
        nargs="*",  # checked by the command: argparse's choices refuse an empty list here
        metavar="DATASET",
        help="mnist and/or fashion-mnist (default both)",
    )
    parser.set_defaults(handler=data)
