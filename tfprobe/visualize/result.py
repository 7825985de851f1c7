"""The result of a rendering: images in [0, 1], the objective each reached, and how they were made."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from tfprobe.atomic import Publication, check_destination

__all__ = ["Visualization"]


def _png(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(path, format="PNG")


@dataclasses.dataclass
class Visualization:
    """Images that maximise an objective.

    Attributes
    ----------
    images : ndarray (n, height, width, channels) float32 in [0, 1]
        What to look at (the ``naive`` recipe's are standardised for display, as the seed notebook does).
    inputs : ndarray (n, height, width, channels) float32
        The optimised images themselves, on the [0, 1] scale of the model's value range (what the objective
        was evaluated on; the unconstrained ``naive`` recipe's may leave [0, 1]).  The same as ``images``
        for recipes whose images are shown as they are.
    values : ndarray (n,)
        The objective each image reached, evaluated on the image itself (no transformation).
    attribution : ndarray (n, height, width) float32 in [0, 1]
        Where the objective's gradient flowed over the optimisation (MACO's transparency mask): the sum of
        absolute image gradients over steps, scaled to a maximum of 1 per image.
    labels : list of str
        What each image shows ("block5_conv2:12").
    objective : str
        The objective, written out.
    settings : dict
        Recipe, parameterisation, transformations, update rule, steps, size, precision, model, value range,
        preprocessing and units.
    seed : int
        The seed: the same seed, model and settings give the same images.
    steps : int
    seconds : float
        Wall time of the rendering.
    """

    images: np.ndarray
    inputs: np.ndarray
    values: np.ndarray
    attribution: np.ndarray
    labels: list[str]
    objective: str
    settings: dict[str, Any]
    seed: int
    steps: int
    seconds: float

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return (
            f"Visualization({len(self)} images of {self.images.shape[1]}x{self.images.shape[2]}, "
            f"recipe={self.settings.get('recipe')!r}, steps={self.steps}, seed={self.seed}, "
            f"objective reached {np.round(self.values, 3).tolist()[:8]}{'...' if len(self) > 8 else ''})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The figures and settings as JSON-able data (images excluded)."""
        return {
            "labels": list(self.labels),
            "values": [float(v) for v in self.values],
            "objective": self.objective,
            "seed": self.seed,
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "settings": self.settings,
        }

    def figure(self, *, columns: int | None = None, path: str | os.PathLike[str] | None = None, mask: bool = False):
        """A grid of the images, titled with their labels and objective values (see
        :func:`tfprobe.figures.plot_visualization`)."""
        from tfprobe.figures.visualization import plot_visualization

        return plot_visualization(self, columns=columns, path=path, mask=mask)

    def save(self, folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write one PNG per image (``<index>_<label>.png``), ``grid.png`` and ``visualization.json`` into
        ``folder`` (created), all published together; an existing folder is refused unless ``overwrite``."""
        folder = Path(folder)
        check_destination(folder, overwrite=overwrite, what="visualization folder")
        with Publication() as outputs:
            staging = outputs.stage(folder, directory=True)
            staging.mkdir()
            for index, (image, label) in enumerate(zip(self.images, self.labels, strict=True)):
                safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in label)[:60]
                _png(image, staging / f"{index:03d}_{safe}.png")
            self.figure(path=staging / "grid.png")
            (staging / "visualization.json").write_text(json.dumps(self.to_dict(), indent=1))
        return folder
