"""Expanded weights against the linearised network itself, fed impulses (no code shared with the library)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import tfprobe
from tfprobe.circuits import NotComposableError, expanded_weights, receptive_field
from tfprobe.errors import UnknownUnitError


def _random_biases(model: keras.Model) -> None:
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.normal(size=layer.bias.shape))
        if isinstance(layer, keras.layers.BatchNormalization):
            for weight in (layer.gamma, layer.beta, layer.moving_mean):
                weight.assign(rng.normal(size=weight.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=layer.moving_variance.shape))


@pytest.fixture(scope="module")
def net() -> keras.Model:
    """conv1 -> relu -> conv2 -> maxpool -> bn -> conv3 (stride 2) -> conv4 (dilated)."""
    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((40, 40, 3)),
            keras.layers.Conv2D(4, 3, name="conv1"),
            keras.layers.ReLU(name="relu1"),
            keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="conv3"),
            keras.layers.Conv2D(3, 2, dilation_rate=2, name="conv4"),
        ]
    )
    _random_biases(model)
    return model


def linear_copy(model: keras.Model, first: str, last: str, size: int) -> keras.Model:
    """The layers after ``first`` up to ``last`` with activations removed, max pooling averaged, 'valid'
    windows, same weights (biases and batch-norm shifts kept: the test subtracts the response to zero)."""
    names = [layer.name for layer in model.layers]
    inputs = keras.Input((size, size, model.get_layer(first).filters))
    x = inputs
    for layer in model.layers[names.index(first) + 1 : names.index(last) + 1]:
        config = layer.get_config()
        if isinstance(layer, keras.layers.ReLU):
            continue
        if isinstance(layer, keras.layers.MaxPooling2D):
            copy = keras.layers.AveragePooling2D(layer.pool_size, layer.strides, "valid")
        else:
            if "activation" in config:
                config["activation"] = "linear"
            if "padding" in config:
                config["padding"] = "valid"
            copy = type(layer).from_config({**config, "name": f"copy_{layer.name}"})
        x = copy(x)
        copy.set_weights(layer.get_weights())
    return keras.Model(inputs, x)


def impulse_kernel(copy: keras.Model, size: int, channels: int) -> np.ndarray:
    """Response of the copy's single output position to a unit impulse at every input pixel and channel."""
    impulses = np.eye(size * size * channels, dtype=np.float32).reshape(-1, size, size, channels)
    zero = np.zeros((1, size, size, channels), np.float32)
    out = copy.predict(impulses, verbose=0, batch_size=512) - copy.predict(zero, verbose=0)
    assert out.shape[1:3] == (1, 1)
    return out[:, 0, 0, :].reshape(size, size, channels, -1)


@pytest.mark.parametrize(
    ("first", "last", "size"),
    [
        ("conv1", "conv3", 8),  # conv2 (3) -> pool 2/2 -> conv3: (3 - 1) * 2 + 2 + 2 = 8
        ("conv2", "conv3", 6),  # pool 2/2 then a 3 x 3 kernel, as VGG's block4_conv3 -> block5_conv1
        ("conv2", "conv4", 14),  # ... then a stride-2 conv and a dilated one
    ],
)
def test_equals_the_linearised_network(net: keras.Model, first: str, last: str, size: int) -> None:
    channels = net.get_layer(first).filters
    expected = impulse_kernel(linear_copy(net, first, last, size), size, channels)
    result = expanded_weights(net, first, last)
    assert result.shape == (size, size, channels, net.get_layer(last).filters)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-5)
    assert receptive_field(net, first, last)[0] == (size, size)


def test_adjacent_layers_give_the_kernel(net: keras.Model) -> None:
    np.testing.assert_array_equal(expanded_weights(net, "conv1", "conv2"), net.get_layer("conv2").get_weights()[0])
    dilated = expanded_weights(net, "conv3", "conv4")  # over conv3's grid: taps 2 pixels apart
    assert dilated.shape == (3, 3, 6, 3)
    np.testing.assert_array_equal(dilated[::2, ::2], net.get_layer("conv4").get_weights()[0])
    assert not dilated[1].any() and not dilated[:, 1].any()
    assert receptive_field(net, "conv2", "conv3") == ((6, 6), (4, 4))  # pool 2 and conv3 stride 2
    assert receptive_field(net, "conv1", "conv4") == ((16, 16), (4, 4))


def test_no_pooling_composes_the_kernels() -> None:
    """Two 3 x 3 convolutions compose into the full convolution of their kernels (5 x 5)."""
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((10, 10, 2)),
            keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="a"),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="b"),
            keras.layers.Conv2D(5, 3, padding="same", name="c"),
        ]
    )
    kb, kc = model.get_layer("b").get_weights()[0], model.get_layer("c").get_weights()[0]
    expected = np.zeros((5, 5, 3, 5))
    # out[y] = sum_i kc[i] mid[y + i] and mid[z] = sum_p kb[p] x[z + p], so x[y + i + p] gets kb[p] kc[i]
    for i in range(3):
        for j in range(3):
            for p in range(3):
                for q in range(3):
                    expected[i + p, j + q] += kb[p, q] @ kc[i, j]
    np.testing.assert_allclose(expanded_weights(model, "a", "c"), expected, rtol=1e-5, atol=1e-6)


def test_nested_model_names() -> None:
    inner = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            keras.layers.Conv2D(2, 3, name="c1"),
            keras.layers.MaxPooling2D(name="p1"),
            keras.layers.Conv2D(3, 3, name="c2"),
        ],
        name="inner",
    )
    model = keras.Sequential([keras.Input((12, 12, 3)), inner])
    expected = expanded_weights(inner, "c1", "c2")
    np.testing.assert_array_equal(expanded_weights(model, "inner/c1", "inner/c2"), expected)


def test_recurrent_network_conv1_to_conv2() -> None:
    model = tfprobe.GainModulatedRNN(timesteps=1)
    result = expanded_weights(model, "conv1", "conv2")
    assert result.shape == (15, 15, 8, 16)  # 3 x 3 pooling, then 5 x 5: (5 - 1) * 3 + 3
    impulses = np.eye(15 * 15 * 8, dtype=np.float32).reshape(-1, 15, 15, 8)
    pooled = impulses.reshape(-1, 5, 3, 5, 3, 8).mean(axis=(2, 4))
    response = model.conv2(pooled).numpy() - model.conv2(np.zeros((1, 5, 5, 8), np.float32)).numpy()
    np.testing.assert_allclose(result, response[:, 0, 0].reshape(15, 15, 8, 16), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="from 'conv1' to 'conv2'"):
        expanded_weights(model, "conv2", "fc1")


def test_bad_layers(net: keras.Model) -> None:
    with pytest.raises(TypeError, match="'pool' is a MaxPooling2D"):
        expanded_weights(net, "pool", "conv3")
    with pytest.raises(ValueError, match="'conv3' is not upstream of 'conv1'"):
        expanded_weights(net, "conv3", "conv1")
    with pytest.raises(ValueError, match="not upstream"):
        expanded_weights(net, "conv2", "conv2")
    with pytest.raises(UnknownUnitError, match="did you mean 'conv3'"):
        expanded_weights(net, "conv_3", "conv4")


@pytest.mark.parametrize(
    ("between", "message"),
    [
        (lambda x: keras.layers.Activation("softmax", name="soft")(x), "'soft' applies 'softmax'"),
        (lambda x: keras.layers.LayerNormalization(name="norm")(x), r"'norm' \(LayerNormalization\)"),
        (lambda x: keras.layers.Add(name="add")([x, x]), r"'add' \(Add\).*joins 2 branches"),
        (lambda x: keras.layers.Multiply(name="mul")([x, x]), r"'mul' \(Multiply\)"),
    ],
)
def test_non_composable_layers_are_named(between, message: str) -> None:
    inputs = keras.Input((10, 10, 2))
    x = keras.layers.Conv2D(3, 3, name="first")(inputs)
    x = keras.layers.Conv2D(4, 3, name="last")(between(x))
    model = keras.Model(inputs, x)
    with pytest.raises(NotComposableError, match=message):
        expanded_weights(model, "first", "last")
