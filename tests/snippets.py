"""What the tests of the README and of the site's pages share: reading their code blocks, the Quickstart, the
stand-in files the examples name, and the check of the shape comments.

Only blocks fenced as ``python`` and ``bash`` run.  A Python expression whose comment starts with a shape,
``out.readout  # (8, 512): ...``, must have that shape, and one whose comment starts with ``None`` must be
None.  A shell line must be a ``tfprobe`` command, or be marked ``# needs: <what>`` when it needs a file the
reader must fetch (or hours), or be one of the Quickstart's two commands.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SHAPE_COMMENT = re.compile(r"#\s*(\((?:\d+,\s*)*\d*\)|None)\b")


def blocks(text: str, language: str) -> list[str]:
    """The bodies of the blocks of ``text`` fenced as ``language``, in order."""
    return [body for lang, body in BLOCK.findall(text) if lang == language]


def shell_lines(texts: Iterable[str]) -> list[str]:
    """Every command line of the ``bash`` blocks of ``texts``, in order (comment lines left out)."""
    lines = []
    for text in texts:
        for body in blocks(text, "bash"):
            for line in body.splitlines():
                command = line.split("  #")[0].strip()
                if command and not command.startswith("#"):
                    lines.append(line.strip())
    return lines


def quickstart(text: str | None = None) -> list[str]:
    """The lines of the one ``bash`` block of the ``## Quickstart`` section (of the README by default)."""
    text = README.read_text() if text is None else text
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    (body,) = blocks(section, "bash")
    return [line for line in body.splitlines() if line.strip()]


def skipped(line: str, quick: list[str]) -> bool:
    """Whether a shell line is left out of the runs: marked ``# needs:`` (a file the reader fetches, hours of
    work), or a Quickstart command (the main job, about 15 minutes: tests/test_lab.py runs the same command on
    a small budget; the test command itself, run by .ci/run)."""
    return "# needs:" in line or line in quick


def tfprobe_arguments(line: str) -> list[str]:
    """The arguments of the ``tfprobe`` command of a shell line (after ``pip install ... &&``, if any)."""
    import shlex

    command = line.split("  #")[0].strip()
    command = command.split(" && ", 1)[1] if command.startswith("pip install") else command
    arguments = shlex.split(command)
    assert arguments[0] == "tfprobe", line
    return arguments[1:]


def make_stand_ins(folder: Path) -> None:
    """The files the examples name, small."""
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


def check_comments(source: str, namespace: dict, name: str = "<example>") -> None:
    """Evaluate every expression statement whose comment claims a shape (or None) and compare."""
    lines = source.splitlines()
    for node in ast.parse(source).body:
        if not isinstance(node, ast.Expr):
            continue
        comment = lines[node.end_lineno - 1].partition("#")[2]
        match = SHAPE_COMMENT.match("#" + comment.split("#")[0]) if comment else None
        if match is None:
            continue
        value = eval(compile(ast.Expression(node.value), name, "eval"), namespace)
        claim = match.group(1)
        if claim == "None":
            assert value is None, (name, ast.unparse(node))
        else:
            assert tuple(np.shape(value)) == ast.literal_eval(claim), (
                name,
                ast.unparse(node),
                np.shape(value),
                claim,
            )
