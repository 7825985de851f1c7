"""The batched zoom / rotate / scramble replicas equal scipy's per-image results."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import rotate, zoom

from tfprobe.datasets.splines import coefficient_matrix, zoom_images, zoom_matrix, zoom_rotate


def sparse_images(n: int, side: int = 28, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((n, side, side)) * (rng.random((n, side, side)) > 0.6)


@pytest.mark.parametrize(
    ("size_in", "size_out"), [(28, 22), (28, 25), (28, 28), (28, 39), (28, 45), (22, 35), (45, 36)]
)
def test_zoom_matrix_is_scipy_zoom(size_in: int, size_out: int) -> None:
    image = sparse_images(1, size_in)[0]
    factor = size_out / size_in
    expected = zoom(image, factor)
    assert expected.shape == (size_out, size_out)
    matrix = zoom_matrix(size_in, size_out)
    np.testing.assert_allclose(matrix @ image @ matrix.T, expected, atol=1e-12)


def test_zoom_matrix_depends_only_on_sizes() -> None:
    image = sparse_images(1)[0]
    # every factor that rounds to 42 pixels gives the same zoom
    for factor in (1.49, 1.5, 1.51):
        np.testing.assert_allclose(zoom(image, factor), zoom(image, 1.5), atol=1e-12)
    assert zoom_matrix(28, 42).shape == (42, 28)


def test_coefficient_matrix_reflects_two_pixels() -> None:
    matrix = coefficient_matrix(10)
    assert matrix.shape == (14, 10)
    np.testing.assert_array_equal(matrix[0], matrix[4])  # row -2 mirrors row 2
    np.testing.assert_array_equal(matrix[13], matrix[9])  # row 11 mirrors row 7


def test_zoom_images_batches_mixed_sizes() -> None:
    images = sparse_images(6)
    sizes = np.array([22, 45, 30, 22, 39, 28])
    out = zoom_images(images, 28, sizes)
    assert out.shape == (6, 45, 45)
    for k, size in enumerate(sizes):
        np.testing.assert_allclose(out[k, :size, :size], zoom(images[k], size / 28), atol=1e-12)
        assert not out[k, size:].any() and not out[k, :, size:].any()


def test_zoom_rotate_equals_scipy_for_random_objects() -> None:
    rng = np.random.default_rng(3)
    n = 60
    images = sparse_images(n, seed=1)
    factors = np.where(rng.random(n) > 0.5, 1.5, 0.9) + (rng.random(n) - 0.5) / 5
    sizes = np.rint(28 * factors).astype(int)
    angles = rng.uniform(-90, 90, n)
    out = zoom_rotate(images, sizes, angles)
    for k in range(n):
        expected = rotate(zoom(images[k], factors[k]), angles[k], reshape=False)
        np.testing.assert_allclose(out[k, : sizes[k], : sizes[k]], expected, atol=1e-12)


def test_zoom_rotate_scrambles_cells_like_the_original(reference_scenes) -> None:
    rng = np.random.default_rng(4)
    n = 30
    images = sparse_images(n, seed=2)
    sizes = rng.integers(22, 46, n)
    angles = rng.uniform(-35, 35, n)
    orders = np.stack([reference_scenes._scramble_order(rng) for _ in range(n)])
    orders[::5] = -1  # intact objects among scrambled ones
    out = zoom_rotate(images, sizes, angles, orders)
    for k in range(n):
        rotated = rotate(zoom(images[k], sizes[k] / 28), angles[k], reshape=False)
        expected = rotated if orders[k, 0] < 0 else reference_scenes.scramble(rotated, orders[k])
        np.testing.assert_allclose(out[k, : sizes[k], : sizes[k]], expected, atol=1e-12)


def test_zoom_rotate_reads_indexed_uint8_sources() -> None:
    rng = np.random.default_rng(5)
    source = (rng.random((10, 28, 28)) * 255).astype(np.uint8)
    index = np.array([3, 3, 9, 0])
    out = zoom_rotate(source, 22, 30.0, index=index, divisor=255.0)
    for k, i in enumerate(index):
        expected = rotate(zoom(source[i] / 255.0, 22 / 28), 30.0, reshape=False)
        np.testing.assert_allclose(out[k, :22, :22], expected, atol=1e-12)


def test_rotating_a_rotated_object_again() -> None:
    images = sparse_images(3, seed=6)
    once = zoom_rotate(images, 22, 35.0)
    twice = zoom_rotate(once, 22, -35.0, sizes_in=22)
    for k in range(3):
        expected = rotate(rotate(zoom(images[k], 0.8), 35.0, reshape=False), -35.0, reshape=False)
        np.testing.assert_allclose(twice[k], expected, atol=1e-12)


def test_separable_products_equal_the_matrix_products() -> None:
    from tfprobe.datasets.splines import _separable

    rng = np.random.default_rng(3)
    for rows, side in ((49, 45), (26, 28), (14, 10)):
        matrix, images = rng.normal(size=(rows, side)), rng.normal(size=(4, side, side))
        expected = np.stack([matrix @ image @ matrix.T for image in images])
        np.testing.assert_allclose(_separable(matrix, images), expected, rtol=1e-12, atol=1e-12)
