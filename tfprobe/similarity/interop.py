"""Conversion of :class:`~tfprobe.similarity.rdm.RDMs` to and from rsatoolbox's ``RDMs`` (rsatoolbox is optional).

rsatoolbox is imported here, inside the functions, and only when a conversion is asked for.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from tfprobe.errors import InvalidKeyError, InvalidTypeError, UnsupportedError

__all__ = ["RSATOOLBOX_MEASURES", "from_rsatoolbox", "to_rsatoolbox"]

#: tfprobe's metric -> rsatoolbox's ``dissimilarity_measure`` for the same numbers.
RSATOOLBOX_MEASURES = {
    "euclidean": "squared euclidean",
    "correlation": "correlation",
    "mahalanobis": "squared mahalanobis",
    "crossnobis": "crossnobis",
}
_FROM_RSATOOLBOX = {measure: metric for metric, measure in RSATOOLBOX_MEASURES.items()}


def _rsatoolbox_rdm() -> Any:
    try:
        import rsatoolbox.rdm
    except ImportError:
        raise UnsupportedError(
            "converting RDMs to or from rsatoolbox needs rsatoolbox, which tfprobe does not require: "
            "pip install rsatoolbox"
        ) from None
    return rsatoolbox.rdm


def to_rsatoolbox(rdms: Any) -> Any:
    """``rdms`` (tfprobe :class:`~tfprobe.similarity.rdm.RDMs`) as an ``rsatoolbox.rdm.RDMs``.

    Raises
    ------
    UnsupportedError
        rsatoolbox is not installed.
    """
    module = _rsatoolbox_rdm()
    rdm_descriptors = {key: list(values) for key, values in rdms.rdm_descriptors.items()}
    rdm_descriptors["name"] = list(rdms.names)
    return module.RDMs(
        dissimilarities=rdms.vectors.copy(),
        dissimilarity_measure=RSATOOLBOX_MEASURES.get(rdms.metric, rdms.metric),
        descriptors={key: value for key, value in rdms.descriptors.items() if key != "name"},
        rdm_descriptors=rdm_descriptors,
        pattern_descriptors={"conditions": rdms.conditions.tolist()},
    )


def from_rsatoolbox(rdms: Any, *, name_descriptor: str | None = None) -> Any:
    """A tfprobe :class:`~tfprobe.similarity.rdm.RDMs` from an ``rsatoolbox.rdm.RDMs``.

    Parameters
    ----------
    rdms : rsatoolbox.rdm.RDMs
    name_descriptor : str, optional
        The rdm descriptor holding the names (default ``"name"`` if present, else ``"index"``).

    Raises
    ------
    InvalidTypeError
        ``rdms`` is not an rsatoolbox RDMs.
    InvalidKeyError
        ``name_descriptor`` is not among its rdm descriptors.
    """
    from tfprobe.similarity.rdm import RDMs

    vectors = getattr(rdms, "dissimilarities", None)
    if vectors is None or not hasattr(rdms, "rdm_descriptors"):
        raise InvalidTypeError(f"expected an rsatoolbox.rdm.RDMs, got {type(rdms).__name__}")
    descriptors = dict(rdms.rdm_descriptors)
    key = name_descriptor or ("name" if "name" in descriptors else "index")
    if key not in descriptors:
        raise InvalidKeyError(f"no rdm descriptor {key!r}; the RDMs have {', '.join(descriptors)}")
    names = tuple(str(name) for name in descriptors.pop(key))
    descriptors.pop("index", None)
    patterns = dict(rdms.pattern_descriptors)
    conditions = patterns.get("conditions", patterns.get("index"))
    measure = rdms.dissimilarity_measure or "unknown"
    return RDMs(
        vectors=np.asarray(vectors, dtype=np.float64),
        names=names,
        conditions=np.asarray(conditions),
        metric=_FROM_RSATOOLBOX.get(measure, measure),
        rdm_descriptors={k: tuple(_plain_list(v)) for k, v in descriptors.items()},
        descriptors={k: v for k, v in dict(rdms.descriptors).items() if _jsonable(v)},
    )


def _plain_list(values: Any) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
