"""``tfprobe run`` and ``tfprobe export``: the recurrent network itself."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tfprobe.cli import models
from tfprobe.cli.checks import check_output, check_positive
from tfprobe.cli.parsing import add_command


def _add_network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="the authors' .pth state_dict to load (read without torch, executing nothing); its name gives the "
        "flags and its tensors the size",
    )
    models.add_model_options(parser, any_model=False)


def _model_args(args: argparse.Namespace) -> argparse.Namespace:
    """The arguments as ``tfprobe act`` would take them: MODEL is the checkpoint, or ``rnn``."""
    args.model = str(args.checkpoint) if args.checkpoint is not None else "rnn"
    models.check_model(args)
    return args


def _demo_images(batch: int, seed: int) -> Any:
    """A reproducible batch: bright bars on dark noise, one per quadrant position."""
    import numpy as np

    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.1, size=(batch, 100, 100, 1)).astype("float32")
    for i in range(batch):
        row, col = rng.choice([25, 75]), rng.choice([25, 75])
        images[i, row - 10 : row + 10, col - 3 : col + 3, 0] = 1.0
    return images


def _describe_shape(value: object) -> str:
    import numpy as np

    return "x".join(str(d) for d in np.shape(value))


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from tfprobe.export import export_saved_model

    check_positive(args.batch, "--batch")
    check_output(args.out, overwrite=args.overwrite, flag="--out")
    model = models.load(_model_args(args))
    images = _demo_images(args.batch, args.seed)
    out = model(images, return_activations=True).numpy()
    source = f"weights from {args.checkpoint}" if args.checkpoint else f"random initial weights (seed {args.seed})"
    print(f"GainModulatedRNN {model.flags.code}, n_feats={model.n_feats}, timesteps={model.timesteps}; {source}")
    print(f"ran a batch of {args.batch} images of 100x100x1")
    print(f"  log_probs {_describe_shape(out.log_probs)}; predicted classes {out.log_probs.argmax(-1).tolist()}")
    for stage, steps in out.activations.items():
        means = ", ".join(f"{float(np.mean(a)):.4f}" for a in steps)
        print(f"  activations[{stage!r}]: {len(steps)} steps of {_describe_shape(steps[0])}; mean per step {means}")
    for stage, kinds in out.flows.items():
        for kind, flow in kinds.items():
            if flow is None:
                continue
            print(f"  flows[{stage!r}][{kind!r}]: {len(flow)} transitions from {flow.keys()}")
    path = export_saved_model(model, args.out, overwrite=args.overwrite)
    print(f"wrote a SavedModel to {path.resolve()} (signatures: serving_default, classify)")
    return 0


def export(args: argparse.Namespace) -> int:
    from tfprobe.export import export_saved_model, saved_model_output_names

    check_output(args.out, overwrite=args.overwrite, flag="--out")
    model = models.load(_model_args(args))
    path = export_saved_model(model, args.out, overwrite=args.overwrite)
    names = saved_model_output_names(model)
    print(f"wrote a SavedModel to {path.resolve()}")
    print(f"serving_default (= serve): input 'images' float32 (batch, 100, 100, 1); {len(names)} outputs:")
    print("  " + ", ".join(names))
    print("classify: input 'images'; output 'log_probs'")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``run`` and ``export``."""
    parser = add_command(
        commands,
        "run",
        help="build the recurrent network, run a batch, write an export",
        description=(
            "Build the recurrent gain-modulated network of Thorat, Aldegheri & Kietzmann (2021) (random weights "
            "from --seed, or the authors' --checkpoint), run a reproducible batch of images through it, print "
            "every activation and recurrent flow it computed, and write a SavedModel export to --out.\n\n"
            "examples:\n"
            "  tfprobe run --out tfprobe-export --overwrite\n"
            "  tfprobe run --checkpoint rnn_bglt_0111_t_4_num_1.pth --out export"
        ),
    )
    _add_network_options(parser)
    parser.add_argument("--batch", type=int, default=4, help="images in the batch (default 4)")
    parser.add_argument("--out", type=Path, default=Path("tfprobe-export"), help="SavedModel folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.set_defaults(handler=run)

    parser = add_command(
        commands,
        "export",
        help="write the recurrent network as a SavedModel",
        description=(
            "Write the recurrent network (random weights from --seed, or the authors' --checkpoint) as a "
            "TensorFlow SavedModel that runs without tfprobe, and list its signatures: serving_default (alias "
            "serve) returns log_probs, readout and every activation and recurrent flow by name; classify returns "
            "log_probs only.\n\nexample:\n"
            "  tfprobe export --checkpoint rnn_bglt_0111_t_4_num_1.pth --out rnn_savedmodel"
        ),
    )
    _add_network_options(parser)
    parser.add_argument("--out", type=Path, required=True, help="SavedModel folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.set_defaults(handler=export)
