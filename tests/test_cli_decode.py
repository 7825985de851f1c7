"""``tfprobe decode``: decoding labels from an activation file, as users run it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from tfprobe import Probe
from tfprobe.cli import main
from tfprobe.decoding import DecodingResult, decode


@pytest.fixture(scope="module")
def activation_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """Activations of 120 stimuli whose brightness (label "bright") is easy to decode and "noise" is not."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(6, name="dense"),
        ]
    )
    rng = np.random.default_rng(0)
    bright = np.repeat([0, 1, 2], 40)
    images = (rng.random((120, 8, 8, 1)) * 0.3 + bright[:, None, None, None] * 0.3).astype("float32")
    labels = {"bright": bright, "noise": rng.integers(0, 2, 120)}
    path = tmp_path_factory.mktemp("acts") / "acts.h5"
    Probe(model).extract(images, ["conv", "dense"], path, ids=[f"s{i}" for i in range(120)], progress=False)
    return path, labels


def test_decode_prints_a_table_and_writes_json_and_a_figure(activation_file, tmp_path, capsys) -> None:
    path, labels = activation_file
    order = np.random.default_rng(1).permutation(120)  # labels in another order, matched by id
    label_file = tmp_path / "labels.npz"
    np.savez(label_file, ids=np.array([f"s{i}" for i in order]), **{k: v[order] for k, v in labels.items()})
    out, figure = tmp_path / "result.json", tmp_path / "bars.png"
    status = main(["decode", str(path), str(label_file), "--cv", "5", "--out", str(out), "--figure", str(figure)])
    assert status == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "decoding bright, noise from 2 units of acts.h5 (120 stimuli; logistic, C=1.0, 5-fold" in printed
    assert re.search(r"conv\s+\d+\.\d ± \d+\.\d", printed) and f"wrote {out}" in printed
    assert "10/10" in printed  # the progress bar: 2 units x 5 folds
    result = DecodingResult.load(out)
    expected = decode(_features(path), labels, cv=5)
    np.testing.assert_allclose(result.scores, expected.scores)
    assert result["conv", "bright"].mean > 0.9 and result["conv", "noise"].mean < 0.75
    assert figure.stat().st_size > 1000


def _features(path: Path) -> dict[str, np.ndarray]:
    from tfprobe import load_activations

    file = load_activations(path)
    return {unit: file[unit] for unit in file}


def test_decode_options_and_label_formats(activation_file, tmp_path, capsys) -> None:
    path, labels = activation_file
    csv = tmp_path / "labels.csv"
    csv.write_text(
        "bright,noise\n" + "\n".join(f"{a},{b}" for a, b in zip(labels["bright"], labels["noise"], strict=True))
    )
    out = tmp_path / "r.json"
    status = main(
        [
            "decode",
            str(path),
            str(csv),
            "--targets",
            "bright",
            "--units",
            "dense",
            "--classifier",
            "svm",
            "--holdout",
            "30",
            "--pca",
            "3",
            "--out",
            str(out),
        ]
    )
    assert status == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert result["units"] == ["dense"] and result["targets"] == ["bright"]
    assert "hold-out of the last 30" in capsys.readouterr().out
    vector = tmp_path / "bright.npy"
    np.save(vector, labels["bright"])
    assert main(["decode", str(path), str(vector), "--cv", "3"]) == 0
    assert "decoding label from 2 units" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (["{acts}", "{tmp}/short.npy"], 1, r"label 'label' in .*short.npy has 100 values but the activations hold 120"),
        (["{acts}", "{tmp}/good.npz", "--targets", "colour"], 2, r"--targets: no label in .*good.npz 'colour'"),
        (["{acts}", "{tmp}/good.npz", "--units", "conv2"], 2, r"--units: no unit in .*acts.h5 'conv2'; there are"),
        (["{acts}", "{tmp}/missing.npz"], 2, r"label file '.*missing.npz' does not exist"),
        (["{tmp}/corrupt.h5", "{tmp}/good.npz"], 1, r"cannot read activation file .*corrupt.h5"),
        (["{tmp}/other.h5", "{tmp}/good.npz"], 1, r"other.h5 is an HDF5 file but not a tfprobe activation file"),
        (["{acts}", "{tmp}/garbage.npz"], 1, r"cannot read label file .*garbage.npz"),
        (["{acts}", "{tmp}/other_ids.npz"], 1, r"120 stimuli of the activation file have no label in"),
        (["{acts}", "{tmp}/rare.npy", "--cv", "10"], 1, r"class 1 has 1 samples, fewer than the cv=10 folds"),
        (["{acts}", "{tmp}/good.npz", "--out", "{tmp}/exists.json"], 2, r"exists.json exists: pass --overwrite"),
        (["{acts}", "{tmp}/good.npz", "--figure", "{tmp}/bars.xyz"], 2, r"--figure .*bars.xyz.*expected a suffix"),
        (["{acts}", "{tmp}/good.npz", "--pca", "0"], 2, r"--pca must be at least 1, got 0"),
        (["{acts}", "{tmp}/good.npz", "--holdout", "120"], 2, r"--holdout 120 leaves nothing to train on"),
        (["{acts}", "{tmp}/good.npz", "--figure-target", "bright"], 2, r"give --figure too"),
    ],
)
def test_decode_errors_are_one_line_with_their_exit_status(
    activation_file, tmp_path, capsys, monkeypatch, arguments, status, message
) -> None:
    import h5py

    import tfprobe.decoding

    path, labels = activation_file
    np.save(tmp_path / "short.npy", labels["bright"][:100])
    np.savez(tmp_path / "good.npz", **labels)
    np.savez(tmp_path / "other_ids.npz", ids=np.arange(120), **labels)
    (tmp_path / "garbage.npz").write_bytes(b"PK garbage")
    rare = np.zeros(120, int)
    rare[0] = 1  # one sample of class 1: it cannot be in every training fold
    np.save(tmp_path / "rare.npy", rare)
    (tmp_path / "corrupt.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 20)
    with h5py.File(tmp_path / "other.h5", "w") as other:
        other["x"] = np.zeros(3)
    (tmp_path / "exists.json").write_text("{}")
    if status == 2:  # usage errors are found before any decoding
        monkeypatch.setattr(tfprobe.decoding, "decode", lambda *a, **k: pytest.fail("decoding must not start"))
    code = main(["decode", *(a.format(acts=path, tmp=tmp_path) for a in arguments)])
    error = capsys.readouterr().err
    assert code == status, error
    assert error.startswith("tfprobe decode: error: ") and error.count("\n") == 1
    assert re.search(message, error), error
    assert (tmp_path / "exists.json").read_text() == "{}"
    assert not (tmp_path / "bars.xyz").exists() and not list(tmp_path.glob(".*partial*"))


def test_a_failing_figure_leaves_no_json(activation_file, tmp_path, capsys, monkeypatch, traceback_folder) -> None:
    import tfprobe.figures.decoding

    path, labels = activation_file
    np.savez(tmp_path / "labels.npz", **labels)
    (tmp_path / "result.json").write_text("old")

    def broken(*args, **kwargs):
        raise ValueError("figure failed (test)")

    monkeypatch.setattr(tfprobe.figures.decoding, "plot_layerwise", broken)
    arguments = ["decode", str(path), str(tmp_path / "labels.npz"), "--cv", "3", "--overwrite"]
    # a plain ValueError is a bug (exit status 3, traceback saved); it leaves the outputs untouched all the same
    assert main([*arguments, "--out", str(tmp_path / "result.json"), "--figure", str(tmp_path / "bars.png")]) == 3
    assert "unexpected error (ValueError: figure failed (test))" in capsys.readouterr().err
    assert "figure failed (test)" in next(traceback_folder.iterdir()).read_text()
    assert (tmp_path / "result.json").read_text() == "old"
    assert not (tmp_path / "bars.png").exists() and not list(tmp_path.glob(".*partial*"))


def test_the_readme_pair_act_then_decode_with_pca_100(tmp_path, capsys) -> None:
    """A pooled unit has fewer features than --pca asks for: PCA keeps them all, and the table says so."""
    rng = np.random.default_rng(0)
    images = rng.random((60, 100, 100, 1)).astype(np.float32)
    np.save(tmp_path / "stimuli.npy", images)
    labels = tmp_path / "labels.npz"
    np.savez(labels, category=np.repeat([0, 1], 30))
    acts = tmp_path / "acts.h5"
    assert (
        main(
            [
                "act",
                "rnn:bglt_0111:2",
                str(tmp_path / "stimuli.npy"),
                "--layers",
                "conv1",
                "conv2",
                "fc1",
                "--out",
                str(acts),
                "--pool",
                "mean",
            ]
        )
        == 0
    )
    capsys.readouterr()
    result_path, figure = tmp_path / "result.json", tmp_path / "bars.png"
    assert (
        main(
            [
                "decode",
                str(acts),
                str(labels),
                "--targets",
                "category",
                "--cv",
                "10",
                "--pca",
                "100",
                "--out",
                str(result_path),
                "--figure",
                str(figure),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "PCA to 100 components kept fewer where a unit has fewer features" in printed
    assert "conv1@t0 8" in printed and "fc1@t1 54" in printed  # 8 channels; 54 = the 10-fold training size
    result = DecodingResult.load(result_path)
    assert result.settings["pca_capped"]["conv2@t1"] == 16 and figure.stat().st_size > 1000


def test_decoding_result_save_refuses_to_replace_a_file(tmp_path) -> None:
    result = decode({"u": np.eye(20)[np.arange(40) % 20]}, np.arange(40) % 2, cv=2)
    path = tmp_path / "r.json"
    result.save(path)
    with pytest.raises(FileExistsError, match="exists: pass overwrite=True to replace it"):
        result.save(path)
    result.save(path, overwrite=True)
    np.testing.assert_allclose(DecodingResult.load(path).scores, result.scores)
