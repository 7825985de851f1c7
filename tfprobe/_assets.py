"""Where the files tfprobe ships live: the repository's ``assets/`` folder, installed as ``tfprobe.assets``.

``pyproject.toml`` maps the package ``tfprobe.assets`` onto the top-level ``assets/`` folder, so the same
lookup works in a clone with an editable install, after ``pip install .`` and from a wheel.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from tfprobe.errors import MissingAssetError

__all__ = ["MissingAssetError", "asset_path", "assets_dir"]

_RESTORE = "restore it with `git checkout -- assets/` in a clone of tfprobe, or reinstall tfprobe"


def assets_dir() -> Path:
    """The folder of shipped files (``assets/`` of the repository, or ``tfprobe/assets`` when installed)."""
    try:
        root = resources.files("tfprobe.assets")
    except ModuleNotFoundError:
        raise MissingAssetError(
            "tfprobe's assets are not installed (no package tfprobe.assets); reinstall tfprobe "
            "(pip install -e . in a clone)"
        ) from None
    return Path(str(root))


def asset_path(*parts: str) -> Path:
    """The path of one shipped file or folder, ``parts`` relative to ``assets/``.

    Raises
    ------
    MissingAssetError
        Nothing is there; the message names the path looked at and how to restore it.
    """
    path = assets_dir().joinpath(*parts)
    if not path.exists():
        raise MissingAssetError(f"{path} is missing: tfprobe ships it in assets/{'/'.join(parts)}; {_RESTORE}")
    return path
