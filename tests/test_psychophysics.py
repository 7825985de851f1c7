"""Linear probes on frozen backbones, the bisection staircase and the contrast sensitivity function."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tfprobe.datasets import ContrastPairs, sinusoidal_gratings
from tfprobe.psychophysics import (
    ContrastSensitivity,
    PixelPreprocessing,
    TwoAFCProbe,
    bisection_staircase,
    frozen_backbone,
    measure_csf,
    train_probe,
)

SIZE = 32


def _small_network(name: str = "small", fixed: int | None = None):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((fixed, fixed, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    return keras.Model(inputs, x, name=name)


@pytest.fixture(scope="module")
def trained_probe():
    backbone = frozen_backbone(_small_network(), "pool2", input_size=SIZE)
    probe = TwoAFCProbe(backbone, pooling="avg")
    history = train_probe(probe, ContrastPairs(600, size=SIZE, seed=1), epochs=12, verbose=0)
    return probe, history


# ------------------------------------------------------------------------------------------------ staircase


def _weibull(alpha: float, beta: float):
    """2AFC psychometric function; its 75%-correct contrast is alpha * ln(2) ** (1 / beta)."""
    return lambda c: 0.5 + 0.5 * (1 - np.exp(-((np.asarray(c) / alpha) ** beta)))


def test_staircase_finds_known_thresholds_for_many_conditions_at_once() -> None:
    alphas, beta = np.array([0.02, 0.1, 0.3, 0.7]), 3.0
    truth = alphas * np.log(2) ** (1 / beta)
    calls = []

    def observer(contrasts, conditions):
        calls.append(conditions.copy())
        return _weibull(alphas[conditions], beta)(contrasts)

    result = bisection_staircase(observer, 4, max_iterations=30, tolerance=0.01)
    np.testing.assert_allclose(result.thresholds, truth, rtol=0.02)
    assert result.converged.all()
    # One call per round with every staircase still running.
    assert len(calls) == result.iterations.max() and list(calls[0]) == [0, 1, 2, 3]
    assert all(len(c) == (result.iterations > k).sum() for k, c in enumerate(calls))
    # Bisection: each test halves the bracket; the first is the middle of [0, 1].
    assert all(c[0] == 0.5 for c in result.contrasts)
    assert json.loads(json.dumps(result.to_dict()))["thresholds"] == pytest.approx(result.thresholds.tolist())


def test_staircase_converges_within_ten_percent_on_a_noisy_observer() -> None:
    rng = np.random.default_rng(0)
    alpha, beta, trials = 0.2, 2.0, 400
    truth = alpha * np.log(2) ** (1 / beta)

    def observer(contrasts, conditions):
        return rng.binomial(trials, _weibull(alpha, beta)(contrasts)) / trials

    result = bisection_staircase(observer, 1, max_iterations=20, tolerance=0.02)
    assert result.thresholds[0] == pytest.approx(truth, rel=0.10)
    assert result.converged[0]


def test_staircase_reports_what_does_not_converge() -> None:
    # Never reaches 75% (threshold above full contrast), always above (below the resolution).
    def observer(contrasts, conditions):
        return np.where(conditions == 0, 0.6, 0.95)

    result = bisection_staircase(observer, 2, max_iterations=12)
    assert not result.converged.any()
    assert result.iterations.tolist() == [12, 12]
    assert result.thresholds[0] > 0.999 and result.thresholds[1] < 1e-3
    assert result.thresholds[0] == pytest.approx(1 - 2**-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": 1.2}, r"target must be an accuracy in \(0, 1\)"),
        ({"low": 0.5, "high": 0.2}, "0 <= low < high <= 1"),
        ({"max_iterations": 0}, "max_iterations must be an int >= 1"),
        ({"tolerance": 0}, "tolerance must be > 0"),
    ],
)
def test_staircase_bad_input(kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bisection_staircase(lambda c, k: np.ones(len(c)), 1, **kwargs)


def test_staircase_checks_the_observer() -> None:
    with pytest.raises(ValueError, match="returned 1 accuracies for 3 conditions"):
        bisection_staircase(lambda c, k: np.ones(1), 3)
    with pytest.raises(ValueError, match=r"proportions correct in \[0, 1\]"):
        bisection_staircase(lambda c, k: np.full(len(c), 13.0), 1)


# ------------------------------------------------------------------------------------------------ backbone


def test_frozen_backbone_cuts_freezes_and_preprocesses() -> None:
    import keras

    from tfprobe.models import load_model

    resnet = load_model("resnet50", weights=None, include_top=False)
    backbone = frozen_backbone(resnet, "conv2_block3_out", input_size=64)
    assert not backbone.trainable and backbone.trainable_weights == []
    assert tuple(backbone.outputs[0].shape[1:]) == (16, 16, 256)
    images = np.random.default_rng(0).uniform(size=(2, 64, 64, 3)).astype(np.float32)
    direct = keras.Model(resnet.inputs[0], resnet.get_layer("conv2_block3_out").output)
    expected = direct(keras.applications.resnet50.preprocess_input(images * 255.0), training=False)
    np.testing.assert_allclose(backbone(images), expected, rtol=1e-4, atol=1e-4)
    # A model tfprobe did not load as an application: no preprocessing unless asked.
    assert backbone.get_layer("preprocessing").mode == "caffe"
    plain = frozen_backbone(_small_network(), "conv1", input_size=16)
    assert plain.get_layer("preprocessing").mode == "none"
    assert (
        frozen_backbone(_small_network(), "conv1", input_size=16, preprocess="mobilenetv2")
        .get_layer("preprocessing")
        .mode
        == "tf"
    )
    scaled = PixelPreprocessing("tf")(np.array([[[[0.0, 0.5, 1.0]]]], np.float32))
    np.testing.assert_allclose(scaled, [[[[-1.0, 0.0, 1.0]]]], atol=1e-6)


def test_frozen_backbone_bad_input() -> None:
    from tfprobe.errors import UnknownUnitError
    from tfprobe.models import load_model

    with pytest.raises(UnknownUnitError, match=r"unknown layer of small 'conv3'; did you mean 'conv2', 'conv1'\?"):
        frozen_backbone(_small_network(), "conv3", input_size=SIZE)
    with pytest.raises(ValueError, match=r"takes inputs of shape \(64, 64, 3\).*cannot take RGB images of 32 x 32"):
        frozen_backbone(_small_network(fixed=64), "conv1", input_size=32)
    vgg = load_model("vgg16", weights=None, include_top=False)
    with pytest.raises(ValueError, match=r"block5_pool.*(cannot process 16 x 16 images|leaves no activations)"):
        frozen_backbone(vgg, "block5_pool", input_size=16)
    with pytest.raises(ValueError, match="preprocess must be 'auto', a family"):
        frozen_backbone(_small_network(), "conv1", input_size=SIZE, preprocess="imagenet")


# ------------------------------------------------------------------------------------------------ probe


def test_probe_learns_contrast_discrimination_on_held_out_pairs(trained_probe) -> None:
    probe, history = trained_probe
    assert set(history.history) >= {"loss", "accuracy"} and len(history.history["loss"]) == 12
    (first, second), labels = ContrastPairs(300, size=SIZE, seed=99).arrays()
    predicted = np.argmax(probe.predict([first, second], verbose=0), axis=1)
    accuracy = float(np.mean(predicted == labels))
    assert accuracy > 0.85, accuracy
    # The backbone did not change: only the Dense read-out has trainable weights.
    assert [w.name for w in probe.trainable_weights] == ["kernel", "bias"]


def test_cached_features_train_the_same_read_out_as_training_through_the_backbone() -> None:
    pairs = ContrastPairs(64, size=SIZE, seed=2)
    trained = []
    for cache in (True, False):
        probe = TwoAFCProbe(frozen_backbone(_small_network(), "pool2", input_size=SIZE), pooling=2)
        history = train_probe(probe, pairs, epochs=2, cache_features=cache, shuffle=False, verbose=0, batch_size=16)
        trained.append((probe.classifier.get_weights(), history.history["loss"]))
    for cached, through in zip(trained[0][0], trained[1][0], strict=True):
        np.testing.assert_allclose(cached, through, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(trained[0][1], trained[1][1], rtol=1e-4)


def test_probe_trains_from_a_dataset_and_reports_validation() -> None:
    probe = TwoAFCProbe(frozen_backbone(_small_network(), "pool1", input_size=SIZE), pooling="avg")
    history = train_probe(
        probe,
        ContrastPairs(64, size=SIZE, seed=3).dataset(batch_size=16),
        validation=ContrastPairs(32, size=SIZE, seed=4).dataset(batch_size=16),
        epochs=2,
        verbose=0,
    )
    assert len(history.history["val_accuracy"]) == 2
    with pytest.raises(ValueError, match=r"first images: expected shape \(n, 32, 32, 3\), got \(4, 16, 16, 3\)"):
        train_probe(probe, ((np.zeros((4, 16, 16, 3)), np.zeros((4, 16, 16, 3))), np.zeros(4)), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="labels must be 0"):
        pairs = np.zeros((2, SIZE, SIZE, 3))
        train_probe(probe, ((pairs, pairs), np.array([0, 2])), epochs=1, verbose=0)
    with pytest.raises(TypeError, match="pairs must be a ContrastPairs"):
        train_probe(probe, [1, 2, 3], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="pooling must be None, 'avg' or an int"):
        TwoAFCProbe(probe.backbone, pooling="max")
    with pytest.raises(ValueError, match="cannot pool 16 x 16 feature maps to 20 x 20"):
        TwoAFCProbe(probe.backbone, pooling=20)


def test_probe_saves_and_loads_as_keras_file(trained_probe, tmp_path) -> None:
    import keras

    probe, _ = trained_probe
    (first, second), _ = ContrastPairs(8, size=SIZE, seed=5).arrays()
    path = tmp_path / "probe.keras"
    probe.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, TwoAFCProbe) and loaded.pooling == "avg" and loaded.standardize
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.1) and loaded.optimizer.momentum == 0.9
    np.testing.assert_allclose(
        loaded.predict([first, second], verbose=0), probe.predict([first, second], verbose=0), atol=1e-5
    )


# ------------------------------------------------------------------------------------------------ CSF


def _reference_csf(probe: TwoAFCProbe, frequencies, orientations, max_iterations: int, tolerance: float):
    """Trial by trial: each trial runs the whole probe on its two images, as the lab's loop does."""

    def accuracy(contrast: float, frequency: float) -> float:
        correct = 0
        for theta in orientations:
            grating = sinusoidal_gratings(SIZE, frequency, theta, contrast, channels=3)
            gray = sinusoidal_gratings(SIZE, frequency, theta, 0.0, channels=3)
            correct += int(np.argmax(probe([gray, grating])[0]) == 1)
            correct += int(np.argmax(probe([grating, gray])[0]) == 0)
        return correct / (2 * len(orientations))

    thresholds = []
    for frequency in frequencies:
        one = bisection_staircase(
            lambda c, k, f=frequency: np.array([accuracy(c[0], f)]),
            1,
            max_iterations=max_iterations,
            tolerance=tolerance,
        )
        thresholds.append(one.thresholds[0])
    return np.array(thresholds)


def test_csf_matches_a_trial_by_trial_reference(trained_probe, tmp_path) -> None:
    probe, _ = trained_probe
    frequencies = [1, 2, 4, 8, 16]
    result = measure_csf(probe, frequencies, n_orientations=5, max_iterations=8, label="pool2")
    reference = _reference_csf(probe, frequencies, np.linspace(0, np.pi, 5), 8, 0.01)
    np.testing.assert_allclose(result.thresholds, reference, rtol=1e-6)
    assert result.sensitivity == pytest.approx(1 / result.thresholds)
    assert result.peak_frequency in frequencies
    assert all(len(c) == n for c, n in zip(result.staircase.contrasts, result.staircase.iterations, strict=True))
    saved = ContrastSensitivity.from_dict(json.loads(result.save(tmp_path / "csf.json").read_text()))
    np.testing.assert_array_equal(saved.thresholds, result.thresholds)
    assert saved.label == "pool2" and saved.staircase.converged.tolist() == result.converged.tolist()


def test_csf_defaults_and_bad_input(trained_probe) -> None:
    probe, _ = trained_probe
    with pytest.raises(ValueError, match=r"above the Nyquist limit of a 32-pixel-wide image \(16 cycles"):
        measure_csf(probe, [4, 17])
    with pytest.raises(TypeError, match="probe must be a TwoAFCProbe"):
        measure_csf(object())
    quick = measure_csf(probe, n_orientations=3, max_iterations=3)
    np.testing.assert_array_equal(quick.frequencies, [1, 2, 4, 8, 16])
    assert quick.staircase.iterations.max() <= 3


def test_figures(trained_probe, tmp_path) -> None:
    from matplotlib.figure import Figure

    from tfprobe.figures import plot_csf, plot_probe_training

    probe, history = trained_probe
    result = measure_csf(probe, [2, 8], n_orientations=3, max_iterations=4, label="pool2")
    figure = plot_csf({"pool2": result, "again": result}, tmp_path / "csf.png")
    assert isinstance(figure, Figure) and len(figure.axes[0].get_lines()) == 6
    assert (tmp_path / "csf.png").stat().st_size > 1000
    curves = plot_probe_training({"pool2": history, "copy": history.history}, tmp_path / "training.png")
    assert len(curves.axes) == 2 and (tmp_path / "training.png").stat().st_size > 1000
    lines = curves.axes[0].get_lines()
    np.testing.assert_allclose(lines[1].get_ydata().max(), 1.0)  # loss normalised by its maximum
    with pytest.raises(ValueError, match="'accuracy' and 'loss'"):
        plot_probe_training({"x": {"loss": [1.0]}})
    with pytest.raises(ValueError, match="expected a ContrastSensitivity"):
        plot_csf({"x": 3})
    with pytest.raises(ValueError, match="expected a suffix"):
        plot_csf(result, tmp_path / "csf.nothing")


def test_grid_pooling_is_area_averaging() -> None:
    import tensorflow as tf

    backbone = frozen_backbone(_small_network(), "conv2", input_size=28)  # 14 x 14 maps: 3 x 3 cells overlap
    probe = TwoAFCProbe(backbone, pooling=3, standardize=False)
    images = np.random.default_rng(0).uniform(size=(2, 28, 28, 3)).astype(np.float32)
    expected = tf.image.resize(backbone(images), (3, 3), method="area")
    np.testing.assert_allclose(probe.features(images), tf.reshape(expected, (2, -1)), atol=1e-5)
