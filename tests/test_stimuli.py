"""Gratings and the random-shape contrast pairs: the labs' formulas, statistics, seeding and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from tfprobe.datasets import (
    ContrastPairs,
    adjust_contrast,
    csf_frequencies,
    grating_orientations,
    sinusoidal_grating,
    sinusoidal_gratings,
    square_grating,
)


def _lab_sinusoid(size: int, contrast: float, theta: float, sf: float) -> np.ndarray:
    """The contrast-sensitivity lab's GratingsDataset image (one channel), as it is written there."""
    radius = int(size / 2.0)
    x, y = np.meshgrid(range(-radius, radius + 1), range(-radius, radius + 1))
    lambda_wave = (size * 0.5) / (np.pi * sf)
    image = contrast * np.cos((np.cos(theta) * x + np.sin(theta) * y) / lambda_wave)
    gauss = np.exp(-(x**2 + y**2) / (2 * (size / 6) ** 2))
    if size % 2 == 0:
        image, gauss = image[:-1, :-1], gauss[:-1, :-1]
    return (image * gauss / gauss.max() + 1) / 2


def _lab_square(angle_degrees: float, sf: float = 1 / 28, res: float = 0.1) -> np.ndarray:
    """The conv-basics lab's full-field grating (values +-0.5), with its corner-origin coordinates."""
    angle = np.deg2rad(angle_degrees)
    xx, yy = np.meshgrid(sf * np.arange(0, 640 * res) / res, sf * np.arange(0, 480 * res) / res)
    g = np.cos(xx * np.cos(angle) + yy * np.sin(angle))
    return np.where(g > 0, 1.0, 0.0) - 0.5


@pytest.mark.parametrize("size", [224, 65, 32, 15])
@pytest.mark.parametrize("sf", [1, 4, 7])
def test_sinusoidal_grating_equals_the_lab_formula(size: int, sf: float) -> None:
    thetas = grating_orientations(13)
    ours = sinusoidal_gratings(size, sf, thetas, 0.37)
    assert ours.shape == (13, size, size, 1) and ours.dtype == np.float32
    for theta, image in zip(thetas, ours, strict=True):
        np.testing.assert_allclose(image[..., 0], _lab_sinusoid(size, 0.37, theta, sf), atol=1e-6)


def test_sinusoidal_grating_statistics() -> None:
    image = sinusoidal_grating(224, 8, 0.3, 0.6, channels=3)
    assert image.shape == (224, 224, 3) and np.array_equal(image[..., 0], image[..., 2])
    # Gray-centred, Michelson contrast at the peak, mean luminance 0.5.
    assert image.max() == pytest.approx(0.8, abs=1e-6) and image.min() > 0.2 - 1e-6
    assert image.mean() == pytest.approx(0.5, abs=2e-3)
    full = sinusoidal_grating(64, 8, 0.0, 1.0, envelope=None)[..., 0]
    assert full.min() == pytest.approx(0.0, abs=1e-6) and full.max() == pytest.approx(1.0, abs=1e-6)
    # 8 cycles per width: the row's spectrum peaks at 8; theta = pi/2 turns it into columns.
    assert np.argmax(np.abs(np.fft.rfft(full[10] - 0.5))) == 8
    turned = sinusoidal_grating(64, 8, np.pi / 2, 1.0, envelope=None)[..., 0]
    np.testing.assert_allclose(turned, full.T, atol=1e-6)
    # Zero contrast is uniform gray; Nyquist is allowed and alternates pixel by pixel.
    assert np.all(sinusoidal_grating(32, 4, 0, 0.0) == 0.5)
    nyquist = sinusoidal_grating(32, 16, 0, 1.0, envelope=None)[0, :4, 0]
    np.testing.assert_allclose(nyquist, [1, 0, 1, 0], atol=1e-6)


def test_square_grating_matches_the_lab_stimulus() -> None:
    # The lab's 48 x 64 grating at res 0.1: a period of 2 pi * 2.8 pixels, i.e. 64 / 17.59 cycles per width.
    frequency = 64 / (2 * np.pi * 2.8)
    for angle in (-90, -45, 0, 45, 90):
        theta = np.deg2rad(angle)
        # The lab's phase origin is the top-left corner, ours the centre (row 24, column 32): move it there.
        phase = (32 * np.cos(theta) + 24 * np.sin(theta)) / 2.8
        ours = square_grating((48, 64), theta, frequency, mean=0.0, phase=phase)
        np.testing.assert_array_equal(ours, _lab_square(angle).astype(np.float32))
    values = square_grating(32, 0.0, 4.0)
    assert set(np.unique(values)) == {0.0, 1.0} and values.mean() == pytest.approx(0.5, abs=0.05)
    half = square_grating(32, 0.0, 4.0, contrast=0.5, mean=0.5)
    assert set(np.unique(half)) == {0.25, 0.75}


def test_square_grating_patch_sits_on_gray() -> None:
    image = square_grating((48, 64), 0.0, 6.0, patch=True)
    rows, columns = np.mgrid[0:48, 0:64]
    distance = np.hypot(rows - 24, columns - 48)
    assert np.all(image[distance >= 64 / 6] == 0.5)
    inside = image[distance < 64 / 6 - 1]
    assert set(np.unique(inside)) == {0.0, 1.0}


def test_orientations_and_frequencies() -> None:
    thetas = grating_orientations()
    assert len(thetas) == 13 and thetas[0] == 0 and thetas[-1] == pytest.approx(np.pi)
    np.testing.assert_allclose(np.diff(thetas), np.pi / 12)
    np.testing.assert_array_equal(csf_frequencies(224), [1, 2, 4, 7, 8, 14, 16, 28, 32, 56, 112])
    np.testing.assert_array_equal(csf_frequencies(32), [1, 2, 4, 8, 16])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sinusoidal_grating(64, 32.5), r"above the Nyquist limit of a 64-pixel-wide image \(32 cycles"),
        (lambda: square_grating(64, 0, 40), "above the Nyquist limit"),
        (lambda: sinusoidal_grating(64, 4, 0, 1.2), r"contrast must be in \[0, 1\], got 1.2"),
        (lambda: sinusoidal_grating(64, 4, 0, -0.1), r"contrast must be in \[0, 1\]"),
        (lambda: square_grating(64, 0, 4, contrast=2), r"contrast must be in \[0, 1\]"),
        (lambda: sinusoidal_grating(7, 1), r"size must be at least 8 pixels on each side, got \(7, 7\)"),
        (lambda: square_grating((48, 4)), r"at least 8 pixels on each side, got \(48, 4\)"),
        (lambda: sinusoidal_grating(64, -1), "must be finite and >= 0"),
        (lambda: sinusoidal_grating(64, [1, 2]), "one number here"),
        (lambda: sinusoidal_gratings(64, 4, envelope="box"), "envelope must be 'gaussian' or None"),
        (lambda: sinusoidal_gratings(64, 4, channels=2), "channels must be 1 or 3"),
        (lambda: ContrastPairs(4, size=6), "size must be at least 8 pixels, got 6"),
        (lambda: ContrastPairs(4, contrast_range=(0.5, 1.5)), "contrast_range must be"),
        (lambda: ContrastPairs(0), "n must be an int >= 1"),
        (lambda: adjust_contrast(np.zeros((2, 8, 8, 3)), 1.5), r"contrast must be in \[0, 1\]"),
    ],
)
def test_bad_stimulus_parameters(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_contrast_pairs_statistics_and_seeding() -> None:
    pairs = ContrastPairs(300, size=64, seed=3)
    first, second, labels, contrasts = pairs.pairs(np.arange(300))
    assert first.shape == second.shape == (300, 64, 64, 3) and first.dtype == np.float32
    assert labels.dtype == np.int64 and np.array_equal(labels, (contrasts[:, 1] > contrasts[:, 0]).astype(int))
    assert 0.4 < labels.mean() < 0.6
    assert contrasts.min() >= 0.04 and contrasts.max() <= 1.0
    # The same shape at two contrasts: the pixel deviations from mid-gray scale with the contrast.
    deviation = np.abs(first - 0.5).reshape(300, -1).max(axis=1), np.abs(second - 0.5).reshape(300, -1).max(axis=1)
    shown = (deviation[0] > 0.01) & (deviation[1] > 0.01)
    np.testing.assert_allclose(
        deviation[0][shown] / deviation[1][shown], contrasts[shown, 0] / contrasts[shown, 1], rtol=1e-3
    )
    # Background gray (128/255) at contrast c: (1 - c) / 2 + c * 128 / 255 in the corner.
    np.testing.assert_allclose(first[:, 0, 0, 0], (1 - contrasts[:, 0]) / 2 + contrasts[:, 0] * 128 / 255, atol=1e-6)
    # Seeded per pair: any subset, in any order, is the same pairs.
    again = pairs.pairs([7, 2])
    np.testing.assert_array_equal(again[0][0], first[7])
    np.testing.assert_array_equal(again[1][1], second[2])
    other = ContrastPairs(300, size=64, seed=4).pairs([7])
    assert not np.array_equal(other[0][0], first[7])
    with pytest.raises(IndexError, match=r"in \[0, 300\)"):
        pairs.pairs([300])


def test_contrast_pairs_cover_the_three_shapes() -> None:
    from tfprobe.datasets import random_shape

    labels = [random_shape(np.random.default_rng([0, i]), 224)[1] for i in range(60)]
    assert set(labels) == {0, 1, 2}
    image, _ = random_shape(np.random.default_rng(1), 224)
    assert image.shape == (224, 224, 3) and image.dtype == np.uint8
    assert np.any(np.any(image != 128, axis=-1))  # a shape was drawn


def test_contrast_pairs_dataset_matches_arrays() -> None:
    pairs = ContrastPairs(10, size=32, seed=5)
    (first, second), labels = pairs.arrays()
    batches = list(pairs.dataset(batch_size=4))
    assert [b[1].shape[0] for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[0][0].numpy() for b in batches]), first)
    np.testing.assert_array_equal(np.concatenate([b[0][1].numpy() for b in batches]), second)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), labels)
    shuffled = np.concatenate([b[1].numpy() for b in pairs.dataset(batch_size=4, shuffle=True)])
    assert sorted(shuffled) == sorted(labels)
