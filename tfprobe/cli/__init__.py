"""The ``tfprobe`` command line: one sub-command per verb.

``tfprobe run``
    Build the recurrent network (optionally from the authors' ``.pth``
    checkpoint), run one batch of images through it, print what it computed
    and write a SavedModel export.
``tfprobe export``
    Write the SavedModel of a network and list its signature.
``tfprobe act``
    Record the activations of a model's units for a folder or array of stimuli into an HDF5 file.
``tfprobe decode``
    Decode labels from an activation file, unit by unit, with cross-validation.
``tfprobe data``
    Show where MNIST and Fashion-MNIST are found and which copy a load would use.

Bad input ends the command with exit status 2 and a one-line reason.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tfprobe.cli import data, network, probing

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tfprobe", description="Probe vision networks in TensorFlow / Keras.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    network.add_commands(commands)
    probing.add_commands(commands)
    data.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tfprobe`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, FileExistsError, TypeError, KeyError, OSError) as exc:
        message = " ".join(str(exc).split())
        print(f"tfprobe {args.command}: error: {message}", file=sys.stderr)
        return 2
