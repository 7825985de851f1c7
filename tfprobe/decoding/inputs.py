"""Checking and encoding decoding inputs: label vectors and one unit's activations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tfprobe.errors import DecodingInputError


@dataclass(frozen=True)
class Target:
    """One target variable: its class values and every sample's class index."""

    name: str
    classes: np.ndarray  # (k,) the distinct label values, sorted
    codes: np.ndarray  # (n,) int32 index into ``classes``

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def encode_targets(targets: Mapping[str, object] | object) -> list[Target]:
    """Encode label vectors (ints, strings or integral floats) as class indices; check lengths and classes."""
    if not isinstance(targets, Mapping):
        targets = {"target": targets}
    if not targets:
        raise DecodingInputError("targets is empty: give at least one label vector")
    encoded = []
    for name, values in targets.items():
        values = np.asarray(values)
        if values.ndim != 1:
            raise DecodingInputError(
                f"target {name!r} must be a 1-D vector of class labels, got shape {values.shape}"
                + ("; for one-hot labels pass labels.argmax(axis=1)" if values.ndim == 2 else "")
            )
        if values.dtype.kind == "f":
            if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
                raise DecodingInputError(
                    f"target {name!r} holds non-integer or non-finite floats; decoding needs class labels "
                    "(ints or strings), not a continuous variable"
                )
        elif values.dtype.kind not in "iubUSO":
            raise DecodingInputError(f"target {name!r} must hold ints or strings, got dtype {values.dtype}")
        classes, codes = np.unique(values, return_inverse=True)
        if len(classes) < 2:
            raise DecodingInputError(
                f"target {name!r} has a single class ({classes[0].item()!r} for all {len(values)} samples); "
                "decoding needs at least 2"
            )
        encoded.append(Target(str(name), classes, codes.astype(np.int32).reshape(-1)))
    lengths = {t.name: len(t.codes) for t in encoded}
    if len(set(lengths.values())) > 1:
        first = encoded[0]
        other = next(t for t in encoded if len(t.codes) != len(first.codes))
        raise DecodingInputError(
            f"targets differ in length: {first.name!r} has {len(first.codes)} labels, "
            f"{other.name!r} has {len(other.codes)}"
        )
    return encoded


def check_training_classes(targets: list[Target], folds: list[tuple[np.ndarray, np.ndarray]], units: list[str]) -> None:
    """Every target must show at least two classes in every training fold (checked once for all units)."""
    unit = units[0] if len(units) == 1 else f"{units[0]}' (and every other unit, '{units[-1]}"
    for target in targets:
        for f, (train, _) in enumerate(folds):
            present = np.unique(target.codes[train])
            if len(present) < 2:
                raise DecodingInputError(
                    f"unit {unit!r}, target {target.name!r}, fold {f}: its {len(train)} training samples all have "
                    f"class {target.classes[present[0]].item()!r}; a classifier needs at least 2 classes to train"
                )


def read_unit(name: str, value: object, n: int, target_name: str) -> np.ndarray:
    """One unit's activations as a finite float32 (n, features) array."""
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) >= 1 and shape[0] != n:
        raise DecodingInputError(
            f"unit {name!r} has {shape[0]} samples but target {target_name!r} has {n} labels; "
            "activations and labels must describe the same stimuli in the same order"
        )
    array = np.asarray(value)
    if array.ndim == 0 or array.shape[0] != n:
        got = "a scalar" if array.ndim == 0 else f"{array.shape[0]} samples"
        raise DecodingInputError(f"unit {name!r} has {got} but target {target_name!r} has {n} labels")
    if array.dtype.kind not in "fiub":
        raise DecodingInputError(f"unit {name!r} must hold numbers, got dtype {array.dtype}")
    flat = array.reshape(n, -1).astype(np.float32, copy=False)
    if flat.shape[1] == 0:
        raise DecodingInputError(f"unit {name!r} has no features (shape {array.shape})")
    finite = np.isfinite(flat)
    if not finite.all():
        sample = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise DecodingInputError(
            f"unit {name!r} has NaN or inf activations, first in sample {sample} "
            f"(value {flat[sample][~finite[sample]][0]})"
        )
    return flat
