"""Saving figures atomically."""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.figure import Figure

from tfprobe.atomic import staged
from tfprobe.errors import InvalidValueError


def save_figure(figure: Figure, path: str | os.PathLike[str], *, dpi: int = 150) -> Path:
    """Write ``figure`` to ``path`` (format from the suffix, e.g. .png, .pdf, .svg) atomically.

    The figure is rendered to a temporary file beside ``path`` and renamed over it, so an
    interrupted save never leaves a truncated file.  Returns the path written.
    """
    path = Path(path)
    suffix = check_figure_format(path)
    with staged(path) as temporary:
        figure.savefig(temporary, format=suffix, dpi=dpi, bbox_inches="tight")
    return path


def check_figure_format(path: str | os.PathLike[str]) -> str:
    """The format a figure path's suffix names, or a ValueError listing the formats matplotlib writes."""
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix not in formats:
        raise InvalidValueError(
            f"figure {str(path)!r}: expected a suffix naming a format ({', '.join('.' + f for f in sorted(formats))}), "
            f"got {('.' + suffix) if suffix else 'none'}"
        )
    return suffix
