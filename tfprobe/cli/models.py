"""The model a command works on: its MODEL argument and options, checked before any work, then loaded.

Every command that takes a model (``act``, and the recurrent network's ``run`` and ``export``) accepts
the same forms as :func:`tfprobe.models.loading.load_model`: a ``.keras`` file, the authors' ``.pth``
checkpoint, ``rnn`` / ``rnn:<code>[:<timesteps>]``, or a ``keras.applications`` name.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tfprobe.cli.checks import check_existing, check_positive
from tfprobe.cli.failures import UsageError
from tfprobe.errors import InvalidValueError

__all__ = ["APPLICATION_NAMES", "MODEL_HELP", "add_model_options", "application_name", "check_model", "load"]

#: keras.applications models by name, with the keras.applications module of their preprocessing.
APPLICATION_NAMES = {"vgg16": "vgg16", "vgg19": "vgg19", "resnet50": "resnet50", "mobilenetv2": "mobilenet_v2"}
MODEL_HELP = (
    "a .keras file, the authors' .pth checkpoint, rnn or rnn:<code>[:<timesteps>] (the recurrent network), "
    f"or {', '.join(APPLICATION_NAMES)} (keras.applications)"
)
_RECURRENT_OPTIONS = (("code", "--code"), ("timesteps", "--timesteps"), ("n_feats", "--n-feats"))


def add_model_options(parser: argparse.ArgumentParser, *, any_model: bool = True, as_option: bool = False) -> None:
    """MODEL and the options that shape it (``any_model=False``: the recurrent network's options only;
    ``as_option``: MODEL given as ``--model``)."""
    if any_model:
        if as_option:
            parser.add_argument("--model", required=True, metavar="MODEL", help=MODEL_HELP)
        else:
            parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)
        parser.add_argument(
            "--weights", help="keras.applications models: imagenet (default), none (random weights) or a weights file"
        )
        parser.add_argument(
            "--no-top",
            action="store_true",
            help="keras.applications models: drop the classifier (a model of any input size)",
        )
    else:
        parser.set_defaults(weights=None, no_top=False)
    parser.add_argument(
        "--code",
        help="the recurrent network's flags as the authors' code, e.g. bglt_0111 (the default; a .pth "
        "file's name says it)",
    )
    parser.add_argument("--timesteps", type=int, help="the recurrent network's time steps (default 4)")
    parser.add_argument("--n-feats", type=int, help="the recurrent network's conv1 channels (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of random weights (default 0)")


def is_recurrent(spec: str) -> bool:
    return spec.endswith(".pth") or spec == "rnn" or spec.startswith("rnn:")


def application_name(spec: str) -> str | None:
    """The keras.applications name ``spec`` stands for, if it is one."""
    return spec.lower() if spec.lower() in APPLICATION_NAMES else None


def _check_checkpoint_name(path: Path, code: str | None, timesteps: int | None) -> None:
    from tfprobe.models.architecture import RecurrenceFlags, parse_checkpoint_filename

    named = parse_checkpoint_filename(path.name)
    if named is None:
        if code is None:
            raise UsageError(
                f"{path.name}: its name does not say which flags it was trained with (the authors' names read "
                "rnn_bglt_<flags>_t_<T>_num_<N>.pth); give them with --code, e.g. --code bglt_0111"
            )
        return
    flags, steps = named
    if code is not None and RecurrenceFlags.from_code(code) != flags:
        raise UsageError(
            f"{path.name}: its name says it was trained as {flags.code}, but --code is {code}; drop --code "
            "(the name is read), or rename the file if its name is wrong"
        )
    if timesteps is not None and timesteps != steps:
        raise UsageError(f"{path.name}: its name says {steps} time steps, but --timesteps is {timesteps}")


def check_model(args: argparse.Namespace) -> None:
    """Refuse, before any work, a MODEL and options that do not go together."""
    spec = str(args.model)
    if is_recurrent(spec):
        if args.weights is not None or args.no_top:
            raise UsageError(
                f"{'--weights' if args.weights is not None else '--no-top'} applies to keras.applications models; "
                "the recurrent network's weights come from a .pth file given as MODEL (or are random, from --seed)"
            )
        if args.code is not None:
            from tfprobe.models.architecture import RecurrenceFlags

            try:
                RecurrenceFlags.from_code(args.code)
            except InvalidValueError as error:
                raise UsageError(f"--code: {error}") from None
        check_positive(args.timesteps, "--timesteps")
        check_positive(args.n_feats, "--n-feats")
        if spec.endswith(".pth"):
            check_existing(Path(spec), "checkpoint file")
            _check_checkpoint_name(Path(spec), args.code, args.timesteps)
        else:
            from tfprobe.models.loading import parse_rnn_spec

            try:
                parse_rnn_spec(spec)
            except InvalidValueError as error:
                raise UsageError(str(error)) from None
        return
    for name, flag in _RECURRENT_OPTIONS:
        if getattr(args, name) is not None:
            raise UsageError(f"{flag} applies to the recurrent network (rnn, rnn:<code>, a .pth file), not {spec}")
    if spec.endswith(".keras"):
        check_existing(Path(spec), "model file")
        if args.weights is not None or args.no_top:
            flag = "--weights" if args.weights is not None else "--no-top"
            raise UsageError(f"{flag} applies to keras.applications models; {spec} is a model of its own")
    elif application_name(spec) is None:
        raise UsageError(f"unknown MODEL {spec!r}: expected {MODEL_HELP}")
    elif args.weights not in (None, "imagenet", "none"):
        check_existing(Path(args.weights), "--weights file")


def load(args: argparse.Namespace) -> Any:
    """The model the (checked) arguments describe."""
    from tfprobe.models.loading import load_model

    weights = {None: "imagenet", "none": None}.get(args.weights, args.weights)
    return load_model(
        args.model,
        weights=weights,
        seed=args.seed,
        code=args.code,
        timesteps=args.timesteps,
        n_feats=args.n_feats,
        include_top=not args.no_top,
    )
