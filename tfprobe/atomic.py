"""Writing files so that nothing half-written is ever seen: a temporary beside the destination, then a rename.

A temporary is made in the destination's own folder (so the rename is atomic on one file system) and
moved over the destination only when it is complete; on any error it is removed and the destination is
left as it was.  :class:`Publication` does the same for several outputs of one command at once.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tfprobe.errors import ExistingOutputError, MissingFileError

__all__ = ["Publication", "check_destination", "staged", "write_json"]


def check_destination(
    path: str | os.PathLike[str], *, overwrite: bool, what: str, remedy: str = "pass overwrite=True to replace it"
) -> Path:
    """Refuse a destination whose folder is missing, or that exists without ``overwrite``.

    ``remedy`` ends the message about an existing file (the command line says ``pass --overwrite ...``).
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise MissingFileError(f"folder {str(path.parent)!r} for the {what} {path.name!r} does not exist")
    if path.exists() and not overwrite:
        raise ExistingOutputError(f"{what} {str(path)!r} exists: {remedy}")
    return path


def _temporary_beside(path: Path, directory: bool) -> Path:
    if not path.parent.is_dir():
        raise MissingFileError(f"folder {str(path.parent)!r} for {path.name!r} does not exist")
    if directory:
        return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent)
    os.close(handle)
    return Path(name)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _default_mode(directory: bool) -> int:
    """The permissions ``open`` / ``mkdir`` would give a new file or folder under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def _publish(temporary: Path, path: Path) -> None:
    # mkstemp / mkdtemp make private temporaries (0600 / 0700); outputs get the usual permissions.
    if temporary.exists():
        os.chmod(temporary, _default_mode(temporary.is_dir()))
    if path.is_dir() and not path.is_symlink():  # os.replace cannot replace a non-empty folder
        _remove(path)
    os.replace(temporary, path)


@contextmanager
def staged(path: str | os.PathLike[str], *, directory: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` (a file with the same suffix, or a new folder), moved over
    ``path`` when the block ends without error and removed otherwise."""
    path = Path(path)
    temporary = _temporary_beside(path, directory)
    try:
        yield temporary
        _publish(temporary, path)
    except BaseException:
        _remove(temporary)
        raise


def write_json(path: str | os.PathLike[str], data: Any, *, overwrite: bool, what: str) -> Path:
    """Write ``data`` as JSON to ``path`` atomically, refusing an existing file without ``overwrite``.

    ``what`` names the file in the refusal (``"decoding result"``). Returns the path written.
    """
    path = check_destination(path, overwrite=overwrite, what=what)
    with staged(path) as temporary, open(temporary, "w") as stream:
        json.dump(data, stream)
    return path


class Publication:
    """Several outputs written as temporaries and published together when the block succeeds.

    Examples
    --------
    >>> with Publication() as outputs:                               # doctest: +SKIP
    ...     result.save(outputs.stage("result.json"), overwrite=True)
    ...     figure.savefig(outputs.stage("bars.png"))
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def stage(self, path: str | os.PathLike[str], *, directory: bool = False) -> Path:
        """A temporary to write ``path``'s content to."""
        path = Path(path)
        temporary = _temporary_beside(path, directory)
        if directory:
            temporary.rmdir()  # writers (SavedModel, ...) create the folder themselves
        self._staged.append((temporary, path))
        return temporary

    def __enter__(self) -> Publication:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            for temporary, path in self._staged:
                _publish(temporary, path)
        else:
            for temporary, _ in self._staged:
                _remove(temporary)
        self._staged = []
