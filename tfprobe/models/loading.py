"""Getting a model to probe from a short description: a file, an application name, or the recurrent network.

* ``path/to/model.keras``: a saved Keras model (tfprobe's own layers are registered);
* ``path/to/weights.pth``: the authors' checkpoint of the recurrent network (size and time steps from its
  tensors, flags from ``code`` or its file name);
* ``rnn`` (flags from ``code``, default ``bglt_0111``), ``rnn:bglt_0111`` or ``rnn:bglt_0111:4`` (with
  time steps): the recurrent network, freshly initialised from ``seed``;
* ``vgg16``, ``vgg19``, ``resnet50``, ``mobilenetv2``: ``keras.applications`` models with ``weights``
  ("imagenet"; None for random ones; or a local weights file).

ImageNet weights are looked for first in Keras's cache (``$KERAS_HOME/models/`` or ``~/.keras/models/``,
under the file name Keras gives them, see :func:`imagenet_weights_path`); only when absent is a download
tried, with a short network timeout, and any failure becomes a :class:`WeightsUnavailableError` naming the
file to put there.  Nothing waits on an unreachable network.

Every model is recorded with its spec and weights provenance (:mod:`tfprobe.models.provenance`), which
activation files store.  :data:`APPLICATIONS` also names each application's preprocessing, which
``tfprobe act`` applies to image files by default.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from tfprobe.errors import CheckpointMismatchError, InvalidValueError, MissingFileError, WeightsUnavailableError
from tfprobe.models.architecture import RecurrenceFlags, parse_checkpoint_filename
from tfprobe.models.gain_rnn import GainModulatedRNN
from tfprobe.models.provenance import record_provenance, weights_from_file

__all__ = [
    "APPLICATIONS",
    "DEFAULT_CODE",
    "Application",
    "WeightsUnavailableError",
    "imagenet_weights",
    "imagenet_weights_path",
    "keras_cache_dir",
    "load_model",
    "parse_rnn_spec",
]

#: Flags of the recurrent network when none are given (the authors' best: gain, lateral, top-down).
DEFAULT_CODE = "bglt_0111"
DEFAULT_TIMESTEPS = 4
#: Seconds a download of ImageNet weights may wait on the network before it is given up.
DOWNLOAD_TIMEOUT = 10.0
_KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class Application:
    """A ``keras.applications`` model, its preprocessing and its ImageNet weight files.

    ``weights_files`` holds Keras's cache file names (with the classifier, without it) and
    ``weights_hashes`` their MD5 digests as Keras checks them (None where Keras checks none); the files
    are downloaded from ``<keras-applications URL><folder>/<file name>``, as
    ``keras/src/applications/<module>.py`` does.
    """

    build: Any
    module: str  # keras.applications.<module>: preprocess_input, decode_predictions
    folder: str
    weights_files: tuple[str, str]
    weights_hashes: tuple[str | None, str | None] = (None, None)

    @property
    def preprocess_input(self) -> Any:
        return getattr(keras.applications, self.module).preprocess_input

    def weights_file(self, include_top: bool = True) -> str:
        """Keras's cache file name of the ImageNet weights (with or without the classifier)."""
        return self.weights_files[0 if include_top else 1]

    def weights_url(self, include_top: bool = True) -> str:
        """Where Keras downloads the ImageNet weights from."""
        return f"{_KERAS_WEIGHTS_URL}{self.folder}/{self.weights_file(include_top)}"


APPLICATIONS = {
    "vgg16": Application(
        keras.applications.VGG16,
        "vgg16",
        "vgg16",
        ("vgg16_weights_tf_dim_ordering_tf_kernels.h5", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    ),
    "vgg19": Application(
        keras.applications.VGG19,
        "vgg19",
        "vgg19",
        ("vgg19_weights_tf_dim_ordering_tf_kernels.h5", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
    ),
    "resnet50": Application(
        keras.applications.ResNet50,
        "resnet50",
        "resnet",
        ("resnet50_weights_tf_dim_ordering_tf_kernels.h5", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    ),
    "mobilenetv2": Application(
        keras.applications.MobileNetV2,
        "mobilenet_v2",
        "mobilenet_v2",
        (
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        ),
    ),
}


def keras_cache_dir() -> Path:
    """The folder Keras caches downloaded model weights in: ``$KERAS_HOME/models`` or ``~/.keras/models``.

    ``KERAS_HOME`` is read when called (Keras itself reads it once, on import).
    """
    home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return Path(os.path.expanduser(home)) / "models"


def _application_named(name: str) -> Application:
    try:
        return APPLICATIONS[name.lower()]
    except KeyError:
        raise InvalidValueError(f"unknown application {name!r}: expected one of {', '.join(APPLICATIONS)}") from None


def imagenet_weights_path(name: str, include_top: bool = True) -> Path:
    """Where Keras's cache keeps the ImageNet weights of application ``name`` (present or not).

    Parameters
    ----------
    name : str
        One of :data:`APPLICATIONS` (``"vgg16"``, ...).
    include_top : bool
        The weights with the classifier, or the ``_notop`` ones.

    Returns
    -------
    Path
        E.g. ``~/.keras/models/vgg16_weights_tf_dim_ordering_tf_kernels.h5``.
    """
    return keras_cache_dir() / _application_named(name).weights_file(include_top)


def _download(url: str, target: Path, file_hash: str | None, timeout: float) -> None:
    """Download ``url`` to ``target`` through Keras (which checks ``file_hash``), waiting at most ``timeout``
    seconds on any network operation."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        keras.utils.get_file(
            target.name, url, cache_subdir=target.parent.name, cache_dir=str(target.parent.parent), file_hash=file_hash
        )
    finally:
        socket.setdefaulttimeout(previous)


def imagenet_weights(name: str, include_top: bool = True, *, download: bool = True) -> Path:
    """The ImageNet weights file of application ``name``: from Keras's cache, else downloaded into it.

    The cache is looked at first, so a cached file is used without touching the network (its digest is
    not checked: a file placed there is trusted).  A download waits at most :data:`DOWNLOAD_TIMEOUT`
    seconds on the network.

    Parameters
    ----------
    name : str
        One of :data:`APPLICATIONS`.
    include_top : bool
        With the classifier, or without (``_notop``).
    download : bool
        Try a download when the file is not cached.

    Returns
    -------
    Path
        The cached weights file.

    Raises
    ------
    WeightsUnavailableError
        Not cached and not downloadable; the message names the cache file, where to get it and how to
        provide it.
    """
    application = _application_named(name)
    target = imagenet_weights_path(name, include_top)
    if target.is_file():
        return target
    url = application.weights_url(include_top)
    reason = "downloads were not asked for (download=False)"
    if download:
        try:
            _download(url, target, application.weights_hashes[0 if include_top else 1], DOWNLOAD_TIMEOUT)
        except Exception as error:  # Keras raises bare Exceptions for network failures
            reason = f"the download failed: {' '.join(str(error).split())[:200] or type(error).__name__}"
        else:
            if target.is_file():
                return target
            reason = "the download left no file"
    raise WeightsUnavailableError(
        f"the ImageNet weights of {name} ({'with' if include_top else 'without'} its classifier) are not in "
        f"Keras's cache: expected the file {target}, and {reason}. Offline, download {url} on a machine with "
        f"internet access and copy it to {target} (set KERAS_HOME to use another folder than ~/.keras), or "
        "pass the local file as weights=<path>"
    )


def parse_rnn_spec(text: str) -> tuple[str | None, int | None] | None:
    """``(code, timesteps)`` of ``rnn``, ``rnn:<code>`` or ``rnn:<code>:<timesteps>`` (None where not
    given); None when ``text`` is not such a spec."""
    if text != "rnn" and not text.startswith("rnn:"):
        return None
    parts = text.split(":")
    if len(parts) > 3 or (len(parts) > 1 and not parts[1]):
        raise InvalidValueError(f"expected 'rnn', 'rnn:<code>' or 'rnn:<code>:<timesteps>', got {text!r}")
    code = parts[1] if len(parts) > 1 else None
    if len(parts) == 3 and not parts[2].isdigit():
        raise InvalidValueError(f"time steps in {text!r} must be a positive int, as in 'rnn:bglt_0111:4'")
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
            raise MissingFileError(f"checkpoint file {text!r} does not exist")
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
        raise InvalidValueError(f"{text!r} names code {spec_code}, but code {code} was asked for too")
    if spec_timesteps is not None and timesteps is not None and spec_timesteps != timesteps:
        raise InvalidValueError(
            f"{text!r} names {spec_timesteps} time steps, but timesteps={timesteps} was asked for too"
        )
    code = code or spec_code or DEFAULT_CODE
    timesteps = timesteps or spec_timesteps or DEFAULT_TIMESTEPS
    keras.utils.set_random_seed(seed)
    model = GainModulatedRNN.from_code(code, timesteps=timesteps, n_feats=n_feats or 8)
    model.build((None, 100, 100, 1))
    record_provenance(model, spec=f"rnn:{model.flags.code}:{model.timesteps}", weights=f"random (seed {seed})")
    return model


def _application(name: str, weights: str | os.PathLike[str] | None, seed: int, include_top: bool) -> keras.Model:
    keras.utils.set_random_seed(seed)
    if weights is None:
        path = None
    elif str(weights) == "imagenet":
        path = imagenet_weights(name, include_top)
    else:
        path = Path(weights)
        if not path.is_file():
            raise MissingFileError(
                f"weights file {str(weights)!r} for {name} does not exist (expected 'imagenet', None or a file)"
            )
    try:
        model = APPLICATIONS[name].build(weights=None if path is None else str(path), include_top=include_top)
    except Exception as error:  # Keras raises several kinds for a file that does not fit
        raise InvalidValueError(
            f"could not load {name} ({'with' if include_top else 'without'} its classifier) from weights file "
            f"{path}: {' '.join(str(error).split())[:300]}"
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
        For applications: ``"imagenet"`` (Keras's cache, else a download; see :func:`imagenet_weights`),
        None (random) or a weights file (``.weights.h5`` or Keras's ``.h5``).
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
    WeightsUnavailableError
        ImageNet weights neither cached nor downloadable (it names the file to provide).
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
        raise InvalidValueError(
            f"{', '.join(given)} apply to the recurrent network (rnn, rnn:<code>, .pth), not {text!r}"
        )
    if text.endswith(".keras"):
        if not Path(text).is_file():
            raise MissingFileError(f"model file {text!r} does not exist")
        model = keras.saving.load_model(text)
        record_provenance(model, spec=str(Path(text).resolve()), weights=weights_from_file("file", text))
        return model
    if text.lower() in APPLICATIONS:
        return _application(text.lower(), weights, seed, include_top)
    if not include_top:
        raise InvalidValueError(f"include_top=False applies to keras.applications models, not {text!r}")
    raise InvalidValueError(
        f"unknown model {text!r}: give a .keras or .pth file, 'rnn' or 'rnn:<code>[:<timesteps>]' (e.g. "
        f"rnn:bglt_0111), or one of {', '.join(APPLICATIONS)}"
    )
