"""A linear probe for two-alternative forced choice (2AFC): a frozen backbone read by one Dense layer.

Both images of a trial go through the same frozen backbone; their features (optionally pooled first)
are flattened, z-scored with the training set's statistics, concatenated and read out by one Dense layer
with two outputs, the logits of "the first image" and "the second image" (for contrast discrimination:
which one has the higher contrast).  Only the Dense layer trains, with SGD and momentum as in the
linear-probe lab (learning rate 0.1, momentum 0.9, weight decay 1e-4, cross-entropy).  The z-scoring
(``standardize=True``, parameter-free, fitted once before training) is not in the lab, whose raw ResNet
features sent its loss to the hundreds: it makes one learning rate fit every layer and backbone, and
leaves the read-out linear in the features.  Because the backbone is frozen, the features of a fixed training set
can be computed once and the read-out trained on them (:func:`train_probe`'s ``cache_features``), which
gives the same read-out as training through the backbone, for a fraction of the time.
"""

from __future__ import annotations

import weakref
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfprobe.errors import InvalidTypeError, InvalidValueError
from tfprobe.progress import ProgressBar
from tfprobe.validation import int_in_range, is_int

__all__ = ["TwoAFCProbe", "compute_features", "train_probe"]

#: Compiled features / read_out of each probe, made once (a new tf.function per call would retrace).
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compiled(probe: TwoAFCProbe, method: str) -> Any:
    """``probe.features`` or ``probe.read_out`` as a ``tf.function``, made once per probe."""
    functions = _COMPILED.setdefault(probe, {})
    if method not in functions:
        functions[method] = tf.function(getattr(probe, method), reduce_retracing=True)
    return functions[method]


@keras.saving.register_keras_serializable(package="tfprobe")
class TwoAFCProbe(keras.Model):
    """A frozen backbone and a linear 2AFC read-out of the features of two images.

    Call it on ``(first, second)``, two batches of images; it returns logits (n, 2).

    Parameters
    ----------
    backbone : keras.Model
        The frozen feature extractor (see :func:`tfprobe.psychophysics.frozen_backbone`): images in
        [0, 1] -> feature maps (n, h, w, c) or vectors.
    pooling : None, "avg" or int
        None: the full feature maps (the lab's setting); "avg": global average pooling; k: average
        pooling to a k x k grid (adaptive pooling, no parameters).
    standardize : bool
        Z-score each feature with the mean and variance of the training features (fitted by
        :func:`train_probe`, or :meth:`fit_standardization`) before the read-out.
    """

    def __init__(
        self, backbone: keras.Model, pooling: str | int | None = None, standardize: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(backbone, keras.Model):
            raise InvalidTypeError(f"backbone must be a keras.Model, got {type(backbone).__name__}")
        if not (pooling is None or pooling == "avg" or (is_int(pooling) and pooling >= 1)):
            raise InvalidValueError(f"pooling must be None, 'avg' or an int >= 1, got {pooling!r}")
        backbone.trainable = False
        self.backbone = backbone
        self.pooling = pooling
        self.input_size = tuple(int(d) for d in backbone.inputs[0].shape[1:3])
        feature_shape = tuple(backbone.outputs[0].shape[1:])
        if pooling is not None and len(feature_shape) != 3:
            raise InvalidValueError(f"pooling needs feature maps (h, w, c); the backbone gives {feature_shape}")
        if pooling is not None and isinstance(pooling, int) and min(feature_shape[:2]) < pooling:
            raise InvalidValueError(
                f"cannot pool {feature_shape[0]} x {feature_shape[1]} feature maps to {pooling} x {pooling}"
            )
        self.feature_size = int(np.prod(self._pooled_shape(feature_shape)))
        self.standardize = bool(standardize)
        self.normalization = keras.layers.Normalization(axis=-1, name="standardize") if standardize else None
        if self.normalization is not None:
            self.normalization.build((None, self.feature_size))
        self.classifier = keras.layers.Dense(2, name="classifier")
        self.classifier.build((None, 2 * self.feature_size))
        self.built = True  # every part is built: the backbone given, the rest from its output shape

    def fit_standardization(self, features: np.ndarray) -> None:
        """Set the z-scoring to the mean and variance of ``features`` (n, feature_size), e.g. the training
        pairs' first and second images together."""
        if self.normalization is None:
            return
        features = np.asarray(features, np.float32)
        if features.ndim != 2 or features.shape[1] != self.feature_size or len(features) < 2:
            raise InvalidValueError(
                f"expected at least 2 feature vectors of {self.feature_size} values, got {features.shape}"
            )
        self.normalization.adapt(features)

    def _pooled_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if self.pooling is None:
            return shape
        if self.pooling == "avg":
            return (shape[-1],)
        return (self.pooling, self.pooling, shape[-1])

    def features(self, images: Any) -> Any:
        """The pooled, flattened features of a batch of images in [0, 1]: (n, feature_size)."""
        maps = self.backbone(images, training=False)
        if self.pooling == "avg":
            maps = keras.ops.mean(maps, axis=(1, 2))
        elif self.pooling is not None:
            rows, columns = (_area_weights(n, self.pooling) for n in maps.shape[1:3])
            maps = keras.ops.einsum("ih,nhwc,jw->nijc", rows, maps, columns)
        return keras.ops.reshape(maps, (-1, self.feature_size))

    def read_out(self, first_features: Any, second_features: Any) -> Any:
        """Logits (n, 2) of two batches of features (as :meth:`features` gives them)."""
        if self.normalization is not None:
            first_features, second_features = self.normalization(first_features), self.normalization(second_features)
        return self.classifier(keras.ops.concatenate([first_features, second_features], axis=-1))

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        first, second = inputs
        return self.read_out(self.features(first), self.features(second))

    def compile(
        self,
        optimizer: Any = None,
        *,
        learning_rate: float = 0.1,
        momentum: float = 0.9,
        weight_decay: float = 1e-4,
        **kwargs: Any,
    ) -> None:
        """:meth:`keras.Model.compile` with the lab's defaults: SGD (learning rate 0.1, momentum 0.9, weight
        decay 1e-4), cross-entropy on the logits and accuracy.  Any argument may be replaced."""
        self._sgd_settings = {"learning_rate": learning_rate, "momentum": momentum, "weight_decay": weight_decay}
        if optimizer is None:
            optimizer = keras.optimizers.SGD(learning_rate, momentum=momentum, weight_decay=weight_decay)
        kwargs.setdefault("loss", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        kwargs.setdefault("metrics", ["accuracy"])
        super().compile(optimizer=optimizer, **kwargs)

    def get_compile_config(self) -> dict[str, Any] | None:
        """The SGD settings of the last :meth:`compile` (a loaded probe is compiled with them again)."""
        return dict(getattr(self, "_sgd_settings", {})) or None

    def compile_from_config(self, config: dict[str, Any]) -> None:
        self.compile(**config)
        self.optimizer.build(self.trainable_variables)  # so the saved momentum is restored

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "pooling": self.pooling,
            "standardize": self.standardize,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TwoAFCProbe:
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


def _area_weights(size: int, cells: int) -> np.ndarray:
    """(cells, size) weights averaging each of ``cells`` equal spans of ``size`` positions, a position
    shared by two spans split by its overlap: adaptive average pooling (and area resizing) as a matrix."""
    edges = np.arange(cells + 1) * size / cells
    starts, ends = np.arange(size), np.arange(1, size + 1)
    overlap = np.clip(np.minimum(ends[None], edges[1:, None]) - np.maximum(starts[None], edges[:-1, None]), 0, None)
    return (overlap / (size / cells)).astype(np.float32)


class _ReadOut(keras.Model):
    """The probe's Dense layer on precomputed feature pairs (what training on cached features fits)."""

    def __init__(self, probe: TwoAFCProbe) -> None:
        super().__init__(name="read_out")
        self.probe = probe

    def build(self, input_shape: Any) -> None:
        self.built = True  # the probe's layers are built already

    def call(self, inputs: Any) -> Any:
        return self.probe.read_out(*inputs)


def _as_arrays(pairs: Any) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray] | None:
    from tfprobe.datasets.shapes import ContrastPairs

    if isinstance(pairs, ContrastPairs):
        return pairs.arrays()
    if isinstance(pairs, tuple) and len(pairs) == 2 and isinstance(pairs[0], (tuple, list)) and len(pairs[0]) == 2:
        (first, second), labels = pairs
        return (np.asarray(first, np.float32), np.asarray(second, np.float32)), np.asarray(labels, np.int64)
    return None


def _check_pairs(probe: TwoAFCProbe, first: np.ndarray, second: np.ndarray, labels: np.ndarray) -> None:
    expected = (*probe.input_size, 3)
    for what, images in (("first", first), ("second", second)):
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise InvalidValueError(
                f"{what} images: expected shape (n, {', '.join(map(str, expected))}), got {images.shape}"
            )
    if not (len(first) == len(second) == len(labels)):
        raise InvalidValueError(
            f"first, second and labels differ in length: {len(first)}, {len(second)}, {len(labels)}"
        )
    if labels.ndim != 1 or not np.isin(labels, (0, 1)).all():
        raise InvalidValueError("labels must be 0 (the first image) or 1 (the second) for each pair")


def compute_features(
    probe: TwoAFCProbe, images: np.ndarray, batch_size: int = 32, *, progress: bool = True
) -> np.ndarray:
    """:meth:`TwoAFCProbe.features` of ``images`` in batches, as one float32 array."""
    run = compiled(probe, "features")
    chunks = []
    bar = ProgressBar(len(images), unit="image", enabled=progress)
    for start in range(0, len(images), batch_size):
        chunks.append(np.asarray(run(tf.constant(images[start : start + batch_size]))))
        bar.update(min(start + batch_size, len(images)))
    bar.close()
    return np.concatenate(chunks) if chunks else np.zeros((0, probe.feature_size), np.float32)


def train_probe(
    probe: TwoAFCProbe,
    pairs: Any,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    learning_rate: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    validation: Any = None,
    cache_features: bool = True,
    standardize_batches: int = 16,
    shuffle: bool = True,
    seed: int = 0,
    verbose: int | str = "auto",
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> keras.callbacks.History:
    """Train the probe's read-out on 2AFC pairs (the backbone stays frozen) and return Keras's History.

    Parameters
    ----------
    probe : TwoAFCProbe
    pairs : ContrastPairs, ((first, second), labels) arrays, or a tf.data.Dataset of ((first, second), label)
        The training pairs (label 1: the second image is the answer).
    epochs, batch_size : int
    learning_rate, momentum, weight_decay : float
        SGD's, as in the lab.
    validation : same kinds as ``pairs``, optional
        Held-out pairs: their accuracy and loss are in the history (``val_accuracy``, ``val_loss``).
    cache_features : bool
        Compute the frozen backbone's features of a fixed set (ContrastPairs or arrays) once and train the
        read-out on them: the same training as through the backbone, ``epochs`` times fewer backbone runs.
        A dataset is always trained through the backbone.
    standardize_batches : int
        With a dataset, the batches whose features fit the probe's z-scoring (arrays use all pairs).
    shuffle : bool
        Shuffle the pairs every epoch (seeded).
    seed : int
        Seeds the read-out's initial weights and the shuffling.
    verbose, callbacks
        As for :meth:`keras.Model.fit` (progress bar by default).

    Returns
    -------
    keras.callbacks.History
        ``history.history`` holds ``loss`` and ``accuracy`` per epoch (and ``val_*`` with validation).
    """
    epochs = int_in_range(epochs, "epochs", 1)
    keras.utils.set_random_seed(seed)
    probe.classifier.kernel.assign(keras.initializers.GlorotUniform(seed=seed)(probe.classifier.kernel.shape))
    probe.classifier.bias.assign(np.zeros(2, np.float32))
    probe.compile(learning_rate=learning_rate, momentum=momentum, weight_decay=weight_decay)
    arrays, validation_arrays = _as_arrays(pairs), None if validation is None else _as_arrays(validation)
    fit = {"epochs": epochs, "verbose": verbose, "callbacks": callbacks}
    if arrays is None:
        if not isinstance(pairs, tf.data.Dataset):
            raise InvalidTypeError(
                "pairs must be a ContrastPairs, ((first, second), labels) arrays or a tf.data.Dataset of "
                f"((first, second), label); got {type(pairs).__name__}"
            )
        if probe.normalization is not None:
            sample = [
                compute_features(probe, images.numpy(), batch_size, progress=False)
                for (a, b), _ in pairs.take(standardize_batches)
                for images in (a, b)
            ]
            probe.fit_standardization(np.concatenate(sample))
        return probe.fit(pairs, validation_data=validation, shuffle=False, **fit)
    (first, second), labels = arrays
    _check_pairs(probe, first, second, labels)
    show = verbose not in (0, "0")
    features = [compute_features(probe, images, batch_size, progress=show) for images in (first, second)]
    probe.fit_standardization(np.concatenate(features))
    if not cache_features:
        val = None if validation_arrays is None else validation_arrays
        return probe.fit([first, second], labels, batch_size=batch_size, shuffle=shuffle, validation_data=val, **fit)
    val = None
    if validation_arrays is not None:
        (v_first, v_second), v_labels = validation_arrays
        _check_pairs(probe, v_first, v_second, v_labels)
        val = ([compute_features(probe, images, batch_size, progress=show) for images in (v_first, v_second)], v_labels)
    read_out = _ReadOut(probe)
    read_out.compile(optimizer=probe.optimizer, loss=probe.loss, metrics=["accuracy"])
    return read_out.fit(features, labels, batch_size=batch_size, shuffle=shuffle, validation_data=val, **fit)
