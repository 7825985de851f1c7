"""A few real photographs shipped with tfprobe (``assets/photos/``), for classifiers and image-set probes.

Each is at most 400 pixels on its long side, a JPEG; sources and licences (public domain, CC0, CC BY 2.0)
are listed in ``assets/README.md``.  Read them with :func:`tfprobe.models.load_images`.
"""

from __future__ import annotations

from pathlib import Path

from tfprobe._assets import asset_path
from tfprobe.errors import InvalidKeyError

__all__ = ["PHOTOS", "photo_path", "photo_paths"]

#: Name -> what the photograph shows.
PHOTOS = {
    "chelsea": "Chelsea the cat, a tabby (scikit-image; CC0)",
    "china": "a Chinese pagoda above a lake, with trees (scikit-learn; CC BY 2.0, danielbuechele)",
    "coffee": "a cup of coffee on a saucer (scikit-image; CC0)",
    "flower": "an orange dahlia, close up (scikit-learn; CC BY 2.0, vultilion)",
    "grace_hopper": "Rear Admiral Grace Hopper in uniform (matplotlib; public domain, US Navy)",
    "rocket": "a Falcon 9 rocket on its launch pad at night (scikit-image; public domain, SpaceX)",
}


def photo_path(name: str) -> Path:
    """The file of one shipped photograph.

    Parameters
    ----------
    name : str
        One of :data:`PHOTOS` (``"chelsea"``, ``"grace_hopper"``, ...).

    Returns
    -------
    Path
        ``assets/photos/<name>.jpg``.
    """
    if name not in PHOTOS:
        raise InvalidKeyError(f"no shipped photo {name!r}: expected one of {', '.join(PHOTOS)}")
    return asset_path("photos", f"{name}.jpg")


def photo_paths() -> dict[str, Path]:
    """Every shipped photograph: name -> file, in name order.

    Returns
    -------
    dict of str to Path
    """
    return {name: photo_path(name) for name in PHOTOS}
