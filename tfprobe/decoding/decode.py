"""``decode``: held-out accuracy of linear read-outs for every (unit, target) pair."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tfprobe.decoding import features as feature_ops
from tfprobe.decoding.inputs import Target, check_training_classes, encode_targets, read_unit
from tfprobe.decoding.result import DecodingResult
from tfprobe.decoding.solvers import ColumnLayout, SolverOptions, fit_predict
from tfprobe.decoding.splits import Fold, HoldOut, resolve_folds
from tfprobe.errors import DecodingInputError
from tfprobe.progress import ProgressBar
from tfprobe.validation import is_int

#: Built-in classifiers (any object with ``fit`` and ``predict`` works too).
CLASSIFIERS = ("logistic", "svm")
#: Floats of reduced features (train + test rows x basis size) trained in one batch.
DEFAULT_BATCH_FLOATS = 2**25


class DecodingConvergenceWarning(UserWarning):
    """Some classifiers stopped at ``max_iter`` Newton iterations before the gradient tolerance."""


@dataclass
class _Pending:
    unit: int
    fold: int
    train: tf.Tensor  # (n_train, r)
    test: tf.Tensor  # (n_test, r)

    @property
    def floats(self) -> int:
        return int((self.train.shape[0] + self.test.shape[0]) * self.train.shape[1])


def _check_options(classifier: object, C: float, pca: int | None) -> None:
    if isinstance(classifier, str):
        if classifier not in CLASSIFIERS:
            raise DecodingInputError(
                f"classifier must be one of {', '.join(map(repr, CLASSIFIERS))} or an estimator with fit/predict, "
                f"got {classifier!r}"
            )
    elif not (callable(getattr(classifier, "fit", None)) and callable(getattr(classifier, "predict", None))):
        raise DecodingInputError(
            f"classifier must be one of {', '.join(map(repr, CLASSIFIERS))} or an estimator with fit/predict, "
            f"got {type(classifier).__name__}"
        )
    if not (np.isscalar(C) and np.isfinite(C) and C > 0):
        raise DecodingInputError(f"C must be a positive number, got {C!r}")
    if pca is not None and not (is_int(pca) and pca >= 1):
        raise DecodingInputError(f"pca must be None or a positive int number of components, got {pca!r}")


def _clone(estimator: object) -> object:
    try:
        from sklearn.base import clone
    except ImportError:  # scikit-learn is optional
        return copy.deepcopy(estimator)
    return clone(estimator, safe=False)  # deep-copies objects that are not scikit-learn estimators


def _majority(target: Target, folds: list[Fold]) -> float:
    hits = []
    for train, test in folds:
        guess = np.bincount(target.codes[train], minlength=target.n_classes).argmax()
        hits.append(np.mean(target.codes[test] == guess))
    return float(np.mean(hits))


def _fold_features(
    activations: tf.Tensor, fold: Fold, standardize: bool, pca: int | None
) -> tuple[tf.Tensor, tf.Tensor]:
    train = tf.gather(activations, fold[0])
    test = tf.gather(activations, fold[1])
    if standardize:
        train, test = feature_ops.standardize(train, test)
    if pca is not None:
        train, test = feature_ops.pca(train, test, pca)
    return train, test


class _BatchTrainer:
    """Collects reduced feature sets and trains them in batches of bounded size."""

    def __init__(self, layout, targets, folds, scores, C, intercept_scaling, options, batch_floats) -> None:
        self.layout, self.targets, self.folds, self.scores = layout, targets, folds, scores
        self.C, self.intercept_scaling, self.options = C, intercept_scaling, options
        self.batch_floats = batch_floats
        self.pending: list[_Pending] = []
        self.codes = np.stack([t.codes for t in targets], axis=1)  # (n, T)
        self.unconverged = 0

    def add(self, item: _Pending) -> None:
        self.pending.append(item)
        if sum(p.floats for p in self.pending) >= self.batch_floats:
            self.flush()

    def flush(self) -> None:
        # similar basis sizes train together, so little time goes into padding
        items = sorted(self.pending, key=lambda p: -p.train.shape[1])
        self.pending = []
        while items:
            width = items[0].train.shape[1]
            batch = [p for p in items if 2 * p.train.shape[1] > width]
            items = items[len(batch) :]
            self._train(batch)

    def _train(self, batch: list[_Pending]) -> None:
        n = max(p.train.shape[0] for p in batch)
        m = max(p.test.shape[0] for p in batch)
        r = max(p.train.shape[1] for p in batch)
        z = np.zeros((len(batch), n, r), np.float32)
        z_test = np.zeros((len(batch), m, r), np.float32)
        rows = np.zeros((len(batch), n), np.float32)
        labels = np.zeros((len(batch), n, len(self.targets)), np.int32)
        for g, p in enumerate(batch):
            train_idx = self.folds[p.fold][0]
            nt, rt = p.train.shape
            z[g, :nt, :rt] = p.train.numpy()
            z_test[g, : p.test.shape[0], :rt] = p.test.numpy()
            rows[g, :nt] = 1.0
            labels[g, :nt] = self.codes[train_idx]
        fit = fit_predict(
            self.layout,
            z,
            rows,
            labels,
            z_test,
            C=self.C,
            fit_intercept=self.intercept_scaling is None,
            options=self.options,
        )
        self.unconverged += int(np.sum(fit.iterations >= self.options.max_iter))
        for g, p in enumerate(batch):
            test_idx = self.folds[p.fold][1]
            predicted = fit.predictions[g, :, : len(test_idx)]  # (T, m)
            self.scores[p.unit, :, p.fold] = np.mean(predicted == self.codes[test_idx].T, axis=1)


def decode(
    features: Mapping[str, object],
    targets: Mapping[str, object] | object,
    *,
    cv: int | HoldOut | Sequence[tuple[Sequence[int], Sequence[int]]] = 10,
    classifier: str | object = "logistic",
    C: float = 1.0,
    pca: int | None = None,
    standardize: bool = True,
    seed: int = 0,
    stratify: str | None = None,
    intercept_scaling: float | str | None = "auto",
    tol: float = 1e-4,
    max_iter: int = 100,
    batch_floats: int = DEFAULT_BATCH_FLOATS,
    progress: bool = False,
) -> DecodingResult:
    """Held-out accuracy of a linear read-out of every target from every unit.

    Parameters
    ----------
    features : mapping str -> array (n, ...)
        Activations of each unit (layer, layer x time step, ...), flattened per sample.  Each value is
        read once, in the mapping's order, and released after use, so a lazy mapping reading from disk
        never has more than one unit in memory.
    targets : mapping str -> array (n,), or one array (named ``"target"``)
        Class labels (ints or strings).
    cv : int, HoldOut or sequence of (train_indices, test_indices)
        ``k >= 2``: stratified k-fold (see ``stratify``), shuffled by ``seed``.  ``HoldOut(n_test)``: the
        first ``n - n_test`` samples train, the last ``n_test`` test (the original study's 800 / 200).
        Folds are shared by all targets and units, so scores are comparable across them.
    classifier : {"logistic", "svm"} or estimator
        ``"logistic"``: multinomial logistic regression (binary for two classes), like
        ``sklearn.linear_model.LogisticRegression``.  ``"svm"``: one-vs-rest squared-hinge linear SVM, like
        ``sklearn.svm.LinearSVC``.  Both L2-regularised and trained in TensorFlow, many problems at once.
        Anything else with ``fit``/``predict`` is cloned (``sklearn.base.clone``, else ``copy.deepcopy``)
        and fitted per unit, target and fold on the (standardised, PCA-reduced) features.
    C : float
        Inverse regularisation strength: the objective is ``0.5 ||W||^2 + C * sum of per-sample losses``.
    pca : int, optional
        Project onto this many principal components of the training fold first.  A unit with fewer
        features, or a training fold with fewer samples, keeps as many components as it has (PCA to all
        of them is a rotation, so the unit is decoded from all its features); the result lists those
        units and their component counts in ``settings["pca_capped"]``, and its table says so.
    standardize : bool
        Z-score every feature with the training fold's mean and standard deviation.
    seed : int
        Shuffles the k-fold split.  Training itself is deterministic.
    stratify : str, optional
        Target whose class proportions every fold keeps (default: the one with the most classes).
    intercept_scaling : "auto", float or None
        ``None``: unpenalised intercept, as ``LogisticRegression``.  A number ``s``: liblinear's convention
        used by ``LinearSVC`` — a constant feature ``s`` whose weight is penalised.  ``"auto"`` (default):
        each built-in classifier as its scikit-learn counterpart (``"logistic"``: None, ``"svm"``: 1.0).
    tol, max_iter : float, int
        Solver stopping rule: per problem ``||grad|| <= tol * ||grad at 0||``, no further decrease, or
        ``max_iter`` Newton iterations (a :class:`DecodingConvergenceWarning` is issued then).
    batch_floats : int
        Memory bound of one training batch, in floats of reduced features.
    progress : bool
        Show a progress bar over units and folds.

    Returns
    -------
    DecodingResult
        ``scores[unit, target, fold]`` and their summaries.

    Raises
    ------
    DecodingInputError
        For inconsistent or unusable input, naming what was expected and what was given.
    """
    _check_options(classifier, C, pca)
    if isinstance(intercept_scaling, str):
        if intercept_scaling != "auto":
            raise DecodingInputError(f"intercept_scaling must be 'auto', a number or None, got {intercept_scaling!r}")
        intercept_scaling = 1.0 if classifier == "svm" else None
    if not isinstance(features, Mapping):
        raise DecodingInputError(f"features must be a mapping unit name -> activations, got {type(features).__name__}")
    unit_names = [str(name) for name in features.keys()]
    if not unit_names:
        raise DecodingInputError("features is empty: give at least one unit's activations")
    encoded = encode_targets(targets)
    n = len(encoded[0].codes)
    by_name = {t.name: t for t in encoded}
    if stratify is None:
        stratify = max(encoded, key=lambda t: t.n_classes).name
    elif stratify not in by_name:
        raise DecodingInputError(f"stratify must name a target ({', '.join(by_name)}), got {stratify!r}")
    if isinstance(cv, (int, np.integer)):
        for target in encoded:
            counts = np.bincount(target.codes)
            if counts.min() < cv:
                raise DecodingInputError(
                    f"target {target.name!r}: class {target.classes[counts.argmin()].item()!r} has {counts.min()} "
                    f"samples, fewer than the cv={cv} folds"
                )
    folds, cv_text = resolve_folds(cv, by_name[stratify].codes, seed)
    check_training_classes(encoded, folds, unit_names)
    smallest_train = min(len(train) for train, _ in folds)
    components: dict[str, int] = {}  # per unit, where PCA keeps fewer than ``pca`` components

    scores = np.full((len(unit_names), len(encoded), len(folds)), np.nan)
    builtin = isinstance(classifier, str)
    trainer = None
    if builtin:
        layout = ColumnLayout(tuple(t.n_classes for t in encoded), classifier)
        options = SolverOptions(tol=float(tol), max_iter=int(max_iter))
        trainer = _BatchTrainer(layout, encoded, folds, scores, float(C), intercept_scaling, options, batch_floats)
    bar = ProgressBar(len(unit_names) * len(folds), unit="folds", enabled=progress)
    for u, name in enumerate(features.keys()):
        flat = read_unit(unit_names[u], features[name], n, encoded[0].name)
        kept = None if pca is None else min(pca, flat.shape[1], smallest_train)
        if kept is not None and kept < pca:
            components[unit_names[u]] = kept
        activations = tf.constant(flat)
        del flat
        for f, fold in enumerate(folds):
            train, test = _fold_features(activations, fold, standardize, kept)
            if builtin:
                z_train, z_test = feature_ops.solver_basis(train, test, intercept_scaling=intercept_scaling)
                trainer.add(_Pending(u, f, z_train, z_test))
            else:
                x_train, x_test = train.numpy(), test.numpy()
                for t, target in enumerate(encoded):
                    model = _clone(classifier)
                    model.fit(x_train, target.codes[fold[0]])
                    scores[u, t, f] = np.mean(np.asarray(model.predict(x_test)) == target.codes[fold[1]])
            bar.update(u * len(folds) + f + 1)
        del activations
    bar.close()
    if trainer is not None:
        trainer.flush()
        if trainer.unconverged:
            warnings.warn(
                f"{trainer.unconverged} classifier(s) reached max_iter={max_iter} Newton iterations before "
                f"||grad|| <= tol={tol} * ||grad at 0||; raise max_iter or C's regularisation",
                DecodingConvergenceWarning,
                stacklevel=2,
            )
    settings = {
        "classifier": classifier if builtin else type(classifier).__name__,
        "C": float(C),
        "pca": pca,
        "pca_capped": components,
        "standardize": bool(standardize),
        "cv": cv_text,
        "seed": seed,
        "stratify": stratify,
        "intercept_scaling": intercept_scaling,
        "n_samples": n,
    }
    return DecodingResult(
        scores=scores,
        units=tuple(unit_names),
        targets=tuple(t.name for t in encoded),
        classes={t.name: list(t.classes) for t in encoded},
        chance=np.array([1.0 / t.n_classes for t in encoded]),
        majority=np.array([_majority(t, folds) for t in encoded]),
        settings=settings,
    )
