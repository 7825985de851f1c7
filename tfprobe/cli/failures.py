"""How the command line ends on an error: one line in its own words, and an exit status.

Exit status 2 means the command was used wrongly (an option's value, a file that is not there, an output
that exists without ``--overwrite``); 1 means the data could not be used (a damaged or mismatched file,
NaN stimuli, a checkpoint for another model).  ``--debug`` adds the traceback.
"""

from __future__ import annotations

import os

from tfprobe.errors import CLIDataError as DataError
from tfprobe.errors import CLIUsageError as UsageError

__all__ = ["DataError", "UsageError", "exit_status", "one_line"]

USAGE = 2
DATA = 1


def exit_status(error: BaseException) -> int | None:
    """The exit status of an expected error, or None for a bug (which keeps its traceback)."""
    from tfprobe.errors import (
        ActivationFileError,
        CheckpointError,
        DatasetFileError,
        DecodingInputError,
        DuplicateIdError,
        ImageInputError,
        UnknownUnitError,
    )

    if isinstance(error, UsageError):
        return USAGE
    if isinstance(error, (DataError, DatasetFileError, ActivationFileError, CheckpointError, ImageInputError)):
        return DATA
    if isinstance(error, (DecodingInputError, DuplicateIdError)):
        return DATA
    if isinstance(error, (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError)):
        return USAGE
    if isinstance(error, (UnknownUnitError, ValueError, TypeError, IndexError)):
        return USAGE
    if isinstance(error, OSError):  # reading or writing a user's file failed
        return DATA
    return None


def one_line(error: BaseException) -> str:
    """The error's message on one line."""
    text = " ".join(str(error).split())
    if isinstance(error, OSError) and not text:
        text = os.strerror(error.errno) if error.errno else type(error).__name__
    return text or type(error).__name__
