"""Models: the recurrent gain-modulated network, checkpoint import, and ImageNet classifiers offline."""

from tfprobe.models.architecture import KINDS, STAGES, RecurrenceFlags
from tfprobe.models.designed_filters import DesignedConv2D, designed_filter_names, designed_filters
from tfprobe.models.gain_rnn import GainModulatedRNN, NegativeLogLikelihood
from tfprobe.models.imagenet import (
    class_names,
    decode_predictions,
    deprocess_input,
    load_image,
    load_images,
    mobilenetv2,
    predict,
    preprocess_input,
    resnet50,
    vgg16,
    vgg19,
)
from tfprobe.models.loading import WeightsUnavailableError, imagenet_weights, imagenet_weights_path, load_model
from tfprobe.models.outputs import RecurrentFlow, RNNOutputs
from tfprobe.models.pth_reader import read_torch_state_dict

__all__ = [
    "KINDS",
    "STAGES",
    "DesignedConv2D",
    "GainModulatedRNN",
    "NegativeLogLikelihood",
    "RNNOutputs",
    "RecurrenceFlags",
    "RecurrentFlow",
    "WeightsUnavailableError",
    "class_names",
    "decode_predictions",
    "deprocess_input",
    "designed_filter_names",
    "designed_filters",
    "imagenet_weights",
    "imagenet_weights_path",
    "load_image",
    "load_images",
    "load_model",
    "mobilenetv2",
    "predict",
    "preprocess_input",
    "read_torch_state_dict",
    "resnet50",
    "vgg16",
    "vgg19",
]
