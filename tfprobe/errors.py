"""Exceptions tfprobe raises for bad input or missing data, all in this one module.

Every one derives from :class:`TfprobeError`, so ``except TfprobeError`` catches what tfprobe raises on
purpose, and from the builtin its kind of failure calls for (:class:`ValueError` for bad values,
:class:`FileNotFoundError` for missing files, :class:`KeyError` for unknown names), so code that already
catches those keeps working; each message names what was expected and what was given.  They live in this
light module (no TensorFlow) so the command line can tell them apart cheaply.
"""

from __future__ import annotations

__all__ = [
    "ActivationFileError",
    "CLIDataError",
    "CLIUsageError",
    "CheckpointDownloadError",
    "CheckpointError",
    "CheckpointMismatchError",
    "DatasetFileError",
    "DatasetNotFoundError",
    "DecodingInputError",
    "DuplicateIdError",
    "EmbeddedDataError",
    "ImageInputError",
    "MissingAssetError",
    "NotComposableError",
    "ObjectiveError",
    "OptimizationError",
    "TfprobeError",
    "UnknownUnitError",
    "UnsafeCheckpointError",
    "WeightsUnavailableError",
]


class TfprobeError(Exception):
    """The base of every exception tfprobe raises on purpose."""


class ImageInputError(TfprobeError, ValueError):
    """Images of the wrong shape, dtype or content for a model."""


class CheckpointError(TfprobeError, ValueError):
    """A checkpoint file that cannot be read: truncated, corrupt, or not a state_dict."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint whose pickle asks to call something other than tensor rebuilding."""


class CheckpointMismatchError(CheckpointError):
    """A readable checkpoint whose keys or shapes do not fit the model it is loaded into."""


class CheckpointDownloadError(CheckpointError):
    """A checkpoint that could not be downloaded: no network, an HTTP error, a cut or a wrong size."""


class ActivationFileError(TfprobeError, ValueError):
    """An activation file that cannot be read, or does not match what is being appended to it."""


class DuplicateIdError(TfprobeError, ValueError):
    """Stimulus ids that repeat, among themselves or with those of the file they are appended to."""


class DecodingInputError(TfprobeError, ValueError):
    """Activations, labels, folds or options that decoding cannot use; the message says which and why."""


class UnknownUnitError(TfprobeError, KeyError):
    """A unit name the model does not have (the message suggests the closest ones)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DatasetNotFoundError(TfprobeError, FileNotFoundError):
    """No usable copy of a data set: the message lists each place looked at and why it failed."""


class DatasetFileError(TfprobeError, ValueError):
    """A data set file that cannot be used: corrupt gzip, bad IDX header, wrong size or contents."""


class EmbeddedDataError(DatasetFileError):
    """An embedded data file whose SHA-256 is not the one tfprobe shipped."""


class MissingAssetError(TfprobeError, FileNotFoundError):
    """A file tfprobe ships is not where the installation should have put it."""


class WeightsUnavailableError(TfprobeError, FileNotFoundError, ValueError):
    """ImageNet weights that are neither in Keras's cache nor downloadable (offline)."""


class ObjectiveError(TfprobeError, ValueError):
    """An objective that cannot be built or does not fit the model it is rendered for."""


class OptimizationError(TfprobeError, ValueError):
    """The optimisation produced NaN or infinite values (the message says at which step)."""


class NotComposableError(TfprobeError, ValueError):
    """A layer on the path between two convolutions that has no linear part to compose."""


class CLIUsageError(TfprobeError, ValueError):
    """A command was used wrongly; the message says how to use it."""


class CLIDataError(TfprobeError, ValueError):
    """A file or stimulus a command was given cannot be used; the message names it."""
