"""CKA: against the formulas written out here (linear CKA of Kornblith et al. 2019, the unbiased HSIC of Song
et al. 2012, RBF with the median heuristic), its invariances, the streamed pass over an activation file equal
to the in-memory kernels, the cross-network matrix, and bad input."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from tfprobe.errors import InvalidKeyError, InvalidValueError
from tfprobe.probing.store import ActivationWriter, load_activations
from tfprobe.probing.units import UnitInfo
from tfprobe.similarity import cka, cka_matrix

TOLERANCE = 1e-6


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Kornblith et al. (2019), eq. (5): ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F) on centred features."""
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def unbiased_hsic(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    """Song et al. (2012), eq. (5)."""
    n = len(k)
    k, l = k.copy(), l.copy()  # noqa: E741
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l, 0.0)
    ones = np.ones(n)
    sums = (ones @ k @ ones) * (ones @ l @ ones) / ((n - 1) * (n - 2))
    return (np.trace(k @ l) + sums - 2 / (n - 2) * ones @ k @ l @ ones) / (n * (n - 3))


def biased_hsic(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    n = len(k)
    h = np.eye(n) - np.ones((n, n)) / n
    return np.trace(k @ h @ l @ h) / (n - 1) ** 2


def rbf_kernel(x: np.ndarray, threshold: float = 1.0) -> np.ndarray:
    """Kornblith et al.'s reference gram_rbf: the median of all n^2 squared distances sets the width."""
    squared = np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
    return np.exp(-squared / (2 * threshold**2 * np.median(squared)))


def kernel_cka(k: np.ndarray, l: np.ndarray, hsic) -> float:  # noqa: E741
    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


@pytest.fixture(scope="module")
def activations() -> dict[str, np.ndarray]:
    """Four related units of different widths over 60 stimuli, with a mean far from zero."""
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(60, 5))
    return {
        "a": (latent @ rng.normal(size=(5, 8)) + 0.3 * rng.normal(size=(60, 8)) + 4.0).astype(np.float32),
        "b": np.tanh(latent @ rng.normal(size=(5, 13))) + 0.5 * rng.normal(size=(60, 13)),
        "c": rng.normal(size=(60, 3)),
        "d": (latent[:, :2] ** 2) @ rng.normal(size=(2, 6)) - 2.0,
    }


def test_linear_cka_is_kornbliths_formula(activations) -> None:
    for x in activations.values():
        for y in activations.values():
            expected = linear_cka(x.astype(np.float64), y.astype(np.float64))
            assert cka(x, y) == pytest.approx(expected, abs=TOLERANCE)
            k, l = x.astype(float) @ x.astype(float).T, y @ y.T  # noqa: E741
            assert cka(x, y) == pytest.approx(kernel_cka(k, l, biased_hsic), abs=TOLERANCE)


def test_debiased_linear_and_rbf_cka_are_the_unbiased_hsic_formulas(activations) -> None:
    x, y = activations["a"].astype(np.float64), activations["b"]
    assert cka(x, y, debiased=True) == pytest.approx(kernel_cka(x @ x.T, y @ y.T, unbiased_hsic), abs=TOLERANCE)
    for threshold in (1.0, 0.5):
        k, l = rbf_kernel(x, threshold), rbf_kernel(y, threshold)  # noqa: E741
        biased = cka(x, y, kernel="rbf", bandwidth=threshold)
        assert biased == pytest.approx(kernel_cka(k, l, biased_hsic), abs=TOLERANCE)
        debiased = cka(x, y, kernel="rbf", bandwidth=threshold, debiased=True)
        assert debiased == pytest.approx(kernel_cka(k, l, unbiased_hsic), abs=TOLERANCE)


def test_linear_cka_is_invariant_to_orthogonal_transforms_and_isotropic_scaling(activations) -> None:
    x, y = activations["a"].astype(np.float64), activations["b"]
    rotation = scipy.stats.ortho_group.rvs(8, random_state=1)
    reference = cka(x, y)
    for debiased in (False, True):
        reference = cka(x, y, debiased=debiased)
        assert cka(x @ rotation, y, debiased=debiased) == pytest.approx(reference, abs=TOLERANCE)
        assert cka(3.7 * x, 0.01 * y, debiased=debiased) == pytest.approx(reference, abs=TOLERANCE)
    assert cka(x, x) == pytest.approx(1.0, abs=TOLERANCE)
    # not invariant to an anisotropic scaling
    assert abs(cka(x * np.geomspace(1e-3, 1e3, 8), y) - cka(x, y)) > 0.05


def test_permuting_the_stimuli_of_one_unit_destroys_the_alignment(activations) -> None:
    x, y = activations["a"], activations["b"]
    order = np.random.default_rng(2).permutation(len(x))
    aligned, shuffled = cka(x, y), cka(x[order], y)
    assert aligned > 0.5 and shuffled < aligned / 2
    assert abs(cka(x[order], y, debiased=True)) < 0.15


def write_file(path: Path, units: dict[str, np.ndarray], ids=None) -> Path:
    infos = [UnitInfo(name, value.shape[1:], name) for name, value in units.items()]
    with ActivationWriter(path, infos, {}, ids=ids) as writer:
        writer.write({name: value.astype(np.float32) for name, value in units.items()})
        writer.finish()
    return path


@pytest.mark.parametrize("debiased", [False, True])
def test_streaming_an_activation_file_equals_the_in_memory_kernels(activations, tmp_path: Path, debiased: bool) -> None:
    path = write_file(tmp_path / "acts.h5", activations)
    streamed = cka_matrix(path, strategy="features", batch_size=7, debiased=debiased)
    in_memory = cka_matrix(load_activations(path), strategy="samples", debiased=debiased)
    assert streamed.settings["strategy"] == "features" and in_memory.settings["strategy"] == "samples"
    np.testing.assert_allclose(streamed.values, in_memory.values, atol=TOLERANCE, rtol=0)
    stored = {name: np.asarray(load_activations(path)[name], dtype=np.float64) for name in activations}
    hsic = unbiased_hsic if debiased else biased_hsic
    for i, a in enumerate(activations):
        for j, b in enumerate(activations):
            expected = kernel_cka(stored[a] @ stored[a].T, stored[b] @ stored[b].T, hsic)
            assert streamed.values[i, j] == pytest.approx(expected, abs=TOLERANCE)
    assert streamed.rows == streamed.columns == ("a", "b", "c", "d") and streamed.n_conditions == 60
    np.testing.assert_allclose(np.diag(streamed.values), 1.0, atol=TOLERANCE)


def test_the_cross_network_matrix_compares_two_sources(activations, tmp_path: Path) -> None:
    one = write_file(tmp_path / "one.h5", {"a": activations["a"], "b": activations["b"]}, ids=list(range(60)))
    two = {"x": activations["c"], "y": activations["d"], "z": activations["a"]}
    result = cka_matrix(one, two, batch_size=16)
    assert result.rows == ("a", "b") and result.columns == ("x", "y", "z") and result.values.shape == (2, 3)
    for i, a in enumerate(("a", "b")):
        for j, b in enumerate(("x", "y", "z")):
            assert result.values[i, j] == pytest.approx(linear_cka(activations[a], two[b]), abs=TOLERANCE)
    rbf = cka_matrix(one, two, kernel="rbf", debiased=True, other_units=["z"])
    assert rbf.columns == ("z",) and rbf.measure == "debiased RBF CKA"
    assert rbf.values[0, 0] == pytest.approx(1.0, abs=TOLERANCE)


def test_memory_of_the_streamed_pass_does_not_grow_with_the_stimuli(tmp_path: Path) -> None:
    """Linear CKA of 5 units streamed from files of 500 and 5,000 stimuli: the peak of Python-side memory
    (numpy arrays are traced) is a chunk and the per-pair sums; it grows by the file's stimulus ids only
    (8 bytes a stimulus), not by the activations (40 float32 features a stimulus)."""
    rng = np.random.default_rng(3)
    peaks = {}
    for n in (500, 5000):
        units = {f"u{i}": rng.normal(size=(n, 6 + i)) for i in range(5)}
        path = write_file(tmp_path / f"acts{n}.h5", units)
        del units
        tracemalloc.start()
        result = cka_matrix(path, strategy="features", batch_size=100)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert result.n_conditions == n
    activations = 4500 * 40 * 4
    assert peaks[5000] - peaks[500] < 0.1 * activations


def test_bad_input_is_refused_before_any_work(activations, tmp_path: Path) -> None:
    path = write_file(tmp_path / "acts.h5", activations)
    with pytest.raises(InvalidKeyError, match=r"acts\.h5 has no units 'fc7', 'fc8'; it has a, b, c, d"):
        cka_matrix(path, units=["a", "fc7", "fc8"])
    with pytest.raises(InvalidValueError, match="unknown CKA kernel 'poly'; the choices are linear, rbf"):
        cka_matrix(path, kernel="poly")
    with pytest.raises(InvalidValueError, match="RBF CKA needs the stimulus-by-stimulus kernels"):
        cka_matrix(path, kernel="rbf", strategy="features")
    with pytest.raises(InvalidValueError, match="different numbers of stimuli \\(60 and 59\\)"):
        cka_matrix(path, {"x": activations["a"][:59]})
    with pytest.raises(InvalidValueError, match="at least 4 stimuli, got 3"):
        cka(activations["a"][:3], activations["b"][:3], debiased=True)
    broken = activations["b"].copy()
    broken[17, 2] = np.nan
    with pytest.raises(InvalidValueError, match="unit 'y' has NaN or infinite activations, first for stimulus 17"):
        cka(activations["a"], broken)


def test_a_probe_streams_its_stimuli_batch_by_batch() -> None:
    import keras

    from tfprobe import Probe

    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(5, name="out"),
        ]
    )
    probe = Probe(model, batch_size=4)
    images = np.random.default_rng(6).random((23, 8, 8, 2)).astype("float32")
    streamed = cka_matrix(probe, units=["conv", "out"], stimuli=images, pool=2, batch_size=5, debiased=True)
    recorded = probe.activations(images, ["conv", "out"], pool=2, progress=False)
    in_memory = cka_matrix(recorded, strategy="samples", debiased=True)
    assert streamed.settings["strategy"] == "features" and streamed.n_conditions == 23
    np.testing.assert_allclose(streamed.values, in_memory.values, atol=TOLERANCE, rtol=0)
