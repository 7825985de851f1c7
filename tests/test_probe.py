"""Probe: units, activations, pooling and gradients for Keras models and the recurrent network, and the public
forward pass, graph tensors, channel selection and reruns with replaced flows that every wing builds on."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfprobe
from tfprobe import Probe
from tfprobe.errors import ImageInputError, InvalidTypeError, InvalidValueError, TfprobeError, UnsupportedError
from tfprobe.probing.units import UnknownUnitError


def small_cnn() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1), name="pixels"),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv2"),
            keras.layers.Dropout(0.5, name="drop"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(10, name="logits"),
        ],
        name="small_cnn",
    )


@pytest.fixture(scope="module")
def cnn() -> keras.Model:
    return small_cnn()


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return np.random.default_rng(0).random((23, 28, 28, 1)).astype("float32")


def direct(model: keras.Model, layer: str, images: np.ndarray) -> np.ndarray:
    return keras.Model(model.inputs[0], model.get_layer(layer).output)(images, training=False).numpy()


def test_units_of_a_sequential_model(cnn) -> None:
    probe = Probe(cnn)
    units = probe.units
    assert list(units) == ["pixels", "conv1", "pool1", "conv2", "drop", "flat", "logits"]
    assert units["conv1"].shape == (26, 26, 6) and units["logits"].shape == (10,)
    assert units["pixels"].kind == "input" and units["conv2"].kind == "layer"
    assert probe.input_shape == (28, 28, 1)
    assert "conv2" in probe.summary() and "(11, 11, 8)" in probe.summary()


def test_activations_equal_the_layers_outputs(cnn, digits) -> None:
    probe = Probe(cnn, batch_size=5)
    acts = probe.activations(digits, ["conv2", "logits", "drop"], progress=False)
    assert set(acts) == {"conv2", "logits", "drop"}
    for name in acts:
        assert acts[name].dtype == np.float32 and len(acts[name]) == 23
        np.testing.assert_allclose(acts[name], direct(cnn, name, digits), atol=1e-5)
    np.testing.assert_allclose(acts["logits"], cnn.predict(digits, verbose=0), atol=1e-5)  # dropout is off


def test_batch_size_and_stimulus_forms_do_not_change_results(cnn, digits) -> None:
    probe = Probe(cnn)
    reference = probe.activations(digits, "conv1", batch_size=64, progress=False)["conv1"]
    for stimuli in (
        digits,
        digits[..., 0],  # grayscale without its channel axis
        tf.data.Dataset.from_tensor_slices(digits),  # single images: batched by the probe
        tf.data.Dataset.from_tensor_slices((digits, np.arange(23))).batch(4),  # batches with labels
        tf.data.Dataset.from_tensor_slices({"images": digits}).batch(7),
    ):
        values = probe.activations(stimuli, "conv1", batch_size=3, progress=False)["conv1"]
        np.testing.assert_allclose(values, reference, atol=1e-6)


def torch_adaptive(values: np.ndarray, side: int, reducer: str) -> np.ndarray:
    import torch

    tensor = torch.from_numpy(np.moveaxis(values, -1, 1).copy())
    pool = torch.nn.functional.adaptive_avg_pool2d if reducer == "mean" else torch.nn.functional.adaptive_max_pool2d
    return np.moveaxis(pool(tensor, side).numpy(), 1, -1)


@pytest.mark.parametrize(
    ("pool", "check"),
    [
        ("mean", lambda full: full.mean(axis=(1, 2))),
        ("max", lambda full: full.max(axis=(1, 2))),
        (3, lambda full: torch_adaptive(full, 3, "mean")),
        (5, lambda full: torch_adaptive(full, 5, "mean")),
        (("max", 4), lambda full: torch_adaptive(full, 4, "max")),
    ],
)
def test_pooling_matches_its_definition(cnn, digits, pool, check) -> None:
    probe = Probe(cnn)
    full = probe.activations(digits, ["conv1", "logits"], progress=False)
    pooled = probe.activations(digits, ["conv1", "logits"], pool=pool, progress=False)
    np.testing.assert_allclose(pooled["conv1"], check(full["conv1"]), atol=1e-5)
    np.testing.assert_array_equal(pooled["logits"], full["logits"])  # vectors are left alone


def test_nested_application_layers_are_units() -> None:
    keras.utils.set_random_seed(1)
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            vgg,
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(5, name="out"),
        ]
    )
    probe = Probe(model)
    assert "vgg16/block3_conv1" in probe.units and probe.units["vgg16/block3_conv1"].shape == (8, 8, 256)
    assert "vgg16" in probe.units and "gap" in probe.units
    images = np.random.default_rng(2).random((3, 32, 32, 3)).astype("float32")
    acts = probe.activations(images, ["vgg16/block3_conv1", "vgg16/block5_pool", "out"], progress=False)
    inner = keras.Model(vgg.inputs[0], vgg.get_layer("block3_conv1").output)(images).numpy()
    np.testing.assert_allclose(acts["vgg16/block3_conv1"], inner, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(acts["out"], model(images).numpy(), rtol=1e-5, atol=1e-5)
    # the application on its own, and a sub-model cut at one of its layers
    direct_probe = Probe(vgg)
    assert "block1_conv1" in direct_probe.units
    cut = keras.Model(vgg.inputs[0], vgg.get_layer("block2_pool").output)
    assert list(Probe(cut).units)[-1] == "block2_pool"
    np.testing.assert_allclose(
        Probe(cut).activations(images, "block2_pool", progress=False)["block2_pool"], cut(images).numpy(), atol=1e-5
    )


def test_unknown_units_suggest_the_closest(cnn) -> None:
    probe = Probe(cnn)
    with pytest.raises(UnknownUnitError, match=r"unknown unit 'conv3'; did you mean 'conv2', 'conv1'\?"):
        probe.activations(np.zeros((1, 28, 28, 1), "float32"), "conv3")
    with pytest.raises(ValueError, match="no units requested"):
        probe.resolve([])
    with pytest.raises(TypeError, match="units must be names"):
        probe.resolve([3])


def test_subclassed_models_are_refused_clearly() -> None:
    class Custom(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(TypeError, match="subclassed Keras model"):
        Probe(Custom())
    with pytest.raises(TypeError, match=r"Probe wraps a keras\.Model"):
        Probe(lambda x: x)
    unbuilt = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="has no defined input yet"):
        Probe(unbuilt)


@pytest.mark.parametrize(
    ("stimuli", "message"),
    [
        (
            np.zeros((4, 1, 28, 28), "float32"),
            r"expected stimuli of shape \(n, 28, 28, 1\), got \(4, 1, 28, 28\); "
            r"this looks channels-first",
        ),
        (np.zeros((28, 28, 1), "float32"), r"single stimulus: add the batch axis"),
        (np.zeros((4, 32, 32, 1), "float32"), r"got \(4, 32, 32, 1\)"),
        (np.zeros((0, 28, 28, 1), "float32"), r"holds no stimuli"),
        (np.array([["a"]]), r"must be a numeric array, got dtype <U1"),
    ],
)
def test_stimuli_of_the_wrong_shape(cnn, stimuli, message) -> None:
    with pytest.raises(ImageInputError, match=message):
        Probe(cnn).activations(stimuli, "conv1", progress=False)


def test_bad_datasets_and_options(cnn) -> None:
    probe = Probe(cnn)
    with pytest.raises(ImageInputError, match="infinite"):
        probe.activations(tf.data.Dataset.from_tensors(np.zeros((28, 28, 1), "float32")).repeat(), "conv1")
    with pytest.raises(ImageInputError, match=r"stimulus dataset: expected stimuli of shape \(n, 28, 28, 1\)"):
        probe.activations(tf.data.Dataset.from_tensor_slices(np.zeros((2, 5, 5), "float32")), "conv1")
    with pytest.raises(ValueError, match="pool must be None, 'mean', 'max'"):
        probe.activations(np.zeros((1, 28, 28, 1), "float32"), "conv1", pool="median")
    with pytest.raises(ValueError, match="cannot pool a 26x26 map to 30x30"):
        probe.activations(np.zeros((1, 28, 28, 1), "float32"), "conv1", pool=30, progress=False)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        Probe(cnn, batch_size=0)


# --------------------------------------------------------------------------- gradients


def tape_gradient(model: keras.Model, layer: str, images: np.ndarray, fn) -> np.ndarray:
    sub = keras.Model(model.inputs[0], model.get_layer(layer).output)
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(fn(sub(x, training=False)))
    return tape.gradient(total, x).numpy()


def test_gradients_of_means_channels_neurons_and_logits(cnn, digits) -> None:
    probe = Probe(cnn, batch_size=4)
    cases = [
        ({}, "conv2", lambda v: tf.reduce_mean(tf.reshape(v, (tf.shape(v)[0], -1)), axis=1)),
        ({"channel": 5}, "conv2", lambda v: tf.reduce_mean(v[..., 5], axis=(1, 2))),
        ({"index": (3, 4, 2)}, "conv2", lambda v: v[:, 3, 4, 2]),
        ({"channel": 7}, "logits", lambda v: v[:, 7]),
        ({"objective": lambda v: tf.reduce_max(v, axis=1)}, "logits", lambda v: tf.reduce_max(v, axis=1)),
    ]
    for options, unit, fn in cases:
        gradient = probe.gradients(digits, unit, **options)
        assert gradient.shape == digits.shape and gradient.dtype == np.float32
        np.testing.assert_allclose(gradient, tape_gradient(cnn, unit, digits, fn), atol=1e-6, err_msg=str(options))
        assert np.abs(gradient).max() > 0


def test_gradient_errors(cnn, digits) -> None:
    probe = Probe(cnn)
    with pytest.raises(IndexError, match="channel 8 out of range for unit 'conv2': it has 8 channels"):
        probe.gradients(digits, "conv2", channel=8)
    with pytest.raises(IndexError, match=r"index \(1, 2\) out of range for unit 'conv2' of shape \(11, 11, 8\)"):
        probe.gradients(digits, "conv2", index=(1, 2))
    with pytest.raises(ValueError, match="at most one of channel, index and objective"):
        probe.gradients(digits, "conv2", channel=1, index=(1, 1, 1))
    with pytest.raises(ValueError, match="one value per stimulus"):
        probe.gradients(digits, "conv2", objective=lambda v: v)


# --------------------------------------------------------------------------- the recurrent network


@pytest.fixture(scope="module")
def rnn() -> tfprobe.GainModulatedRNN:
    keras.utils.set_random_seed(3)
    return tfprobe.GainModulatedRNN.from_code("bglt_1111", timesteps=3, n_feats=4)


@pytest.fixture(scope="module")
def scenes() -> np.ndarray:
    return np.random.default_rng(4).random((7, 100, 100, 1)).astype("float32")


def test_recurrent_units_by_layer_time_and_flow(rnn) -> None:
    probe = Probe(rnn)
    units = probe.units
    assert units["conv1@t2"].shape == (32, 32, 4) and units["conv1@t2"].timestep == 2
    assert units["fc1@t0"].shape == (64,) and units["readout"].shape == (192,)
    assert units["conv1.gain.from_fc1@t1"].kind == "flow" and units["conv1.gain.from_fc1@t1"].source == "from_fc1"
    assert units["input.bias@t0"].shape == (100, 100, 1) and units["conv1.bias.lateral@t0"].shape == (96, 96, 4)
    assert "conv1.gain@t2" not in units  # flows go from t to t + 1
    assert probe.resolve("conv2") == ["conv2@t0", "conv2@t1", "conv2@t2"]
    assert probe.resolve(["fc1.gain.lateral", "fc1@t1", "fc1@t1"]) == [
        "fc1.gain.lateral@t0",
        "fc1.gain.lateral@t1",
        "fc1@t1",
    ]
    without_lateral = Probe(tfprobe.GainModulatedRNN.from_code("bglt_0101", timesteps=2, n_feats=2))
    assert not any(".lateral" in name for name in without_lateral.units)
    assert "fc1.gain@t0" not in without_lateral.units  # nothing modulates fc1 without lateral recurrence


def test_recurrent_activations_equal_the_models_outputs(rnn, scenes) -> None:
    probe = Probe(rnn, batch_size=3)
    names = ["input@t1", "conv1@t2", "fc1@t0", "conv2.bias@t1", "conv1.gain.from_conv2@t0", "readout", "log_probs"]
    acts = probe.activations(scenes, names, progress=False)
    out = rnn(scenes, return_activations=True).numpy()
    expected = {
        "input@t1": out.activations["input"][1],
        "conv1@t2": out.activations["conv1"][2],
        "fc1@t0": out.activations["fc1"][0],
        "conv2.bias@t1": out.flows["conv2"]["bias"][1],
        "conv1.gain.from_conv2@t0": out.flows["conv1"]["gain"]["from_conv2"][0],
        "readout": out.readout,
        "log_probs": out.log_probs,
    }
    for name, value in expected.items():
        np.testing.assert_allclose(acts[name], value, atol=1e-5, err_msg=name)


def test_recurrent_unit_errors(rnn) -> None:
    probe = Probe(rnn)
    with pytest.raises(
        UnknownUnitError,
        match=r"time step 5 of 'conv1' is out of range: bglt_1111 with 3 time "
        r"steps has conv1@t0 to conv1@t2",
    ):
        probe.resolve("conv1@t5")
    with pytest.raises(UnknownUnitError, match=r"time step 2 of 'conv1.gain' is out of range.*conv1.gain@t1"):
        probe.resolve("conv1.gain@t2")
    with pytest.raises(
        UnknownUnitError, match=r"unknown unit 'conv1.gain.from_fc2'; did you mean 'conv1.gain.from_fc1'"
    ):
        probe.resolve("conv1.gain.from_fc2")
    with pytest.raises(ValueError, match=r"gradients need a single unit, 'fc1' stands for 3"):
        probe.gradients(np.zeros((1, 100, 100, 1), "float32"), "fc1")


def test_recurrent_gradients_match_a_tape(rnn, scenes) -> None:
    probe = Probe(rnn, batch_size=4)
    gradient = probe.gradients(scenes, "log_probs", channel=13)
    x = tf.constant(scenes)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(rnn(x)[:, 13])
    np.testing.assert_allclose(gradient, tape.gradient(total, x).numpy(), atol=1e-6)
    assert gradient.shape == scenes.shape


# --------------------------------------------------------------------------- stimulus values


def test_recurrent_network_refuses_integer_stimuli_as_calling_it_does(rnn) -> None:
    eight_bit = (np.random.default_rng(0).random((2, 100, 100, 1)) * 255).astype(np.uint8)
    with pytest.raises(ImageInputError, match="expected floating-point images with values in \\[0, 1\\]") as probed:
        Probe(rnn).activations(eight_bit, "fc1@t0", progress=False)
    with pytest.raises(ImageInputError) as called:
        rnn(eight_bit)
    assert str(probed.value).split(": ", 1)[1] == str(called.value).split(": ", 1)[1]
    dataset = tf.data.Dataset.from_tensor_slices(eight_bit)
    with pytest.raises(ImageInputError, match="stimulus dataset: expected floating-point images"):
        Probe(rnn).activations(dataset, "fc1@t0", progress=False)
    # a Keras model takes 8-bit images as they are (its own preprocessing decides)
    cnn = small_cnn()
    values = Probe(cnn).activations(np.full((1, 28, 28, 1), 3, np.uint8), "conv1", progress=False)["conv1"]
    np.testing.assert_allclose(values, direct(cnn, "conv1", np.full((1, 28, 28, 1), 3.0, np.float32)), atol=1e-5)


@pytest.mark.parametrize("form", ["array", "dataset of images", "batched dataset"])
def test_nan_and_inf_stimuli_are_refused_with_the_first_ones_index(cnn, digits, form) -> None:
    images = digits.copy()
    images[17, 3, 4] = np.inf
    images[19, 0, 0] = np.nan
    stimuli = {
        "array": images,
        "dataset of images": tf.data.Dataset.from_tensor_slices(images),
        "batched dataset": tf.data.Dataset.from_tensor_slices(images).batch(5),
    }[form]
    with pytest.raises(ImageInputError, match="stimulus 17 holds NaN or infinite values"):
        Probe(cnn, batch_size=4).activations(stimuli, "conv1", progress=False)


def test_progress_shows_a_known_total_for_datasets(cnn, digits, capsys) -> None:
    probe = Probe(cnn, batch_size=5)
    probe.activations(tf.data.Dataset.from_tensor_slices(digits), "conv1")
    assert "23/23 stimuli" in capsys.readouterr().out
    probe.activations(tf.data.Dataset.from_tensor_slices(digits).batch(10), "conv1")
    assert "3/3 batches" in capsys.readouterr().out
    probe.activations(tf.data.Dataset.from_tensor_slices(digits).filter(lambda x: True), "conv1")
    output = capsys.readouterr().out
    assert "23 stimuli" not in output and "Unknown" not in output and "batches" in output


def test_array_likes_are_read_one_batch_at_a_time(cnn, digits) -> None:
    reads = []

    class Lazy:
        shape, dtype = digits.shape, digits.dtype

        def __len__(self) -> int:
            return len(digits)

        def __getitem__(self, key):
            reads.append(key)
            return digits[key]

    values = Probe(cnn, batch_size=10).activations(Lazy(), "conv1", progress=False)["conv1"]
    np.testing.assert_allclose(values, direct(cnn, "conv1", digits), atol=1e-5)
    assert reads == [slice(0, 10), slice(10, 20), slice(20, 30)]


# --------------------------------------------------------------------------- the forward pass every wing reads


@pytest.fixture(scope="module")
def rgb_cnn() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((16, 16, 3), name="pixels"),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(8, 3, name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(5, activation="softmax", name="out"),
        ],
        name="forward_cnn",
    )


def test_forward_equals_the_layers_outputs_and_is_compiled_once(rgb_cnn) -> None:
    probe = Probe(rgb_cnn)
    images = np.random.default_rng(1).random((4, 16, 16, 3)).astype("float32")
    values = probe.forward(images, ["conv2", "out.logits"])
    assert list(values) == ["conv2", "out.logits"] and all(isinstance(v, tf.Tensor) for v in values.values())
    expected = keras.Model(rgb_cnn.inputs, rgb_cnn.get_layer("conv2").output)(images).numpy()
    np.testing.assert_allclose(values["conv2"], expected, rtol=1e-5, atol=1e-6)
    logits = keras.Model(rgb_cnn.inputs, rgb_cnn.get_layer("gap").output)(images) @ rgb_cnn.get_layer("out").kernel
    np.testing.assert_allclose(values["out.logits"], logits + rgb_cnn.get_layer("out").bias, rtol=1e-5, atol=1e-5)
    uncompiled = probe.forward(images, ["conv2", "out.logits"], compiled=False)
    np.testing.assert_allclose(uncompiled["conv2"], values["conv2"], rtol=1e-6)
    # one compiled function for a set of units, reused for other batch sizes without retracing
    probe.forward(images[:3], ["conv2", "out.logits"])
    probe.forward(images[:2], ["conv2", "out.logits"])
    (function,) = [f for f in probe_functions(probe) if f.experimental_get_tracing_count()]
    assert function.experimental_get_tracing_count() <= 2  # the first shape, then one relaxed trace


def probe_functions(probe: Probe) -> list:
    """The tf.functions behind a probe's compiled forward passes (read through the backend for this check)."""
    return list(vars(probe)["_backend"]._forward_functions.values())


def test_forward_gives_input_gradients_under_a_tape(rgb_cnn) -> None:
    probe = Probe(rgb_cnn)
    images = tf.constant(np.random.default_rng(2).random((3, 16, 16, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(probe.forward(images, "conv2")["conv2"][..., 4])
    by_tape = tape.gradient(total, images).numpy()
    assert np.abs(by_tape).sum() > 0
    positions = 5 * 5  # Probe.gradients differentiates the channel's mean over its 5 x 5 positions
    by_probe = probe.gradients(images.numpy(), "conv2", channel=4, progress=False)
    np.testing.assert_allclose(by_probe * positions, by_tape, rtol=1e-4, atol=1e-6)


def test_select_computes_only_chosen_channels(rgb_cnn) -> None:
    probe = Probe(rgb_cnn)
    assert probe.selectable("conv2") and probe.selectable("out.logits") and not probe.selectable("gap")
    images = tf.random.uniform((3, 16, 16, 3), seed=1)
    full = probe.forward(images, ["conv2"])["conv2"]
    index = tf.constant([7, 0, 7])
    picked = probe.forward(images, ["conv2"], compiled=False, select={"conv2": index})["conv2"]
    np.testing.assert_allclose(picked, tf.gather(full, index, axis=-1), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="compiled=False"):
        probe.forward(images, ["conv2"], select={"conv2": index})


def test_tensors_expose_the_keras_graph_and_refuse_the_recurrent_network(rgb_cnn, rnn) -> None:
    tensors = Probe(rgb_cnn).tensors
    assert tensors["conv2"]._keras_history.operation is rgb_cnn.get_layer("conv2")
    with pytest.raises(TypeError):
        tensors["conv2"] = None  # read-only
    with pytest.raises(InvalidTypeError, match="no Keras graph of symbolic tensors"):
        _ = Probe(rnn).tensors


def test_recurrent_forward_reads_activations_and_flows(rnn, scenes) -> None:
    probe = Probe(rnn)
    names = ["conv1@t2", "fc1.gain@t1", "conv1.bias.from_conv2@t0", "log_probs", "logits"]
    values = probe.forward(scenes, names)
    out = rnn(scenes, return_activations=True).numpy()
    np.testing.assert_allclose(values["conv1@t2"], out.activations["conv1"][2], atol=1e-5)
    np.testing.assert_allclose(values["fc1.gain@t1"], out.flows["fc1"]["gain"][1], atol=1e-5)
    np.testing.assert_allclose(
        values["conv1.bias.from_conv2@t0"], out.flows["conv1"]["bias"]["from_conv2"][0], atol=1e-5
    )
    np.testing.assert_allclose(values["log_probs"], out.log_probs, atol=1e-5)
    np.testing.assert_allclose(tf.nn.log_softmax(values["logits"]), out.log_probs, atol=1e-4)
    assert not probe.selectable("conv1@t0")
    with pytest.raises(UnsupportedError, match="select cannot apply"):
        probe.forward(scenes, ["conv1@t0"], compiled=False, select={"conv1@t0": tf.constant([0])})


def test_rerun_with_a_replaced_flow_equals_the_models_own_replacement(rnn, scenes) -> None:
    probe = Probe(rnn)
    baseline = probe.baseline(scenes)
    np.testing.assert_allclose(baseline["log_probs"], rnn(scenes), atol=1e-5)
    assert len(baseline) == len(scenes) and "conv2.gain@t1" in baseline and "conv1@t0" in baseline.units
    unchanged = probe.rerun(baseline, {"conv2.gain@t1": baseline["conv2.gain@t1"]})
    np.testing.assert_allclose(unchanged["log_probs"], baseline["log_probs"], atol=1e-5)
    shuffled = tf.random.shuffle(baseline["conv2.gain@t1"], seed=2)
    rerun = probe.rerun(baseline, {"conv2.gain@t1": shuffled}, ["log_probs", "fc1@t2", "fc1@t1"])
    expected = rnn.run_with_flows(scenes, {("conv2", 1): {"gain": shuffled}}, return_activations=True).numpy()
    np.testing.assert_allclose(rerun["log_probs"], expected.log_probs, atol=1e-5)
    np.testing.assert_allclose(rerun["fc1@t2"], expected.activations["fc1"][2], atol=1e-5)
    np.testing.assert_allclose(rerun["fc1@t1"], baseline["fc1@t1"], atol=1e-6)  # before the replaced step
    assert not np.allclose(rerun["log_probs"], baseline["log_probs"], atol=1e-4)


def test_rerun_errors_name_what_is_expected(rgb_cnn, rnn, scenes) -> None:
    probe = Probe(rnn)
    baseline = probe.baseline(scenes)
    with pytest.raises(InvalidValueError, match=r"only combined recurrent flows can be replaced.*got 'conv1@t0'"):
        probe.rerun(baseline, {"conv1@t0": baseline["conv1@t0"]})
    with pytest.raises(InvalidTypeError, match=r"baseline must come from Probe\.baseline"):
        probe.rerun({"log_probs": 0}, {"conv2.gain@t1": baseline["conv2.gain@t1"]})
    with pytest.raises(UnknownUnitError):
        baseline["conv9@t0"]
    with pytest.raises(UnsupportedError, match="recurrent network's flows") as refused:
        Probe(rgb_cnn).baseline(np.zeros((1, 16, 16, 3), "float32"))
    assert isinstance(refused.value, TfprobeError) and isinstance(refused.value, NotImplementedError)
