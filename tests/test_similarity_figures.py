"""Figures of representational similarity: labelled axes, the category sorting, files written, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from tfprobe.errors import InvalidValueError
from tfprobe.figures import plot_layer_time, plot_rdm, plot_rdm_mds, plot_similarity_matrix, plot_similarity_over_time
from tfprobe.similarity import calc_rdm, categorical_rdm, cka_matrix, classical_mds, compare_rdms


@pytest.fixture(scope="module")
def rdms():
    """RDMs of 3 layers x 3 time steps over 12 conditions of 3 categories."""
    rng = np.random.default_rng(0)
    categories = np.tile(["cat", "dog", "fox"], 4)
    base = np.eye(3)[np.tile([0, 1, 2], 4)] @ rng.normal(size=(3, 20))
    units = {
        f"{layer}@t{step}": base * step + rng.normal(size=(12, 20))
        for layer in ("conv1", "conv2", "fc1")
        for step in range(3)
    }
    return calc_rdm(units, conditions=[f"img{i}" for i in range(12)]), categories


def test_rdm_heatmaps_label_conditions_and_sort_by_category(rdms, tmp_path: Path) -> None:
    result, categories = rdms
    figure = plot_rdm(result, ["conv1@t2", "fc1@t0"], path=tmp_path / "rdm.png")
    assert isinstance(figure, Figure) and (tmp_path / "rdm.png").stat().st_size > 0
    axes = [axis for axis in figure.axes if axis.get_title()]
    assert [axis.get_title() for axis in axes] == ["conv1@t2", "fc1@t0"]
    assert axes[0].get_xlabel() == "condition" and axes[0].get_ylabel() == "condition"
    assert [t.get_text() for t in axes[0].get_xticklabels()][:3] == ["img0", "img1", "img2"]
    image = axes[0].images[0].get_array()
    np.testing.assert_allclose(image, result.matrix("conv1@t2"))
    grouped = plot_rdm(result, "conv1@t2", categories=categories)
    axis = grouped.axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == ["cat", "dog", "fox"]
    order = np.argsort(categories, kind="stable")
    np.testing.assert_allclose(axis.images[0].get_array(), result.matrix("conv1@t2")[np.ix_(order, order)])
    assert "dissimilarity (correlation)" in [a.get_ylabel() for a in grouped.axes]


def test_similarity_matrix_and_layer_by_time_figures(rdms, tmp_path: Path) -> None:
    result, categories = rdms
    model = categorical_rdm(categories, conditions=result.conditions)
    comparison = compare_rdms(result, model, method="spearman", n_bootstrap=20, seed=0)
    figure = plot_similarity_matrix(compare_rdms(result), path=tmp_path / "matrix.svg")
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_yticklabels()] == list(result.names)
    assert axis.get_xlabel() == "compared with" and (tmp_path / "matrix.svg").exists()
    grid = plot_layer_time(comparison, path=tmp_path / "grid.pdf")
    axis = grid.axes[0]
    assert axis.get_xlabel() == "time step" and axis.get_ylabel() == "layer"
    assert [t.get_text() for t in axis.get_yticklabels()] == ["conv1", "conv2", "fc1"]
    np.testing.assert_allclose(axis.images[0].get_array()[2, 1], comparison["fc1@t1", "category"])
    lines = plot_similarity_over_time(comparison, "category", path=tmp_path / "lines.png")
    axis = lines.axes[0]
    assert axis.get_xlabel() == "time step" and axis.get_ylabel() == "spearman"
    assert [line.get_label() for line in axis.lines] == ["conv1", "conv2", "fc1"]
    assert len(axis.collections) == 3  # one bootstrap band per layer
    assert (tmp_path / "grid.pdf").exists() and (tmp_path / "lines.png").exists()
    with pytest.raises(InvalidValueError, match="names '<layer>@t<step>'"):
        plot_layer_time(compare_rdms(model, model))


def test_mds_of_rdms_and_of_cka(rdms, tmp_path: Path) -> None:
    result, _ = rdms
    figure = plot_rdm_mds(compare_rdms(result, method="corr"), path=tmp_path / "mds.png")
    axis = figure.axes[0]
    assert axis.get_xlabel() == "MDS dimension 1" and axis.get_ylabel() == "MDS dimension 2"
    assert [line.get_label() for line in axis.lines] == ["conv1", "conv2", "fc1"]
    assert (tmp_path / "mds.png").exists()
    units = {"a": np.eye(5), "b": np.arange(25.0).reshape(5, 5) ** 2, "c": np.ones((5, 2)) + np.eye(5)[:, :2]}
    plain = plot_rdm_mds(cka_matrix(units))
    assert [text.get_text() for text in plain.axes[0].texts] == ["a", "b", "c"]
    with pytest.raises(InvalidValueError, match="rows == columns"):
        plot_rdm_mds(compare_rdms(result, categorical_rdm(np.arange(12) % 2, conditions=result.conditions)))


def test_classical_mds_recovers_planar_points() -> None:
    points = np.random.default_rng(1).normal(size=(7, 2))
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    embedded = classical_mds(distances)
    np.testing.assert_allclose(np.linalg.norm(embedded[:, None] - embedded[None], axis=-1), distances, atol=1e-9)
    with pytest.raises(InvalidValueError, match="square"):
        classical_mds(np.ones((2, 3)))
