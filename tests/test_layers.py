"""The XLA-friendly building blocks equal their textbook Keras / TF counterparts."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfprobe.models.layers import BlockedConv2D, SubpixelConv2DTranspose, max_pool_non_overlapping


def _value_and_input_gradient(layer_or_fn, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer_or_fn(inputs)
        # A weighting that differs per element, so that misplaced gradients show.
        weights = tf.reshape(tf.sin(tf.range(1, tf.size(outputs) + 1, dtype=outputs.dtype)), tf.shape(outputs))
        loss = tf.reduce_sum(outputs * weights)
    return outputs.numpy(), tape.gradient(loss, inputs).numpy()


@pytest.mark.parametrize(
    ("kernel_size", "stride", "size", "channels"),
    [(7, 3, 32, (8, 1)), (20, 10, 9, (16, 1)), (16, 10, 9, (16, 8)), (5, 2, 6, (3, 4)), (4, 4, 5, (2, 2))],
)
def test_subpixel_transposed_convolution_equals_conv2d_transpose(kernel_size, stride, size, channels):
    in_channels, out_channels = channels
    rng = np.random.default_rng(kernel_size)
    x = rng.normal(size=(2, size, size, in_channels)).astype("float32")
    reference = keras.layers.Conv2DTranspose(out_channels, kernel_size, strides=stride, padding="valid")
    reference.build(x.shape)
    reference.bias.assign(rng.normal(size=out_channels).astype("float32"))
    fast = SubpixelConv2DTranspose(out_channels, kernel_size, strides=stride)
    fast.build(x.shape)
    fast.set_weights(reference.get_weights())
    expected, expected_grad = _value_and_input_gradient(reference, x)
    got, got_grad = _value_and_input_gradient(fast, x)
    assert got.shape == expected.shape == (2, (size - 1) * stride + kernel_size, (size - 1) * stride + kernel_size,
                                           out_channels)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(got_grad, expected_grad, atol=1e-5)
    compiled = tf.function(fast, jit_compile=True)
    np.testing.assert_allclose(compiled(tf.constant(x)).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("block", [1, 2, 3, 4])
@pytest.mark.parametrize(("padding", "size", "channels"), [("valid", 100, (1, 8)), ("same", 30, (8, 8)),
                                                            ("valid", 17, (3, 5)), ("same", 13, (2, 3))])
def test_blocked_convolution_equals_conv2d(block, padding, size, channels):
    in_channels, out_channels = channels
    rng = np.random.default_rng(block * size)
    x = rng.random((2, size, size, in_channels)).astype("float32")
    reference = keras.layers.Conv2D(out_channels, 5, padding=padding)
    reference.build(x.shape)
    reference.bias.assign(rng.normal(size=out_channels).astype("float32"))
    fast = BlockedConv2D(out_channels, 5, block_size=block, padding=padding)
    fast.build(x.shape)
    fast.set_weights(reference.get_weights())
    expected, expected_grad = _value_and_input_gradient(reference, x)
    got, got_grad = _value_and_input_gradient(fast, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-5)
    np.testing.assert_allclose(got_grad, expected_grad, atol=2e-5)


def test_blocked_convolution_kernel_gradient_equals_conv2d():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.random((2, 40, 40, 1)).astype("float32"))
    kernel = tf.Variable(rng.normal(size=(5, 5, 1, 8)).astype("float32"))
    from tfprobe.models.layers import conv2d_blocked

    grads = []
    for fn in (lambda: tf.nn.conv2d(x, kernel, 1, "VALID"), lambda: conv2d_blocked(x, kernel, 4)):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(fn() ** 2)
        grads.append(tape.gradient(loss, kernel).numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4)


@pytest.mark.parametrize("size", [96, 28, 10])
def test_pooling_equals_max_pool2d_with_first_maximum_gradient(size):
    rng = np.random.default_rng(size)
    # Small integers: many exact ties inside windows, where gradient routing matters.
    x = rng.integers(0, 3, size=(2, size, size, 4)).astype("float32")
    expected, expected_grad = _value_and_input_gradient(lambda t: tf.nn.max_pool2d(t, 3, 3, "VALID"), x)
    got, got_grad = _value_and_input_gradient(max_pool_non_overlapping, x)
    assert got.shape == (2, size // 3, size // 3, 4)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(got_grad, expected_grad, atol=1e-6)
    # The gradient goes to one element per window, not split among ties.
    assert np.count_nonzero(got_grad) <= (size // 3) ** 2 * 2 * 4


def test_pooling_gradient_goes_to_first_tied_maximum_in_row_major_order():
    window = np.zeros((1, 3, 3, 1), dtype="float32")
    window[0, 1, 0, 0] = window[0, 0, 2, 0] = window[0, 2, 2, 0] = 5.0
    inputs = tf.constant(window)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = tf.reduce_sum(max_pool_non_overlapping(inputs))
    gradient = tape.gradient(loss, inputs).numpy()
    expected = np.zeros_like(window)
    expected[0, 0, 2, 0] = 1.0  # row 0 comes before row 1 and row 2
    np.testing.assert_array_equal(gradient, expected)


def test_layers_reject_unsupported_arguments_and_serialize():
    with pytest.raises(ValueError, match="padding='valid'"):
        SubpixelConv2DTranspose(4, 3, strides=2, padding="same")
    with pytest.raises(ValueError, match="equal strides"):
        SubpixelConv2DTranspose(4, 3, strides=(2, 3))
    with pytest.raises(ValueError, match="strides=1"):
        BlockedConv2D(4, 3, strides=2)
    with pytest.raises(ValueError, match="block_size"):
        BlockedConv2D(4, 3, block_size=0)
    with pytest.raises(ValueError, match="square odd kernel"):
        BlockedConv2D(4, 4, padding="same")
    layer = BlockedConv2D(4, 5, block_size=3, padding="same", name="blocked")
    clone = BlockedConv2D.from_config(layer.get_config())
    assert clone.block_size == 3 and clone.padding == "same" and clone.filters == 4
    transposed = SubpixelConv2DTranspose.from_config(SubpixelConv2DTranspose(2, 7, strides=3).get_config())
    assert transposed.strides == (3, 3) and transposed.kernel_size == (7, 7)
