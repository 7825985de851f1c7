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


def read_labels(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Label vectors from ``.npz`` (one array per label), ``.csv`` (a header row; one column per label) or
    ``.npy`` (one vector, named ``label``); an ``ids`` array / ``id`` column, if present, names the stimuli."""
    if not path.is_file():
        raise FileNotFoundError(f"label file {str(path)!r} does not exist")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                columns = {key: archive[key] for key in archive.keys()}
        elif path.suffix == ".npy":
            columns = {"label": np.load(path, allow_pickle=False)}
        elif path.suffix == ".csv":
            table = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")
            columns = {name: np.atleast_1d(table[name]) for name in table.dtype.names}
        else:
            raise ValueError(f"label file {path} must be .npz, .csv or .npy")
    except (OSError, ValueError) as error:
        if "must be .npz" in str(error):
            raise
        raise ValueError(f"cannot read label file {path}: {error}") from None
    ids = columns.pop("ids", None)
    ids = columns.pop("id", ids)
    if not columns:
        raise ValueError(f"label file {path} holds no labels (only ids)")
    return columns, ids


def _align(labels: dict[str, np.ndarray], label_ids: np.ndarray | None, ids: np.ndarray, where: Path) -> dict:
    """The labels in the activation file's stimulus order."""
    if label_ids is None:
        for name, values in labels.items():
            if len(values) != len(ids):
                raise ValueError(
                    f"label {name!r} in {where} has {len(values)} values but the activations hold {len(ids)} stimuli"
                )
        return labels
    position = {str(key): i for i, key in enumerate(label_ids)}
    missing = [str(key) for key in ids if str(key) not in position]
    if missing:
        raise ValueError(f"{len(missing)} stimuli of the activation file have no label in {where}, e.g. {missing[:3]}")
    order = np.array([position[str(key)] for key in ids])
    return {name: values[order] for name, values in labels.items()}


def decode_command(args: argparse.Namespace) -> int:
    from tfprobe.decoding import HoldOut, decode
    from tfprobe.probing.store import load_activations

    if args.out is not None and args.out.exists() and not args.overwrite:
        raise FileExistsError(f"{args.out} exists: pass --overwrite to replace it")
    activations = load_activations(args.activations)
    labels, label_ids = read_labels(args.labels)
    labels = _align(labels, label_ids, activations.ids, args.labels)
    if args.targets:
        unknown = [t for t in args.targets if t not in labels]
        if unknown:
            raise ValueError(f"no label {unknown[0]!r} in {args.labels}; it has {', '.join(labels)}")
        labels = {name: labels[name] for name in args.targets}
    features = activations.subset(args.units or activations.units)
    cv = HoldOut(args.holdout) if args.holdout else args.cv
    print(
        f"decoding {', '.join(labels)} from {len(features)} units of {activations.path.name} "
        f"({activations.n_stimuli} stimuli; {args.classifier}, C={args.C}, "
        f"{f'hold-out of the last {args.holdout}' if args.holdout else f'{args.cv}-fold cross-validation'}"
        f"{f', PCA {args.pca}' if args.pca else ''})"
    )
    result = decode(
        features,
        labels,
        cv=cv,
        classifier=args.classifier,
        C=args.C,
        pca=args.pca,
        standardize=not args.no_standardize,
        seed=args.seed,
        progress=True,
    )
    print(result.table())
    if args.out is not None:
        result.save(args.out)
        print(f"wrote {args.out}")
    if args.figure is not None:
        from tfprobe.figures.decoding import plot_layerwise

        plot_layerwise(result, target=args.figure_target or result.targets[0], path=args.figure)
        print(f"wrote {args.figure}")
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

    parser = commands.add_parser(
        "decode",
        help="decode labels from an activation file, unit by unit, with cross-validation",
        description="Fit linear read-outs from every unit of an activation file (tfprobe act) to each label and "
        "report held-out accuracy (mean and SEM over folds).",
    )
    parser.add_argument("activations", type=Path, help="the .h5 file written by tfprobe act")
    parser.add_argument(
        "labels", type=Path, help=".npz (one array per label), .csv (header row) or .npy; optional ids / id column"
    )
    parser.add_argument("--targets", nargs="+", metavar="LABEL", help="labels to decode (default: all)")
    parser.add_argument("--units", nargs="+", metavar="UNIT", help="units to decode from (default: all)")
    parser.add_argument("--classifier", choices=("logistic", "svm"), default="logistic", help="default logistic")
    parser.add_argument("--cv", type=int, default=10, help="k-fold cross-validation (default 10)")
    parser.add_argument("--holdout", type=int, help="instead: test on the last N stimuli (the original's 200)")
    parser.add_argument("--pca", type=int, help="PCA components fitted on each training fold")
    parser.add_argument("--C", type=float, default=1.0, help="inverse L2 strength, scikit-learn's C (default 1)")
    parser.add_argument("--no-standardize", action="store_true", help="do not z-score features")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold split")
    parser.add_argument("--out", type=Path, help="write the result as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--figure", type=Path, help="save a bar plot (accuracy per unit, SEM error bars)")
    parser.add_argument("--figure-target", help="label shown in --figure (default: the first)")
    parser.set_defaults(handler=decode_command)
