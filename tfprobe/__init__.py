"""tfprobe: probe vision networks in TensorFlow 2 / Keras 3 the way neuroscience labs do.

Public names are imported on first use (see :mod:`tfprobe._lazy`): ``import tfprobe`` is cheap, and
TensorFlow loads when a name that needs it is first touched.
"""

from typing import TYPE_CHECKING

from tfprobe._lazy import lazy_exports
from tfprobe._runtime import configure_tensorflow_runtime

configure_tensorflow_runtime()  # before TensorFlow loads, whichever name loads it

__version__ = "0.1.0"

_EXPORTS = {
    "ActivationFile": "tfprobe.probing.store",
    "CheckpointError": "tfprobe.errors",
    "CheckpointMismatchError": "tfprobe.errors",
    "GainModulatedRNN": "tfprobe.models",
    "ImageInputError": "tfprobe.errors",
    "Probe": "tfprobe.probe",
    "RNNOutputs": "tfprobe.models",
    "UnsafeCheckpointError": "tfprobe.errors",
    "datasets": "tfprobe.datasets",
    "decode": "tfprobe.decoding",
    "decoding": "tfprobe.decoding",
    "export_saved_model": "tfprobe.export",
    "figures": "tfprobe.figures",
    "load_activations": "tfprobe.probing.store",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from tfprobe import datasets, decoding, figures
    from tfprobe.decoding import decode
    from tfprobe.errors import CheckpointError, CheckpointMismatchError, ImageInputError, UnsafeCheckpointError
    from tfprobe.export import export_saved_model
    from tfprobe.models import GainModulatedRNN, RNNOutputs
    from tfprobe.probe import Probe
    from tfprobe.probing.store import ActivationFile, load_activations

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
