"""``tfprobe rsa``: RDMs, their comparison and CKA from an activation file, as users run it."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import tfprobe
from tfprobe.cli import main
from tfprobe.cli import similarity as command
from tfprobe.datasets import ClutteredScenes
from tfprobe.similarity import (
    KERNELS,
    METHODS,
    METRICS,
    RDMs,
    SimilarityMatrix,
    calc_rdm,
    categorical_rdm,
    cka_matrix,
    compare_rdms,
)

SCENES = 24


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """A small recurrent network's conv1, conv2 and fc1 at both time steps for 24 cluttered scenes (pooled to
    2 x 2), and a label file of the scenes in another order, matched by id."""
    keras.utils.set_random_seed(0)
    model = tfprobe.GainModulatedRNN.from_code("bglt_0111", timesteps=2, n_feats=2)
    scenes = ClutteredScenes("test", seed=0, allow_single_split=True).sample(SCENES)
    folder = tmp_path_factory.mktemp("rsa")
    path = folder / "acts.h5"
    ids = [f"scene-{i}" for i in range(SCENES)]
    probe = tfprobe.Probe(model, batch_size=12)
    probe.extract(scenes.images, ["conv1", "conv2", "fc1"], path, ids=ids, pool=2, progress=False)
    labels = {
        "category": scenes.labels["category"] % 3,  # three categories, about 8 scenes each
        "side": scenes.labels["x"],  # the target's horizontal position (two values)
    }
    order = np.random.default_rng(1).permutation(SCENES)
    label_file = folder / "labels.npz"
    np.savez(label_file, ids=np.array(ids)[order], **{name: values[order] for name, values in labels.items()})
    return path, label_file, labels


def run(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_rsa_writes_rdms_comparisons_figures_and_cka(recorded, tmp_path: Path, capsys) -> None:
    path, label_file, labels = recorded
    out = tmp_path / "rsa"
    status, printed, error = run(
        capsys,
        *("rsa", path, "--units", "conv1", "fc1", "--metric", "correlation", "--method", "spearman"),
        *("--labels", label_file, "--sort-by", "category", "--models", "category", "side"),
        *("--bootstrap", 40, "--seed", 3, "--cka", "--out", out),
    )
    assert status == 0, error
    assert "RDMs of 4 units of acts.h5 over 24 conditions (24 stimuli; correlation distance)" in printed
    assert "with 40 bootstrap samples of the conditions (seed 3)" in printed
    assert f"wrote {out}/" in printed
    written = {p.name for p in out.iterdir()}
    figures = {"rdms.png", "similarity.png", "mds.png", "models.png", "cka.png"}
    figures |= {f"{kind}_{name}.png" for kind in ("layer_time", "over_time") for name in ("category", "side")}
    assert written == figures | {"rdms.h5", "comparison.json", "model_rdms.h5", "models.json", "cka.json"}
    assert all((out / name).stat().st_size > 1000 for name in figures)

    # the files hold what the API computes from the same file with the same seed
    units = ["conv1@t0", "conv1@t1", "fc1@t0", "fc1@t1"]
    expected = calc_rdm(path, units, metric="correlation")
    rdms = RDMs.load(out / "rdms.h5")
    assert rdms.names == tuple(units) and rdms.metric == "correlation"
    np.testing.assert_allclose(rdms.vectors, expected.vectors, atol=1e-12)
    assert rdms.conditions.tolist() == [f"scene-{i}" for i in range(SCENES)]  # labelled by the stimulus ids
    comparison = SimilarityMatrix.load(out / "comparison.json")
    reference = compare_rdms(expected, method="spearman", n_bootstrap=40, seed=3)
    np.testing.assert_allclose(comparison.values, reference.values, atol=1e-12)
    np.testing.assert_allclose(comparison.bootstrap, reference.bootstrap, atol=1e-12)
    models = SimilarityMatrix.load(out / "models.json")
    assert models.rows == tuple(units) and models.columns == ("category", "side")
    model_rdms = RDMs.load(out / "model_rdms.h5")
    category = categorical_rdm(labels["category"], conditions=expected.conditions)  # labels back in file order
    np.testing.assert_array_equal(model_rdms.vector("category"), category.vector())
    np.testing.assert_allclose(
        models.values, compare_rdms(expected, model_rdms, method="spearman").values, atol=1e-12
    )
    assert models.ci is not None and np.all(models.ci[0] <= models.ci[1])
    cka = SimilarityMatrix.load(out / "cka.json")
    np.testing.assert_allclose(cka.values, cka_matrix(path, units=units).values, atol=1e-9)
    assert cka.measure == "linear CKA" and cka.n_conditions == SCENES
    # the models' table is printed, one line per unit
    assert "category" in printed and all(unit in printed for unit in units)


def test_conditions_average_the_stimuli_of_a_label_and_crossnobis_uses_them_as_runs(
    recorded, tmp_path: Path, capsys
) -> None:
    path, label_file, labels = recorded
    out = tmp_path / "by_category"
    status, printed, error = run(
        capsys, "rsa", path, "--units", "conv2@t1", "--labels", label_file, "--conditions", "category", "--out", out
    )
    assert status == 0, error
    assert "over 3 conditions (24 stimuli" in printed
    rdms = RDMs.load(out / "rdms.h5")
    expected = calc_rdm(path, "conv2@t1", conditions=labels["category"])
    np.testing.assert_allclose(rdms.vectors, expected.vectors, atol=1e-12)
    assert sorted(rdms.conditions.tolist()) == [0, 1, 2]
    assert {p.name for p in out.iterdir()} == {"rdms.h5", "comparison.json", "rdms.png"}  # one RDM: no map

    # crossnobis: the repeated measurements of a condition are its runs (equal counts are needed)
    equal = np.arange(SCENES) % 4
    np.savez(tmp_path / "repeats.npz", ids=[f"scene-{i}" for i in range(SCENES)], group=equal)
    out = tmp_path / "crossnobis"
    status, _, error = run(
        capsys,
        *("rsa", path, "--units", "fc1", "--metric", "crossnobis", "--labels", tmp_path / "repeats.npz"),
        *("--conditions", "group", "--out", out),
    )
    assert status == 0, error
    expected = calc_rdm(path, "fc1", metric="crossnobis", conditions=equal)
    np.testing.assert_allclose(RDMs.load(out / "rdms.h5").vectors, expected.vectors, atol=1e-12)
    # runs from a label; without it, unequal counts cannot be numbered into runs
    runs = np.arange(SCENES) // 4 % 3  # every group twice in each of 3 runs
    uneven = np.arange(SCENES) % 5
    np.savez(tmp_path / "runs.npz", ids=[f"scene-{i}" for i in range(SCENES)], group=equal, run=runs, uneven=uneven)
    out = tmp_path / "runs"
    status, _, error = run(
        capsys,
        *("rsa", path, "--units", "fc1@t1", "--metric", "crossnobis", "--labels", tmp_path / "runs.npz"),
        *("--conditions", "group", "--runs", "run", "--out", out),
    )
    assert status == 0, error
    expected = calc_rdm(path, "fc1@t1", metric="crossnobis", conditions=equal, runs=runs)
    np.testing.assert_allclose(RDMs.load(out / "rdms.h5").vectors, expected.vectors, atol=1e-12)
    status, _, error = run(
        capsys,
        *("rsa", path, "--units", "fc1@t1", "--metric", "crossnobis", "--labels", tmp_path / "runs.npz"),
        *("--conditions", "uneven", "--out", tmp_path / "uneven"),
    )
    assert status == 1 and "have 4 to 5: give --runs LABEL" in error and not (tmp_path / "uneven").exists()


def test_the_choices_are_the_packages() -> None:
    assert command.METRICS == METRICS and command.METHODS == METHODS and command.KERNELS == KERNELS


@pytest.fixture
def two_stimuli(tmp_path: Path) -> Path:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")])
    path = tmp_path / "two.h5"
    tfprobe.Probe(model).extract(np.eye(4, dtype="float32")[:2], "dense", path, progress=False)
    return path


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (
            ["--metric", "manhattan"],
            2,
            "--metric must be one of correlation, cosine, euclidean, plain_euclidean, mahalanobis, crossnobis; "
            "got 'manhattan'",
        ),
        (["--method", "pearson"], 2, "--method must be one of spearman, corr, tau-a, cosine, corr_cov, cosine_cov"),
        (["--units", "conv1", "conv9", "fc7@t1"], 2, "--units: acts.h5 has no units 'conv9', 'fc7@t1'; it has conv1"),
        (["--models", "category"], 2, "--models name labels: give --labels FILE"),
        (["--labels", "{labels}", "--models", "colour"], 2, "no label 'colour' in"),
        (["--labels", "{labels}", "--conditions", "side"], 1, "gives 2 values of --conditions side: an RDM needs at "),
        (["--labels", "{labels}", "--conditions", "category", "--sort-by", "side"], 2, "label 'side' varies within"),
        (["--metric", "crossnobis"], 2, "--metric crossnobis needs repeated measurements: give --labels and"),
        (["--debiased"], 2, "--debiased sets the CKA: give --cka too"),
        (["--labels", "{labels}", "--runs", "side"], 2, "--runs applies to --metric crossnobis, not correlation"),
        (["--bootstrap", "-1"], 2, "--bootstrap must be at least 0, got -1"),
        (["--out", "{taken}"], 2, "exists: pass --overwrite to replace it"),
        (["{two}"], 1, "two.h5 gives 2 stimuli: an RDM needs at least 3 conditions"),
        (["{missing}"], 2, "activation file"),
    ],
)
def test_bad_input_exits_before_any_work_with_one_line(
    arguments, status, message, recorded, two_stimuli, tmp_path: Path, capsys, monkeypatch
) -> None:
    path, label_file, _ = recorded
    monkeypatch.setattr(tfprobe.similarity, "calc_rdm", lambda *a, **k: pytest.fail("no RDM may be computed"))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep").write_text("mine")
    values = {"labels": label_file, "taken": taken, "two": two_stimuli, "missing": tmp_path / "none.h5"}
    arguments = [a.format(**values) for a in arguments]
    source = [arguments.pop(0)] if arguments and arguments[0].endswith(".h5") else [str(path)]
    if "--out" not in arguments:
        arguments += ["--out", str(tmp_path / "out")]
    result, printed, error = run(capsys, "rsa", *source, *arguments)
    assert result == status, error
    assert message in error and len(error.strip().splitlines()) == 1 and "Traceback" not in error
    assert printed == ""
    assert not (tmp_path / "out").exists() and (taken / "keep").read_text() == "mine"


def test_nan_patterns_are_a_data_error_naming_the_conditions(recorded, tmp_path: Path, capsys) -> None:
    path, _, _ = recorded
    broken = tmp_path / "nan.h5"
    broken.write_bytes(path.read_bytes())
    with h5py.File(broken, "r+") as file:
        file["activations/fc1@t0"][5] = np.nan
    status, _, error = run(capsys, "rsa", broken, "--units", "fc1", "--out", tmp_path / "out")
    assert status == 1
    assert "unit 'fc1@t0': the patterns of conditions 'scene-5' hold NaN" in error
    assert len(error.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_overwrite_replaces_the_folder(recorded, tmp_path: Path, capsys) -> None:
    path, _, _ = recorded
    out = tmp_path / "rsa"
    out.mkdir()
    (out / "old.txt").write_text("old")
    status, _, error = run(capsys, "rsa", path, "--units", "fc1", "--method", "cosine", "--out", out, "--overwrite")
    assert status == 0, error
    assert not (out / "old.txt").exists()
    assert json.loads((out / "comparison.json").read_text())["measure"] == "cosine"
