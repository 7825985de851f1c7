"""Exceptions tfprobe raises for bad input or missing data, all in this one module.

Every one derives from :class:`TfprobeError`, so ``except TfprobeError`` catches what tfprobe raises on
purpose, and from the builtin its kind of failure calls for (:class:`ValueError` for bad values,
:class:`FileNotFoundError` for missing files, :class:`KeyError` for unknown names), so code that already
catches those keeps working; each message names what was expected and what was given.  They live in this
light module (no TensorFlow) so the command line can tell them apart cheaply.

The general classes (:class:`InvalidValueError`, :class:`InvalidTypeError`, :class:`InvalidIndexError`,
:class:`InvalidKeyError`, :class:`MissingFileError`, :class:`ExistingOutputError`,
:class:`FolderNotFileError`, :class:`WrongContextError`) cover checks of arguments; the specific ones name
one kind of failure (a damaged checkpoint, an unknown unit).  A builtin exception that escapes tfprobe is a
bug, not a message for the user.
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
    "ExistingOutputError",
    "FolderNotFileError",
    "ImageInputError",
    "InvalidIndexError",
    "InvalidKeyError",
    "InvalidTypeError",
    "InvalidValueError",
    "MissingAssetError",
    "MissingFileError",
    "NotComposableError",
    "ObjectiveError",
    "OptimizationError",
    "TfprobeError",
    "UnknownUnitError",
    "UnsafeCheckpointError",
    "UnsupportedError",
    "WeightsUnavailableError",
    "WrongContextError",
]


class TfprobeError(Exception):
    """The base of every exception tfprobe raises on purpose."""


class InvalidValueError(TfprobeError, ValueError):
    """An argument of the right type but a value tfprobe cannot use: out of range, of the wrong shape, an
    unknown option name, or one that contradicts another argument."""


class InvalidTypeError(TfprobeError, TypeError):
    """An argument of a type tfprobe cannot use: a float or a bool where an int is needed, an object that is
    not the model or result the function works on."""


class InvalidIndexError(TfprobeError, IndexError):
    """An index outside what it indexes (a channel, a filter, a stimulus row, a time step), or of a kind that
    cannot index it."""


class InvalidKeyError(TfprobeError, KeyError):
    """A name that is not among those looked in (an axis, a label, an image set, a flow source); the message
    lists the names there are."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MissingFileError(TfprobeError, FileNotFoundError):
    """A file or folder the caller named (an input, or the folder of an output) that does not exist."""


class ExistingOutputError(TfprobeError, FileExistsError):
    """An output that exists already and is not to be replaced (no ``overwrite``), or exists as a file where
    a folder is wanted (or the other way round)."""


class FolderNotFileError(TfprobeError, IsADirectoryError):
    """A folder given where a file is wanted (an output page, a checkpoint)."""


class WrongContextError(TfprobeError, RuntimeError):
    """A call made where it cannot run, for example inside a ``tf.function`` when it must run eagerly."""


class UnsupportedError(TfprobeError, NotImplementedError):
    """A request this kind of model does not support (the message says which models do)."""


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


class UnknownUnitError(InvalidKeyError):
    """A unit name the model does not have (the message suggests the closest ones)."""


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
