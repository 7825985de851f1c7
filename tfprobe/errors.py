"""Exceptions tfprobe raises for bad input.

Each derives from :class:`ValueError` (or, for names that are not there, :class:`KeyError`), so code
that already catches those keeps working, and each message names what was expected and what was given.
They live in this light module (no TensorFlow) so the command line can tell them apart cheaply.
"""

from __future__ import annotations

__all__ = [
    "ActivationFileError",
    "CheckpointDownloadError",
    "CheckpointError",
    "CheckpointMismatchError",
    "DecodingInputError",
    "DuplicateIdError",
    "ImageInputError",
    "UnknownUnitError",
    "UnsafeCheckpointError",
]


class ImageInputError(ValueError):
    """Images of the wrong shape, dtype or content for a model."""


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read: truncated, corrupt, or not a state_dict."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint whose pickle asks to call something other than tensor rebuilding."""


class CheckpointMismatchError(CheckpointError):
    """A readable checkpoint whose keys or shapes do not fit the model it is loaded into."""


class CheckpointDownloadError(CheckpointError):
    """A checkpoint that could not be downloaded: no network, an HTTP error, a cut or a wrong size."""


class ActivationFileError(ValueError):
    """An activation file that cannot be read, or does not match what is being appended to it."""


class DuplicateIdError(ValueError):
    """Stimulus ids that repeat, among themselves or with those of the file they are appended to."""


class DecodingInputError(ValueError):
    """Activations, labels, folds or options that decoding cannot use; the message says which and why."""


class UnknownUnitError(KeyError):
    """A unit name the model does not have (the message suggests the closest ones)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
