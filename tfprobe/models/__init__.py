"""Models: the recurrent gain-modulated network and checkpoint import."""

from tfprobe.models.architecture import KINDS, STAGES, RecurrenceFlags
from tfprobe.models.gain_rnn import GainModulatedRNN, NegativeLogLikelihood
from tfprobe.models.outputs import RecurrentFlow, RNNOutputs
from tfprobe.models.pth_reader import read_torch_state_dict

__all__ = [
    "KINDS",
    "STAGES",
    "GainModulatedRNN",
    "NegativeLogLikelihood",
    "RNNOutputs",
    "RecurrenceFlags",
    "RecurrentFlow",
    "read_torch_state_dict",
]
