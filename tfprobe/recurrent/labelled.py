"""Arrays with named axes, saved as self-describing HDF5 files: :mod:`tfprobe.results.labelled`, importable here
as before."""

from __future__ import annotations

from tfprobe.results.labelled import LabelledArray, load_labelled, save_labelled

__all__ = ["LabelledArray", "load_labelled", "save_labelled"]
