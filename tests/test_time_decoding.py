"""Decoding through layers and time steps (Figure 3A): axes, parity with one decode call, files, figures."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tfprobe import GainModulatedRNN, decode
from tfprobe.datasets import ClutteredScenes
from tfprobe.decoding.splits import HoldOut
from tfprobe.recurrent import TimeDecodingResult, decode_through_time


@pytest.fixture(scope="module")
def model() -> GainModulatedRNN:
    import keras

    keras.utils.set_random_seed(2)
    return GainModulatedRNN.from_code("bglt_0111", timesteps=3, n_feats=2, jit_compile=False)


@pytest.fixture(scope="module")
def generator(scene_sources):
    digits, fashion = scene_sources
    return lambda: ClutteredScenes("test", seed=6, digits=digits, fashion=fashion)


@pytest.fixture(scope="module")
def result(model, generator) -> TimeDecodingResult:
    return decode_through_time(model, generator(), n=80, repetitions=2, n_test=20, batch_size=40)


def test_axes_as_the_original(result) -> None:
    acc = result.activations
    assert acc.dims == ("layer", "timestep", "variable", "image_type", "repetition")
    assert acc.axes["layer"] == ["input", "conv1", "conv2", "fc1"]
    assert acc.axes["timestep"] == [1, 2, 3]
    assert acc.axes["variable"] == ["category", "domain", "x", "y", "scale", "orientation"]
    assert acc.axes["image_type"] == ["cluttered", "clean"] and acc.shape[-1] == 2
    assert np.all((acc.values >= 0) & (acc.values <= 1))
    np.testing.assert_allclose(acc.values * 20, np.round(acc.values * 20), atol=1e-9)  # shares of 20 test scenes
    assert result.flows.dims == ("layer", "transition", "variable", "image_type", "repetition")
    assert result.flows.axes["transition"] == [1, 2] and result.flows.attrs["kinds"] == ["gain"]
    assert result.readout_accuracy.shape == (2, 2)
    # Clean images put the target alone in one of four places: its location is read from the input at once.
    assert result.activations.sel(layer="input", timestep=1, variable="x", image_type="clean").mean() >= 0.9


def test_cells_equal_a_direct_decode_of_the_same_scenes(result, model, generator) -> None:
    scenes = generator().sample(80)  # the first repetition's scenes
    out = model(scenes.clean, return_activations=True)
    features = {
        "conv2@t2": np.asarray(out.activations["conv2"][1]).reshape(80, -1),
        "flow:fc1@t1": np.asarray(out.flows["fc1"]["gain"][0]).reshape(80, -1),
    }
    direct = decode(
        features, {"scale": scenes.labels["scale"]}, cv=HoldOut(20), classifier="svm", C=1.0, standardize=False
    )
    got = result.activations.sel(layer="conv2", timestep=2, variable="scale", image_type="clean")[0]
    assert got == pytest.approx(direct.scores[0, 0, 0])
    got_flow = result.flows.sel(layer="fc1", transition=1, variable="scale", image_type="clean")[0]
    assert got_flow == pytest.approx(direct.scores[1, 0, 0])
    readout = np.mean(np.asarray(model(scenes.images)).argmax(-1) == scenes.labels["category"])
    assert result.readout_accuracy.sel(image_type="cluttered")[0] == pytest.approx(readout)


def test_same_seed_same_result_and_given_scenes(result, model, generator) -> None:
    listed = [generator().sample(80)]
    again = decode_through_time(
        model, listed, n_test=20, variables=("category", "x"), layers=("fc1",), image_types="cluttered", flows=False
    )
    assert again.flows is None and again.activations.shape == (1, 3, 2, 1, 1)
    for variable in ("category", "x"):
        np.testing.assert_array_equal(
            again.activations.sel(layer="fc1", variable=variable, image_type="cluttered")[:, 0],
            result.activations.sel(layer="fc1", variable=variable, image_type="cluttered")[:, 0],
        )


def test_auxiliary_summaries(result) -> None:
    aux = result.auxiliary()
    assert aux.dims == ("layer", "timestep", "group", "repetition")
    acc = result.activations
    location = (acc.sel(variable="x", image_type="cluttered") + acc.sel(variable="y", image_type="cluttered")) / 2
    np.testing.assert_allclose(aux.sel(group="location"), location)
    expected = np.mean(
        [
            location,
            acc.sel(variable="scale", image_type="cluttered"),
            acc.sel(variable="orientation", image_type="cluttered"),
        ],
        axis=0,
    )  # (layer, time, rep)
    np.testing.assert_allclose(result.auxiliary_through_time(), expected.mean(axis=(0, 2)))
    np.testing.assert_allclose(result.auxiliary_through_layers(), expected.mean(axis=(1, 2)))
    text = result.summary()
    assert "read-out accuracy" in text and "mean through time" in text


def test_file_round_trip(result, tmp_path) -> None:
    path = result.save(tmp_path / "decoding.h5")
    loaded = TimeDecodingResult.load(path)
    np.testing.assert_array_equal(loaded.activations.values, result.activations.values)
    np.testing.assert_array_equal(loaded.flows.values, result.flows.values)
    assert loaded.activations.axes == result.activations.axes
    with h5py.File(path) as f:
        assert f["activations"].attrs["dims"] == '["layer", "timestep", "variable", "image_type", "repetition"]'
    with pytest.raises(FileExistsError):
        result.save(path)


def test_figures(result, tmp_path) -> None:
    from tfprobe.figures import plot_auxiliary_through_time, plot_decoding_through_time, plot_flow_decoding

    figure = plot_decoding_through_time(result, tmp_path / "fig3a.png")
    assert (tmp_path / "fig3a.png").stat().st_size > 5000
    lines = [line for line in figure.axes[0].lines if line.get_linestyle() != "--"]
    assert len(lines) == 4
    np.testing.assert_allclose(
        lines[3].get_ydata(),
        100 * result.activations.sel(layer="fc1", variable="category", image_type="cluttered").mean(-1),
    )
    chance = next(line for line in figure.axes[0].lines if line.get_linestyle() == "--")
    assert chance.get_ydata()[0] == pytest.approx(5.0)
    assert len(plot_auxiliary_through_time(result, tmp_path / "aux.svg").axes) == 3
    assert len(plot_flow_decoding(result).axes) == 6
    with pytest.raises(ValueError, match="variable 'colour' was not decoded"):
        plot_decoding_through_time(result, variable="colour")


def test_bad_input(model, generator) -> None:
    with pytest.raises(ValueError, match="too few scenes for the split"):
        decode_through_time(model, generator(), n=100, n_test=99, repetitions=1)
    with pytest.raises(ValueError, match="variables must be distinct values among"):
        decode_through_time(model, generator(), variables=("colour",))
    with pytest.raises(ValueError, match="layers must be"):
        decode_through_time(model, generator(), layers=("conv3",))
    with pytest.raises(TypeError, match="ClutteredScenes"):
        decode_through_time(model, np.zeros((4, 100, 100, 1)))
