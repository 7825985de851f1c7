"""Recipes: a parameterisation, transformations, an update rule, a number of steps and a way to display.

* ``naive``: the seed notebook's method exactly (``generate_pattern``): a gray image plus uniform noise
  (``128 + U(0, 20)`` on 0-255 pixels), 40 steps of gradient ascent normalised by the gradient's RMS, one
  0-255 pixel per step, no constraint, and ``deprocess_image``'s standardisation for display.
  ``naive(clip=True)`` keeps the pixels in the model's valid range (projected ascent), for fair comparisons.
* ``default``: Lucid's recipe, retuned on ``benchmarks/featurevis_quality.py``: a Fourier spectrum scaled
  by 1/f^2 (smoother than Lucid's 1/f: on the benchmark's networks the images then transfer to another
  network far more often) with decorrelated colours, squashed by a sigmoid; pad, jitter (a fifth of the
  image, at most 16 px), scale 0.85-1.15, rotation up to 10 degrees and Gaussian noise (0.05), redrawn
  every step and weakening linearly to 30% of their range by the last step; Adam at 0.1 for 256 steps.
  (Noise and the annealing raised transfer to another network from 0.71 to 0.79 on the benchmark.)
* ``maco``: MACO's phase-only parameterisation (its magnitude from images you give), random scale and
  jitter plus noise every step, Adam; it also returns the attribution mask (where the gradients flowed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from tfprobe.visualize.param import Fourier, Maco, Parameterization, Pixels
from tfprobe.visualize.transform import Jitter, Noise, Pad, Rotate, Scale, Transform

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
    """The default recipe's transformations for images of side ``size``."""
    return (
        Pad(max(1, round(size / 16))),
        Jitter(max(1.0, min(size / 4.5, 16.0))),
        Scale(0.85, 1.15),
        Rotate(10.0),
        Noise(0.05),
    )


def default(steps: int = 256, learning_rate: float = 0.1, decay: float = 2.0, anneal: float = 0.3) -> Recipe:
    """Fourier (1/f^``decay``) + decorrelated colours + pad, jitter, scale, rotation and noise, annealed to
    ``anneal`` of their range by the last step + Adam."""
    return Recipe(
        "default",
        Fourier(decay=decay),
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
            raise ValueError(
                "the maco recipe needs natural images to take its magnitude spectrum from: pass maco_images= "
                "(the model's training images, for example)"
            )
        return maco(maco_images)
    if name_or_recipe not in RECIPES:
        raise ValueError(f"unknown recipe {name_or_recipe!r}: expected one of {', '.join([*RECIPES, 'maco'])}")
    return RECIPES[name_or_recipe]()
