"""The random choices behind cluttered scenes, drawn for many scenes at once.

A scene of the original study holds 8 objects in slots 0-7.  Slot ``i`` sits
in quadrant ``i % 4`` (row, column centres (25, 25), (75, 25), (25, 75),
(75, 75)), so each quadrant holds two objects and slot ``i`` is drawn before
slot ``i + 4``.  The target is the intact object in one of slots 4-7; the
other seven are scrambled.  Labels follow the quadrant: ``y`` is the row
(0: 25 px, 1: 75 px), ``x`` the column.
"""

from __future__ import annotations

import dataclasses

import numpy as np

N_OBJECTS = 8
OBJECT_SIDE = 28
CANVAS_SIDE = 100
#: (row, column) centre of each quadrant; slot i uses quadrant i % 4.
QUADRANT_CENTRES = np.array([(25, 25), (75, 25), (25, 75), (75, 75)])
#: Mean zoom factors (small, large) and the half-width of their uniform jitter.
ZOOMS = (0.9, 1.5)
ZOOM_JITTER = 0.1
#: Mean rotation angles in degrees (label 0: positive, 1: negative) and their jitter.
ANGLES = (30.0, -30.0)
ANGLE_JITTER = 5.0
POSITION_JITTER = 2.5
#: The values RNN_perturb.py uses instead, with no jitter at all.
EXACT_ZOOMS = (0.8, 1.6)
EXACT_ANGLES = (35.0, -35.0)


@dataclasses.dataclass(frozen=True)
class SceneLayout:
    """Every random choice behind ``n`` scenes; per-object arrays are (n, 8), in slot order.

    Attributes
    ----------
    target : ndarray (n,) int
        Slot of the intact target, 4-7.
    domain : ndarray (n, 8) int
        0: an MNIST digit, 1: a Fashion-MNIST item.
    index : ndarray (n, 8) int
        Index of the object's image in its domain's split.
    large : ndarray (n, 8) bool
        Zoomed around 1.5 (True) or 0.9 (False).
    zoom : ndarray (n, 8) float
        The zoom factor; the object is ``round(28 * zoom)`` pixels wide.
    negative : ndarray (n, 8) bool
        Rotated by a negative angle (clockwise).
    angle : ndarray (n, 8) float
        Rotation in degrees, counter-clockwise as ``scipy.ndimage.rotate`` takes it.
    row, col : ndarray (n, 8) int
        Centre pixel of the object on the 100 x 100 canvas.
    cell_order : ndarray (n, 8, 9) int
        For clutter, cell ``i`` of the scrambled object shows cell ``cell_order[..., i]`` (never the
        identity); -1 for the target.
    """

    target: np.ndarray
    domain: np.ndarray
    index: np.ndarray
    large: np.ndarray
    zoom: np.ndarray
    negative: np.ndarray
    angle: np.ndarray
    row: np.ndarray
    col: np.ndarray
    cell_order: np.ndarray

    def __len__(self) -> int:
        return len(self.target)

    @property
    def size(self) -> np.ndarray:
        """Side of each zoomed object in pixels, as scipy's zoom computes it: ``round(28 * zoom)``."""
        return np.rint(OBJECT_SIDE * self.zoom).astype(np.int64)

    def at_target(self, field: str) -> np.ndarray:
        """The (n,) values of a per-object field at each scene's target slot."""
        values = getattr(self, field)
        return values[np.arange(len(self)), self.target]

    def __getitem__(self, item: slice | np.ndarray) -> SceneLayout:
        return SceneLayout(**{f.name: getattr(self, f.name)[item] for f in dataclasses.fields(self)})


def _scramble_orders(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform non-identity permutations of 9 cells (rejection, like the original's while loop)."""
    identity = np.arange(9)
    orders = rng.permuted(np.broadcast_to(identity, (*shape, 9)), axis=-1)
    while True:
        redo = np.all(orders == identity, axis=-1)
        if not redo.any():
            return orders
        orders[redo] = rng.permuted(np.broadcast_to(identity, (int(redo.sum()), 9)), axis=-1)


def draw_layout(rng: np.random.Generator, n: int, n_digits: int, n_fashion: int, *, exact: bool = False) -> SceneLayout:
    """Draw the layout of ``n`` scenes.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness; draws happen in a fixed order, so the same generator state
        gives the same layout.
    n : int
        Number of scenes.
    n_digits, n_fashion : int
        Number of images available per domain.
    exact : bool
        Use RNN_perturb.py's exact values (zoom 0.8 / 1.6, rotation +-35 degrees, positions at the
        quadrant centres) instead of the training scenes' jittered ones.
    """
    shape = (n, N_OBJECTS)
    target = N_OBJECTS // 2 + rng.integers(N_OBJECTS // 2, size=n)
    domain = (rng.random(shape) < 0.5).astype(np.int64)
    index = rng.integers(0, np.where(domain == 0, n_digits, n_fashion))
    large = rng.random(shape) > 0.5
    negative = rng.random(shape) > 0.5
    centres = np.broadcast_to(QUADRANT_CENTRES[np.arange(N_OBJECTS) % 4], (*shape, 2))
    if exact:
        zoom = np.where(large, EXACT_ZOOMS[1], EXACT_ZOOMS[0])
        angle = np.where(negative, EXACT_ANGLES[1], EXACT_ANGLES[0])
        row, col = centres[..., 0].copy(), centres[..., 1].copy()
    else:
        zoom = np.where(large, ZOOMS[1], ZOOMS[0]) + (rng.random(shape) - 0.5) * 2 * ZOOM_JITTER
        angle = np.where(negative, ANGLES[1], ANGLES[0]) + (rng.random(shape) - 0.5) * 2 * ANGLE_JITTER
        row = np.rint(centres[..., 0] + (rng.random(shape) - 0.5) * 2 * POSITION_JITTER).astype(np.int64)
        col = np.rint(centres[..., 1] + (rng.random(shape) - 0.5) * 2 * POSITION_JITTER).astype(np.int64)
    cell_order = _scramble_orders(rng, shape)
    cell_order[np.arange(n), target] = -1
    return SceneLayout(
        target=target,
        domain=domain,
        index=index,
        large=large,
        zoom=zoom,
        negative=negative,
        angle=angle,
        row=row,
        col=col,
        cell_order=cell_order,
    )
