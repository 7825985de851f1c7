"""``tfprobe act`` and ``tfprobe decode``: activations to a file, and decoding from it."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _pool(text: str | None) -> str | int | tuple[str, int] | None:
    if text is None or text == "none":
        return None
    if text in ("mean", "max"):
        return text
    if text.isdigit():
        return int(text)
    reducer, _, side = text.partition(":")
    if reducer in ("mean", "max") and side.isdigit():
        return reducer, int(side)
    raise ValueError(f"--pool must be none, mean, max, K or mean:K / max:K (adaptive pooling to KxK), got {text!r}")


def _stimuli(path: Path, input_shape: tuple[int | None, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    from tfprobe.datasets.image_folder import load_array_file, load_image_folder

    if path.is_dir():
        height, width, channels = input_shape
        size = None if height is None or width is None else (height, width)
        return load_image_folder(path, size=size, channels=channels or 3)
    images, ids = load_array_file(path)
    if np.issubdtype(images.dtype, np.integer):
        images = images.astype(np.float32) / 255.0
    return images, ids


def act(args: argparse.Namespace) -> int:
    from tfprobe.models.loading import load_model
    from tfprobe.probe import Probe

    if args.append and args.overwrite:
        raise ValueError("give --append or --overwrite, not both")
    weights = None if args.weights == "none" else args.weights
    model = load_model(args.model, weights=weights, seed=args.seed)
    probe = Probe(model, batch_size=args.batch_size)
    if args.list:
        print(probe.summary())
        return 0
    if args.stimuli is None or args.out is None or not args.layers:
        raise ValueError("give STIMULI, --layers and --out (or --list to see the units)")
    units = probe.resolve(args.layers)
    images, ids = _stimuli(args.stimuli, probe.input_shape)
    if args.scale == 255:
        images = images * 255.0
    print(f"{type(model).__name__} {model.name}: {len(images)} stimuli from {args.stimuli}, {len(units)} units")
    file = probe.extract(
        images,
        units,
        args.out,
        ids=ids,
        pool=_pool(args.pool),
        mode="a" if args.append else "w",
        overwrite=args.overwrite,
    )
    for unit in file.units:
        print(f"  {unit}: {'x'.join(map(str, file.shapes[unit]))}")
    print(f"wrote {file.path} ({file.n_stimuli} stimuli, pooling: {file.attrs['pooling']})")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``act`` and ``decode``."""
    parser = commands.add_parser(
        "act",
        help="record activations of a model's units for stimuli into an HDF5 file",
        description="Record activations of a model's units for a folder of images or an array file (.npy/.npz) "
        "into an HDF5 file (one dataset per unit, stimulus ids, model metadata).",
    )
    parser.add_argument(
        "model", help="a .keras or .pth file, rnn:<code>[:<timesteps>] (e.g. rnn:bglt_0111), or vgg16/vgg19/..."
    )
    parser.add_argument("stimuli", type=Path, nargs="?", help="folder of images, or .npy / .npz array file")
    parser.add_argument("--layers", nargs="+", metavar="UNIT", help="units to record (see --list)")
    parser.add_argument("--out", type=Path, help="the .h5 file to write")
    parser.add_argument("--pool", help="none (default), mean, max, K or max:K (adaptive pooling to KxK)")
    parser.add_argument("--batch-size", type=int, default=64, help="stimuli per forward pass (default 64)")
    parser.add_argument("--scale", type=int, choices=(1, 255), default=1, help="stimulus range: [0, 1] or [0, 255]")
    parser.add_argument("--weights", default="imagenet", help="for applications: imagenet (default), none or a file")
    parser.add_argument("--seed", type=int, default=0, help="seed of random initialisations")
    parser.add_argument("--append", action="store_true", help="append the stimuli to an existing file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.add_argument("--list", action="store_true", help="list the model's units and exit")
    parser.set_defaults(handler=act)
