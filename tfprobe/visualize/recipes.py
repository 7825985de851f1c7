"""Recipes: a parameterisation, transformations, an update rule, a number of steps and a way to display.

* ``naive``: the seed notebook's method exactly (``generate_pattern``): a gray image plus uniform noise
  (``128 + U(0, 20)`` on 0-255 pixels), 40 steps of gradient ascent normalised by the gradient's RMS, one
  0-255 pixel per step, no constraint, and ``deprocess_image``'s standardisation for display.
  ``naive(clip=True)`` keeps the pixels in the model's valid range (projected ascent), for fair comparisons.
* ``default``: Lucid's recipe, retuned on ``benchmarks/featurevis_quality.py`` (against the seed
  notebook's method and Xplique's): a Fourier spectrum scaled by 1/f^2 (smoother than Lucid's 1/f) with
  decorrelated colours and a bounded contrast (a unit's response cannot then grow by contrast alone: the
  unbounded images were 99% saturated), squashed by a sigmoid; pad, jitter, scale 0.8-1.2, a blur of about
  one pixel and noise, redrawn every step; Adam at 0.1 for 128 steps.  The bounded contrast, the blur and
  the wider scale range make the features survive the small shifts and rescalings a network meets, at some
  cost in how often another network names the class (``benchmarks/featurevis_quality.py``, one run each
  on the 2-core machine of docs/benchmarks.md, 2026-12: robustness 0.85 -> 0.92, transfer 0.73 -> 0.56 against
  the previous default, whose pixels were 99% saturated).
* ``maco``: MACO's phase-only parameterisation (its magnitude from images you give, and their mean and
  twice their contrast: see :class:`~tfprobe.visualize.param.Maco`), random scale and jitter plus noise
  every step, Adam; it also returns the attribution mask (where the gradients flowed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from tfprobe.errors import InvalidValueError
from tfprobe.visualize.param import Fourier, Maco, Parameterization, Pixels
from tfprobe.visualize.transform import Blur, Jitter, Noise, Pad, Scale, Transform

__all__ = ["RECIPES", "Recipe", "default", "default_transforms", "maco", "naive", "recipe"]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to optimise.

    Attributes
    ----------
    name : str
    parameterization : Parameterization
    transforms : callable
        ``transforms(size)`` -> the transformations applied at every step to images of that size.
    update : {"adam", "normalized"}
        Adam on the gradient, or a step of ``learning_rate`` along the gradient divided by its RMS per image.
    learning_rate : float
        In units of the [0, 1] image for "normalized", of the variables for "adam".
    steps : int
    display : {"direct", "standardized"}
        Show the images as they are, or standardised as the seed notebook's ``deprocess_image`` does.
    anneal : float
        Strength of the random transformations at the last step, as a share of their configured range
        (they weaken linearly from full strength; 1: constant).
    """

    name: str
    parameterization: Parameterization
    transforms: Callable[[int], tuple[Transform, ...]]
    update: str = "adam"
    learning_rate: float = 0.05
    steps: int = 256
    display: str = "direct"
    anneal: float = 1.0

    def cache_key(self, size: int) -> str:
        """Everything a compiled loop of this recipe depends on (not its number of steps: an input)."""
        described = {k: v for k, v in self.describe(size).items() if k != "steps"}
        return repr((described, self.parameterization.cache_key()))

    def describe(self, size: int) -> dict[str, Any]:
        return {
            "recipe": self.name,
            "parameterization": self.parameterization.describe(),
            "transforms": [t.describe() for t in self.transforms(size)],
            "update": self.update,
            "learning_rate": self.learning_rate,
            "steps": self.steps,
            "display": self.display,
            "anneal": self.anneal,
        }


def naive(clip: bool = False) -> Recipe:
    """The seed notebook's gradient ascent (optionally kept in the valid pixel range)."""
    pixels = Pixels(squash="clip" if clip else "none", init="noise", std=20 / 255)
    return Recipe(
        "naive-clipped" if clip else "naive",
        pixels,
        transforms=lambda size: (),
        update="normalized",
        learning_rate=1 / 255,
        steps=40,
        display="standardized",
    )


def default_transforms(size: int) -> tuple[Transform, ...]:
    """The default recipe's transformations for images of side ``size``: pad (a seventh of the image, at
    most 16 px), jitter (a third, at most 16 px), scale 0.8-1.2, a Gaussian blur of 0.8-1.2 px and noise.
    No rotation: it did not change robustness on the benchmark (0.920 either way) and cost transfer (0.56 ->
    0.52), and without it every resampling is separable (:func:`~tfprobe.visualize.transform.warp_axes`)."""
    return (
        Pad(max(1, min(round(size / 7), 16))),
        Jitter(max(1.0, min(size / 3, 16.0))),
        Scale(0.8, 1.2),
        Blur(0.8, 1.2),
        Noise(0.05),
    )


def default(
    steps: int = 128, learning_rate: float = 0.1, decay: float = 2.0, contrast: float = 4.0, anneal: float = 1.0
) -> Recipe:
    """Fourier (1/f^``decay``, contrast bounded at ``contrast``) + decorrelated colours + pad, jitter, scale,
    blur and noise (their range reduced to ``anneal`` of it by the last step; 1: constant) + Adam."""
    return Recipe(
        "default",
        Fourier(decay=decay, contrast=contrast),
        transforms=default_transforms,
        learning_rate=learning_rate,
        steps=steps,
        anneal=anneal,
    )


def _maco_transforms(size: int) -> tuple[Transform, ...]:
    unit = max(1.0, size / 32)
    return (Pad(round(2 * unit)), Scale(0.8, 1.2), Jitter(4 * unit), Noise(0.05))


def maco(images: Any, steps: int = 256, learning_rate: float = 0.5) -> Recipe:
    """MACO with the magnitude spectrum of ``images`` (n, height, width, channels) in [0, 1]."""
    return Recipe("maco", Maco(images), transforms=_maco_transforms, learning_rate=learning_rate, steps=steps)


#: Recipes by name (``maco`` needs images, so it is made with :func:`maco`).
RECIPES = {"naive": naive, "naive-clipped": lambda: naive(clip=True), "default": default}


def recipe(name_or_recipe: str | Recipe, *, maco_images: Any = None) -> Recipe:
    """A recipe from its name (``"naive"``, ``"naive-clipped"``, ``"default"``, ``"maco"``) or itself."""
    if isinstance(name_or_recipe, Recipe):
        return name_or_recipe
    if name_or_recipe == "maco":
        if maco_images is None:
            raise InvalidValueError(
                "the maco recipe needs natural images to take its magnitude spectrum from: pass maco_images= "
                "(the model's training images, for example)"
            )
        return maco(maco_images)
    if name_or_recipe not in RECIPES:
        raise InvalidValueError(f"unknown recipe {name_or_recipe!r}: expected one of {', '.join([*RECIPES, 'maco'])}")
    return RECIPES[name_or_recipe]()
