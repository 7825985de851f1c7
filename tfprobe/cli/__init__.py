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
``tfprobe rsa``
    Compute the RDMs of an activation file's units, compare them (with model RDMs of labels and bootstrap
    intervals) and, on request, their CKA; write the RDMs, the comparison matrices and figures to a folder.
``tfprobe visualize``
    Render images that maximise a unit's channels (or classes) and write them to a folder.
``tfprobe circuit``
    Rank a filter's input channels, label them excitatory or inhibitory, visualise them, write a figure,
    a weight-explorer page and the table.
``tfprobe atlas``
    Write a unit atlas of some layers: per channel its feature visualisation, dataset examples and
    strongest inputs, as self-contained HTML pages linked across layers.
``tfprobe csf``
    Train linear probes on a backbone's layers for contrast discrimination and measure each layer's
    contrast sensitivity function with a staircase; write the figures and thresholds.
``tfprobe data``
    Show where MNIST and Fashion-MNIST are found and which copy a load would use.
``tfprobe rnn train`` / ``tfprobe rnn download``
    Train the recurrent network on cluttered scenes (resumable); fetch the authors' trained checkpoints.

The parser is built without importing TensorFlow, so ``--help`` answers at once; a command that needs
TensorFlow imports it with its native start-up logs silenced (``--verbose`` shows them).  Every command
checks its arguments before working, writes nothing when it fails, and ends an expected error with one
line and exit status 2 (usage) or 1 (data); ``--debug`` adds the traceback.  Any other error is a bug: exit
status 3, one line saying so and where its traceback was saved (``--debug`` prints it instead); see
:mod:`tfprobe.cli.failures`.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from tfprobe import __version__
from tfprobe.cli import atlas, circuit, csf, data, network, probing, rnn, similarity, visualize
from tfprobe.cli.failures import DATA, UNEXPECTED, USAGE, exit_status, one_line, report_bug
from tfprobe.cli.parsing import CommandParser

__all__ = ["build_parser", "main"]

#: Commands that run without TensorFlow.
_LIGHT_COMMANDS = {"data"}

_EPILOG = (
    f"exit status: 0 done; {USAGE} the command was used wrongly; {DATA} the data could not be used; "
    f"{UNEXPECTED} an unexpected error (a bug: the traceback is saved to a file named on the error's line, "
    "--debug prints it)"
)


def build_parser() -> argparse.ArgumentParser:
    """The ``tfprobe`` parser (building it imports no TensorFlow)."""
    parser = CommandParser(prog="tfprobe", description="Probe vision networks in TensorFlow / Keras.", epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"tfprobe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CommandParser)
    network.add_commands(commands)
    probing.add_commands(commands)
    similarity.add_commands(commands)
    visualize.add_commands(commands)
    circuit.add_commands(commands)
    atlas.add_commands(commands)
    csf.add_commands(commands)
    data.add_commands(commands)
    rnn.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tfprobe`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    name = " ".join(filter(None, (args.command, getattr(args, "verb", None))))
    try:
        if name not in _LIGHT_COMMANDS:
            from tfprobe.cli.quiet import import_tensorflow

            import_tensorflow(verbose=args.verbose)
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"tfprobe {name}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        status = exit_status(error)
        if status is None:  # not an expected error: a bug, whose traceback is needed
            return report_bug(error, name, argv, debug=args.debug)
        if args.debug:
            traceback.print_exc()
        print(f"tfprobe {name}: error: {one_line(error)}", file=sys.stderr)
        return status
