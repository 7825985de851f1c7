"""Rendering: optimise a batch of images for an objective, the whole loop compiled as one ``tf.function``.

:func:`render` resolves the objective's units with :class:`tfprobe.Probe` (so any unit Probe names is a
target, the recurrent network's ``conv1@t3`` included), then runs every step of the optimisation in one
compiled ``tf.while_loop``: parameterised image -> transformations (redrawn each step from the seed) ->
the model's value range and preprocessing -> the units the objective reads (the model is cut there) ->
objective -> gradient -> update.  ``k`` images (``channel(unit, range(k))``) optimise together in one
batch; more than ``batch_size`` go through in batches, with a progress bar.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfprobe.errors import InvalidValueError, OptimizationError
from tfprobe.models.preprocessing import ModelInput, model_input
from tfprobe.progress import ProgressBar
from tfprobe.validation import int_in_range, positive_int
from tfprobe.visualize import recipes
from tfprobe.visualize.objectives import MASK, OUTPUT, Objective, ObjectiveError, channel
from tfprobe.visualize.pooling import fast_max_pool_gradients
from tfprobe.visualize.precision import resolve_precision
from tfprobe.visualize.result import Visualization
from tfprobe.visualize.transform import apply_transforms

__all__ = ["OptimizationError", "render"]

_ADAM = (0.9, 0.999, 1e-8)


def as_objective(target: Objective | str, channels: int | Sequence[int] | None = None) -> Objective:
    """An objective from itself, ``"unit:channel"``, or ``"unit"`` with ``channels``."""
    if isinstance(target, Objective):
        if channels is not None:
            raise ObjectiveError("channels= goes with a unit name; this objective already says what to optimise")
        return target
    if not isinstance(target, str):
        raise ObjectiveError(f"expected an Objective or a unit name such as 'block5_conv2:2', got {target!r}")
    if channels is not None:
        return channel(target, channels)
    unit, _, index = target.rpartition(":")
    if unit and index.isdigit():
        return channel(unit, int(index))
    raise ObjectiveError(
        f"{target!r} names a unit but not what to maximise in it: write '{target}:<channel>', pass channels=, "
        "or build an objective (tfprobe.visualize.channel, neuron, layer, ...)"
    )


#: A Probe per model, and compiled loops per probe, so rendering a model again reuses its graphs.
_PROBES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CHECKED_SIZES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_BFLOAT16_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _probe(model: Any) -> Any:
    from tfprobe.probe import Probe

    if isinstance(model, Probe):
        return model
    if model not in _PROBES:
        _PROBES[model] = Probe(model)
    return _PROBES[model]


def _signature(objective: Objective) -> tuple:
    """What a compiled loop depends on in an objective (its parameter values are inputs, not part of it)."""
    return tuple(
        (t.kind, t.unit, t.weight, tuple(sorted(t.options.items())), tuple(sorted(t.parameters)))
        for t in objective.terms
    )


def _runs_in_bfloat16(model: keras.Model) -> bool:
    """Whether a bfloat16 copy of the model can be made (functional and Sequential models; not the
    recurrent network)."""
    from tfprobe.models.gain_rnn import GainModulatedRNN

    return not isinstance(model, GainModulatedRNN)


#: Image values per step (images x height x width x channels) below which a CPU renders without XLA at all:
#: the XLA-compiled max-pooling gradient (:mod:`tfprobe.visualize.pooling`) saves about 30 ms of each step
#: of 10 VGG16 images of 128 px (491,520 values) against TensorFlow's MaxPoolGrad, and nothing on small
#: images (50 Fashion-MNIST images of 28 px: 13.2 ms per step without it, 14.3 ms with it).
_MIXED_MINIMUM = 100_000


def _on_accelerator() -> bool:
    """Whether TensorFlow has a GPU or TPU.  There every step is XLA-compiled whole; on CPUs the model runs
    in a TensorFlow graph, whose oneDNN convolutions XLA's CPU backend does not match (VGG16's forward and
    input gradient: 1.4x slower in float32 under XLA, 2.6x in bfloat16; benchmarks/featurevis_peers.py)."""
    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def _bfloat16_copy(model: keras.Model) -> keras.Model:
    """The model's architecture with every layer computing in bfloat16, its weights too (the caller sets them)."""
    if not _runs_in_bfloat16(model):
        raise InvalidValueError(
            "precision='bfloat16' runs functional and Sequential Keras models; the recurrent network renders in float32"
        )

    def cast(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.InputLayer):
            return layer.__class__.from_config(layer.get_config())
        return layer.__class__.from_config({**layer.get_config(), "dtype": "bfloat16"})

    return keras.models.clone_model(model, clone_function=cast)  # the caller sets its weights


def _resolver(probe: Any) -> Callable[[str], str]:
    def resolve(name: str) -> str:
        if name == OUTPUT:
            return probe.logits_unit()
        names = probe.resolve(name)
        if len(names) != 1:
            raise ObjectiveError(
                f"{name!r} stands for {len(names)} units ({names[0]}, ...): name one, e.g. {names[-1]!r}"
            )
        return names[0]

    return resolve


def _check_size(spec: ModelInput, size: int | None, forward: Callable, units: tuple[str, ...], checked: set) -> int:
    """The size images are rendered at (the model's own when it has one), refused when the model cannot
    take it."""
    fixed = spec.height if spec.height is not None and spec.height == spec.width else None
    if size is None:
        size = fixed or 128
    size = int_in_range(size, "size", 1, meaning="pixels")
    if spec.height is not None and (size < spec.height or size < (spec.width or 0)):
        raise InvalidValueError(
            f"image size {size} is smaller than the {spec.height}x{spec.width} images the model takes; render at "
            f"{max(spec.height, spec.width or 0)} or more (larger images are resized to the model's input)"
        )
    if spec.height is None and units and (size, units) not in checked:
        try:  # a model of any input size may still need a minimum (its poolings)
            forward(tf.zeros((1, size, size, spec.channels)), units)
            checked.add((size, units))
        except (ValueError, tf.errors.InvalidArgumentError) as error:
            raise InvalidValueError(
                f"image size {size} is smaller than the model accepts ({' '.join(str(error).split())[:200]}); "
                "render larger images"
            ) from None
    return int(size)


@dataclasses.dataclass
class _Compiled:
    """The traced optimisation loop and final evaluation of one objective, recipe, input and size."""

    traced_run: Any  # tf.function
    evaluate: Callable[..., Any]
    mask_pooling: bool

    def run(self, *arguments: Any) -> Any:
        if self.mask_pooling:  # only tracing needs it: the traced graph keeps the mask gradient
            with fast_max_pool_gradients():
                self.traced_run.get_concrete_function(*arguments)
        return self.traced_run(*arguments)


#: Objective terms that read one channel of their unit per image.
_CHANNEL_TERMS = ("channel", "class_logit", "neuron")


def _selection(objective: Objective, probe: Any) -> dict[str, tuple[int, int]]:
    """Units whose layer need only compute the channels the objective asks for, one per image: those read
    by a single per-image channel term (the channel objective the common case), made by a layer the probe
    can compute channel by channel.  Maps each to the position of its term's channel indices among the
    objective's parameters, and to the unit's number of channels."""
    readers: dict[str, list] = {}
    position = 0
    for term in objective.terms:
        keys = sorted(term.parameters)
        readers.setdefault(term.unit, []).append((term, position + keys.index("index") if "index" in keys else None))
        position += len(keys)
    selection = {}
    units = probe.units
    for unit, terms in readers.items():
        if len(terms) != 1 or unit not in units:
            continue
        (term, index), channels = terms[0], units[unit].shape[-1] if units[unit].shape else None
        if term.kind in _CHANNEL_TERMS and term.per_image is not None and index is not None and channels:
            if probe.selectable(unit):
                selection[unit] = (index, channels)
    return selection


def _compile(
    forward: Callable,
    objective: Objective,
    recipe: recipes.Recipe,
    spec: ModelInput,
    size: int,
    compilation: str,
    selection: dict[str, tuple[int, int]],
) -> _Compiled:
    """The traced loop: ``compilation`` "xla" (every step XLA-compiled whole), "mixed" (the loop in a
    TensorFlow graph, only the max-pooling gradients XLA-compiled) or "graph" (no XLA)."""
    parameterization = recipe.parameterization
    transforms = recipe.transforms(size)
    units = objective.units
    resize = spec.height is not None and (spec.height, spec.width) != (size, size)
    beta1, beta2, epsilon = _ADAM
    learning_rate = recipe.learning_rate
    # the seed notebook's 1e-5 is added to the RMS of gradients with respect to model-range pixels; ours are
    # with respect to [0, 1] images, (high - low) times larger
    pixel_epsilon = 1e-5 * (spec.value_range[1] - spec.value_range[0])

    def model_inputs(seen: tf.Tensor) -> tf.Tensor:
        """Images in [0, 1] -> what the model takes (its size, value range and preprocessing)."""
        if resize:
            seen = tf.image.resize(seen, (spec.height, spec.width), method="bilinear")
        return spec.to_model(seen)

    def scores(images: tf.Tensor, inputs: tf.Tensor, parameters: list[tf.Tensor]) -> tf.Tensor:
        parameters = list(parameters)
        select = {}
        for unit, (position, channels) in selection.items():
            count = parameters[position].shape[0]
            if 2 * count <= channels:  # worth it: the layer computes one channel per image instead of all
                select[unit] = tf.cast(parameters[position], tf.int32)
                parameters[position] = tf.range(count, dtype=parameters[position].dtype)  # image i: channel i
        activations = forward(inputs, units, select=select) if units else {}
        return objective.score(activations, images, parameters)

    def transform(images, seed, step, total):
        """What the model takes of the images this step (their transformations, redrawn every step)."""
        progress = tf.cast(step, tf.float32) / tf.maximum(tf.cast(total - 1, tf.float32), 1.0)
        strength = 1.0 - (1.0 - recipe.anneal) * progress  # transformations weaken towards the end
        return model_inputs(apply_transforms(images, transforms, tf.stack([seed, step]), strength))

    def update(step, variables, gradients, first, second, attribution, image_gradient, bad, value):
        """The update rule, the attribution mask and the check for non-finite values."""
        finite = tf.math.is_finite(value)
        for gradient in gradients:
            finite = tf.logical_and(finite, tf.reduce_all(tf.math.is_finite(gradient)))
        updated, new_first, new_second = [], [], []
        count = tf.cast(step + 1, tf.float32)
        for variable, gradient, m, v in zip(variables, gradients, first, second, strict=True):
            if recipe.update == "normalized":
                axes = list(range(variable.shape.rank))
                axes.remove(parameterization_batch_axis)
                rms = tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=axes, keepdims=True))
                change = learning_rate * gradient / (rms + pixel_epsilon)
            else:
                m = beta1 * m + (1 - beta1) * gradient
                v = beta2 * v + (1 - beta2) * tf.square(gradient)
                change = learning_rate * (m / (1 - beta1**count)) / (tf.sqrt(v / (1 - beta2**count)) + epsilon)
            updated.append(variable + change)
            new_first.append(m)
            new_second.append(v)
        updated = parameterization.project(updated)
        attribution = attribution + tf.reduce_sum(tf.abs(image_gradient), axis=-1)
        bad = tf.where(finite, bad, step)
        return step + 1, updated, new_first, new_second, attribution, bad

    def step_fn(step, variables, first, second, attribution, bad, seed, parameters, total):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(variables)
            images = parameterization.image(variables, size, size)
            value = tf.reduce_sum(scores(images, transform(images, seed, step, total), parameters))
        *gradients, image_gradient = tape.gradient(value, [*variables, images])
        return update(step, variables, gradients, first, second, attribution, image_gradient, bad, value)

    parameterization_batch_axis = 1 if parameterization.name == "fourier" else 0

    # The loop over steps is a graph while_loop around the step (XLA-compiled whole on accelerators), which
    # stops at the first non-finite step.  (An XLA while loop ran VGG16's steps 3x slower on CPU.)
    # autograph=False: the loop is written with tf.while_loop and Python loops over Python values only;
    # converting the model's and the transformations' source took 4 of the 6.5 s of a first VGG16 call.
    compiled_step = tf.function(step_fn, jit_compile=compilation == "xla", autograph=False)

    def run(variables, first, second, attribution, start, stop, seed, parameters, total):
        def condition(step, variables, first, second, attribution, bad):
            return tf.logical_and(step < stop, bad < 0)

        def body(step, variables, first, second, attribution, bad):
            return compiled_step(step, variables, first, second, attribution, bad, seed, parameters, total)

        bad = tf.constant(-1, tf.int32)
        # one iteration at a time: the next step's independent operations would compete with this step's
        # convolutions for the cores (on two cores oneDNN's threads then wait for each other)
        loop_variables = (start, variables, first, second, attribution, bad)
        return tf.while_loop(condition, body, loop_variables, parallel_iterations=1)

    def evaluate(variables, parameters):
        images = parameterization.image(variables, size, size)
        return images, scores(images, model_inputs(images), parameters)

    return _Compiled(
        traced_run=tf.function(run, autograph=False),
        evaluate=tf.function(evaluate, autograph=False),
        mask_pooling=compilation != "graph",  # its gradient is XLA-compiled: no XLA, TensorFlow's own
    )


def _display(images: np.ndarray, how: str) -> np.ndarray:
    if how == "standardized":  # the seed notebook's deprocess_image
        axes = (1, 2, 3)
        centred = images - images.mean(axis=axes, keepdims=True)
        images = centred / (images.std(axis=axes, keepdims=True) + 1e-5) * 0.1 + 0.5
    return np.clip(images, 0.0, 1.0).astype(np.float32)


def _labels(objective: Objective, count: int) -> list[str]:
    """What each image shows: "unit:channel" for per-image channel objectives (of a stacked objective: each
    image's own term), else the objective."""
    labels: list[str | None] = [None] * count
    for term in objective.terms:
        if term.per_image is None or "index" not in term.parameters or term.kind not in ("channel", "class_logit"):
            continue
        mask = term.parameters.get(MASK, np.ones(count))
        for row, (index, own) in enumerate(zip(term.parameters["index"], mask, strict=True)):
            if own and labels[row] is None:
                labels[row] = f"{term.unit}:{int(index)}"
    return [label if label is not None else repr(objective) for label in labels]


def render(
    model: Any,
    objective: Objective | str,
    *,
    channels: int | Sequence[int] | None = None,
    recipe: str | recipes.Recipe = "default",
    size: int | None = None,
    steps: int | None = None,
    batch_size: int = 32,
    seed: int = 0,
    precision: str = "float32",
    maco_images: Any = None,
    value_range: tuple[float, float] | None = None,
    preprocess: Callable[[Any], Any] | None = None,
    jit_compile: bool | None = None,
    progress: bool = True,
) -> Visualization:
    """Images that maximise ``objective`` in ``model``.

    Parameters
    ----------
    model : keras.Model or Probe
        Any model :class:`tfprobe.Probe` takes (functional, Sequential, nested applications, the recurrent
        network).
    objective : Objective or str
        An objective, ``"unit:channel"`` (``"block5_conv2:2"``, ``"conv1@t3:4"``), or a unit name with
        ``channels``.
    channels : int or sequence of int, optional
        With a unit name: the channels to visualise, one image each, optimised together.
    recipe : {"default", "naive", "naive-clipped", "maco"} or Recipe
        See :mod:`tfprobe.visualize.recipes`; ``"maco"`` needs ``maco_images``.
    size : int, optional
        Side of the images (default: the model's input size, or 128 for models of any size).
    steps : int, optional
        Optimisation steps (default: the recipe's).
    batch_size : int
        Images optimised together; more go through in batches.
    seed : int
        Seeds the initial images and every step's transformations: the same seed gives the same images.
    precision : {"float32", "bfloat16", "auto"}
        bfloat16 runs the model's layers and weights in bfloat16 (the images, objective and update in float32): for GPUs
        from Ampere on, TPUs, and CPUs with AVX512-BF16 or AMX through oneDNN; elsewhere bfloat16 convolutions are
        emulated and slower than float32.  ``"auto"`` picks bfloat16 only where the hardware runs it natively
        (:mod:`tfprobe.visualize.precision`); the result's settings say which it used and why.
        ``benchmarks/featurevis_peers.py`` and ``featurevis_quality.py`` measure its speed and quality.
    maco_images : array (n, height, width, channels) in [0, 1], optional
        Natural images for the ``maco`` recipe's magnitude spectrum.
    value_range, preprocess : optional
        Override the model's input range and preprocessing (see :func:`tfprobe.models.preprocessing.model_input`).
    jit_compile : bool, optional
        True: compile every step whole with XLA.  False: no XLA (a TensorFlow graph).  Default: on GPUs and
        TPUs every step with XLA; on CPUs the model in a TensorFlow graph (oneDNN's convolutions, faster
        there than XLA's) and, for batches of at least 100,000 image values, the max-pooling gradients
        with XLA (``"mixed"``); falling back, with a warning, to no XLA for a model XLA cannot compile.  The
        settings say which ran (``compilation``).  Either way the whole loop is one traced function, and the same seed
        gives the same images with and without XLA (to float rounding).
    progress : bool
        Show a progress bar over steps and batches.

    Returns
    -------
    Visualization
        Images in [0, 1], the objective each reached (evaluated without transformations), the attribution
        mask, labels, the recipe and settings, and the seed.

    Raises
    ------
    ObjectiveError, UnknownUnitError, IndexError
        An objective that does not fit the model (the closest unit names are suggested; channel indices are
        checked against the unit's channels).
    OptimizationError
        NaN or infinite values appeared (the message names the step).
    """
    started = time.perf_counter()
    probe = _probe(model)
    target = as_objective(objective, channels)
    if target.model is not None and target.model is not probe.model:
        raise ObjectiveError(
            f"the objective is bound to model {getattr(target.model, 'name', '?')!r}, not to "
            f"{probe.model.name!r}: an objective renders on the model its units belong to"
        )
    chosen = recipes.recipe(recipe, maco_images=maco_images)
    if steps is not None:
        chosen = dataclasses.replace(chosen, steps=positive_int(steps, "steps"))
    positive_int(batch_size, "batch_size")
    if jit_compile is not None:
        compilation = "xla" if jit_compile else "graph"
    elif _on_accelerator():
        compilation = "xla"
    else:
        compilation = "mixed"  # (made "graph" below for small images, once their size is known)
    precision, precision_reason = resolve_precision(
        precision, jit_compile=compilation == "xla", supported=_runs_in_bfloat16(probe.model)
    )
    spec = model_input(probe.model, probe.input_shape, value_range=value_range, preprocess=preprocess)
    bound = target.bind(_resolver(probe), lambda name: probe.units[name])
    runner = probe  # the probe whose forward pass renders: the model's, or its bfloat16 copy's
    if precision == "bfloat16":
        if probe.model not in _BFLOAT16_COPIES:  # one copy per model, so its compiled loops are reused
            _BFLOAT16_COPIES[probe.model] = _bfloat16_copy(probe.model)
        copy = _BFLOAT16_COPIES[probe.model]
        copy.set_weights(probe.model.get_weights())  # the model may have been trained since
        runner = _probe(copy)
    size = _check_size(spec, size, runner.forward, bound.units, _CHECKED_SIZES.setdefault(runner, set()))
    if compilation == "mixed" and min(bound.size or 1, batch_size) * size * size * spec.channels < _MIXED_MINIMUM:
        compilation = "graph"
    chosen.parameterization.prepare(size, size, spec.channels)
    cache = _COMPILED.setdefault(runner, {})

    def compiled_for(compilation: str) -> _Compiled:
        key = (_signature(bound), chosen.cache_key(size), spec, size, compilation)
        if key not in cache:
            forward = functools.partial(runner.forward, compiled=False)  # traced into the step itself
            cache[key] = _compile(forward, bound, chosen, spec, size, compilation, _selection(bound, runner))
        return cache[key]

    state = {"compilation": compilation}

    def run(*arguments: Any) -> Any:
        try:
            return compiled_for(state["compilation"]).run(*arguments)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as error:
            if not (state["compilation"] != "graph" and jit_compile is None and "XLA" in str(error)):
                raise
            warnings.warn(
                f"XLA cannot compile this model's step ({' '.join(str(error).split())[:160]}); rendering with a "
                "TensorFlow graph instead",
                stacklevel=3,
            )
            state["compilation"] = "graph"
            return compiled_for("graph").run(*arguments)

    count = bound.size or 1
    parameterization = chosen.parameterization
    chunk = max(1, math.ceil(chosen.steps / 10)) if progress else chosen.steps
    bar = ProgressBar(chosen.steps * math.ceil(count / batch_size), unit="steps", enabled=progress)
    images, inputs, values, attributions, steps_run = [], [], [], [], chosen.steps
    for start in range(0, count, batch_size):
        rows = slice(start, min(count, start + batch_size))
        batch = rows.stop - rows.start
        initial = parameterization.initial(batch, size, size, spec.channels, seed=[seed, start])
        variables = [tf.constant(v) for v in initial]
        first = [tf.zeros_like(v) for v in variables]
        second = [tf.zeros_like(v) for v in variables]
        attribution = tf.zeros((batch, size, size))
        parameters = [tf.constant(p) for p in bound.parameters(rows, batch)]
        done = 0
        while done < chosen.steps:
            stop = min(chosen.steps, done + chunk)
            outcome = run(
                variables,
                first,
                second,
                attribution,
                tf.constant(done, tf.int32),
                tf.constant(stop, tf.int32),
                tf.constant(seed + start, tf.int32),
                parameters,
                tf.constant(chosen.steps, tf.int32),
            )
            _, variables, first, second, attribution, bad = outcome
            if int(bad) >= 0:
                raise OptimizationError(
                    f"the objective or its gradient became NaN or infinite at step {int(bad) + 1} of {chosen.steps} "
                    f"(images {rows.start}-{rows.stop - 1}); lower the learning rate or add a regulariser"
                )
            bar.update(start // batch_size * chosen.steps + stop)
            done = stop
        final, reached = compiled_for(state["compilation"]).evaluate(variables, parameters)
        images.append(_display(np.asarray(final), chosen.display))
        inputs.append(np.asarray(final, dtype=np.float32))
        values.append(np.asarray(reached, dtype=np.float64))
        mask = np.asarray(attribution)
        attributions.append(mask / np.maximum(mask.max(axis=(1, 2), keepdims=True), 1e-12))
    bar.close()
    settings = {
        **chosen.describe(size),
        "size": size,
        "batch_size": batch_size,
        "precision": precision,
        "precision_reason": precision_reason,
        "compilation": state["compilation"],
        "model": probe.model.name,
        "value_range": list(spec.value_range),
        "preprocessing": spec.preprocessing,
        "units": list(bound.units),
    }
    return Visualization(
        images=np.concatenate(images),
        inputs=np.concatenate(inputs),
        values=np.concatenate(values),
        attribution=np.concatenate(attributions).astype(np.float32),
        labels=_labels(bound, count),
        objective=repr(bound),
        settings=settings,
        seed=seed,
        steps=steps_run,
        seconds=time.perf_counter() - started,
    )
