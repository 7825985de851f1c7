"""Scenes with one target property changed and the clutter left identical (the original's RNN_perturb.py).

For each scene, six variants: the target moved to the other column (``x``) or
row (``y``), rotated the other way (``orientation``), zoomed to the other scale
(``scale``), replaced by an object of another category of the same domain
(``category_same_domain``) or by one of the other domain
(``category_other_domain``).  Scenes use RNN_perturb.py's exact values: objects
at the quadrant centres, zoom 0.8 or 1.6, rotation +35 or -35 degrees.

Positions are swapped the way RNN_perturb.py does it: the target trades places
with the clutter object of the same row (``x``) or column (``y``) among slots
4-7, so every quadrant still holds two objects.  (RNN_perturb.py names its
variables after the array axis: its ``xswap`` moves the row, which is the
``y`` label here.)

``swap="original"`` (default) reproduces a quirk of RNN_perturb.py, for
comparable results: it applies the swap on top of the already transformed
target, so the scale variant is zoomed twice (0.8 then 1.6, or 1.6 then 0.8:
x1.28 overall, 35 or 36 pixels) and the orientation variant is rotated back
(+35 then -35: about 0 degrees, slightly blurred).  ``swap="corrected"`` zooms
the original image to the other scale once, or rotates it by the opposite angle
once.  Variant labels always state the intended swap.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfprobe.datasets.scene_layout import CANVAS_SIDE, EXACT_ZOOMS, N_OBJECTS, OBJECT_SIDE, SceneLayout
from tfprobe.datasets.scene_objects import ObjectImages
from tfprobe.datasets.scene_render import CHUNK_SCENES, composite, render_scene_objects
from tfprobe.datasets.scenes import Scenes, scene_labels
from tfprobe.datasets.splines import zoom_images, zoom_rotate
from tfprobe.errors import InvalidValueError

PERTURBATIONS = ("x", "y", "orientation", "scale", "category_same_domain", "category_other_domain")
SWAPS = ("original", "corrected")


@dataclasses.dataclass(frozen=True)
class Replacements:
    """Per scene, the image index of the category-swapped targets.

    ``same_domain`` indexes the target's domain (always another class); ``other_domain`` the other domain.
    """

    same_domain: np.ndarray
    other_domain: np.ndarray


@dataclasses.dataclass(frozen=True)
class PerturbedScenes:
    """Scenes and, for each, six variants with one target property changed.

    Attributes
    ----------
    scenes : Scenes
        The unperturbed scenes (images, clean, labels, layout).
    variants : dict of str to ndarray (n, 100, 100, 1) float32
        One entry per name in ``PERTURBATIONS``.
    variant_clean : dict of str to ndarray (n, 100, 100, 1) float32
        The changed target alone, per variant.
    variant_labels : dict of str to dict of str to ndarray (n,)
        The labels of each variant: the scene's, with the swapped property changed.
    swap : str
        ``"original"`` or ``"corrected"`` (see the module documentation).
    replacements : Replacements
        Which images replaced the target in the category variants.
    """

    scenes: Scenes
    variants: dict[str, np.ndarray]
    variant_clean: dict[str, np.ndarray]
    variant_labels: dict[str, dict[str, np.ndarray]]
    swap: str
    replacements: Replacements

    def __len__(self) -> int:
        return len(self.scenes)


def check_swap(swap: str) -> None:
    if swap not in SWAPS:
        raise InvalidValueError(f"swap must be one of {', '.join(map(repr, SWAPS))}, got {swap!r}")


def draw_replacements(rng: np.random.Generator, layout: SceneLayout, objects: ObjectImages) -> Replacements:
    """Draw the replacement targets: another class of the same domain (by rejection, as the original) and
    any object of the other domain."""
    domain = layout.at_target("domain")
    label = objects.labels[objects.stack_index(domain, layout.at_target("index"))]
    counts = np.array([objects.n_digits, objects.n_fashion])
    for d, name in enumerate(("digits", "fashion")):
        present = objects.labels[d * objects.n_digits : d * objects.n_digits + counts[d]]
        if (domain == d).any() and np.unique(present).size < 2:
            raise InvalidValueError(f"category swaps within a domain need at least two classes of {name}; got only one")
    same = rng.integers(0, counts[domain])
    redo = objects.labels[objects.stack_index(domain, same)] == label
    while redo.any():
        same[redo] = rng.integers(0, counts[domain[redo]])
        redo = objects.labels[objects.stack_index(domain, same)] == label
    other = rng.integers(0, counts[1 - domain])
    return Replacements(same_domain=same, other_domain=other)


def _pad(objects: np.ndarray, side: int) -> np.ndarray:
    padded = np.zeros((len(objects), side, side))
    padded[:, : objects.shape[1], : objects.shape[2]] = objects
    return padded


def _variant_targets(
    layout: SceneLayout, replacements: Replacements, objects: ObjectImages, rendered: np.ndarray, swap: str
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Rendered target objects (and their sizes) of the scale, orientation and two category variants."""
    n = len(layout)
    domain = layout.at_target("domain")
    stack = objects.stack_index(domain, layout.at_target("index"))
    size = layout.at_target("size")
    angle = layout.at_target("angle")
    large = layout.at_target("large")
    other_size = np.rint(OBJECT_SIDE * np.where(large, EXACT_ZOOMS[0], EXACT_ZOOMS[1])).astype(np.int64)
    source = objects.images
    if swap == "corrected":
        scale = zoom_rotate(source, other_size, angle, index=stack, divisor=objects.divisor)
        scale_size = other_size
        orientation = zoom_rotate(source, size, -angle, index=stack, divisor=objects.divisor)
    else:
        # zoom(zoom(X, f), f_other): the second zoom starts from the first one's output.
        once = zoom_images(source[stack] / objects.divisor, OBJECT_SIDE, size)
        scale_size = np.rint(size * np.where(large, EXACT_ZOOMS[0], EXACT_ZOOMS[1])).astype(np.int64)
        scale = zoom_rotate(once, scale_size, angle, sizes_in=size)
        # rotate(rotate(zoom(X, f), a), -a): rotate the rendered target back.
        targets = rendered.reshape(n, N_OBJECTS, *rendered.shape[1:])[np.arange(n), layout.target]
        orientation = zoom_rotate(targets, size, -angle, sizes_in=size)
    same_index = objects.stack_index(domain, replacements.same_domain)
    other_index = objects.stack_index(1 - domain, replacements.other_domain)
    same = zoom_rotate(source, size, angle, index=same_index, divisor=objects.divisor)
    other = zoom_rotate(source, size, angle, index=other_index, divisor=objects.divisor)
    return [scale, orientation, same, other], [scale_size, size, size, size]


def _chunk(
    layout: SceneLayout,
    replacements: Replacements,
    objects: ObjectImages,
    swap: str,
    out: np.ndarray,
    first: int,
    total: int,
) -> None:
    """Render scenes ``first ..`` of one chunk into ``out`` (canvas ``v * total + scene`` for view ``v``)."""
    n = len(layout)
    rendered, sizes = render_scene_objects(layout, objects)
    extras, extra_sizes = _variant_targets(layout, replacements, objects, rendered, swap)
    side = max(x.shape[1] for x in [rendered, *extras])
    pool = np.concatenate([_pad(x, side) for x in [rendered, *extras]])
    pool_sizes = np.concatenate([sizes, *extra_sizes])

    scene = np.arange(n)
    base = scene[:, None] * N_OBJECTS + np.arange(N_OBJECTS)  # (n, 8) pool ids
    rows, cols = layout.row, layout.col
    views = []  # (object ids, rows, cols) per canvas kind, each (n, 8)
    views.append((base, rows, cols))  # the scene itself
    for flip in (2, 1):  # x: other column, y: other row
        partner = N_OBJECTS // 2 + ((layout.target - N_OBJECTS // 2) ^ flip)
        moved_rows, moved_cols = rows.copy(), cols.copy()
        for moved, original in ((moved_rows, rows), (moved_cols, cols)):
            moved[scene, layout.target] = original[scene, partner]
            moved[scene, partner] = original[scene, layout.target]
        views.append((base, moved_rows, moved_cols))
    for e in range(len(extras)):
        ids = base.copy()
        ids[scene, layout.target] = len(rendered) + e * n + scene
        views.append((ids, rows, cols))
    # every view's full scene (8 draws each), then every view's clean image (its target alone)
    at_target = (scene, layout.target)
    object_of = np.concatenate([ids.ravel() for ids, _, _ in views] + [ids[at_target] for ids, _, _ in views])
    draw_rows = np.concatenate([r.ravel() for _, r, _ in views] + [r[at_target] for _, r, _ in views])
    draw_cols = np.concatenate([c.ravel() for _, _, c in views] + [c[at_target] for _, _, c in views])
    n_full = len(views) * n
    draw_start = np.concatenate([np.arange(n_full) * N_OBJECTS, n_full * N_OBJECTS + np.arange(n_full + 1)])
    out_index = np.concatenate([v * total + first + scene for v in range(2 * len(views))])
    composite(pool, pool_sizes, draw_start, object_of, draw_rows, draw_cols, out, out_index)


def render_perturbed(
    layout: SceneLayout, replacements: Replacements, objects: ObjectImages, swap: str = "original"
) -> PerturbedScenes:
    """Render scenes and their six variants.

    Parameters
    ----------
    layout : SceneLayout
        Usually drawn with ``exact=True`` (RNN_perturb.py's values).
    replacements : Replacements
        From :func:`draw_replacements`.
    objects : ObjectImages
    swap : {"original", "corrected"}
    """
    check_swap(swap)
    n = len(layout)
    # views: the scene, then its variants (x, y, scale, orientation, categories); then their clean images
    n_views = 2 * (1 + len(PERTURBATIONS))
    out = np.empty((n_views, n, CANVAS_SIDE, CANVAS_SIDE, 1), dtype=np.float32)
    flat = out.reshape(n_views * n, CANVAS_SIDE, CANVAS_SIDE)
    for start in range(0, n, CHUNK_SCENES):
        stop = min(start + CHUNK_SCENES, n)
        part = Replacements(replacements.same_domain[start:stop], replacements.other_domain[start:stop])
        _chunk(layout[start:stop], part, objects, swap, flat, start, n)
    labels = scene_labels(layout, objects)
    scenes = Scenes(images=out[0], clean=out[n_views // 2], labels=labels, layout=layout)
    order = ("x", "y", "scale", "orientation", "category_same_domain", "category_other_domain")
    variants = {name: out[1 + i] for i, name in enumerate(order)}
    variant_clean = {name: out[n_views // 2 + 1 + i] for i, name in enumerate(order)}
    domain = labels["domain"]
    variant_labels = {}
    for name in PERTURBATIONS:
        changed = dict(labels)
        if name in ("x", "y", "scale", "orientation"):
            changed[name] = 1 - labels[name]
        elif name == "category_same_domain":
            changed["category"] = objects.category(domain, replacements.same_domain)
        else:
            changed["category"] = objects.category(1 - domain, replacements.other_domain)
            changed["domain"] = 1 - domain
        variant_labels[name] = changed
    return PerturbedScenes(
        scenes=scenes,
        variants={name: variants[name] for name in PERTURBATIONS},
        variant_clean={name: variant_clean[name] for name in PERTURBATIONS},
        variant_labels=variant_labels,
        swap=swap,
        replacements=replacements,
    )
