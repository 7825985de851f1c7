"""Feature visualisation: images that maximise what a unit, channel, neuron or class responds to.

The common case is one line::

    from tfprobe import visualize as fv
    result = fv.render(model, "block5_conv2:2")                       # one channel
    result = fv.render(model, "block5_conv2", channels=range(16))     # 16 channels, one compiled batch
    result.figure(); result.save("block5_conv2")

and everything underneath composes, as in Lucid: objectives (:mod:`~tfprobe.visualize.objectives`) add,
subtract and scale; parameterisations (:mod:`~tfprobe.visualize.param`: pixels, Fourier, MACO); random
transformations (:mod:`~tfprobe.visualize.transform`); recipes that bundle them
(:mod:`~tfprobe.visualize.recipes`: ``naive`` = the seed notebook's method, ``default``, ``maco``); and
input gradients with SmoothGrad (:mod:`~tfprobe.visualize.attribution`).  Any unit :class:`tfprobe.Probe`
names is a target, the recurrent network's time steps included (``"conv1@t0"`` versus ``"conv1@t3"``).
"""

from tfprobe.visualize.attribution import input_gradients
from tfprobe.visualize.objectives import (
    Objective,
    ObjectiveError,
    blur,
    channel,
    class_logit,
    direction,
    diversity,
    l1,
    l2,
    layer,
    neuron,
    stack,
    total_variation,
)
from tfprobe.visualize.param import Fourier, Maco, Pixels
from tfprobe.visualize.recipes import Recipe, default, default_transforms, maco, naive
from tfprobe.visualize.render import OptimizationError, render
from tfprobe.visualize.result import Visualization
from tfprobe.visualize.transform import Blur, Jitter, Noise, Pad, Rotate, Scale, standard_transforms

__all__ = [
    "Blur",
    "Fourier",
    "Jitter",
    "Maco",
    "Noise",
    "Objective",
    "ObjectiveError",
    "OptimizationError",
    "Pad",
    "Pixels",
    "Recipe",
    "Rotate",
    "Scale",
    "Visualization",
    "blur",
    "channel",
    "class_logit",
    "default",
    "default_transforms",
    "direction",
    "diversity",
    "input_gradients",
    "l1",
    "l2",
    "layer",
    "maco",
    "naive",
    "neuron",
    "render",
    "stack",
    "standard_transforms",
    "total_variation",
]
