"""The site's pages are correct: every Python block and every shell line in them runs, in the order of the
site's navigation, in one namespace and one folder.

The pages are the hand-written Markdown files under docs/ that mkdocs.yml's ``nav`` lists (the generated ones,
the API and CLI references and the gallery, are not in the checkout), read in the order of the navigation, so a
page may use the names an earlier page defined (``model``, ``scenes``, ...).  The files the pages name are made
here as small stand-ins (see :func:`snippets.make_stand_ins`); see :mod:`snippets` for the shape comments and
for which shell lines run.  Blocks fenced as anything but ``python`` and ``bash`` (``py``, ``sh``, ``text``) do
not run: ``py`` is Python that must not run here, such as code that configures logical devices before
TensorFlow initialises (tests/test_probe_distributed.py and tests/test_training.py run that in processes of
their own).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snippets import REPO, blocks, check_comments, make_stand_ins, quickstart, shell_lines, skipped, tfprobe_arguments

DOCS = REPO / "docs"
#: Folders of docs/ whose pages the build generates (docs/hooks/): never in the checkout.
GENERATED = ("reference/", "cli/", "gallery/", "figures/")


class _NavLoader(yaml.SafeLoader):
    """A safe loader that reads mkdocs.yml's tags (``!ENV``, ``!!python/name:...``) as plain values."""


_NavLoader.add_multi_constructor("", lambda loader, suffix, node: None)


def nav_pages() -> list[str]:
    """The pages of mkdocs.yml's navigation, in order, as paths under docs/."""
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=_NavLoader)
    pages: list[str] = []

    def walk(entry: object) -> None:
        if isinstance(entry, str):
            if entry.endswith(".md") and "://" not in entry:
                pages.append(entry)
        elif isinstance(entry, list):
            for item in entry:
                walk(item)
        elif isinstance(entry, dict):
            for value in entry.values():
                walk(value)

    walk(config["nav"])
    return pages


def guide_pages() -> list[Path]:
    """The hand-written pages of the navigation, in its order."""
    return [DOCS / page for page in nav_pages() if not page.startswith(GENERATED) and (DOCS / page).is_file()]


def test_every_hand_written_page_is_in_the_navigation_and_run_here() -> None:
    pages = guide_pages()
    written = {p for p in DOCS.rglob("*.md") if p.relative_to(DOCS).parts[0] != "hooks"}
    assert set(pages) == written, sorted(str(p.relative_to(DOCS)) for p in written.symmetric_difference(pages))
    names = [str(p.relative_to(DOCS)) for p in pages]
    assert names[:2] == ["index.md", "getting-started.md"] and "guides/lab.md" in names, names


def test_every_shell_line_is_a_tfprobe_command_or_marked() -> None:
    quick = quickstart()
    for line in shell_lines(page.read_text() for page in guide_pages()):
        if skipped(line, quick):
            continue
        command = line.split("  #")[0].strip()
        assert command.startswith("tfprobe "), line


@pytest.mark.heavy
def test_every_python_block_and_shell_line_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_stand_ins(tmp_path)
    monkeypatch.chdir(tmp_path)
    pages = guide_pages()
    namespace: dict = {"__name__": "__guides__"}
    for page in pages:
        name = str(page.relative_to(REPO))
        for number, source in enumerate(blocks(page.read_text(), "python")):
            label = f"<{name} python block {number}>"
            exec(compile(source, label, "exec"), namespace)
            check_comments(source, namespace, label)

    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    quick = quickstart()
    for line in shell_lines(page.read_text() for page in pages):
        if skipped(line, quick):
            continue
        result = subprocess.run(
            [sys.executable, "-m", "tfprobe.cli", *tfprobe_arguments(line)],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,
            env=environment,
        )
        assert result.returncode == 0, (line, result.stdout[-2000:], result.stderr[-2000:])
