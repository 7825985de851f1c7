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

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfprobe.errors import InvalidTypeError, InvalidValueError, WrongContextError
from tfprobe.models.architecture import (
    IMAGE_SIZE,
    KERNEL_SIZE,
    KINDS,
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
from tfprobe.validation import check_images, int_in_range, is_int

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
    raise InvalidValueError(f"{name} must be a bool (or 0/1), got {value!r}")


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

    Weights are initialised as PyTorch initialises the original's layers
    (uniform in +-1/sqrt(fan_in), kernels and biases), so training from scratch
    starts where the authors' did.  ``dtype="mixed_float16"`` (or
    ``"mixed_bfloat16"``) runs every layer in half precision with float32
    weights.

    Examples
    --------
    >>> model = GainModulatedRNN.from_code("bglt_0111", timesteps=4)
    >>> out = model(images, return_activations=True)
    >>> out.activations["conv1"][3].shape      # (batch, 32, 32, 8)
    >>> out.flows["conv1"]["gain"]["lateral"][0]  # lateral gain into conv1, step 0 -> 1

    Replace a recurrent flow (see :meth:`run_with_flows`): run with the gain
    flow into conv1 from step 1 to 2 taken from other images, the rest as usual.

    >>> other = model(other_images, return_activations=True)
    >>> log_probs = model.run_with_flows(images, {("conv1", 1): {"gain": other.flows["conv1"]["gain"][1]}})
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
        self.n_feats = int_in_range(n_feats, "n_feats", 1)
        self.timesteps = int_in_range(timesteps, "timesteps", 1)
        if kernel_size != KERNEL_SIZE:
            raise InvalidValueError(
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
        # Every layer computes in the model's dtype policy (float32, or e.g. "mixed_float16" given as dtype).
        policy = self.dtype_policy
        self.conv1 = BlockedConv2D(nf, KERNEL_SIZE, block_size=_BLOCK_SIZES["conv1"], name="conv1", dtype=policy)
        self.conv2 = BlockedConv2D(2 * nf, KERNEL_SIZE, block_size=_BLOCK_SIZES["conv2"], name="conv2", dtype=policy)
        self.fc1 = keras.layers.Dense(16 * nf, name="fc1", dtype=policy)
        self.fc2 = keras.layers.Dense(N_CLASSES, name="fc2", dtype=policy)
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
        policy = self.dtype_policy
        channels = self._modulated_shapes[projection.target][-1]
        if projection.operation == "conv":
            block_size = _BLOCK_SIZES[f"lateral_{projection.target}"]
            return BlockedConv2D(
                channels, projection.kernel_size, block_size=block_size, padding="same", name=name, dtype=policy
            )
        if projection.operation == "conv_transpose":
            return SubpixelConv2DTranspose(
                channels, projection.kernel_size, strides=projection.stride, padding="valid", name=name, dtype=policy
            )
        units = int(np.prod(self._modulated_shapes[projection.target]))
        return keras.layers.Dense(units, name=name, dtype=policy)

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
                self._modulated_shapes[projection.source] if projection.is_lateral else source_shapes[projection.source]
            )
            for kind in self.flags.kinds:
                self.projection_layer(projection, kind).build((None, *shape))
        self._initialise_like_torch()
        self.built = True

    def _initialise_like_torch(self) -> None:
        """Draw every kernel and bias as PyTorch initialises the original's layers: uniform in
        +-1/sqrt(fan_in), with PyTorch's fan_in (a transposed convolution's counts its output channels).

        Keras' defaults (Glorot kernels, zero biases) start training elsewhere: from them the network
        learned slower here (12.9% validation accuracy after 1,000 steps of the fast schedule, against
        20.6% from weights PyTorch itself initialised).
        """
        for layer in self._flatten_layers(include_self=False):
            kernel, bias = getattr(layer, "kernel", None), getattr(layer, "bias", None)
            if kernel is None:
                continue
            shape = tuple(kernel.shape)
            # Keras kernels: (in, out) for dense, (h, w, in, out) for a convolution and (h, w, out, in) for a
            # transposed one, so shape[-2] times the window is PyTorch's fan_in in every case.
            fan_in = shape[0] if len(shape) == 2 else int(np.prod(shape[:-2])) * shape[-2]
            bound = 1.0 / np.sqrt(fan_in)
            for variable in (kernel, bias):
                if variable is not None:
                    # One initializer per variable: an unseeded Keras initializer draws the same numbers on
                    # every call, which would make each bias a copy of its kernel's first row.
                    draw = keras.initializers.RandomUniform(minval=-bound, maxval=bound)
                    variable.assign(draw(tuple(variable.shape), dtype=variable.dtype))

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

    def _compiled_unroll(self, collect: bool | str) -> Any:
        """The unrolled forward pass as a ``tf.function`` (XLA-compiled unless
        ``jit_compile=False``), made once per model and output kind (``collect``
        as in :meth:`unroll`, or ``"combined"``: without the per-source flows)."""
        cache = self.__dict__.setdefault("_unroll_functions", {})
        if collect not in cache:
            cache[collect] = tf.function(
                lambda images: self._unroll(images, collect=collect),
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
        return self._unroll(images, collect=collect)

    def _unroll(
        self,
        images: tf.Tensor,
        collect: bool | str = False,
        replaced: Mapping[str, tf.Tensor] | None = None,
        resume_step: int | None = None,
        resume_flows: Mapping[str, Mapping[str, tf.Tensor]] | None = None,
        fc1_prefix: tf.Tensor | None = None,
    ) -> Any:
        """The unrolled forward pass, optionally with flows replaced or resumed part-way.

        ``collect="combined"`` records the combined flows but not the per-source ones.
        ``replaced`` maps ``"<stage>/<kind>/<t>"`` to the combined flow used instead of the computed
        one.  With ``resume_step=t`` the run starts at transition ``t``: ``resume_flows[stage][kind]``
        are all the flows of that transition, ``fc1_prefix`` the fc1 activity of steps ``0..t``
        concatenated, and only steps ``t+1`` on (and transitions after ``t``) are returned.
        """
        images = tf.cast(images, self.compute_dtype)  # float16 / bfloat16 under a mixed-precision policy
        batch = tf.shape(images)[0]
        kinds = self.flags.kinds
        replaced = replaced or {}
        history: dict[str, list[tf.Tensor]] = {stage: [] for stage in STAGES}
        if resume_step is None:
            activity = self._initial_sweep(images)
            # The maps lateral projections read: conv maps before pooling.
            premaps = {"conv1": activity.pop("conv1_map"), "conv2": activity.pop("conv2_map")}
            for stage in STAGES:
                history[stage].append(activity[stage])
            first = 0
        else:
            # The flows of the resumed transition are given, and a modulated step reads nothing
            # else of the previous one, so no earlier activity is needed.
            activity, premaps = {}, {}
            first = resume_step
        flow_history: dict[str, dict[str, dict[str, Any]]] = {}

        for t in range(first, self.timesteps - 1):
            if t == resume_step:
                flows = {
                    target: {kind: ((resume_flows or {}).get(target, {}).get(kind), {}) for kind in kinds}
                    for target in STAGES
                }
            else:
                flows = {
                    target: {
                        kind: self._step_flow(target, kind, t, activity, premaps, batch, replaced, collect is True)
                        for kind in kinds
                    }
                    for target in STAGES
                }
            activity, premaps = self._modulated_step(images, activity, flows)
            for stage in STAGES:
                history[stage].append(activity[stage])
            if collect and t != resume_step:
                for target, by_kind in flows.items():
                    for kind, (combined, sources) in by_kind.items():
                        if combined is None:
                            continue
                        record = flow_history.setdefault(target, {}).setdefault(kind, {"combined": [], "sources": {}})
                        record["combined"].append(combined)
                        for source, value in sources.items() if collect is True else ():
                            record["sources"].setdefault(source, []).append(value)

        fc1_steps = history["fc1"] if fc1_prefix is None else [fc1_prefix, *history["fc1"]]
        readout = tf.concat(fc1_steps, axis=-1) if len(fc1_steps) > 1 else fc1_steps[0]
        probabilities = tf.nn.softmax(self.fc2(readout), axis=-1)
        log_probs = tf.math.log(tf.clip_by_value(probabilities, PROBABILITY_FLOOR, 1.0))
        if not collect:
            return log_probs
        return {"log_probs": log_probs, "readout": readout, "activations": history, "flows": flow_history}

    def _step_flow(
        self,
        target: str,
        kind: str,
        t: int,
        activity: dict[str, tf.Tensor],
        premaps: dict[str, tf.Tensor],
        batch: tf.Tensor,
        replaced: Mapping[str, tf.Tensor],
        want_sources: bool,
    ) -> tuple[tf.Tensor | None, dict[str, tf.Tensor]]:
        """The flow into ``target`` at transition ``t``: computed, or the replacement when there is one
        (with the per-source flows the projections compute, for the record, only when they are wanted)."""
        replacement = replaced.get(f"{target}/{kind}/{t}")
        if replacement is None:
            return self._flows_into(target, kind, activity, premaps, batch)
        sources = self._flows_into(target, kind, activity, premaps, batch)[1] if want_sources else {}
        return replacement, sources

    # ------------------------------------------------------------------ replaced flows
    def run_with_flows(
        self,
        images: Any,
        replacements: Mapping[tuple[str, int], Mapping[str, Any]],
        *,
        return_activations: bool = False,
        start: RNNOutputs | None = None,
    ) -> Any:
        """Run the network with chosen recurrent flows replaced by given ones.

        Parameters
        ----------
        images : array-like, (batch, 100, 100, 1)
            Float images, channels-last.
        replacements : mapping (stage, step) -> mapping kind -> array
            ``{("conv1", 1): {"gain": g}}`` makes the network use ``g`` where it would use the combined
            gain flow into conv1 from time step 1 to 2 (``out.flows["conv1"]["gain"][1]`` of a normal run),
            so ``g`` modulates conv1 at time step 2.  ``step`` runs from 0 to ``timesteps - 2``; each array
            has the combined flow's shape ``(batch, *modulated shape)``: ``(batch, 100, 100, 1)`` for the
            input, ``(batch, 96, 96, n_feats)`` for conv1, ``(batch, 28, 28, 2 * n_feats)`` for conv2,
            ``(batch, 16 * n_feats)`` for fc1.  Every flow not listed is computed as usual (from the
            activity the replacements have changed).  An empty mapping runs the network normally.
        return_activations : bool
            Return an :class:`RNNOutputs` instead of the log-probabilities.  At a replaced
            (stage, step) its combined flow is the replacement and its per-source flows are what the
            projections computed there (which the replacement overrode).
        start : RNNOutputs, optional
            The outputs of ``model(images, return_activations=True)`` for the same images.  The run then
            starts at the first replaced step, reading the flows of that step that are not replaced and
            the earlier fc1 activity from ``start``, instead of recomputing the steps before it (which a
            replacement cannot change): much faster when many replacements are tried on the same
            images.  The combined flows are all it needs (per-source flows too with
            ``return_activations=True``).

        Returns
        -------
        tensor (batch, 20) or RNNOutputs
            The log-probabilities, or everything the run computed.

        Raises
        ------
        ValueError
            For an unknown stage, a stage no active projection reaches, a kind that is unknown or switched
            off, a step out of range, a flow of the wrong shape, dtype or batch size or with NaN/inf
            values, or a ``start`` that does not belong to these images and this model.

        Notes
        -----
        Compiled like the forward pass (XLA unless ``jit_compile=False``), once per replaced
        (stage, step, kind) set, or, with ``start``, once per starting step and set of later
        replacements; the batch size can change without recompiling.  Runs eagerly (not inside a
        ``tf.function``).

        Examples
        --------
        >>> out = model(images, return_activations=True)
        >>> shuffled = tf.random.shuffle(out.flows["fc1"]["gain"][0])      # the flows of other images
        >>> log_probs = model.run_with_flows(images, {("fc1", 0): {"gain": shuffled}}, start=out)
        """
        if not tf.executing_eagerly():
            raise WrongContextError("run_with_flows compiles itself and runs eagerly: call it outside a tf.function")
        check_images(images, (IMAGE_SIZE, IMAGE_SIZE, 1), what=f"{type(self).__name__} input")
        images = tf.convert_to_tensor(images, dtype=self.compute_dtype)
        batch = int(images.shape[0])
        replaced = self._check_replacements(replacements, batch)
        if not replaced:
            return self(images, return_activations=return_activations)
        collect = bool(return_activations)
        if start is None:
            run = self._compiled_replaced(collect, tuple(replaced), None)
            outputs = run(images, replaced)
            return RNNOutputs.from_nested(outputs, self.flags, self.timesteps) if collect else outputs
        resume_step = min(int(key.rsplit("/", 1)[1]) for key in replaced)
        self._check_start(start, images, resume_step, collect)
        resume_flows: dict[str, dict[str, tf.Tensor]] = {}
        for stage in STAGES:
            for kind in self.flags.kinds:
                flow = start.flows[stage][kind]
                if flow is not None:
                    value = replaced.pop(f"{stage}/{kind}/{resume_step}", None)
                    resume_flows.setdefault(stage, {})[kind] = (
                        value if value is not None else tf.convert_to_tensor(flow[resume_step], self.compute_dtype)
                    )
        fc1 = [tf.convert_to_tensor(a, self.compute_dtype) for a in start.activations["fc1"][: resume_step + 1]]
        fc1_prefix = tf.concat(fc1, axis=-1) if len(fc1) > 1 else fc1[0]
        run = self._compiled_replaced(collect, tuple(replaced), resume_step)
        outputs = run(images, replaced, resume_flows, fc1_prefix)
        if not collect:
            return outputs
        return self._join_outputs(start, outputs, resume_step, resume_flows)

    def _compiled_replaced(self, collect: bool, keys: tuple[str, ...], resume_step: int | None) -> Any:
        """The forward pass with the flows named by ``keys`` replaced (and resumed at ``resume_step``), as a
        ``tf.function`` made once per model and structure."""
        cache = self.__dict__.setdefault("_replaced_functions", {})
        key = (collect, tuple(sorted(keys)), resume_step)
        if key not in cache:
            if resume_step is None:

                def run(images: tf.Tensor, replaced: dict[str, tf.Tensor]) -> Any:
                    return self._unroll(images, collect=collect, replaced=replaced)

            else:

                def run(
                    images: tf.Tensor,
                    replaced: dict[str, tf.Tensor],
                    resume_flows: dict[str, dict[str, tf.Tensor]],
                    fc1_prefix: tf.Tensor,
                ) -> Any:
                    return self._unroll(
                        images,
                        collect=collect,
                        replaced=replaced,
                        resume_step=resume_step,
                        resume_flows=resume_flows,
                        fc1_prefix=fc1_prefix,
                    )

            # No AutoGraph: the unrolled loop is Python over fixed steps, and AutoGraph cannot read these closures.
            cache[key] = tf.function(run, jit_compile=self.unroll_jit_compile, reduce_retracing=True, autograph=False)
        return cache[key]

    def flow_stages(self) -> tuple[str, ...]:
        """The stages that receive a recurrent flow under this model's flags (in ``STAGES`` order)."""
        return tuple(stage for stage in STAGES if active_projections(self.flags, stage))

    def _check_replacements(self, replacements: Any, batch: int) -> dict[str, tf.Tensor]:
        """The replacement flows as float tensors keyed ``"<stage>/<kind>/<step>"``, or a clear error."""
        if not isinstance(replacements, Mapping):
            raise InvalidTypeError(
                "replacements must be a mapping (stage, step) -> {kind: flow}, e.g. "
                f"{{('conv1', 0): {{'gain': flow}}}}; got {type(replacements).__name__}"
            )
        flowing = self.flow_stages()
        last = self.timesteps - 2
        replaced: dict[str, tf.Tensor] = {}
        for key, by_kind in replacements.items():
            if not isinstance(key, tuple) or len(key) != 2:
                raise InvalidValueError(
                    f"replacement keys must be (stage, step) pairs such as ('conv1', 0); got {key!r}"
                )
            stage, step = key
            if stage not in STAGES:
                raise InvalidValueError(f"unknown stage {stage!r} in replacements: the stages are {', '.join(STAGES)}")
            if stage not in flowing:
                raise InvalidValueError(
                    f"no recurrent flow reaches {stage!r} in a {self.flags.code} model; the stages with "
                    f"incoming flows are {', '.join(flowing) or 'none'}"
                )
            if not is_int(step) or not 0 <= step <= last:
                allowed = f"an int from 0 to {last}" if last >= 0 else "impossible (no transitions)"
                raise InvalidValueError(
                    f"step of replacement {key!r} must be {allowed}: step t is the flow from time step t to "
                    f"t + 1 and this model has {self.timesteps} time step(s); got {step!r}"
                )
            if not isinstance(by_kind, Mapping) or not by_kind:
                raise InvalidValueError(
                    f"replacements[{key!r}] must be a non-empty mapping kind -> flow such as {{'gain': flow}}; "
                    f"got {by_kind!r}"
                )
            for kind, value in by_kind.items():
                if kind not in KINDS:
                    raise InvalidValueError(f"unknown kind {kind!r} in replacements[{key!r}]: the kinds are bias, gain")
                if kind not in self.flags.kinds:
                    raise InvalidValueError(
                        f"the {kind} flow is switched off in a {self.flags.code} model (its kinds: "
                        f"{', '.join(self.flags.kinds) or 'none'}); replacements[{key!r}] cannot replace it"
                    )
                name = f"replacements[{key!r}][{kind!r}]"
                replaced[f"{stage}/{kind}/{int(step)}"] = self._check_flow(
                    value, (batch, *self._modulated_shapes[stage]), name
                )
        return replaced

    def _check_flow(self, value: Any, expected: tuple[int, ...], name: str) -> tf.Tensor:
        array = value if tf.is_tensor(value) else np.asarray(value)
        shape = tuple(int(d) for d in array.shape)
        if shape != expected:
            if shape[1:] == expected[1:]:
                raise InvalidValueError(f"{name} holds {shape[0]} examples but the images {expected[0]}")
            raise InvalidValueError(f"{name}: expected shape {expected} (batch, *modulated map), got {shape}")
        dtype = np.dtype(array.dtype.as_numpy_dtype if tf.is_tensor(array) else array.dtype)
        if not np.issubdtype(dtype, np.floating):
            raise InvalidValueError(f"{name}: expected floating-point values, got dtype {dtype}")
        tensor = tf.convert_to_tensor(array, dtype=self.compute_dtype)
        if tf.executing_eagerly() and not bool(tf.reduce_all(tf.math.is_finite(tensor))):
            raise InvalidValueError(f"{name}: expected finite values, got NaN or inf")
        return tensor

    def _check_start(self, start: Any, images: tf.Tensor, resume_step: int, collect: bool) -> None:
        """Refuse a ``start`` that is not this model's outputs for these images."""
        if not isinstance(start, RNNOutputs):
            raise InvalidTypeError(
                f"start must be the RNNOutputs of model(images, return_activations=True), got {type(start).__name__}"
            )
        steps = len(start.activations.get("fc1", ()))
        if steps != self.timesteps:
            raise InvalidValueError(f"start holds {steps} time steps but this model runs {self.timesteps}")
        for stage in self.flow_stages():
            for kind in self.flags.kinds:
                flow = (start.flows.get(stage) or {}).get(kind)
                if flow is None or len(flow) != self.timesteps - 1:
                    raise InvalidValueError(
                        f"start lacks the combined {kind} flow into {stage} (of every transition); pass the outputs "
                        f"of this {self.flags.code} model: model(images, return_activations=True)"
                    )
                if collect and any(len(values) <= resume_step for values in flow.sources.values()):
                    raise InvalidValueError("start lacks per-source flows, which return_activations=True needs")
        first_input = np.asarray(start.activations["input"][0])
        batch = int(images.shape[0])
        if first_input.shape[0] != batch:
            raise InvalidValueError(f"start holds {first_input.shape[0]} examples but the images {batch}")
        clamped = np.clip(np.asarray(images), 0.0, 1.0)
        if not np.allclose(first_input, clamped, rtol=0.0, atol=1e-5):
            raise InvalidValueError(
                "start was computed from other images: its input activity at step 0 differs from them"
            )

    def _join_outputs(
        self,
        start: RNNOutputs,
        later: dict[str, Any],
        resume_step: int,
        resume_flows: dict[str, dict[str, tf.Tensor]],
    ) -> RNNOutputs:
        """An RNNOutputs of a resumed run: ``start`` up to ``resume_step``, the run's own outputs after."""
        t = resume_step

        def tensors(values: Any) -> list[tf.Tensor]:
            return [tf.convert_to_tensor(v, self.compute_dtype) for v in values]

        activations = {
            stage: tensors(start.activations[stage][: t + 1]) + list(later["activations"][stage]) for stage in STAGES
        }
        flows: dict[str, dict[str, Any]] = {}
        for stage, by_kind in resume_flows.items():
            for kind, value in by_kind.items():
                known = start.flows[stage][kind]
                record = later["flows"].get(stage, {}).get(kind, {"combined": [], "sources": {}})
                flows.setdefault(stage, {})[kind] = {
                    "combined": [*tensors(known.combined[:t]), value, *record["combined"]],
                    "sources": {
                        source: tensors(values[: t + 1]) + list(record["sources"].get(source, []))
                        for source, values in known.sources.items()
                    },
                }
        nested = {"log_probs": later["log_probs"], "readout": later["readout"], "activations": activations}
        return RNNOutputs.from_nested({**nested, "flows": flows}, self.flags, self.timesteps)

    def combined_outputs(self, images: Any) -> RNNOutputs:
        """A normal run's outputs with the combined flows only (no per-source ones): lighter than
        ``model(images, return_activations=True)``, and all that :meth:`run_with_flows` needs as ``start``
        to return log-probabilities."""
        check_images(images, (IMAGE_SIZE, IMAGE_SIZE, 1), what=f"{type(self).__name__} input")
        nested = self._compiled_unroll("combined")(tf.convert_to_tensor(images, dtype=self.compute_dtype))
        return RNNOutputs.from_nested(nested, self.flags, self.timesteps)

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
