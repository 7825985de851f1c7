"""Getting a model to probe from a short description: a file, an application name, or the recurrent network.

* ``path/to/model.keras``: a saved Keras model (tfprobe's own layers are registered);
* ``path/to/weights.pth``: the authors' checkpoint of the recurrent network (size and time steps from its
  tensors, flags from ``code`` or its file name);
* ``rnn`` (flags from ``code``, default ``bglt_0111``), ``rnn:bglt_0111`` or ``rnn:bglt_0111:4`` (with
  time steps): the recurrent network, freshly initialised from ``seed``;
* ``vgg16``, ``vgg19``, ``resnet50``, ``mobilenetv2``: ``keras.applications`` models with ``weights``
  ("imagenet", downloaded once by Keras; None for random ones; or a local weights file).

Every model is recorded with its spec and weights provenance (:mod:`tfprobe.models.provenance`), which
activation files store.  :data:`APPLICATIONS` also names each application's preprocessing, which
``tfprobe act`` applies to image files by default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from tfprobe.errors import CheckpointMismatchError
from tfprobe.models.architecture import RecurrenceFlags, parse_checkpoint_filename
from tfprobe.models.gain_rnn import GainModulatedRNN
from tfprobe.models.provenance import record_provenance, weights_from_file

__all__ = ["APPLICATIONS", "DEFAULT_CODE", "Application", "load_model", "parse_rnn_spec"]

#: Flags of the recurrent network when none are given (the authors' best: gain, lateral, top-down).
DEFAULT_CODE = "bglt_0111"
DEFAULT_TIMESTEPS = 4


@dataclass(frozen=True)
class Application:
    """A ``keras.applications`` model and its preprocessing."""

    build: Any
    module: str  # keras.applications.<module>: preprocess_input, decode_predictions

    @property
    def preprocess_input(self) -> Any:
        return getattr(keras.applications, self.module).preprocess_input


APPLICATIONS = {
    "vgg16": Application(keras.applications.VGG16, "vgg16"),
    "vgg19": Application(keras.applications.VGG19, "vgg19"),
    "resnet50": Application(keras.applications.ResNet50, "resnet50"),
    "mobilenetv2": Application(keras.applications.MobileNetV2, "mobilenet_v2"),
}


def parse_rnn_spec(text: str) -> tuple[str | None, int | None] | None:
    """``(code, timesteps)`` of ``rnn``, ``rnn:<code>`` or ``rnn:<code>:<timesteps>`` (None where not
    given); None when ``text`` is not such a spec."""
    if text != "rnn" and not text.startswith("rnn:"):
        return None
    parts = text.split(":")
    if len(parts) > 3 or (len(parts) > 1 and not parts[1]):
        raise ValueError(f"expected 'rnn', 'rnn:<code>' or 'rnn:<code>:<timesteps>', got {text!r}")
    code = parts[1] if len(parts) > 1 else None
    if len(parts) == 3 and not parts[2].isdigit():
        raise ValueError(f"time steps in {text!r} must be a positive int, as in 'rnn:bglt_0111:4'")
    return code, (int(parts[2]) if len(parts) == 3 else None)


def _same(label: str, given: Any, found: Any, where: str) -> None:
    if given is not None and given != found:
        raise CheckpointMismatchError(
            f"{where} holds a network with {label} {found}, but {label} {given} was asked for"
        )


def _recurrent(text: str, code: str | None, timesteps: int | None, n_feats: int | None, seed: int) -> GainModulatedRNN:
    path = Path(text)
    if path.suffix == ".pth":
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint file {text!r} does not exist")
        named = parse_checkpoint_filename(path.name)
        if code is not None and named is not None and named[0] != RecurrenceFlags.from_code(code):
            raise CheckpointMismatchError(
                f"{path.name}: its name says it was trained as {named[0].code}, but code {code} was asked for"
            )
        model = GainModulatedRNN.from_torch_checkpoint(str(path), code=code)
        _same("timesteps", timesteps, model.timesteps, path.name)
        _same("n_feats", n_feats, model.n_feats, path.name)
        return model
    spec_code, spec_timesteps = parse_rnn_spec(text)
    if spec_code is not None and code is not None and spec_code != code:
        raise ValueError(f"{text!r} names code {spec_code}, but code {code} was asked for too")
    if spec_timesteps is not None and timesteps is not None and spec_timesteps != timesteps:
        raise ValueError(f"{text!r} names {spec_timesteps} time steps, but timesteps={timesteps} was asked for too")
    code = code or spec_code or DEFAULT_CODE
    timesteps = timesteps or spec_timesteps or DEFAULT_TIMESTEPS
    keras.utils.set_random_seed(seed)
    model = GainModulatedRNN.from_code(code, timesteps=timesteps, n_feats=n_feats or 8)
    model.build((None, 100, 100, 1))
    record_provenance(model, spec=f"rnn:{model.flags.code}:{model.timesteps}", weights=f"random (seed {seed})")
    return model


def _application(name: str, weights: str | os.PathLike[str] | None, seed: int, include_top: bool) -> keras.Model:
    keras.utils.set_random_seed(seed)
    if weights is not None and str(weights) not in ("imagenet",) and not Path(weights).is_file():
        raise FileNotFoundError(f"weights file {str(weights)!r} for {name} does not exist")
    try:
        model = APPLICATIONS[name].build(weights=None if weights is None else str(weights), include_top=include_top)
    except Exception as error:  # Keras raises several kinds when a download fails
        raise ValueError(
            f"could not build {name} with weights={str(weights)!r} ({' '.join(str(error).split())[:200]}); "
            "offline, pass a local weights file or no weights (random ones)"
        ) from None
    if weights is None:
        provenance = f"random (seed {seed})"
    elif str(weights) == "imagenet":
        provenance = "imagenet"
    else:
        provenance = weights_from_file("file", weights)
    record_provenance(model, spec=name if include_top else f"{name}-notop", weights=provenance)
    return model


def load_model(
    spec: str | os.PathLike[str],
    *,
    weights: str | os.PathLike[str] | None = "imagenet",
    seed: int = 0,
    code: str | None = None,
    timesteps: int | None = None,
    n_feats: int | None = None,
    include_top: bool = True,
) -> keras.Model:
    """The model ``spec`` describes (see the module documentation for the accepted forms).

    Parameters
    ----------
    spec : str or path
    weights : str, path or None
        For applications: ``"imagenet"``, None (random) or a weights file.
    seed : int
        Seed of random initialisations.
    code, timesteps, n_feats : optional
        For the recurrent network: its flags (``"bglt_0111"``), time steps and conv1 channels.  With a
        ``.pth`` checkpoint they are read from the file and, when given, must agree with it.
    include_top : bool
        For applications: keep the classifier (fixed 224 x 224 input), or drop it (a model of any input
        size, as feature visualisation of conv layers wants; its spec reads ``"vgg16-notop"``).

    Raises
    ------
    FileNotFoundError
        A model, checkpoint or weights file that does not exist.
    CheckpointMismatchError
        A checkpoint that does not match the ``code``, ``timesteps`` or ``n_feats`` asked for.
    ValueError
        An unknown spec, or options that do not apply to it.
    """
    text = str(spec)
    if text.endswith(".pth") or parse_rnn_spec(text) is not None:
        return _recurrent(text, code, timesteps, n_feats, seed)
    given = [name for name, value in (("code", code), ("timesteps", timesteps), ("n_feats", n_feats)) if value]
    if given:
        raise ValueError(f"{', '.join(given)} apply to the recurrent network (rnn, rnn:<code>, .pth), not {text!r}")
    if text.endswith(".keras"):
        if not Path(text).is_file():
            raise FileNotFoundError(f"model file {text!r} does not exist")
        model = keras.saving.load_model(text)
        record_provenance(model, spec=str(Path(text).resolve()), weights=weights_from_file("file", text))
        return model
    if text.lower() in APPLICATIONS:
        return _application(text.lower(), weights, seed, include_top)
    if not include_top:
        raise ValueError(f"include_top=False applies to keras.applications models, not {text!r}")
    raise ValueError(
        f"unknown model {text!r}: give a .keras or .pth file, 'rnn' or 'rnn:<code>[:<timesteps>]' (e.g. "
        f"rnn:bglt_0111), or one of {', '.join(APPLICATIONS)}"
    )
