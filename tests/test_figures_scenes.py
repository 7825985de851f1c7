"""Scene figures: what they show, and files written on request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from tfprobe.datasets import CATEGORY_NAMES, PERTURBATIONS, ClutteredScenes
from tfprobe.figures import plot_perturbations, plot_same_label_pairs, plot_scene_grid, save_figure
from tfprobe.figures.scenes import same_label_pairs


@pytest.fixture(scope="module")
def generator(scene_sources) -> ClutteredScenes:
    digits, fashion = scene_sources
    return ClutteredScenes("validation", seed=2, digits=digits, fashion=fashion)


@pytest.fixture(scope="module")
def scenes(generator):
    return generator.sample(60)


def test_same_label_pairs_share_their_label(scenes) -> None:
    pairs = same_label_pairs(scenes.labels["category"], 2, seed=0)
    assert len(pairs) == 2
    values = [scenes.labels["category"][a] for a, _ in pairs]
    assert values[0] != values[1]  # two different categories
    for a, b in pairs:
        assert a != b and scenes.labels["category"][a] == scenes.labels["category"][b]
    assert pairs == same_label_pairs(scenes.labels["category"], 2, seed=0)  # seeded


def test_plot_same_label_pairs_titles_and_file(scenes, tmp_path: Path) -> None:
    path = tmp_path / "pairs.png"
    figure = plot_same_label_pairs(scenes, seed=1, path=path)
    assert isinstance(figure, Figure)
    axes = figure.get_axes()
    assert len(axes) == 4
    titles = [axis.get_title() for axis in axes]
    names = [title.split("category: ")[1] for title in titles]
    assert names[0] == names[1] and names[2] == names[3] and names[0] != names[2]
    assert set(names) <= set(CATEGORY_NAMES)
    for axis, title in zip(axes, titles, strict=True):
        index = int(title[1:].split()[0])
        np.testing.assert_array_equal(axis.get_images()[0].get_array(), scenes.images[index, ..., 0])
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 400
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_plot_scene_grid_with_clean_images(scenes, tmp_path: Path) -> None:
    figure = plot_scene_grid(scenes, [0, 5, 7], columns=2, clean=True, path=tmp_path / "grid.pdf")
    shown = [axis for axis in figure.get_axes() if axis.get_images()]
    assert len(shown) == 6
    assert shown[0].get_title().startswith("#0: " + CATEGORY_NAMES[scenes.labels["category"][0]])
    # rows: scenes 0 and 5, their clean images, then scene 7 and its clean image
    np.testing.assert_array_equal(shown[1].get_images()[0].get_array(), scenes.images[5, ..., 0])
    np.testing.assert_array_equal(shown[2].get_images()[0].get_array(), scenes.clean[0, ..., 0])
    np.testing.assert_array_equal(shown[5].get_images()[0].get_array(), scenes.clean[7, ..., 0])
    assert (tmp_path / "grid.pdf").read_bytes().startswith(b"%PDF")


def test_plot_perturbations_shows_the_scene_and_its_variants(generator) -> None:
    perturbed = generator.sample_perturbed(3)
    figure = plot_perturbations(perturbed, 2)
    axes = figure.get_axes()
    assert len(axes) == 1 + len(PERTURBATIONS)
    np.testing.assert_array_equal(axes[0].get_images()[0].get_array(), perturbed.scenes.images[2, ..., 0])
    for axis, name in zip(axes[1:], PERTURBATIONS, strict=True):
        assert axis.get_title().startswith(name.replace("_", " "))
        np.testing.assert_array_equal(axis.get_images()[0].get_array(), perturbed.variants[name][2, ..., 0])


def test_bad_figure_requests(scenes, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"scene indices must be a non-empty list in \[0, 60\), got \[60\]"):
        plot_scene_grid(scenes, [60])
    with pytest.raises(ValueError, match="label must be one of category, x, y"):
        plot_same_label_pairs(scenes, label="colour")
    with pytest.raises(ValueError, match="need 30 label values that occur at least twice"):
        plot_same_label_pairs(scenes, n_pairs=30)
    figure = plot_scene_grid(scenes, [0])
    with pytest.raises(ValueError, match="expected a suffix naming a format"):
        save_figure(figure, tmp_path / "figure")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_figure(figure, tmp_path / "missing" / "figure.png")
