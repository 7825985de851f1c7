"""RDMs: every distance equal to rsatoolbox 0.3.2 (or scipy) on random and recorded patterns, crossnobis with
rsatoolbox's noise estimates, the RDMs result (files, rsatoolbox conversion, reordering), and bad input."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import rsatoolbox
import scipy.spatial.distance

from tfprobe import Probe
from tfprobe.errors import ExistingOutputError, InvalidKeyError, InvalidValueError, MissingFileError, UnknownUnitError
from tfprobe.probing.store import ActivationWriter, load_activations
from tfprobe.probing.units import UnitInfo
from tfprobe.similarity import RDMs, calc_rdm, categorical_rdm, concat_rdms, load_rdms, noise_precision
from tfprobe.similarity.conditions import make_design

TOLERANCE = 1e-6


def rsatoolbox_rdm(patterns: np.ndarray, method: str, **options) -> np.ndarray:
    dataset = rsatoolbox.data.Dataset(np.asarray(patterns, dtype=np.float64))
    return rsatoolbox.rdm.calc_rdm(dataset, method=method, **options).get_vectors()[0]


@pytest.fixture(scope="module")
def recorded() -> dict[str, np.ndarray]:
    """Activations of a small random CNN, recorded by a Probe: 14 stimuli, three units of different widths."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv1"),
            keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv2"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(10, activation="tanh", name="fc"),
        ]
    )
    images = np.random.default_rng(4).random((14, 16, 16, 3)).astype("float32")
    return Probe(model, batch_size=5).activations(images, ["conv1", "conv2", "fc"], progress=False)


@pytest.mark.parametrize("metric", ["correlation", "euclidean"])
def test_distances_equal_rsatoolbox_on_random_and_recorded_patterns(metric: str, recorded) -> None:
    random = np.random.default_rng(0).normal(size=(20, 37)).astype(np.float32)
    for name, patterns in {"random": random, **recorded}.items():
        flat = patterns.reshape(len(patterns), -1)
        ours = calc_rdm({name: patterns}, metric=metric).vectors[0]
        np.testing.assert_allclose(ours, rsatoolbox_rdm(flat, metric), atol=TOLERANCE, rtol=0)


def test_euclidean_with_remove_mean_and_averaged_conditions_equal_rsatoolbox() -> None:
    rng = np.random.default_rng(1)
    patterns = rng.normal(size=(24, 9)) + 5.0
    labels = np.repeat(np.array(["a", "b", "c", "d", "e", "f"]), 4)
    dataset = rsatoolbox.data.Dataset(patterns, obs_descriptors={"conds": labels})
    for metric in ("euclidean", "correlation"):
        expected = rsatoolbox.rdm.calc_rdm(dataset, method=metric, descriptor="conds").get_vectors()[0]
        ours = calc_rdm({"u": patterns}, metric=metric, conditions=labels)
        np.testing.assert_allclose(ours.vectors[0], expected, atol=TOLERANCE, rtol=0)
        assert ours.conditions.tolist() == ["a", "b", "c", "d", "e", "f"]
    expected = rsatoolbox.rdm.calc_rdm(dataset, method="euclidean", descriptor="conds", remove_mean=True)
    ours = calc_rdm({"u": patterns}, metric="euclidean", conditions=labels, remove_mean=True)
    np.testing.assert_allclose(ours.vectors[0], expected.get_vectors()[0], atol=TOLERANCE, rtol=0)


def test_cosine_and_plain_euclidean_equal_scipy(recorded) -> None:
    for name, patterns in recorded.items():
        flat = patterns.reshape(len(patterns), -1).astype(np.float64)
        rdms = calc_rdm(recorded, [name], metric="cosine")
        np.testing.assert_allclose(rdms.vectors[0], scipy.spatial.distance.pdist(flat, "cosine"), atol=TOLERANCE)
        rdms = calc_rdm(recorded, [name], metric="plain_euclidean")
        np.testing.assert_allclose(rdms.vectors[0], scipy.spatial.distance.pdist(flat, "euclidean"), atol=TOLERANCE)


def repeated_measurements(seed: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8 conditions x 3 runs of 12 features, the rows shuffled."""
    rng = np.random.default_rng(seed)
    conditions = np.repeat(np.arange(8), 3)
    runs = np.tile(np.arange(3), 8)
    patterns = rng.normal(size=(8, 12))[conditions] + 0.7 * rng.normal(size=(24, 12))
    order = rng.permutation(24)
    return patterns[order], conditions[order], runs[order]


@pytest.mark.parametrize("noise", [None, "shrinkage_diag", "shrinkage_eye", "diag", "full"])
def test_crossnobis_and_mahalanobis_equal_rsatoolbox_with_its_noise_estimates(noise: str | None) -> None:
    patterns, conditions, runs = repeated_measurements()
    labels = np.array([f"c{c}" for c in conditions])  # sorted order = first-appearance order after sorting rows
    dataset = rsatoolbox.data.Dataset(patterns, obs_descriptors={"conds": labels, "runs": runs})
    precision = None if noise is None else rsatoolbox.data.noise.prec_from_unbalanced(dataset, "conds", method=noise)
    if noise is not None:
        np.testing.assert_allclose(
            noise_precision(patterns, make_design(len(labels), labels), noise), precision, rtol=1e-9, atol=1e-9
        )
    order = np.argsort(labels, kind="stable")  # rsatoolbox orders conditions by label, tfprobe by first row
    expected = rsatoolbox.rdm.calc_rdm(
        dataset, method="crossnobis", descriptor="conds", cv_descriptor="runs", noise=precision
    )
    ours = calc_rdm(
        {"u": patterns[order]}, metric="crossnobis", conditions=labels[order], runs=runs[order], noise=noise
    )
    np.testing.assert_allclose(ours.vectors[0], expected.get_vectors()[0], atol=TOLERANCE, rtol=0)
    assert ours.descriptors["noise"] == ("identity" if noise is None else noise)
    if noise is not None:
        expected = rsatoolbox.rdm.calc_rdm(dataset, method="mahalanobis", descriptor="conds", noise=precision)
        ours = calc_rdm({"u": patterns[order]}, metric="mahalanobis", conditions=labels[order], noise=noise)
        np.testing.assert_allclose(ours.vectors[0], expected.get_vectors()[0], atol=TOLERANCE, rtol=0)


def test_crossnobis_is_unbiased_where_euclidean_is_not() -> None:
    """Conditions that differ only by noise: crossnobis distances scatter around 0, squared Euclidean ones
    are all positive."""
    rng = np.random.default_rng(7)
    conditions = np.tile(np.arange(10), 4)
    patterns = rng.normal(size=(40, 30))
    crossnobis = calc_rdm({"u": patterns}, metric="crossnobis", conditions=conditions).vectors[0]
    euclidean = calc_rdm({"u": patterns}, metric="euclidean", conditions=conditions).vectors[0]
    assert (crossnobis < 0).mean() > 0.25 and abs(crossnobis.mean()) < 0.1 * euclidean.mean()
    assert (euclidean > 0).all()


def test_crossnobis_default_runs_and_a_given_precision_equal_rsatoolbox() -> None:
    rng = np.random.default_rng(5)
    conditions = np.tile(np.arange(6), 4)  # run k is the k-th row of each condition
    patterns = rng.normal(size=(24, 7))
    precision = np.linalg.inv(np.cov(rng.normal(size=(50, 7)), rowvar=False))
    dataset = rsatoolbox.data.Dataset(patterns, obs_descriptors={"conds": conditions})
    expected = rsatoolbox.rdm.calc_rdm(dataset, method="crossnobis", descriptor="conds", noise=precision)
    ours = calc_rdm({"u": patterns}, metric="crossnobis", conditions=conditions, noise=precision, remove_mean=False)
    np.testing.assert_allclose(ours.vectors[0], expected.get_vectors()[0], atol=TOLERANCE, rtol=0)
    expected = rsatoolbox.rdm.calc_rdm(dataset, method="crossnobis", descriptor="conds", remove_mean=True)
    ours = calc_rdm({"u": patterns}, metric="crossnobis", conditions=conditions, remove_mean=True)
    np.testing.assert_allclose(ours.vectors[0], expected.get_vectors()[0], atol=TOLERANCE, rtol=0)


def test_many_units_at_once_from_an_activation_file_and_from_a_probe(recorded, tmp_path: Path) -> None:
    units = [UnitInfo(name, value.shape[1:], name) for name, value in recorded.items()]
    with ActivationWriter(tmp_path / "acts.h5", units, {}, ids=[f"s{i}" for i in range(14)]) as writer:
        writer.write(recorded)
        writer.finish()
    file = load_activations(tmp_path / "acts.h5")
    from_file = calc_rdm(file, metric="correlation")
    from_path = calc_rdm(tmp_path / "acts.h5", ["fc", "conv1"])
    assert from_file.names == ("conv1", "conv2", "fc") and from_path.names == ("fc", "conv1")
    assert from_file.conditions.tolist() == [f"s{i}" for i in range(14)]  # the stimulus ids label the conditions
    assert from_file.rdm_descriptors["layer"] == ("conv1", "conv2", "fc")
    np.testing.assert_allclose(from_path.vector("conv1"), from_file.vector("conv1"), atol=1e-12)
    np.testing.assert_allclose(from_file.vector("fc"), calc_rdm(recorded, "fc").vector(), atol=1e-12)
    assert from_file.n_rdms == 3 and from_file.n_conditions == 14 and from_file.n_pairs == 91


def test_a_probe_source_records_its_units(recorded) -> None:
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3, name="c"), keras.layers.Flatten()])
    images = np.random.default_rng(0).random((9, 6, 6, 1)).astype("float32")
    probe = Probe(model, batch_size=4)
    rdms = calc_rdm(probe, "c", stimuli=images, pool="mean", metric="euclidean")
    pooled = probe.activations(images, "c", pool="mean", progress=False)["c"]
    np.testing.assert_allclose(rdms.vectors[0], rsatoolbox_rdm(pooled, "euclidean"), atol=TOLERANCE)
    with pytest.raises(UnknownUnitError, match="'nope'"):
        calc_rdm(probe, "nope", stimuli=images)


def test_a_stage_name_stands_for_its_time_steps() -> None:
    rng = np.random.default_rng(9)
    units = {f"conv1@t{t}": rng.normal(size=(5, 3)) for t in (2, 0, 1)} | {"fc1@t0": rng.normal(size=(5, 2))}
    rdms = calc_rdm(units, ["conv1", "fc1@t0"])
    assert rdms.names == ("conv1@t0", "conv1@t1", "conv1@t2", "fc1@t0")
    assert rdms.rdm_descriptors["layer"] == ("conv1", "conv1", "conv1", "fc1")
    assert rdms.rdm_descriptors["timestep"] == (0, 1, 2, 0)


def test_the_matrix_is_the_square_form_in_rsatoolbox_order_and_reordering_moves_rows_and_columns() -> None:
    patterns = np.random.default_rng(6).normal(size=(5, 4))
    rdms = calc_rdm({"u": patterns}, metric="euclidean", conditions=list("vwxyz"))
    matrix = rdms.matrix("u")
    np.testing.assert_allclose(matrix, scipy.spatial.distance.squareform(rdms.vectors[0]))
    np.testing.assert_allclose(rdms.matrices()[0], matrix)
    sorted_rdms = rdms.sort_by([3, 1, 2, 0, 1])
    assert sorted_rdms.conditions.tolist() == ["y", "w", "z", "x", "v"]
    np.testing.assert_allclose(sorted_rdms.matrix(0), matrix[np.ix_([3, 1, 4, 2, 0], [3, 1, 4, 2, 0])])
    np.testing.assert_allclose(rdms.reorder([3, 1, 4, 2, 0]).matrix(0), sorted_rdms.matrix(0))


def test_save_and_load_round_trip_atomically(tmp_path: Path, recorded) -> None:
    rdms = calc_rdm(recorded, metric="correlation", conditions=[f"img{i}" for i in range(14)])
    path = rdms.save(tmp_path / "rdms.h5")
    loaded = load_rdms(path)
    np.testing.assert_array_equal(loaded.vectors, rdms.vectors)
    assert loaded.names == rdms.names and loaded.conditions.tolist() == rdms.conditions.tolist()
    assert loaded.metric == "correlation" and loaded.rdm_descriptors == rdms.rdm_descriptors
    assert loaded.descriptors == rdms.descriptors
    with pytest.raises(ExistingOutputError, match="overwrite=True"):
        rdms.save(path)
    numbered = categorical_rdm([0, 0, 1, 1, 2])
    numbered.save(path, overwrite=True)
    assert load_rdms(path).conditions.tolist() == [0, 1, 2, 3, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rdms.h5"]  # no temporaries left
    with pytest.raises(MissingFileError):
        load_rdms(tmp_path / "missing.h5")


def test_rsatoolbox_conversion_round_trip(recorded) -> None:
    rdms = calc_rdm(recorded, metric="euclidean")
    converted = rdms.to_rsatoolbox()
    assert isinstance(converted, rsatoolbox.rdm.RDMs)
    assert converted.dissimilarity_measure == "squared euclidean"
    assert converted.rdm_descriptors["name"] == ["conv1", "conv2", "fc"]
    np.testing.assert_array_equal(converted.get_vectors(), rdms.vectors)
    back = RDMs.from_rsatoolbox(converted)
    assert back.names == rdms.names and back.metric == "euclidean"
    np.testing.assert_array_equal(back.vectors, rdms.vectors)
    assert back.conditions.tolist() == rdms.conditions.tolist()
    plain = RDMs.from_rsatoolbox(rsatoolbox.rdm.RDMs(np.ones((2, 3))))
    assert plain.names == ("0", "1") and plain.conditions.tolist() == [0, 1, 2]


def test_categorical_rdm_equals_rsatoolbox_and_rdms_join() -> None:
    labels = [0, 1, 0, 2, 1]  # rsatoolbox reads a string label as a sequence of characters
    expected = rsatoolbox.rdm.get_categorical_rdm(labels).get_vectors()[0]
    model = categorical_rdm(labels)
    np.testing.assert_array_equal(model.vectors[0], expected)
    named = categorical_rdm(["face", "house", "face", "car", "house"])
    np.testing.assert_array_equal(named.vectors[0], expected)
    both = concat_rdms(model, categorical_rdm([0, 1, 0, 1, 0], name="parity"))
    assert both.names == ("category", "parity") and both.n_rdms == 2
    with pytest.raises(InvalidValueError, match="repeated: 'category'"):
        concat_rdms(model, model)


# ---------------------------------------------------------------------- bad input


def test_fewer_than_three_conditions_are_refused() -> None:
    with pytest.raises(InvalidValueError, match="at least 3 conditions, got 2"):
        calc_rdm({"u": np.ones((2, 4))})
    with pytest.raises(InvalidValueError, match=r"at least 3 conditions, got 2 \('a', 'b'\)"):
        calc_rdm({"u": np.random.default_rng(0).normal(size=(6, 4))}, conditions=list("ababab"))


def test_nan_and_constant_patterns_name_their_conditions() -> None:
    patterns = np.random.default_rng(0).normal(size=(6, 5))
    patterns[[1, 4]] = np.nan
    with pytest.raises(InvalidValueError, match="conditions 'b', 'e' hold NaN"):
        calc_rdm({"v1": patterns}, conditions=list("abcdef"))
    patterns = np.random.default_rng(0).normal(size=(6, 5))
    patterns[2] = 3.0
    with pytest.raises(InvalidValueError, match=r"'v1': correlation distance is undefined for conditions 'c'.*const"):
        calc_rdm({"v1": patterns}, conditions=list("abcdef"))
    patterns[2] = 0.0
    with pytest.raises(InvalidValueError, match="cosine distance is undefined for conditions 'c'"):
        calc_rdm({"v1": patterns}, metric="cosine", conditions=list("abcdef"))


def test_crossnobis_needs_repeated_measurements_in_every_run() -> None:
    patterns = np.random.default_rng(0).normal(size=(6, 5))
    with pytest.raises(InvalidValueError, match="crossnobis needs repeated measurements"):
        calc_rdm({"u": patterns}, metric="crossnobis")
    with pytest.raises(InvalidValueError, match="counts differ"):
        calc_rdm({"u": patterns}, metric="crossnobis", conditions=[0, 0, 1, 1, 2, 3])
    with pytest.raises(InvalidValueError, match=r"condition 2 is missing from run 'r2' \(2 such gaps\)"):
        calc_rdm({"u": patterns}, metric="crossnobis", conditions=[0, 1, 2, 3, 0, 1], runs=["r1"] * 4 + ["r2"] * 2)
    with pytest.raises(InvalidValueError, match="needs repeated measurements"):
        calc_rdm({"u": patterns}, metric="mahalanobis", noise="shrinkage_diag")


def test_unknown_metric_lists_the_choices_and_options_are_checked_before_work() -> None:
    patterns = np.random.default_rng(0).normal(size=(6, 5))
    with pytest.raises(InvalidValueError, match="unknown metric 'pearson'; the choices are correlation, cosine, eu"):
        calc_rdm({"u": patterns}, metric="pearson")
    with pytest.raises(InvalidValueError, match="noise= applies to the mahalanobis and crossnobis"):
        calc_rdm({"u": patterns}, noise="diag")
    with pytest.raises(InvalidValueError, match="unknown noise estimator 'ledoit'"):
        calc_rdm({"u": patterns}, metric="mahalanobis", noise="ledoit")
    with pytest.raises(InvalidValueError, match="6 rows"):
        calc_rdm({"u": patterns}, conditions=[0, 1, 2])
    with pytest.raises(InvalidValueError, match=r"noise precision must be \(5, 5\)"):
        calc_rdm({"u": patterns}, metric="mahalanobis", noise=np.eye(3))


def test_units_missing_from_an_activation_file_are_listed(tmp_path: Path) -> None:
    units = [UnitInfo("conv1", (4,), "conv1"), UnitInfo("fc", (3,), "fc")]
    with ActivationWriter(tmp_path / "acts.h5", units, {}) as writer:
        writer.write({"conv1": np.ones((5, 4)), "fc": np.ones((5, 3))})
        writer.finish()
    with pytest.raises(InvalidKeyError, match=r"acts\.h5 has no units 'conv9', 'fc2'; it has conv1, fc"):
        calc_rdm(tmp_path / "acts.h5", ["conv1", "conv9", "fc2"])
