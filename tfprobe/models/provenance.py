"""What a model is and where its weights came from, so that files made with it can say so.

:func:`tfprobe.models.loading.load_model` and :meth:`GainModulatedRNN.load_torch_checkpoint` record how
they made a model; :func:`describe_model` returns that record with what can always be read off the model
itself (class, name, config, the recurrent network's flags and time steps) and a SHA-256 fingerprint of
its weight values.  Activation files store the description, and appending to a file refuses a model whose
description differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import weakref
from pathlib import Path
from typing import Any

import keras
import numpy as np

from tfprobe.models.architecture import RecurrenceFlags

__all__ = ["describe_model", "file_sha256", "record_provenance", "recorded_spec", "weights_fingerprint"]

_RECORDS: weakref.WeakKeyDictionary[keras.Model, dict[str, str]] = weakref.WeakKeyDictionary()
#: The text of ``weights`` for a model no loader recorded.
UNRECORDED = "unrecorded (a model built or loaded in Python; see weights_sha256)"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_from_file(kind: str, path: str | os.PathLike[str]) -> str:
    """How to name weights read from a file: ``"<kind> <absolute path> (sha256 <digest>)"``."""
    return f"{kind} {Path(path).resolve()} (sha256 {file_sha256(path)})"


def record_provenance(model: keras.Model, *, spec: str | None = None, weights: str | None = None) -> None:
    """Remember how ``model`` was made: the ``spec`` it was loaded from and where its ``weights`` came from."""
    record = _RECORDS.setdefault(model, {})
    if spec is not None:
        record["model_spec"] = spec
    if weights is not None:
        record["weights"] = weights


def recorded_spec(model: keras.Model) -> str | None:
    """The spec a loader recorded for ``model`` ("vgg16", "rnn:bglt_0111:4", a path), or None."""
    return _RECORDS.get(model, {}).get("model_spec")


def weights_fingerprint(model: keras.Model) -> str:
    """SHA-256 over the shapes, dtypes and values of the model's weights, in order (names excluded:
    Keras numbers them per session)."""
    digest = hashlib.sha256()
    for variable in model.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(variable))
        digest.update(f"{value.shape}{value.dtype}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def describe_model(model: keras.Model) -> dict[str, Any]:
    """The model's description: spec, weights provenance and fingerprint, class, name, config (JSON),
    and for the recurrent network its flag code and time steps."""
    record = _RECORDS.get(model, {})
    try:
        config = json.dumps(model.get_config(), sort_keys=True)
    except (NotImplementedError, TypeError, ValueError):  # no config, or one with custom objects
        config = ""
    # The recurrent network is recognised by its flags rather than its class: no import of gain_rnn here.
    flags = getattr(model, "flags", None)
    recurrent = isinstance(flags, RecurrenceFlags)
    return {
        "model_spec": record.get("model_spec", model.name),
        "model_class": type(model).__name__,
        "model_name": model.name,
        "model_config": config,
        "weights": record.get("weights", UNRECORDED),
        "weights_sha256": weights_fingerprint(model),
        "code": flags.code if recurrent else "",
        "timesteps": int(model.timesteps) if recurrent else -1,
    }
