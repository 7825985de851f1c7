"""A faithful per-image port of the original study's scene generator (the baseline).

This restates ``im_scram`` and ``gen_images`` of Thorat, Aldegheri & Kietzmann
(2021) step by step, one image and one object at a time with scipy's ``zoom``
and ``rotate``, as the original does.  The only changes: every random draw
comes from a ``numpy.random.Generator`` (the original mixes numpy's and
Python's global generators), the object images are passed in instead of read
from TF1's ``input_data`` globals, and the outputs are channels-last float32
with integer labels.  It is what tfprobe's fast generator is checked and
timed against; it is not part of the package.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import rotate, zoom

N_OBJECTS = 8
# Quadrant of slot i is i % 4: (row centre, column centre) and the (y, x) labels.
QUADRANTS = {0: (25, 25, 0, 0), 1: (75, 25, 1, 0), 2: (25, 75, 0, 1), 3: (75, 75, 1, 1)}


def im_scram(image: np.ndarray, parts: int, rng: np.random.Generator) -> np.ndarray:
    """Scramble ``parts x parts`` equal cells of ``image`` by a non-identity permutation.

    Cells are ``floor(side / parts)`` pixels; rows and columns beyond the last
    whole cell are left at zero, as in the original.
    """
    n_cells = (image.shape[0] // (image.shape[0] // parts)) ** 2
    return scramble(image, _scramble_order(rng, n_cells))


def _scramble_order(rng: np.random.Generator, n_cells: int = 9) -> np.ndarray:
    """A uniform non-identity permutation (the original reshuffles until it is not the identity)."""
    identity = np.arange(n_cells)
    order = identity.copy()
    while np.array_equal(order, identity):
        order = rng.permutation(n_cells)
    return order


def scramble(image: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Cell ``i`` of the result shows cell ``order[i]`` of ``image`` (cells numbered down the columns)."""
    side = image.shape[0]
    cells_per_side = round(np.sqrt(len(order)))
    cell = side // cells_per_side
    scrambled = np.zeros(image.shape)
    for i in range(len(order)):
        j = order[i]
        row_i, col_i = (i % cells_per_side) * cell, (i // cells_per_side) * cell
        row_j, col_j = (j % cells_per_side) * cell, (j // cells_per_side) * cell
        scrambled[row_i : row_i + cell, col_i : col_i + cell] = image[row_j : row_j + cell, col_j : col_j + cell]
    return scrambled


def render_object(image: np.ndarray, factor: float, angle: float, order: np.ndarray | None) -> np.ndarray:
    """One object as the original makes it: zoom, rotate, scramble unless it is the target, min-max normalise."""
    obj = rotate(zoom(image, factor), angle, reshape=False)
    if order is not None:
        obj = scramble(obj, order)
    return (obj - obj.min()) / (obj.max() - obj.min())


def render_layout(layout, digits: np.ndarray, fashion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Render given scene parameters (a tfprobe SceneLayout) one object at a time, for parity tests.

    ``digits`` and ``fashion`` are float images (N, 28, 28) in [0, 1].
    """
    n = len(layout.target)
    scenes = np.zeros((n, 100, 100, 1), dtype=np.float32)
    cleans = np.zeros((n, 100, 100, 1), dtype=np.float32)
    for s in range(n):
        canvas, clean = np.zeros((100, 100)), np.zeros((100, 100))
        for i in range(N_OBJECTS):
            source = digits if layout.domain[s, i] == 0 else fashion
            target = i == layout.target[s]
            order = None if target else layout.cell_order[s, i]
            obj = render_object(source[layout.index[s, i]], layout.zoom[s, i], layout.angle[s, i], order)
            _place(canvas, obj, int(layout.row[s, i]), int(layout.col[s, i]))
            if target:
                _place(clean, obj, int(layout.row[s, i]), int(layout.col[s, i]))
        scenes[s, :, :, 0] = (canvas - canvas.min()) / (canvas.max() - canvas.min())
        cleans[s, :, :, 0] = (clean - clean.min()) / (clean.max() - clean.min())
    return scenes, cleans


def _place(canvas: np.ndarray, obj: np.ndarray, row: int, col: int) -> None:
    """Composite ``obj`` onto ``canvas`` centred at (row, col), using its intensity as alpha."""
    top, left = row - obj.shape[0] // 2, col - obj.shape[1] // 2
    region = canvas[top : top + obj.shape[0], left : left + obj.shape[1]]
    canvas[top : top + obj.shape[0], left : left + obj.shape[1]] = (1 - obj) * region + obj * obj


def gen_images(
    n_images: int,
    digits: tuple[np.ndarray, np.ndarray],
    fashion: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Render ``n_images`` cluttered scenes, one at a time.

    Parameters
    ----------
    n_images : int
        Number of scenes.
    digits, fashion : (images, labels)
        Objects of the split: images (N, 28, 28) float in [0, 1] (or uint8), labels (N,) in 0..9.
    rng : numpy.random.Generator
        The only source of randomness.

    Returns
    -------
    images, clean : ndarray (n, 100, 100, 1) float32
        The scene and the target alone, each min-max normalised.
    labels : dict of int arrays
        ``category`` (0-9 digits, 10-19 fashion), ``x`` and ``y`` (0: 25 px, 1: 75 px), ``scale``
        (0: x0.8-1.0, 1: x1.4-1.6), ``orientation`` (0: +25..35 degrees, 1: -25..-35), ``domain``
        (0 digit, 1 fashion).
    """
    sources = []
    for images, labels in (digits, fashion):
        images = np.asarray(images, dtype=np.float64)
        sources.append((images / 255.0 if images.max() > 1.0 else images, np.asarray(labels)))
    scenes = np.zeros((n_images, 100, 100, 1), dtype=np.float32)
    cleans = np.zeros((n_images, 100, 100, 1), dtype=np.float32)
    keys = ("category", "x", "y", "scale", "orientation", "domain")
    labels_out = {key: np.zeros(n_images, dtype=np.int64) for key in keys}
    for n in range(n_images):
        canvas = np.zeros((100, 100))
        clean = np.zeros((100, 100))
        target = 4 + int(rng.integers(N_OBJECTS // 2))
        domains = (rng.random(N_OBJECTS) < 0.5).astype(int)
        for i in range(N_OBJECTS):
            images, categories = sources[domains[i]]
            index = int(rng.integers(images.shape[0]))
            large = int(rng.random() > 0.5)
            factor = (1.5 if large else 0.9) + (rng.random() - 0.5) / 5.0
            negative_angle = int(rng.random() > 0.5)
            angle = (-30 if negative_angle else 30) + (rng.random() - 0.5) * 2 * 5
            order = None if i == target else _scramble_order(rng)
            row_centre, col_centre, y_label, x_label = QUADRANTS[i % 4]
            row = int(np.round(row_centre + (rng.random() - 0.5) * 2 * 2.5))
            col = int(np.round(col_centre + (rng.random() - 0.5) * 2 * 2.5))
            obj = render_object(images[index], factor, angle, order)
            _place(canvas, obj, row, col)
            if i == target:
                _place(clean, obj, row, col)
                labels_out["category"][n] = int(categories[index]) + 10 * domains[i]
                labels_out["domain"][n] = domains[i]
                labels_out["scale"][n] = large
                labels_out["orientation"][n] = negative_angle
                labels_out["x"][n] = x_label
                labels_out["y"][n] = y_label
        scenes[n, :, :, 0] = (canvas - canvas.min()) / (canvas.max() - canvas.min())
        cleans[n, :, :, 0] = (clean - clean.min()) / (clean.max() - clean.min())
    return scenes, cleans, labels_out


def render_perturbed_layout(
    layout, same_domain: np.ndarray, other_domain: np.ndarray, digits: np.ndarray, fashion: np.ndarray, swap: str
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """RNN_perturb.py's scene and its six variants for given parameters, one object at a time.

    ``layout`` holds RNN_perturb.py's exact values (a tfprobe SceneLayout drawn with ``exact=True``);
    ``same_domain`` / ``other_domain`` are the replacement targets' indices in the target's domain and in
    the other one.  ``swap="original"`` applies the scale and orientation swaps on top of the transformed
    target, as RNN_perturb.py does; ``"corrected"`` applies them to the original image.  Positions swap
    with the slot 4-7 partner in the same row (``x``) or column (``y``).
    """
    n = len(layout.target)
    names = ("x", "y", "orientation", "scale", "category_same_domain", "category_other_domain")
    scenes = np.zeros((n, 100, 100, 1), dtype=np.float32)
    variants = {name: np.zeros((n, 100, 100, 1), dtype=np.float32) for name in names}

    def normalised(obj: np.ndarray) -> np.ndarray:
        return (obj - obj.min()) / (obj.max() - obj.min())

    for s in range(n):
        t = int(layout.target[s])
        sources = (digits, fashion)
        objects = []
        for i in range(N_OBJECTS):
            order = None if i == t else layout.cell_order[s, i]
            image = sources[layout.domain[s, i]][layout.index[s, i]]
            objects.append(render_object(image, layout.zoom[s, i], layout.angle[s, i], order))
        domain, factor, angle = int(layout.domain[s, t]), layout.zoom[s, t], layout.angle[s, t]
        image = sources[domain][layout.index[s, t]]
        other_factor = 0.8 if factor > 1 else 1.6
        if swap == "original":
            scale = rotate(zoom(zoom(image, factor), other_factor), angle, reshape=False)
            orientation = rotate(rotate(zoom(image, factor), angle, reshape=False), -angle, reshape=False)
        else:
            scale = rotate(zoom(image, other_factor), angle, reshape=False)
            orientation = rotate(zoom(image, factor), -angle, reshape=False)
        same = rotate(zoom(sources[domain][same_domain[s]], factor), angle, reshape=False)
        other = rotate(zoom(sources[1 - domain][other_domain[s]], factor), angle, reshape=False)
        replaced = {
            "scale": scale,
            "orientation": orientation,
            "category_same_domain": same,
            "category_other_domain": other,
        }
        positions = [(int(layout.row[s, i]), int(layout.col[s, i])) for i in range(N_OBJECTS)]
        for name in ("scene", *names):
            canvas = np.zeros((100, 100))
            where = list(positions)
            if name in ("x", "y"):
                partner = 4 + ((t - 4) ^ (2 if name == "x" else 1))
                where[t], where[partner] = positions[partner], positions[t]
            for i in range(N_OBJECTS):
                obj = normalised(replaced[name]) if (i == t and name in replaced) else objects[i]
                _place(canvas, obj, *where[i])
            canvas = (canvas - canvas.min()) / (canvas.max() - canvas.min())
            (scenes if name == "scene" else variants[name])[s, :, :, 0] = canvas
    return scenes, variants
