"""TF2 / Keras 3 port of the recurrent gain-modulated network.

The network of Thorat, Aldegheri & Kietzmann (2021), "Category-orthogonal
object features guide information processing in recurrent neural networks
trained for object categorization" (the authors' PyTorch class
``RNNet_all_fbr``): two convolutional stages and one fully connected stage,
unrolled over time steps, in which lateral and top-down recurrent projections
modulate every stage by an additive bias and/or a multiplicative gain.  The
fully connected activity of all time steps is concatenated and read out into
20 classes (MNIST digits 0-9, Fashion-MNIST items 10-19).

Only the projections whose flags are on are built and run, so a switched-off
branch costs neither memory nor time.  Images are channels-last
``(batch, 100, 100, 1)``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfprobe.models.architecture import (
    IMAGE_SIZE,
    KERNEL_SIZE,
    N_CLASSES,
    PROBABILITY_FLOOR,
    STAGES,
    Projection,
    RecurrenceFlags,
    active_projections,
    modulated_shapes,
    stage_shapes,
)
from tfprobe.models.layers import BlockedConv2D, SubpixelConv2DTranspose, max_pool_non_overlapping
from tfprobe.models.outputs import RNNOutputs
from tfprobe.validation import check_images

__all__ = ["GainModulatedRNN", "NegativeLogLikelihood"]

# Space-to-depth block sizes of the narrow convolutions (see layers.BlockedConv2D):
# conv1 has one input channel, the conv1 lateral projection eight.  Chosen by
# timing forward and backward passes under XLA; 1 means a plain convolution.
_BLOCK_SIZES = {"conv1": 4, "conv2": 1, "lateral_conv1": 2, "lateral_conv2": 1}


def _clamp_unit(x: tf.Tensor) -> tf.Tensor:
    # relu(x) - relu(x - 1), not clip_by_value: identical values, and the same
    # gradient as the original at pixels that sit exactly on 0 or 1.
    return tf.nn.relu(x) - tf.nn.relu(x - 1.0)


def _as_flag(name: str, value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)) or value in (0, 1):
        return bool(value)
    raise ValueError(f"{name} must be a bool (or 0/1), got {value!r}")


def _as_positive_int(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _replicas_on_several_cpus() -> bool:
    """True under a distribution strategy whose replicas are (logical) CPU devices:
    XLA cannot compile a step whose variables live on several CPU devices."""
    strategy = tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync < 2:
        return False
    devices = getattr(strategy.extended, "worker_devices", ())
    return any("CPU" in device.upper() for device in devices)


@keras.saving.register_keras_serializable(package="tfprobe")
class GainModulatedRNN(keras.Model):
    """Recurrent convolutional network with bias/gain modulation (Thorat et al. 2021).

    Parameters
    ----------
    n_feats : int
        Channels of conv1; conv2 has ``2 * n_feats`` and fc1 ``16 * n_feats``.
    kernel_size : int
        Convolution kernel size.  Only 5 is valid: the original architecture's
        feedback geometry (maps of 96, 28 and 9 pixels) is fixed around it.
    timesteps : int
        Number of time steps the network is unrolled for (>= 1).
    bias, gain, lateral, topdown : bool
        The authors' ``bglt`` flags: additive modulation, multiplicative
        modulation, lateral projections, top-down projections.
    jit_compile : bool
        Compile the unrolled forward pass with XLA (the default; several times
        faster on a CPU, and what a GPU wants too).  ``False`` runs the same
        graph without XLA, which compiles faster for one-off calls.
    **kwargs
        Passed to :class:`keras.Model` (``name``, ``dtype``).

    Notes
    -----
    ``model(images)`` returns the log-probabilities ``(batch, 20)``, that is
    ``log(clip(softmax(logits), 1e-10, 1))`` as in the original.
    ``model(images, return_activations=True)`` returns an :class:`RNNOutputs`
    with every intermediate of the original model; see its documentation for
    the indexing of activations and recurrent flows.

    Examples
    --------
    >>> model = GainModulatedRNN.from_code("bglt_0111", timesteps=4)
    >>> out = model(images, return_activations=True)
    >>> out.activations["conv1"][3].shape      # (batch, 32, 32, 8)
    >>> out.flows["conv1"]["gain"]["lateral"][0]  # lateral gain into conv1, step 0 -> 1
    """

    def __init__(
        self,
        n_feats: int = 8,
        kernel_size: int = KERNEL_SIZE,
        timesteps: int = 4,
        bias: bool = False,
        gain: bool = True,
        lateral: bool = True,
        topdown: bool = True,
        jit_compile: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.unroll_jit_compile = _as_flag("jit_compile", jit_compile)
        self.n_feats = _as_positive_int("n_feats", n_feats)
        self.timesteps = _as_positive_int("timesteps", timesteps)
        if kernel_size != KERNEL_SIZE:
            raise ValueError(
                f"kernel_size must be {KERNEL_SIZE}: the original architecture's feedback projections "
                f"are built for the 96x96, 28x28 and 9x9 maps it produces; got {kernel_size!r}"
            )
        self.kernel_size = KERNEL_SIZE
        self.flags = RecurrenceFlags(
            bias=_as_flag("bias", bias),
            gain=_as_flag("gain", gain),
            lateral=_as_flag("lateral", lateral),
            topdown=_as_flag("topdown", topdown),
        )
        nf = self.n_feats
        self.conv1 = BlockedConv2D(nf, KERNEL_SIZE, block_size=_BLOCK_SIZES["conv1"], name="conv1")
        self.conv2 = BlockedConv2D(2 * nf, KERNEL_SIZE, block_size=_BLOCK_SIZES["conv2"], name="conv2")
        self.fc1 = keras.layers.Dense(16 * nf, name="fc1")
        self.fc2 = keras.layers.Dense(N_CLASSES, name="fc2")
        self._modulated_shapes = modulated_shapes(nf)
        self._stage_shapes = stage_shapes(nf)
        # Only the switched-on projections exist: the rest cost nothing.
        self.recurrent_projections: tuple[Projection, ...] = active_projections(self.flags)
        for projection in self.recurrent_projections:
            for kind in self.flags.kinds:
                setattr(self, projection.layer_name(kind), self._make_projection_layer(projection, kind))
        # The input shape is fixed, so the weights can exist from the start (and
        # are created in the current distribution strategy's scope, never inside
        # a compiled function).
        self.build()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_code(cls, code: str, timesteps: int = 4, n_feats: int = 8, **kwargs: Any) -> GainModulatedRNN:
        """Build the network named by the authors' code, e.g. ``"bglt_0111"``."""
        flags = RecurrenceFlags.from_code(code)
        return cls(
            n_feats=n_feats,
            timesteps=timesteps,
            bias=flags.bias,
            gain=flags.gain,
            lateral=flags.lateral,
            topdown=flags.topdown,
            **kwargs,
        )

    @classmethod
    def from_torch_checkpoint(cls, path: str, code: str | None = None, **kwargs: Any) -> GainModulatedRNN:
        """Build a network matching an authors' ``.pth`` checkpoint and load it.

        ``n_feats`` and ``timesteps`` are read from the tensor shapes; the flags
        from ``code`` or else from the authors' file name
        (``rnn_bglt_0111_t_4_num_1.pth``).  Nothing in the file is executed.
        """
        from tfprobe.models.checkpoint_import import build_from_torch_checkpoint

        return build_from_torch_checkpoint(cls, path, code=code, **kwargs)

    def load_torch_checkpoint(self, path: str, check_filename: bool = True) -> GainModulatedRNN:
        """Load the authors' PyTorch ``.pth`` checkpoint into this model, without torch.

        The file is read by a restricted unpickler that rebuilds tensors and
        nothing else; every key and shape is checked against this model's
        arguments.  See :func:`tfprobe.models.checkpoint_import.load_torch_checkpoint`.

        Returns
        -------
        GainModulatedRNN
            ``self``, for chaining.
        """
        from tfprobe.models.checkpoint_import import load_torch_checkpoint

        load_torch_checkpoint(self, path, check_filename=check_filename)
        return self

    def _make_projection_layer(self, projection: Projection, kind: str) -> keras.layers.Layer:
        name = projection.layer_name(kind)
        channels = self._modulated_shapes[projection.target][-1]
        if projection.operation == "conv":
            block_size = _BLOCK_SIZES[f"lateral_{projection.target}"]
            return BlockedConv2D(channels, projection.kernel_size, block_size=block_size, padding="same", name=name)
        if projection.operation == "conv_transpose":
            return SubpixelConv2DTranspose(
                channels, projection.kernel_size, strides=projection.stride, padding="valid", name=name
            )
        units = int(np.prod(self._modulated_shapes[projection.target]))
        return keras.layers.Dense(units, name=name)

    def projection_layer(self, projection: Projection, kind: str) -> keras.layers.Layer:
        """The Keras layer implementing ``projection`` for ``kind`` ("bias"/"gain")."""
        return getattr(self, projection.layer_name(kind))

    def build(self, input_shape: Any = None) -> None:
        if self.built:
            return
        nf = self.n_feats
        self.conv1.build((None, IMAGE_SIZE, IMAGE_SIZE, 1))
        self.conv2.build((None, 32, 32, nf))
        self.fc1.build((None, 9 * 9 * 2 * nf))
        self.fc2.build((None, 16 * nf * self.timesteps))
        source_shapes = {"conv1": (32, 32, nf), "conv2": (9, 9, 2 * nf), "fc1": (16 * nf,)}
        for projection in self.recurrent_projections:
            shape = (
                self._modulated_shapes[projection.source]
                if projection.is_lateral
                else source_shapes[projection.source]
            )
            for kind in self.flags.kinds:
                self.projection_layer(projection, kind).build((None, *shape))
        self.built = True

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            n_feats=self.n_feats,
            kernel_size=self.kernel_size,
            timesteps=self.timesteps,
            bias=self.flags.bias,
            gain=self.flags.gain,
            lateral=self.flags.lateral,
            topdown=self.flags.topdown,
            jit_compile=self.unroll_jit_compile,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GainModulatedRNN:
        return cls(**config)

    # ------------------------------------------------------------------ forward pass
    def __call__(self, inputs: Any, *args: Any, return_activations: bool = False, **kwargs: Any) -> Any:
        check_images(inputs, (IMAGE_SIZE, IMAGE_SIZE, 1), what=f"{type(self).__name__} input")
        outputs = super().__call__(inputs, *args, return_activations=return_activations, **kwargs)
        if return_activations:
            return RNNOutputs.from_nested(outputs, self.flags, self.timesteps)
        return outputs

    def call(self, inputs: tf.Tensor, training: bool | None = None, return_activations: bool = False) -> Any:
        collect = bool(return_activations)
        if tf.executing_eagerly():
            return self._compiled_unroll(collect)(inputs)
        # Inside someone else's tf.function (fit, a user's train step, an
        # export) the unrolled graph is inlined and compiled with the caller:
        # an XLA function nested in an XLA function runs ~100x slower.
        return self.unroll(inputs, collect=collect)

    def compile(self, *args: Any, jit_compile: bool | str = "auto", **kwargs: Any) -> None:
        """:meth:`keras.Model.compile`, with ``jit_compile="auto"`` meaning this
        model's own ``jit_compile`` setting (Keras' "auto" turns XLA off on
        CPU-only machines, where it makes this network's training ~1.5x faster),
        except for replicas on several CPU devices, which XLA cannot span."""
        if jit_compile == "auto":
            jit_compile = self.unroll_jit_compile and not _replicas_on_several_cpus()
        super().compile(*args, jit_compile=jit_compile, **kwargs)

    def _compiled_unroll(self, collect: bool) -> Any:
        """The unrolled forward pass as a ``tf.function`` (XLA-compiled unless
        ``jit_compile=False``), made once per model and output kind."""
        cache = self.__dict__.setdefault("_unroll_functions", {})
        if collect not in cache:
            cache[collect] = tf.function(
                lambda images: self.unroll(images, collect=collect),
                jit_compile=self.unroll_jit_compile,
                reduce_retracing=True,
            )
        return cache[collect]

    def compute_output_shape(self, input_shape: Any) -> tuple[int | None, int]:
        return (input_shape[0], N_CLASSES)

    def unroll(self, images: tf.Tensor, collect: bool = False) -> Any:
        """Run the network over its time steps (traced, not compiled; see ``call``).

        Parameters
        ----------
        images : tf.Tensor
            ``(batch, 100, 100, 1)`` float images.
        collect : bool
            Return every intermediate as a nested dict (the layout that
            :meth:`RNNOutputs.from_nested` reads) instead of the log-probabilities.
        """
        batch = tf.shape(images)[0]
        kinds = self.flags.kinds

        activity = self._initial_sweep(images)
        # The maps lateral projections read: conv maps before pooling.
        premaps = {"conv1": activity.pop("conv1_map"), "conv2": activity.pop("conv2_map")}
        history: dict[str, list[tf.Tensor]] = {stage: [activity[stage]] for stage in STAGES}
        flow_history: dict[str, dict[str, dict[str, Any]]] = {}

        for _ in range(self.timesteps - 1):
            flows = {
                target: {kind: self._flows_into(target, kind, activity, premaps, batch) for kind in kinds}
                for target in STAGES
            }
            activity, premaps = self._modulated_step(images, activity, flows)
            for stage in STAGES:
                history[stage].append(activity[stage])
            if collect:
                for target, by_kind in flows.items():
                    for kind, (combined, sources) in by_kind.items():
                        if combined is None:
                            continue
                        record = flow_history.setdefault(target, {}).setdefault(
                            kind, {"combined": [], "sources": {}}
                        )
                        record["combined"].append(combined)
                        for source, value in sources.items():
                            record["sources"].setdefault(source, []).append(value)

        readout = tf.concat(history["fc1"], axis=-1) if self.timesteps > 1 else history["fc1"][0]
        probabilities = tf.nn.softmax(self.fc2(readout), axis=-1)
        log_probs = tf.math.log(tf.clip_by_value(probabilities, PROBABILITY_FLOOR, 1.0))
        if not collect:
            return log_probs
        return {"log_probs": log_probs, "readout": readout, "activations": history, "flows": flow_history}

    def _initial_sweep(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        # The feed-forward pass of time step 0.
        x = _clamp_unit(images)
        conv1_map = tf.nn.relu(self.conv1(x))
        conv1 = max_pool_non_overlapping(conv1_map)
        conv2_map = tf.nn.relu(self.conv2(conv1))
        conv2 = max_pool_non_overlapping(conv2_map)
        fc1 = tf.nn.relu(self.fc1(self._flatten(conv2)))
        return {"input": x, "conv1": conv1, "conv2": conv2, "fc1": fc1, "conv1_map": conv1_map, "conv2_map": conv2_map}

    @staticmethod
    def _flatten(x: tf.Tensor) -> tf.Tensor:
        return tf.reshape(x, (tf.shape(x)[0], -1))

    def _flows_into(
        self,
        target: str,
        kind: str,
        activity: dict[str, tf.Tensor],
        premaps: dict[str, tf.Tensor],
        batch: tf.Tensor,
    ) -> tuple[tf.Tensor | None, dict[str, tf.Tensor]]:
        """Each active source's flow into ``target`` for ``kind``, and their sum."""
        sources: dict[str, tf.Tensor] = {}
        for projection in self.recurrent_projections:
            if projection.target != target:
                continue
            # Lateral convolutions read the unpooled map; everything else the stage's output.
            if projection.is_lateral and projection.source in premaps:
                source = premaps[projection.source]
            else:
                source = activity[projection.source]
            value = self.projection_layer(projection, kind)(source)
            if projection.operation == "dense" and target != "fc1":
                value = tf.reshape(value, (batch, *self._modulated_shapes[target]))
            sources[projection.source_name] = value
        if not sources:
            return None, sources
        values = list(sources.values())
        combined = values[0]
        for value in values[1:]:
            combined = combined + value
        return combined, sources

    def _modulated_step(
        self,
        images: tf.Tensor,
        activity: dict[str, tf.Tensor],
        flows: dict[str, dict[str, tuple[tf.Tensor | None, dict[str, tf.Tensor]]]],
    ) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]:
        """One recurrent update: every stage, bottom-up, under the flows of step t."""

        def modulate(drive: tf.Tensor, stage: str, rectify: bool) -> tf.Tensor:
            b = flows[stage].get("bias", (None, {}))[0]
            g = flows[stage].get("gain", (None, {}))[0]
            if b is not None:
                drive = drive + b
            if rectify:
                drive = tf.nn.relu(drive)
            if g is not None:
                drive = drive * (1.0 + g)
            return drive

        x = _clamp_unit(modulate(images, "input", rectify=False))
        conv1_map = modulate(self.conv1(x), "conv1", rectify=True)
        conv1 = max_pool_non_overlapping(conv1_map)
        conv2_map = modulate(self.conv2(conv1), "conv2", rectify=True)
        conv2 = max_pool_non_overlapping(conv2_map)
        fc1 = modulate(self.fc1(self._flatten(conv2)), "fc1", rectify=True)
        activity = {"input": x, "conv1": conv1, "conv2": conv2, "fc1": fc1}
        return activity, {"conv1": conv1_map, "conv2": conv2_map}


@keras.saving.register_keras_serializable(package="tfprobe")
class NegativeLogLikelihood(keras.losses.Loss):
    """Mean negative log-likelihood of integer labels under log-probabilities.

    The loss the original network is trained with (PyTorch's ``nll_loss`` on
    its clamped log-softmax output); labels are integers in ``[0, 20)``.
    """

    def __init__(self, name: str = "negative_log_likelihood", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        labels = tf.reshape(tf.cast(y_true, tf.int32), (-1,))
        return -tf.gather(y_pred, labels, axis=-1, batch_dims=1)

