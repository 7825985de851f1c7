"""What the documentation site's build makes of notebooks: executions kept and reused, pages and figures.

The whole build is tested in tests/test_site.py; here the pieces, on small notebooks: an execution is reused
while its notebook is unchanged and made again when it changes, and an executed notebook becomes a page with
its outputs as a reader sees them and its tagged figure.
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "hooks"))

import site_inputs
from gallery import clean_text, notebook_page


def _notebook(*sources: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# A small notebook\n\nIt adds.")]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


@pytest.mark.heavy
def test_an_execution_is_kept_reused_and_made_again_when_the_notebook_changes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TFPROBE_SITE_INPUTS", str(tmp_path / "inputs"))
    source = tmp_path / "adds.ipynb"
    nbformat.write(_notebook("print(1 + 1)"), source)
    first, reused = site_inputs.executed_notebook(source)
    assert not reused and first.cells[1].outputs[0]["text"] == "2\n"
    assert (tmp_path / "inputs" / "notebooks" / "adds.ipynb").is_file()
    again, reused = site_inputs.executed_notebook(source)
    assert reused and again.cells[1].outputs[0]["text"] == "2\n"
    nbformat.write(_notebook("print(2 + 2)"), source)
    changed, reused = site_inputs.executed_notebook(source)
    assert not reused and changed.cells[1].outputs[0]["text"] == "4\n"


def _png(value: int) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.full((4, 4), value, np.uint8)).save(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def test_an_executed_notebook_becomes_a_page_with_its_outputs_and_tagged_figure() -> None:
    notebook = _notebook("print('progress')", "figure", "figure_again")
    progress = "10%\r50%\r\x1b[32m100%\x1b[0m\n"
    notebook.cells[1].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="start\n"),
        nbformat.v4.new_output("stream", name="stderr", text=progress),
    ]
    notebook.cells[2].outputs = [nbformat.v4.new_output("display_data", data={"image/png": _png(10)})]
    notebook.cells[2].metadata["tags"] = ["docs-figure=small-figure"]
    notebook.cells[3].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=3)]
    page = notebook_page(notebook, "small")
    assert page.title == "A small notebook" and page.summary == "It adds."
    assert "```text\nstart\n100%\n```" in page.markdown  # one block; the bar as last drawn, without colours
    assert "![Output of cell 2](small/cell02-0.png)" in page.markdown and "```text\n42\n```" in page.markdown
    assert "[Download the notebook](small.ipynb)" in page.markdown
    assert np.asarray(Image.open(io.BytesIO(page.figures["small-figure"]))).max() == 10
    assert set(page.files) == {"small/cell02-0.png", "small.ipynb"}


def test_a_tagged_cell_without_a_figure_is_refused() -> None:
    notebook = _notebook("1 + 1")
    notebook.cells[1].metadata["tags"] = ["docs-figure=missing"]
    notebook.cells[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
    with pytest.raises(ValueError, match=r"tagged.*missing.*shows no figure"):
        notebook_page(notebook, "small")


def test_long_output_is_cut_in_the_middle() -> None:
    text = clean_text("\n".join(f"line {i}" for i in range(100)))
    lines = text.splitlines()
    assert lines[0] == "line 0" and lines[-1] == "line 99" and "60 lines not shown" in text and len(lines) == 41
