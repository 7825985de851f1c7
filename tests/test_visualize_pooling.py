"""The mask gradient of max pooling that rendering uses: equal to TensorFlow's, swapped in only while tracing."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfprobe.visualize.pooling import fast_max_pool_gradients, masked_max_pool


def _gradient(pool, x: tf.Tensor) -> tuple[np.ndarray, np.ndarray]:
    weights = tf.constant(np.random.default_rng(1).normal(size=pool(x).shape).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = pool(x)
        total = tf.reduce_sum(y * weights)
    return y.numpy(), tape.gradient(total, x).numpy()


@pytest.mark.parametrize("shape", [(2, 8, 8, 3), (2, 7, 9, 2)])
@pytest.mark.parametrize("pool_size", [2, 3, (2, 3)])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_values_and_gradients_equal_tensorflows_max_pooling(shape, pool_size, padding):
    x = tf.constant(np.random.default_rng(0).normal(size=shape).astype("float32"))  # no ties
    ours = _gradient(lambda t: masked_max_pool(t, pool_size, padding), x)
    theirs = _gradient(lambda t: tf.nn.max_pool2d(t, pool_size, pool_size, padding.upper()), x)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1], rtol=0, atol=1e-6)


def _traced_gradient_ops(model: keras.Model, x: tf.Tensor) -> tuple[set[str], np.ndarray]:
    @tf.function
    def gradient(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            total = tf.reduce_sum(tf.square(model(images)))
        return tape.gradient(total, images)

    concrete = gradient.get_concrete_function(x)
    return {op.type for op in concrete.graph.get_operations()}, concrete(x).numpy()


def test_keras_max_pooling_takes_the_mask_gradient_only_inside_the_context():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((12, 12, 2)), keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.MaxPooling2D()]
    )
    x = tf.random.uniform((3, 12, 12, 2))
    plain_ops, plain = _traced_gradient_ops(model, x)
    with fast_max_pool_gradients():
        fast_ops, fast = _traced_gradient_ops(model, x)
    after_ops, _ = _traced_gradient_ops(model, x)
    assert "MaxPoolGrad" in plain_ops and "MaxPoolGrad" in after_ops
    assert "MaxPoolGrad" not in fast_ops
    np.testing.assert_allclose(fast, plain, rtol=1e-5, atol=1e-6)


def test_overlapping_windows_keep_tensorflows_gradient():
    model = keras.Sequential([keras.Input((9, 9, 1)), keras.layers.MaxPooling2D(pool_size=3, strides=2)])
    with fast_max_pool_gradients():
        ops, _ = _traced_gradient_ops(model, tf.random.uniform((1, 9, 9, 1)))
    assert "MaxPoolGrad" in ops


@pytest.mark.parametrize(("jit_compile", "mask"), [(True, True), (False, False)])
def test_render_traces_max_pooling_with_the_mask_gradient_where_xla_compiles_it(jit_compile, mask):
    import importlib

    from tfprobe import visualize as fv

    render_module = importlib.import_module("tfprobe.visualize.render")

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2"),
        ]
    )
    keras_max_pool = keras.src.backend.nn.max_pool
    result = fv.render(model, "conv2", channels=range(2), steps=4, jit_compile=jit_compile, progress=False)
    assert result.images.shape == (2, 16, 16, 1) and np.isfinite(result.images).all()
    backend = render_module._PROBES[model]
    (compiled,) = render_module._COMPILED[backend].values()
    (concrete,) = compiled.traced_run._list_all_concrete_functions_for_serialization()
    graph = concrete.graph.as_graph_def()
    ops = {node.op for function in graph.library.function for node in function.node_def}
    ops |= {node.op for node in graph.node}
    assert "MaxPool" in ops and ("MaxPoolGrad" not in ops) is mask  # without XLA: TensorFlow's own gradient
    assert keras.src.backend.nn.max_pool is keras_max_pool  # Keras' own again once traced
