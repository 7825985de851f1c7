"""Comparing RDMs: every method equal to rsatoolbox.rdm.compare, many to many in one call; bootstrap samples
equal to rsatoolbox's subsampled RDMs; permutation p-values; the noise ceiling; the labelled result; bad input."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import rsatoolbox
from rsatoolbox.rdm import compare

from tfprobe import Probe
from tfprobe.errors import ExistingOutputError, InvalidKeyError, InvalidTypeError, InvalidValueError
from tfprobe.similarity import (
    METHODS,
    RDMs,
    SimilarityMatrix,
    bootstrap_samples,
    calc_rdm,
    categorical_rdm,
    compare_rdms,
    noise_ceiling,
)
from tfprobe.similarity.condensed import pair_indices, to_matrices, to_vectors

TOLERANCE = 1e-6


def toolbox(rdms: RDMs) -> rsatoolbox.rdm.RDMs:
    return rsatoolbox.rdm.RDMs(rdms.vectors.copy())


def random_rdms(n: int, names: list[str], seed: int, ties: bool = True) -> RDMs:
    """Random RDMs with a shared structure; the last one has many ties (a model RDM)."""
    rng = np.random.default_rng(seed)
    shared = rng.random(n * (n - 1) // 2)
    vectors = shared + rng.random((len(names), len(shared)))
    if ties:
        vectors[-1] = np.round(vectors[-1] * 2)
    return RDMs(vectors, names, np.arange(n), "correlation")


@pytest.fixture(scope="module")
def recorded() -> RDMs:
    """RDMs of a small random CNN's units over 12 stimuli, recorded by a Probe."""
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input((10, 10, 3)),
            keras.layers.Conv2D(5, 3, activation="relu", name="conv1"),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(4, name="out"),
        ]
    )
    images = np.random.default_rng(8).random((12, 10, 10, 3)).astype("float32")
    activations = Probe(model, batch_size=6).activations(images, ["conv1", "conv2", "pool", "out"], progress=False)
    return calc_rdm(activations, metric="correlation")


@pytest.mark.parametrize("method", METHODS)
def test_every_method_equals_rsatoolbox_many_to_many(method: str, recorded: RDMs) -> None:
    rows = random_rdms(25, ["a", "b", "c", "model"], seed=1)
    columns = random_rdms(25, ["x", "y", "ties"], seed=2)
    for first, second in ((rows, columns), (recorded, None), (recorded, categorical_rdm([0, 1] * 6))):
        result = compare_rdms(first, second, method=method)
        expected = compare(toolbox(first), toolbox(first if second is None else second), method)
        np.testing.assert_allclose(result.values, expected, atol=TOLERANCE, rtol=0)
        assert result.rows == first.names and result.columns == (first if second is None else second).names
        assert result.measure == method and result.n_conditions == first.n_conditions


@pytest.mark.parametrize("method", ["corr_cov", "cosine_cov"])
def test_whitened_methods_with_condition_variances_equal_rsatoolbox(method: str) -> None:
    rdms = random_rdms(15, ["a", "b", "c"], seed=3)
    sigma = np.random.default_rng(4).random(15) + 0.5
    expected = compare(toolbox(rdms), toolbox(rdms), method, sigma_k=sigma)
    np.testing.assert_allclose(compare_rdms(rdms, method=method, sigma_k=sigma).values, expected, atol=TOLERANCE)


def test_a_constant_rdm_is_zero_similar_as_in_rsatoolbox() -> None:
    rdms = RDMs(np.vstack([np.ones(10), np.arange(10.0)]), ["flat", "ramp"], np.arange(5))
    for method in ("corr", "spearman", "corr_cov"):
        expected = compare(toolbox(rdms), toolbox(rdms), method)
        np.testing.assert_allclose(compare_rdms(rdms, method=method).values, expected, atol=TOLERANCE)
        assert compare_rdms(rdms, method=method).values[0, 1] == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_bootstrap_samples_equal_rsatoolbox_subsampled_rdms(method: str) -> None:
    """Each bootstrap sample, rebuilt with rsatoolbox (subsample_pattern drops the pairs of a condition with
    its own copies), compares as the vectorised bootstrap says."""
    rows = random_rdms(14, ["a", "b", "model"], seed=5)
    columns = random_rdms(14, ["x", "ties"], seed=6)
    for second in (None, columns):
        result = compare_rdms(rows, second, method=method, n_bootstrap=12, seed=11)
        samples = bootstrap_samples(14, 12, seed=11)
        assert samples.shape == (12, 14) and (np.diff(samples, axis=1) >= 0).all()
        assert all(len(np.unique(sample)) < 14 for sample in samples)  # conditions repeat: pairs are dropped
        for sample, values in zip(samples, result.bootstrap, strict=True):
            left = toolbox(rows).subsample_pattern("index", sample)
            right = left if second is None else toolbox(second).subsample_pattern("index", sample)
            np.testing.assert_allclose(values, compare(left, right, method), atol=TOLERANCE, rtol=0)


def test_the_same_seed_gives_the_same_intervals_and_another_seed_others() -> None:
    rdms = random_rdms(30, ["a", "b", "c"], seed=7)
    first = compare_rdms(rdms, method="spearman", n_bootstrap=40, seed=3)
    again = compare_rdms(rdms, method="spearman", n_bootstrap=40, seed=3)
    other = compare_rdms(rdms, method="spearman", n_bootstrap=40, seed=4)
    np.testing.assert_array_equal(first.ci, again.ci)
    assert not np.array_equal(first.ci, other.ci)
    low, high = first.ci
    assert first.confidence == 0.95 and (low <= first.values + 1e-12).all() and (first.values <= high + 1e-12).all()
    np.testing.assert_allclose(low, np.percentile(first.bootstrap, 2.5, axis=0))
    np.testing.assert_allclose(first.sem, first.bootstrap.std(axis=0, ddof=1))


def test_samples_with_fewer_than_three_conditions_are_nan() -> None:
    rdms = random_rdms(3, ["a", "b"], seed=8, ties=False)
    result = compare_rdms(rdms, method="corr", n_bootstrap=60, seed=0)
    samples = bootstrap_samples(3, 60, seed=0)
    degenerate = np.array([len(np.unique(sample)) < 3 for sample in samples])
    assert degenerate.any() and (~degenerate).any()
    assert np.isnan(result.bootstrap[degenerate]).all() and np.isfinite(result.bootstrap[~degenerate]).all()


@pytest.mark.parametrize("method", ["corr", "spearman", "tau-a", "cosine_cov"])
def test_permutation_p_values_count_permuted_rsatoolbox_comparisons(method: str) -> None:
    rows = random_rdms(9, ["a", "b"], seed=9, ties=False)
    columns = random_rdms(9, ["x", "model"], seed=10)
    result = compare_rdms(rows, columns, method=method, n_permutations=30, seed=5)
    generator = np.random.default_rng(5).spawn(2)[1]  # the permutations' stream (the second of the seed)
    hits = np.zeros((2, 2))
    for _ in range(30):
        order = generator.permutation(9)
        permuted = rsatoolbox.rdm.RDMs(to_vectors(to_matrices(rows.vectors)[:, order][:, :, order]))
        hits += compare(permuted, toolbox(columns), method) >= result.values - 1e-12
    np.testing.assert_allclose(result.p_values, (1 + hits) / 31)


def test_a_real_effect_has_a_small_p_value_and_noise_a_large_one() -> None:
    rng = np.random.default_rng(12)
    labels = np.repeat(np.arange(4), 10)
    model = categorical_rdm(labels)
    patterns = np.eye(4)[labels] @ rng.normal(size=(4, 30)) + 0.8 * rng.normal(size=(40, 30))
    units = calc_rdm({"signal": patterns, "noise": rng.normal(size=(40, 30))})
    result = compare_rdms(units, model, method="spearman", n_permutations=199, seed=0)
    assert result.p_values[0, 0] == 1 / 200 and result.p_values[1, 0] > 0.05


def test_noise_ceiling_equals_rsatoolbox_for_every_method() -> None:
    subjects = random_rdms(20, [f"subject{i}" for i in range(5)], seed=13, ties=False)
    for method in METHODS:
        expected = rsatoolbox.inference.boot_noise_ceiling(toolbox(subjects), method=method)
        ceiling = noise_ceiling(subjects, method)
        np.testing.assert_allclose([ceiling.lower, ceiling.upper], expected, atol=TOLERANCE, rtol=0)
        assert ceiling.lower <= ceiling.upper
    units = random_rdms(20, ["conv1", "fc"], seed=14, ties=False)
    result = compare_rdms(units, subjects, method="corr", noise_ceiling=True)
    assert result.noise_ceiling == noise_ceiling(subjects, "corr")


def test_the_result_is_labelled_and_saves_and_loads(tmp_path: Path) -> None:
    rdms = random_rdms(12, ["conv1@t0", "conv1@t1", "fc1@t0"], seed=15)
    model = categorical_rdm([0, 1, 2] * 4, name="category")
    result = compare_rdms(rdms, model, method="corr", n_bootstrap=20, n_permutations=10, seed=2)
    assert result["conv1@t1", "category"] == result.values[1, 0]
    np.testing.assert_array_equal(result.column("category"), result.values[:, 0])
    part = result.subset(rows=["fc1@t0"])
    assert part.shape == (1, 1) and part.bootstrap.shape == (20, 1, 1) and part.p_values.shape == (1, 1)
    assert "conv1@t0" in result.table() and "[" in result.table()
    with pytest.raises(InvalidKeyError, match="no row 'conv9'"):
        result["conv9", "category"]
    path = result.save(tmp_path / "rsa.json")
    loaded = SimilarityMatrix.load(path)
    np.testing.assert_allclose(loaded.values, result.values)
    np.testing.assert_allclose(loaded.bootstrap, result.bootstrap)
    np.testing.assert_allclose(loaded.ci, result.ci)
    assert loaded.rows == result.rows and loaded.settings == result.settings
    with pytest.raises(ExistingOutputError):
        result.save(path)


# ---------------------------------------------------------------------- bad input


def test_rdms_of_different_conditions_are_refused() -> None:
    with pytest.raises(InvalidValueError, match=r"12 conditions .* and 10"):
        compare_rdms(random_rdms(12, ["a"], 0), random_rdms(10, ["b"], 1))
    renamed = RDMs(random_rdms(5, ["b"], 1).vectors, ["b"], list("vwxyz"))
    with pytest.raises(InvalidValueError, match=r"conditions differ .*position 0: 0 and 'v'"):
        compare_rdms(random_rdms(5, ["a"], 0), renamed)


def test_bad_options_are_refused_before_any_work() -> None:
    rdms = random_rdms(8, ["a", "b"], 0)
    with pytest.raises(InvalidValueError, match="unknown comparison method 'kendall'; the choices are spearman, corr"):
        compare_rdms(rdms, method="kendall")
    with pytest.raises(InvalidValueError, match="sigma_k applies to the methods corr_cov and cosine_cov"):
        compare_rdms(rdms, method="corr", sigma_k=np.ones(8))
    with pytest.raises(InvalidValueError, match="sigma_k cannot be used with a bootstrap"):
        compare_rdms(rdms, method="corr_cov", sigma_k=np.ones(8), n_bootstrap=5)
    with pytest.raises(InvalidValueError, match="n_bootstrap must be an int >= 0"):
        compare_rdms(rdms, n_bootstrap=-1)
    with pytest.raises(InvalidValueError, match="noise_ceiling=True needs other="):
        compare_rdms(rdms, noise_ceiling=True)
    with pytest.raises(InvalidTypeError, match="must be RDMs"):
        compare_rdms(np.ones((2, 28)))
    incomplete = RDMs(np.where(np.arange(28) == 3, np.nan, 1.0)[None], ["gappy"], np.arange(8))
    with pytest.raises(InvalidValueError, match="'gappy' hold NaN"):
        compare_rdms(incomplete)


def test_condensed_order_is_rsatoolbox_order() -> None:
    rows, columns = pair_indices(5)
    matrix = np.arange(25.0).reshape(5, 5)
    np.testing.assert_array_equal(to_vectors(matrix)[0], matrix[rows, columns])
    vector = np.random.default_rng(0).random(10)
    np.testing.assert_array_equal(to_matrices(vector)[0], rsatoolbox.rdm.RDMs(vector).get_matrices()[0])
