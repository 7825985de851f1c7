"""Training the recurrent network: resumable checkpoints, killed runs, distribution strategies, logs, bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from cluster import run_cluster, run_script

from tfprobe import CheckpointMismatchError, GainModulatedRNN
from tfprobe.recurrent import evaluate, get_schedule, learning_curve, train

# A small network (2 features, 2 time steps) and batches of 8 keep every step well under a second.
SCHEDULE = get_schedule("original", batch_size=8)
SMALL = dict(timesteps=2, n_feats=2, jit_compile=False)

# Shared by the subprocesses: the same small network, its initial weights read from a file.
PRELUDE = """
import json, os, sys
import numpy as np
import keras, tensorflow as tf
from tfprobe import GainModulatedRNN
from tfprobe.recurrent import get_schedule, train

def small_model(initial):
    model = GainModulatedRNN.from_code("bglt_0111", timesteps=2, n_feats=2, jit_compile=False)
    model.build((None, 100, 100, 1))
    with np.load(initial) as saved:
        model.set_weights([saved[f"w{i}"] for i in range(len(saved.files))])
    return model

SCHEDULE = get_schedule("original", batch_size=8)
"""


def _small_model(initial: list[np.ndarray] | None = None) -> GainModulatedRNN:
    model = GainModulatedRNN.from_code("bglt_0111", **SMALL)
    model.build((None, 100, 100, 1))
    if initial is not None:
        model.set_weights(initial)
    return model


@pytest.fixture(scope="module")
def initial(tmp_path_factory) -> tuple[list[np.ndarray], Path]:
    """Initial weights, in memory and in a file the subprocesses read."""
    weights = [np.asarray(w) for w in _small_model().get_weights()]
    path = tmp_path_factory.mktemp("initial") / "initial.npz"
    np.savez(path, **{f"w{i}": w for i, w in enumerate(weights)})
    return weights, path


@pytest.fixture(scope="module")
def validation():
    from tfprobe.datasets import ClutteredScenes

    return ClutteredScenes("validation", seed=1, allow_single_split=True).sample(16)


def _train(initial, steps: int, folder: Path | None, validation, **kwargs):
    model = _small_model(initial)
    kwargs.setdefault("validate_every", 2)
    return train(model, steps, schedule=SCHEDULE, validation=validation, folder=folder, progress=False, **kwargs)


def _assert_same_weights(a, b, atol: float = 1e-6) -> None:
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=atol)


@pytest.fixture(scope="module")
def uninterrupted(initial, validation, tmp_path_factory):
    """Six steps in one go: the reference every resumed or distributed run must reproduce."""
    folder = tmp_path_factory.mktemp("runs") / "whole"
    return _train(initial[0], 6, folder, validation)


def test_run_folder_history_and_learning_curve(uninterrupted, validation) -> None:
    folder = uninterrupted.folder
    assert json.loads((folder / "run.json").read_text())["schedule"]["name"] == "original"
    history = json.loads((folder / "history.json").read_text())
    assert [entry["step"] for entry in history] == [2, 4, 6] == [e["step"] for e in uninterrupted.history]
    assert all(0 <= e["validation_accuracy"] <= 1 and e["train_loss"] > 0 for e in history)
    assert sorted(p.name for p in (folder / "checkpoints").glob("ckpt-*.index")) == ["ckpt-4.index", "ckpt-6.index"]
    # The final weights file holds the trained weights, and validation is evaluate() on the same scenes.
    reloaded = _small_model()
    reloaded.load_weights(folder / "model.weights.h5")
    _assert_same_weights(reloaded.get_weights(), uninterrupted.model.get_weights(), atol=0)
    scores = evaluate(reloaded, validation)
    assert scores["accuracy"] == pytest.approx(history[-1]["validation_accuracy"])
    assert scores["loss"] == pytest.approx(history[-1]["validation_loss"], rel=1e-5)
    curve = learning_curve(history)
    assert curve.shape == (3, 3) and list(curve[:, 0]) == [2, 4, 6]
    assert np.all(np.diff(curve[:, 1]) >= 0)


def test_resuming_equals_the_uninterrupted_run(initial, uninterrupted, validation, tmp_path) -> None:
    first = _train(initial[0], 4, tmp_path / "run", validation)
    assert first.steps == 4 and first.resumed_from is None
    # A fresh network (other weights) resumed from the folder: a constant schedule may be extended.
    model = _small_model()
    resumed = train(
        model, 6, schedule=SCHEDULE, validation=validation, validate_every=2, folder=tmp_path / "run", progress=False
    )
    assert resumed.resumed_from == 4 and resumed.steps == 6
    _assert_same_weights(model.get_weights(), uninterrupted.model.get_weights())
    assert [e["step"] for e in resumed.history] == [2, 4, 6]
    assert resumed.history[-1]["validation_accuracy"] == pytest.approx(uninterrupted.history[-1]["validation_accuracy"])
    # Training a finished run again does nothing.
    again = _train(None, 6, tmp_path / "run", validation)
    assert again.resumed_from == 6
    _assert_same_weights(again.model.get_weights(), uninterrupted.model.get_weights())


def test_a_decaying_schedule_cannot_be_extended(initial, validation, tmp_path) -> None:
    fast = get_schedule("fast", batch_size=8)
    train(_small_model(initial[0]), 2, schedule=fast, validation=validation, folder=tmp_path / "run", progress=False)
    with pytest.raises(CheckpointMismatchError, match="depends on the number of steps"):
        train(_small_model(), 4, schedule=fast, validation=validation, folder=tmp_path / "run", progress=False)


def test_other_settings_and_other_folders_are_refused(initial, validation, tmp_path) -> None:
    _train(initial[0], 2, tmp_path / "run", validation)
    with pytest.raises(CheckpointMismatchError, match="seed: folder has 0, asked 3"):
        _train(initial[0], 2, tmp_path / "run", validation, seed=3)
    other = GainModulatedRNN.from_code("bglt_1111", **SMALL)
    with pytest.raises(CheckpointMismatchError, match="bglt_0111"):
        train(other, 2, schedule=SCHEDULE, validation=validation, folder=tmp_path / "run", progress=False)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds no training run"):
        _train(initial[0], 2, tmp_path / "notes", validation)
    assert (tmp_path / "notes" / "a.txt").read_text() == "mine"
    # overwrite=True starts over.
    fresh = _train(initial[0], 2, tmp_path / "run", validation, seed=3, overwrite=True)
    assert fresh.resumed_from is None and fresh.steps == 2


def test_bad_arguments(initial, validation) -> None:
    with pytest.raises(ValueError, match="steps"):
        _train(initial[0], 0, None, validation)
    with pytest.raises(ValueError, match="unknown schedule 'slow'"):
        train(_small_model(), 2, schedule="slow", validation=validation, progress=False)
    import keras

    wrong = keras.Sequential([keras.Input((100, 100, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match=r"\(batch, 20\) log-probabilities; it gives \(1, 10\)"):
        train(wrong, 2, validation=validation, progress=False)


def test_tensorboard_summaries(initial, validation, tmp_path) -> None:
    import tensorflow as tf

    _train(initial[0], 2, None, validation, log_dir=tmp_path / "logs")
    tags: dict[str, list[int]] = {}
    for events in (tmp_path / "logs").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    for tag in ("train/loss", "train/accuracy", "validation/loss", "validation/accuracy", "train/images_per_second"):
        assert tags.get(tag) == [2], tags
    assert tags.get("scenes") == [0]


def _run_script(
    script: str, *args: str, env: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen:
    """The script, after the prelude, in a new Python process (see :func:`cluster.run_script`)."""
    return run_script(PRELUDE + textwrap.dedent(script), *args, env=env, log=log)


@pytest.mark.heavy
def test_a_killed_training_process_resumes_where_it_stopped(initial, validation, tmp_path) -> None:
    folder = tmp_path / "run"
    validation_file = tmp_path / "validation.npz"
    np.savez(validation_file, images=validation.images)
    script = """
        model = small_model(sys.argv[1])
        train(model, 1000, schedule=SCHEDULE, validation=16, validate_every=1, folder=sys.argv[2], progress=False)
    """
    process = _run_script(script, str(initial[1]), str(folder))
    deadline = time.monotonic() + 300
    try:
        while not (folder / "checkpoints" / "ckpt-3.index").exists():
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the training process wrote no third checkpoint in 300 s"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    import tensorflow as tf

    last = int(Path(tf.train.latest_checkpoint(str(folder / "checkpoints"))).name.split("-")[1])
    assert last >= 3
    # Resume in this process (same seed, same validation scenes as the killed run drew) two steps further.
    model = _small_model()
    resumed = train(model, last + 2, schedule=SCHEDULE, validation=16, validate_every=1, folder=folder, progress=False)
    assert resumed.resumed_from == last
    assert [e["step"] for e in resumed.history] == list(range(1, last + 3))
    whole = train(
        _small_model(initial[0]),
        last + 2,
        schedule=SCHEDULE,
        validation=16,
        validate_every=1,
        folder=None,
        progress=False,
    )
    _assert_same_weights(model.get_weights(), whole.model.get_weights())
    assert [e["validation_loss"] for e in resumed.history] == pytest.approx(
        [e["validation_loss"] for e in whole.history], rel=1e-5
    )


MIRRORED = """
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = small_model(sys.argv[1])
result = train(model, 3, schedule=SCHEDULE, validation=16, validate_every=3, strategy=strategy, progress=False)
np.savez(sys.argv[2], *[np.asarray(w) for w in model.get_weights()])
for bad, batch, expected in ((small_model(sys.argv[1]), 8, "not created under the strategy"), (model, 7, "divisible")):
    try:
        train(bad, 1, schedule=get_schedule("original", batch_size=batch), validation=16, strategy=strategy,
              progress=False)
    except ValueError as error:
        assert expected in str(error), error
    else:
        raise SystemExit(f"no error for {expected}")
print("replicas", strategy.num_replicas_in_sync, "loss", result.history[-1]["train_loss"])
"""


@pytest.mark.heavy
def test_mirrored_strategy_over_two_logical_cpus_equals_one_device(initial, tmp_path) -> None:
    process = _run_script(MIRRORED, str(initial[1]), str(tmp_path / "mirrored.npz"))
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-4000:]
    assert "replicas 2" in stdout
    single = train(_small_model(initial[0]), 3, schedule=SCHEDULE, validation=16, validate_every=3, progress=False)
    with np.load(tmp_path / "mirrored.npz") as saved:
        mirrored = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    _assert_same_weights(mirrored, single.model.get_weights(), atol=1e-5)
    assert float(stdout.split("loss")[1]) == pytest.approx(single.history[-1]["train_loss"], rel=1e-5)


MULTI_WORKER = """
import contextlib, time
from pathlib import Path
import tfprobe.recurrent.training as training

if json.loads(os.environ["TF_CONFIG"])["task"]["index"] == 0:
    # The chief lags behind: the other worker must not leave train() (and the cluster) before it is done.
    evaluate = training.evaluate

    def slow_evaluate(*args, **kwargs):
        scores = evaluate(*args, **kwargs)
        time.sleep(3)
        print("validated", time.time())
        return scores

    training.evaluate = slow_evaluate
    # The chief's run.json stays a temporary file beside it for a while before it is renamed into place.
    staged = training.staged

    @contextlib.contextmanager
    def slow_staged(path, **kwargs):
        with staged(path, **kwargs) as temporary:
            yield temporary
            if Path(path).name == "run.json":
                time.sleep(3)

    training.staged = slow_staged
else:
    # The other worker looks at the run folder no earlier than the chief starts writing into it: it must
    # wait for the chief to have prepared the folder, not take the half-written folder for a stranger's.
    prepare = training._RunFolder.prepare

    def late_prepare(self, *args, **kwargs):
        while not (self.folder.is_dir() and any(self.folder.iterdir())):
            time.sleep(0.05)
        return prepare(self, *args, **kwargs)

    training._RunFolder.prepare = late_prepare
strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    model = small_model(sys.argv[1])
train(model, 3, schedule=SCHEDULE, validation=16, validate_every=3, strategy=strategy, folder=sys.argv[2],
      progress=False)
print("returned", time.time())
np.savez(sys.argv[3], *[np.asarray(w) for w in model.get_weights()])
print("workers", strategy.cluster_resolver.cluster_spec().num_tasks("worker"))
"""


@pytest.mark.heavy
def test_two_worker_processes_end_with_the_same_weights(initial, tmp_path) -> None:
    outputs, folder = run_cluster(PRELUDE + MULTI_WORKER, tmp_path, str(initial[1]))
    assert all("workers 2" in stdout for stdout in outputs)
    # A worker leaves train() only when every worker has finished (a peer may still pull its tensors).
    chief_validated = float(outputs[0].split("validated")[1].split()[0])
    assert float(outputs[1].split("returned")[1].split()[0]) >= chief_validated
    loaded = []
    for index in range(2):
        with np.load(folder / f"worker{index}.npz") as saved:
            loaded.append([saved[f"arr_{i}"] for i in range(len(saved.files))])
    _assert_same_weights(loaded[0], loaded[1], atol=0)
    # Each worker trained on its half of every global batch: together, the single-device run.
    single = train(_small_model(initial[0]), 3, schedule=SCHEDULE, validation=16, validate_every=3, progress=False)
    _assert_same_weights(loaded[0], single.model.get_weights(), atol=1e-5)
    # The chief keeps the run's files; the other worker its own checkpoints.
    assert (folder / "run" / "model.weights.h5").is_file()
    assert (folder / "run" / "workers" / "1" / "checkpoints").is_dir()


def test_a_curriculum_starts_on_clean_scenes_and_resumes(initial, uninterrupted, validation, tmp_path) -> None:
    from tfprobe.datasets import ClutteredScenes

    curriculum = get_schedule("original", batch_size=8, curriculum_fraction=0.5)
    streams = []

    class Recording(ClutteredScenes):
        def dataset(self, *args, **kwargs):
            streams.append(kwargs.get("clean_until"))
            return super().dataset(*args, **kwargs)

    def run(folder: Path, **kwargs):
        scenes = Recording("train", seed=0, allow_single_split=True)
        return train(
            _small_model(initial[0]),
            6,
            schedule=curriculum,
            scenes=scenes,
            validation=validation,
            validate_every=2,
            folder=folder,
            progress=False,
            **kwargs,
        )

    whole = run(tmp_path / "whole")
    assert streams[-1] == 3  # clean scenes fade out over the first half of the 6 steps
    # The same seed and weights without the curriculum train on other images, so end elsewhere.
    difference = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(whole.model.get_weights(), uninterrupted.model.get_weights(), strict=True)
    )
    assert difference > 1e-6
    # Stopped after its first step and resumed, the run continues the curriculum where it stopped.
    first = run(tmp_path / "resumed", max_seconds=0.0)
    assert first.steps == 1
    resumed = run(tmp_path / "resumed")
    assert resumed.resumed_from == 1 and streams[-1] == 3
    _assert_same_weights(resumed.model.get_weights(), whole.model.get_weights())


def test_schedules() -> None:
    import keras

    original = get_schedule("original")
    assert (original.learning_rate, original.batch_size, original.depends_on_steps) == (1e-4, 32, False)
    assert original.learning_rate_schedule(1000) == 1e-4
    assert "constant" in original.describe()
    fast = get_schedule("fast")
    rate = fast.learning_rate_schedule(1000)
    assert isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) and fast.depends_on_steps
    # Linear warm-up over 30% of the steps to the 1e-3 peak, held to step 790, then a cosine decay over the
    # last 30% of the post-warm-up steps (210) to 1% of the peak at the last step.
    values = [float(rate(step)) for step in (0, 150, 300, 700, 790, 895, 1000, 1200)]
    assert values[0] == 0 and values[1] == pytest.approx(5e-4) and values[2] == pytest.approx(1e-3)
    assert values[3] == pytest.approx(1e-3) and values[4] == pytest.approx(1e-3)
    assert values[5] == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5), rel=1e-3)
    assert values[6] == pytest.approx(1e-5, rel=1e-3) and values[7] == pytest.approx(1e-5, rel=1e-3)
    # The warm-up is capped at 500 steps.
    assert get_schedule("fast").warmup_steps(15500) == 500
    assert "over the last 30%" in fast.describe()
    # Scenes without clutter fade out over the first 30% of the steps, at most 500; none in the original's.
    assert (fast.curriculum_steps(1000), fast.curriculum_steps(15500), original.curriculum_steps(1000)) == (300, 500, 0)
    assert "without clutter fading out over the first 30% of the steps (at most 500)" in fast.describe()
    assert get_schedule("original", curriculum_fraction=0.2).depends_on_steps
    with pytest.raises(ValueError, match=r"curriculum_fraction must be in \[0, 1\)"):
        get_schedule("fast", curriculum_fraction=1.0)
    # A decay over all the steps after the warm-up (decay_fraction=1), and a warm-up with no decay.
    whole = get_schedule("fast", decay_fraction=1.0).learning_rate_schedule(1000)
    assert float(whole(650)) == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5), rel=1e-3)
    held = get_schedule("fast", decay=False).learning_rate_schedule(1000)
    assert [float(held(step)) for step in (150, 600, 1000)] == pytest.approx([5e-4, 1e-3, 1e-3])
    # The schedule serialises with the optimizer.
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(rate))
    assert float(restored(895)) == pytest.approx(values[5])
    with pytest.raises(ValueError, match=r"decay_fraction must be in \(0, 1\]"):
        get_schedule("fast", decay_fraction=0.0)
    assert get_schedule("fast", learning_rate=2e-3, batch_size=None).learning_rate == 2e-3
    with pytest.raises(ValueError, match=r"learning_rate must be a number in \(0, 1\)"):
        get_schedule("fast", learning_rate=5.0)
    with pytest.raises(TypeError, match="a name or a TrainingSchedule"):
        get_schedule(3)


def test_mixed_precision_trains_with_loss_scaling(validation, tmp_path) -> None:
    import tensorflow as tf

    model = GainModulatedRNN.from_code("bglt_0111", dtype="mixed_float16", **SMALL)
    before = [np.asarray(w).copy() for w in model.get_weights()]
    result = train(
        model, 2, schedule=SCHEDULE, validation=validation, validate_every=2, folder=tmp_path / "run", progress=False
    )
    assert model.compute_dtype == "float16" and all(w.dtype == np.float32 for w in model.get_weights())
    assert model.get_layer("gain_fc1_to_input").compute_dtype == "float16"
    assert np.isfinite(result.history[-1]["train_loss"]) and np.isfinite(result.history[-1]["validation_loss"])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    # The optimizer scales the loss dynamically, and its scale is checkpointed with it.
    names = [name for name, _ in tf.train.list_variables(str(tmp_path / "run" / "checkpoints"))]
    assert any("dynamic_scale" in name for name in names)
