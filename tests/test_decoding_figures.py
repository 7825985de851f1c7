"""Decoding figures: bars per unit with SEM, accuracy over time steps with SEM bands, saved files."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.image import imread

from tfprobe.decoding import DecodingResult
from tfprobe.figures.decoding import plot_layerwise, plot_over_time


@pytest.fixture()
def result() -> DecodingResult:
    rng = np.random.default_rng(0)
    units = [f"{layer}@t{t}" for layer in ("conv1", "conv2", "fc1") for t in range(3)]
    return DecodingResult(
        scores=rng.uniform(0.4, 0.9, size=(len(units), 2, 5)),
        units=units,
        targets=("category", "x"),
        chance=np.array([0.05, 0.5]),
    )


def test_layerwise_bars_error_bars_and_chance(result, tmp_path) -> None:
    figure = plot_layerwise(result, target="x", path=tmp_path / "bars.png")
    axis = figure.axes[0]
    heights = [patch.get_height() for patch in axis.patches]
    np.testing.assert_allclose(heights, result.mean[:, 1])
    segments = next(c for c in axis.collections if isinstance(c, LineCollection)).get_segments()
    half_lengths = [abs(seg[1][1] - seg[0][1]) / 2 for seg in segments]
    np.testing.assert_allclose(half_lengths, result.sem[:, 1], rtol=1e-6)
    assert any(np.allclose(line.get_ydata(), 0.5) for line in axis.lines)  # chance
    image = imread(tmp_path / "bars.png")
    assert image.ndim == 3 and image.shape[0] > 100


def test_over_time_lines_and_sem_bands(result, tmp_path) -> None:
    figure = plot_over_time(result, target="category", path=tmp_path / "time.pdf")
    axis = figure.axes[0]
    lines = [line for line in axis.lines if line.get_label() in ("conv1", "conv2", "fc1")]
    assert [line.get_label() for line in lines] == ["conv1", "conv2", "fc1"]
    for layer, line in enumerate(lines):
        np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
        np.testing.assert_allclose(line.get_ydata(), result.mean[3 * layer : 3 * layer + 3, 0])
    bands = [c for c in axis.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 3
    top = bands[0].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(np.max(result.mean[:3, 0] + result.sem[:3, 0]))
    assert (tmp_path / "time.pdf").read_bytes().startswith(b"%PDF")


def test_single_fold_draws_zero_error(tmp_path) -> None:
    single = DecodingResult(scores=np.array([[[0.7]], [[0.8]]]), units=("a", "b"), targets=("y",), chance=[0.5])
    figure = plot_layerwise(single)
    assert [p.get_height() for p in figure.axes[0].patches] == pytest.approx([0.7, 0.8])


def test_figure_errors(result) -> None:
    with pytest.raises(ValueError, match="several targets"):
        plot_layerwise(result)
    with pytest.raises(ValueError, match="target must be one of category, x, got 'size'"):
        plot_over_time(result, target="size")
    plain = DecodingResult(scores=np.zeros((2, 1, 2)), units=("conv1", "fc1"), targets=("y",))
    with pytest.raises(ValueError, match=r"'<layer>@t<step>'.*'conv1', 'fc1'"):
        plot_over_time(plain)
