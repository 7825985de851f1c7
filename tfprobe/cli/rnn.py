"""``tfprobe rnn``: the recurrent-network lab (Thorat, Aldegheri & Kietzmann 2021), one sub-command per verb.

``tfprobe rnn run``
    The whole lab: weights (the authors' checkpoint, or trained here), evaluation, decoding through time,
    recurrent-flow perturbation, figures and an HTML report.
``tfprobe rnn train``
    Train the network on streamed cluttered scenes into a run folder that a second call resumes.
``tfprobe rnn download``
    Fetch the authors' trained checkpoints from OSF.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

from tfprobe.cli import network
from tfprobe.cli.checks import check_positive
from tfprobe.cli.failures import UsageError
from tfprobe.cli.parsing import CommandParser, add_command
from tfprobe.cli.rnn_download import add_download_command

__all__ = ["add_commands", "run", "train"]

SCHEDULE_NAMES = ("fast", "original")  # tfprobe.recurrent.schedules.SCHEDULES, without importing Keras


def _check_train(args: argparse.Namespace) -> None:
    check_positive(args.steps, "--steps")
    check_positive(args.batch_size, "--batch-size")
    check_positive(args.validation, "--validation")
    check_positive(args.validate_every, "--validate-every")
    if args.learning_rate is not None and not 0 < args.learning_rate < 1:
        raise UsageError(f"--learning-rate must be in (0, 1), got {args.learning_rate}")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise UsageError(f"--max-minutes must be > 0, got {args.max_minutes}")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {str(args.out)!r} is a file, expected a run folder")


def train(args: argparse.Namespace) -> int:
    """Train (or resume) a run and print where it ended."""
    _check_train(args)
    import keras

    from tfprobe.cli import models
    from tfprobe.recurrent.training import train as train_network

    keras.utils.set_random_seed(args.seed)
    model = models.load(network._model_args(args))
    result = train_network(
        model,
        args.steps,
        schedule=args.schedule,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        seed=args.seed,
        validation=args.validation,
        validate_every=args.validate_every,
        folder=args.out,
        overwrite=args.overwrite,
        log_dir=args.log_dir,
        max_seconds=None if args.max_minutes is None else 60.0 * args.max_minutes,
        progress=not args.quiet,
    )
    last = result.history[-1] if result.history else {}
    summary = {
        "model": model.flags.code,
        "timesteps": model.timesteps,
        "schedule": result.schedule.describe(),
        "steps": result.steps,
        "seconds": round(result.seconds, 1),
        "resumed_from": result.resumed_from,
        "validation_accuracy": last.get("validation_accuracy"),
        "validation_loss": last.get("validation_loss"),
        "weights": str((args.out / "model.weights.h5").resolve()),
    }
    print(json.dumps(summary))
    return 0


def _process_started() -> float:
    """The ``time.perf_counter()`` of this process's start (read from ``/proc``; now where there is none), so
    that the lab's budget also counts starting Python and the imports before the command runs."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter()
    return time.perf_counter() - age if 0 <= age < 600 else time.perf_counter()


def run(args: argparse.Namespace) -> int:
    """The lab end to end; prints the summary as one JSON line last."""
    started = _process_started()
    for flag in (
        "steps",
        "validation",
        "validate_every",
        "test_scenes",
        "decoding_scenes",
        "repetitions",
        "perturbation_scenes",
        "n_test",
    ):
        check_positive(getattr(args, flag), "--" + flag.replace("_", "-"))
    if not (math.isfinite(args.minutes) and args.minutes > 0):
        raise UsageError(f"--minutes must be a positive number (the whole run's wall time), got {args.minutes:g}")
    if args.n_test + 2 > args.decoding_scenes:
        raise UsageError(
            f"too few scenes for the split: --decoding-scenes {args.decoding_scenes} cannot hold --n-test "
            f"{args.n_test} test scenes and at least 2 training scenes"
        )
    if args.out.exists() and not args.overwrite:
        raise UsageError(f"--out {str(args.out)!r} exists: choose another folder, or pass --overwrite to replace it")
    if args.checkpoint is not None and not args.checkpoint.is_file():
        raise UsageError(f"--checkpoint {str(args.checkpoint)!r} does not exist")
    from tfprobe.recurrent.lab import LabSettings, run_lab

    settings = LabSettings(
        code=args.code or "bglt_0111",
        timesteps=args.timesteps or 4,
        n_feats=args.n_feats or 8,
        checkpoint=None if args.checkpoint is None else str(args.checkpoint),
        use_downloaded=not args.train,
        steps=args.steps,
        schedule=args.schedule,
        minutes=args.minutes,
        validation=args.validation,
        validate_every=args.validate_every,
        test_scenes=args.test_scenes,
        decoding_scenes=args.decoding_scenes,
        decoding_repetitions=args.repetitions,
        n_test=args.n_test,
        perturbation_scenes=args.perturbation_scenes,
        seed=args.seed,
    )
    summary = run_lab(args.out, settings, overwrite=args.overwrite, progress=not args.quiet, started=started)
    print(
        json.dumps(
            {
                key: summary[key]
                for key in ("test_accuracy", "clean_test_accuracy", "training_steps", "weights_source", "seconds")
            }
        )
    )
    return 0


def _add_run_command(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "run",
        help="the recurrent-network lab end to end, with an HTML report",
        description=(
            "Run the lab of Thorat, Aldegheri & Kietzmann (2021) on the recurrent gain-modulated network: take "
            "the authors' trained checkpoint (--checkpoint, or the file tfprobe rnn download put in its folder), "
            "or else train the network here (by default the fast schedule for as many steps as fit in what the "
            "time budget leaves for training on this machine, on the offline data tfprobe embeds); then measure "
            "its accuracy on cluttered and clean test scenes, decode category, domain, location, scale and "
            "orientation from every layer, time step and recurrent flow (Figure 3A), and perturb the recurrent "
            "flows (Figure 4D).\n\n"
            "The whole run keeps to --minutes: before training it draws its scenes, times the training loop and "
            "rehearses a part of each later phase on a throwaway network, and gives training what the later "
            "phases and a margin leave. The report states the plan beside the seconds each phase took.\n\n"
            "--out receives summary.json, report.html (self-contained), figures/, decoding.h5, perturbation.h5, "
            "model.weights.h5 and, when trained, training/ (a run folder tfprobe rnn train can continue). It is "
            "built as --out.partial and renamed when complete; a killed run started again resumes its training. "
            "The last line of standard output is a JSON summary.\n\nexamples:\n"
            "  tfprobe rnn run --out lab\n"
            "  tfprobe rnn run --out lab-long --steps 10000 --minutes 130\n"
            "  tfprobe rnn run --out lab-authors --checkpoint rnn_bglt_0111_t_4_num_1.pth"
        ),
    )
    network._add_network_options(parser)
    parser.add_argument("--out", type=Path, required=True, help="folder to write (refused if it exists)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out")
    parser.add_argument("--train", action="store_true", help="train even when the authors' checkpoint is downloaded")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps when training (default: as many as fit in the budget, timed here first)",
    )
    parser.add_argument("--schedule", choices=SCHEDULE_NAMES, default="fast", help="learning-rate schedule")
    parser.add_argument(
        "--minutes",
        type=float,
        default=13.0,
        help="the whole run's wall time: training gets what the phases after it, measured here first, leave "
        "(default 13)",
    )
    parser.add_argument("--validation", type=int, default=1000, help="validation scenes (default 1000)")
    parser.add_argument("--validate-every", type=int, default=500, help="steps between validations (default 500)")
    parser.add_argument("--test-scenes", type=int, default=2000, help="test scenes for accuracy (default 2000)")
    parser.add_argument(
        "--decoding-scenes", type=int, default=500, help="scenes per decoding repetition (default 500; original 1000)"
    )
    parser.add_argument("--repetitions", type=int, default=2, help="decoding repetitions (default 2; original 10)")
    parser.add_argument("--n-test", type=int, default=100, help="held-out decoding scenes (default 100; original 200)")
    parser.add_argument(
        "--perturbation-scenes", type=int, default=100, help="scenes of the perturbation analysis (default 100)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def _add_train_command(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "train",
        help="train the recurrent network on cluttered scenes (resumable)",
        description=(
            "Train the recurrent gain-modulated network on 20-way categorisation of cluttered MNIST / "
            "Fashion-MNIST scenes streamed from tfprobe's scene generator (the original study's task and loss), "
            "validating on a fixed set of --validation scenes every --validate-every steps.\n\n"
            "The run folder --out keeps run.json (settings), history.json (one entry per validation), "
            "checkpoints/ (weights, optimizer, step and data-stream position) and, at the end, "
            "model.weights.h5. Calling the command again on the same folder resumes from its last checkpoint "
            "(a killed run loses only the steps since); other settings are refused unless --overwrite. A run on "
            "the original schedule can be resumed with more --steps.\n\n"
            "Schedules: original = Adam 1e-4, batch 32, constant (the authors' 300,000 GPU steps); fast = peak "
            "1e-3 after a warm-up over 30% of the steps (at most 500), held, then a cosine decay to 1% of it "
            "over the last 30%, with scenes without clutter fading out of the batches over the warm-up (for CPU "
            "budgets).\n\n"
            "The last line of standard output is a JSON summary.\n\nexamples:\n"
            "  tfprobe rnn train --out runs/bglt_0111 --steps 4000\n"
            "  tfprobe rnn train --out runs/original --schedule original --steps 20000 --log-dir logs\n"
            "  tfprobe rnn train --out runs/fast --steps 40000 --max-minutes 120"
        ),
    )
    network._add_network_options(parser)
    parser.add_argument("--out", type=Path, required=True, help="run folder (created, or resumed)")
    parser.add_argument("--steps", type=int, default=2000, help="training steps in total (default 2000)")
    parser.add_argument("--schedule", choices=SCHEDULE_NAMES, default="fast", help="learning-rate schedule")
    parser.add_argument("--learning-rate", type=float, help="peak learning rate instead of the schedule's")
    parser.add_argument("--batch-size", type=int, help="scenes per step instead of the schedule's 32")
    parser.add_argument("--validation", type=int, default=1000, help="validation scenes (default 1000)")
    parser.add_argument("--validate-every", type=int, default=500, help="steps between validations (default 500)")
    parser.add_argument("--max-minutes", type=float, help="stop, with a checkpoint, after this much training time")
    parser.add_argument("--log-dir", type=Path, help="write TensorBoard summaries here")
    parser.add_argument("--overwrite", action="store_true", help="delete --out first and start over")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=train)


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register the ``rnn`` group and its sub-commands."""
    group = commands.add_parser(
        "rnn",
        help="the recurrent-network lab: run, train, download",
        description=(
            "The lab of Thorat, Aldegheri & Kietzmann (2021) on their recurrent gain-modulated network: run it end "
            "to end with a report, train the network, or download the authors' trained checkpoints."
        ),
    )
    verbs = group.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=CommandParser)
    _add_run_command(verbs)
    _add_train_command(verbs)
    add_download_command(verbs)
