"""Under a tf.distribute strategy the probe splits each batch across replicas and returns the same values."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import tfprobe
    from tfprobe import Probe

    keras.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        rnn = tfprobe.GainModulatedRNN.from_code("bglt_0111", timesteps=2, n_feats=2)
        cnn = keras.Sequential([keras.Input((20, 20, 1)), keras.layers.Conv2D(3, 3, name="conv"),
                                keras.layers.Flatten(), keras.layers.Dense(4, name="out")])
    rng = np.random.default_rng(0)
    scenes = rng.random((7, 100, 100, 1)).astype("float32")
    small = rng.random((9, 20, 20, 1)).astype("float32")

    probe = Probe(rnn, batch_size=5)          # batches of 5 and 2: uneven and single-sided splits
    assert probe.strategy is strategy
    single = Probe(rnn, batch_size=5, strategy=tf.distribute.get_strategy())
    single.strategy = None
    units = ["conv1@t1", "fc1", "conv1.gain.lateral@t0"]
    got = probe.activations(scenes, units, pool="mean", progress=False)
    want = single.activations(scenes, units, pool="mean", progress=False)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], atol=1e-5)
    np.testing.assert_allclose(probe.gradients(scenes, "log_probs", channel=3),
                               single.gradients(scenes, "log_probs", channel=3), atol=1e-5)

    cnn_probe = Probe(cnn, batch_size=4)
    reference = keras.Model(cnn.inputs[0], cnn.get_layer("conv").output)(small).numpy()
    np.testing.assert_allclose(cnn_probe.activations(small, "conv", progress=False)["conv"], reference, atol=1e-5)
    # Dataset examples stream through Probe.map, split across the replicas the same way.
    split = tfprobe.dataset_examples(cnn_probe, ["conv", "out"], small, k=3, progress=False)
    one_device = tf.distribute.OneDeviceStrategy("/cpu:0")
    alone = tfprobe.dataset_examples(cnn, ["conv", "out"], small, k=3, strategy=one_device, progress=False)
    for unit in split:
        np.testing.assert_array_equal(split[unit].indices, alone[unit].indices)
        np.testing.assert_allclose(split[unit].scores, alone[unit].scores, atol=1e-5)
    print("OK", strategy.num_replicas_in_sync, cnn_probe.strategy.num_replicas_in_sync)
    """
)


@pytest.mark.heavy
def test_mirrored_strategy_over_two_logical_cpus_matches_one_device() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "OK 2 2" in result.stdout
