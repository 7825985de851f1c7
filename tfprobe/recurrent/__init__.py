"""The recurrent-network lab: training, decoding through layers and time, recurrent-flow perturbation,
the network's connections, and the report that puts them together (Thorat, Aldegheri & Kietzmann 2021).

Names are imported on first use (see :mod:`tfprobe._lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfprobe._lazy import lazy_exports

_EXPORTS = {
    "Connection": "tfprobe.recurrent.connections",
    "connection_summary": "tfprobe.recurrent.connections",
    "connections": "tfprobe.recurrent.connections",
    "format_connections": "tfprobe.recurrent.connections",
    "FlowPerturbationResult": "tfprobe.recurrent.flow_perturbation",
    "permute_differences": "tfprobe.recurrent.flow_perturbation",
    "perturb_flows": "tfprobe.recurrent.flow_perturbation",
    "SCHEDULES": "tfprobe.recurrent.schedules",
    "TrainingSchedule": "tfprobe.recurrent.schedules",
    "get_schedule": "tfprobe.recurrent.schedules",
    "TrainingResult": "tfprobe.recurrent.training",
    "evaluate": "tfprobe.recurrent.training",
    "learning_curve": "tfprobe.recurrent.training",
    "train": "tfprobe.recurrent.training",
    "TimeDecodingResult": "tfprobe.recurrent.time_decoding",
    "decode_through_time": "tfprobe.recurrent.time_decoding",
    "LabelledArray": "tfprobe.recurrent.labelled",
    "load_labelled": "tfprobe.recurrent.labelled",
    "save_labelled": "tfprobe.recurrent.labelled",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from tfprobe.recurrent.connections import Connection, connection_summary, connections, format_connections
    from tfprobe.recurrent.flow_perturbation import FlowPerturbationResult, permute_differences, perturb_flows
    from tfprobe.recurrent.labelled import LabelledArray, load_labelled, save_labelled
    from tfprobe.recurrent.schedules import SCHEDULES, TrainingSchedule, get_schedule
    from tfprobe.recurrent.time_decoding import TimeDecodingResult, decode_through_time
    from tfprobe.recurrent.training import TrainingResult, evaluate, learning_curve, train

__all__ = [
    "SCHEDULES",
    "Connection",
    "FlowPerturbationResult",
    "LabelledArray",
    "TimeDecodingResult",
    "TrainingResult",
    "TrainingSchedule",
    "connection_summary",
    "connections",
    "decode_through_time",
    "evaluate",
    "format_connections",
    "get_schedule",
    "learning_curve",
    "load_labelled",
    "permute_differences",
    "perturb_flows",
    "save_labelled",
    "train",
]
