"""tfprobe: probe vision networks in TensorFlow 2 / Keras 3 the way neuroscience labs do."""

from tfprobe._runtime import configure_tensorflow_runtime

configure_tensorflow_runtime()

from tfprobe import datasets, decoding, figures  # noqa: E402  (the runtime is configured before TensorFlow loads)
from tfprobe.decoding import decode  # noqa: E402
from tfprobe.errors import (  # noqa: E402
    CheckpointError,
    CheckpointMismatchError,
    ImageInputError,
    UnsafeCheckpointError,
)
from tfprobe.export import export_saved_model  # noqa: E402
from tfprobe.models import GainModulatedRNN, RNNOutputs  # noqa: E402
from tfprobe.probe import Probe  # noqa: E402
from tfprobe.probing.store import ActivationFile, load_activations  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ActivationFile",
    "CheckpointError",
    "CheckpointMismatchError",
    "GainModulatedRNN",
    "ImageInputError",
    "Probe",
    "RNNOutputs",
    "UnsafeCheckpointError",
    "__version__",
    "datasets",
    "decode",
    "decoding",
    "export_saved_model",
    "figures",
    "load_activations",
]
