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
    ("arguments", "message"),
    [
        (["{acts}", "{tmp}/short.npy"], r"label 'label' in .*short.npy has 100 values but the activations hold 120"),
        (["{acts}", "{tmp}/good.npz", "--targets", "colour"], r"no label 'colour' in .*good.npz; it has bright, noise"),
        (["{acts}", "{tmp}/good.npz", "--units", "conv2"], r"unknown unit in acts.h5: 'conv2'; did you mean 'conv'"),
        (["{acts}", "{tmp}/missing.npz"], r"label file '.*missing.npz' does not exist"),
        (["{tmp}/corrupt.h5", "{tmp}/good.npz"], r"cannot read activation file .*corrupt.h5"),
        (["{acts}", "{tmp}/other_ids.npz"], r"120 stimuli of the activation file have no label in"),
        (["{acts}", "{tmp}/rare.npy", "--cv", "10"], r"class 1 has 1 samples, fewer than the cv=10 folds"),
        (["{acts}", "{tmp}/good.npz", "--out", "{tmp}/exists.json"], r"exists.json exists: pass --overwrite"),
    ],
)
def test_decode_errors_are_one_line_with_exit_status_2(activation_file, tmp_path, capsys, arguments, message) -> None:
    path, labels = activation_file
    np.save(tmp_path / "short.npy", labels["bright"][:100])
    np.savez(tmp_path / "good.npz", **labels)
    np.savez(tmp_path / "other_ids.npz", ids=np.arange(120), **labels)
    rare = np.zeros(120, int)
    rare[0] = 1  # one sample of class 1: it cannot be in every training fold
    np.save(tmp_path / "rare.npy", rare)
    (tmp_path / "corrupt.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 20)
    (tmp_path / "exists.json").write_text("{}")
    status = main(["decode", *(a.format(acts=path, tmp=tmp_path) for a in arguments)])
    error = capsys.readouterr().err
    assert status == 2, error
    assert error.startswith("tfprobe decode: error: ") and error.count("\n") == 1
    assert re.search(message, error), error
