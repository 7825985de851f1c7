"""The pieces behind :class:`tfprobe.Probe`: unit tables, stimuli, pooling and activation files."""

from tfprobe.probing.pooling import describe_pool, pool_activation
from tfprobe.probing.store import ActivationFile, ActivationFileError, ActivationWriter, load_activations
from tfprobe.probing.units import UnitInfo, UnknownUnitError

__all__ = [
    "ActivationFile",
    "ActivationFileError",
    "ActivationWriter",
    "UnitInfo",
    "UnknownUnitError",
    "describe_pool",
    "load_activations",
    "pool_activation",
]
