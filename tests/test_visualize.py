"""Feature visualisation: objectives, parameterisations, transformations, the compiled loop, results, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfprobe import Probe
from tfprobe import visualize as fv
from tfprobe.errors import UnknownUnitError
from tfprobe.visualize.param import Fourier, Maco, Pixels
from tfprobe.visualize.transform import Geometric, Jitter, Pad, Rotate, Scale, apply_transforms, standard_transforms


def small_cnn(seed: int = 0, name: str = "small") -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ],
        name=name,
    )


@pytest.fixture(scope="module")
def cnn() -> keras.Model:
    return small_cnn()


@pytest.fixture(scope="module")
def rgb_cnn() -> keras.Model:
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((None, None, 3)),
            keras.layers.Conv2D(6, 3, activation="relu", name="c1"),
            keras.layers.MaxPooling2D(name="p1"),
            keras.layers.Conv2D(12, 3, activation="relu", name="c2"),
            keras.layers.MaxPooling2D(name="p2"),
            keras.layers.Conv2D(12, 3, activation="relu", name="c3"),
        ],
        name="rgb",
    )


def channel_means(model: keras.Model, unit: str, images: np.ndarray, channels: list[int]) -> np.ndarray:
    values = Probe(model).activations(images, unit, progress=False)[unit]
    return np.array([values[i, ..., c].mean() for i, c in enumerate(channels)])


# --------------------------------------------------------------------------- objectives


def test_objectives_compose_with_arithmetic() -> None:
    combined = fv.channel("conv2", [1, 2, 3]) - 0.5 * fv.neuron("conv2", 4) + fv.total_variation() / 10
    assert combined.size == 3 and combined.units == ("conv2",)
    assert [t.weight for t in combined.terms] == [1.0, -0.5, 0.1]
    assert repr(combined) == (
        "channel(conv2, index=[1, 2, 3]) + -0.5 * neuron(conv2, index=4, x=-1, y=-1) + 0.1 * total_variation(<image>)"
    )
    assert repr(-fv.layer("conv1")) == "-1 * layer(conv1)"
    with pytest.raises(fv.ObjectiveError, match=r"different numbers of images \(2, 3\)"):
        fv.channel("conv2", [1, 2]) + fv.channel("conv2", [1, 2, 3])
    with pytest.raises(TypeError):
        fv.channel("conv2", 1) * fv.channel("conv2", 2)
    with pytest.raises(fv.ObjectiveError, match="must be an int or a sequence of ints"):
        fv.channel("conv2", 1.5)


def test_an_objective_cannot_mix_two_models(cnn) -> None:
    other = small_cnn(seed=3, name="other")
    with pytest.raises(fv.ObjectiveError, match="cannot mix units of two models"):
        fv.channel("conv2", 1, model=cnn) + fv.channel("conv2", 1, model=other)
    with pytest.raises(fv.ObjectiveError, match="bound to model 'other'"):
        fv.render(cnn, fv.channel("conv2", 1, model=other), steps=1, progress=False)


def test_rendering_raises_each_channel_and_reports_what_it_reached(cnn) -> None:
    gray = np.full((16, 28, 28, 1), 0.5, np.float32)
    alive = channel_means(cnn, "conv2", gray, list(range(16))) > 0  # ReLU channels that respond to something
    channels = [int(c) for c in np.flatnonzero(alive)[:4]]
    result = fv.render(cnn, "conv2", channels=channels, steps=64, progress=False)
    assert result.images.shape == (4, 28, 28, 1) and result.images.dtype == np.float32
    assert result.images.min() >= 0 and result.images.max() <= 1
    assert result.labels == [f"conv2:{c}" for c in channels]
    # the reported values are the objective on the images themselves (the model takes [0, 1])
    np.testing.assert_allclose(
        result.values, channel_means(cnn, "conv2", result.images, channels), rtol=1e-4, atol=1e-5
    )
    assert np.all(result.values > 1.2 * channel_means(cnn, "conv2", gray[:4], channels))
    assert result.settings["recipe"] == "default" and result.settings["units"] == ["conv2"]
    assert result.steps == 64 and result.seed == 0 and result.attribution.shape == (4, 28, 28)


def test_the_same_seed_gives_the_same_images(cnn) -> None:
    first = fv.render(cnn, "conv2:2", steps=16, seed=5, progress=False)
    again = fv.render(cnn, "conv2:2", steps=16, seed=5, progress=False)
    other = fv.render(cnn, "conv2:2", steps=16, seed=6, progress=False)
    np.testing.assert_array_equal(first.images, again.images)
    assert not np.allclose(first.images, other.images)
    # the same images whether each step is compiled with XLA or runs as a TensorFlow graph
    graph = fv.render(cnn, "conv2:2", steps=16, seed=5, jit_compile=False, progress=False)
    np.testing.assert_allclose(graph.images, first.images, atol=1e-4)


def test_many_channels_go_through_in_batches_with_one_compiled_loop(cnn, capsys) -> None:
    render_module = __import__("tfprobe.visualize.render", fromlist=["_COMPILED"])
    result = fv.render(cnn, "conv2", channels=range(16), batch_size=6, steps=8)
    assert len(result) == 16 and result.labels[-1] == "conv2:15"
    assert "24/24 steps" in capsys.readouterr().out  # 3 batches x 8 steps
    backend = render_module._PROBES[cnn]
    compiled = list(render_module._COMPILED[backend].values())
    before = [c.traced_run.experimental_get_tracing_count() for c in compiled]
    fv.render(cnn, "conv2", channels=range(6), batch_size=6, steps=12, seed=3, progress=False)
    assert [c.traced_run.experimental_get_tracing_count() for c in compiled] == before  # reused, not traced again


_XLA_COMPILES_PER_CALL = r"""
import sys
import keras
from tfprobe import visualize as fv
keras.utils.set_random_seed(5)
model = keras.Sequential([keras.Input((20, 20, 3)), keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
    keras.layers.MaxPooling2D(name="pool"), keras.layers.Flatten(), keras.layers.Dense(10, name="out")])
for count, steps in ((10, 2), (6, 2), (6, 40)):
    fv.render(model, fv.class_logit(range(count)), steps=steps, jit_compile=True, progress=False)
    print("CALL DONE", file=sys.stderr, flush=True)
"""


def test_a_new_batch_size_compiles_once_not_at_every_step() -> None:
    # A regression: the probe's shape-relaxed forward function, nested in the XLA step, made XLA take the
    # step's inputs for compile-time constants at a second batch size and recompile at every step.  XLA's
    # compilations are counted from its own log (one line per compilation) in a process of their own.
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "TF_CPP_VMODULE": "device_compilation_profiler=2"}
    result = subprocess.run(
        [sys.executable, "-c", _XLA_COMPILES_PER_CALL], capture_output=True, text=True, env=environment, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    compilations, counted = [], 0
    for line in result.stderr.splitlines():
        if "device_compilation_profiler" in line and "Compiled " in line:
            counted += 1
        elif line.startswith("CALL DONE"):
            compilations.append(counted)
            counted = 0
    # the step compiled once for 10 images, once for 6, and not again for 40 more steps of 6
    assert compilations == [1, 1, 0], compilations


def test_class_logits_are_taken_before_the_softmax(cnn) -> None:
    result = fv.render(cnn, fv.class_logit([2, 7]), steps=16, progress=False)
    assert result.settings["units"] == ["out.logits"]
    features = Probe(cnn).activations(result.images, "gap", progress=False)["gap"]
    kernel, bias = cnn.get_layer("out").get_weights()
    logits = features @ kernel + bias
    np.testing.assert_allclose(result.values, logits[[0, 1], [2, 7]], rtol=1e-4, atol=1e-5)
    probabilities = Probe(cnn).activations(result.images, "out", progress=False)["out"]
    assert not np.allclose(result.values, probabilities[[0, 1], [2, 7]])


def test_neuron_direction_layer_and_diversity(rgb_cnn) -> None:
    probe = Probe(rgb_cnn)
    neuron = fv.render(probe, fv.neuron("c3", [0, 1], x=1, y=2), size=32, steps=8, progress=False)
    values = probe.activations(neuron.images, "c3", progress=False)["c3"]
    np.testing.assert_allclose(neuron.values, values[[0, 1], 2, 1, [0, 1]], rtol=1e-4, atol=1e-5)
    vector = np.arange(12, dtype=np.float32)
    along = fv.render(probe, fv.direction("c2", vector), size=32, steps=8, progress=False)
    c2 = probe.activations(along.images, "c2", progress=False)["c2"]
    np.testing.assert_allclose(along.values, (c2 @ (vector / np.linalg.norm(vector))).mean(axis=(1, 2)), rtol=1e-4)
    dream = fv.render(probe, fv.layer("c2"), size=32, steps=8, progress=False)
    np.testing.assert_allclose(
        dream.values,
        (c2**0 * probe.activations(dream.images, "c2", progress=False)["c2"] ** 2).mean(axis=(1, 2, 3)),
        rtol=1e-4,
    )
    diverse = fv.render(probe, fv.channel("c3", [4, 4, 4]) + fv.diversity("c3"), size=32, steps=8, progress=False)
    assert len(diverse) == 3 and np.all(np.isfinite(diverse.values))


def test_a_recurrent_unit_at_two_time_steps() -> None:
    keras.utils.set_random_seed(0)
    rnn = __import__("tfprobe").GainModulatedRNN.from_code("bglt_0111", timesteps=3, n_feats=4)
    scenes = np.random.default_rng(0).random((4, 100, 100, 1)).astype(np.float32)
    live = int(np.argmax(Probe(rnn).activations(scenes, "conv1@t2", progress=False)["conv1@t2"].mean(axis=(0, 1, 2))))
    early = fv.render(rnn, f"conv1@t0:{live}", steps=6, progress=False)
    late = fv.render(rnn, f"conv1@t2:{live}", steps=6, progress=False)
    assert early.images.shape == (1, 100, 100, 1) and early.settings["units"] == ["conv1@t0"]
    for result, unit in ((early, "conv1@t0"), (late, "conv1@t2")):
        values = Probe(rnn).activations(result.images, unit, progress=False)[unit]
        np.testing.assert_allclose(result.values, values[..., live].mean(axis=(1, 2)), rtol=1e-4, atol=1e-6)
    assert not np.allclose(early.images, late.images)
    with pytest.raises(fv.ObjectiveError, match="'conv1' stands for 3 units"):
        fv.render(rnn, "conv1:1", steps=1, progress=False)


# --------------------------------------------------------------------------- recipes and parameterisations


def seed_generate_pattern(model: keras.Model, layer: str, channel: int, start: np.ndarray, steps: int) -> np.ndarray:
    """The seed notebook's generate_pattern (0-255 pixels, no preprocessing), from a given start image."""
    sub = keras.Model(model.inputs[0], model.get_layer(layer).output)
    image = tf.Variable(start)
    for _ in range(steps):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(image)
            loss = tf.reduce_mean(sub(image)[:, :, :, channel])
        grads = tape.gradient(loss, image)
        grads /= tf.sqrt(tf.reduce_mean(tf.square(grads))) + 1e-5
        image.assign_add(grads * 1.0)
    x = image.numpy()
    x = (x - x.mean()) / (x.std() + 1e-5) * 0.1 + 0.5  # deprocess_image
    return np.clip(x, 0, 1)


def test_the_naive_recipe_is_the_seed_notebooks_method(rgb_cnn) -> None:
    result = fv.render(rgb_cnn, "c2:3", recipe="naive", size=40, value_range=(0, 255), progress=False)
    assert result.steps == 40 and result.settings["update"] == "normalized"
    start = Pixels(squash="none", init="noise", std=20 / 255).initial(1, 40, 40, 3, seed=[0, 0])[0] * 255
    assert 128 <= start.min() and start.max() <= 148  # 128 + U(0, 20)
    expected = seed_generate_pattern(rgb_cnn, "c2", 3, start, 40)
    np.testing.assert_allclose(result.images, expected, atol=2e-3)


def test_naive_clipped_keeps_pixels_in_range(rgb_cnn) -> None:
    # the seed's ascent leaves the valid range; the projected one stays in it, pushed against both ends
    free = fv.render(rgb_cnn, "c2:3", recipe="naive", size=40, steps=200, progress=False).inputs
    clipped = fv.render(rgb_cnn, "c2:3", recipe="naive-clipped", size=40, steps=200, progress=False).inputs
    assert free.min() < -0.1 and free.max() > 1.1
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    assert (clipped == 0.0).mean() > 0.01 and (clipped == 1.0).mean() > 0.01


def test_fourier_parameterization() -> None:
    param = Fourier()
    for channels in (1, 3, 4):
        variables = [tf.constant(v) for v in param.initial(2, 30, 31, channels, seed=0)]
        images = param.image(variables, 30, 31)
        assert images.shape == (2, 30, 31, channels)
        assert 0 < float(tf.reduce_min(images)) and float(tf.reduce_max(images)) < 1
    spectrum = np.zeros((2, 1, 3, 30, 16), np.float32)
    spectrum[0, 0, 0, 2, 3] = 1.0  # one frequency in the first decorrelated channel
    image = param.image([tf.constant(spectrum)], 30, 30).numpy()[0]
    logits = np.log(image / (1 - image))
    assert np.corrcoef(logits[..., 0].ravel(), logits[..., 1].ravel())[0, 1] > 0.99  # recorrelated into RGB


def test_maco_keeps_the_magnitude_of_natural_images() -> None:
    rng = np.random.default_rng(0)
    natural = np.cumsum(np.cumsum(rng.normal(size=(12, 32, 32, 1)), axis=1), axis=2)  # 1/f^2-like images
    natural = ((natural - natural.min()) / np.ptp(natural)).astype(np.float32)
    maco = Maco(natural)
    maco.prepare(32, 32, 1)
    magnitude = maco.magnitude(32, 32)
    expected = np.abs(np.fft.rfft2(np.moveaxis(natural - natural.mean(axis=(1, 2), keepdims=True), -1, 1))).mean(0)
    np.testing.assert_allclose(magnitude, expected, rtol=1e-3, atol=1e-3)
    phase = tf.constant(maco.initial(1, 32, 32, 1, seed=0)[0])
    images = maco.image([phase], 32, 32).numpy()
    logits = np.log(images / (1 - images))[0, ..., 0]
    found = np.abs(np.fft.rfft2(logits - logits.mean()))
    scale = found[1:4, 1:4].mean() / magnitude[0, 1:4, 1:4].mean()
    assert np.corrcoef(found.ravel()[1:], magnitude[0].ravel()[1:] * scale)[0, 1] > 0.95  # the phase moved, not |F|
    with pytest.raises(ValueError, match="Maco's images have 1 channels but the model takes 3"):
        maco.prepare(32, 32, 3)


def test_maco_recipe_returns_its_attribution_mask(cnn) -> None:
    natural = np.random.default_rng(1).random((20, 28, 28, 1)).astype(np.float32)
    result = fv.render(cnn, "conv2", channels=[1, 2], recipe="maco", maco_images=natural, steps=16, progress=False)
    assert result.settings["parameterization"]["name"] == "maco"
    assert result.attribution.shape == (2, 28, 28) and np.allclose(result.attribution.max(axis=(1, 2)), 1.0)
    with pytest.raises(ValueError, match="needs natural images"):
        fv.render(cnn, "conv2:1", recipe="maco", progress=False)


def test_bfloat16_runs_the_layers_in_bfloat16(rgb_cnn) -> None:
    single = fv.render(rgb_cnn, "c3", channels=[0, 1, 2], size=32, steps=16, progress=False)
    half = fv.render(rgb_cnn, "c3", channels=[0, 1, 2], size=32, steps=16, precision="bfloat16", progress=False)
    assert half.settings["precision"] == "bfloat16"
    assert np.corrcoef(single.images.ravel(), half.images.ravel())[0, 1] > 0.5
    rnn = __import__("tfprobe").GainModulatedRNN.from_code("bglt_0111", timesteps=1, n_feats=2)
    with pytest.raises(ValueError, match="the recurrent network renders in float32"):
        fv.render(rnn, "conv1@t0:0", precision="bfloat16", steps=1, progress=False)


# --------------------------------------------------------------------------- transformations


def test_geometric_transformations() -> None:
    images = tf.random.uniform((2, 20, 24, 3), seed=1)
    same = apply_transforms(images, (Jitter(0.0), Scale(1.0, 1.0), Rotate(0.0), Pad(0)), tf.constant([1, 2]))
    np.testing.assert_allclose(same.numpy(), images.numpy(), atol=1e-6)

    class Quarter(Geometric):
        def matrix(self, seed, size, strength):
            from tfprobe.visualize.transform import _about_centre

            return _about_centre(tf.constant([[0.0, -1.0], [1.0, 0.0]]), size)

    square = tf.random.uniform((1, 9, 9, 1), seed=2)
    turned = apply_transforms(square, (Quarter(),), tf.constant([0, 0])).numpy()[0, ..., 0]
    assert any(np.allclose(turned, np.rot90(square.numpy()[0, ..., 0], k), atol=1e-5) for k in (1, -1))
    padded = apply_transforms(tf.ones((1, 32, 32, 1)), (Pad(4),), tf.constant([0, 0])).numpy()
    assert padded[0, 0, 0, 0] == 0.5 and padded[0, 16, 16, 0] == 1.0
    a = apply_transforms(images, standard_transforms(24), tf.constant([3, 4]))
    b = apply_transforms(images, standard_transforms(24), tf.constant([3, 4]))
    c = apply_transforms(images, standard_transforms(24), tf.constant([3, 5]))
    assert a.shape == images.shape and np.array_equal(a, b) and not np.allclose(a, c)
    compiled = tf.function(
        lambda x: apply_transforms(x, standard_transforms(24), tf.constant([3, 4])), jit_compile=True
    )
    np.testing.assert_allclose(compiled(images), a, atol=1e-5)


def test_random_draws_are_uniform_and_new_at_every_step() -> None:
    from tfprobe.visualize.transform import fold, normal, uniform

    seed = tf.constant([7, 11])
    values = uniform(seed, (20000,)).numpy()
    assert values.min() >= 0 and values.max() < 1
    assert abs(values.mean() - 0.5) < 0.01 and abs(values.var() - 1 / 12) < 0.003
    assert np.histogram(values, bins=10, range=(0, 1))[0].min() > 1800
    assert abs(np.corrcoef(values[:-1], values[1:])[0, 1]) < 0.03
    gaussian = normal(seed, (20000,)).numpy()
    assert abs(gaussian.mean()) < 0.03 and abs(gaussian.std() - 1) < 0.03
    # what the render loop does: fold the step into the run's seed, draw the step's transformation
    per_step = np.array([uniform(fold(seed, step), (2,)).numpy() for step in range(200)])
    assert len(np.unique(per_step[:, 0])) == 200
    assert abs(per_step.mean() - 0.5) < 0.05 and abs(np.corrcoef(per_step[:-1, 0], per_step[1:, 0])[0, 1]) < 0.2
    assert not np.allclose(uniform(fold(seed, 3), (8,)), uniform(fold(tf.constant([7, 12]), 3), (8,)))
    compiled = tf.function(lambda s: uniform(fold(s, 5), (64,)), jit_compile=True)
    np.testing.assert_array_equal(compiled(seed).numpy(), uniform(fold(seed, 5), (64,)).numpy())


# --------------------------------------------------------------------------- input gradients


def test_input_gradients_and_smoothgrad(cnn) -> None:
    images = np.random.default_rng(2).random((3, 28, 28, 1)).astype(np.float32)
    plain = fv.input_gradients(cnn, images, "conv2", channel=4)
    np.testing.assert_allclose(plain, Probe(cnn).gradients(images, "conv2", channel=4), rtol=1e-5, atol=1e-7)
    smooth = fv.input_gradients(cnn, images, "conv2", channel=4, smooth=5, noise=0.1, seed=3)
    rng = np.random.default_rng(3)
    spread = (images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3))).reshape(-1, 1, 1, 1)
    expected = np.mean(
        [
            Probe(cnn).gradients(
                images + rng.standard_normal(images.shape, dtype=np.float32) * 0.1 * spread, "conv2", channel=4
            )
            for _ in range(5)
        ],
        axis=0,
    )
    np.testing.assert_allclose(smooth, expected, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="smooth must be"):
        fv.input_gradients(cnn, images, "conv2", smooth=-1)


# --------------------------------------------------------------------------- results


def test_results_are_saved_and_read_back(cnn, tmp_path: Path) -> None:
    result = fv.render(cnn, "conv2", channels=[1, 2], steps=8, progress=False)
    folder = result.save(tmp_path / "vis")
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["000_conv2_1.png", "001_conv2_2.png", "grid.png", "visualization.json"]
    png = np.asarray(Image.open(folder / "001_conv2_2.png"), np.float32) / 255
    np.testing.assert_allclose(png, result.images[1, ..., 0], atol=1 / 255)
    saved = json.loads((folder / "visualization.json").read_text())
    assert saved["values"] == pytest.approx(result.values.tolist()) and saved["seed"] == 0
    assert saved["settings"]["recipe"] == "default" and saved["labels"] == ["conv2:1", "conv2:2"]
    with pytest.raises(FileExistsError, match="exists: pass overwrite=True"):
        result.save(tmp_path / "vis")
    result.save(tmp_path / "vis", overwrite=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    figure = result.figure(mask=True)
    assert len(figure.axes) == 4


# --------------------------------------------------------------------------- bad input


def test_bad_requests_get_clear_errors(cnn, rgb_cnn) -> None:
    with pytest.raises(UnknownUnitError, match="unknown unit 'conv3'; did you mean"):
        fv.render(cnn, "conv3:1", steps=1, progress=False)
    with pytest.raises(IndexError, match="channel 16 out of range for unit 'conv2': it has 16 channels"):
        fv.render(cnn, "conv2", channels=[3, 16], steps=1, progress=False)
    with pytest.raises(fv.ObjectiveError, match="neuron\\(\\) picks a position in a spatial map, but unit 'gap'"):
        fv.render(cnn, fv.neuron("gap", 1), steps=1, progress=False)
    with pytest.raises(fv.ObjectiveError, match=r"diversity\(\) compares .* unit 'gap'"):
        fv.render(cnn, fv.channel("conv2", 1) + fv.diversity("gap"), steps=1, progress=False)
    with pytest.raises(ValueError, match="image size 20 is smaller than the 28x28 images the model takes"):
        fv.render(cnn, "conv2:1", size=20, steps=1, progress=False)
    with pytest.raises(ValueError, match="image size 4 is smaller than the model accepts"):
        fv.render(rgb_cnn, "c3:1", size=4, steps=1, progress=False)
    with pytest.raises(ValueError, match="steps must be a positive int, got 0"):
        fv.render(cnn, "conv2:1", steps=0, progress=False)
    with pytest.raises(fv.ObjectiveError, match="names a unit but not what to maximise"):
        fv.render(cnn, "conv2", progress=False)
    with pytest.raises(ValueError, match="unknown recipe 'fancy'"):
        fv.render(cnn, "conv2:1", recipe="fancy", progress=False)


def test_nan_during_optimisation_stops_and_names_the_step() -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1))
    exploding = keras.layers.Lambda(lambda x: tf.math.log(x - 0.5), name="log")(inputs)  # NaN below 0.5
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="conv")(exploding))
    with pytest.raises(fv.OptimizationError, match=r"became NaN or infinite at step 1 of 10"):
        fv.render(model, "conv:0", steps=10, recipe=fv.default(learning_rate=0.05), progress=False)


def test_stacked_objectives_score_each_image_by_its_own_objective(cnn) -> None:
    penalised = fv.channel("conv1", [2, 3]) + 0.1 * fv.total_variation()  # regularisers are negative
    stacked = fv.stack(fv.channel("conv2", [1]), penalised)
    assert stacked.size == 3
    result = fv.render(cnn, stacked, steps=24, seed=2, progress=False)
    assert result.labels == ["conv2:1", "conv1:2", "conv1:3"]
    expected = np.concatenate(
        [
            channel_means(cnn, "conv2", result.inputs[:1], [1]),
            channel_means(cnn, "conv1", result.inputs[1:], [2, 3]),
        ]
    )
    tv = np.abs(np.diff(result.inputs, axis=1)).mean(axis=(1, 2, 3)) + np.abs(np.diff(result.inputs, axis=2)).mean(
        axis=(1, 2, 3)
    )
    reached = result.values + np.array([0.0, 0.1, 0.1]) * tv  # the penalty applies to images 1 and 2 only
    np.testing.assert_allclose(reached, expected, rtol=0.05, atol=1e-3)
    # the first image optimised its own channel: rendering that objective alone reaches the same
    alone = fv.render(cnn, fv.channel("conv2", [1]), steps=24, seed=2, progress=False)
    assert result.values[0] > 0.5 * alone.values[0] > 0
    with pytest.raises(fv.ObjectiveError, match="per-image"):
        fv.stack(fv.channel("conv2", 1), fv.layer("conv1"))
    with pytest.raises(fv.ObjectiveError, match="diversity"):
        fv.stack(fv.channel("conv2", [1, 2]) + fv.diversity("conv2"))
