"""The wiring of the recurrent gain-modulated network, as data.

Thorat, Aldegheri & Kietzmann (2021) describe a network of four stages
(input, conv1, conv2, fc1) in which every stage may be modulated, from one time
step to the next, by recurrent projections: lateral ones (a stage onto itself)
and top-down ones (a higher stage onto a lower one).  Each projection exists
twice, once for an additive *bias* and once for a multiplicative *gain*.

This module states that wiring once; the Keras model, the checkpoint importer,
the SavedModel export and the probing tools all read it from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tfprobe.errors import InvalidValueError

#: The stages of the network whose activity is recorded at every time step.
STAGES: tuple[str, ...] = ("input", "conv1", "conv2", "fc1")
#: The two kinds of recurrent modulation.
KINDS: tuple[str, ...] = ("bias", "gain")
#: Number of output classes: MNIST digits 0-9, then Fashion-MNIST 10-19.
N_CLASSES = 20
#: Image side length the architecture is built for.
IMAGE_SIZE = 100
#: The only convolution kernel size for which the original architecture's
#: fixed feedback geometry (maps of 96, 28 and 9 pixels) is consistent.
KERNEL_SIZE = 5
#: Floor of the softmax probabilities before the logarithm, as in the original.
PROBABILITY_FLOOR = 1e-10

_CODE_PATTERN = re.compile(r"^(?:rnn_)?bglt_([01])([01])([01])([01])$")
_FILENAME_PATTERN = re.compile(r"bglt_([01])([01])([01])([01])_t_(\d+)")


@dataclass(frozen=True)
class RecurrenceFlags:
    """Which recurrent pathways are switched on (the authors' ``bglt`` code).

    Attributes
    ----------
    bias, gain : bool
        Additive and multiplicative modulation.
    lateral, topdown : bool
        Projections of a stage onto itself and from higher stages downwards.
    """

    bias: bool = False
    gain: bool = True
    lateral: bool = True
    topdown: bool = True

    @property
    def code(self) -> str:
        """The authors' code, for example ``"bglt_0111"``."""
        bits = "".join(str(int(flag)) for flag in (self.bias, self.gain, self.lateral, self.topdown))
        return f"bglt_{bits}"

    @property
    def kinds(self) -> tuple[str, ...]:
        """The modulation kinds that are switched on, in ``KINDS`` order."""
        return tuple(kind for kind, on in zip(KINDS, (self.bias, self.gain), strict=True) if on)

    @classmethod
    def from_code(cls, code: str) -> RecurrenceFlags:
        """Parse ``"bglt_0111"`` (or ``"rnn_bglt_0111"``) into flags.

        Raises
        ------
        ValueError
            If ``code`` is not four binary digits after ``bglt_``.
        """
        match = _CODE_PATTERN.match(str(code).strip())
        if match is None:
            raise InvalidValueError(
                f"unknown recurrence code {code!r}: expected 'bglt_' followed by four 0/1 digits "
                "for bias, gain, lateral and top-down, for example 'bglt_0111'"
            )
        bias, gain, lateral, topdown = (digit == "1" for digit in match.groups())
        return cls(bias=bias, gain=gain, lateral=lateral, topdown=topdown)


def parse_checkpoint_filename(name: str) -> tuple[RecurrenceFlags, int] | None:
    """Read flags and time steps from an authors' file name such as
    ``rnn_bglt_0111_t_4_num_1.pth``; ``None`` when the name does not follow it."""
    match = _FILENAME_PATTERN.search(name)
    if match is None:
        return None
    bits, timesteps = match.groups()[:4], int(match.group(5))
    bias, gain, lateral, topdown = (digit == "1" for digit in bits)
    return RecurrenceFlags(bias, gain, lateral, topdown), timesteps


@dataclass(frozen=True)
class Projection:
    """One recurrent projection (present once per modulation kind).

    Attributes
    ----------
    stem : str
        The authors' module name without its ``b``/``g`` suffix (``"c2c1"``).
    source, target : str
        The stage projected from and the stage modulated.
    operation : str
        ``"conv"`` (same-padded convolution), ``"conv_transpose"`` or ``"dense"``.
    kernel_size, stride : int
        Geometry of convolutional projections.
    """

    stem: str
    source: str
    target: str
    operation: str
    kernel_size: int = 0
    stride: int = 1

    @property
    def is_lateral(self) -> bool:
        return self.source == self.target

    @property
    def source_name(self) -> str:
        """The name users index flows by: ``"lateral"`` or ``"from_<stage>"``."""
        return "lateral" if self.is_lateral else f"from_{self.source}"

    def layer_name(self, kind: str) -> str:
        """Name of the Keras layer that implements this projection for ``kind``."""
        if self.is_lateral:
            return f"{kind}_{self.target}_lateral"
        return f"{kind}_{self.source}_to_{self.target}"

    def torch_name(self, kind: str) -> str:
        """Name of the module in the authors' PyTorch model (``c2c1g``)."""
        return f"{self.stem}{kind[0]}"


#: Every recurrent projection of the original network, grouped by target in the
#: order the original sums them (that order is kept for numerical parity).
PROJECTIONS: tuple[Projection, ...] = (
    Projection("c1x", "conv1", "input", "conv_transpose", 7, 3),
    Projection("c2x", "conv2", "input", "conv_transpose", 20, 10),
    Projection("fc1x", "fc1", "input", "dense"),
    Projection("c1c1", "conv1", "conv1", "conv", KERNEL_SIZE, 1),
    Projection("c2c1", "conv2", "conv1", "conv_transpose", 16, 10),
    Projection("fc1c1", "fc1", "conv1", "dense"),
    Projection("c2c2", "conv2", "conv2", "conv", KERNEL_SIZE, 1),
    Projection("fc1c2", "fc1", "conv2", "dense"),
    Projection("fc1fc1", "fc1", "fc1", "dense"),
)


def active_projections(flags: RecurrenceFlags, target: str | None = None) -> tuple[Projection, ...]:
    """The projections switched on by ``flags`` (optionally only into ``target``)."""
    return tuple(
        p
        for p in PROJECTIONS
        if (flags.lateral if p.is_lateral else flags.topdown) and (target is None or p.target == target)
    )


def stage_shapes(n_feats: int) -> dict[str, tuple[int, ...]]:
    """Per-example shapes (channels-last) of the recorded activity of each stage."""
    return {
        "input": (IMAGE_SIZE, IMAGE_SIZE, 1),
        "conv1": (32, 32, n_feats),
        "conv2": (9, 9, 2 * n_feats),
        "fc1": (16 * n_feats,),
    }


def modulated_shapes(n_feats: int) -> dict[str, tuple[int, ...]]:
    """Per-example shapes of the maps the recurrent flows modulate.

    For conv1 and conv2 these are the maps before pooling (96x96, 28x28).
    """
    return {
        "input": (IMAGE_SIZE, IMAGE_SIZE, 1),
        "conv1": (96, 96, n_feats),
        "conv2": (28, 28, 2 * n_feats),
        "fc1": (16 * n_feats,),
    }
