"""How the command line ends on an error: one line in its own words, and an exit status.

Exit status 2 (:data:`USAGE`) means the command was used wrongly: an option's value or type, an unknown unit,
an input file that is not there, an output that exists without ``--overwrite``.  1 (:data:`DATA`) means the
data could not be used: a damaged or mismatched file, NaN stimuli, a checkpoint for another model, a user's
file the system would not let the command read or write.  Both are errors tfprobe raises on purpose
(:class:`~tfprobe.errors.TfprobeError`) or the operating system's refusals (:class:`OSError`).

Anything else is a bug, in tfprobe or a library under it: exit status 3 (:data:`UNEXPECTED`), one line saying
so, and the traceback written to a file in the system's temporary folder, whose path the line gives, for the
bug report.  ``--debug`` prints the traceback instead (and adds it to the expected errors too).
"""

from __future__ import annotations

import itertools
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from tfprobe.errors import (
    ActivationFileError,
    CheckpointError,
    DatasetFileError,
    DecodingInputError,
    DuplicateIdError,
    ImageInputError,
    TfprobeError,
)
from tfprobe.errors import CLIDataError as DataError
from tfprobe.errors import CLIUsageError as UsageError

__all__ = ["DATA", "UNEXPECTED", "USAGE", "DataError", "UsageError", "exit_status", "one_line", "report_bug"]

#: The command was used wrongly.
USAGE = 2
#: The data the command was given could not be used.
DATA = 1
#: A bug: an error tfprobe did not raise on purpose.
UNEXPECTED = 3

#: How long the message of an unexpected error may be on its line.
_SHORT = 200

_DATA_ERRORS = (
    DataError,
    DatasetFileError,
    ActivationFileError,
    CheckpointError,
    ImageInputError,
    DecodingInputError,
    DuplicateIdError,
)
_PATH_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError)


def exit_status(error: BaseException) -> int | None:
    """The exit status of an expected error (:data:`USAGE` or :data:`DATA`), or None for a bug."""
    if isinstance(error, UsageError):
        return USAGE
    if isinstance(error, _DATA_ERRORS):
        return DATA
    if isinstance(error, _PATH_ERRORS):  # a path the user gave: not there, or there already
        return USAGE
    if isinstance(error, TfprobeError):
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


def _short(error: BaseException) -> str:
    """``Type: message``, the message on one line and cut to :data:`_SHORT` characters."""
    text = " ".join(str(error).split())
    if len(text) > _SHORT:
        text = text[: _SHORT - 3].rstrip() + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _save_traceback(error: BaseException, argv: Sequence[str]) -> Path:
    """Write the traceback of ``error``, with what is needed to report it, to a new file in the system's
    temporary folder (complete or not at all) and return its path."""
    from tfprobe import __version__
    from tfprobe.atomic import staged

    stem = Path(tempfile.gettempdir()) / f"tfprobe-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    path = stem.with_suffix(".txt")
    for count in itertools.count(2):  # a second bug in the same second of the same process (tests, notebooks)
        if not path.exists():
            break
        path = stem.with_name(f"{stem.name}-{count}.txt")
    lines = [
        f"tfprobe {__version__}, Python {platform.python_version()}, {platform.platform()}\n",
        f"command: tfprobe {' '.join(argv)}\n\n",
        *traceback.format_exception(type(error), error, error.__traceback__),
    ]
    with staged(path) as temporary:
        temporary.write_text("".join(lines), encoding="utf-8")
    return path


def report_bug(error: BaseException, command: str, argv: Sequence[str], *, debug: bool) -> int:
    """Say on stderr that ``error`` is a bug, with its traceback printed (``debug``) or saved to a file
    whose path is given; return :data:`UNEXPECTED`."""
    prefix = f"tfprobe {command}: unexpected error ({_short(error)}); please report it"
    if not debug:
        try:
            path = _save_traceback(error, argv)
        except OSError:  # no writable temporary folder: print the traceback rather than lose it
            pass
        else:
            print(f"{prefix}, the traceback is in {path}", file=sys.stderr)
            return UNEXPECTED
    traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    print(f"{prefix} with the traceback above", file=sys.stderr)
    return UNEXPECTED
