"""``tfprobe atlas``: a unit atlas written to a folder, its early checks and exit statuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import keras
import numpy as np
import PIL.Image
import pytest
from browser import Elements

import tfprobe
from tfprobe.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(5, 3, activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ],
        name="tiny_atlas",
    )
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("images")
    images = np.random.default_rng(4).random((12, 16, 16, 3), dtype=np.float32)
    np.save(folder / "images.npy", images)
    with h5py.File(folder / "images.h5", "w") as file:
        file["images"] = images
    photos = folder / "photos"
    photos.mkdir()
    for i, image in enumerate(images[:6]):
        PIL.Image.fromarray((image * 255).astype(np.uint8)).save(photos / f"{i}.png")
    (folder / "broken.npy").write_bytes(b"not an array")
    (folder / "images.txt").write_text("0 1 2")
    return {
        "npy": folder / "images.npy",
        "h5": folder / "images.h5",
        "folder": photos,
        "broken": folder / "broken.npy",
        "text": folder / "images.txt",
    }


QUICK = ["--k", "3", "--steps", "2", "--quiet"]


def test_writes_the_atlas_and_how_the_time_split(model_file, data, tmp_path, capsys) -> None:
    out = tmp_path / "atlas"
    layers = ["--layer", "conv1", "--layer", "conv2"]
    arguments = ["atlas", "--model", str(model_file), *layers, "--images", str(data["h5"])]
    status = main([*arguments, *QUICK, "--explorers", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert sorted(p.name for p in out.iterdir()) == ["atlas.json", "circuits", "conv1.html", "conv2.html", "index.html"]
    assert len(list((out / "circuits").iterdir())) == 4 + 5
    for part in ("examples", "circuits", "visualization", "writing", "total"):
        assert part in captured.out
    page = Elements((out / "conv2.html").read_text())
    assert [s["id"] for s in page.all("section", "channel")] == [f"channel-{c}" for c in range(5)]
    model = keras.saving.load_model(model_file)
    images = np.load(data["npy"])
    expected = tfprobe.dataset_examples(model, "conv2", images, k=3, progress=False)
    shown = [int(li["data-index"]) for li in page.all("li", "example")]
    assert shown[:3] == expected.indices[0].tolist() and shown[3:6] == expected.bottom_indices[0].tolist()
    # an existing folder is refused unless asked, and left as it was
    before = sorted(p.name for p in out.iterdir())
    assert main([*arguments, *QUICK, "--out", str(out)]) == 2
    assert "exists: pass --overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before
    assert main([*arguments, *QUICK, "--channels", "0,2", "--out", str(out), "--overwrite"]) == 0
    assert "circuits" not in {p.name for p in out.iterdir()}
    page = Elements((out / "conv2.html").read_text())
    assert [s["id"] for s in page.all("section", "channel")] == ["channel-0", "channel-2"]


@pytest.mark.parametrize("source", ["npy", "folder"])
def test_reads_arrays_and_folders_of_images(model_file, data, tmp_path, capsys, source) -> None:
    out = tmp_path / "atlas"
    arguments = ["atlas", "--model", str(model_file), "--layer", "gap", "--images", str(data[source])]
    assert main([*arguments, *QUICK, "--out", str(out)]) == 0, capsys.readouterr().err
    page = Elements((out / "gap.html").read_text())
    assert len(page.all("section", "channel")) == 5
    assert "no circuit" in "".join(page.text)  # a pooling layer has no weights


@pytest.mark.parametrize(
    ("options", "status", "message"),
    [
        (["--layer", "conv9"], 2, "did you mean"),
        (["--layer", "conv1", "--layer", "conv1"], 2, "--layer repeats conv1"),
        (["--layer", "conv1", "--k", "0"], 2, "--k must be at least 1"),
        (["--layer", "conv1", "--k", "13"], 2, "k=13 is more than the 12 images"),
        (["--layer", "conv1", "--channels", "0:9"], 2, "out of range for layer 'conv1': it has 4 channels"),
        (["--layer", "conv1", "--channels", "x"], 2, "--channels must be"),
        (["--layer", "conv1", "--show-timesteps", "0"], 2, "recurrent network"),
        (["--layer", "conv1", "--size", "4"], 2, "--size must be at least 8"),
        (["--layer", "conv1", "--recipe", "fancy"], 2, "--recipe must be one of"),
        (["--layer", "conv1", "--images", "missing.npy"], 2, "does not exist"),
        (["--layer", "conv1", "--images", "TEXT"], 2, "expected a folder of images or a .npy"),
        (["--layer", "conv1", "--images", "BROKEN"], 1, "broken.npy"),
        (["--layer", "conv1", "--weights", "none"], 2, "--weights applies to keras.applications"),
    ],
)
def test_bad_arguments_are_refused_with_one_line_and_nothing_written(
    model_file, data, tmp_path, capsys, options, status, message
) -> None:
    options = list(options)
    if "--images" in options:
        where = options.index("--images") + 1
        options[where] = {"TEXT": str(data["text"]), "BROKEN": str(data["broken"])}.get(options[where], options[where])
    else:
        options = [*options, "--images", str(data["npy"])]
    out = tmp_path / "atlas"
    code = main(["atlas", "--model", str(model_file), *options, "--quiet", "--steps", "1", "--out", str(out)])
    error = capsys.readouterr().err
    assert code == status, error
    assert message in error, error
    assert len(error.strip().splitlines()) == 1 and "Traceback" not in error
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folder_is_a_usage_error(model_file, data, tmp_path, capsys) -> None:
    out = tmp_path / "missing" / "atlas"
    arguments = ["atlas", "--model", str(model_file), "--layer", "conv1", "--images", str(data["npy"])]
    assert main([*arguments, "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_help_describes_the_command_without_tensorflow() -> None:
    script = (
        "import sys\n"
        "from tfprobe.cli import main\n"
        "try:\n"
        "    main(['atlas', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('LOADED', 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: tfprobe atlas" in result.stdout and "LOADED False" in result.stdout
    for option in ("--layer", "--images", "--out", "--channels", "--k", "--overwrite", "--explorers"):
        assert option in result.stdout
