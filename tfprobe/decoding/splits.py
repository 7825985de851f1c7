"""Train/test splits for decoding: the original study's hold-out, seeded stratified k-fold, or explicit folds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tfprobe.errors import DecodingInputError
from tfprobe.validation import is_int

Fold = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class HoldOut:
    """One split: the first ``n - n_test`` samples train, the last ``n_test`` test, no shuffling.

    ``HoldOut(200)`` on 1,000 scenes is the original study's 800 / 200 split.
    """

    n_test: int = 200

    def split(self, n: int) -> list[Fold]:
        if not 0 < self.n_test < n:
            raise DecodingInputError(f"HoldOut(n_test={self.n_test}) needs 0 < n_test < n samples = {n}")
        indices = np.arange(n)
        return [(indices[: n - self.n_test], indices[n - self.n_test :])]

    def describe(self) -> str:
        return f"HoldOut(n_test={self.n_test})"


def stratified_kfold(labels: np.ndarray, k: int, seed: int | np.random.Generator = 0) -> list[Fold]:
    """``k`` folds whose test parts are disjoint, cover every sample and hold each class in equal shares.

    Each class's samples are shuffled (by ``seed``), the classes are laid end to end and the samples
    dealt to the folds in turn, so every fold's count of each class and every fold's size differ by at
    most one across folds.

    Parameters
    ----------
    labels : array (n,)
        Class of each sample (any values).
    k : int
        Number of folds, at least 2 and at most the size of the smallest class.
    seed : int or numpy.random.Generator
    """
    labels = np.asarray(labels)
    if int(k) != k or k < 2:
        raise DecodingInputError(f"cv must be an int >= 2 folds, a HoldOut or a list of (train, test), got {k!r}")
    k = int(k)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    if counts.min() < k:
        rare = classes[np.argmin(counts)].item()
        raise DecodingInputError(
            f"class {rare!r} has {counts.min()} samples, fewer than the cv={k} folds; use fewer folds or more samples"
        )
    order = np.concatenate([rng.permutation(np.flatnonzero(labels == value)) for value in classes])
    fold_of = np.empty(len(labels), np.int64)
    fold_of[order] = np.arange(len(labels)) % k
    everything = np.arange(len(labels))
    return [(everything[fold_of != f], everything[fold_of == f]) for f in range(k)]


def explicit_folds(folds: Sequence[tuple[Sequence[int], Sequence[int]]], n: int) -> list[Fold]:
    """Check user-given ``(train_indices, test_indices)`` pairs against ``n`` samples."""
    checked = []
    for f, pair in enumerate(folds):
        try:
            train, test = pair
        except (TypeError, ValueError):
            raise DecodingInputError(f"fold {f} must be a (train_indices, test_indices) pair, got {pair!r}") from None
        train, test = np.asarray(train), np.asarray(test)
        for name, part in (("train", train), ("test", test)):
            if part.ndim != 1 or len(part) == 0 or not np.issubdtype(part.dtype, np.integer):
                raise DecodingInputError(f"fold {f}: {name} indices must be a non-empty 1-D integer array")
            if part.min() < -n or part.max() >= n:
                raise DecodingInputError(
                    f"fold {f}: {name} indices must lie in [0, {n}), got {part.min()}..{part.max()}"
                )
        train, test = train % n, test % n
        if np.intersect1d(train, test).size:
            raise DecodingInputError(f"fold {f}: train and test indices overlap")
        checked.append((train, test))
    if not checked:
        raise DecodingInputError("cv got an empty list of folds")
    return checked


def resolve_folds(cv: object, stratify: np.ndarray, seed: int | np.random.Generator) -> tuple[list[Fold], str]:
    """The folds ``cv`` asks for, and a short description of them for the result."""
    n = len(stratify)
    if isinstance(cv, HoldOut):
        return cv.split(n), cv.describe()
    if is_int(cv):
        return stratified_kfold(stratify, int(cv), seed), f"StratifiedKFold(k={int(cv)}, seed={seed})"
    if isinstance(cv, Sequence) and not isinstance(cv, (str, bytes)):
        return explicit_folds(cv, n), f"explicit ({len(cv)} folds)"
    raise DecodingInputError(f"cv must be an int >= 2 folds, a HoldOut or a list of (train, test), got {cv!r}")
