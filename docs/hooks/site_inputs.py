"""What the site shows that code must run to make: the executed notebooks and a short run of the main job.

Both are kept in one folder (``build/site-inputs``, or ``$TFPROBE_SITE_INPUTS``). The tests that run them
anyway store them there (tests/test_notebooks.py each executed notebook, tests/test_lab.py its short
``tfprobe rnn run``), so a build after the test suite, as in CI, runs nothing a second time; a build
without them (``mkdocs serve`` in a fresh checkout) makes what is missing here, once.

An executed notebook is reused while its source is unchanged (its SHA-256 is recorded in it); delete the
folder to run everything again after changing the code.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"

#: The settings of the short run of the main job (tests/test_lab.py runs it with these, adding ``--train``;
#: a build makes it so when no test stored one).
SHORT_LAB = [
    "--timesteps", "2", "--n-feats", "2", "--steps", "4", "--validation", "16", "--validate-every", "2",
    "--test-scenes", "40", "--decoding-scenes", "60", "--n-test", "20", "--repetitions", "2",
    "--perturbation-scenes", "20", "--quiet",
]  # fmt: skip


def folder() -> Path:
    """The folder of the site's inputs."""
    return Path(os.environ.get("TFPROBE_SITE_INPUTS", ROOT / "build" / "site-inputs"))


def notebooks() -> list[Path]:
    """The notebooks the gallery shows, by name."""
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def execute_notebook(source: Path, workdir: Path, timeout: int = 900) -> nbformat.NotebookNode:
    """Run a copy of the notebook ``source`` top to bottom in ``workdir`` (which receives what it writes).

    Raises ``nbclient.exceptions.CellExecutionError`` naming the failing cell if one fails.
    """
    from nbclient import NotebookClient

    copy = workdir / source.name
    shutil.copy(source, copy)
    notebook = nbformat.read(copy, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": workdir}})
    client.execute()
    return notebook


def store_executed_notebook(notebook: nbformat.NotebookNode, source: Path) -> Path:
    """Keep an executed notebook for the gallery, marked with the SHA-256 of its source."""
    notebook.metadata["tfprobe_site"] = {"source_sha256": _digest(source)}
    target = folder() / "notebooks" / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    nbformat.write(notebook, partial)
    partial.replace(target)
    return target


def executed_notebook(source: Path) -> tuple[nbformat.NotebookNode, bool]:
    """The executed notebook of ``source`` and whether a stored execution was reused (else it runs now)."""
    stored = folder() / "notebooks" / source.name
    if stored.is_file():
        notebook = nbformat.read(stored, as_version=4)
        if notebook.metadata.get("tfprobe_site", {}).get("source_sha256") == _digest(source):
            return notebook, True
    with tempfile.TemporaryDirectory(prefix="tfprobe-notebook-") as workdir:
        notebook = execute_notebook(source, Path(workdir))
    store_executed_notebook(notebook, source)
    return notebook, False


def store_lab_run(run: Path) -> Path:
    """Keep the report, summary and figures of a run of ``tfprobe rnn run`` for the gallery."""
    target = folder() / "lab"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="lab.", dir=target.parent))
    try:
        for name in ("report.html", "summary.json"):
            shutil.copy(run / name, staging / name)
        shutil.copytree(run / "figures", staging / "figures")
        if target.exists():
            shutil.rmtree(target)
        staging.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def lab_run() -> tuple[Path, bool]:
    """The stored short run of the main job and whether it was reused (else it runs now, with ``SHORT_LAB``)."""
    stored = folder() / "lab"
    if (stored / "report.html").is_file():
        return stored, True
    from tfprobe.cli import main

    with tempfile.TemporaryDirectory(prefix="tfprobe-lab-") as workdir:
        run = Path(workdir) / "lab"
        status = main(["rnn", "run", "--out", str(run), "--train", *SHORT_LAB])
        if status != 0:
            raise RuntimeError(f"the short run of tfprobe rnn run for the gallery failed with status {status}")
        return store_lab_run(run), False
