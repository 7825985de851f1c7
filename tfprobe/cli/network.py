"""``tfprobe run`` and ``tfprobe export``: the recurrent network itself."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--code", default="bglt_0111", help="recurrence flags, the authors' code (default bglt_0111)")
    parser.add_argument("--timesteps", type=int, default=4, help="time steps to unroll (default 4)")
    parser.add_argument("--n-feats", type=int, default=8, help="conv1 channels (default 8)")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="the authors' .pth state_dict to load (read without torch, executing nothing)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the weight initialisation and images")


def build_model(args: argparse.Namespace):
    import keras

    from tfprobe.models import GainModulatedRNN

    keras.utils.set_random_seed(args.seed)
    model = GainModulatedRNN.from_code(args.code, timesteps=args.timesteps, n_feats=args.n_feats)
    model.build((None, 100, 100, 1))
    if args.checkpoint is not None:
        model.load_torch_checkpoint(args.checkpoint)
    return model


def _demo_images(batch: int, seed: int) -> np.ndarray:
    """A reproducible batch: bright bars on dark noise, one per quadrant position."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.1, size=(batch, 100, 100, 1)).astype("float32")
    for i in range(batch):
        row, col = rng.choice([25, 75]), rng.choice([25, 75])
        images[i, row - 10 : row + 10, col - 3 : col + 3, 0] = 1.0
    return images


def _describe_shape(value: object) -> str:
    return "x".join(str(d) for d in np.shape(value))


def run(args: argparse.Namespace) -> int:
    from tfprobe.export import export_saved_model

    if args.batch < 1:
        raise ValueError(f"--batch must be >= 1, got {args.batch}")
    model = build_model(args)
    images = _demo_images(args.batch, args.seed)
    out = model(images, return_activations=True).numpy()
    source = f"weights from {args.checkpoint}" if args.checkpoint else "random initial weights (no --checkpoint)"
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

    model = build_model(args)
    path = export_saved_model(model, args.out, overwrite=args.overwrite)
    names = saved_model_output_names(model)
    print(f"wrote a SavedModel to {path.resolve()}")
    print(f"serving_default: input 'images' float32 (batch, 100, 100, 1); {len(names)} outputs:")
    print("  " + ", ".join(names))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``run`` and ``export``."""
    parser = commands.add_parser("run", help="build the recurrent network, run a batch, write an export")
    add_model_arguments(parser)
    parser.add_argument("--batch", type=int, default=4, help="images in the batch (default 4)")
    parser.add_argument("--out", type=Path, default=Path("tfprobe-export"), help="SavedModel directory to write")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.set_defaults(handler=run)

    parser = commands.add_parser("export", help="write the recurrent network as a SavedModel")
    add_model_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="SavedModel directory to write")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.set_defaults(handler=export)
