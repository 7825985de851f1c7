"""Dataset examples and the unit atlas: the real images that drive each unit most and least.

* :func:`dataset_examples` streams any image source through a :class:`~tfprobe.Probe` once and keeps, for
  every channel of one or more units, the k highest and lowest scores with their images and positions;
* :class:`DatasetExamples` holds them, crops the receptive field around each position, draws and saves them;
* :func:`atlas` writes one HTML page per layer: each channel's feature visualisation, dataset examples and
  strongest circuit inputs, linked across layers.
"""

from tfprobe.examples.atlas import AtlasResult, atlas
from tfprobe.examples.result import DatasetExamples, load_dataset_examples
from tfprobe.examples.search import dataset_examples
from tfprobe.examples.sources import ImageSource, open_source
from tfprobe.examples.topk import REDUCTIONS

__all__ = [
    "REDUCTIONS",
    "AtlasResult",
    "DatasetExamples",
    "ImageSource",
    "atlas",
    "dataset_examples",
    "load_dataset_examples",
    "open_source",
]
