"""``tfprobe visualize``: feature visualisations written to a folder, as users run it."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from tfprobe.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((20, 20, 1)),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(4, activation="softmax", name="out"),
        ],
        name="tiny_vis",
    )
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


def test_visualize_writes_a_grid_pngs_and_json(model_file, tmp_path, capsys) -> None:
    out = tmp_path / "vis"
    status = main(["visualize", str(model_file), "conv", "--channels", "1:4", "--steps", "12", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "conv:3:" in printed and f"wrote {out}/" in printed
    saved = json.loads((out / "visualization.json").read_text())
    assert saved["labels"] == ["conv:1", "conv:2", "conv:3"] and saved["steps"] == 12
    assert saved["settings"]["recipe"] == "default" and saved["settings"]["size"] == 20
    assert sorted(p.name for p in out.glob("*.png")) == [
        "000_conv_1.png",
        "001_conv_2.png",
        "002_conv_3.png",
        "grid.png",
    ]
    assert np.asarray(Image.open(out / "000_conv_1.png")).shape == (20, 20)


def test_visualize_classes_naive_and_maco(model_file, tmp_path, capsys) -> None:
    classes = tmp_path / "classes"
    assert main(["visualize", str(model_file), "classes", "--recipe", "naive", "--out", str(classes)]) == 0
    saved = json.loads((classes / "visualization.json").read_text())
    assert saved["labels"] == ["out.logits:0", "out.logits:1", "out.logits:2", "out.logits:3"]
    assert saved["steps"] == 40 and saved["settings"]["update"] == "normalized"
    natural = tmp_path / "natural.npy"
    np.save(natural, (np.random.default_rng(0).random((10, 20, 20, 1)) * 255).astype(np.uint8))
    maco = tmp_path / "maco"
    assert (
        main(
            [
                "visualize",
                str(model_file),
                "conv:2",
                "--recipe",
                "maco",
                "--maco-images",
                str(natural),
                "--steps",
                "8",
                "--out",
                str(maco),
            ]
        )
        == 0
    )
    assert json.loads((maco / "visualization.json").read_text())["settings"]["parameterization"]["name"] == "maco"


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (["{model}", "conv", "--recipe", "fancy", "--out", "{out}"], 2, "--recipe must be one of"),
        (["{model}", "conv", "--recipe", "maco", "--out", "{out}"], 2, "give --maco-images"),
        (["{model}", "conv", "--channels", "a:b", "--out", "{out}"], 2, "--channels must be START:STOP"),
        (["{model}", "conv", "--channels", "0:9", "--out", "{out}"], 2, "channel 6 out of range for unit 'conv'"),
        (["{model}", "conv3", "--out", "{out}"], 2, "unknown unit 'conv3'; did you mean 'conv'"),
        (["{model}", "conv:1", "--size", "10", "--out", "{out}"], 2, "image size 10 is smaller than the 20x20"),
        (["{model}", "conv:1", "--steps", "0", "--out", "{out}"], 2, "--steps must be at least 1, got 0"),
        (["{model}", "gap", "--out", "{out}", "--code", "bglt_0111"], 2, "--code applies to the recurrent network"),
        (["{model}", "conv:1", "--out", "{tmp}"], 2, "exists: pass --overwrite"),
    ],
)
def test_visualize_errors(model_file, tmp_path, capsys, arguments, status, message) -> None:
    values = {"model": model_file, "out": tmp_path / "vis", "tmp": tmp_path}
    code = main(["visualize", *(a.format(**values) for a in arguments)])
    error = capsys.readouterr().err
    assert code == status, error
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "vis").exists()


def test_visualize_takes_the_library_precisions_and_records_the_one_used(model_file, tmp_path, capsys) -> None:
    from tfprobe.cli.visualize import PRECISIONS as CLI_PRECISIONS
    from tfprobe.visualize.precision import PRECISIONS, native_bfloat16

    assert CLI_PRECISIONS == PRECISIONS  # written out in the CLI so that --help does not load TensorFlow
    out = tmp_path / "auto"
    status = main(["visualize", str(model_file), "conv:2", "--precision", "auto", "--steps", "3", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    settings = json.loads((out / "visualization.json").read_text())["settings"]
    native, why = native_bfloat16(False)
    assert settings["precision"] == ("bfloat16" if native else "float32")
    assert settings["precision_reason"] == f"auto: {why}"
    with pytest.raises(SystemExit) as refused:  # argparse refuses the choice before anything runs
        main(["visualize", str(model_file), "conv:2", "--precision", "half", "--out", str(tmp_path / "x")])
    assert refused.value.code == 2
    assert "float32" in capsys.readouterr().err
