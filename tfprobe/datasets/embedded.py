"""The MNIST and Fashion-MNIST test splits tfprobe ships in ``assets/data``, checked before use.

Each file's SHA-256 is recorded here (and in ``assets/README.md``, with its source and licence); a file
whose digest differs, truncated or damaged, is refused with :class:`EmbeddedDataError` naming the file and
both digests.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tfprobe._assets import asset_path
from tfprobe.errors import EmbeddedDataError, InvalidValueError

__all__ = ["EMBEDDED_SHA256", "EmbeddedDataError", "embedded_dir", "sha256_of"]

#: SHA-256 of every embedded file, by data set folder (``assets/data/<folder>/<file>``).
EMBEDDED_SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    },
}


def sha256_of(path: Path) -> str:
    """The SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def embedded_dir(folder: str) -> Path:
    """The embedded folder of one data set, after checking every file's SHA-256.

    Parameters
    ----------
    folder : {"mnist", "fashion-mnist"}

    Raises
    ------
    EmbeddedDataError
        A file's digest differs from the shipped one (named, with the expected and found digests).
    MissingAssetError
        A file is missing.
    """
    if folder not in EMBEDDED_SHA256:
        raise InvalidValueError(f"expected an embedded data set among {sorted(EMBEDDED_SHA256)}, got {folder!r}")
    directory = asset_path("data", folder)
    for name, expected in EMBEDDED_SHA256[folder].items():
        path = asset_path("data", folder, name)
        found = sha256_of(path)
        if found != expected:
            raise EmbeddedDataError(
                f"{path}: expected SHA-256 {expected}, found {found} ({path.stat().st_size:,} bytes): the file "
                "tfprobe ships is corrupted or truncated; restore it with `git checkout -- assets/` in a clone "
                "of tfprobe, or reinstall tfprobe"
            )
    return directory
