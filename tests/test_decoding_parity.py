"""TF-native classifiers against scikit-learn's LogisticRegression and LinearSVC on the same splits."""

from __future__ import annotations

import numpy as np
import pytest

from tfprobe.decoding import HoldOut, decode, stratified_kfold

MAX_GAP = 0.02  # accuracy, averaged over folds


def sklearn_scores(x: np.ndarray, y: np.ndarray, folds, classifier: str, C: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    scores = []
    for train, test in folds:
        scaler = StandardScaler().fit(x[train])
        if classifier == "logistic":
            model = LogisticRegression(C=C, tol=1e-8, max_iter=10_000)
        else:
            model = LinearSVC(C=C, tol=1e-8, max_iter=100_000)
        model.fit(scaler.transform(x[train]), y[train])
        scores.append(np.mean(model.predict(scaler.transform(x[test])) == y[test]))
    return np.array(scores)


def latent_classes(n: int, d: int, k: int, signal: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Classes separated along a few latent directions embedded in ``d`` noisy features."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    rng.shuffle(labels)
    latent = rng.normal(size=(k, 5))[labels] * signal + rng.normal(size=(n, 5))
    mixing = rng.normal(size=(5, d))
    return (latent @ mixing + rng.normal(size=(n, d)) * 2.0).astype(np.float32), labels


REGIMES = {
    # name: (n, d, k, signal)
    "d<n binary": (400, 20, 2, 0.6),
    "d>>n": (200, 1500, 3, 0.8),
    "multiclass": (500, 60, 8, 0.7),
    "near chance": (300, 80, 3, 0.0),
}


@pytest.mark.parametrize("classifier", ["logistic", "svm"])
@pytest.mark.parametrize("regime", list(REGIMES))
def test_synthetic_parity(regime: str, classifier: str) -> None:
    n, d, k, signal = REGIMES[regime]
    x, y = latent_classes(n, d, k, signal, seed=len(regime))
    folds = stratified_kfold(y, 5, seed=0)
    C = 0.1
    ours = decode({"u": x}, {"y": y}, cv=folds, classifier=classifier, C=C, intercept_scaling=None)
    expected = sklearn_scores(x, y, folds, classifier, C)
    gap = abs(ours.mean[0, 0] - expected.mean())
    print(f"{regime} {classifier}: tfprobe {ours.mean[0, 0]:.3f} sklearn {expected.mean():.3f} gap {gap:.3f}")
    assert gap <= MAX_GAP
    if signal == 0.0:
        assert abs(expected.mean() - 1 / k) < 0.15  # the regime really is near chance


def test_svm_with_liblinear_intercept_equals_linearsvc_fold_by_fold() -> None:
    """``intercept_scaling=1`` is LinearSVC's own model (penalised intercept): same accuracy in every fold."""
    x, y = latent_classes(300, 400, 4, 0.6, seed=3)
    folds = stratified_kfold(y, 4, seed=1)
    ours = decode({"u": x}, {"y": y}, cv=folds, classifier="svm", C=0.05, intercept_scaling=1.0)
    expected = sklearn_scores(x, y, folds, "svm", 0.05)
    np.testing.assert_allclose(ours.scores[0, 0], expected, atol=2 / 75 + 1e-9)


@pytest.fixture(scope="module")
def rnn_activations(scene_sources):
    """Activations of the randomly initialised bglt_0111 (4 steps) for 300 cluttered scenes."""
    import keras

    import tfprobe
    from tfprobe.datasets import ClutteredScenes

    digits, fashion = scene_sources
    scenes = ClutteredScenes("train", seed=0, digits=digits, fashion=fashion).sample(300)
    keras.utils.set_random_seed(0)
    model = tfprobe.GainModulatedRNN.from_code("bglt_0111", timesteps=4)
    out = model(scenes.images, return_activations=True)
    features = {
        f"{stage}@t{t}": np.asarray(out.activations[stage][t]).reshape(300, -1)
        for stage in ("input", "conv1", "conv2", "fc1")
        for t in (0, 3)
    }
    return features, scenes.labels


@pytest.mark.heavy
@pytest.mark.parametrize("classifier", ["logistic", "svm"])
def test_rnn_activation_parity(rnn_activations, classifier: str) -> None:
    """Every (unit, variable) of the recurrent network, 240 / 60 hold-out: within 2 points of scikit-learn."""
    features, labels = rnn_activations
    targets = {key: labels[key] for key in ("x", "y", "scale", "orientation", "domain")}
    C = 0.01
    # LinearSVC penalises its intercept (liblinear): intercept_scaling=1 trains that same model
    scaling = 1.0 if classifier == "svm" else None
    result = decode(features, targets, cv=HoldOut(60), classifier=classifier, C=C, intercept_scaling=scaling)
    gaps = []
    for u, unit in enumerate(result.units):
        for t, target in enumerate(result.targets):
            expected = sklearn_scores(features[unit], targets[target], HoldOut(60).split(300), classifier, C)[0]
            gaps.append(abs(result.scores[u, t, 0] - expected))
    print(f"{classifier}: max gap {max(gaps):.3f}, mean {np.mean(gaps):.4f} over {len(gaps)} pairs")
    assert max(gaps) <= MAX_GAP
