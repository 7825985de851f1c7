"""tfprobe.decoding: folds, feature transforms, the batched solver, results, and bad input."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pytest
import tensorflow as tf

from tfprobe.decoding import (
    DecodingInputError,
    DecodingResult,
    HoldOut,
    decode,
    stratified_kfold,
)
from tfprobe.decoding.features import pca, solver_basis, standardize
from tfprobe.decoding.solvers import ColumnLayout, SolverOptions, fit_predict


def blobs(n: int, d: int, k: int, separation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian classes around random centres; ``separation`` scales the centres against unit noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    rng.shuffle(labels)
    centres = rng.normal(size=(k, d)) * separation
    return (centres[labels] + rng.normal(size=(n, d))).astype(np.float32), labels


class CountingMapping(Mapping):
    """A lazy mapping that records how often each unit is read."""

    def __init__(self, data: dict[str, np.ndarray]) -> None:
        self.data = data
        self.reads: dict[str, int] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        self.reads[key] = self.reads.get(key, 0) + 1
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


class ConstantGuess:
    """A minimal estimator (no scikit-learn) predicting one fixed class."""

    def __init__(self, value: int = 0) -> None:
        self.value = value

    def fit(self, x: np.ndarray, y: np.ndarray) -> ConstantGuess:
        assert x.ndim == 2 and len(x) == len(y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(x), self.value)


# --- folds ---


def test_stratified_folds_are_disjoint_cover_everything_and_keep_class_shares() -> None:
    labels = np.repeat(np.arange(4), [30, 25, 20, 12])
    folds = stratified_kfold(labels, 5, seed=3)
    tests = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(len(labels)))
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0
        assert len(train) + len(test) == len(labels)
        for value, total in zip(range(4), [30, 25, 20, 12], strict=True):
            assert np.sum(labels[test] == value) in (total // 5, -(-total // 5))
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) <= 1


def test_stratified_folds_are_seeded() -> None:
    labels = np.arange(100) % 3
    same = stratified_kfold(labels, 4, seed=1), stratified_kfold(labels, 4, seed=1)
    other = stratified_kfold(labels, 4, seed=2)
    for (a, _), (b, _) in zip(*same, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(same[0], other, strict=True))


def test_holdout_is_the_original_800_200_split() -> None:
    ((train, test),) = HoldOut(200).split(1000)
    np.testing.assert_array_equal(train, np.arange(800))
    np.testing.assert_array_equal(test, np.arange(800, 1000))
    x, y = blobs(1000, 5, 2, 1.0, 0)
    result = decode({"u": x}, y, cv=HoldOut(200))
    assert result.scores.shape == (1, 1, 1) and result.settings["cv"] == "HoldOut(n_test=200)"


# --- feature transforms ---


def test_standardize_equals_standard_scaler() -> None:
    from sklearn.preprocessing import StandardScaler

    x, _ = blobs(120, 7, 2, 2.0, 1)
    x[:, 3] = 5.0  # a constant feature keeps scale 1
    train, test = x[:90], x[90:]
    scaler = StandardScaler().fit(train)
    ours = standardize(tf.constant(train), tf.constant(test))
    np.testing.assert_allclose(ours[0].numpy(), scaler.transform(train), atol=2e-5)
    np.testing.assert_allclose(ours[1].numpy(), scaler.transform(test), atol=2e-5)


@pytest.mark.parametrize("d", [12, 300])  # features < samples (covariance route), > samples (Gram route)
def test_pca_equals_sklearn_up_to_sign(d: int) -> None:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(d)
    x = (rng.normal(size=(100, d)) * np.linspace(3.0, 0.1, d)).astype(np.float32)
    train, test = x[:80], x[80:]
    reference = PCA(6).fit(train)
    ours_train, ours_test = (t.numpy() for t in pca(tf.constant(train), tf.constant(test), 6))
    expected_train, expected_test = reference.transform(train), reference.transform(test)
    signs = np.sign(np.sum(ours_train * expected_train, axis=0))
    np.testing.assert_allclose(ours_train * signs, expected_train, atol=2e-3 * np.abs(expected_train).max())
    np.testing.assert_allclose(ours_test * signs, expected_test, atol=2e-3 * np.abs(expected_test).max())


@pytest.mark.parametrize("d", [15, 400])
def test_solver_basis_keeps_inner_products_and_is_orthogonal(d: int) -> None:
    """The basis preserves centred inner products (train-train and test-train), so L2 models are unchanged."""
    rng = np.random.default_rng(d)
    x = rng.normal(size=(110, d)).astype(np.float32)
    train, test = x[:90], x[90:]
    z_train, z_test = (t.numpy() for t in solver_basis(tf.constant(train), tf.constant(test)))
    centred_train, centred_test = train - train.mean(0), test - train.mean(0)
    scale = np.abs(centred_train @ centred_train.T).max()
    np.testing.assert_allclose(z_train @ z_train.T, centred_train @ centred_train.T, atol=1e-4 * scale)
    np.testing.assert_allclose(z_test @ z_train.T, centred_test @ centred_train.T, atol=1e-4 * scale)
    gram = z_train.T @ z_train
    off_diagonal = gram - np.diag(np.diag(gram))
    assert np.abs(off_diagonal).max() < 1e-3 * np.abs(gram).max()


# --- the batched solver ---


def test_column_layout_binary_targets_have_one_column() -> None:
    layout = ColumnLayout((2, 5, 2), "logistic")
    assert layout.n_columns == 1 + 5 + 1 and layout.n_groups == 3
    assert ColumnLayout((2, 5, 2), "svm").n_groups == 7


@pytest.mark.parametrize("loss", ["logistic", "svm"])
def test_batch_equals_each_problem_alone(loss: str) -> None:
    """Two feature sets x three targets in one batch give the predictions of each trained alone."""
    rng = np.random.default_rng(5)
    x1, y1 = blobs(150, 40, 3, 0.4, 6)
    x2 = rng.normal(size=(150, 40)).astype(np.float32)
    y2 = (x2[:, 0] + 0.5 * rng.normal(size=150) > 0).astype(np.int32)
    y3 = rng.integers(0, 4, 150)
    labels = np.stack([y1, y2, y3], axis=1).astype(np.int32)
    sets = []
    for x in (x1, x2):
        train, test = solver_basis(tf.constant(x[:120]), tf.constant(x[120:]))
        sets.append((train.numpy(), test.numpy()))
    layout = ColumnLayout((3, 2, 4), loss)
    z = np.stack([s[0] for s in sets])
    z_test = np.stack([s[1] for s in sets])
    batch = fit_predict(layout, z, np.ones((2, 120)), np.stack([labels[:120]] * 2), z_test)
    assert batch.gradient_ratio.max() <= 1e-3
    for g in range(2):
        for t, k in enumerate((3, 2, 4)):
            alone = fit_predict(
                ColumnLayout((k,), loss),
                z[g : g + 1],
                np.ones((1, 120)),
                labels[None, :120, t : t + 1],
                z_test[g : g + 1],
            )
            agree = np.mean(alone.predictions[0, 0] == batch.predictions[g, t])
            assert agree >= 29 / 30, (g, t, agree)


@pytest.mark.parametrize("loss", ["logistic", "svm"])
def test_padding_rows_do_not_change_the_fit(loss: str) -> None:
    x, y = blobs(100, 8, 3, 0.8, 9)
    train, test = (t.numpy() for t in solver_basis(tf.constant(x[:80]), tf.constant(x[80:])))
    layout = ColumnLayout((3,), loss)
    plain = fit_predict(layout, train[None], np.ones((1, 80)), y[None, :80, None], test[None])
    padded_z = np.concatenate([train, np.zeros((7, train.shape[1]), np.float32)])[None]
    padded_labels = np.concatenate([y[:80], np.full(7, 2)])[None, :, None]
    rows = np.concatenate([np.ones(80), np.zeros(7)])[None]
    padded = fit_predict(layout, padded_z, rows, padded_labels, test[None])
    np.testing.assert_array_equal(plain.predictions, padded.predictions)


def test_solver_reaches_the_gradient_tolerance() -> None:
    x, y = blobs(200, 30, 4, 0.5, 2)
    train, test = (t.numpy() for t in solver_basis(tf.constant(x[:160]), tf.constant(x[160:])))
    fit = fit_predict(
        ColumnLayout((4,), "logistic"),
        train[None],
        np.ones((1, 160)),
        y[None, :160, None],
        test[None],
        options=SolverOptions(tol=1e-4),
    )
    assert fit.gradient_ratio.max() <= 1e-4 and 0 < fit.iterations.max() < 100


# --- decode ---


def test_scores_mean_and_sem_with_known_accuracies() -> None:
    """A constant guess scores exactly each test fold's share of its class."""
    labels = np.array([0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1])
    folds = [
        (np.arange(6, 12), np.arange(0, 6)),
        (np.arange(0, 6), np.arange(6, 12)),
        (np.arange(0, 9), np.arange(9, 12)),
    ]
    x = np.random.default_rng(0).normal(size=(12, 3))
    result = decode({"u": x}, {"y": labels}, cv=folds, classifier=ConstantGuess(0))
    expected = [np.mean(labels[test] == 0) for _, test in folds]
    np.testing.assert_allclose(result.scores[0, 0], expected)
    np.testing.assert_allclose(result.mean[0, 0], np.mean(expected))
    np.testing.assert_allclose(result.sem[0, 0], np.std(expected, ddof=1) / np.sqrt(3))
    score = result["u", "y"]
    assert score.mean == pytest.approx(np.mean(expected)) and score.sem == pytest.approx(result.sem[0, 0])
    np.testing.assert_allclose(score.folds, expected)


def test_sem_is_nan_for_a_single_fold() -> None:
    x, y = blobs(100, 4, 2, 2.0, 4)
    result = decode({"u": x}, y, cv=HoldOut(20))
    assert np.isnan(result.sem).all() and np.isfinite(result.mean).all()
    assert "±" not in result.table()


def test_sklearn_estimator_path_matches_a_manual_loop() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y = blobs(120, 10, 3, 0.5, 8)
    result = decode({"u": x}, {"y": y}, cv=3, classifier=LogisticRegression(C=0.5), seed=4)
    for f, (train, test) in enumerate(stratified_kfold(y, 3, seed=4)):
        scaler = StandardScaler().fit(x[train])
        model = LogisticRegression(C=0.5).fit(scaler.transform(x[train]), y[train])
        expected = np.mean(model.predict(scaler.transform(x[test])) == y[test])
        assert result.scores[0, 0, f] == pytest.approx(expected)


def test_units_and_targets_batched_equal_each_alone() -> None:
    rng = np.random.default_rng(1)
    x1, cat = blobs(200, 30, 4, 0.4, 11)
    x2 = rng.normal(size=(200, 300)).astype(np.float32)
    side = (x2[:, :5].sum(1) > 0).astype(int)
    features = {"small": x1, "wide": x2}
    targets = {"cat": cat, "side": side}
    folds = stratified_kfold(cat, 4, seed=2)  # explicit, so the single-target runs share them
    both = decode(features, targets, cv=folds)
    for u, unit in enumerate(features):
        for t, target in enumerate(targets):
            alone = decode({unit: features[unit]}, {target: targets[target]}, cv=folds)
            # float32 rounding may move a test sample sitting on a decision boundary
            np.testing.assert_allclose(alone.scores[0, 0], both.scores[u, t], atol=1 / 50 + 1e-9)


def test_lazy_features_are_read_once_each() -> None:
    x, y = blobs(90, 6, 3, 1.0, 3)
    features = CountingMapping({"a": x, "b": x[:, ::-1].copy(), "c": x * 2})
    result = decode(features, y, cv=3, pca=4, batch_floats=100)  # tiny batches: several trainings
    assert features.reads == {"a": 1, "b": 1, "c": 1}
    assert result.units == ("a", "b", "c") and np.isfinite(result.scores).all()


def test_string_labels_chance_and_majority() -> None:
    x, y = blobs(120, 5, 3, 3.0, 12)
    names = np.array(["cat", "dog", "eel"])[y]
    result = decode({"u": x}, {"animal": names}, cv=4)
    assert result.classes["animal"] == ["cat", "dog", "eel"]
    np.testing.assert_allclose(result.chance, [1 / 3])
    assert result.majority[0] == pytest.approx(1 / 3, abs=0.02)
    assert result.mean[0, 0] > 0.9


def test_result_table_dict_and_json_round_trip(tmp_path) -> None:
    x, y = blobs(100, 5, 2, 1.0, 13)
    result = decode({"layer@t0": x, "layer@t1": x * 0.5}, {"y": y, "z": (y + (x[:, 0] > 0)) % 2}, cv=3)
    table = result.table()
    assert "layer@t1" in table and "chance" in table and "50.0" in table
    again = DecodingResult.from_dict(result.to_dict())
    np.testing.assert_array_equal(again.scores, result.scores)
    assert again.units == result.units and again.settings == result.settings
    path = result.save(tmp_path / "result.json")
    loaded = DecodingResult.load(path)
    np.testing.assert_array_equal(loaded.scores, result.scores)
    assert loaded.classes == {"y": [0, 1], "z": [0, 1]}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary file left behind


def test_deterministic_for_a_seed() -> None:
    x, y = blobs(150, 50, 3, 0.3, 14)
    first = decode({"u": x}, y, cv=5, seed=7, classifier="svm")
    second = decode({"u": x}, y, cv=5, seed=7, classifier="svm")
    np.testing.assert_array_equal(first.scores, second.scores)


# --- bad input ---


def test_error_label_length() -> None:
    x, y = blobs(50, 4, 2, 1.0, 0)
    with pytest.raises(DecodingInputError, match=r"unit 'conv1' has 50 samples but target 'x' has 49 labels"):
        decode({"conv1": x}, {"x": y[:49]}, cv=2)


def test_error_single_class_in_a_training_fold() -> None:
    x, _ = blobs(20, 3, 2, 1.0, 0)
    y = np.array([0] * 10 + [1] * 10)
    with pytest.raises(DecodingInputError, match=r"unit 'u', target 'y', fold 0: .* all have class 0"):
        decode({"u": x}, {"y": y}, cv=HoldOut(10))


def test_error_fewer_samples_of_a_class_than_folds() -> None:
    x, _ = blobs(40, 3, 2, 1.0, 0)
    y = np.array([0] * 37 + [1] * 3)
    with pytest.raises(DecodingInputError, match=r"target .y.: class 1 has 3 samples, fewer than the cv=5 folds"):
        decode({"u": x}, {"y": y}, cv=5)


def test_error_nan_activations_name_unit_and_sample() -> None:
    x, y = blobs(30, 4, 2, 1.0, 0)
    x[17, 2] = np.nan
    with pytest.raises(DecodingInputError, match=r"unit 'fc1' has NaN or inf activations, first in sample 17"):
        decode({"fc1": x}, y, cv=2)
    x[17, 2], x[4, 0] = 0.0, np.inf
    with pytest.raises(DecodingInputError, match=r"first in sample 4"):
        decode({"fc1": x}, y, cv=2)


def test_error_target_with_one_class() -> None:
    x, _ = blobs(30, 4, 2, 1.0, 0)
    with pytest.raises(DecodingInputError, match=r"target 'scale' has a single class"):
        decode({"u": x}, {"scale": np.zeros(30, int)}, cv=2)


def test_pca_beyond_a_units_features_or_samples_keeps_what_there_is() -> None:
    """PCA to every component is a rotation: logistic regression then scores as without PCA."""
    x, y = blobs(40, 6, 2, 1.0, 0)
    plain = decode({"u": x}, y, cv=2)
    capped = decode({"u": x}, y, cv=2, pca=10)
    np.testing.assert_allclose(capped.scores, plain.scores)
    assert capped.settings["pca_capped"] == {"u": 6} and "u 6" in capped.table()
    wide, y = blobs(40, 50, 2, 1.0, 1)
    assert decode({"w": wide}, y, cv=2, pca=35).settings["pca_capped"] == {"w": 20}  # 20 training samples
    assert decode({"w": wide}, y, cv=2, pca=5).settings["pca_capped"] == {}


def test_error_unknown_classifier_lists_valid_ones() -> None:
    x, y = blobs(30, 4, 2, 1.0, 0)
    with pytest.raises(DecodingInputError, match=r"'logistic', 'svm' .* got 'ridge'"):
        decode({"u": x}, y, classifier="ridge")


def test_error_empty_features_and_bad_cv() -> None:
    x, y = blobs(30, 4, 2, 1.0, 0)
    with pytest.raises(DecodingInputError, match="features is empty"):
        decode({}, y)
    for cv in (1, 0):
        with pytest.raises(DecodingInputError, match=r"cv must be an int >= 2"):
            decode({"u": x}, y, cv=cv)
    with pytest.raises(DecodingInputError, match=r"HoldOut\(n_test=30\) needs 0 < n_test < n samples = 30"):
        decode({"u": x}, y, cv=HoldOut(30))


def test_error_one_hot_and_continuous_labels() -> None:
    x, y = blobs(30, 4, 2, 1.0, 0)
    with pytest.raises(DecodingInputError, match=r"labels.argmax\(axis=1\)"):
        decode({"u": x}, np.eye(2)[y])
    with pytest.raises(DecodingInputError, match="continuous"):
        decode({"u": x}, np.linspace(0, 1, 30))
