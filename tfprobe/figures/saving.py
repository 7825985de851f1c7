"""Saving figures atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from matplotlib.figure import Figure


def save_figure(figure: Figure, path: str | os.PathLike[str], *, dpi: int = 150) -> Path:
    """Write ``figure`` to ``path`` (format from the suffix, e.g. .png, .pdf, .svg) atomically.

    The figure is rendered to a temporary file beside ``path`` and renamed over it, so an
    interrupted save never leaves a truncated file.  Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower()
    if not suffix:
        raise ValueError(f"figure path needs a suffix naming its format (.png, .pdf, .svg), got {str(path)!r}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {str(path.parent)!r} for the figure does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".{suffix}", dir=path.parent)
    os.close(handle)
    try:
        figure.savefig(temporary, format=suffix, dpi=dpi, bbox_inches="tight")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
