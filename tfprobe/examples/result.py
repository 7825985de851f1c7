"""The result of a dataset-example search: per channel, the k images that drive it most and least.

A :class:`DatasetExamples` holds the ranked scores, the images' indices in the source and (for units with a
map) the positions the scores were read at, with the unit's receptive field on the input.  It reads the
example images back from the source when they are asked for (:meth:`DatasetExamples.images`) and keeps
them when saved, so a saved result reloads with its images, without the source.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image

import tfprobe
from tfprobe.atomic import check_destination, staged
from tfprobe.circuits.fields import InputField, crop
from tfprobe.errors import InvalidIndexError, InvalidTypeError, InvalidValueError, MissingFileError
from tfprobe.figures.dataset_examples import display_range
from tfprobe.validation import is_int

__all__ = ["DatasetExamples", "load_dataset_examples"]

#: Which list: the highest scores, or the lowest.
WHICH = ("top", "bottom")
#: Which images: the receptive-field crop around the score's position, or the whole image.
KINDS = ("crop", "whole")
_FORMAT = "tfprobe.dataset_examples/1"


@dataclasses.dataclass
class DatasetExamples:
    """The images that drive each channel of one unit most and least.

    Attributes
    ----------
    unit : str
    channels : ndarray (channels,)
        The unit's channels ranked, in the order of the rows below.
    scores, indices : ndarray (channels, k)
        Highest scores first, and the source indices of their images (ties: lower index first).
    positions : ndarray (channels, k, 2) or None
        Row and column of each score in the unit's map (None for a unit without a map).
    bottom_scores, bottom_indices, bottom_positions
        The same for the lowest scores (lowest first); None if the search kept none.
    field : InputField or None
        The unit's receptive field on the input (None for a unit without a map, or one whose layers have no
        known spatial footprint: ``no_field`` says why).
    settings : dict
        How the search was run (units, k, channels, reduction, source, images seen).
    """

    unit: str
    channels: np.ndarray
    scores: np.ndarray
    indices: np.ndarray
    positions: np.ndarray | None
    bottom_scores: np.ndarray | None
    bottom_indices: np.ndarray | None
    bottom_positions: np.ndarray | None
    field: InputField | None
    settings: dict[str, Any]
    no_field: str = ""
    reader: Callable[[np.ndarray], dict[int, np.ndarray]] | None = dataclasses.field(default=None, repr=False)
    _images: dict[int, np.ndarray] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def from_lists(
        cls,
        unit: str,
        channels: np.ndarray,
        top: tuple[np.ndarray, np.ndarray, np.ndarray],
        bottom: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
        *,
        spatial: bool,
        field: InputField | None,
        settings: dict[str, Any],
        reader: Callable[[np.ndarray], dict[int, np.ndarray]] | None,
        no_field: str = "",
    ) -> DatasetExamples:
        """A result from ranked (scores, indices, positions) lists."""
        low = bottom or (None, None, None)
        return cls(
            unit=unit,
            channels=np.asarray(channels, np.int64),
            scores=top[0],
            indices=top[1],
            positions=top[2] if spatial else None,
            bottom_scores=low[0],
            bottom_indices=low[1],
            bottom_positions=low[2] if spatial and bottom is not None else None,
            field=field,
            settings=settings,
            no_field=no_field if spatial else f"unit {unit!r} has no spatial map",
            reader=reader,
        )

    @property
    def k(self) -> int:
        """Images per channel."""
        return int(self.scores.shape[1])

    def rows(self, channels: int | Sequence[int] | None) -> np.ndarray:
        """Row numbers of the arrays for the unit's ``channels`` (default: all, in order)."""
        if channels is None:
            return np.arange(len(self.channels))
        wanted = [channels] if is_int(channels) else list(channels)
        where = {int(c): row for row, c in enumerate(self.channels)}
        missing = [c for c in wanted if int(c) not in where]
        if missing:
            raise InvalidIndexError(
                f"channels {missing} were not ranked for unit {self.unit!r} (ranked: {self.channels.tolist()[:20]}"
                f"{', ...' if len(self.channels) > 20 else ''})"
            )
        return np.asarray([where[int(c)] for c in wanted])

    def _lists(self, which: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if which not in WHICH:
            raise InvalidValueError(f"which must be one of {', '.join(WHICH)}, got {which!r}")
        if which == "bottom":
            if self.bottom_indices is None:
                raise InvalidValueError(f"the search for {self.unit!r} kept no bottom examples (bottom=False)")
            return self.bottom_scores, self.bottom_indices, self.bottom_positions
        return self.scores, self.indices, self.positions

    def _read(self, indices: np.ndarray) -> None:
        missing = np.setdiff1d(np.unique(indices), np.fromiter(self._images, np.int64, len(self._images)))
        if missing.size == 0:
            return
        if self.reader is None:
            raise MissingFileError(
                f"the images of {self.unit!r}'s examples are not at hand: they were not saved with the result "
                "and it has no source to read them from"
            )
        self._images.update(self.reader(missing))

    def images(
        self, kind: str = "crop", which: str = "top", channels: int | Sequence[int] | None = None, *, fill: float = 0.0
    ) -> np.ndarray:
        """The example images, read from the source (once) or from the saved result.

        Parameters
        ----------
        kind : {"crop", "whole"}
            The receptive-field crop around each score's position (always the field's full size; pixels
            beyond the image's border are ``fill``, see :meth:`outside`), or the whole image.
        which : {"top", "bottom"}
        channels : int or sequence of int, optional
            Default: every ranked channel.
        fill : float
            Value of crop pixels beyond the image's border.

        Returns
        -------
        ndarray (channels, k, rows, columns, image channels), float32
        """
        if kind not in KINDS:
            raise InvalidValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        _, indices, positions = self._lists(which)
        rows = self.rows(channels)
        if kind == "crop":
            self._check_crops()
        chosen = indices[rows]
        self._read(chosen)
        if kind == "whole":
            return np.stack([np.stack([self._images[int(i)] for i in line]) for line in chosen])
        return np.stack(
            [
                np.stack(
                    [crop(self._images[int(i)], self.field, *positions[r, j], fill=fill)[0] for j, i in enumerate(line)]
                )
                for r, line in zip(rows, chosen, strict=True)
            ]
        )

    def outside(self, which: str = "top", channels: int | Sequence[int] | None = None) -> np.ndarray:
        """Where each crop of :meth:`images` lies beyond the image's border (the padding the unit saw).

        Returns
        -------
        ndarray of bool (channels, k, field rows, field columns)
        """
        self._check_crops()
        _, indices, positions = self._lists(which)
        shape = tuple(self.field.image_size)
        blank = np.zeros((*shape, 1), np.float32)
        return np.stack(
            [
                np.stack([crop(blank, self.field, *positions[r, j])[1] for j in range(indices.shape[1])])
                for r in self.rows(channels)
            ]
        )

    def _check_crops(self) -> None:
        if self.field is None:
            raise InvalidTypeError(f"no receptive-field crops for {self.unit!r}: {self.no_field}; ask for kind='whole'")

    def figure(
        self,
        channels: int | Sequence[int] | None = None,
        *,
        kind: str | None = None,
        bottom: bool | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> Any:
        """A grid of the examples: one row per channel, the top k then the bottom k, scores beneath, crop
        pixels beyond the border tinted red.  Saved to ``path`` if given.

        Parameters
        ----------
        channels : int or sequence of int, optional
            Default: the first 8 ranked channels.
        kind : {"crop", "whole"}, optional
            Default: crops when the unit has a receptive field, else whole images.
        bottom : bool, optional
            Show the bottom examples (default: when they were kept).
        """
        from tfprobe.figures.dataset_examples import examples_figure

        kind = kind or ("crop" if self.field is not None else "whole")
        rows = self.rows(channels if channels is not None else self.channels[:8])
        show_bottom = self.bottom_indices is not None if bottom is None else bool(bottom)
        chosen = self.channels[rows].tolist()
        panels = {"top": (self.images(kind, "top", chosen), self.scores[rows])}
        if show_bottom:
            panels["bottom"] = (self.images(kind, "bottom", chosen), self.bottom_scores[rows])
        masks = None
        if kind == "crop":
            masks = {which: self.outside(which, chosen) for which in panels}
        title = f"{self.unit}: dataset examples ({self.settings.get('reduce', 'max')}, {kind})"
        if self.field is not None and self.field.feedforward_only:
            title += "\n" + self.field.note
        return examples_figure(panels, chosen, masks=masks, title=title, path=path)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the images, as JSON values."""

        def plain(array: np.ndarray | None) -> Any:
            return None if array is None else array.tolist()

        return {
            "format": _FORMAT,
            "tfprobe_version": tfprobe.__version__,
            "unit": self.unit,
            "channels": plain(self.channels),
            "scores": plain(self.scores),
            "indices": plain(self.indices),
            "positions": plain(self.positions),
            "bottom_scores": plain(self.bottom_scores),
            "bottom_indices": plain(self.bottom_indices),
            "bottom_positions": plain(self.bottom_positions),
            "field": None if self.field is None else self.field.to_dict(),
            "no_field": self.no_field,
            "settings": self.settings,
        }

    def save(self, folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write ``examples.json`` (:meth:`to_dict`), ``images.npz`` (the example images, once each) and one
        PNG grid per channel (``channel_<c>.png``: top row the top examples, bottom row the bottom ones),
        all at once (a folder that is complete or absent).  :func:`load_dataset_examples` reads it back."""
        folder = check_destination(folder, overwrite=overwrite, what="dataset examples folder")
        wanted = [self.indices] + ([self.bottom_indices] if self.bottom_indices is not None else [])
        self._read(np.concatenate([w.ravel() for w in wanted]))
        ids = np.unique(np.concatenate([w.ravel() for w in wanted]))
        with staged(folder, directory=True) as temporary:
            (temporary / "examples.json").write_text(json.dumps(self.to_dict(), indent=1))
            np.savez_compressed(temporary / "images.npz", ids=ids, images=np.stack([self._images[int(i)] for i in ids]))
            kind = "crop" if self.field is not None else "whole"
            for channel in self.channels.tolist():
                lines = [
                    self.images(kind, which, channel)[0]
                    for which in WHICH
                    if which == "top" or self.bottom_indices is not None
                ]
                _grid_png(lines, temporary / f"channel_{channel}.png")
        return Path(folder)

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> DatasetExamples:
        """The result :meth:`save` wrote, with its images."""
        folder = Path(folder)
        if not (folder / "examples.json").is_file():
            raise MissingFileError(f"{folder} holds no examples.json: not a saved DatasetExamples folder")
        fields = json.loads((folder / "examples.json").read_text())
        if fields.get("format") != _FORMAT:
            raise InvalidValueError(f"{folder}/examples.json is not a {_FORMAT} file (format {fields.get('format')!r})")

        def array(name: str, dtype: Any) -> np.ndarray | None:
            return None if fields[name] is None else np.asarray(fields[name], dtype)

        result = cls(
            unit=fields["unit"],
            channels=array("channels", np.int64),
            scores=array("scores", np.float32),
            indices=array("indices", np.int64),
            positions=array("positions", np.int32),
            bottom_scores=array("bottom_scores", np.float32),
            bottom_indices=array("bottom_indices", np.int64),
            bottom_positions=array("bottom_positions", np.int32),
            field=None if fields["field"] is None else InputField.from_dict(fields["field"]),
            settings=fields["settings"],
            no_field=fields["no_field"],
        )
        with np.load(folder / "images.npz", allow_pickle=False) as stored:
            result._images = {int(i): image for i, image in zip(stored["ids"], stored["images"], strict=True)}
        return result


def load_dataset_examples(folder: str | os.PathLike[str]) -> DatasetExamples:
    """A :class:`DatasetExamples` saved with :meth:`DatasetExamples.save`, with its images."""
    return DatasetExamples.load(folder)


def _grid_png(lines: list[np.ndarray], path: Path, gap: int = 2) -> None:
    """Rows of images (each (k, rows, columns, channels)) as one PNG with white gaps."""
    k, height, width, _ = lines[0].shape
    canvas = np.ones((len(lines) * (height + gap) - gap, k * (width + gap) - gap, 3), np.float32)
    for r, line in enumerate(lines):
        for c, image in enumerate(line):
            shown = display_range(image)
            shown = np.repeat(shown[..., None], 3, axis=-1) if shown.ndim == 2 else shown
            canvas[r * (height + gap) : r * (height + gap) + height, c * (width + gap) : c * (width + gap) + width] = (
                shown
            )
    PIL.Image.fromarray(np.round(canvas * 255).astype(np.uint8)).save(path)
