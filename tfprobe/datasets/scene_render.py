"""Rendering laid-out scenes: objects resampled in batches, then composited as the original does.

Each object is zoomed, rotated and (for clutter) scrambled by the exact
batched replicas in :mod:`tfprobe.datasets.splines`, min-max normalised, and
composited onto its canvas with its own intensity as alpha
(``canvas = (1 - o) * canvas + o * o``); every canvas is min-max normalised at
the end.  Work is done in chunks so temporaries stay small.
"""

from __future__ import annotations

import numba
import numpy as np

from tfprobe.datasets.scene_layout import CANVAS_SIDE, N_OBJECTS, SceneLayout
from tfprobe.datasets.scene_objects import ObjectImages
from tfprobe.datasets.splines import zoom_rotate

#: Scenes rendered per chunk: large enough for plain GEMMs, small enough to stay in cache.
CHUNK_SCENES = 64


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _composite(objects, sizes, draw_start, object_of, rows, cols, out, out_index):  # pragma: no cover - compiled
    canvas = np.zeros((out.shape[1], out.shape[2]))
    for c in range(len(draw_start) - 1):
        canvas[:] = 0.0
        for d in range(draw_start[c], draw_start[c + 1]):
            k = object_of[d]
            size = sizes[k]
            low = np.inf
            high = -np.inf
            for r in range(size):
                for q in range(size):
                    low = min(low, objects[k, r, q])
                    high = max(high, objects[k, r, q])
            span = high - low
            top = rows[d] - size // 2
            left = cols[d] - size // 2
            for r in range(size):
                for q in range(size):
                    alpha = (objects[k, r, q] - low) / span
                    canvas[top + r, left + q] = (1.0 - alpha) * canvas[top + r, left + q] + alpha * alpha
        low = canvas.min()
        span = canvas.max() - low
        destination = out[out_index[c]]
        for r in range(canvas.shape[0]):
            for q in range(canvas.shape[1]):
                destination[r, q] = (canvas[r, q] - low) / span


def composite(
    objects: np.ndarray,
    sizes: np.ndarray,
    draw_start: np.ndarray,
    object_of: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    out: np.ndarray,
    out_index: np.ndarray,
) -> None:
    """Draw objects onto canvases in order, min-max normalise each canvas and write it to ``out``.

    Parameters
    ----------
    objects : ndarray (m, s, s) float64
        Rendered objects, each in its top-left ``sizes[k]`` square.
    sizes : ndarray (m,) int
    draw_start : ndarray (c + 1,) int
        Canvas ``i`` is made of draws ``draw_start[i]`` to ``draw_start[i + 1] - 1``.
    object_of, rows, cols : ndarray (d,) int
        Draw ``j`` puts object ``object_of[j]`` centred at ``(rows[j], cols[j])``.
    out : ndarray (N, 100, 100) float32
        Canvas ``i`` is written to ``out[out_index[i]]``.
    out_index : ndarray (c,) int
    """
    _composite(
        objects,
        np.asarray(sizes, dtype=np.int64),
        np.asarray(draw_start, dtype=np.int64),
        np.asarray(object_of, dtype=np.int64),
        np.asarray(rows, dtype=np.int64),
        np.asarray(cols, dtype=np.int64),
        out,
        np.asarray(out_index, dtype=np.int64),
    )


def render_scene_objects(layout: SceneLayout, objects: ObjectImages) -> tuple[np.ndarray, np.ndarray]:
    """Every object of the layout's scenes (slot-major), zoomed, rotated and scrambled, and their sizes."""
    sizes = layout.size.ravel()
    rendered = zoom_rotate(
        objects.images,
        sizes,
        layout.angle.ravel(),
        layout.cell_order.reshape(-1, 9),
        index=objects.stack_index(layout.domain, layout.index).ravel(),
        divisor=objects.divisor,
    )
    return rendered, sizes


def scene_draws(layout: SceneLayout) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draws of ``n`` scenes, then of their ``n`` clean images (target only); objects numbered slot-major."""
    n = len(layout)
    targets = np.arange(n) * N_OBJECTS + layout.target
    draw_start = np.concatenate([np.arange(n) * N_OBJECTS, n * N_OBJECTS + np.arange(n + 1)])
    object_of = np.concatenate([np.arange(n * N_OBJECTS), targets])
    rows = np.concatenate([layout.row.ravel(), layout.row.ravel()[targets]])
    cols = np.concatenate([layout.col.ravel(), layout.col.ravel()[targets]])
    return draw_start, object_of, rows, cols


def render_layout(layout: SceneLayout, objects: ObjectImages) -> tuple[np.ndarray, np.ndarray]:
    """Render the scenes of a layout and their clean (target only) images.

    Parameters
    ----------
    layout : SceneLayout
    objects : ObjectImages
        The digit and fashion images ``layout.domain`` and ``layout.index`` refer to.

    Returns
    -------
    images, clean : ndarray (n, 100, 100, 1) float32
    """
    n = len(layout)
    both = np.empty((2, n, CANVAS_SIDE, CANVAS_SIDE, 1), dtype=np.float32)
    canvases = both.reshape(2 * n, CANVAS_SIDE, CANVAS_SIDE)
    for start in range(0, n, CHUNK_SCENES):
        part = layout[start : start + CHUNK_SCENES]
        m = len(part)
        rendered, sizes = render_scene_objects(part, objects)
        scenes = start + np.arange(m)
        composite(rendered, sizes, *scene_draws(part), canvases, np.concatenate([scenes, n + scenes]))
    return both[0], both[1]
