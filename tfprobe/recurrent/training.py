"""Training the recurrent network on streamed cluttered scenes, resumable and distributable.

:func:`train` runs the original study's objective (the negative log-likelihood of the scene's category
under the network's log-probabilities) with Adam, on batches streamed from
:meth:`ClutteredScenes.dataset`, validating on a fixed set of scenes at a set interval.  With a folder it
checkpoints with ``tf.train.CheckpointManager`` everything a run depends on (weights, optimizer state,
step, elapsed time and the data stream's identity; the stream's position is the step), writes the history
beside it, and a run started again on the same folder continues from the last checkpoint: the steps after
it are the steps an uninterrupted run would have taken.

The step runs under whatever ``tf.distribute`` strategy is current (or given): one device, several GPUs
(``MirroredStrategy``), or a cluster (``MultiWorkerMirroredStrategy`` with ``TF_CONFIG``).  Each global
batch is rendered whole and split between replicas, so a distributed run sees the same scenes as a
single-device run with the same seed.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfprobe.atomic import staged
from tfprobe.datasets.scenes import ClutteredScenes, Scenes
from tfprobe.errors import CheckpointMismatchError, ExistingOutputError, InvalidTypeError, InvalidValueError
from tfprobe.progress import ProgressBar
from tfprobe.recurrent.schedules import TrainingSchedule, get_schedule
from tfprobe.results.training import learning_curve
from tfprobe.validation import positive_int

__all__ = ["TrainingResult", "checkpointed_progress", "evaluate", "learning_curve", "train"]

RUN_FILE = "run.json"
HISTORY_FILE = "history.json"
CHECKPOINT_FOLDER = "checkpoints"
MODEL_FILE = "model.weights.h5"
#: Scenes :func:`evaluate` runs through the network at once (by default).
EVALUATION_BATCH_SIZE = 250


@dataclasses.dataclass
class TrainingResult:
    """What a training run produced.

    Attributes
    ----------
    model : keras.Model
        The trained network (the one passed in).
    history : list of dict
        One entry per validation: ``step``, ``images`` (seen so far), ``seconds`` (training time so far,
        over every session of a resumed run, validation excluded), ``learning_rate``, ``train_loss`` and
        ``train_accuracy`` (means over the steps since the previous entry), ``validation_loss`` and
        ``validation_accuracy``.
    steps : int
        Steps done in total.
    seconds : float
        Training time in total (all sessions), validation excluded.
    resumed_from : int or None
        The checkpoint's step this session started from.
    schedule : TrainingSchedule
    folder : Path or None
        Where checkpoints, history and the final weights are.
    """

    model: keras.Model
    history: list[dict[str, float]]
    steps: int
    seconds: float
    resumed_from: int | None
    schedule: TrainingSchedule
    folder: Path | None = None

    @property
    def validation_accuracy(self) -> float:
        """The last validation accuracy (NaN before any validation)."""
        return self.history[-1]["validation_accuracy"] if self.history else float("nan")


def _model_description(model: keras.Model) -> dict[str, Any]:
    flags = getattr(model, "flags", None)
    return {
        "class": type(model).__name__,
        "code": flags.code if flags is not None else None,
        "timesteps": getattr(model, "timesteps", None),
        "n_feats": getattr(model, "n_feats", None),
        "parameters": int(model.count_params()),
    }


def _check_model(model: keras.Model) -> None:
    if not isinstance(model, keras.Model):
        raise InvalidTypeError(f"model must be a keras.Model, got {type(model).__name__}")
    shape = tuple(model.compute_output_shape((1, 100, 100, 1)))
    if shape != (1, 20):
        raise InvalidValueError(
            f"model must map (batch, 100, 100, 1) scenes to (batch, 20) log-probabilities; it gives {shape}"
        )


def _validation_scenes(validation: int | Scenes, seed: int) -> Scenes:
    if isinstance(validation, Scenes):
        return validation
    n = positive_int(validation, "validation")
    return ClutteredScenes("validation", seed=seed + 1, allow_single_split=True).sample(n)


def _check_strategy(strategy: tf.distribute.Strategy, model: keras.Model, batch_size: int) -> None:
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise InvalidValueError(f"batch_size {batch_size} must be divisible by the strategy's {replicas} replicas")
    # A Keras variable wraps the TensorFlow variable the strategy made (a MirroredVariable under its scope).
    variable = getattr(model.trainable_variables[0], "_value", model.trainable_variables[0])
    if replicas > 1 and not strategy.extended.variable_created_in_scope(variable):
        raise InvalidValueError(
            f"the model's variables were not created under the strategy ({type(strategy).__name__}): "
            "build the model inside `with strategy.scope():` and pass the same strategy"
        )


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "cluster_spec", lambda: None)():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in (None, "chief"):
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


# Each barrier of a train() call in a process has its own number; every worker makes the same calls.
_barriers = itertools.count()
_BARRIER_TIMEOUT_MS = 3_600_000


def _wait_for_every_worker(strategy: tf.distribute.Strategy, stage: str) -> None:
    """Hold this worker of a cluster until every worker has reached ``stage`` (a name for the barrier).

    Used where one worker must not run ahead: at the end of training, collective ops pull a tensor from
    the worker that produced it, so a worker whose last all-reduce has completed may still be serving its
    share to a slower peer, and leaving at once makes that peer fail with "connection refused"; at the
    start, the other workers read the run folder only once the chief has prepared it.  The barrier is the
    coordination service's, which ``MultiWorkerMirroredStrategy`` starts on every cluster.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if sum(len(tasks) for name, tasks in spec.items() if name in ("chief", "worker")) < 2:
        return
    from tensorflow.python.eager import context  # the coordination service has no public Python API

    if context.context().coordination_service is None:
        return
    context.context().wait_at_barrier(f"tfprobe.train.{stage}.{next(_barriers)}", _BARRIER_TIMEOUT_MS)


def _several_cpu_replicas(strategy: tf.distribute.Strategy) -> bool:
    if strategy.num_replicas_in_sync < 2:
        return False
    return any("CPU" in device.upper() for device in strategy.extended.worker_devices)


class _RunFolder:
    """The files of a run in ``folder``: its settings, history, checkpoints and final weights."""

    def __init__(self, folder: Path, chief: bool, task_id: int | None) -> None:
        self.folder = folder
        self.chief = chief
        # Other workers of a cluster keep their own checkpoints (every worker must save).
        base = folder if chief else folder / "workers" / str(task_id)
        self.checkpoints = base / CHECKPOINT_FOLDER
        self.run_file = folder / RUN_FILE
        self.history_file = folder / HISTORY_FILE

    def prepare(self, settings: dict[str, Any], overwrite: bool) -> bool:
        """Create the folder or check it holds a run with the same settings; True when resuming."""
        folder = self.folder
        if folder.exists() and not folder.is_dir():
            raise ExistingOutputError(f"training folder {str(folder)!r} exists and is not a folder")
        if overwrite and self.chief and folder.exists():
            shutil.rmtree(folder)
        if folder.is_dir() and any(folder.iterdir()):
            if not self.run_file.is_file():
                raise ExistingOutputError(
                    f"folder {str(folder)!r} exists and holds no training run ({RUN_FILE} is missing): "
                    "choose another folder, or overwrite=True (--overwrite) to replace it"
                )
            stored = json.loads(self.run_file.read_text())
            extendable = not TrainingSchedule(**settings["schedule"]).depends_on_steps
            differences = {
                key: (stored.get(key), value)
                for key, value in settings.items()
                if stored.get(key) != value and not (key == "steps" and extendable)
            }
            if differences:
                details = "; ".join(
                    f"{key}: folder has {old!r}, asked {new!r}" for key, (old, new) in differences.items()
                )
                if set(differences) == {"steps"}:
                    details += " (the schedule's learning rate depends on the number of steps)"
                raise CheckpointMismatchError(
                    f"the training run in {str(folder)!r} was made with other settings ({details}); resume it "
                    "with its own settings, train into another folder, or overwrite=True (--overwrite) to start over"
                )
            if self.chief and stored.get("steps") != settings["steps"]:
                _write_json(self.run_file, settings)  # a constant schedule extended (or shortened)
            return True
        folder.mkdir(parents=True, exist_ok=True)
        if self.chief:
            _write_json(self.run_file, settings)
        return False

    def read_history(self, up_to_step: int) -> list[dict[str, float]]:
        if not self.history_file.is_file():
            return []
        # The history is written before its checkpoint: entries after the restored step are dropped.
        return [entry for entry in json.loads(self.history_file.read_text()) if entry["step"] <= up_to_step]


def _write_json(path: Path, value: Any) -> None:
    with staged(path) as temporary:
        temporary.write_text(json.dumps(value, indent=1) + "\n")


def _replica_batches(
    scenes: ClutteredScenes,
    batch_size: int,
    start: int,
    entropy: int,
    strategy: tf.distribute.Strategy,
    clean_until: int = 0,
) -> Any:
    """The distributed stream: global batch k rendered whole, each replica given its rows of it."""
    replicas = strategy.num_replicas_in_sync
    per_replica = batch_size // replicas

    def make(context: tf.distribute.InputContext) -> tf.data.Dataset:
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local * per_replica
        rows = local * per_replica
        batches = scenes.dataset(batch_size, "category", start=start, entropy=entropy, clean_until=clean_until)
        batches = batches.map(lambda images, labels: (images[first : first + rows], labels[first : first + rows]))
        if local > 1:
            batches = batches.unbatch().batch(per_replica, drop_remainder=True)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        # Without autotuning: its background thread made deleting the stream at the end of training block
        # for up to 30 s on a busy 2-core CPU (half the runs).  Two batches ahead are plenty: rendering one
        # costs about 1% of a step.
        options.autotune.enabled = False
        return batches.with_options(options).prefetch(2)

    return strategy.distribute_datasets_from_function(make)


def _train_step(
    model: keras.Model, optimizer: keras.optimizers.Optimizer, strategy: tf.distribute.Strategy, batch_size: int
) -> Callable[[Any], tuple[tf.Tensor, tf.Tensor]]:
    jit = bool(getattr(model, "unroll_jit_compile", True)) and not _several_cpu_replicas(strategy)

    @tf.function(jit_compile=jit)
    def replica_step(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        labels = tf.cast(labels, tf.int32)
        with tf.GradientTape() as tape:
            log_probs = tf.cast(model(images, training=True), tf.float32)
            losses = -tf.gather(log_probs, labels, axis=-1, batch_dims=1)
            # Summed over the replica's rows, divided by the global batch: the replicas' gradients add up
            # (Keras' optimizer all-reduces with a sum) to the gradient of the global batch's mean.
            loss = tf.reduce_sum(losses) / batch_size
            # Multiplied by the loss scale under mixed float16 (a LossScaleOptimizer), unchanged otherwise;
            # apply_gradients divides it out again.
            scaled = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(log_probs, -1, output_type=tf.int32), labels), tf.float32))
        return tf.reduce_sum(losses), correct

    @tf.function
    def step(batch: Any) -> tuple[tf.Tensor, tf.Tensor]:
        loss_sum, correct = strategy.run(replica_step, args=batch)
        reduce = tf.distribute.ReduceOp.SUM
        return strategy.reduce(reduce, loss_sum, axis=None), strategy.reduce(reduce, correct, axis=None)

    return step


def evaluate(
    model: keras.Model, scenes: Scenes, *, batch_size: int = EVALUATION_BATCH_SIZE, clean: bool = False
) -> dict[str, float]:
    """Mean loss (NLL) and accuracy of the network's category read-out on a set of scenes.

    Parameters
    ----------
    model : keras.Model
    scenes : Scenes
    batch_size : int
    clean : bool
        Use the scenes' clean images (the target alone) instead of the cluttered ones.

    Returns
    -------
    dict
        ``loss`` and ``accuracy``.
    """
    images = scenes.clean if clean else scenes.images
    labels = scenes.labels["category"]
    batch_size = positive_int(batch_size, "batch_size")
    strategy = tf.distribute.get_strategy()
    jit = bool(getattr(model, "unroll_jit_compile", True)) and not _several_cpu_replicas(strategy)
    forward = _forward_function(model, jit)
    loss_sum = correct = 0.0
    for first in range(0, len(images), batch_size):
        log_probs = forward(tf.constant(images[first : first + batch_size])).numpy().astype(np.float64)
        rows = labels[first : first + batch_size]
        loss_sum -= float(log_probs[np.arange(len(rows)), rows].sum())
        correct += float((log_probs.argmax(-1) == rows).sum())
    return {"loss": loss_sum / len(images), "accuracy": correct / len(images)}


def _forward_function(model: keras.Model, jit: bool) -> Callable[[tf.Tensor], tf.Tensor]:
    cache = model.__dict__.setdefault("_tfprobe_forward", {})
    if jit not in cache:
        unroll = getattr(model, "unroll", None)

        def forward(images: tf.Tensor) -> tf.Tensor:
            return unroll(images) if unroll is not None else model(images, training=False)

        cache[jit] = tf.function(forward, jit_compile=jit, reduce_retracing=True)
    return cache[jit]


def checkpointed_progress(folder: str | os.PathLike[str]) -> tuple[int, float]:
    """The steps and training seconds of the last checkpoint in a run folder (0 and 0.0 without one).

    Parameters
    ----------
    folder : path
        A run folder of :func:`train`.

    Returns
    -------
    tuple of int and float
        The step a run resumed there starts from, and its training time so far (every session).
    """
    latest = tf.train.latest_checkpoint(str(Path(folder) / CHECKPOINT_FOLDER))
    if latest is None:
        return 0, 0.0
    step = tf.train.load_variable(latest, "step/.ATTRIBUTES/VARIABLE_VALUE")
    seconds = tf.train.load_variable(latest, "elapsed_seconds/.ATTRIBUTES/VARIABLE_VALUE")
    return int(step), float(seconds)


def _save_weights(model: keras.Model, path: Path) -> None:
    # Keras insists on the ".weights.h5" ending, so the temporary is named by hand.
    temporary = path.with_name(f".partial-{os.getpid()}.{path.name}")
    try:
        model.save_weights(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    rate = optimizer.learning_rate
    return float(rate.numpy() if hasattr(rate, "numpy") else rate)


def train(
    model: keras.Model,
    steps: int,
    *,
    schedule: str | TrainingSchedule = "fast",
    learning_rate: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    scenes: ClutteredScenes | None = None,
    validation: int | Scenes = 1000,
    validate_every: int = 500,
    folder: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    keep_checkpoints: int = 2,
    log_dir: str | os.PathLike[str] | None = None,
    strategy: tf.distribute.Strategy | None = None,
    max_seconds: float | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Train the network on streamed cluttered scenes (the study's task: 20-way categorisation).

    Parameters
    ----------
    model : keras.Model
        A :class:`GainModulatedRNN` (or any model mapping (batch, 100, 100, 1) scenes to (batch, 20)
        log-probabilities).  Under a distribution strategy, build it inside ``strategy.scope()``.
    steps : int
        Steps in total (a resumed run continues up to this number).  A run on a constant schedule
        (``"original"``) can be resumed with more steps; one whose learning rate depends on the number of
        steps (``"fast"``: warm-up and decay) only with the same number.
    schedule : {"fast", "original"} or TrainingSchedule
        ``"original"``: Adam 1e-4, batch 32, constant, as the authors trained.  ``"fast"``: peak 1e-3 with
        a warm-up and a cosine decay over ``steps`` (see :mod:`tfprobe.recurrent.schedules`).
    learning_rate, batch_size : optional
        Replace the schedule's peak learning rate and (global) batch size.
    seed : int
        Seeds the training stream (``ClutteredScenes("train", seed)``) and the validation scenes
        (``ClutteredScenes("validation", seed + 1)``).
    scenes : ClutteredScenes, optional
        Where the training scenes come from instead (its stream's entropy is drawn once and checkpointed).
    validation : int or Scenes
        Number of validation scenes (drawn once, from the validation split), or the scenes themselves.
    validate_every : int
        Steps between validations; a history entry and (with ``folder``) a checkpoint each time.
    folder : path, optional
        Where the run keeps ``run.json`` (its settings), ``history.json``, ``checkpoints/`` and, at the end,
        ``model.weights.h5``.  A folder holding a run with the same settings is resumed from its last
        checkpoint; other settings raise :class:`CheckpointMismatchError`; a folder holding anything else
        raises ``FileExistsError``.
    overwrite : bool
        Delete ``folder`` first and start over.
    keep_checkpoints : int
        Checkpoints kept (the newest).
    log_dir : path, optional
        Write TensorBoard summaries here: loss, accuracy, learning rate and images per second every 25
        steps and at each validation, validation loss and accuracy, and four validation scenes.
    strategy : tf.distribute.Strategy, optional
        Default: the current one (``tf.distribute.get_strategy()``).
        Mixed precision (for GPUs): build the model with ``dtype="mixed_float16"`` (or ``"mixed_bfloat16"``);
        weights stay float32, the forward pass runs in half precision, and under ``mixed_float16`` the
        optimizer scales the loss dynamically (``keras.optimizers.LossScaleOptimizer``).  On this 2-core CPU
        half precision does not make the XLA-compiled step faster (0.374 against 0.379 s at batch 32), so
        float32 is the default.
    max_seconds : float, optional
        Stop (with a checkpoint) once this much training time has passed in total, even before ``steps``
        (a decaying schedule is then left unfinished).
    progress : bool
        Show a progress bar with loss, accuracy and images per second.

    Returns
    -------
    TrainingResult

    Raises
    ------
    CheckpointMismatchError
        ``folder`` holds a run made with other settings (model flags, time steps, schedule, seed, ...).
    FileExistsError
        ``folder`` holds something that is not a training run.
    """
    _check_model(model)
    steps = positive_int(steps, "steps")
    validate_every = positive_int(validate_every, "validate_every")
    keep_checkpoints = positive_int(keep_checkpoints, "keep_checkpoints")
    schedule = get_schedule(schedule, learning_rate=learning_rate, batch_size=batch_size)
    global_batch = schedule.batch_size
    strategy = strategy or tf.distribute.get_strategy()
    _check_strategy(strategy, model, global_batch)
    chief = _is_chief(strategy)
    scenes = scenes if scenes is not None else ClutteredScenes("train", seed=seed, allow_single_split=True)
    validation_scenes = _validation_scenes(validation, seed)
    settings = {
        "model": _model_description(model),
        "schedule": schedule.to_dict(),
        "steps": steps,
        "seed": seed,
        "validation": len(validation_scenes),
        "validate_every": validate_every,
    }

    with strategy.scope():
        optimizer = schedule.optimizer(steps)
        if model.dtype_policy.name == "mixed_float16":
            # float16 gradients underflow without loss scaling (bfloat16 keeps float32's range and needs none).
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
        step_variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        elapsed_variable = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="elapsed_seconds")
        entropy_variable = tf.Variable(-1, dtype=tf.int64, trainable=False, name="data_entropy")
    checkpoint = tf.train.Checkpoint(
        model=model,
        optimizer=optimizer,
        step=step_variable,
        elapsed_seconds=elapsed_variable,
        data_entropy=entropy_variable,
    )

    run_folder = manager = None
    history: list[dict[str, float]] = []
    resumed_from = None
    if folder is not None:
        resolver = getattr(strategy, "cluster_resolver", None)
        run_folder = _RunFolder(Path(folder), chief, getattr(resolver, "task_id", None))
        # The chief first: a worker looking at the folder while the chief writes run.json (a temporary file
        # beside it, then a rename) or clears it for overwrite would find a folder that holds no run.  A
        # chief that fails still reaches the barrier; the others then fail on the same folder.
        if chief:
            try:
                resuming = run_folder.prepare(settings, overwrite)
            finally:
                _wait_for_every_worker(strategy, "prepared")
        else:
            _wait_for_every_worker(strategy, "prepared")
            resuming = run_folder.prepare(settings, overwrite)
        manager = tf.train.CheckpointManager(checkpoint, str(run_folder.checkpoints), max_to_keep=keep_checkpoints)
        if resuming and manager.latest_checkpoint:
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
            resumed_from = int(step_variable.numpy())
            history = run_folder.read_history(resumed_from)
    if int(entropy_variable.numpy()) < 0:
        scenes.dataset(global_batch)  # draws the stream's entropy from the seed, renders nothing
        entropy_variable.assign(scenes.last_entropy)

    start = int(step_variable.numpy())
    if resumed_from is not None and progress:
        print(f"resuming from the checkpoint at step {start} in {run_folder.checkpoints}")
    writer = tf.summary.create_file_writer(str(log_dir)) if (log_dir is not None and chief) else None
    if writer is not None and start == 0:
        with writer.as_default():
            shown = validation_scenes.images[:4]
            tf.summary.image("scenes", shown, step=0, max_outputs=4)

    def save(entry: dict[str, float] | None) -> None:
        if entry is not None:
            history.append(entry)
        if run_folder is None:
            return
        if chief:
            _write_json(run_folder.history_file, history)  # before the checkpoint: see read_history
        manager.save(checkpoint_number=int(step_variable.numpy()))

    bar = ProgressBar(steps, unit="step", enabled=progress)
    bar.update(start)
    if start < steps:
        entropy = int(entropy_variable.numpy())
        clean_until = schedule.curriculum_steps(steps)
        stream = iter(_replica_batches(scenes, global_batch, start, entropy, strategy, clean_until))
        step_function = _train_step(model, optimizer, strategy, global_batch)
        session_start = time.perf_counter()
        elapsed_before = float(elapsed_variable.numpy())
        interval_loss = interval_correct = 0.0
        interval_steps = 0
        try:
            for step in range(start, steps):
                loss_sum, correct = step_function(next(stream))
                interval_loss += float(loss_sum)
                interval_correct += float(correct)
                interval_steps += 1
                done = step + 1
                step_variable.assign(done)
                seconds = elapsed_before + time.perf_counter() - session_start
                elapsed_variable.assign(seconds)
                images_per_second = (done - start) * global_batch / max(1e-9, time.perf_counter() - session_start)
                seen = interval_steps * global_batch
                bar.update(
                    done,
                    loss=interval_loss / seen,
                    accuracy=interval_correct / seen,
                    **{"img/s": round(images_per_second, 1)},
                )
                out_of_time = max_seconds is not None and seconds >= max_seconds
                validating = done % validate_every == 0 or done == steps or out_of_time
                if writer is not None and (done % 25 == 0 or validating):
                    with writer.as_default():
                        tf.summary.scalar("train/loss", interval_loss / seen, step=done)
                        tf.summary.scalar("train/accuracy", interval_correct / seen, step=done)
                        tf.summary.scalar("train/learning_rate", _learning_rate(optimizer), step=done)
                        tf.summary.scalar("train/images_per_second", images_per_second, step=done)
                if validating:
                    pause = time.perf_counter()
                    scores = evaluate(model, validation_scenes)
                    entry = {
                        "step": done,
                        "images": done * global_batch,
                        "seconds": round(seconds, 3),
                        "learning_rate": _learning_rate(optimizer),
                        "train_loss": interval_loss / seen,
                        "train_accuracy": interval_correct / seen,
                        "validation_loss": scores["loss"],
                        "validation_accuracy": scores["accuracy"],
                    }
                    if writer is not None:
                        with writer.as_default():
                            tf.summary.scalar("validation/loss", scores["loss"], step=done)
                            tf.summary.scalar("validation/accuracy", scores["accuracy"], step=done)
                        writer.flush()
                    save(entry)
                    interval_loss = interval_correct = 0.0
                    interval_steps = 0
                    # Validation and saving are not training time.
                    session_start += time.perf_counter() - pause
                if out_of_time:
                    break
        except KeyboardInterrupt:
            if run_folder is not None:
                save(None)
            raise
        finally:
            bar.close()
    if run_folder is not None and chief:
        _save_weights(model, run_folder.folder / MODEL_FILE)
    _wait_for_every_worker(strategy, "finished")
    return TrainingResult(
        model=model,
        history=history,
        steps=int(step_variable.numpy()),
        seconds=float(elapsed_variable.numpy()),
        resumed_from=resumed_from,
        schedule=schedule,
        folder=None if run_folder is None else run_folder.folder,
    )
