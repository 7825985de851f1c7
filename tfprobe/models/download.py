"""Downloading the authors' trained checkpoints of the recurrent network from OSF, resumably.

The authors published two trained networks with the paper (:data:`AUTHOR_CHECKPOINTS`): gain, lateral
and top-down recurrence (``bglt_0111``) and bias instead of gain (``bglt_1011``), 4 time steps each.
They are kept in :func:`checkpoint_dir`: ``$TFPROBE_HOME/checkpoints`` when the environment variable
``TFPROBE_HOME`` is set, else ``~/.tfprobe/checkpoints``.

A download is written to ``<file name>.part`` beside its destination and renamed into place only once it
holds exactly the expected number of bytes, so the destination never holds part of a file.  A download
that is cut short keeps its ``.part``, and the next call resumes it with an HTTP range request (from the
start again when the server ignores ranges).  Every network operation waits at most ``timeout`` seconds,
so without a network the call fails within seconds, naming the URL, where the file goes and how to get it
by hand.  HTTP is spoken by the standard library alone.
"""

from __future__ import annotations

import http.client
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from tfprobe.errors import CheckpointDownloadError, InvalidValueError
from tfprobe.progress import ProgressBar
from tfprobe.validation import int_in_range, is_int

__all__ = [
    "AUTHOR_CHECKPOINTS",
    "DEFAULT_TIMEOUT",
    "AuthorCheckpoint",
    "checkpoint_dir",
    "download_checkpoint",
    "find_checkpoint",
]

#: Seconds any one network operation (connecting, each read) may wait before the download is given up.
DEFAULT_TIMEOUT = 10.0
_DEFAULT_CODE = "bglt_0111"
_USER_AGENT = "tfprobe (https://osf.io checkpoint download; urllib)"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class AuthorCheckpoint:
    """One of the authors' published checkpoints: its file name, where to download it, and its size in bytes."""

    filename: str
    url: str
    size: int


#: The authors' checkpoints by flag code (Thorat, Aldegheri & Kietzmann 2021, on OSF).
AUTHOR_CHECKPOINTS: Mapping[str, AuthorCheckpoint] = MappingProxyType(
    {
        "bglt_0111": AuthorCheckpoint("rnn_bglt_0111_t_4_num_1.pth", "https://osf.io/wxmkv/download", 100_598_907),
        "bglt_1011": AuthorCheckpoint("rnn_bglt_1011_t_4_num_1.pth", "https://osf.io/98tgk/download", 100_598_907),
    }
)


def checkpoint_dir() -> Path:
    """The folder the authors' checkpoints are kept in (present or not).

    ``$TFPROBE_HOME/checkpoints`` when the environment variable ``TFPROBE_HOME`` is set (read at each
    call), else ``~/.tfprobe/checkpoints``.

    Returns
    -------
    Path
        The folder, with ``~`` expanded.
    """
    home = os.environ.get("TFPROBE_HOME") or os.path.join("~", ".tfprobe")
    return Path(os.path.expanduser(home)) / "checkpoints"


def _entry(code: str) -> AuthorCheckpoint:
    try:
        return AUTHOR_CHECKPOINTS[code]
    except (KeyError, TypeError):
        raise InvalidValueError(
            f"no published checkpoint for code {code!r}: the authors published {', '.join(AUTHOR_CHECKPOINTS)}"
        ) from None


def _folder(folder: str | os.PathLike[str] | None) -> Path:
    return checkpoint_dir() if folder is None else Path(os.path.expanduser(os.fspath(folder)))


def _is_complete(path: Path, size: int) -> bool:
    return path.is_file() and path.stat().st_size == size


def find_checkpoint(code: str = _DEFAULT_CODE, folder: str | os.PathLike[str] | None = None) -> Path | None:
    """The authors' checkpoint ``code`` in ``folder``, if it is there whole.

    Parameters
    ----------
    code : str
        A key of :data:`AUTHOR_CHECKPOINTS` (``"bglt_0111"`` or ``"bglt_1011"``).
    folder : path-like, optional
        Where to look; default :func:`checkpoint_dir`.

    Returns
    -------
    Path or None
        ``<folder>/<file name>`` when it exists with the published size; None otherwise (a file of
        another size, such as an interrupted copy, is not returned).

    Raises
    ------
    ValueError
        ``code`` is not one of the published checkpoints (the message lists them).
    """
    entry = _entry(code)
    path = _folder(folder) / entry.filename
    return path if _is_complete(path, entry.size) else None


@dataclass(frozen=True)
class _Job:
    """One download: where from, where to, how many bytes, and how long to wait on the network."""

    url: str
    target: Path
    size: int
    timeout: float
    chunk_bytes: int
    progress: bool

    @property
    def part(self) -> Path:
        return self.target.with_name(self.target.name + ".part")

    def fixes(self) -> str:
        return (
            f"download {self.url} with a browser and put it at {self.target} ({self.size:,} bytes), "
            "or pass --checkpoint PATH to use a copy kept elsewhere"
        )

    def failed(self, reason: str) -> CheckpointDownloadError:
        return CheckpointDownloadError(f"cannot download {self.target.name} from {self.url}: {reason}; {self.fixes()}")

    def wrong_size(self, received: int, verb: str = "sent") -> CheckpointDownloadError:
        """Discard the partial data of a download of the wrong size, and say so."""
        self.part.unlink(missing_ok=True)
        return self.failed(
            f"expected {self.size:,} bytes but the server {verb} {received:,}, so the partial data was deleted "
            "(a mirror's --url/--size may be wrong, or the file was replaced on the server)"
        )

    def cut_short(self, received: int, reason: str) -> CheckpointDownloadError:
        return CheckpointDownloadError(
            f"the download of {self.target.name} from {self.url} was cut short after {received:,} of {self.size:,} "
            f"bytes ({reason}); they are kept in {self.part} and the next download resumes from there; "
            f"or {self.fixes()}"
        )


def _reason(error: BaseException, timeout: float) -> str:
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__


def _content_range(value: str | None) -> tuple[int, int | None] | None:
    """First byte and total size of a ``Content-Range: bytes a-b/total`` header (total None for ``*``)."""
    found = _CONTENT_RANGE.fullmatch((value or "").strip())
    if found is None:
        return None
    total = found.group(3)
    return int(found.group(1)), None if total == "*" else int(total)


def _open(job: _Job, offset: int) -> tuple[http.client.HTTPResponse, int] | None:
    """Ask for the file from byte ``offset`` on: the response and the byte its body starts at, or None when
    the ``.part`` cannot be resumed (the caller starts over)."""
    request = urllib.request.Request(job.url, headers={"User-Agent": _USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=job.timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 416 and offset:  # the .part does not fit the file the server has now
            return None
        raise job.failed(f"the server answered HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = _reason(error, job.timeout)
        raise job.failed(f"cannot reach the server ({reason}): offline, or the server is unreachable") from error
    if response.status == 200:  # the whole file, whatever was asked: a server that ignores ranges
        return response, 0
    if response.status != 206:
        response.close()
        raise job.failed(f"unexpected answer HTTP {response.status} {response.reason}")
    span = _content_range(response.headers.get("Content-Range"))
    if span is None or span[0] != offset:
        response.close()
        return None
    if span[1] is not None and span[1] != job.size:
        response.close()
        raise job.wrong_size(span[1], verb="has a file of")
    return response, offset


def _receive(job: _Job, response: http.client.HTTPResponse, start: int) -> None:
    """Write the body of ``response`` (which starts at byte ``start``) to the ``.part`` file."""
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and start + int(length) != job.size:
        raise job.wrong_size(start + int(length), verb="announces")
    # With a declared length (Content-Length, or chunks, whose end http.client checks) an early end is a cut,
    # to be resumed; a body delimited by closing the connection ends where the server says the file ends.
    declared = length is not None or response.chunked
    received = start
    megabytes = max(1, round(job.size / 1e6))
    bar = ProgressBar(megabytes, unit="MB", stream=sys.stderr, enabled=job.progress)  # stdout: the path
    job.part.parent.mkdir(parents=True, exist_ok=True)  # only now: a failure to connect leaves no trace
    with bar, open(job.part, "ab" if start else "wb") as stream:
        while True:
            try:
                chunk = response.read(job.chunk_bytes)
            except (OSError, http.client.HTTPException) as error:
                stream.flush()
                raise job.cut_short(received, _reason(error, job.timeout)) from error
            if not chunk:
                break
            stream.write(chunk)
            received += len(chunk)
            if received > job.size:
                stream.close()
                raise job.wrong_size(received, verb="sent at least")
            bar.update(received * megabytes // job.size)
        stream.flush()
        os.fsync(stream.fileno())
    if received < job.size:
        if declared:
            raise job.cut_short(received, "the connection closed early")
        raise job.wrong_size(received)


def _fetch(job: _Job) -> None:
    """Bring ``job.part`` to the full size: resume it, or start over when the server cannot resume it."""
    for _attempt in range(2):  # the second only after discarding a .part the server could not resume
        offset = job.part.stat().st_size if job.part.is_file() else 0
        if offset > job.size:
            job.part.unlink()
            offset = 0
        if offset == job.size:  # a finished download that stopped before its rename
            return
        if job.progress:
            resuming = f", resuming after {offset:,} bytes" if offset else ""
            print(f"downloading {job.url} to {job.target} ({job.size:,} bytes{resuming})", file=sys.stderr)
        opened = _open(job, offset)
        if opened is None:
            job.part.unlink(missing_ok=True)
            continue
        response, start = opened
        with response:
            _receive(job, response, start)
        return
    raise job.failed("the server answered a request for the whole file with a part of it")


def download_checkpoint(
    code: str = _DEFAULT_CODE,
    folder: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    size: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
    chunk_bytes: int = 1 << 20,
) -> Path:
    """The authors' checkpoint ``code``, downloaded into ``folder`` unless it is there already.

    The file is written to ``<file name>.part`` and renamed to ``<folder>/<file name>`` once it has exactly
    ``size`` bytes.  An existing ``.part`` (from a download that was cut short) is resumed with an HTTP
    ``Range`` request; if the server sends the whole file instead, the download starts over.  A file of
    another size at the destination is replaced when the download succeeds.

    Parameters
    ----------
    code : str
        A key of :data:`AUTHOR_CHECKPOINTS` (``"bglt_0111"`` or ``"bglt_1011"``); it names the file.
    folder : path-like, optional
        Where to put it (created when the download starts); default :func:`checkpoint_dir`.
    url : str, optional
        Download from here instead of OSF (a mirror); an ``http://`` or ``https://`` address.
    size : int, optional
        The size in bytes the file must have, instead of the published one (with ``url``).
    timeout : float
        Seconds any one network operation (connecting, each read) may wait.
    progress : bool
        Show what is downloaded and a progress bar on standard error.
    chunk_bytes : int
        Bytes read from the network at a time.

    Returns
    -------
    Path
        ``<folder>/<file name>``, complete.  When it is there already the network is not used.

    Raises
    ------
    CheckpointDownloadError
        No network or an unreachable server (the message names the URL, the destination and how to get the
        file by hand), an HTTP error (its status), a download cut short (its ``.part`` is kept for the next
        call), or a file of the wrong size (the partial data is deleted; the message names both sizes).
    ValueError
        An unknown ``code`` (the message lists the published ones), or a bad ``url``, ``size``, ``timeout``
        or ``chunk_bytes``.
    """
    entry = _entry(code)
    if url is None:
        url = entry.url
    elif not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise InvalidValueError(f"url must be an http:// or https:// address, got {url!r}")
    if size is None:
        size = entry.size
    elif not is_int(size) or size < 1:
        raise InvalidValueError(f"size must be a number of bytes >= 1, got {size!r}")
    if not timeout > 0:
        raise InvalidValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    chunk_bytes = int_in_range(chunk_bytes, "chunk_bytes", 1)
    target = _folder(folder) / entry.filename
    if _is_complete(target, size):
        return target
    job = _Job(url, target, size, float(timeout), chunk_bytes, progress)
    _fetch(job)
    if not _is_complete(job.part, size):  # another process wrote to the same .part meanwhile
        raise job.wrong_size(job.part.stat().st_size if job.part.is_file() else 0, verb="left a .part of")
    os.replace(job.part, target)
    return target
