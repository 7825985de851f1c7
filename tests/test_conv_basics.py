"""The conv-basics lab: designed center-surround and Gabor filters (DesignedConv2D) and their figures."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from scipy import ndimage

from tfprobe.datasets import square_grating
from tfprobe.figures import plot_activation_grid, plot_filters
from tfprobe.models import DesignedConv2D, designed_filter_names, designed_filters

DEGREES = (0, 45, 90, 135)
#: The test stimuli: square, so the four orientations see the same number of bars.
SIZE = (64, 64)
#: Gabor test frequency: a period of 8 pixels, about the Gabors' wavelength (10 kernel-grid units of
#: 7 / 6 pixel = 8.6 pixels).
GABOR_FREQUENCY = 8.0
#: Edge test frequency: a period of 32 pixels, wide bars with pixels >= 4 px away from any edge.
EDGE_FREQUENCY = 2.0
PHASES = (0.0, np.pi / 2, np.pi, 3 * np.pi / 2)


def original_filters(out_channels: int = 6, K: int = 7, indexing: str = "ij") -> np.ndarray:
    """The tutorial's filters() (PyTorch layout (out, K, K)); ``indexing='ij'`` is the original."""
    grid = np.linspace(-K / 2, K / 2, K).astype(np.float32)
    xx, yy = np.meshgrid(grid, grid, indexing=indexing)
    sigma = 1.1
    gaussian = np.exp(-((xx**2 + yy**2) ** 0.5) / (2 * sigma**2))
    wide_gaussian = np.exp(-((xx**2 + yy**2) ** 0.5) / (2 * (sigma * 2) ** 2))
    center_surround = gaussian - 0.5 * wide_gaussian
    thetas = np.linspace(0, 180, out_channels - 2 + 1)[:-1] * np.pi / 180
    gabors = np.zeros((len(thetas), K, K), np.float32)
    lam = 10
    phi = np.pi / 2
    gaussian = np.exp(-((xx**2 + yy**2) ** 0.5) / (2 * (sigma * 0.4) ** 2))
    for i, theta in enumerate(thetas):
        x = xx * np.cos(theta) + yy * np.sin(theta)
        gabors[i] = gaussian * np.cos(2 * np.pi * x / lam + phi)
    filters = np.concatenate((center_surround[None], -1 * center_surround[None], gabors), axis=0)
    filters /= np.abs(filters).max(axis=(1, 2))[:, None, None]
    filters -= filters.mean(axis=(1, 2))[:, None, None]
    return filters


def respond(layer: DesignedConv2D, images: np.ndarray) -> np.ndarray:
    """The layer's output (n, h, w, C) on (n, h, w) gray images."""
    return keras.ops.convert_to_numpy(layer(images[..., None].astype(np.float32)))


def interior(maps: np.ndarray, size: int = 7) -> np.ndarray:
    """Crop the border of size // 2 pixels that sees the zero padding."""
    border = size // 2
    return maps[:, border:-border, border:-border]


def gratings(degrees=DEGREES, frequency=GABOR_FREQUENCY, phase=0.0) -> np.ndarray:
    return np.stack([square_grating(SIZE, np.deg2rad(d), frequency, mean=0.0, phase=phase) for d in degrees])


# --- the kernel -------------------------------------------------------------------------------------------


def test_kernel_matches_the_original_up_to_the_orientation_convention() -> None:
    ours = designed_filters(4, 7)
    assert ours.shape == (7, 7, 1, 6) and ours.dtype == np.float32
    ours = np.moveaxis(ours[:, :, 0, :], -1, 0)  # (C, K, K) as in the original
    original = original_filters(6, 7)
    # The center-surround channels are symmetric: identical whatever the indexing.
    np.testing.assert_allclose(ours[:2], original[:2], rtol=0, atol=1e-6)
    # Our Gabor of orientation t is the original's computed with x along the columns (indexing='xy')...
    np.testing.assert_allclose(ours[2:], original_filters(6, 7, indexing="xy")[2:], rtol=0, atol=1e-6)
    # ... that is, the original's Gabor transposed: its t = 0 (horizontal bars) is our pi / 2.
    np.testing.assert_allclose(ours[2:], np.transpose(original[2:], (0, 2, 1)), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours[2], original[4], atol=1e-6)  # our 0° is its 90°: vertical-bar detectors
    assert not np.allclose(ours[2], original[2], atol=1e-3)  # the conventions do differ


def test_kernel_normalisation_and_channels() -> None:
    kernel = designed_filters(6, 9, sigma=1.5)[:, :, 0, :]
    assert kernel.shape == (9, 9, 8)
    np.testing.assert_allclose(kernel.sum(axis=(0, 1)), 0.0, atol=1e-5)  # silent on uniform regions
    np.testing.assert_array_equal(kernel[..., 1], -kernel[..., 0])  # OFF is the negative of ON
    gabors_only = designed_filters(3, 5, center_surround=False)
    assert gabors_only.shape == (5, 5, 1, 3)
    three = designed_filters(4, 7, in_channels=3)
    assert three.shape == (7, 7, 3, 6)
    np.testing.assert_allclose(three.sum(axis=2), designed_filters(4, 7)[:, :, 0], atol=1e-6)


def test_names_and_orientations() -> None:
    assert designed_filter_names() == [
        "center-surround on",
        "center-surround off",
        "gabor 0°",
        "gabor 45°",
        "gabor 90°",
        "gabor 135°",
    ]
    assert designed_filter_names(8, center_surround=False)[1] == "gabor 22.5°"
    layer = DesignedConv2D(3)
    assert layer.channel_names == designed_filter_names(3)
    np.testing.assert_allclose(layer.orientations, [0, np.pi / 3, 2 * np.pi / 3])


# --- the layer --------------------------------------------------------------------------------------------


def test_layer_shapes_bias_and_frozen_kernel() -> None:
    layer = DesignedConv2D()
    images = np.random.default_rng(0).normal(size=(2, 20, 30)).astype(np.float32)
    outputs = respond(layer, images)
    assert outputs.shape == (2, 20, 30, 6)  # 'same' padding, stride 1
    assert layer.padding == "same" and layer.strides == (1, 1) and layer.kernel_size == (7, 7)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.bias), np.zeros(6))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.kernel), designed_filters(), atol=0)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    learnable = DesignedConv2D(trainable=True)
    learnable.build((None, 8, 8, 1))
    assert len(learnable.trainable_weights) == 2


def test_layer_with_three_input_channels_sees_the_channel_mean() -> None:
    gray = gratings((30,), frequency=5.0)[..., None]
    layer = DesignedConv2D()
    single = keras.ops.convert_to_numpy(DesignedConv2D()(gray))
    colour = keras.ops.convert_to_numpy(layer(np.repeat(gray, 3, axis=-1)))
    assert keras.ops.convert_to_numpy(layer.kernel).shape == (7, 7, 3, 6)
    np.testing.assert_allclose(colour, single, atol=1e-5)


@pytest.mark.parametrize("phase", PHASES)
def test_each_gabor_prefers_gratings_of_its_orientation(phase: float) -> None:
    layer = DesignedConv2D(4)
    responses = np.abs(interior(respond(layer, gratings(phase=phase)))).mean(axis=(1, 2))  # (stimulus, channel)
    gabors = responses[:, 2:]
    for k, degrees in enumerate(DEGREES):
        column = gabors[:, k]  # gabor k's response to each orientation
        assert np.argmax(column) == k, f"gabor {degrees}°: {column}"
        # by a clear margin (at least 1.34 over phases and these orientations; 1 would be a tie)
        assert column[k] > 1.2 * np.delete(column, k).max()
    # and the orthogonal grating leaves it (nearly) silent
    for k in range(4):
        assert gabors[(k + 2) % 4, k] < 0.05 * gabors[k, k]


@pytest.mark.parametrize("frequency", [GABOR_FREQUENCY, EDGE_FREQUENCY])
def test_center_surround_responds_to_edges_of_every_orientation(frequency: float) -> None:
    layer = DesignedConv2D(4)
    for phase in PHASES:
        outputs = interior(respond(layer, gratings(frequency=frequency, phase=phase)))
        on, off = outputs[..., 0], outputs[..., 1]
        np.testing.assert_array_equal(off, -on)
        strength = np.abs(on).mean(axis=(1, 2))
        assert np.all(np.abs(strength / strength.mean() - 1) <= 0.25), strength


def luminance_edges(image: np.ndarray) -> np.ndarray:
    """Pixels that differ from a 4-neighbour (both sides of every luminance step)."""
    edges = np.zeros(image.shape, bool)
    horizontal = image[:, 1:] != image[:, :-1]
    vertical = image[1:] != image[:-1]
    edges[:, 1:] |= horizontal
    edges[:, :-1] |= horizontal
    edges[1:] |= vertical
    edges[:-1] |= vertical
    return edges


def test_center_surround_response_is_concentrated_at_edges() -> None:
    layer = DesignedConv2D(4)
    images = gratings(frequency=EDGE_FREQUENCY, phase=0.3)
    outputs = interior(respond(layer, images))
    distances = interior(np.stack([ndimage.distance_transform_edt(~luminance_edges(i)) for i in images]))
    for index, degrees in enumerate(DEGREES):
        response = np.abs(outputs[index, ..., 0])
        near, far = distances[index] <= 1, distances[index] >= 4
        assert near.sum() > 100 and far.sum() > 100, f"{degrees}°: too few pixels to compare"
        assert response[near].mean() > 5 * response[far].mean(), degrees
        assert response[far].max() < 1e-4  # the kernel sums to zero: uniform bars give nothing
        assert response[near].mean() > 0.2


# --- saving -----------------------------------------------------------------------------------------------


def test_keras_file_round_trip(tmp_path: Path) -> None:
    inputs = keras.Input((32, 48, 1))
    features = DesignedConv2D(6, 9, sigma=1.3, wavelength=8.0, name="v1")(inputs)
    model = keras.Model(inputs, keras.layers.ReLU()(features))
    sequential = keras.Sequential([keras.Input((32, 48, 3)), DesignedConv2D(2, 5, phase=0.0)])
    images = np.random.default_rng(1).normal(size=(2, 32, 48, 3)).astype(np.float32)
    for index, net in enumerate((model, sequential)):
        batch = images[..., :1] if index == 0 else images
        path = tmp_path / f"net{index}.keras"
        net.save(path)
        loaded = keras.saving.load_model(path)
        expected, got = (keras.ops.convert_to_numpy(n(batch)) for n in (net, loaded))
        np.testing.assert_allclose(got, expected, atol=1e-6)
        assert np.abs(expected).max() > 0.1
        original, restored = net.layers[-1 if index else 1], loaded.layers[-1 if index else 1]
        assert type(restored) is DesignedConv2D
        assert restored.get_config() == original.get_config()
        assert restored.trainable_weights == []


def test_config_round_trip() -> None:
    layer = DesignedConv2D(
        6, 9, center_surround=False, sigma=1.5, wavelength=8.0, phase=0.0, trainable=True, name="designed"
    )
    config = layer.get_config()
    assert {"filters", "kernel_size", "padding", "kernel_initializer"}.isdisjoint(config)
    assert config["n_orientations"] == 6 and config["size"] == 9 and config["center_surround"] is False
    for copy in (DesignedConv2D.from_config(config), keras.layers.deserialize(keras.layers.serialize(layer))):
        assert type(copy) is DesignedConv2D
        assert copy.get_config() == config
        assert copy.name == "designed" and copy.trainable
        assert copy.channel_names == layer.channel_names
        copy.build((None, 16, 16, 1))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(copy.kernel), layer.designed_kernel(1))


# --- errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": 2}, r"size must be an odd int >= 3.*got 2"),
        ({"size": 6}, r"size must be an odd int >= 3 \(an odd kernel.*'same'.*got 6"),
        ({"size": 7.0}, r"size must be an odd int >= 3.*got 7\.0"),
        ({"n_orientations": -1}, r"n_orientations must be an int >= 0, got -1"),
        ({"n_orientations": 0, "center_surround": False}, r"no channels: expected center_surround=True or"),
        ({"sigma": 0.0}, r"sigma must be finite and > 0, got 0\.0"),
        ({"sigma": -1.0}, r"sigma must be finite and > 0, got -1\.0"),
        ({"wavelength": 0}, r"wavelength must be finite and > 0, got 0"),
        ({"wavelength": float("inf")}, r"wavelength must be finite and > 0, got inf"),
        ({"phase": float("nan")}, r"phase must be a finite number"),
    ],
)
def test_bad_designs_are_refused(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        designed_filters(**options)
    with pytest.raises(ValueError, match=message):
        DesignedConv2D(**options)


def test_other_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"in_channels must be an int >= 1, got 0"):
        designed_filters(in_channels=0)
    with pytest.raises(ValueError, match=r"'gabor 0°' filter is zero everywhere.*larger sigma"):
        designed_filters(sigma=0.05)
    with pytest.raises(TypeError, match=r"DesignedConv2D sets filters, padding itself"):
        DesignedConv2D(filters=3, padding="valid")
    with pytest.raises(TypeError, match=r"sets activation, kernel_regularizer itself"):
        DesignedConv2D(activation="relu", kernel_regularizer="l2")


# --- figures ----------------------------------------------------------------------------------------------


def image_axes(figure) -> list:
    """The panels (a colorbar's axes hold no image)."""
    return [axis for axis in figure.axes if axis.images]


def test_plot_filters(tmp_path: Path) -> None:
    layer = DesignedConv2D(4)
    figure = plot_filters(layer, path=tmp_path / "filters.png")  # unbuilt: the design for one channel
    axes = image_axes(figure)
    assert len(axes) == 6 and len(figure.axes) == 6 + 1  # six panels and one colorbar
    assert [axis.get_title() for axis in axes[:6]] == layer.channel_names
    low, high = axes[0].images[0].get_clim()
    assert low == -high and high == pytest.approx(np.abs(designed_filters()).max())
    assert axes[0].images[0].get_cmap().name == "bwr"
    assert (tmp_path / "filters.png").stat().st_size > 1000
    layer.build((None, 16, 16, 3))  # built: the mean over input channels
    built = plot_filters(layer)
    assert image_axes(built)[0].images[0].get_clim()[1] == pytest.approx(np.abs(designed_filters()).max() / 3)
    twelve = plot_filters(designed_filters(10, center_surround=True)[:, :, 0], names=[str(k) for k in range(12)])
    assert len(image_axes(twelve)) == 12 and len(twelve.axes) == 12 + 1  # two rows, one colorbar
    with pytest.raises(ValueError, match=r"names: expected one per output channel \(6\), got 2"):
        plot_filters(designed_filters(), names=["a", "b"])
    with pytest.raises(ValueError, match=r"kernel must be \(height, width, in_channels, out_channels\)"):
        plot_filters(np.zeros((7, 7)))
    with pytest.raises(ValueError, match=r"expected a built convolution layer"):
        plot_filters(keras.layers.Conv2D(2, 3))
    with pytest.raises(ValueError, match=r"expected a suffix naming a format.*got \.txt"):
        plot_filters(layer, path=tmp_path / "filters.txt")
    assert not (tmp_path / "filters.txt").exists()


def test_plot_activation_grid(tmp_path: Path) -> None:
    layer = DesignedConv2D(4)
    stimuli = gratings((0, 90), frequency=4.0)
    activations = respond(layer, stimuli)
    path = tmp_path / "activations.png"
    figure = plot_activation_grid(
        stimuli, activations, channels=[0, 2, 4], names=layer.channel_names, stimulus_titles=["0°", "90°"], path=path
    )
    axes = image_axes(figure)
    assert len(axes) == 2 * (1 + 3) and len(figure.axes) == 2 * (1 + 3) + 1  # and one colorbar
    assert [axis.get_title() for axis in axes[:4]] == ["stimulus", "center-surround on", "gabor 0°", "gabor 90°"]
    assert axes[0].images[0].get_cmap().name == "gray" and axes[0].get_ylabel() == "0°"
    limit = np.abs(activations[..., [0, 2, 4]]).max()
    assert axes[1].images[0].get_clim() == pytest.approx((-limit, limit))
    assert path.stat().st_size > 1000
    assert len(image_axes(plot_activation_grid(stimuli[..., None], activations))) == 2 * 7
    with pytest.raises(ValueError, match=r"activations: expected one map per stimulus \(2\), got 1"):
        plot_activation_grid(stimuli, activations[:1])
    with pytest.raises(ValueError, match=r"channels must be in \[0, 5\] \(activations have 6\), got \[6\]"):
        plot_activation_grid(stimuli, activations, channels=[1, 6])
    with pytest.raises(ValueError, match=r"activations must be \(n, height, width, channels\)"):
        plot_activation_grid(stimuli, activations[..., 0])
    with pytest.raises(ValueError, match=r"stimuli must be \(n, height, width\)"):
        plot_activation_grid(stimuli[0], activations)
    with pytest.raises(ValueError, match=r"names: expected one per activation channel \(6\), got 3"):
        plot_activation_grid(stimuli, activations, channels=[0, 1, 2], names=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"stimulus_titles: expected one per stimulus \(2\), got 1"):
        plot_activation_grid(stimuli, activations, stimulus_titles=["only one"])
    with pytest.raises(ValueError, match=r"expected a suffix naming a format"):
        plot_activation_grid(stimuli, activations, path=tmp_path / "grid")
