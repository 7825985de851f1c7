"""The README is correct: every Python block and every shell line in it runs, in order, in one folder.

The files the README names are made here as small stand-ins: the authors' checkpoint (a state_dict of the
PyTorch reference with the same flags and time steps), a small Keras CNN, a folder of images and their
labels.  A shell line may instead be marked ``# needs: <what>`` in the README when it needs a file the
reader must fetch.  A Python expression whose comment starts with a shape, ``out.readout  # (8, 512): ...``,
must have that shape, and one whose comment starts with ``None`` must be None.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SHAPE_COMMENT = re.compile(r"#\s*(\((?:\d+,\s*)*\d*\)|None)\b")


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README) if lang == language]


def shell_lines() -> list[str]:
    lines = []
    for body in blocks("bash"):
        for line in body.splitlines():
            command = line.split("  #")[0].strip()
            if command and not command.startswith("#"):
                lines.append(line.strip())
    return lines


def quickstart() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    (body,) = [b for lang, b in BLOCK.findall(section) if lang == "bash"]
    return [line for line in body.splitlines() if line.strip()]


def test_quickstart_is_two_commands_and_ci_runs_the_second() -> None:
    install_and_run, install_and_test = quickstart()
    assert install_and_run.startswith("pip install -e . && tfprobe rnn run --out ")
    assert install_and_test.startswith("pip install -e \".[test]\" && python -m pytest")
    assert install_and_test in (REPO / ".ci" / "run").read_text()


def make_stand_ins(folder: Path) -> None:
    """The files the README's examples name, small."""
    import keras
    import torch
    from conftest import make_reference
    from PIL import Image

    torch.save(make_reference(4, (0, 1, 1, 1)).state_dict(), folder / "rnn_bglt_0111_t_4_num_1.pth")
    keras.utils.set_random_seed(0)
    cnn = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(12, activation="relu", name="fc1"),
            keras.layers.Dense(2, name="logits"),
        ],
        name="readme_cnn",
    )
    cnn.save(folder / "model.keras")
    stimuli = folder / "stimuli"
    stimuli.mkdir()
    rng = np.random.default_rng(0)
    names, category = [], []
    for i in range(30):
        bright = i % 2
        pixels = rng.random((32, 32, 3)) * 0.5 + 0.5 * bright
        name = f"img_{i:02d}.png"
        Image.fromarray((pixels * 255).astype(np.uint8)).save(stimuli / name)
        names.append(name)
        category.append(bright)
    np.savez(folder / "labels.npz", ids=np.array(names), category=np.array(category))
    np.save(folder / "scenes.npy", rng.random((6, 100, 100, 1), dtype=np.float32))
    np.savez(folder / "more_scenes.npz", images=rng.random((3, 100, 100, 1), dtype=np.float32), ids=[10, 11, 12])


def check_comments(source: str, namespace: dict) -> None:
    """Evaluate every expression statement whose comment claims a shape (or None) and compare."""
    lines = source.splitlines()
    for node in ast.parse(source).body:
        if not isinstance(node, ast.Expr):
            continue
        comment = lines[node.end_lineno - 1].partition("#")[2]
        match = SHAPE_COMMENT.match("#" + comment.split("#")[0]) if comment else None
        if match is None:
            continue
        value = eval(compile(ast.Expression(node.value), "<README>", "eval"), namespace)
        claim = match.group(1)
        if claim == "None":
            assert value is None, ast.unparse(node)
        else:
            assert tuple(np.shape(value)) == ast.literal_eval(claim), (
                ast.unparse(node),
                np.shape(value),
                claim,
            )


@pytest.mark.heavy
def test_every_python_block_and_shell_line_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_stand_ins(tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for number, source in enumerate(blocks("python")):
        code = compile(source, f"<README python block {number}>", "exec")
        exec(code, namespace)
        check_comments(source, namespace)

    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    quick = quickstart()
    for line in shell_lines():
        if "# needs:" in line or line in quick:
            # A file the reader fetches; the main job (about 15 minutes: tests/test_lab.py runs the same command
            # on a small budget) and the test command itself (run by .ci/run).
            continue
        command = line.split("  #")[0].strip()
        command = command.split(" && ", 1)[1] if command.startswith("pip install") else command
        arguments = shlex.split(command)
        assert arguments[0] == "tfprobe", line
        result = subprocess.run(
            [sys.executable, "-m", "tfprobe.cli", *arguments[1:]],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,
            env=environment,
        )
        assert result.returncode == 0, (line, result.stdout[-2000:], result.stderr[-2000:])


def test_every_shell_line_is_a_tfprobe_command_or_marked() -> None:
    quick = quickstart()
    for line in shell_lines():
        command = line.split("  #")[0].strip()
        if "# needs:" in line or line in quick:
            continue
        assert command.startswith("tfprobe "), line
