"""Statistics of tfprobe's scenes against the per-image original's, over a few thousand scenes each.

Both generators draw from the same object images (MNIST's offline test copy split
55:5:10, Fashion-MNIST's study train split) with their own seeded Generators.
"""

from __future__ import annotations

import numpy as np
import pytest

from tfprobe.datasets import ClutteredScenes

N_REFERENCE = 2000
N_TFPROBE = 4000


@pytest.fixture(scope="module")
def both(scene_sources, reference_scenes):
    digits, fashion = scene_sources
    reference = reference_scenes.gen_images(
        N_REFERENCE, (digits.images, digits.labels), (fashion.images, fashion.labels), np.random.default_rng(21)
    )
    ours = ClutteredScenes("train", seed=21, digits=digits, fashion=fashion).sample(N_TFPROBE)
    return {"reference": reference, "tfprobe": (ours.images, ours.clean, ours.labels), "layout": ours.layout}


pytestmark = pytest.mark.heavy


@pytest.mark.parametrize("which", ["reference", "tfprobe"])
def test_label_frequencies(both, which: str) -> None:
    _, _, labels = both[which]
    shares = np.bincount(labels["category"], minlength=20) / len(labels["category"])
    assert np.all(np.abs(shares - 0.05) <= 0.015), shares
    for key in ("x", "y", "scale", "orientation", "domain"):
        share = labels[key].mean()
        assert abs(share - 0.5) <= 0.03, (key, share)


def _ink_rows_cols(clean: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area (pixels above 0.1), and centroid row / column of each clean image's target."""
    ink = clean[..., 0] > 0.1
    area = ink.sum(axis=(1, 2))
    grid = np.arange(100)
    rows = (ink.sum(axis=2) * grid).sum(axis=1) / area
    cols = (ink.sum(axis=1) * grid).sum(axis=1) / area
    return area, rows, cols


def test_object_sizes_and_positions_match(both) -> None:
    stats = {}
    for which in ("reference", "tfprobe"):
        _, clean, labels = both[which]
        area, rows, cols = _ink_rows_cols(clean)
        stats[which] = {
            "small area": area[labels["scale"] == 0].mean(),
            "large area": area[labels["scale"] == 1].mean(),
            "top row": rows[labels["y"] == 0].mean(),
            "bottom row": rows[labels["y"] == 1].mean(),
            "left col": cols[labels["x"] == 0].mean(),
            "right col": cols[labels["x"] == 1].mean(),
        }
    for key in ("small area", "large area"):
        ratio = stats["tfprobe"][key] / stats["reference"][key]
        assert abs(ratio - 1) < 0.03, (key, stats)
    for key in ("top row", "bottom row", "left col", "right col"):
        assert abs(stats["tfprobe"][key] - stats["reference"][key]) < 0.5, (key, stats)
    assert stats["tfprobe"]["large area"] > 2 * stats["tfprobe"]["small area"]


def test_pixel_intensities_match(both) -> None:
    reference_images = both["reference"][0]
    images = both["tfprobe"][0]
    assert abs(images.mean() / reference_images.mean() - 1) < 0.03
    assert abs(images.std() / reference_images.std() - 1) < 0.03
    # also the spread across scenes of each scene's mean intensity
    assert abs(images.mean(axis=(1, 2, 3)).std() / reference_images.mean(axis=(1, 2, 3)).std() - 1) < 0.1


def test_target_is_fully_inside_the_image(both) -> None:
    """Every object's square lies on the canvas (the reference would fail to paste it otherwise), and the
    clean image's ink is the target's, inside its square."""
    layout = both["layout"]
    top, left = layout.row - layout.size // 2, layout.col - layout.size // 2
    assert top.min() >= 0 and left.min() >= 0
    assert (top + layout.size).max() <= 100 and (left + layout.size).max() <= 100
    _, clean, _ = both["tfprobe"]
    n = len(clean)
    t = layout.target
    square = np.zeros(clean.shape[:3], bool)
    for s in range(n):
        size = layout.size[s, t[s]]
        square[s, top[s, t[s]] : top[s, t[s]] + size, left[s, t[s]] : left[s, t[s]] + size] = True
    assert not np.any(clean[..., 0][~square])
    area, _, _ = _ink_rows_cols(clean)
    assert area.min() > 5  # and it is there (a small, thin "1" has little ink)
