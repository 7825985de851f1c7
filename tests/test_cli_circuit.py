"""``tfprobe circuit``: a filter's circuit written to a folder (figure, weight-explorer page, table)."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

import tfprobe
from tfprobe import Probe
from tfprobe.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ],
        name="tiny_circuit",
    )
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


def test_circuit_writes_figure_page_and_table(model_file, tmp_path, capsys) -> None:
    out = tmp_path / "conv2_1"
    arguments = ["circuit", "--model", str(model_file), "--layer", "conv2", "--filter", "1", "--top", "2"]
    status = main([*arguments, "--size", "16", "--steps", "6", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    assert {"circuit.png", "circuit.html", "circuit.json"} <= {p.name for p in out.iterdir()}
    saved = json.loads((out / "circuit.json").read_text())
    expected = tfprobe.circuit(Probe(keras.saving.load_model(model_file)), "conv2", 1)
    assert saved["layer"] == "conv2" and saved["filter"] == 1 and saved["input_layer"] == "conv1"
    assert [r["channel"] for r in saved["inputs"]] == [r.channel for r in expected.inputs]
    np.testing.assert_allclose([r["l2"] for r in saved["inputs"]], [r.l2 for r in expected.inputs], rtol=1e-6)
    assert [r["kind"] for r in saved["inputs"]] == [r.kind for r in expected.inputs]
    html = (out / "circuit.html").read_text()
    assert html.count("data:image/png;base64,") >= 3  # the filter and at least two inputs, inlined
    # an existing folder is refused unless asked
    assert main([*arguments, "--no-render", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main([*arguments, "--no-render", "--out", str(out), "--overwrite"]) == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--layer", "gap", "--filter", "0"], "Conv2D"),
        (["--layer", "conv2", "--filter", "5"], "5 filters"),
        (["--layer", "conv2", "--filter", "0", "--top", "7"], "6 input channels"),
        (["--layer", "conv9", "--filter", "0"], "conv"),
    ],
)
def test_bad_circuits_are_refused_with_a_clear_error(model_file, tmp_path, capsys, options, message) -> None:
    status = main(["circuit", "--model", str(model_file), *options, "--no-render", "--out", str(tmp_path / "c")])
    error = capsys.readouterr().err
    assert status == 2 and message in error, error
    assert not (tmp_path / "c").exists()
