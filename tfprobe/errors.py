"""Exceptions tfprobe raises for bad input.

Each derives from :class:`ValueError`, so code that already catches
``ValueError`` keeps working, and each message names what was expected and
what was given.
"""

from __future__ import annotations

__all__ = ["CheckpointError", "CheckpointMismatchError", "ImageInputError", "UnsafeCheckpointError"]


class ImageInputError(ValueError):
    """Images of the wrong shape, dtype or content for a model."""


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read: truncated, corrupt, or not a state_dict."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint whose pickle asks to call something other than tensor rebuilding."""


class CheckpointMismatchError(CheckpointError):
    """A readable checkpoint whose keys or shapes do not fit the model it is loaded into."""
