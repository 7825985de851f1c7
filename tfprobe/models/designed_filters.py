"""Designed (not learned) convolution filters: the conv-basics lab's center-surround and Gabor kernels.

The lab (a port of Neuromatch's tutorial on 2D convolution) convolves gratings with a handful of
hand-designed filters to show what a convolutional layer computes before any training:

* **center-surround** (ON and OFF): a narrow peak minus half a wider one, both of the form
  ``exp(-d / (2 s**2))`` of the distance ``d`` from the centre (the exponential of the *distance*, not
  of its square, as in the original), like a difference of Gaussians.  After normalisation the kernel
  sums to zero, so it is silent on uniform regions and responds to luminance edges of *any*
  orientation; the OFF channel is exactly the negative of the ON one.
* **Gabors**: a cosine carrier of wavelength ``wavelength`` along the direction ``(cos t, sin t)``
  under a narrow envelope ``exp(-d / (2 (0.4 sigma)**2))``.  With the default ``phase = pi / 2`` the
  carrier is ``-sin``, an odd function: each Gabor is an oriented edge detector, selective for edges
  (and gratings) of its own orientation.

Every channel is divided by its largest absolute value and then has its mean subtracted, exactly as
in the original.  The kernel grid has ``size`` points from ``-size / 2`` to ``size / 2`` (a spacing of
``size / (size - 1)``), again as in the original.

Orientation convention: tfprobe's (see :mod:`tfprobe.datasets.gratings`): ``x`` runs along the columns,
``y`` along the rows (downwards), and orientation t is the modulation direction ``(cos t, sin t)``, so
a Gabor of orientation t matches a grating of orientation t (t = 0: vertical bars).  The original builds
its grid with ``indexing='ij'`` (its first coordinate runs along the rows), so its Gabor of angle t is
the transpose of ours: its t = 0 (horizontal bars) is our ``pi / 2``, its 45 degrees is our 45 degrees
transposed (our 135 degrees mirrored), and so on.  The center-surround filters are symmetric and identical.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from tfprobe.errors import InvalidTypeError, InvalidValueError
from tfprobe.validation import int_in_range, is_int, is_real

__all__ = ["DesignedConv2D", "designed_filter_names", "designed_filters", "designed_orientations"]

#: Keyword arguments of ``keras.layers.Conv2D`` that a DesignedConv2D fixes itself or does not take.
_FIXED_CONV_ARGUMENTS = frozenset(
    {
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "data_format",
        "dilation_rate",
        "groups",
        "use_bias",
        "kernel_initializer",
        "bias_initializer",
        # not in the config (which holds only the design), so they would be lost in a saved model
        "activation",
        "kernel_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "bias_constraint",
        "lora_rank",
        "lora_alpha",
    }
)


def _check_design(
    n_orientations: int, size: int, center_surround: bool, sigma: float, wavelength: float, phase: float
) -> None:
    """ValueError (naming what was expected and what was given) for a design that makes no filter."""
    if not is_int(size) or size < 3 or size % 2 == 0:
        raise InvalidValueError(
            f"size must be an odd int >= 3 (an odd kernel has a centre pixel, which 'same' padding needs), got {size!r}"
        )
    int_in_range(n_orientations, "n_orientations", 0)
    if not center_surround and n_orientations == 0:
        raise InvalidValueError(
            "no channels: expected center_surround=True or n_orientations >= 1, "
            f"got center_surround={center_surround!r} and n_orientations={n_orientations!r}"
        )
    for label, value in (("sigma", sigma), ("wavelength", wavelength)):
        if not is_real(value):
            raise InvalidValueError(f"{label} must be a number > 0, got {value!r}")
        if not (math.isfinite(value) and value > 0):
            raise InvalidValueError(f"{label} must be finite and > 0, got {value!r}")
    if not is_real(phase) or not math.isfinite(phase):
        raise InvalidValueError(f"phase must be a finite number (radians), got {phase!r}")


def _orientation_degrees(n_orientations: int) -> list[float]:
    """The Gabors' orientations in degrees, ``180 k / n`` (exact, unlike a round trip through radians)."""
    return [180.0 * k / n_orientations for k in range(n_orientations)]


def designed_orientations(n_orientations: int = 4) -> np.ndarray:
    """The Gabors' orientations in radians: ``linspace(0, pi, n + 1)[:-1]`` (0, 45, 90, 135 degrees for 4)."""
    n_orientations = int_in_range(n_orientations, "n_orientations", 0)
    return np.linspace(0.0, np.pi, n_orientations + 1)[:-1]


def designed_filter_names(n_orientations: int = 4, *, center_surround: bool = True) -> list[str]:
    """Channel names of :func:`designed_filters`, in its channel order.

    Parameters
    ----------
    n_orientations : int
        Number of Gabor channels.
    center_surround : bool
        Whether the two center-surround channels come first.

    Returns
    -------
    list of str
        For example ``["center-surround on", "center-surround off", "gabor 0°", "gabor 45°", "gabor 90°",
        "gabor 135°"]``; orientations that are not whole degrees keep their decimals ("gabor 22.5°").
    """
    designed_orientations(n_orientations)  # validates n_orientations
    names = ["center-surround on", "center-surround off"] if center_surround else []
    return names + [f"gabor {degrees:g}°" for degrees in _orientation_degrees(int(n_orientations))]


def designed_filters(
    n_orientations: int = 4,
    size: int = 7,
    *,
    center_surround: bool = True,
    sigma: float = 1.1,
    wavelength: float = 10.0,
    phase: float = np.pi / 2,
    in_channels: int = 1,
) -> np.ndarray:
    """The lab's designed convolution kernel, in Keras layout (height, width, in_channels, out_channels).

    Parameters
    ----------
    n_orientations : int
        Number of Gabor channels, at orientations ``linspace(0, pi, n + 1)[:-1]`` radians (tfprobe's
        convention: 0 = vertical bars, modulated along the columns).  May be 0 if ``center_surround``.
    size : int
        Kernel side, odd and >= 3 (the original's ``K``).
    center_surround : bool
        Put the center-surround ON filter and its negative (OFF) first.
    sigma : float
        Width of the center-surround's narrow peak; the wide one is ``2 sigma``, the Gabors' envelope
        ``0.4 sigma`` (in the kernel grid's units; its spacing is ``size / (size - 1)``).
    wavelength : float
        The Gabors' carrier wavelength (the original's ``lam``), in the same units.
    phase : float
        The Gabors' carrier phase in radians; ``pi / 2`` (default) gives odd, edge-detecting Gabors, ``0``
        even, bar-detecting ones.
    in_channels : int
        Input channels; each gets ``kernel / in_channels``, so the filters apply to the mean over the
        input channels (a gray image repeated in RGB gives the same response as the gray image).

    Returns
    -------
    ndarray
        float32 (size, size, in_channels, C), C = 2 (if ``center_surround``) + ``n_orientations``, in the
        order of :func:`designed_filter_names`.  Each channel has its largest absolute value scaled to 1 and
        then its mean removed (it sums to zero).

    Raises
    ------
    ValueError
        For an even or too small ``size``, a negative ``n_orientations``, no channels at all, a
        non-positive ``sigma`` or ``wavelength``, ``in_channels`` < 1, or parameters that make a channel
        zero everywhere (e.g. a ``sigma`` so small that the Gabor envelope vanishes off-centre with
        ``phase = pi / 2``).
    """
    _check_design(n_orientations, size, center_surround, sigma, wavelength, phase)
    int_in_range(in_channels, "in_channels", 1)
    size = int(size)
    grid = np.linspace(-size / 2, size / 2, size)
    x, y = np.meshgrid(grid, grid, indexing="xy")  # x along the columns, y along the rows (downwards)
    distance = np.hypot(x, y)
    channels = []
    if center_surround:
        narrow = np.exp(-distance / (2 * sigma**2))
        wide = np.exp(-distance / (2 * (2 * sigma) ** 2))
        on = narrow - 0.5 * wide
        channels += [on, -on]
    envelope = np.exp(-distance / (2 * (0.4 * sigma) ** 2))
    for theta in designed_orientations(int(n_orientations)):
        along = x * np.cos(theta) + y * np.sin(theta)
        channels.append(envelope * np.cos(2 * np.pi * along / wavelength + phase))
    filters = np.stack(channels, axis=-1)  # (size, size, C)
    peak = np.abs(filters).max(axis=(0, 1))
    names = designed_filter_names(int(n_orientations), center_surround=center_surround)
    for name, value in zip(names, peak, strict=True):
        if value < 1e-6:
            raise InvalidValueError(
                f"the {name!r} filter is zero everywhere (largest |value| {value:.3g}) with size={size}, "
                f"sigma={sigma!r}, wavelength={wavelength!r}, phase={phase!r}: use a larger sigma or another phase"
            )
    filters = filters / peak
    filters = filters - filters.mean(axis=(0, 1))
    kernel = np.repeat(filters[:, :, None, :] / int(in_channels), int(in_channels), axis=2)
    return kernel.astype(np.float32)


@keras.saving.register_keras_serializable(package="tfprobe")
class DesignedConv2D(keras.layers.Conv2D):
    """A ``Conv2D`` whose kernel is :func:`designed_filters` (frozen by default), with zero bias.

    Stride 1, ``'same'`` padding (zero padding of ``size // 2``: the output has the input's height and
    width), channels last.  The kernel is set when the layer is built, for the input's channel count
    (each input channel gets ``kernel / in_channels``).  Saved in a ``.keras`` file with its model; its
    config holds only the design parameters.

    Parameters
    ----------
    n_orientations, size, center_surround, sigma, wavelength, phase
        See :func:`designed_filters`.
    trainable : bool
        Whether training may change the kernel and bias (default False: frozen).
    name : str, optional
        The layer's name.
    **kwargs
        Other ``keras.layers.Layer`` arguments (``dtype``, ...).  The ``Conv2D`` arguments the design fixes
        (``filters``, ``kernel_size``, ``strides``, ``padding``, ``use_bias``, the initialisers, ...), and
        ``activation``, the regularisers and constraints (the config holds only the design; rectify with a
        separate layer) raise a TypeError.

    Examples
    --------
    >>> layer = DesignedConv2D()
    >>> layer.channel_names[:3]
    ['center-surround on', 'center-surround off', 'gabor 0°']
    """

    def __init__(
        self,
        n_orientations: int = 4,
        size: int = 7,
        *,
        center_surround: bool = True,
        sigma: float = 1.1,
        wavelength: float = 10.0,
        phase: float = np.pi / 2,
        trainable: bool = False,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        fixed = sorted(_FIXED_CONV_ARGUMENTS.intersection(kwargs))
        if fixed:
            raise InvalidTypeError(
                f"DesignedConv2D sets {', '.join(fixed)} itself (its config holds only the design parameters "
                "n_orientations, size, center_surround, sigma, wavelength, phase); do not pass them"
            )
        _check_design(n_orientations, size, center_surround, sigma, wavelength, phase)
        super().__init__(
            filters=len(designed_filter_names(int(n_orientations), center_surround=bool(center_surround))),
            kernel_size=int(size),
            strides=1,
            padding="same",
            data_format="channels_last",
            use_bias=True,
            kernel_initializer="zeros",  # replaced by the design in build()
            bias_initializer="zeros",
            trainable=trainable,
            name=name,
            **kwargs,
        )
        self.n_orientations = int(n_orientations)
        self.size = int(size)
        self.center_surround = bool(center_surround)
        self.sigma = float(sigma)
        self.wavelength = float(wavelength)
        self.phase = float(phase)

    @property
    def channel_names(self) -> list[str]:
        """One name per output channel (see :func:`designed_filter_names`)."""
        return designed_filter_names(self.n_orientations, center_surround=self.center_surround)

    @property
    def orientations(self) -> np.ndarray:
        """The Gabor channels' orientations in radians (tfprobe's convention: 0 = vertical bars)."""
        return designed_orientations(self.n_orientations)

    def designed_kernel(self, in_channels: int = 1) -> np.ndarray:
        """The designed kernel for ``in_channels`` input channels (what :meth:`build` loads)."""
        return designed_filters(
            self.n_orientations,
            self.size,
            center_surround=self.center_surround,
            sigma=self.sigma,
            wavelength=self.wavelength,
            phase=self.phase,
            in_channels=in_channels,
        )

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        in_channels = int(input_shape[-1])
        self._kernel.assign(keras.ops.cast(self.designed_kernel(in_channels), self._kernel.dtype))

    def get_config(self) -> dict[str, Any]:
        # Layer's config (name, trainable, dtype) without Conv2D's keys, which __init__ sets itself.
        config = keras.layers.Layer.get_config(self)
        config.update(
            n_orientations=self.n_orientations,
            size=self.size,
            center_surround=self.center_surround,
            sigma=self.sigma,
            wavelength=self.wavelength,
            phase=self.phase,
        )
        return config
