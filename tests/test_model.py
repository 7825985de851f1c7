"""GainModulatedRNN: arguments, input checks, output structure, serialization, training."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfprobe import GainModulatedRNN, ImageInputError
from tfprobe.models import NegativeLogLikelihood, RecurrenceFlags


@pytest.fixture(scope="module")
def small_model() -> GainModulatedRNN:
    keras.utils.set_random_seed(0)
    return GainModulatedRNN.from_code("bglt_0111", timesteps=3, n_feats=2, jit_compile=False)


# ----------------------------------------------------------------------------- arguments
def test_from_code_sets_the_authors_flags():
    model = GainModulatedRNN.from_code("rnn_bglt_1010", timesteps=2, n_feats=2)
    assert model.flags == RecurrenceFlags(bias=True, gain=False, lateral=True, topdown=False)
    assert model.flags.code == "bglt_1010" and model.timesteps == 2 and model.n_feats == 2
    default = GainModulatedRNN()
    assert (default.n_feats, default.kernel_size, default.timesteps, default.flags.code) == (8, 5, 4, "bglt_0111")


@pytest.mark.parametrize("code", ["bglt_012", "bglt_01111", "0111", "bglt_01a1", ""])
def test_unknown_flag_code_is_refused(code):
    with pytest.raises(ValueError, match="expected 'bglt_' followed by four 0/1 digits") as error:
        GainModulatedRNN.from_code(code)
    assert repr(code) in str(error.value)


@pytest.mark.parametrize(("argument", "value"), [("timesteps", 0), ("timesteps", -2), ("timesteps", 1.5),
                                                 ("n_feats", 0), ("timesteps", True)])
def test_bad_sizes_are_refused(argument, value):
    with pytest.raises(ValueError, match=f"{argument} must be an int >= 1, got {value!r}"):
        GainModulatedRNN(**{argument: value})


def test_bad_flag_and_kernel_values_are_refused():
    with pytest.raises(ValueError, match="bias must be a bool"):
        GainModulatedRNN(bias="yes")
    with pytest.raises(ValueError, match=r"kernel_size must be 5.*got 3"):
        GainModulatedRNN(kernel_size=3)


# ----------------------------------------------------------------------------- input checks
@pytest.mark.parametrize(
    ("shape", "dtype", "message"),
    [
        ((2, 28, 28, 1), "float32", r"expected shape \(batch, 100, 100, 1\) \(channels-last\), got \(2, 28, 28, 1\)"),
        ((2, 100, 100, 3), "float32", r"got \(2, 100, 100, 3\)"),
        ((2, 1, 100, 100), "float32", r"got \(2, 1, 100, 100\); this looks channels-first"),
        ((100, 100, 1), "float32", r"got a single image of shape \(100, 100, 1\); add the batch axis"),
        ((100, 100), "float32", r"expected shape \(batch, 100, 100, 1\)"),
        ((2, 100, 100, 1), "uint8", r"expected floating-point images .* got dtype uint8"),
        ((2, 100, 100, 1), "int32", r"got dtype int32"),
    ],
)
def test_bad_images_raise_clear_errors(small_model, shape, dtype, message):
    with pytest.raises(ImageInputError, match=message):
        small_model(np.zeros(shape, dtype=dtype))


def test_non_finite_images_are_refused(small_model):
    images = np.zeros((2, 100, 100, 1), dtype="float32")
    images[1, 4, 7, 0] = np.nan
    with pytest.raises(ImageInputError, match=r"1 NaN/inf values \(first at index \(1, 4, 7, 0\)\)"):
        small_model(images)
    with pytest.raises(ImageInputError, match="NaN/inf"):
        small_model(tf.constant(np.full((1, 100, 100, 1), np.inf, dtype="float32")))


# ----------------------------------------------------------------------------- outputs
def test_outputs_have_the_documented_structure(small_model, images):
    out = small_model(images, return_activations=True)
    assert out.log_probs.shape == (3, 20)
    probabilities = np.exp(out.log_probs.numpy())
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert out.readout.shape == (3, 16 * 2 * 3)
    expected = {"input": (100, 100, 1), "conv1": (32, 32, 2), "conv2": (9, 9, 4), "fc1": (32,)}
    for stage, shape in expected.items():
        assert [tuple(a.shape) for a in out.activations[stage]] == [(3, *shape)] * 3
    # readout is fc1 of every step, concatenated.
    np.testing.assert_allclose(out.readout.numpy(), np.concatenate([a.numpy() for a in out.activations["fc1"]], 1))
    # Bias is off in bglt_0111: absent.  Gain flows exist per active source.
    assert all(out.flows[stage]["bias"] is None for stage in expected)
    gain = out.flows["conv1"]["gain"]
    assert sorted(gain.keys()) == ["from_conv2", "from_fc1", "lateral"]
    assert len(gain) == 2 and gain[0].shape == (3, 96, 96, 2)
    total = sum(gain[source][1] for source in gain.keys())
    np.testing.assert_allclose(gain[1].numpy(), total.numpy(), atol=1e-6)
    assert out.flows["conv2"]["gain"][0].shape == (3, 28, 28, 4)
    assert out.flows["input"]["gain"].keys() == ["from_conv1", "from_conv2", "from_fc1"]
    assert out.flows["fc1"]["gain"].keys() == ["lateral"]
    with pytest.raises(KeyError, match="active sources are"):
        gain["from_input"]
    np.testing.assert_allclose(small_model(images).numpy(), out.log_probs.numpy(), atol=1e-6)


def test_first_time_step_is_the_feedforward_sweep(images):
    keras.utils.set_random_seed(1)
    recurrent = GainModulatedRNN.from_code("bglt_1111", timesteps=2, n_feats=2, jit_compile=False)
    feedforward = GainModulatedRNN.from_code("bglt_1100", timesteps=2, n_feats=2, jit_compile=False)
    recurrent.build()
    feedforward.build()
    for name in ("conv1", "conv2", "fc1", "fc2"):
        getattr(feedforward, name).set_weights(getattr(recurrent, name).get_weights())
    a = recurrent(images, return_activations=True)
    b = feedforward(images, return_activations=True)
    for stage in a.activations:
        np.testing.assert_allclose(a.activations[stage][0].numpy(), b.activations[stage][0].numpy(), atol=1e-6)
    # Without recurrence every step repeats the sweep; with it, step 1 differs.
    np.testing.assert_allclose(b.activations["fc1"][1].numpy(), b.activations["fc1"][0].numpy(), atol=1e-6)
    assert np.abs(a.activations["conv1"][1].numpy() - a.activations["conv1"][0].numpy()).max() > 1e-4
    assert all(flow is None for kinds in b.flows.values() for flow in kinds.values())


@pytest.mark.parametrize(
    ("code", "projection_layers"),
    [("bglt_0000", 0), ("bglt_0100", 0), ("bglt_0110", 3), ("bglt_0101", 6), ("bglt_0111", 9), ("bglt_1111", 18)],
)
def test_switched_off_branches_are_not_built(code, projection_layers):
    model = GainModulatedRNN.from_code(code, timesteps=2, n_feats=2)
    model.build()
    # conv1, conv2, fc1, fc2 plus one layer per active projection and kind.
    assert len(model.layers) == 4 + projection_layers
    assert len(model.weights) == 2 * (4 + projection_layers)


# ----------------------------------------------------------------------------- serialization
def test_config_round_trip_and_keras_file(tmp_path, images):
    keras.utils.set_random_seed(2)
    model = GainModulatedRNN.from_code("bglt_1011", timesteps=2, n_feats=2, jit_compile=False)
    expected = model(images, return_activations=True).numpy()
    config = model.get_config()
    assert {k: config[k] for k in ("n_feats", "kernel_size", "timesteps", "bias", "gain", "lateral", "topdown")} == {
        "n_feats": 2, "kernel_size": 5, "timesteps": 2, "bias": True, "gain": False, "lateral": True, "topdown": True}
    clone = GainModulatedRNN.from_config(config)
    assert clone.flags == model.flags and clone.timesteps == 2

    path = tmp_path / "rnn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, GainModulatedRNN) and loaded.flags.code == "bglt_1011"
    got = loaded(images, return_activations=True).numpy()
    np.testing.assert_array_equal(got.log_probs, expected.log_probs)
    for stage in expected.activations:
        for a, b in zip(got.activations[stage], expected.activations[stage], strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(got.flows["conv1"]["bias"]["lateral"][0],
                                  expected.flows["conv1"]["bias"]["lateral"][0])


def test_xla_and_plain_graph_compute_the_same(images):
    keras.utils.set_random_seed(3)
    plain = GainModulatedRNN.from_code("bglt_1111", timesteps=3, n_feats=2, jit_compile=False)
    plain.build()
    xla = GainModulatedRNN.from_config({**plain.get_config(), "jit_compile": True})
    xla.build()
    xla.set_weights(plain.get_weights())
    a = plain(images, return_activations=True).numpy().flat()
    b = xla(images, return_activations=True).numpy().flat()
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(b[name], a[name], atol=1e-5, err_msg=name)


# ----------------------------------------------------------------------------- training
def test_fit_reduces_the_loss_with_xla_by_default():
    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 64)
    images = rng.uniform(0, 0.2, size=(64, 100, 100, 1)).astype("float32")
    images[labels == 1, 20:40, 20:40] = 0.9  # a bright square marks class 1
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)
    model = GainModulatedRNN.from_code("bglt_0111", timesteps=2, n_feats=2)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=NegativeLogLikelihood())
    assert model.jit_compile is True
    history = model.fit(dataset, epochs=8, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses


def test_user_train_step_under_xla_updates_every_active_weight(images):
    keras.utils.set_random_seed(5)
    model = GainModulatedRNN.from_code("bglt_1111", timesteps=2, n_feats=2)
    model.build()
    optimizer = keras.optimizers.SGD(0.1)
    loss_fn = NegativeLogLikelihood()
    labels = tf.constant([1, 2, 3])
    before = [w.numpy().copy() for w in model.trainable_weights]

    @tf.function(jit_compile=True)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(loss_fn(y, model(x, training=True)))
        gradients = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(gradients, model.trainable_weights, strict=True))
        return loss, gradients

    _, gradients = train_step(tf.constant(images), labels)
    assert all(g is not None for g in gradients)
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights, strict=True)]
    assert all(changed), [w.path for w, c in zip(model.trainable_weights, changed, strict=True) if not c]


def test_negative_log_likelihood_matches_definition():
    log_probs = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype="float32"))
    loss = NegativeLogLikelihood()(np.array([0, 2]), log_probs)
    assert float(loss) == pytest.approx(-(np.log(0.7) + np.log(0.8)) / 2, rel=1e-6)


@pytest.mark.heavy
def test_mirrored_strategy_over_two_logical_cpus_matches_one_device(tmp_path):
    script = textwrap.dedent(
        """
        import numpy as np, tensorflow as tf, keras
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import tfprobe
        from tfprobe.models import NegativeLogLikelihood
        keras.utils.set_random_seed(0)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        with strategy.scope():
            model = tfprobe.GainModulatedRNN.from_code("bglt_0111", timesteps=2, n_feats=2)
            model.compile(optimizer=keras.optimizers.SGD(0.0), loss=NegativeLogLikelihood())
        rng = np.random.default_rng(0)
        images = rng.random((8, 100, 100, 1)).astype("float32")
        labels = rng.integers(0, 20, 8)
        single = model(images).numpy()
        distributed = model.predict(images, batch_size=8, verbose=0)
        np.testing.assert_allclose(distributed, single, atol=1e-5)
        history = model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
        expected = float(np.mean(-single[np.arange(8), labels]))
        assert abs(history.history["loss"][0] - expected) < 1e-4, (history.history, expected)
        print("OK", strategy.num_replicas_in_sync)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OK 2" in result.stdout


def test_initialised_as_pytorch_initialises_the_original() -> None:
    """Every kernel and bias uniform in +-1/sqrt(fan_in) with PyTorch's fan_in, layer by layer."""
    import torch
    from conftest import make_reference

    from tfprobe.recurrent.connections import connections

    reference = make_reference(4, (1, 1, 1, 1))
    keras.utils.set_random_seed(0)
    model = GainModulatedRNN.from_code("bglt_1111", timesteps=4, jit_compile=False)
    for connection in connections(model):
        weight = getattr(reference, connection.torch_name).weight
        fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(weight)
        bound = 1.0 / np.sqrt(fan_in)
        layer = model.get_layer(connection.layer)
        kernel, bias = np.asarray(layer.kernel), np.asarray(layer.bias)
        assert np.abs(kernel).max() <= bound * (1 + 1e-6), connection.layer
        assert np.abs(bias).max() <= bound * (1 + 1e-6), connection.layer
        # Uniform on the whole interval: the extremes are reached and the spread is bound / sqrt(3).
        assert np.abs(kernel).max() >= 0.8 * bound, connection.layer
        if kernel.size >= 1000:
            assert kernel.std() == pytest.approx(bound / np.sqrt(3), rel=0.05), connection.layer
        # Drawn independently: a bias is not a copy of the start of its kernel.
        assert not np.allclose(bias, kernel.ravel()[: bias.size]), connection.layer
