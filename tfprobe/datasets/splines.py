"""Exact batched replicas of scipy's cubic-spline ``zoom`` and ``rotate`` for small square images.

The original scene generator calls ``scipy.ndimage.zoom(x, f)`` and
``scipy.ndimage.rotate(z, angle, reshape=False)`` (spline order 3, mode
``"constant"``) once per object.  Both are linear maps, and both separate in a
way that lets thousands of objects be resampled at once:

* ``zoom`` acts on rows and columns independently and depends only on the
  input and output sizes, so ``zoom(X, f) == Z @ X @ Z.T`` with ``Z`` the zoom
  of unit impulses (:func:`zoom_matrix`).
* ``rotate`` first turns the image into cubic B-spline coefficients (a
  separable ``mirror`` prefilter, :func:`coefficient_matrix`, which also
  carries the two-pixel reflected border the 4x4 sampling window needs) and
  then samples them with 16 taps at ``R (p - c) + c``; output pixels whose
  source leaves ``[0, s - 1]`` are 0.

So an object's coefficient tile is ``A @ X @ A.T`` with ``A = coefficient_matrix(s) @
zoom_matrix(28, s)``, and the remaining per-pixel sampling runs in one
compiled loop (:func:`zoom_rotate`), which also applies the 3x3 cell
scrambling by reading each output pixel from its permuted position.  The
result equals scipy's to about 1e-14.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from scipy.ndimage import spline_filter1d, zoom

#: Border added around each coefficient tile: the 4x4 window reaches one pixel
#: before and two after the sampled position.
TILE_BORDER = 2


@functools.cache
def zoom_matrix(size_in: int, size_out: int) -> np.ndarray:
    """Matrix ``Z`` (size_out, size_in) with ``scipy.ndimage.zoom(X, f) == Z @ X @ Z.T``.

    ``f`` is any factor with ``round(size_in * f) == size_out``: scipy maps the
    corner pixels onto each other, so the map depends only on the two sizes.
    """
    impulses = np.eye(size_in)
    factor = size_out / size_in
    columns = [zoom(impulse, factor, order=3, mode="constant") for impulse in impulses]
    matrix = np.stack(columns, axis=1)
    if matrix.shape != (size_out, size_in):
        raise ValueError(f"zoom of {size_in} pixels by {factor} gave {matrix.shape[0]}, expected {size_out}")
    matrix.setflags(write=False)
    return matrix


@functools.cache
def coefficient_matrix(size: int) -> np.ndarray:
    """Matrix (size + 4, size): cubic B-spline coefficients of a signal, reflected by two pixels per side."""
    impulses = np.eye(size)
    prefilter = np.stack([spline_filter1d(impulse, 3, mode="mirror") for impulse in impulses], axis=1)
    rows = np.pad(np.arange(size), TILE_BORDER, mode="reflect")
    matrix = prefilter[rows]
    matrix.setflags(write=False)
    return matrix


def _tile_matrix(size_in: int, size_out: int) -> np.ndarray:
    """The (size_out + 4, size_in) matrix taking an image to its zoomed, padded coefficient tile."""
    matrix = coefficient_matrix(size_out)
    if size_out != size_in:
        matrix = matrix @ zoom_matrix(size_in, size_out)
    return matrix


def _size_groups(sizes_in: np.ndarray, sizes_out: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """Objects grouped by (size in, size out): each group is resampled by one matrix pair."""
    codes = sizes_in * 4096 + sizes_out
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return [(int(sizes_in[chosen[0]]), int(sizes_out[chosen[0]]), chosen) for chosen in np.split(order, bounds)]


def _separable(matrix: np.ndarray, images: np.ndarray) -> np.ndarray:
    """``matrix @ X @ matrix.T`` for each image ``X`` of a (B, m, m) stack; returns (B, r, r).

    Compiled loops rather than BLAS: the products are tiny (objects of at most 100 pixels a side), and
    a multithreaded BLAS spends more on hand-offs than it gains; while the training step keeps every
    core busy its spin-waiting made rendering a batch of 32 scenes take 129 ms of CPU (8 ms in these loops).
    """
    matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    images = np.ascontiguousarray(images, dtype=np.float64)
    out = np.empty((images.shape[0], matrix.shape[0], matrix.shape[0]))
    _separable_loops(matrix, images, out)
    return out


@numba.njit(cache=True, nogil=True, fastmath=True)
def _separable_loops(matrix, images, out):  # pragma: no cover - compiled
    rows, side = matrix.shape[0], images.shape[1]
    half = np.empty((rows, side))  # half[r, i] = (X @ matrix.T)[i, r], stored so both loops read rows
    for k in range(images.shape[0]):
        image = images[k]
        for r in range(rows):
            for i in range(side):
                total = 0.0
                for j in range(side):
                    total += image[i, j] * matrix[r, j]
                half[r, i] = total
        for a in range(rows):
            for r in range(rows):
                total = 0.0
                for i in range(side):
                    total += matrix[a, i] * half[r, i]
                out[k, a, r] = total


def _sizes(values: np.ndarray | int, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(values, dtype=np.int64), (n,))


def zoom_images(images: np.ndarray, sizes_in: np.ndarray | int, sizes_out: np.ndarray | int) -> np.ndarray:
    """``scipy.ndimage.zoom`` (order 3) of each image from ``sizes_in`` to ``sizes_out`` pixels.

    Images are read from, and returned in, the top-left square of their array; the
    result is (n, max(sizes_out), max(sizes_out)) float64, zero elsewhere.
    """
    n = len(images)
    sizes_in, sizes_out = _sizes(sizes_in, n), _sizes(sizes_out, n)
    side = int(sizes_out.max())
    result = np.zeros((n, side, side))
    for size_in, size_out, chosen in _size_groups(sizes_in, sizes_out):
        group = np.asarray(images[chosen, :size_in, :size_in], dtype=np.float64)
        result[chosen, :size_out, :size_out] = _separable(zoom_matrix(size_in, size_out), group)
    return result


def zoom_rotate(
    images: np.ndarray,
    sizes_out: np.ndarray | int,
    angles: np.ndarray | float,
    cell_orders: np.ndarray | None = None,
    *,
    sizes_in: np.ndarray | int | None = None,
    index: np.ndarray | None = None,
    divisor: float = 1.0,
) -> np.ndarray:
    """``scramble(rotate(zoom(X), angle, reshape=False))`` for many images at once, equal to scipy's.

    Parameters
    ----------
    images : ndarray (N, m, m)
        Source images (any real dtype), each in its top-left ``sizes_in`` square.
    sizes_out : ndarray (n,) int or int
        Side after zooming (``round(size_in * factor)`` for a zoom factor); equal to ``sizes_in``: no zoom.
    angles : ndarray (n,) float or float
        Counter-clockwise angles in degrees, as ``scipy.ndimage.rotate`` takes them.
    cell_orders : ndarray (n, 9) int, optional
        For scrambled objects, cell ``i`` of the result shows cell ``cell_orders[k, i]`` of the rotated
        object (cells of ``size // 3`` pixels numbered down the columns; pixels past the last whole cell
        are 0); a row starting with -1 leaves that object intact.
    sizes_in : ndarray (n,) int or int, optional
        Side of each source image (default: the full ``m``).
    index : ndarray (n,) int, optional
        Object k is made from ``images[index[k]]`` (default: ``images[k]``).
    divisor : float
        The source values are divided by it first (255 for uint8 images).

    Returns
    -------
    ndarray (n, s, s) float64
        Object k in its top-left ``sizes_out[k]`` square, zeros elsewhere; ``s = max(sizes_out)``.
    """
    index = np.arange(len(images)) if index is None else np.asarray(index)
    n = len(index)
    sizes_in = _sizes(images.shape[1] if sizes_in is None else sizes_in, n)
    sizes_out = _sizes(sizes_out, n)
    radians = np.deg2rad(np.broadcast_to(np.asarray(angles, dtype=np.float64), (n,)))
    cosines, sines = np.cos(radians), np.sin(radians)
    cell_targets = np.full((n, 9), -1, dtype=np.int64)
    if cell_orders is not None:
        scrambled = np.asarray(cell_orders)[:, 0] >= 0
        # cell i shows source cell order[i], so source cell j goes to argsort(order)[j]
        cell_targets[scrambled] = np.argsort(np.asarray(cell_orders)[scrambled], axis=1)
    side = int(sizes_out.max())
    out = np.zeros((n, side, side))
    for size_in, size_out, chosen in _size_groups(sizes_in, sizes_out):
        group = images[index[chosen], :size_in, :size_in].astype(np.float64)
        if divisor != 1.0:
            group /= divisor
        tiles = _separable(_tile_matrix(size_in, size_out), group)
        _sample_rotated(tiles, size_out, cosines[chosen], sines[chosen], cell_targets[chosen], out, chosen)
    return out


@numba.njit(cache=True, nogil=True, inline="always", fastmath=True)
def _cubic_weights(t):  # pragma: no cover - compiled
    """Cubic B-spline weights of the taps at -1, 0, 1, 2 around a point ``t`` in [0, 1) past a pixel."""
    u = 1.0 - t
    t2 = t * t
    t3 = t2 * t
    return u * u * u / 6.0, (4.0 - 6.0 * t2 + 3.0 * t3) / 6.0, (1.0 + 3.0 * (t + t2 - t3)) / 6.0, t3 / 6.0


@numba.njit(cache=True, nogil=True, inline="always", fastmath=True)
def _row_taps(tile, row, col, w0, w1, w2, w3):  # pragma: no cover - compiled
    return w0 * tile[row, col] + w1 * tile[row, col + 1] + w2 * tile[row, col + 2] + w3 * tile[row, col + 3]


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def _sample_rotated(tiles, size, cosines, sines, cell_targets, out, out_index):  # pragma: no cover - compiled
    """Walk each object's rotated pixels in source order and write them where the scrambling puts them."""
    centre = (size - 1) / 2.0
    last = size - 1.0
    for k in range(tiles.shape[0]):
        destination = out[out_index[k]]
        cos_k = cosines[k]
        sin_k = sines[k]
        # An intact object is one cell; a scrambled one is 3x3 cells of size // 3 pixels, moved whole.
        # Pixels past the last whole cell are dropped (left 0), as in the original.
        grid = 3 if cell_targets[k, 0] >= 0 else 1
        cell = size // grid
        tile = tiles[k]
        for cell_row in range(grid):
            for cell_col in range(grid):
                target = cell_targets[k, cell_row + 3 * cell_col] if grid == 3 else 0
                out_row0 = (target % 3) * cell
                out_col0 = (target // 3) * cell
                for row_in in range(cell):
                    dr = cell_row * cell + row_in - centre
                    y_start = cos_k * dr - sin_k * centre + centre
                    x_start = -sin_k * dr - cos_k * centre + centre
                    for col_in in range(cell):
                        col = cell_col * cell + col_in
                        y = y_start + sin_k * col
                        x = x_start + cos_k * col
                        if y < 0.0 or y > last or x < 0.0 or x > last:
                            continue
                        fy = np.floor(y)
                        fx = np.floor(x)
                        wy0, wy1, wy2, wy3 = _cubic_weights(y - fy)
                        wx0, wx1, wx2, wx3 = _cubic_weights(x - fx)
                        # The 4x4 window starts one pixel before floor(y), floor(x); tiles carry a 2-pixel border.
                        r0 = int(fy) + 1
                        c0 = int(fx) + 1
                        destination[out_row0 + row_in, out_col0 + col_in] = (
                            wy0 * _row_taps(tile, r0, c0, wx0, wx1, wx2, wx3)
                            + wy1 * _row_taps(tile, r0 + 1, c0, wx0, wx1, wx2, wx3)
                            + wy2 * _row_taps(tile, r0 + 2, c0, wx0, wx1, wx2, wx3)
                            + wy3 * _row_taps(tile, r0 + 3, c0, wx0, wx1, wx2, wx3)
                        )
