"""The package as a user installs it: every subpackage and the shipped assets reach an installed wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "tfprobe").rglob("__init__.py")} | {
        "tfprobe.assets"
    }
    assert listed == on_disk


@pytest.mark.heavy
def test_wheel_ships_the_embedded_data_and_loads_it(tmp_path: Path) -> None:
    # Build from a copy: setuptools leaves a build/ folder behind, and must not reuse a stale one.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", ".*"))
    wheels = tmp_path / "wheels"
    offline = ("--no-deps", "--no-build-isolation", "--no-index")  # built with this environment's setuptools
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *offline, "-q", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("tfprobe-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("mnist", "fashion-mnist"):
        for kind in ("images-idx3", "labels-idx1"):
            assert f"tfprobe/assets/data/{folder}/t10k-{kind}-ubyte.gz" in names
    assert "tfprobe/assets/README.md" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    # Run from an empty folder with only the installed wheel first on the path; no data source but
    # the embedded one (no HOME data, no Debian folder, no network).
    script = (
        "import tfprobe, tfprobe.datasets.digits as d\n"
        "from pathlib import Path\n"
        "d.DEBIAN_FASHION_MNIST_DIR = Path('/nonexistent')\n"
        "d.SOURCES = [s for s in d.SOURCES if s.label != 'tensorflow-datasets']\n"
        "s = d.load_mnist(allow_single_split=True)\n"
        "print(tfprobe.__file__)\n"
        "print(s.embedded, len(s.train), s.source)\n"
    )
    empty = tmp_path / "cwd"
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "HOME": str(empty), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TFPROBE_DATA_DIR", None)
    env.pop("KERAS_HOME", None)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=empty, env=env, capture_output=True, text=True, check=True
    )
    module_file, summary = result.stdout.strip().splitlines()[-2:]
    assert Path(module_file).is_relative_to(target)
    assert summary.startswith("True 7857 ")
    assert str(target / "tfprobe" / "assets" / "data" / "mnist") in summary
