"""Activation scores for sets of images: "do birds excite this filter more than plants?"

::

    scores = image_set_scores(model, "block4_conv3", {"birds": "photos/birds", "plants": plant_files},
                              channel=12, reduce="mean")
    scores.summary()                       # {"birds": SetSummary(mean, sem, n), ...}
    scores.compare("birds", "plants")      # Comparison(difference, p_value, ...): a permutation test
    scores.figure()                        # bars (mean +- sem) and every image's score

Each image's score is one channel's activation reduced over space (``reduce``: Probe's global ``"mean"`` /
``"max"`` pooling), or the whole unit's when no channel is given.  Images stream through
:class:`tfprobe.Probe` in batches, read from disk one batch at a time by
:class:`~tfprobe.datasets.image_folder.ImageFolder` (decoded as ``keras.utils.load_img`` does, nearest
resampling by default) and brought to what the model takes by
:func:`tfprobe.models.preprocessing.model_input` (a ``keras.applications`` model loaded by tfprobe: 0-255
pixels through its ``preprocess_input``; other models: [0, 1]).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tfprobe.datasets.image_folder import ImageFolder, Transformed
from tfprobe.errors import (
    InvalidIndexError,
    InvalidKeyError,
    InvalidTypeError,
    InvalidValueError,
    TfprobeError,
)
from tfprobe.models.imagenet import INTERPOLATIONS
from tfprobe.models.preprocessing import ModelInput, model_input
from tfprobe.probe import Probe
from tfprobe.validation import is_int, positive_int

__all__ = ["Comparison", "ImageSetScores", "SetSummary", "image_set_scores", "permutation_test"]

ImageSet = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | np.ndarray
_REDUCERS = {"mean": np.mean, "max": np.max}


@dataclass(frozen=True)
class SetSummary:
    """Scores of one image set: their mean, its standard error (sample sd / sqrt(n); NaN for one image), n."""

    mean: float
    sem: float
    n: int


@dataclass(frozen=True)
class Comparison:
    """A two-sided permutation test of the difference of two sets' mean scores.

    Attributes
    ----------
    a, b : str
        The sets compared.
    difference : float
        Observed ``mean(a) - mean(b)``.
    p_value : float
        Share of relabellings whose absolute difference is at least the observed one: over every
        relabelling when there are at most ``permutations`` of them (``exact``), else ``(k + 1) /
        (permutations + 1)`` over random ones (never 0).
    permutations : int
        Relabellings evaluated.
    exact : bool
        Every relabelling was enumerated.
    """

    a: str
    b: str
    difference: float
    p_value: float
    permutations: int
    exact: bool


def permutation_test(
    a: Any, b: Any, *, permutations: int = 10000, seed: int = 0, names: tuple[str, str] = ("a", "b")
) -> Comparison:
    """Two-sided permutation test of ``mean(a) - mean(b)`` (see :class:`Comparison`).

    Parameters
    ----------
    a, b : array-like of float
        The two samples (at least one value each, finite).
    permutations : int
        Random relabellings, drawn with ``numpy.random.default_rng(seed)``; when the samples have no more
        distinct relabellings than this, all of them are enumerated instead (an exact p-value).
    seed : int
    names : (str, str)
        Names recorded in the result.

    Returns
    -------
    Comparison
    """
    x, y = (np.asarray(v, dtype=np.float64).ravel() for v in (a, b))
    for name, values in zip(names, (x, y), strict=True):
        if values.size == 0 or not np.isfinite(values).all():
            raise InvalidValueError(f"set {name!r} needs at least one finite score, got {values.size} values")
    permutations = positive_int(permutations, "permutations")
    pooled = np.concatenate([x, y])
    n, k = pooled.size, x.size
    observed = x.mean() - y.mean()
    total = pooled.sum()
    tolerance = 1e-9 * max(1.0, float(np.abs(pooled).max()))  # the observed split must count as extreme

    def differences(sums_a: np.ndarray) -> np.ndarray:
        return sums_a / k - (total - sums_a) / (n - k)

    if math.comb(n, k) <= permutations:
        sums = np.array([pooled[list(chosen)].sum() for chosen in combinations(range(n), k)])
        extreme = np.abs(differences(sums)) >= abs(observed) - tolerance
        return Comparison(*names, float(observed), float(extreme.mean()), len(sums), True)
    rng = np.random.default_rng(seed)
    hits, done = 0, 0
    while done < permutations:
        count = min(1000, permutations - done)
        shuffled = rng.permuted(np.broadcast_to(pooled, (count, n)), axis=1)
        hits += int((np.abs(differences(shuffled[:, :k].sum(axis=1))) >= abs(observed) - tolerance).sum())
        done += count
    return Comparison(*names, float(observed), (hits + 1) / (permutations + 1), int(permutations), False)


class ImageSetScores:
    """Per-image scores of one unit (channel) for named image sets; see :func:`image_set_scores`.

    Attributes
    ----------
    unit : str
    channel : int or None
    reduce : str
    scores : dict of str to ndarray
        Set name -> float64 score per image, in the set's order.
    files : dict of str to list of str or None
        Set name -> its image files (None for a set given as an array).
    """

    def __init__(
        self,
        unit: str,
        channel: int | None,
        reduce: str,
        scores: Mapping[str, np.ndarray],
        files: Mapping[str, list[str] | None],
    ) -> None:
        self.unit, self.channel, self.reduce = unit, channel, reduce
        self.scores = {name: np.asarray(values, dtype=np.float64) for name, values in scores.items()}
        self.files = dict(files)

    def __repr__(self) -> str:
        sets = ", ".join(f"{name}: n={len(values)}" for name, values in self.scores.items())
        return f"ImageSetScores({self.label()}; {sets})"

    def label(self) -> str:
        """What was scored, e.g. ``"block4_conv3 channel 12, spatial mean"``."""
        what = self.unit if self.channel is None else f"{self.unit} channel {self.channel}"
        return f"{what}, spatial {self.reduce}"

    def _set(self, name: str) -> np.ndarray:
        if name not in self.scores:
            raise InvalidKeyError(f"no image set {name!r}: expected one of {', '.join(self.scores)}")
        return self.scores[name]

    def summary(self) -> dict[str, SetSummary]:
        """Mean, standard error of the mean and count of each set's scores.

        Returns
        -------
        dict of str to SetSummary
        """
        result = {}
        for name, values in self.scores.items():
            sem = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan
            result[name] = SetSummary(float(values.mean()), sem, len(values))
        return result

    def compare(self, a: str, b: str, permutations: int = 10000, seed: int = 0) -> Comparison:
        """Permutation test of ``mean(a) - mean(b)``, two-sided (see :func:`permutation_test`).

        Parameters
        ----------
        a, b : str
            Set names.
        permutations : int
        seed : int

        Returns
        -------
        Comparison
        """
        return permutation_test(self._set(a), self._set(b), permutations=permutations, seed=seed, names=(a, b))

    def figure(self, *, seed: int = 0) -> Figure:
        """A bar per set (mean, error bar = sem) with each image's score as a point (jittered with ``seed``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        summary = self.summary()
        names = list(self.scores)
        figure = Figure(figsize=(max(3.2, 1.1 * len(names) + 1.4), 3.6), layout="constrained")
        axes = figure.add_subplot()
        positions = np.arange(len(names))
        means = [summary[n].mean for n in names]
        errors = [0.0 if math.isnan(summary[n].sem) else summary[n].sem for n in names]
        axes.bar(positions, means, yerr=errors, capsize=4, color="0.8", edgecolor="0.3", width=0.6, zorder=1)
        rng = np.random.default_rng(seed)
        for position, name in zip(positions, names, strict=True):
            values = self.scores[name]
            jitter = rng.uniform(-0.15, 0.15, len(values))
            axes.scatter(position + jitter, values, s=14, color="C0", alpha=0.8, zorder=2, linewidths=0)
        axes.set_xticks(positions, [f"{n}\n(n={summary[n].n})" for n in names])
        axes.set_ylabel("score")
        axes.axhline(0.0, color="0.3", linewidth=0.8)
        axes.set_title(self.label(), fontsize=10)
        return figure


def _is_files(name: str, source: Any) -> bool:
    """Whether a set is image files (a folder or a list of files) rather than an array; anything else is refused."""
    if isinstance(source, np.ndarray):
        return False
    if isinstance(source, (str, os.PathLike)):
        return True
    if isinstance(source, Sequence) and all(isinstance(f, (str, os.PathLike)) for f in source):
        if not source:
            raise InvalidValueError(f"image set {name!r} is an empty list of files")
        return True
    raise InvalidTypeError(
        f"image set {name!r} must be a folder, a list of image files or an array (n, height, width, "
        f"channels); got {type(source).__name__}"
    )


def _image_files(name: str, source: Any, size: tuple[int, int], interpolation: str) -> ImageFolder:
    """A folder or list of files as 0-255 RGB pixels, every header read (a bad file is named before any work)."""
    try:
        if isinstance(source, (str, os.PathLike)):
            return ImageFolder(source, size, scale=255.0, interpolation=interpolation)
        return ImageFolder.from_files(source, size, scale=255.0, interpolation=interpolation)
    except TfprobeError as error:
        raise type(error)(f"image set {name!r}: {error}") from None


def _array_set(name: str, source: np.ndarray, convert: ModelInput) -> np.ndarray:
    """An array set as model inputs: uint8 pixels, or floats in [0, 1]."""
    if source.ndim != 4 or len(source) == 0:
        raise InvalidValueError(
            f"image set {name!r}: expected an array (n, height, width, channels), got {source.shape}"
        )
    if source.dtype == np.uint8:
        images = source.astype(np.float32) / np.float32(255.0)
    elif np.issubdtype(source.dtype, np.floating):
        low, high = float(np.min(source)), float(np.max(source))
        if low < 0.0 or high > 1.0:
            raise InvalidValueError(
                f"image set {name!r}: expected uint8 pixels or floats in [0, 1], got floats in [{low:g}, {high:g}]"
            )
        images = source.astype(np.float32)
    else:
        raise InvalidValueError(
            f"image set {name!r}: expected uint8 pixels or floats in [0, 1], got dtype {source.dtype}"
        )
    return np.asarray(convert.to_model(images), dtype=np.float32)


def _check_options(reduce: str, batch_size: Any, interpolation: str) -> None:
    if reduce not in _REDUCERS:
        raise InvalidValueError(f"reduce must be 'mean' or 'max', got {reduce!r}")
    positive_int(batch_size, "batch_size")
    if interpolation not in INTERPOLATIONS:
        raise InvalidValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}")


def image_set_scores(
    model_or_probe: Any,
    unit: str,
    sets: Mapping[str, ImageSet],
    *,
    channel: int | None = None,
    reduce: str = "mean",
    size: tuple[int, int] | None = None,
    preprocess: Callable[[Any], Any] | None = None,
    value_range: tuple[float, float] | None = None,
    interpolation: str = "nearest",
    batch_size: int = 32,
) -> ImageSetScores:
    """Score every image of named sets by one unit's (channel's) spatially reduced activation.

    Parameters
    ----------
    model_or_probe : keras.Model or Probe
    unit : str
        One unit (see ``Probe(model).units``).
    sets : mapping of str to folder, list of image files, or array
        Each set: a folder (its image files, sorted by name), a list of image files, or an array
        (n, height, width, channels) of uint8 pixels or floats in [0, 1].
    channel : int, optional
        The channel (filter) scored; None scores the whole unit (``reduce`` over every value).
    reduce : {"mean", "max"}
        Over space (Probe's global pooling), and over channels too when ``channel`` is None.
    size : (height, width), optional
        Size image files are resized to; default the model's input size (required for a model of any
        input size).
    preprocess : callable, optional
        Replaces the model's preprocessing (see :func:`tfprobe.visualize.inputs.model_input`).
    value_range : (low, high), optional
        Pixel range the model takes before preprocessing (default: 0-255 for keras.applications models
        loaded by tfprobe, else [0, 1]).
    interpolation : str
        Resampling of image files (``keras.utils.load_img``'s names; default nearest, as Keras).
    batch_size : int
        Images per forward pass.

    Returns
    -------
    ImageSetScores

    Raises
    ------
    DatasetNotFoundError
        A folder that does not exist or holds no images (named).
    DatasetFileError
        An image file that does not decode (named).
    IndexError
        A channel the unit does not have.
    """
    _check_options(reduce, batch_size, interpolation)
    if not isinstance(sets, Mapping) or not sets:
        raise InvalidValueError("sets must be a non-empty mapping of set name -> folder, list of files or array")
    probe = model_or_probe if isinstance(model_or_probe, Probe) else Probe(model_or_probe)
    names = probe.resolve(unit)
    if len(names) != 1:
        raise InvalidValueError(f"score a single unit: {unit!r} stands for {len(names)}: {names}")
    info = probe.units[names[0]]
    if channel is not None:
        channels = info.shape[-1] if info.shape else 0
        if not is_int(channel) or not 0 <= channel < channels:
            raise InvalidIndexError(
                f"channel {channel!r} out of range for unit {names[0]!r}: it has {channels} channels"
            )
    convert = model_input(probe.model, probe.input_shape, value_range=value_range, preprocess=preprocess)
    kinds = {name: _is_files(name, source) for name, source in sets.items()}
    if size is None and any(kinds.values()):
        if not (convert.height and convert.width):
            raise InvalidValueError(
                "the model takes any image size: give size=(height, width) to resize image files to"
            )
        size = (int(convert.height), int(convert.width))
    # Every set is checked (each file's header read) before any forward pass.
    readers = {name: _image_files(name, sets[name], size, interpolation) for name, files in kinds.items() if files}
    scores = {}
    for name, source in sets.items():
        stimuli = (
            Transformed(readers[name], lambda pixels: convert.to_model(pixels / np.float32(255.0)))
            if name in readers
            else _array_set(name, source, convert)
        )
        values = probe.activations(stimuli, names[0], pool=reduce, batch_size=batch_size, progress=False)[names[0]]
        values = values.reshape(len(values), -1, values.shape[-1]) if values.ndim > 1 else values[:, None, None]
        if channel is not None:
            values = values[..., int(channel)]
        scores[name] = _REDUCERS[reduce](values.reshape(len(values), -1), axis=1)
    listed = {name: [str(p) for p in readers[name].files] if name in readers else None for name in sets}
    return ImageSetScores(names[0], None if channel is None else int(channel), reduce, scores, listed)
