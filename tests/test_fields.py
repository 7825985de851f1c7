"""Receptive fields on the input against the network's own impulse responses: the input pixels whose gradient
reaches one position of a unit fill exactly the field, clipped at the border."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfprobe
from tfprobe import Probe, input_field
from tfprobe.circuits.fields import crop
from tfprobe.errors import InvalidTypeError, InvalidValueError, NotComposableError


def _support(model: keras.Model, unit: str, position: tuple[int, int], size: int) -> tuple[int, int, int, int] | None:
    """Bounding box (top, left, bottom, right; exclusive) of the input pixels that reach ``position`` (None:
    no pixel does, the position sees only padding)."""
    images = tf.random.stateless_uniform((1, size, size, 2), (1, 2), 0.5, 1.0)  # positive: no ReLU is dead
    with tf.GradientTape() as tape:
        tape.watch(images)
        values = Probe(model).forward(images, unit)[unit]
        total = tf.reduce_sum(values[0, position[0], position[1], :])
    reached = np.abs(tape.gradient(total, images).numpy()[0]).sum(axis=-1) > 0
    rows, columns = np.nonzero(reached)
    if rows.size == 0:
        return None
    return rows.min(), columns.min(), rows.max() + 1, columns.max() + 1


def _positive_weights(model: keras.Model) -> keras.Model:
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            layer.set_weights([np.abs(w) + 0.01 for w in layer.get_weights()])
    return model


def _chain() -> keras.Model:
    inputs = keras.Input((29, 29, 2))
    x = keras.layers.ZeroPadding2D(((2, 1), (0, 3)), name="pad")(inputs)
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="same3")(x)
    x = keras.layers.AveragePooling2D(2, name="avg")(x)
    x = keras.layers.Conv2D(3, 3, strides=2, padding="same", name="strided")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(3, 3, dilation_rate=2, name="dilated")(x)
    x = keras.layers.Cropping2D(((1, 0), (0, 1)), name="crop")(x)
    return _positive_weights(keras.Model(inputs, x, name="chain"))


def _branched() -> keras.Model:
    inputs = keras.Input((24, 24, 2))
    stem = keras.layers.Conv2D(3, 3, padding="same", name="stem")(inputs)
    wide = keras.layers.Conv2D(3, 5, padding="same", name="wide")(stem)
    narrow = keras.layers.DepthwiseConv2D(1, name="narrow")(stem)
    added = keras.layers.Add(name="add")([wide, narrow])
    return _positive_weights(keras.Model(inputs, keras.layers.Conv2D(2, 3, strides=2, name="after")(added)))


@pytest.mark.parametrize(
    ("builder", "unit", "size"),
    [
        (_chain, "same3", 29),
        (_chain, "avg", 29),
        (_chain, "strided", 29),
        (_chain, "dilated", 29),
        (_chain, "crop", 29),
        (_branched, "add", 24),
        (_branched, "after", 24),
    ],
)
def test_fields_equal_the_impulse_responses_at_every_position(builder, unit, size) -> None:
    model = builder()
    field = input_field(model, unit)
    rows, columns = Probe(model).units[unit].shape[:2]
    assert field.grid == (rows, columns)
    for position in sorted({(0, 0), (rows - 1, columns - 1), (rows // 2, columns // 3), (0, columns - 1), (1, 1)}):
        top, left, bottom, right = field.box(*position)
        clipped = (max(top, 0), max(left, 0), min(bottom, size), min(right, size))
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            clipped = None  # the field lies wholly in the padding
        assert _support(model, unit, position, size) == clipped, (unit, position, field)


def test_max_pooling_and_relu_fields_contain_the_impulse_response() -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((20, 20, 2))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool")(x)
    # Positive weights on positive images: no ReLU is dead, so some pixel reaches every position (whatever
    # the order the tests run in leaves Keras' random state in).
    model = _positive_weights(keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same", name="top")(x)))
    field = input_field(model, "top")
    assert field.size == (3 + 2 + 2 * 2, 3 + 2 + 2 * 2) and field.stride == (2, 2)
    for position in [(0, 0), (4, 4), (8, 8)]:
        top, left, bottom, right = field.box(*position)
        s_top, s_left, s_bottom, s_right = _support(model, "top", position, 20)  # the maxima only: inside
        assert (
            max(top, 0) <= s_top
            and max(left, 0) <= s_left
            and s_bottom <= min(bottom, 20)
            and s_right <= min(right, 20)
        )


def test_the_recurrent_networks_fields_and_their_note() -> None:
    rnn = tfprobe.GainModulatedRNN.from_code("bglt_0111", timesteps=2, n_feats=2)
    first = input_field(rnn, "conv1@t0")
    assert (first.size, first.stride, first.offset, first.grid) == ((7, 7), (3, 3), (0, 0), (32, 32))
    assert not first.feedforward_only
    second = input_field(rnn, "conv2@t1")
    assert (second.size, second.stride, second.grid) == ((25, 25), (9, 9), (9, 9)) and second.feedforward_only
    assert "whole image" in second.note
    flow = input_field(rnn, "conv1.gain@t0")
    assert flow.size == (5, 5) and flow.grid == (96, 96) and flow.feedforward_only
    # At time step 0 the network is feed-forward: its impulse response is the field.
    scenes = tf.random.stateless_uniform((1, 100, 100, 1), (3, 4), 0.2, 1.0)
    for position in [(0, 0), (31, 31), (10, 20)]:
        with tf.GradientTape() as tape:
            tape.watch(scenes)
            values = Probe(rnn).forward(scenes, "conv1@t0")["conv1@t0"]
            total = tf.reduce_sum(values[0, position[0], position[1], :])
        rows, columns = np.nonzero(np.abs(tape.gradient(total, scenes).numpy()[0, ..., 0]) > 0)
        top, left, bottom, right = first.box(*position)
        assert top <= rows.min() and rows.max() < bottom and left <= columns.min() and columns.max() < right


def test_crops_at_the_border() -> None:
    image = np.arange(36, dtype=np.float32).reshape(6, 6, 1)
    field = tfprobe.circuits.InputField("u", (4, 4), (2, 2), (-1, -1), (6, 6), (3, 3))
    corner, outside = crop(image, field, 0, 0, fill=-1)
    assert outside[0].all() and outside[:, 0].all() and not outside[1:, 1:].any()
    np.testing.assert_array_equal(corner[1:, 1:, 0], image[:3, :3, 0])
    assert (corner[outside] == -1).all()
    far, outside = crop(image, field, 2, 2)
    assert outside[-1].all() and outside[:, -1].all() and not outside[:-1, :-1].any()
    np.testing.assert_array_equal(far[:-1, :-1, 0], image[3:, 3:, 0])


def test_units_without_a_field_are_refused_with_the_reason() -> None:
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    resized = keras.layers.UpSampling2D(name="up")(x)
    flat = keras.layers.Dense(3, name="dense")(keras.layers.Flatten(name="flat")(x))
    model = keras.Model(inputs, [resized, flat])
    with pytest.raises(InvalidTypeError, match="not a spatial map"):
        input_field(model, "dense")
    with pytest.raises(NotComposableError, match="UpSampling2D"):
        input_field(model, "up")
    free = keras.Sequential(
        [keras.Input((None, None, 1)), keras.layers.Conv2D(2, 3, strides=2, padding="same", name="c")]
    )
    with pytest.raises(InvalidValueError, match="image_size"):
        input_field(free, "c")
    assert input_field(free, "c", image_size=(9, 9)).grid == (5, 5)
