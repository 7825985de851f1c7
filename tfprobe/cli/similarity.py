"""``tfprobe rsa``: the RDMs of an activation file's units, their comparison (RSA) and CKA, written to a folder."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from tfprobe.cli.checks import check_existing, check_output, check_positive
from tfprobe.cli.failures import DataError, UsageError
from tfprobe.cli.parsing import add_command

__all__ = ["KERNELS", "METHODS", "METRICS", "add_commands", "rsa"]

#: The choices of --metric, --method and --kernel: tfprobe.similarity's own (a test keeps them equal; the
#: parser is built without importing numpy).
METRICS = ("correlation", "cosine", "euclidean", "plain_euclidean", "mahalanobis", "crossnobis")
METHODS = ("spearman", "corr", "tau-a", "cosine", "corr_cov", "cosine_cov")
KERNELS = ("linear", "rbf")
#: The fewest conditions an RDM is made of.
MIN_CONDITIONS = 3
#: Panels of the RDM figure (more units are written to rdms.h5 but not drawn).
MAX_PANELS = 24


def _choice(value: str, choices: tuple[str, ...], flag: str) -> None:
    if value not in choices:
        raise UsageError(f"{flag} must be one of {', '.join(choices)}; got {value!r}")


def _check_arguments(args: argparse.Namespace) -> None:
    """Everything that needs no file read: the options, the inputs' existence and the output."""
    _choice(args.metric, METRICS, "--metric")
    _choice(args.method, METHODS, "--method")
    _choice(args.kernel, KERNELS, "--kernel")
    check_positive(args.bootstrap, "--bootstrap", minimum=0)
    check_positive(args.batch_size, "--batch-size")
    if not 0.0 < args.confidence < 1.0:
        raise UsageError(f"--confidence must be between 0 and 1, got {args.confidence}")
    for flag, value in (("--kernel", args.kernel != "linear"), ("--debiased", args.debiased)):
        if value and not args.cka:
            raise UsageError(f"{flag} sets the CKA: give --cka too")
    needing = [
        flag
        for flag, value in (
            ("--conditions", args.conditions),
            ("--runs", args.runs),
            ("--sort-by", args.sort_by),
            ("--models", args.models),
        )
        if value
    ]
    if needing and args.labels is None:
        raise UsageError(f"{', '.join(needing)} name labels: give --labels FILE")
    if args.runs is not None and args.metric != "crossnobis":
        raise UsageError(f"--runs applies to --metric crossnobis, not {args.metric}")
    if args.metric == "crossnobis" and args.conditions is None:
        raise UsageError(
            "--metric crossnobis needs repeated measurements: give --labels and --conditions LABEL (stimuli with "
            "the same value are measurements of one condition)"
        )
    check_existing(args.activations, "activation file")
    if args.labels is not None:
        check_existing(args.labels, "label file")
    check_output(args.out, overwrite=args.overwrite, flag="--out")


def _per_condition(values: Any, codes: Any, label: str, grouping: str | None) -> Any:
    """One value of a stimulus label per condition; refused when it varies within a condition."""
    import numpy as np

    values = np.asarray(values)
    _, first = np.unique(codes, return_index=True)  # each condition's first stimulus (codes: 0 .. n - 1)
    per_condition = values[first]
    varying = np.flatnonzero(per_condition[codes] != values)
    if len(varying):
        raise UsageError(
            f"label {label!r} varies within the conditions of --conditions {grouping} (stimulus {int(varying[0])}): "
            f"it cannot describe them"
        )
    return per_condition


class _Plan:
    """What the checks found: the file, its units, the stimuli's condition labels and per-condition labels."""

    def __init__(self, args: argparse.Namespace) -> None:
        import numpy as np

        from tfprobe.cli.probing import align_labels, read_labels
        from tfprobe.errors import InvalidKeyError
        from tfprobe.probing.store import ActivationFile
        from tfprobe.similarity.sources import open_source

        self.file = ActivationFile(args.activations)  # a file that is not an activation file: a data error
        try:
            self.units = open_source(self.file, args.units).names
        except InvalidKeyError as error:
            raise UsageError(f"--units: {error}") from None
        labels: dict[str, Any] = {}
        if args.labels is not None:
            columns, label_ids = read_labels(args.labels)
            labels = align_labels(columns, label_ids, self.file.ids, args.labels)
            asked = [args.conditions, args.runs, args.sort_by, *(args.models or ())]
            unknown = [name for name in asked if name is not None and name not in labels]
            if unknown:
                raise UsageError(f"no label {unknown[0]!r} in {args.labels}; there are {', '.join(labels)}")
        n = self.file.n_stimuli
        self.conditions = None if args.conditions is None else np.asarray(labels[args.conditions])
        if self.conditions is None:
            codes, n_conditions = np.arange(n), n
        else:
            _, first, codes = np.unique(self.conditions, return_index=True, return_inverse=True)
            rank = np.empty(len(first), dtype=np.int64)
            rank[np.argsort(first, kind="stable")] = np.arange(len(first))  # conditions in order of appearance
            codes, n_conditions = rank[codes.reshape(-1)], len(first)
        if n_conditions < MIN_CONDITIONS:
            what = "stimuli" if self.conditions is None else f"values of --conditions {args.conditions}"
            raise DataError(
                f"{args.activations} gives {n_conditions} {what}: an RDM needs at least {MIN_CONDITIONS} conditions"
            )
        if args.metric == "crossnobis" and n_conditions == n:
            raise DataError(
                f"--metric crossnobis needs repeated measurements, but every value of --conditions {args.conditions} "
                "labels a single stimulus"
            )
        self.runs = None if args.runs is None else np.asarray(labels[args.runs])
        counts = np.bincount(codes)
        if args.metric == "crossnobis" and self.runs is None and len(set(counts.tolist())) > 1:
            raise DataError(
                f"--metric crossnobis without --runs takes a condition's k-th stimulus as its run k, which needs the "
                f"same number of stimuli in every condition; the values of --conditions {args.conditions} have "
                f"{counts.min()} to {counts.max()}: give --runs LABEL"
            )
        if args.cka and args.debiased and n < 4:
            raise DataError(f"debiased CKA needs at least 4 stimuli; {args.activations} holds {n}")
        self.n_conditions = n_conditions
        self.sort_keys = None
        sort_label = args.sort_by or args.conditions
        if sort_label is not None:
            self.sort_keys = _per_condition(labels[sort_label], codes, sort_label, args.conditions)
        self.models = {name: _per_condition(labels[name], codes, name, args.conditions) for name in args.models or ()}


def _file_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name)


def _timed(names: tuple[str, ...]) -> bool:
    return all(re.match(r"^.+@t-?\d+$", name) for name in names)


def _compute(args: argparse.Namespace, plan: _Plan) -> dict[str, Any]:
    """The RDMs, comparisons and CKA (errors of the data are data errors)."""
    from tfprobe.errors import InvalidValueError
    from tfprobe.similarity import calc_rdm, categorical_rdm, cka_matrix, compare_rdms

    results: dict[str, Any] = {}
    try:
        rdms = calc_rdm(plan.file, plan.units, metric=args.metric, conditions=plan.conditions, runs=plan.runs)
        results["rdms"] = rdms
        options = {
            "method": args.method,
            "n_bootstrap": args.bootstrap,
            "seed": args.seed,
            "confidence": args.confidence,
        }
        results["comparison"] = compare_rdms(rdms, **options)
        if plan.models:
            from tfprobe.similarity import concat_rdms

            models = concat_rdms(
                *(
                    categorical_rdm(values, name=name, conditions=rdms.conditions)
                    for name, values in plan.models.items()
                )
            )
            results["model_rdms"] = models
            results["models"] = compare_rdms(rdms, models, **options)
        if args.cka:
            results["cka"] = cka_matrix(
                plan.file, units=plan.units, kernel=args.kernel, debiased=args.debiased, batch_size=args.batch_size
            )
    except InvalidValueError as error:  # NaN or constant patterns, ...: the data cannot be used
        raise DataError(str(error)) from None
    return results


def _write(folder: Path, results: dict[str, Any], plan: _Plan) -> list[str]:
    """Every output into ``folder``; the names written."""
    from tfprobe.figures.similarity import (
        plot_layer_time,
        plot_rdm,
        plot_rdm_mds,
        plot_similarity_matrix,
        plot_similarity_over_time,
    )

    rdms, comparison = results["rdms"], results["comparison"]
    written = ["rdms.h5", "comparison.json", "rdms.png"]
    rdms.save(folder / "rdms.h5")
    comparison.save(folder / "comparison.json")
    plot_rdm(rdms, list(rdms.names[:MAX_PANELS]), categories=plan.sort_keys, path=folder / "rdms.png")
    if rdms.n_rdms >= 2:
        plot_similarity_matrix(comparison, path=folder / "similarity.png")
        written.append("similarity.png")
    if rdms.n_rdms >= 3:
        plot_rdm_mds(comparison, path=folder / "mds.png")
        written.append("mds.png")
    if "models" in results:
        results["model_rdms"].save(folder / "model_rdms.h5")
        results["models"].save(folder / "models.json")
        plot_similarity_matrix(results["models"], path=folder / "models.png")
        written += ["model_rdms.h5", "models.json", "models.png"]
        for name in results["models"].columns:
            if _timed(rdms.names):
                stem = _file_name(name)
                plot_layer_time(results["models"], name, path=folder / f"layer_time_{stem}.png")
                plot_similarity_over_time(results["models"], name, path=folder / f"over_time_{stem}.png")
                written += [f"layer_time_{stem}.png", f"over_time_{stem}.png"]
    if "cka" in results:
        results["cka"].save(folder / "cka.json")
        plot_similarity_matrix(results["cka"], path=folder / "cka.png")
        written += ["cka.json", "cka.png"]
    return written


def rsa(args: argparse.Namespace) -> int:
    """Compute the RDMs of the units, compare them (and with model RDMs), CKA on request; write the folder."""
    _check_arguments(args)
    plan = _Plan(args)
    from tfprobe.atomic import staged

    print(
        f"RDMs of {len(plan.units)} units of {args.activations.name} over {plan.n_conditions} conditions "
        f"({plan.file.n_stimuli} stimuli; {args.metric} distance), compared by {args.method}"
        + (f" with {args.bootstrap} bootstrap samples of the conditions (seed {args.seed})" if args.bootstrap else "")
    )
    results = _compute(args, plan)
    if "models" in results:
        print(results["models"].table())
    if "cka" in results:
        print(f"{results['cka'].measure} over {results['cka'].n_conditions} stimuli: {len(plan.units)} units")
    with staged(args.out, directory=True) as folder:
        written = _write(Path(folder), results, plan)
    print(f"wrote {args.out}/ ({', '.join(written)})")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``rsa``."""
    parser = add_command(
        commands,
        "rsa",
        help="RDMs of an activation file's units, their comparison (RSA) with bootstrap intervals, and CKA",
        description=(
            "Compute the representational dissimilarity matrix (RDM) of every unit of an activation file "
            "(tfprobe act) over the same conditions, read one unit at a time, compare every RDM with every other "
            "(and with model RDMs of labels: 0 within a category, 1 between), optionally with bootstrap "
            "intervals over the conditions, and with --cka the centered kernel alignment of every pair of units "
            "(streamed over the stimuli). Writes into --out: rdms.h5, comparison.json, rdms.png (heatmaps), "
            "similarity.png (unit x unit; for the recurrent network its layers x time steps), mds.png; with "
            "--models model_rdms.h5, models.json, models.png (unit x model) and, for units named <layer>@t<step>, "
            "per model layer_time_<label>.png and over_time_<label>.png (with the bootstrap bands); "
            "with --cka cka.json and cka.png. The folder is written at the end, complete or not at all.\n\n"
            "Every stimulus is a condition (labelled by its id) unless --conditions names a label whose values "
            "group stimuli into conditions (averaged; crossnobis keeps them as repeated measurements). "
            "A unit name a file holds at several time steps (conv1 for conv1@t0, conv1@t1, ...) stands for all of "
            "them.\n\nexamples:\n"
            "  tfprobe rsa rnn_acts.h5 --units conv1 fc1 --metric correlation --method spearman --out rsa\n"
            "  tfprobe rsa acts.h5 --labels labels.npz --sort-by category --models category --bootstrap 1000 "
            "--cka --out rsa_scenes"
        ),
    )
    parser.add_argument("activations", type=Path, metavar="ACTIVATIONS", help="the .h5 file written by tfprobe act")
    parser.add_argument("--units", nargs="+", metavar="UNIT", help="units to compare (default: all the file holds)")
    parser.add_argument(
        "--metric", default="correlation", help=f"dissimilarity: {', '.join(METRICS)} (default correlation)"
    )
    parser.add_argument("--method", default="corr", help=f"RDM comparison: {', '.join(METHODS)} (default corr)")
    parser.add_argument(
        "--bootstrap", type=int, default=0, help="bootstrap samples of the conditions (default 0: none)"
    )
    parser.add_argument(
        "--confidence", type=float, default=0.95, help="level of the bootstrap intervals (default 0.95)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap samples (default 0)")
    parser.add_argument(
        "--labels",
        type=Path,
        help="stimulus labels: .npz (one array per label), .csv (header row) or .npy; optional "
        "ids / id column matched to the file's stimulus ids",
    )
    parser.add_argument("--conditions", metavar="LABEL", help="a label whose values are the conditions (averaged)")
    parser.add_argument("--runs", metavar="LABEL", help="crossnobis: a label whose values are the runs (folds)")
    parser.add_argument("--sort-by", metavar="LABEL", help="order the RDM figures' conditions by this label")
    parser.add_argument(
        "--models", nargs="+", metavar="LABEL", help="model RDMs of these labels, compared with every unit"
    )
    parser.add_argument("--cka", action="store_true", help="also the CKA of every pair of units (cka.json, cka.png)")
    parser.add_argument("--kernel", default="linear", help="CKA kernel: linear (default) or rbf")
    parser.add_argument("--debiased", action="store_true", help="CKA with the unbiased HSIC")
    parser.add_argument("--batch-size", type=int, default=1024, help="stimuli per chunk of the CKA pass (default 1024)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write (refused if it exists)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out")
    parser.set_defaults(handler=rsa)
