"""Cluttered scenes of the original study: the public generator and its ``tf.data`` pipeline.

``ClutteredScenes(split, seed).sample(n)`` renders 100 x 100 scenes of 8 objects
(each an MNIST digit or a Fashion-MNIST item with equal probability), one intact
target and seven scrambled clutter objects, exactly as the original
``gen_images`` does, but for many scenes at once (see
:mod:`tfprobe.datasets.scene_render`).  ``sample_perturbed`` adds, per scene,
variants with one target property swapped (:mod:`tfprobe.datasets.perturbations`),
and ``dataset`` streams endless seeded batches into ``model.fit``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from tfprobe.datasets.digits import load_fashion_mnist, load_mnist
from tfprobe.datasets.scene_layout import CANVAS_SIDE, SceneLayout, draw_layout
from tfprobe.datasets.scene_objects import ObjectImages, ObjectSource
from tfprobe.datasets.scene_render import render_layout
from tfprobe.errors import InvalidTypeError, InvalidValueError
from tfprobe.validation import is_int, non_negative_int

if TYPE_CHECKING:
    from tfprobe.datasets.perturbations import PerturbedScenes

SPLITS = ("train", "validation", "test")
#: Keys of :attr:`Scenes.labels`.
LABEL_KEYS = ("category", "x", "y", "scale", "orientation", "domain")
FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
#: Names of the 20 categories: digits 0-9, then the Fashion-MNIST classes.
CATEGORY_NAMES = tuple(str(d) for d in range(10)) + FASHION_NAMES
#: What labels 0 and 1 of the binary variables mean.
LABEL_VALUES = {
    "x": ("left (25 px)", "right (75 px)"),
    "y": ("top (25 px)", "bottom (75 px)"),
    "scale": ("small", "large"),
    "orientation": ("counter-clockwise", "clockwise"),
    "domain": ("digit", "fashion"),
}


@dataclasses.dataclass(frozen=True)
class Scenes:
    """Rendered scenes with their labels.

    Attributes
    ----------
    images : ndarray (n, 100, 100, 1) float32
        The scenes, min-max normalised to [0, 1].
    clean : ndarray (n, 100, 100, 1) float32
        The target alone, at the same place.
    labels : dict of str to ndarray (n,) int64
        ``category`` (0-9 digits, 10-19 fashion, see ``CATEGORY_NAMES``), ``x`` and ``y`` (0: 25 px,
        1: 75 px; ``y`` is the row), ``scale`` (0 small, 1 large), ``orientation`` (0 counter-clockwise,
        1 clockwise) and ``domain`` (0 digit, 1 fashion).
    layout : SceneLayout
        Every random choice behind the scenes (objects, zooms, angles, positions, scrambling).
    """

    images: np.ndarray
    clean: np.ndarray
    labels: dict[str, np.ndarray]
    layout: SceneLayout

    def __len__(self) -> int:
        return len(self.images)


def scene_labels(layout: SceneLayout, objects: ObjectImages) -> dict[str, np.ndarray]:
    """The target's labels of each scene of a layout."""
    domain = layout.at_target("domain")
    quadrant = layout.target % 4
    return {
        "category": objects.category(domain, layout.at_target("index")),
        "x": (quadrant // 2).astype(np.int64),
        "y": (quadrant % 2).astype(np.int64),
        "scale": layout.at_target("large").astype(np.int64),
        "orientation": layout.at_target("negative").astype(np.int64),
        "domain": domain.astype(np.int64),
    }


def as_generator(seed: int | np.random.Generator) -> np.random.Generator:
    """A numpy Generator from an int seed (or the Generator itself); anything else is refused."""
    if isinstance(seed, np.random.Generator):
        return seed
    if not is_int(seed):
        raise InvalidTypeError(f"seed must be an int or a numpy.random.Generator, got {type(seed).__name__} {seed!r}")
    return np.random.default_rng(int(seed))


def check_count(n: object, what: str = "n") -> int:
    """``n`` as a positive int, or a clear error."""
    if not is_int(n):
        raise InvalidTypeError(f"{what} must be a positive int, got {type(n).__name__} {n!r}")
    if n <= 0:
        raise InvalidValueError(f"{what} must be a positive int, got {n}")
    return int(n)


class ClutteredScenes:
    """Generator of the original study's cluttered scenes from one data split.

    Parameters
    ----------
    split : {"train", "validation", "test"}
        Which split the objects come from (the study's: train = 55,000 images, validation = 5,000,
        test = 10,000 per dataset).
    seed : int or numpy.random.Generator
        Source of every random choice: the same seed gives the same scenes, bit for bit, for the same
        sequence of calls.
    digits, fashion : Split or (images, labels), optional
        Objects to use instead of loading MNIST / Fashion-MNIST: images (N, 28, 28) uint8 or float in
        [0, 1], labels (N,) in 0-9.
    allow_single_split : bool
        Passed to :func:`load_mnist` / :func:`load_fashion_mnist` when a dataset exists only as its test
        split (MNIST offline, or anything with only tfprobe's embedded copy): build disjoint splits from it.
        ``sources`` then says where each data set came from, and ``embedded`` names those that are the
        embedded 10,000-image test split.

    Examples
    --------
    >>> scenes = ClutteredScenes("train", seed=1).sample(64)           # doctest: +SKIP
    >>> scenes.images.shape, scenes.labels["category"][:4]              # doctest: +SKIP
    ((64, 100, 100, 1), array([13,  2, 17,  8]))
    """

    def __init__(
        self,
        split: str = "train",
        seed: int | np.random.Generator = 0,
        *,
        digits: ObjectSource | None = None,
        fashion: ObjectSource | None = None,
        allow_single_split: bool = False,
    ) -> None:
        if split not in SPLITS:
            raise InvalidValueError(f"split must be one of {', '.join(map(repr, SPLITS))}, got {split!r}")
        self.split = split
        self._rng = as_generator(seed)
        #: Where the objects of each data set came from (``ImageSplits.source``, or "given by the caller").
        self.sources = {"MNIST": "given by the caller", "Fashion-MNIST": "given by the caller"}
        #: Names of the data sets whose objects come from the 10,000-image test split embedded in tfprobe.
        self.embedded: tuple[str, ...] = ()
        loaders = {"MNIST": (digits, load_mnist), "Fashion-MNIST": (fashion, load_fashion_mnist)}
        objects = {}
        for title, (given, loader) in loaders.items():
            if given is None:
                splits = loader(allow_single_split=allow_single_split)
                given, self.sources[title] = getattr(splits, split), splits.source
                self.embedded += (title,) if splits.embedded else ()
            objects[title] = given
        self.objects = ObjectImages.from_sources(objects["MNIST"], objects["Fashion-MNIST"])

    def __repr__(self) -> str:
        embedded = f"; from tfprobe's embedded test split: {', '.join(self.embedded)}" if self.embedded else ""
        return (
            f"ClutteredScenes(split={self.split!r}, {self.objects.n_digits:,} digits, "
            f"{self.objects.n_fashion:,} fashion items{embedded})"
        )

    def draw_layout(self, n: int, *, exact: bool = False) -> SceneLayout:
        """Draw the random choices of ``n`` scenes (``exact``: RNN_perturb.py's fixed values)."""
        n = check_count(n)
        return draw_layout(self._rng, n, self.objects.n_digits, self.objects.n_fashion, exact=exact)

    def render(self, layout: SceneLayout) -> Scenes:
        """Render the scenes of a layout (for instance one drawn earlier, or edited)."""
        images, clean = render_layout(layout, self.objects)
        return Scenes(images=images, clean=clean, labels=scene_labels(layout, self.objects), layout=layout)

    def sample(self, n: int) -> Scenes:
        """Render ``n`` new scenes.

        Returns
        -------
        Scenes
            ``images`` and ``clean`` (n, 100, 100, 1) float32 in [0, 1], ``labels`` and ``layout``.
        """
        return self.render(self.draw_layout(n))

    def sample_perturbed(self, n: int, swap: str = "original") -> PerturbedScenes:
        """Render ``n`` scenes with RNN_perturb.py's exact values plus six one-property variants of each.

        See :func:`tfprobe.datasets.perturbations.render_perturbed`; ``swap="original"`` reproduces the
        original's swaps (applied on top of the transformed target: size ends x1.28, rotation at 0 degrees),
        ``swap="corrected"`` swaps to the other value itself.
        """
        from tfprobe.datasets.perturbations import check_swap, draw_replacements, render_perturbed

        check_swap(swap)
        layout = self.draw_layout(n, exact=True)
        replacements = draw_replacements(self._rng, layout, self.objects)
        return render_perturbed(layout, replacements, self.objects, swap)

    def dataset(
        self,
        batch_size: int = 32,
        targets: str | Sequence[str] | None = "category",
        *,
        parallel_calls: int = 2,
        start: int = 0,
        entropy: int | None = None,
        clean_until: int = 0,
    ) -> tf.data.Dataset:
        """An endless, seeded, batched and prefetched ``tf.data.Dataset`` of new scenes.

        Batch ``k`` is rendered from ``numpy.random.default_rng([entropy, k])`` with ``entropy`` drawn
        once from this generator's seed when the dataset is made, so the stream is the same for the same
        seed whatever the prefetching or parallelism, and a stream can be resumed at any batch (``start``).

        Parameters
        ----------
        batch_size : int
        targets : str, sequence of str or None
            A label key (elements are ``(images, labels[key])``, what ``model.fit`` takes), several keys
            (``(images, {key: labels})``), or None (images only).
        parallel_calls : int
            Batches rendered at once (the renderer releases the GIL in its compiled loops).
        start : int
            Index of the first batch: ``dataset(start=k)`` yields what ``dataset().skip(k)`` would, without
            rendering the skipped batches (training resumes its data stream this way).
        entropy : int, optional
            The stream's identity (default: drawn from this generator's seed).  A stream is fully given by
            ``(entropy, start)``, which is what a training checkpoint stores; see :attr:`last_entropy`.
        clean_until : int
            A curriculum (0: none): in batch ``k < clean_until`` a share ``1 - k / clean_until`` of the
            scenes, chosen by the batch's generator, shows the target without its clutter (the scene's
            ``clean`` image; labels unchanged).  From batch ``clean_until`` on, the stream is the one
            without a curriculum.

        Returns
        -------
        tf.data.Dataset
            Elements of images (batch, 100, 100, 1) float32 and int64 labels (batch,).
        """
        batch_size = check_count(batch_size, "batch_size")
        parallel_calls = check_count(parallel_calls, "parallel_calls")
        start = non_negative_int(start, "start", "the index of the first batch")
        clean_until = non_negative_int(clean_until, "clean_until", "the batch where clean scenes stop")
        keys = self._target_keys(targets)
        if entropy is None:
            entropy = int(self._rng.integers(2**63 - 1))
        entropy = non_negative_int(entropy, "entropy")
        #: The entropy of the stream made last by :meth:`dataset`.
        self.last_entropy = entropy

        def render_batch(k: np.int64) -> list[np.ndarray]:
            rng = np.random.default_rng([entropy, int(k)])
            scenes = self.render(draw_layout(rng, batch_size, self.objects.n_digits, self.objects.n_fashion))
            images = scenes.images
            if k < clean_until:
                # Drawn after the layout, so the scenes themselves are those of the stream without a curriculum.
                shown_clean = rng.random(batch_size) < 1.0 - int(k) / clean_until
                images = np.where(shown_clean[:, None, None, None], scenes.clean, scenes.images)
            return [images, *(scenes.labels[key] for key in keys)]

        def as_element(k: tf.Tensor) -> tuple | tf.Tensor:
            out = tf.numpy_function(render_batch, [k], [tf.float32] + [tf.int64] * len(keys), stateful=False)
            images = tf.ensure_shape(out[0], (batch_size, CANVAS_SIDE, CANVAS_SIDE, 1))
            labels = [tf.ensure_shape(x, (batch_size,)) for x in out[1:]]
            if targets is None:
                return images
            if isinstance(targets, str):
                return images, labels[0]
            return images, dict(zip(keys, labels, strict=True))

        counter = tf.data.Dataset.counter(int(start))
        batches = counter.map(as_element, num_parallel_calls=parallel_calls, deterministic=True)
        return batches.prefetch(tf.data.AUTOTUNE)

    @staticmethod
    def _target_keys(targets: str | Sequence[str] | None) -> tuple[str, ...]:
        if targets is None:
            return ()
        keys = (targets,) if isinstance(targets, str) else tuple(targets)
        unknown = [key for key in keys if key not in LABEL_KEYS]
        if unknown or not keys:
            raise InvalidValueError(f"targets must be label keys among {', '.join(LABEL_KEYS)}; got {targets!r}")
        return keys
