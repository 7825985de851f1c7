"""Keeping TensorFlow's native start-up logs out of the command line's output.

TensorFlow's C++ libraries write lines such as ``cudart_stub.cc:31] Could not find cuda drivers`` and
``cpu_feature_guard.cc`` while they load, before ``TF_CPP_MIN_LOG_LEVEL`` is read, so that variable alone
does not silence them.  :func:`import_tensorflow` loads TensorFlow with the process's standard error
(file descriptor 2) redirected to a temporary file (C stdio buffers flushed into it before it is
restored) and replays every line of it that is not such a log line; ``TF_CPP_MIN_LOG_LEVEL=3`` then
silences what TensorFlow logs later (XLA compilation notices).
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import tempfile

__all__ = ["NATIVE_LOG_LINE", "import_tensorflow"]

#: A line of absl / glog output ("I0000 00:00:1796085192.980084    5633 cudart_stub.cc:31] ..."), absl's
#: warning that logging was not initialised, or the continuation of cpu_feature_guard's notice.
NATIVE_LOG_LINE = re.compile(
    r"^(?:[IWE]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.)"
)


def _flush_c_streams() -> None:
    """Flush C stdio buffers: absl writes some start-up lines through a buffered stream."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library handle (Windows): nothing buffered to catch
        pass


def import_tensorflow(verbose: bool) -> None:
    """Import TensorFlow, silencing its native logs unless ``verbose``."""
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
        import tensorflow

        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            _flush_c_streams()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
        kept = [line for line in text.splitlines(keepends=True) if not NATIVE_LOG_LINE.match(line)]
        sys.stderr.write("".join(kept))
