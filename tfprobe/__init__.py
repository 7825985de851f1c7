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
    "AtlasResult": "tfprobe.examples.atlas",
    "Baseline": "tfprobe.probing.baseline",
    "CheckpointError": "tfprobe.errors",
    "CheckpointMismatchError": "tfprobe.errors",
    "Circuit": "tfprobe.circuits.circuit",
    "DatasetExamples": "tfprobe.examples.result",
    "GainModulatedRNN": "tfprobe.models",
    "ImageInputError": "tfprobe.errors",
    "InputRecord": "tfprobe.circuits.circuit",
    "Probe": "tfprobe.probe",
    "RDMs": "tfprobe.similarity.rdm",
    "RNNOutputs": "tfprobe.models",
    "SimilarityMatrix": "tfprobe.similarity.result",
    "TfprobeError": "tfprobe.errors",
    "UnsafeCheckpointError": "tfprobe.errors",
    "atlas": "tfprobe.examples.atlas",
    "calc_rdm": "tfprobe.similarity.calc",
    "categorical_rdm": "tfprobe.similarity.calc",
    "circuit": "tfprobe.circuits.circuit",
    "circuits": "tfprobe.circuits",
    "cka": "tfprobe.similarity.cka",
    "cka_matrix": "tfprobe.similarity.cka",
    "compare_rdms": "tfprobe.similarity.inference",
    "dataset_examples": "tfprobe.examples.search",
    "datasets": "tfprobe.datasets",
    "decode": "tfprobe.decoding",
    "decoding": "tfprobe.decoding",
    "examples": "tfprobe.examples",
    "expanded_weights": "tfprobe.circuits.expanded",
    "export_saved_model": "tfprobe.export",
    "figures": "tfprobe.figures",
    "image_set_scores": "tfprobe.probing.image_sets",
    "input_field": "tfprobe.circuits.fields",
    "load_activations": "tfprobe.probing.store",
    "load_dataset_examples": "tfprobe.examples.result",
    "load_rdms": "tfprobe.similarity.rdm",
    "models": "tfprobe.models",
    "noise_ceiling": "tfprobe.similarity.inference",
    "psychophysics": "tfprobe.psychophysics",
    "recurrent": "tfprobe.recurrent",
    "similarity": "tfprobe.similarity",
    "visualize": "tfprobe.visualize",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from tfprobe import (
        circuits,
        datasets,
        decoding,
        examples,
        figures,
        models,
        psychophysics,
        recurrent,
        similarity,
        visualize,
    )
    from tfprobe.circuits.circuit import Circuit, InputRecord, circuit
    from tfprobe.circuits.expanded import expanded_weights
    from tfprobe.circuits.fields import input_field
    from tfprobe.decoding import decode
    from tfprobe.errors import (
        CheckpointError,
        CheckpointMismatchError,
        ImageInputError,
        TfprobeError,
        UnsafeCheckpointError,
    )
    from tfprobe.examples.atlas import AtlasResult, atlas
    from tfprobe.examples.result import DatasetExamples, load_dataset_examples
    from tfprobe.examples.search import dataset_examples
    from tfprobe.export import export_saved_model
    from tfprobe.models import GainModulatedRNN, RNNOutputs
    from tfprobe.probe import Probe
    from tfprobe.probing.baseline import Baseline
    from tfprobe.probing.image_sets import image_set_scores
    from tfprobe.probing.store import ActivationFile, load_activations
    from tfprobe.similarity.calc import calc_rdm, categorical_rdm
    from tfprobe.similarity.cka import cka, cka_matrix
    from tfprobe.similarity.inference import compare_rdms, noise_ceiling
    from tfprobe.similarity.rdm import RDMs, load_rdms
    from tfprobe.similarity.result import SimilarityMatrix

__all__ = [
    "ActivationFile",
    "AtlasResult",
    "Baseline",
    "CheckpointError",
    "CheckpointMismatchError",
    "Circuit",
    "DatasetExamples",
    "GainModulatedRNN",
    "ImageInputError",
    "InputRecord",
    "Probe",
    "RDMs",
    "RNNOutputs",
    "SimilarityMatrix",
    "TfprobeError",
    "UnsafeCheckpointError",
    "__version__",
    "atlas",
    "calc_rdm",
    "categorical_rdm",
    "circuit",
    "circuits",
    "cka",
    "cka_matrix",
    "compare_rdms",
    "dataset_examples",
    "datasets",
    "decode",
    "decoding",
    "examples",
    "expanded_weights",
    "export_saved_model",
    "figures",
    "image_set_scores",
    "input_field",
    "load_activations",
    "load_dataset_examples",
    "load_rdms",
    "models",
    "noise_ceiling",
    "psychophysics",
    "recurrent",
    "similarity",
    "visualize",
]
