"""How an image is parameterised while it is optimised: pixels, a 1/f-scaled Fourier spectrum, or MACO's phase.

A parameterisation holds no state: :meth:`Parameterization.initial` draws the starting values of its
variables from a seed, and :meth:`Parameterization.image` maps variables to a batch of images in [0, 1]
(the render loop then maps [0, 1] to the model's input range and applies its preprocessing).

* :class:`Pixels`: the pixels themselves, squashed by a sigmoid (or clipped, or left free as the seed
  notebook does);
* :class:`Fourier`: Lucid's spectrum, scaled by 1/f so every spatial frequency learns at a similar rate,
  with colours decorrelated for RGB (Olah et al., Distill 2017);
* :class:`Maco`: MACO (Fel et al., NeurIPS 2023): only the phase of the spectrum is optimised, its
  magnitude is fixed to that of natural images (estimated from images you give, for example the model's
  training images).
"""

from __future__ import annotations

import abc
import hashlib
from typing import Any

import numpy as np
import tensorflow as tf

from tfprobe.errors import InvalidValueError

__all__ = ["COLOR_CORRELATION", "Fourier", "Maco", "Parameterization", "Pixels"]

#: Square root of ImageNet's colour correlation (Lucid's ``color_correlation_svd_sqrt``), normalised.
_SVD_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
COLOR_CORRELATION = _SVD_SQRT / np.max(np.linalg.norm(_SVD_SQRT, axis=0))


def _recorrelate(images: tf.Tensor) -> tf.Tensor:
    """Decorrelated colour coordinates to RGB (only for 3 channels; other counts pass unchanged)."""
    if images.shape[-1] != 3:
        return images
    return tf.einsum("bhwc,dc->bhwd", images, tf.constant(COLOR_CORRELATION))


def _frequencies(height: int, width: int) -> np.ndarray:
    """|f| of the rfft2d bins of a (height, width) image, in cycles per pixel."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fx * fx + fy * fy)


class Parameterization(abc.ABC):
    """Base class of image parameterisations (subclasses define ``initial`` and ``image``)."""

    name = "parameterization"

    @abc.abstractmethod
    def initial(self, batch: int, height: int, width: int, channels: int, seed: Any) -> list[np.ndarray]:
        """The starting values of the variables for ``batch`` images (``seed``: what numpy's
        ``default_rng`` takes)."""

    @abc.abstractmethod
    def image(self, variables: list[tf.Tensor], height: int, width: int) -> tf.Tensor:
        """Images (batch, height, width, channels) in [0, 1] (or unconstrained, for free pixels)."""

    def project(self, variables: list[tf.Tensor]) -> list[tf.Tensor]:
        """The variables after an update, brought back where they are valid (default: unchanged)."""
        return variables

    def prepare(self, height: int, width: int, channels: int) -> None:
        """Compute, eagerly and once, what :meth:`image` needs for this size (default: nothing)."""
        return None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    def cache_key(self) -> Any:
        """What a compiled loop captures of this parameterisation (its settings; data by identity)."""
        return repr(self.describe())


class Pixels(Parameterization):
    """Pixels, optimised directly.

    Parameters
    ----------
    squash : {"sigmoid", "clip", "none"}
        How values map to [0, 1]: a sigmoid of unconstrained values (default); clipping; or not at all
        (the seed notebook's raw pixels, which may leave the valid range).
    init : {"gray", "noise"}
        Start from mid-gray plus ``std`` Gaussian noise (default), or from the seed notebook's gray image
        plus uniform noise of ``std`` (``128 + U(0, 20)`` on 0-255 pixels is ``std=20/255``).
    std : float
    """

    name = "pixels"

    def __init__(self, squash: str = "sigmoid", init: str = "gray", std: float = 0.01) -> None:
        if squash not in ("sigmoid", "clip", "none"):
            raise InvalidValueError(f"squash must be 'sigmoid', 'clip' or 'none', got {squash!r}")
        if init not in ("gray", "noise"):
            raise InvalidValueError(f"init must be 'gray' or 'noise', got {init!r}")
        self.squash, self.init, self.std = squash, init, float(std)

    def initial(self, batch: int, height: int, width: int, channels: int, seed: Any) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        shape = (batch, height, width, channels)
        if self.init == "noise":  # the seed notebook: gray plus uniform noise, in pixel values
            values = 128 / 255 + rng.random(shape, dtype=np.float32) * self.std
            return [values if self.squash != "sigmoid" else np.log(values / (1 - values)).astype(np.float32)]
        values = rng.normal(0.0, self.std, shape).astype(np.float32)
        return [values if self.squash == "sigmoid" else values + np.float32(0.5)]

    def image(self, variables: list[tf.Tensor], height: int, width: int) -> tf.Tensor:
        (values,) = variables
        if self.squash == "sigmoid":
            return tf.sigmoid(values)
        if self.squash == "clip":
            return tf.clip_by_value(values, 0.0, 1.0)
        return values

    def project(self, variables: list[tf.Tensor]) -> list[tf.Tensor]:
        if self.squash == "clip":  # projected gradient ascent: the pixels stay in the valid range
            return [tf.clip_by_value(v, 0.0, 1.0) for v in variables]
        return variables

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "squash": self.squash, "init": self.init, "std": self.std}


class Fourier(Parameterization):
    """A 2-D Fourier spectrum per channel, scaled by 1 / f^decay, with decorrelated colours for RGB.

    Parameters
    ----------
    decay : float
        Exponent of the 1/f scaling (1: natural images' spectrum; higher: smoother images).
    std : float
        Standard deviation of the initial spectrum.
    decorrelate : bool
        For 3-channel images, optimise in ImageNet's decorrelated colour space.
    contrast : float, optional
        Bound the image's contrast: before the sigmoid, each image is standardised and scaled to this many
        logits per standard deviation, its mean (the brightness) kept within +-``brightness`` logits.
        Unbounded (None), the optimisation can raise a unit's response by raising contrast alone, and its
        images end as near-binary silhouettes (99% of pixels saturated on ``featurevis_quality.py``'s
        networks; 37% with ``contrast=4``, close to Fashion-MNIST's own 52%).
    brightness : float
        With ``contrast``: the bound on the mean, in logits (2: mean pixel values between 0.12 and 0.88).
    """

    name = "fourier"

    def __init__(
        self,
        decay: float = 1.0,
        std: float = 0.01,
        decorrelate: bool = True,
        contrast: float | None = None,
        brightness: float = 2.0,
    ) -> None:
        self.decay, self.std, self.decorrelate = float(decay), float(std), bool(decorrelate)
        if contrast is not None and not contrast > 0:
            raise InvalidValueError(
                f"contrast must be positive (logits per standard deviation) or None, got {contrast!r}"
            )
        if not brightness > 0:
            raise InvalidValueError(f"brightness must be positive (logits), got {brightness!r}")
        self.contrast = None if contrast is None else float(contrast)
        self.brightness = float(brightness)

    def _scale(self, height: int, width: int) -> np.ndarray:
        frequencies = _frequencies(height, width)
        scale = 1.0 / np.maximum(frequencies, 1.0 / max(height, width)) ** self.decay
        return (scale * np.sqrt(height * width)).astype(np.float32)

    def initial(self, batch: int, height: int, width: int, channels: int, seed: Any) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        shape = (2, batch, channels, *_frequencies(height, width).shape)
        return [rng.normal(0.0, self.std, shape).astype(np.float32)]

    def image(self, variables: list[tf.Tensor], height: int, width: int) -> tf.Tensor:
        (spectrum,) = variables
        scale = tf.constant(self._scale(height, width))
        real, imaginary = tf.unstack(spectrum)  # (its gradient is one stack; indexing's is two zero-filled copies)
        complex_spectrum = tf.complex(real * scale, imaginary * scale)
        images = tf.transpose(tf.signal.irfft2d(complex_spectrum, fft_length=[height, width]), (0, 2, 3, 1)) / 4.0
        images = _recorrelate(images) if self.decorrelate else images
        if self.contrast is not None:
            axes = [1, 2, 3]
            mean = tf.reduce_mean(images, axis=axes, keepdims=True)
            spread = tf.math.reduce_std(images, axis=axes, keepdims=True)
            standard = (images - mean) / tf.sqrt(spread * spread + 1e-4)
            images = self.contrast * standard + self.brightness * tf.tanh(mean / self.brightness)
        return tf.sigmoid(images)

    def describe(self) -> dict[str, Any]:
        described = {"name": self.name, "decay": self.decay, "std": self.std, "decorrelate": self.decorrelate}
        if self.contrast is not None:
            described.update(contrast=self.contrast, brightness=self.brightness)
        return described


class Maco(Parameterization):
    """MACO: optimise the phase of the spectrum; its magnitude is that of natural images.

    Parameters
    ----------
    images : array (n, height, width, channels), values in [0, 1]
        Natural images (the model's training images, for example) whose mean Fourier magnitude is used;
        they are resized to the rendered size.
    std : float
        Standard deviation of the initial phase.
    contrast : float
        The image's contrast relative to the natural images': each channel is mapped around the images' mean
        value with ``contrast`` times their standard deviation (through a sigmoid, so it stays in [0, 1]).
        The original maps every image to mid-gray and a standard deviation of one logit, which suits
        ImageNet models but starved networks of dark, high-contrast images such as Fashion-MNIST's (a
        fifth of the default recipe's response on ``benchmarks/featurevis_quality.py``; 2: at par).
    """

    name = "maco"

    def __init__(self, images: Any, std: float = 1.0, contrast: float = 2.0) -> None:
        array = np.asarray(images, dtype=np.float32)
        if array.ndim == 3:
            array = array[..., None]
        if array.ndim != 4 or len(array) == 0:
            raise InvalidValueError(
                f"Maco needs natural images (n, height, width, channels) to estimate the magnitude spectrum from, "
                f"got shape {array.shape}"
            )
        if not np.all(np.isfinite(array)):
            raise InvalidValueError("Maco: the images hold NaN or infinite values")
        if not contrast > 0:
            raise InvalidValueError(f"Maco: contrast must be positive (times the natural images'), got {contrast!r}")
        self.images = array
        # what the compiled loops are cached by: the images' content, so that the same images passed again
        # (a new Maco, a new render call) reuse the loop traced for them
        self._digest = hashlib.blake2b(array.tobytes(), digest_size=16).hexdigest() + repr(array.shape)
        self.std, self.contrast = float(std), float(contrast)
        mean = np.clip(array.mean(axis=(0, 1, 2)), 0.02, 0.98)
        # the sigmoid's slope at the mean turns a pixel standard deviation into logits
        self._offset = np.log(mean / (1.0 - mean)).astype(np.float32)
        self._gain = (self.contrast * array.std(axis=(0, 1, 2)) / (mean * (1.0 - mean))).astype(np.float32)
        self._magnitudes: dict[tuple[int, int], np.ndarray] = {}

    def prepare(self, height: int, width: int, channels: int) -> None:
        if self.images.shape[-1] != channels:
            raise InvalidValueError(
                f"Maco's images have {self.images.shape[-1]} channels but the model takes {channels}: give images "
                "like the model's"
            )
        self.magnitude(height, width)

    def magnitude(self, height: int, width: int) -> np.ndarray:
        """Mean |FFT| of the images at (height, width), (channels, height, width // 2 + 1)."""
        key = (height, width)
        if key not in self._magnitudes:
            total = 0.0
            for start in range(0, len(self.images), 256):
                batch = tf.image.resize(self.images[start : start + 256], (height, width), method="area")
                batch = batch - tf.reduce_mean(batch, axis=[1, 2], keepdims=True)
                total += tf.reduce_sum(tf.abs(tf.signal.rfft2d(tf.transpose(batch, (0, 3, 1, 2)))), axis=0)
            self._magnitudes[key] = (np.asarray(total) / len(self.images)).astype(np.float32)
        return self._magnitudes[key]

    def initial(self, batch: int, height: int, width: int, channels: int, seed: Any) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        shape = (batch, channels, *_frequencies(height, width).shape)
        return [rng.normal(0.0, self.std, shape).astype(np.float32)]

    def image(self, variables: list[tf.Tensor], height: int, width: int) -> tf.Tensor:
        (phase,) = variables
        magnitude = tf.constant(self._magnitudes[(height, width)])  # made by prepare()
        axes = [1, 2, 3]
        phase = (phase - tf.reduce_mean(phase, axis=axes, keepdims=True)) / (
            tf.math.reduce_std(phase, axis=axes, keepdims=True) + 1e-5
        )
        spectrum = tf.complex(tf.cos(phase) * magnitude, tf.sin(phase) * magnitude)
        images = tf.transpose(tf.signal.irfft2d(spectrum, fft_length=[height, width]), (0, 2, 3, 1))
        images = (images - tf.reduce_mean(images, axis=axes, keepdims=True)) / (
            tf.math.reduce_std(images, axis=axes, keepdims=True) + 1e-5
        )
        return tf.sigmoid(tf.constant(self._offset) + tf.constant(self._gain) * _recorrelate(images))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "std": self.std,
            "contrast": self.contrast,
            "magnitude_from": f"{len(self.images)} images",
        }

    def cache_key(self) -> Any:
        return (repr(self.describe()), self._digest)
