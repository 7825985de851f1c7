"""Checks of a command's arguments before any work, failing in the command line's own words."""

from __future__ import annotations

import os
from pathlib import Path

from tfprobe.cli.failures import UsageError

__all__ = ["check_existing", "check_output", "check_positive"]


def check_output(path: Path | None, *, overwrite: bool, flag: str, also: str = "") -> None:
    """Refuse an output whose folder is missing, or that exists without ``--overwrite`` (``also``: another
    way out, such as "or --append to add stimuli to it")."""
    if path is None:
        return
    if not path.parent.is_dir():
        raise UsageError(f"{flag} {path}: folder {str(path.parent)!r} does not exist")
    if path.exists() and not overwrite:
        raise UsageError(f"{flag} {path} exists: pass --overwrite to replace it{' ' + also if also else ''}")


def check_existing(path: Path, what: str, *, folder_allowed: bool = False) -> None:
    """Refuse an input that is not there (or a folder where a file is expected)."""
    if not path.exists():
        raise UsageError(f"{what} {str(path)!r} does not exist")
    if path.is_dir() and not folder_allowed:
        raise UsageError(f"{what} {str(path)!r} is a folder, expected a file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{what} {str(path)!r} cannot be read (permission denied)")


def check_positive(value: int | None, flag: str, *, minimum: int = 1) -> None:
    """Refuse an int option below ``minimum``."""
    if value is not None and value < minimum:
        raise UsageError(f"{flag} must be at least {minimum}, got {value}")
