"""The contrast sensitivity function (CSF) of a 2AFC linear probe, and the whole experiment over layers.

At each spatial frequency a bisection staircase (:func:`bisection_staircase`) finds the contrast at
which the probe picks the grating over a uniform gray image 75% of the time; sensitivity is 1 /
threshold.  A trial shows a Gaussian-windowed sinusoidal grating (:func:`sinusoidal_gratings`) at one
of 13 orientations from 0 to pi in one interval and gray (0% contrast) in the other.  The linear-probe
lab always put the grating second; here every orientation is shown in both intervals (26 trials per
tested contrast), so a read-out biased towards one interval does not pass for sensitivity.

It is fast because nothing is computed twice: the gray image's features once for the whole experiment,
each grating's once for both of its trials, and all frequencies still searching are tested in one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfprobe.datasets.gratings import csf_frequencies, grating_orientations, sinusoidal_gratings
from tfprobe.errors import InvalidTypeError, InvalidValueError
from tfprobe.psychophysics.linear_probe import TwoAFCProbe, compiled
from tfprobe.psychophysics.staircase import bisection_staircase
from tfprobe.results.csf import ContrastSensitivity

__all__ = ["ContrastSensitivity", "csf_by_layer", "measure_csf"]


def measure_csf(
    probe: TwoAFCProbe,
    frequencies: Sequence[float] | np.ndarray | None = None,
    *,
    n_orientations: int = 13,
    target: float = 0.75,
    max_iterations: int = 20,
    tolerance: float = 0.01,
    batch_size: int = 32,
    label: str = "",
) -> ContrastSensitivity:
    """The probe's contrast sensitivity at each spatial frequency.

    Parameters
    ----------
    probe : TwoAFCProbe
        A trained probe; gratings are made at its input size (square inputs).
    frequencies : sequence of float, optional
        Cycles per image (default: the lab's, every divisor of the size up to size / 2); each at most the
        Nyquist limit of size / 2.
    n_orientations : int
        Orientations from 0 to pi (the lab's 13).
    target, max_iterations, tolerance
        The staircase's (see :func:`bisection_staircase`).
    batch_size : int
        Images per backbone run.
    label : str
        Stored with the result (e.g. the layer's name).

    Returns
    -------
    ContrastSensitivity
    """
    if not isinstance(probe, TwoAFCProbe):
        raise InvalidTypeError(f"probe must be a TwoAFCProbe, got {type(probe).__name__}")
    height, width = probe.input_size
    if height != width:
        raise InvalidValueError(f"the CSF uses square images; the probe takes {height} x {width}")
    size = int(width)
    frequencies = csf_frequencies(size) if frequencies is None else np.asarray(frequencies, dtype=np.float64)
    if frequencies.ndim != 1 or frequencies.size == 0:
        raise InvalidValueError(f"frequencies must be a non-empty 1-D sequence, got {frequencies!r}")
    orientations = grating_orientations(n_orientations)
    sinusoidal_gratings(size, frequencies, 0.0, 0.0)  # validates every frequency (Nyquist) before any work
    features, read_out = compiled(probe, "features"), compiled(probe, "read_out")
    gray = features(tf.constant(np.full((1, size, size, 3), 0.5, np.float32)))

    def accuracy_of(contrasts: np.ndarray, conditions: np.ndarray) -> np.ndarray:
        trials = len(orientations)
        images = sinusoidal_gratings(
            size,
            np.repeat(frequencies[conditions], trials),
            np.tile(orientations, len(conditions)),
            np.repeat(contrasts, trials),
            channels=3,
        )
        grating = tf.concat(
            [features(tf.constant(images[s : s + batch_size])) for s in range(0, len(images), batch_size)], 0
        )
        background = tf.repeat(gray, len(images), axis=0)
        # The grating second (answer 1), then first (answer 0).
        second = tf.argmax(read_out(background, grating), axis=-1) == 1
        first = tf.argmax(read_out(grating, background), axis=-1) == 0
        correct = np.asarray(tf.cast(second, tf.float32) + tf.cast(first, tf.float32)).reshape(len(conditions), trials)
        return correct.sum(axis=1) / (2 * trials)

    staircase = bisection_staircase(
        accuracy_of, len(frequencies), target=target, max_iterations=max_iterations, tolerance=tolerance
    )
    return ContrastSensitivity(
        frequencies=frequencies,
        thresholds=staircase.thresholds,
        staircase=staircase,
        size=size,
        n_orientations=len(orientations),
        label=label,
    )


def csf_by_layer(
    model: keras.Model,
    layers: Sequence[str],
    *,
    size: int = 224,
    train_pairs: Any = None,
    validation_pairs: Any = None,
    epochs: int = 10,
    pooling: str | int | None = None,
    preprocess: str = "auto",
    frequencies: Sequence[float] | None = None,
    n_orientations: int = 13,
    max_iterations: int = 20,
    seed: int = 0,
    verbose: int | str = "auto",
) -> dict[str, tuple[keras.callbacks.History, ContrastSensitivity]]:
    """The whole experiment for each layer: cut the backbone there, train a probe, measure its CSF.

    Parameters
    ----------
    model : keras.Model
        The backbone network (e.g. ``tfprobe.models.load_model("resnet50", include_top=False)``).
    layers : sequence of str
        Layers to probe, e.g. ``["conv2_block3_out", "conv3_block4_out", "conv4_block6_out"]``.
    size : int
        Image side.
    train_pairs, validation_pairs : ContrastPairs or arrays, optional
        Default: ``ContrastPairs(1000, size, seed=seed)`` and no validation.
    epochs, pooling, preprocess
        As for :func:`train_probe`, :class:`TwoAFCProbe`, :func:`frozen_backbone`.
    frequencies, n_orientations, max_iterations
        As for :func:`measure_csf`.
    seed : int

    Returns
    -------
    dict
        layer -> (training History, ContrastSensitivity).
    """
    from tfprobe.datasets.shapes import ContrastPairs
    from tfprobe.psychophysics.backbone import frozen_backbone
    from tfprobe.psychophysics.linear_probe import train_probe

    layers = [layers] if isinstance(layers, str) else list(layers)
    if not layers:
        raise InvalidValueError("give at least one layer to probe")
    # Cut every layer first, so a bad name or size fails before any training.
    backbones = {layer: frozen_backbone(model, layer, input_size=size, preprocess=preprocess) for layer in layers}
    train_pairs = ContrastPairs(1000, size=size, seed=seed) if train_pairs is None else train_pairs
    results = {}
    for layer, backbone in backbones.items():
        probe = TwoAFCProbe(backbone, pooling=pooling, name=f"probe_{layer}")
        history = train_probe(
            probe, train_pairs, epochs=epochs, validation=validation_pairs, seed=seed, verbose=verbose
        )
        csf = measure_csf(probe, frequencies, n_orientations=n_orientations, max_iterations=max_iterations, label=layer)
        results[layer] = (history, csf)
    return results
