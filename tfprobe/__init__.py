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
    "Baseline": "tfprobe.probing.baseline",
    "CheckpointError": "tfprobe.errors",
    "CheckpointMismatchError": "tfprobe.errors",
    "Circuit": "tfprobe.circuits.circuit",
    "GainModulatedRNN": "tfprobe.models",
    "ImageInputError": "tfprobe.errors",
    "InputRecord": "tfprobe.circuits.circuit",
    "Probe": "tfprobe.probe",
    "RNNOutputs": "tfprobe.models",
    "TfprobeError": "tfprobe.errors",
    "UnsafeCheckpointError": "tfprobe.errors",
    "circuit": "tfprobe.circuits.circuit",
    "circuits": "tfprobe.circuits",
    "datasets": "tfprobe.datasets",
    "decode": "tfprobe.decoding",
    "decoding": "tfprobe.decoding",
    "expanded_weights": "tfprobe.circuits.expanded",
    "export_saved_model": "tfprobe.export",
    "figures": "tfprobe.figures",
    "image_set_scores": "tfprobe.probing.image_sets",
    "load_activations": "tfprobe.probing.store",
    "models": "tfprobe.models",
    "psychophysics": "tfprobe.psychophysics",
    "recurrent": "tfprobe.recurrent",
    "visualize": "tfprobe.visualize",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from tfprobe import circuits, datasets, decoding, figures, models, psychophysics, recurrent, visualize
    from tfprobe.circuits.circuit import Circuit, InputRecord, circuit
    from tfprobe.circuits.expanded import expanded_weights
    from tfprobe.decoding import decode
    from tfprobe.errors import (
        CheckpointError,
        CheckpointMismatchError,
        ImageInputError,
        TfprobeError,
        UnsafeCheckpointError,
    )
    from tfprobe.export import export_saved_model
    from tfprobe.models import GainModulatedRNN, RNNOutputs
    from tfprobe.probe import Probe
    from tfprobe.probing.baseline import Baseline
    from tfprobe.probing.image_sets import image_set_scores
    from tfprobe.probing.store import ActivationFile, load_activations

__all__ = [
    "ActivationFile",
    "Baseline",
    "CheckpointError",
    "CheckpointMismatchError",
    "Circuit",
    "GainModulatedRNN",
    "ImageInputError",
    "InputRecord",
    "Probe",
    "RNNOutputs",
    "TfprobeError",
    "UnsafeCheckpointError",
    "__version__",
    "circuit",
    "circuits",
    "datasets",
    "decode",
    "decoding",
    "expanded_weights",
    "export_saved_model",
    "figures",
    "image_set_scores",
    "load_activations",
    "models",
    "psychophysics",
    "recurrent",
    "visualize",
]
