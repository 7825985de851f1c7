"""Getting a model to probe from a short description: a file, an application name, or the recurrent network.

* ``path/to/model.keras``: a saved Keras model (tfprobe's own layers are registered);
* ``path/to/weights.pth``: the authors' checkpoint of the recurrent network (flags from its file name);
* ``rnn:bglt_0111`` (``rnn:bglt_0111:4`` with time steps): the recurrent network, freshly initialised;
* ``vgg16``, ``vgg19``, ``resnet50``, ``mobilenetv2``: ``keras.applications`` models with ``weights``
  ("imagenet", downloaded once by Keras; None for random ones; or a local weights file).
"""

from __future__ import annotations

import os
from pathlib import Path

import keras

from tfprobe.models.gain_rnn import GainModulatedRNN

APPLICATIONS = {
    "vgg16": keras.applications.VGG16,
    "vgg19": keras.applications.VGG19,
    "resnet50": keras.applications.ResNet50,
    "mobilenetv2": keras.applications.MobileNetV2,
}


def load_model(spec: str | os.PathLike[str], *, weights: str | None = "imagenet", seed: int = 0) -> keras.Model:
    """The model ``spec`` describes (see the module documentation for the accepted forms).

    Parameters
    ----------
    spec : str or path
    weights : str or None
        For applications: ``"imagenet"``, None (random) or a weights file.
    seed : int
        Seed of random initialisations.
    """
    text = str(spec)
    path = Path(text)
    if path.suffix in (".keras", ".pth"):
        if not path.is_file():
            raise FileNotFoundError(f"model file {text!r} does not exist")
        if path.suffix == ".pth":
            return GainModulatedRNN.from_torch_checkpoint(str(path))
        return keras.saving.load_model(path)
    if text.startswith("rnn:"):
        parts = text.split(":")
        timesteps = 4
        if len(parts) == 3:
            if not parts[2].isdigit():
                raise ValueError(f"time steps in {text!r} must be a positive int, as in 'rnn:bglt_0111:4'")
            timesteps = int(parts[2])
        elif len(parts) != 2:
            raise ValueError(f"expected 'rnn:<code>' or 'rnn:<code>:<timesteps>', got {text!r}")
        keras.utils.set_random_seed(seed)
        return GainModulatedRNN.from_code(parts[1], timesteps=timesteps)
    if text.lower() in APPLICATIONS:
        keras.utils.set_random_seed(seed)
        try:
            return APPLICATIONS[text.lower()](weights=weights)
        except Exception as error:  # Keras raises several kinds when a download fails
            raise ValueError(
                f"could not build {text} with weights={weights!r} ({' '.join(str(error).split())[:200]}); offline, "
                "pass a local weights file or weights=None (random weights)"
            ) from None
    raise ValueError(
        f"unknown model {text!r}: give a .keras or .pth file, 'rnn:<code>[:<timesteps>]' (e.g. rnn:bglt_0111), "
        f"or one of {', '.join(APPLICATIONS)}"
    )
