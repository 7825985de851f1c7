"""Psychophysics with linear probes: frozen backbones, a 2AFC read-out, staircases and contrast sensitivity.

The linear-probe lab's experiment in three verbs: cut a backbone (:func:`frozen_backbone`), train a
probe on contrast-discrimination pairs (:class:`TwoAFCProbe`, :func:`train_probe`), measure its
contrast sensitivity function (:func:`measure_csf`); :func:`csf_by_layer` runs it for a list of layers.
Names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfprobe._lazy import lazy_exports

_EXPORTS = {
    "ContrastSensitivity": "tfprobe.psychophysics.csf",
    "PixelPreprocessing": "tfprobe.psychophysics.backbone",
    "StaircaseResult": "tfprobe.psychophysics.staircase",
    "TwoAFCProbe": "tfprobe.psychophysics.linear_probe",
    "bisection_staircase": "tfprobe.psychophysics.staircase",
    "compute_features": "tfprobe.psychophysics.linear_probe",
    "csf_by_layer": "tfprobe.psychophysics.csf",
    "frozen_backbone": "tfprobe.psychophysics.backbone",
    "measure_csf": "tfprobe.psychophysics.csf",
    "train_probe": "tfprobe.psychophysics.linear_probe",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from tfprobe.psychophysics.backbone import PixelPreprocessing, frozen_backbone
    from tfprobe.psychophysics.csf import ContrastSensitivity, csf_by_layer, measure_csf
    from tfprobe.psychophysics.linear_probe import TwoAFCProbe, compute_features, train_probe
    from tfprobe.psychophysics.staircase import StaircaseResult, bisection_staircase

__all__ = [
    "ContrastSensitivity",
    "PixelPreprocessing",
    "StaircaseResult",
    "TwoAFCProbe",
    "bisection_staircase",
    "compute_features",
    "csf_by_layer",
    "frozen_backbone",
    "measure_csf",
    "train_probe",
]
