"""``tfprobe act`` and ``tfprobe decode``: activations to a file, and decoding from it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tfprobe.cli import models
from tfprobe.cli.checks import check_existing, check_output, check_positive
from tfprobe.cli.failures import DataError, UsageError
from tfprobe.cli.parsing import add_command
from tfprobe.errors import InvalidValueError

PREPROCESS_CHOICES = ("auto", "none", *models.APPLICATION_NAMES)
_POOL_HELP = "none (default), mean, max, K or mean:K / max:K (adaptive pooling to KxK)"


def _pool(text: str | None) -> str | int | tuple[str, int] | None:
    if text is None or text == "none":
        return None
    if text in ("mean", "max"):
        return text
    if text.isdigit() and int(text) > 0:
        return int(text)
    reducer, _, side = text.partition(":")
    if reducer in ("mean", "max") and side.isdigit() and int(side) > 0:
        return reducer, int(side)
    raise UsageError(f"--pool must be {_POOL_HELP}, got {text!r}")


def _preparation(args: argparse.Namespace) -> tuple[float, str | None, str, str]:
    """Pixel scale of loaded stimuli, the preprocessing family (or None), and how to describe both."""
    choice = args.preprocess or "auto"
    if choice not in PREPROCESS_CHOICES:
        raise UsageError(f"--preprocess must be one of {', '.join(PREPROCESS_CHOICES)}, got {choice!r}")
    family = models.application_name(args.model) if choice == "auto" else (None if choice == "none" else choice)
    if family is not None:
        if args.scale is not None:
            raise UsageError(
                f"--scale sets the range of stimuli that are not preprocessed; --preprocess {family} takes 0-255 "
                "pixels (give --preprocess none to use --scale)"
            )
        module = models.APPLICATION_NAMES[family]
        return 255.0, family, "[0, 255]", f"keras.applications.{module}.preprocess_input"
    scale = float(args.scale or 1)
    return scale, None, f"[0, {int(scale)}]", "none"


def _open_stimuli(path: Path, input_shape: tuple[int | None, ...], scale: float) -> tuple[Any, Any, str]:
    """The stimuli as an array-like read one batch at a time, their ids, and a note on what was done."""
    from tfprobe.datasets.image_folder import ArrayFile, ImageFolder, Transformed
    from tfprobe.probing.stimuli import check_finite

    if path.is_dir():
        height, width, channels = input_shape
        size = None if height is None or width is None else (height, width)
        folder = ImageFolder(path, size=size, channels=channels or 3, scale=scale)
        return folder, folder.ids, folder.conversions()
    stimuli = ArrayFile(path)
    if stimuli.dtype.kind in "iu":  # 8-bit images
        note = f"read {stimuli.dtype} values as 8-bit pixels ({'/ 255' if scale == 1 else 'as they are'})"
        return Transformed(stimuli, lambda batch: batch * (scale / 255.0)), stimuli.ids, note
    if stimuli.dtype.kind != "f":
        raise DataError(f"stimulus file {path}: expected numbers, got dtype {stimuli.dtype}")
    for start in range(0, len(stimuli), 1024):  # streamed: nothing is run on a file holding NaN
        check_finite(stimuli[start : start + 1024], start, f"stimulus file {path}")
    if scale == 1:
        return stimuli, stimuli.ids, ""
    return Transformed(stimuli, lambda batch: batch * scale), stimuli.ids, f"multiplied values by {scale:g}"


def _check_act(args: argparse.Namespace) -> None:
    models.check_model(args)
    if args.list:
        return
    missing = [name for name, value in (("STIMULI", args.stimuli), ("--layers", args.layers), ("--out", args.out))
               if not value]
    if missing:
        raise UsageError(f"give {', '.join(missing)} (or --list to see the model's units)")
    if args.append and args.overwrite:
        raise UsageError("give --append or --overwrite, not both")
    check_positive(args.batch_size, "--batch-size")
    _pool(args.pool)
    _preparation(args)
    check_existing(args.stimuli, "stimuli", folder_allowed=True)
    also = "or --append to add stimuli to it"
    check_output(args.out, overwrite=args.overwrite or args.append, flag="--out", also=also)


def act(args: argparse.Namespace) -> int:
    from tfprobe.datasets.image_folder import Transformed
    from tfprobe.probe import Probe

    _check_act(args)
    model = models.load(args)
    probe = Probe(model, batch_size=args.batch_size)
    if args.list:
        print(probe.summary())
        return 0
    units = probe.resolve(args.layers)
    scale, family, scale_text, preprocessing = _preparation(args)
    stimuli, ids, note = _open_stimuli(args.stimuli, probe.input_shape, scale)
    if family is not None:
        from tfprobe.models.preprocessing import family_mode, preprocess_pixels

        mode = family_mode(family)
        stimuli = Transformed(stimuli, lambda pixels: preprocess_pixels(pixels, mode))
    print(f"{type(model).__name__} {model.name}: {len(stimuli)} stimuli from {args.stimuli}, {len(units)} units")
    if note:
        print(f"  {note}")
    print(f"  stimuli in {scale_text}, preprocessing: {preprocessing}")
    file = probe.extract(
        stimuli,
        units,
        args.out,
        ids=ids,
        pool=_pool(args.pool),
        mode="a" if args.append else "w",
        overwrite=args.overwrite,
        metadata={"scale": scale_text, "preprocessing": preprocessing},
    )
    for unit in file.units:
        print(f"  {unit}: {'x'.join(map(str, file.shapes[unit]))}")
    print(f"wrote {file.path} ({file.n_stimuli} stimuli, pooling: {file.attrs['pooling']})")
    return 0


def read_labels(path: Path) -> tuple[dict[str, Any], Any]:
    """Label vectors from ``.npz`` (one array per label), ``.csv`` (a header row; one column per label) or
    ``.npy`` (one vector, named ``label``); an ``ids`` array / ``id`` column, if present, names the stimuli."""
    import numpy as np

    if path.suffix not in (".npz", ".npy", ".csv"):
        raise UsageError(f"label file {path} must be .npz, .csv or .npy")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                columns = {key: archive[key] for key in archive.keys()}
        elif path.suffix == ".npy":
            columns = {"label": np.load(path, allow_pickle=False)}
        else:
            table = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")
            columns = {name: np.atleast_1d(table[name]) for name in table.dtype.names}
    except (OSError, ValueError, TypeError, EOFError) as error:
        raise DataError(f"cannot read label file {path}: {' '.join(str(error).split())}") from None
    ids = columns.pop("ids", None)
    ids = columns.pop("id", ids)
    if not columns:
        raise DataError(f"label file {path} holds no labels (only ids)")
    return columns, ids


def align_labels(labels: dict[str, Any], label_ids: Any, ids: Any, where: Path) -> dict[str, Any]:
    """The labels in the activation file's stimulus order."""
    import numpy as np

    if label_ids is None:
        for name, values in labels.items():
            if len(values) != len(ids):
                raise DataError(
                    f"label {name!r} in {where} has {len(values)} values but the activations hold {len(ids)} stimuli"
                )
        return labels
    position = {str(key): i for i, key in enumerate(label_ids)}
    missing = [str(key) for key in ids if str(key) not in position]
    if missing:
        raise DataError(f"{len(missing)} stimuli of the activation file have no label in {where}, e.g. {missing[:3]}")
    order = np.array([position[str(key)] for key in ids])
    return {name: values[order] for name, values in labels.items()}


def _check_decode(args: argparse.Namespace) -> None:
    from tfprobe.figures.saving import check_figure_format

    check_existing(args.activations, "activation file")
    check_existing(args.labels, "label file")
    check_output(args.out, overwrite=args.overwrite, flag="--out")
    check_output(args.figure, overwrite=args.overwrite, flag="--figure")
    if args.figure is not None:
        try:
            check_figure_format(args.figure)
        except InvalidValueError as error:
            raise UsageError(f"--figure {error}") from None
    if args.figure_target and not args.figure:
        raise UsageError("--figure-target names the label shown in --figure; give --figure too")
    check_positive(args.cv, "--cv", minimum=2)
    check_positive(args.holdout, "--holdout")
    check_positive(args.pca, "--pca")
    if not args.C > 0:
        raise UsageError(f"--C must be positive, got {args.C}")


def decode_command(args: argparse.Namespace) -> int:
    from tfprobe.atomic import Publication
    from tfprobe.decoding import HoldOut, decode
    from tfprobe.probing.store import load_activations

    _check_decode(args)
    activations = load_activations(args.activations)
    labels, label_ids = read_labels(args.labels)
    labels = align_labels(labels, label_ids, activations.ids, args.labels)
    for flag, names, known, what in (
        ("--targets", args.targets, labels, f"label in {args.labels}"),
        ("--figure-target", [args.figure_target] if args.figure_target else None, args.targets or labels, "target"),
        ("--units", args.units, activations.units, f"unit in {args.activations}"),
    ):
        unknown = [name for name in names or () if name not in known]
        if unknown:
            raise UsageError(f"{flag}: no {what} {unknown[0]!r}; there are {', '.join(known)}")
    if args.targets:
        labels = {name: labels[name] for name in args.targets}
    if args.holdout and args.holdout >= activations.n_stimuli:
        raise UsageError(f"--holdout {args.holdout} leaves nothing to train on: the file holds {activations.n_stimuli}")
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
    with Publication() as outputs:  # all outputs, or none when one fails
        if args.figure is not None:
            from tfprobe.figures.decoding import plot_layerwise
            from tfprobe.figures.saving import save_figure

            figure = plot_layerwise(result, target=args.figure_target or result.targets[0])
            save_figure(figure, outputs.stage(args.figure))
        if args.out is not None:
            result.save(outputs.stage(args.out), overwrite=True)
    for path in (args.out, args.figure):
        if path is not None:
            print(f"wrote {path}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``act`` and ``decode``."""
    parser = add_command(
        commands,
        "act",
        help="record activations of a model's units for stimuli into an HDF5 file",
        description=(
            "Record activations of a model's units for a folder of images or an array file (.npy/.npz) into an "
            "HDF5 file (one dataset per unit, stimulus ids, and what made the file: model, weights, pooling, "
            "preprocessing). Stimuli are read and written batch by batch, so memory does not grow with their "
            "number.\n\nPixels: image files and integer arrays are 8-bit images, read as [0, 1] floats; float "
            "arrays are taken as [0, 1]. keras.applications models get their own preprocessing by default "
            "(--preprocess auto: e.g. vgg16's caffe-style BGR mean subtraction on 0-255 pixels); other models "
            "get [0, 1] (or [0, 255] with --scale 255).\n\nexamples:\n"
            "  tfprobe act rnn --code bglt_0111 scenes.npy --layers conv1 fc1 --pool mean --out acts.h5\n"
            "  tfprobe act vgg16 --weights none photos/ --layers block5_conv2 --out vgg.h5"
        ),
    )
    models.add_model_options(parser)
    parser.add_argument("stimuli", type=Path, nargs="?", metavar="STIMULI", help="folder of images, or .npy / .npz")
    parser.add_argument("--layers", nargs="+", metavar="UNIT", help="units to record (see --list)")
    parser.add_argument("--out", type=Path, help="the .h5 file to write")
    parser.add_argument("--pool", help=_POOL_HELP)
    parser.add_argument("--batch-size", type=int, default=64, help="stimuli per forward pass (default 64)")
    parser.add_argument(
        "--preprocess", help="auto (default: the model family's own), none, or a family: " + ", ".join(
            models.APPLICATION_NAMES
        )
    )
    parser.add_argument(
        "--scale", type=int, choices=(1, 255), help="range of stimuli that are not preprocessed: 1 ([0, 1], default) "
        "or 255"
    )
    parser.add_argument("--append", action="store_true", help="add the stimuli to an existing file made the same way")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.add_argument("--list", action="store_true", help="list the model's units and exit")
    parser.set_defaults(handler=act)

    parser = add_command(
        commands,
        "decode",
        help="decode labels from an activation file, unit by unit, with cross-validation",
        description=(
            "Fit linear read-outs from every unit of an activation file (tfprobe act) to each label and report "
            "held-out accuracy (mean and SEM over folds). Outputs (--out, --figure) are written together at "
            "the end, or not at all.\n\n--pca K keeps at most K principal components per unit: a unit with fewer "
            "features keeps all of them (the table says which), so pooled and unpooled units can be decoded in "
            "one run.\n\nexample:\n"
            "  tfprobe decode acts.h5 labels.npz --targets category --cv 10 --pca 100 --out result.json "
            "--figure bars.png"
        ),
    )
    parser.add_argument("activations", type=Path, metavar="ACTIVATIONS", help="the .h5 file written by tfprobe act")
    parser.add_argument(
        "labels", type=Path, metavar="LABELS", help=".npz (one array per label), .csv (header row) or .npy; "
        "optional ids / id column"
    )
    parser.add_argument("--targets", nargs="+", metavar="LABEL", help="labels to decode (default: all)")
    parser.add_argument("--units", nargs="+", metavar="UNIT", help="units to decode from (default: all)")
    parser.add_argument("--classifier", choices=("logistic", "svm"), default="logistic", help="default logistic")
    parser.add_argument("--cv", type=int, default=10, help="k-fold cross-validation (default 10)")
    parser.add_argument("--holdout", type=int, help="instead: test on the last N stimuli (the original's 200)")
    parser.add_argument("--pca", type=int, help="at most this many PCA components, fitted on each training fold")
    parser.add_argument("--C", type=float, default=1.0, help="inverse L2 strength, scikit-learn's C (default 1)")
    parser.add_argument("--no-standardize", action="store_true", help="do not z-score features")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold split")
    parser.add_argument("--out", type=Path, help="write the result as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace --out / --figure if they exist")
    parser.add_argument("--figure", type=Path, help="save a bar plot (accuracy per unit, SEM error bars)")
    parser.add_argument("--figure-target", help="label shown in --figure (default: the first)")
    parser.set_defaults(handler=decode_command)
