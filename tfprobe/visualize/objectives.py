"""What to maximise: objectives on any unit :class:`tfprobe.Probe` names, composable with ``+``, ``-``, ``*``.

An :class:`Objective` scores every image of a batch (one value per image).  Its terms name the unit they
read (``"block5_conv2"``, the recurrent network's ``"conv1@t3"``) and hold per-image parameters, so one
objective can ask each image of a batch for something else: ``channel("block5_conv2", range(16))``
optimises 16 images, image ``i`` for channel ``i``.  Terms compose::

    channel("block4_conv3", 12) - 0.5 * channel("block4_conv3", 40)   # one image: 12 and not 40
    channel("conv2", range(8)) + 0.1 * diversity("conv2")              # ... and different from each other
    class_logit(3) + 0.05 * total_variation()                          # a regulariser on the image

Regularisers (:func:`total_variation`, :func:`l1`, :func:`l2`, :func:`blur`) score the image itself (in
[0, 1], before transformations) and are negative penalties: adding them asks for smoother, sparser or
blurrier images.  An objective is bound to a model only when a term was given ``model=``; combining terms
bound to two models is refused, and rendering it for another model too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfprobe.errors import InvalidIndexError, InvalidTypeError, ObjectiveError
from tfprobe.probing.units import UnitInfo
from tfprobe.validation import is_real

__all__ = [
    "Objective",
    "ObjectiveError",
    "blur",
    "channel",
    "class_logit",
    "direction",
    "diversity",
    "l1",
    "l2",
    "layer",
    "neuron",
    "stack",
    "total_variation",
]

#: The unit a term reads when it scores the image itself (regularisers).
IMAGE = "<image>"
#: The unit a class logit reads when none is named: the model's output layer (before its softmax).
OUTPUT = "<output>"
#: The parameter of a stacked term saying which images of the batch it scores (1) and which not (0).
MASK = "_mask"


@dataclasses.dataclass(frozen=True)
class Term:
    """One weighted term: a scoring rule applied to one unit, with per-image or shared parameters."""

    kind: str
    unit: str
    weight: float = 1.0
    parameters: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    per_image: int | None = None  # images the parameters are given for (None: the same for every image)
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    model: Any = None

    def describe(self) -> str:
        shown = {k: (v.tolist() if v.size <= 4 else f"{v.size} values") for k, v in self.parameters.items()}
        details = ", ".join(f"{k}={v}" for k, v in {**shown, **self.options}.items())
        text = f"{self.kind}({self.unit}{', ' + details if details else ''})"
        return text if self.weight == 1 else f"{self.weight:g} * {text}"


class Objective:
    """A sum of weighted terms, scoring each image of a batch.

    Build objectives with :func:`channel`, :func:`neuron`, :func:`layer`, :func:`class_logit`,
    :func:`direction`, :func:`diversity` and the regularisers, and combine them with ``+``, ``-`` and a
    scalar ``*``.
    """

    def __init__(self, terms: Sequence[Term]) -> None:
        self.terms = tuple(terms)
        sizes = {t.per_image for t in self.terms if t.per_image is not None}
        if len(sizes) > 1:
            raise ObjectiveError(
                f"terms ask for different numbers of images ({', '.join(map(str, sorted(sizes)))}): per-image "
                "parameters (channel lists, ...) must all have one length"
            )
        models = {id(t.model): t.model for t in self.terms if t.model is not None}
        if len(models) > 1:
            names = ", ".join(getattr(m, "name", type(m).__name__) for m in models.values())
            raise ObjectiveError(f"an objective cannot mix units of two models ({names}): render one model at a time")
        self.size = next(iter(sizes), None)
        self.model = next(iter(models.values()), None)

    # ------------------------------------------------------------------ algebra

    def __add__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return Objective(self.terms + other.terms)

    def __sub__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return self + (-1.0) * other

    def __neg__(self) -> Objective:
        return (-1.0) * self

    def __mul__(self, factor: float) -> Objective:
        if not is_real(factor):
            return NotImplemented
        return Objective([dataclasses.replace(t, weight=t.weight * float(factor)) for t in self.terms])

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> Objective:
        if not is_real(divisor):
            return NotImplemented
        return self * (1.0 / float(divisor))

    def __repr__(self) -> str:
        return " + ".join(t.describe() for t in self.terms)

    # ------------------------------------------------------------------ rendering

    @property
    def units(self) -> tuple[str, ...]:
        """The model units the terms read (the image itself excluded), in order, without repeats."""
        return tuple(dict.fromkeys(t.unit for t in self.terms if t.unit != IMAGE))

    def bind(self, resolve_unit: Callable[[str], str], info: Callable[[str], UnitInfo]) -> Objective:
        """The objective with its units resolved for one model and every parameter checked against them."""
        terms = []
        for term in self.terms:
            if term.unit == IMAGE:
                terms.append(term)
                continue
            name = resolve_unit(term.unit)
            checked = _CHECKS[term.kind](dataclasses.replace(term, unit=name), info(name))
            terms.append(checked)
        return Objective(terms)

    def parameters(self, rows: slice, batch: int) -> list[np.ndarray]:
        """Every term's parameters for the images ``rows`` (a batch of ``batch`` images), in term order."""
        values = []
        for term in self.terms:
            for key in sorted(term.parameters):
                value = term.parameters[key]
                shared = np.broadcast_to(value, (batch, *value.shape))
                values.append(value[rows] if term.per_image is not None else shared)
        return values

    def score(
        self, activations: Mapping[str, tf.Tensor], image: tf.Tensor, parameters: Sequence[tf.Tensor]
    ) -> tf.Tensor:
        """The objective of every image of the batch, (batch,) float32."""
        total = 0.0
        position = 0
        for term in self.terms:
            keys = sorted(term.parameters)
            given = dict(zip(keys, parameters[position : position + len(keys)], strict=True))
            position += len(keys)
            values = image if term.unit == IMAGE else activations[term.unit]
            value = _SCORES[term.kind](tf.cast(values, tf.float32), given, term.options)
            if MASK in given:  # a stacked objective: this term scores its own images only
                value = value * tf.cast(given[MASK], tf.float32)
            total += term.weight * value
        return total


# --------------------------------------------------------------------------- scoring rules


def _spatial_mean(values: tf.Tensor) -> tf.Tensor:
    axes = list(range(1, values.shape.rank))
    return tf.reduce_mean(values, axis=axes) if axes else values


def _score_channel(values: tf.Tensor, given: dict, options: dict) -> tf.Tensor:
    selected = tf.gather(values, tf.cast(given["index"], tf.int32), axis=-1, batch_dims=1)
    return _spatial_mean(selected)


def _score_neuron(values: tf.Tensor, given: dict, options: dict) -> tf.Tensor:
    shape = tf.shape(values)
    y, x = (tf.cast(given[axis], tf.int32) for axis in ("y", "x"))
    y = tf.where(y < 0, shape[1] // 2, y)  # -1: the centre of the map, known only now for models of any size
    x = tf.where(x < 0, shape[2] // 2, x)
    position = tf.stack([y, x, tf.cast(given["index"], tf.int32)], axis=1)
    return tf.gather_nd(values, position, batch_dims=1)


def _score_layer(values: tf.Tensor, given: dict, options: dict) -> tf.Tensor:
    return _spatial_mean(tf.square(values))


def _score_direction(values: tf.Tensor, given: dict, options: dict) -> tf.Tensor:
    vector = tf.cast(given["vector"], tf.float32)
    vector = vector / (tf.norm(vector, axis=-1, keepdims=True) + 1e-12)
    return _spatial_mean(tf.einsum("b...c,bc->b...", values, vector))


def _score_diversity(values: tf.Tensor, given: dict, options: dict) -> tf.Tensor:
    batch = tf.shape(values)[0]
    channels = values.shape[-1]
    flat = tf.reshape(values, [batch, -1, channels])
    grams = tf.matmul(flat, flat, transpose_a=True)
    grams = tf.math.l2_normalize(tf.reshape(grams, [batch, -1]), axis=1, epsilon=1e-10)
    similarity = tf.matmul(grams, grams, transpose_b=True)  # (batch, batch) cosine similarity of Gram matrices
    others = tf.reduce_sum(similarity, axis=1) - tf.linalg.diag_part(similarity)
    count = tf.maximum(tf.cast(batch, tf.float32) - 1.0, 1.0)
    return -others / count


def _score_total_variation(values: tf.Tensor, given: dict, options: dict) -> tf.Tensor:
    rows = tf.reduce_mean(tf.abs(values[:, 1:] - values[:, :-1]), axis=[1, 2, 3])
    columns = tf.reduce_mean(tf.abs(values[:, :, 1:] - values[:, :, :-1]), axis=[1, 2, 3])
    return -(rows + columns)


def _score_lp(values: tf.Tensor, given: dict, options: dict) -> tf.Tensor:
    centred = tf.abs(values - options["constant"])
    return -tf.reduce_mean(centred if options["p"] == 1 else tf.square(centred), axis=[1, 2, 3])


def _score_blur(values: tf.Tensor, given: dict, options: dict) -> tf.Tensor:
    from tfprobe.visualize.transform import gaussian_blur

    blurred = tf.stop_gradient(gaussian_blur(values, options["sigma"]))
    return -0.5 * tf.reduce_mean(tf.square(values - blurred), axis=[1, 2, 3])


_SCORES = {
    "channel": _score_channel,
    "neuron": _score_neuron,
    "layer": _score_layer,
    "class_logit": _score_channel,
    "direction": _score_direction,
    "diversity": _score_diversity,
    "total_variation": _score_total_variation,
    "lp": _score_lp,
    "blur": _score_blur,
}


# --------------------------------------------------------------------------- checks against a unit


def _check_index(term: Term, unit: UnitInfo) -> Term:
    channels = unit.shape[-1] if unit.shape else None
    index = term.parameters["index"]
    bad = index[(index < 0) | (index >= (channels or 0))]
    if len(bad):
        raise InvalidIndexError(
            f"channel {int(bad[0])} out of range for unit {unit.name!r}: it has {channels} channels (0 to "
            f"{(channels or 1) - 1})"
        )
    return term


def _require_space(unit: UnitInfo, why: str, advice: str = "") -> None:
    if len(unit.shape) != 3:
        raise ObjectiveError(f"{why}, but unit {unit.name!r} has shape {unit.shape} (no height and width){advice}")


def _check_neuron(term: Term, unit: UnitInfo) -> Term:
    _require_space(unit, "neuron() picks a position in a spatial map", ": use channel() for one of its units")
    _check_index(term, unit)
    for axis, size in (("y", unit.shape[0]), ("x", unit.shape[1])):
        if size is not None and np.any(term.parameters[axis] >= size):  # -1 stands for the centre
            raise InvalidIndexError(
                f"neuron {axis}={int(term.parameters[axis].max())} out of range for {unit.name!r} "
                f"({unit.shape[0]} x {unit.shape[1]})"
            )
    return term


def _check_spatial(term: Term, unit: UnitInfo) -> Term:
    _require_space(unit, "diversity() compares the channel correlations of spatial maps")
    return term


def _check_direction(term: Term, unit: UnitInfo) -> Term:
    length = term.parameters["vector"].shape[-1]
    if length != unit.shape[-1]:
        raise ObjectiveError(
            f"direction() needs a vector of {unit.shape[-1]} values for unit {unit.name!r} (its channels), got {length}"
        )
    return term


_CHECKS: dict[str, Callable[[Term, UnitInfo], Term]] = {
    "channel": _check_index,
    "class_logit": _check_index,
    "neuron": _check_neuron,
    "layer": lambda term, unit: term,
    "direction": _check_direction,
    "diversity": _check_spatial,
}


# --------------------------------------------------------------------------- constructors


def _indices(index: int | Sequence[int] | range | np.ndarray, what: str) -> tuple[np.ndarray, int | None]:
    """Integer parameters: one for every image, or one per image (a sequence)."""
    array = np.asarray(list(index) if isinstance(index, range) else index)
    if array.dtype.kind not in "iu" or array.ndim > 1:
        raise ObjectiveError(f"{what} must be an int or a sequence of ints, got {index!r}")
    if array.ndim == 1 and len(array) == 0:
        raise ObjectiveError(f"{what}: the sequence is empty")
    return (array.astype(np.int64), len(array)) if array.ndim == 1 else (array.astype(np.int64), None)


def _unit(unit: str) -> str:
    if not isinstance(unit, str) or not unit:
        raise ObjectiveError(f"a unit must be named by a non-empty string (see Probe(model).units), got {unit!r}")
    return unit


def channel(unit: str, index: int | Sequence[int], *, model: Any = None) -> Objective:
    """The mean activation of channel ``index`` of ``unit`` over space (for a dense unit: that unit).

    A sequence of indices asks image ``i`` of the batch for channel ``index[i]``.
    """
    values, size = _indices(index, "channel index")
    return Objective([Term("channel", _unit(unit), parameters={"index": values}, per_image=size, model=model)])


def neuron(
    unit: str,
    index: int | Sequence[int],
    *,
    x: int | Sequence[int] | None = None,
    y: int | Sequence[int] | None = None,
    model: Any = None,
) -> Objective:
    """One neuron: channel ``index`` of ``unit`` at column ``x``, row ``y`` (default: the map's centre)."""
    values, size = _indices(index, "channel index")
    columns, size_x = _indices(-1 if x is None else x, "x")
    rows, size_y = _indices(-1 if y is None else y, "y")
    sizes = {s for s in (size, size_x, size_y) if s is not None}
    if len(sizes) > 1:
        raise ObjectiveError(f"neuron(): index, x and y give different numbers of images ({sorted(sizes)})")
    count = next(iter(sizes), None)
    if count is not None:
        values, columns, rows = (np.broadcast_to(a, (count,)).copy() for a in (values, columns, rows))
    parameters = {"index": values, "x": columns, "y": rows}
    return Objective([Term("neuron", _unit(unit), parameters=parameters, per_image=count, model=model)])


def layer(unit: str, *, model: Any = None) -> Objective:
    """DeepDream: the mean square of every activation of ``unit``."""
    return Objective([Term("layer", _unit(unit), model=model)])


def class_logit(index: int | Sequence[int], unit: str = OUTPUT, *, model: Any = None) -> Objective:
    """The logit of class ``index``, taken before the softmax (also when the layer applies one).

    ``unit`` defaults to the model's output layer; a Dense layer with a softmax (or sigmoid) activation
    is read before its activation.
    """
    values, size = _indices(index, "class index")
    return Objective([Term("class_logit", unit, parameters={"index": values}, per_image=size, model=model)])


def direction(unit: str, vector: Sequence[float] | np.ndarray, *, model: Any = None) -> Objective:
    """The mean projection of ``unit``'s activations (over space) on ``vector`` (one per channel;
    a 2-D array gives one vector per image)."""
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim not in (1, 2) or array.shape[-1] == 0 or not np.all(np.isfinite(array)):
        raise ObjectiveError(f"direction() needs a finite vector (channels,) or (images, channels), got {array.shape}")
    if not np.any(array):
        raise ObjectiveError("direction() needs a non-zero vector")
    size = len(array) if array.ndim == 2 else None
    return Objective([Term("direction", _unit(unit), parameters={"vector": array}, per_image=size, model=model)])


def stack(*objectives: Objective) -> Objective:
    """One batch from several per-image objectives: the images of each, one after another, every image
    scored by its own objective only.

    ``stack(channel("block5_conv2", [2]), channel("block5_conv1", [7, 40, 3]))`` optimises 4 images in one
    compiled run: the first for filter 2 of block5_conv2, the others for channels of block5_conv1.

    Parameters
    ----------
    *objectives : Objective
        Each with per-image parameters (a channel list, ...), so that its number of images is known.
        Terms across a batch (:func:`diversity`) cannot be stacked.

    Returns
    -------
    Objective
        Its terms carry a per-image mask; its size is the sum of the objectives' sizes.
    """
    if not objectives:
        raise ObjectiveError("stack() needs at least one objective")
    for position, objective in enumerate(objectives):
        if not isinstance(objective, Objective):
            raise InvalidTypeError(f"stack() takes objectives; argument {position} is {type(objective).__name__}")
        if objective.size is None:
            raise ObjectiveError(
                f"stack() needs objectives with per-image parameters (their number of images), got {objective!r}: "
                "give its channels as a list, e.g. channel(unit, [3])"
            )
        if any(term.kind == "diversity" or MASK in term.parameters for term in objective.terms):
            raise ObjectiveError(f"stack() cannot stack {objective!r}: diversity and stacked terms span a batch")
    total = sum(objective.size for objective in objectives)
    terms, start = [], 0
    for objective in objectives:
        rows = slice(start, start + objective.size)
        for term in objective.terms:
            parameters = {}
            for key, value in term.parameters.items():
                own = value if term.per_image is not None else np.broadcast_to(value, (objective.size, *value.shape))
                padded = np.repeat(own[:1], total, axis=0)  # other images' rows: any valid value, masked out
                padded[rows] = own
                parameters[key] = padded
            mask = np.zeros(total, np.float32)
            mask[rows] = 1.0
            parameters[MASK] = mask
            terms.append(dataclasses.replace(term, parameters=parameters, per_image=total))
        start += objective.size
    return Objective(terms)


def diversity(unit: str, *, model: Any = None) -> Objective:
    """Asks the images of a batch to differ: minus each image's mean cosine similarity to the others of the
    channel correlations (Gram matrices) of ``unit`` (Lucid's diversity)."""
    return Objective([Term("diversity", _unit(unit), model=model)])


def total_variation() -> Objective:
    """Minus the mean absolute difference between neighbouring pixels: smoother images."""
    return Objective([Term("total_variation", IMAGE)])


def l1(constant: float = 0.5) -> Objective:
    """Minus the mean absolute deviation of the image from ``constant`` (0.5: mid-gray)."""
    return Objective([Term("lp", IMAGE, options={"p": 1, "constant": float(constant)})])


def l2(constant: float = 0.5) -> Objective:
    """Minus the mean squared deviation of the image from ``constant``."""
    return Objective([Term("lp", IMAGE, options={"p": 2, "constant": float(constant)})])


def blur(sigma: float = 1.0) -> Objective:
    """Minus half the squared distance of the image to its own Gaussian blur (held fixed): pulls each step
    towards a blurred image, as Lucid's blur_input_each_step."""
    if not sigma > 0:
        raise ObjectiveError(f"blur sigma must be positive, got {sigma}")
    return Objective([Term("blur", IMAGE, options={"sigma": float(sigma)})])
