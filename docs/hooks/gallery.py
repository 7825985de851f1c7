"""The gallery: every notebook as a page with its outputs, the main job's report, and the guides' figures.

An executed notebook becomes a Markdown page (its Markdown cells as written, code cells as Python blocks,
text outputs as text blocks, figures as PNG files beside the page), so the site's search, theme and link
checks treat it as any other page. A code cell tagged ``docs-figure=NAME`` also gives its first figure to
``figures/NAME.png``, where the guides show it; the short run of the main job gives its figures as
``figures/lab-<name>.png`` and its report as ``gallery/lab-report.html``.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from dataclasses import dataclass, field

import nbformat
from site_inputs import executed_notebook, lab_run, notebooks

log = logging.getLogger("mkdocs.hooks.gallery")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
FIGURE_TAG = "docs-figure="
MAX_OUTPUT_LINES = 40


@dataclass
class GalleryPage:
    """One executed notebook as Markdown, with the files it refers to."""

    stem: str
    title: str
    summary: str
    markdown: str
    files: dict[str, bytes] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)

    @property
    def thumbnail(self) -> str | None:
        return next((name for name in self.files if name.endswith(".png")), None)


def clean_text(text: str) -> str:
    """Terminal output as a reader sees it: colours removed, a line redrawn with ``\\r`` shown last as
    drawn, long output cut in the middle."""
    lines = [ANSI.sub("", line).rstrip("\r").split("\r")[-1] for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) > MAX_OUTPUT_LINES:
        half = MAX_OUTPUT_LINES // 2
        lines = [*lines[:half], f"... ({len(lines) - 2 * half} lines not shown)", *lines[-half:]]
    return "\n".join(lines)


def _fence(text: str, language: str) -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{language}\n{text}\n{ticks}"


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def notebook_page(notebook: nbformat.NotebookNode, stem: str) -> GalleryPage:
    """The gallery page of one executed notebook."""
    parts, files, figures = [], {}, {}
    title, summary = stem.replace("_", " "), ""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            source = cell.source.strip()
            heading = re.match(r"#\s+(.+)", source)
            if heading and title == stem.replace("_", " "):
                title = heading.group(1).strip()
                rest = source[heading.end() :].strip()
                summary = summary or rest.split("\n\n")[0].replace("\n", " ")
            parts.append(source)
            continue
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        parts.append(_fence(cell.source.rstrip(), "python"))
        figure_names = [t[len(FIGURE_TAG) :] for t in _tags(cell) if t.startswith(FIGURE_TAG)]
        streamed: list[str] = []  # consecutive stream outputs (progress lines, prints) shown as one block
        for number, output in enumerate([*cell.get("outputs", []), None]):
            kind = output.output_type if output is not None else None
            if kind == "stream":
                streamed.append(output.text)
                continue
            text = clean_text("".join(streamed))
            if text.strip():
                parts.append(_fence(text, "text"))
            streamed = []
            if kind in ("display_data", "execute_result"):
                data = output.get("data", {})
                if "image/png" in data:
                    png = base64.b64decode(data["image/png"])
                    name = f"{stem}/cell{index:02d}-{number}.png"
                    files[name] = png
                    parts.append(f"![Output of cell {index}]({name})")
                    for figure in figure_names:
                        figures.setdefault(figure, png)
                elif "text/plain" in data:
                    parts.append(_fence(clean_text(data["text/plain"]), "text"))
            elif kind == "error":
                parts.append(_fence(clean_text("\n".join(output.get("traceback", []))), "text"))
        missing = [f for f in figure_names if f not in figures]
        if missing:
            raise ValueError(f"notebooks/{stem}.ipynb: cell {index} is tagged {missing} but shows no figure")
    download = f"[Download the notebook]({stem}.ipynb) (executed, with its outputs)."
    body = "\n\n".join(parts)
    if not body.lstrip().startswith("# "):
        body = f"# {title}\n\n{body}"
    first_break = body.find("\n\n")
    markdown = body[:first_break] + f'\n\n!!! note ""\n    {download}' + body[first_break:] + "\n"
    files[f"{stem}.ipynb"] = nbformat.writes(notebook).encode()
    return GalleryPage(stem, title, summary, markdown, files, figures)


def lab_files() -> tuple[dict[str, bytes], dict[str, bytes], dict]:
    """The short run's report (as gallery files), figures (as guide figures) and summary."""
    run, reused = lab_run()
    log.info("gallery: %s the short run of tfprobe rnn run", "reused" if reused else "made")
    report = {"lab-report.html": (run / "report.html").read_bytes()}
    figures = {f"lab-{png.stem}": png.read_bytes() for png in sorted((run / "figures").glob("*.png"))}
    return report, figures, json.loads((run / "summary.json").read_text())


def index_page(pages: list[GalleryPage], summary: dict) -> str:
    cards = []
    for page in pages:
        thumbnail = f"[![{page.title}]({page.thumbnail}){{ width=280 }}]({page.stem}.md)" if page.thumbnail else ""
        cards.append(f"### [{page.title}]({page.stem}.md)\n\n{thumbnail}\n\n{page.summary}")
    accuracy = summary.get("test_accuracy")
    source = summary.get("weights_source", "")
    return (
        "# Gallery\n\n"
        "Every notebook of `notebooks/`, executed when the site was built, with its outputs: the figures "
        "below are what the code above them drew. Each runs top to bottom on a CPU in minutes (the tests run "
        "them all) and can be downloaded from its page.\n\n"
        "## The main job's report\n\n"
        "[The report of a short run of `tfprobe rnn run`](lab-report.html) (self-contained HTML, every "
        f"figure inlined). It is a run made to build this site in little time (weights: {source}; test "
        f"accuracy {accuracy if accuracy is None else f'{accuracy:.2f}'}), so its numbers show what the "
        "report holds, not what the network learns: `tfprobe rnn run --out tfprobe-lab` gives the full job "
        "([the lab guide](../guides/lab.md)).\n\n"
        "## Notebooks\n\n" + "\n\n".join(cards) + "\n"
    )


def gallery_files() -> dict[str, bytes | str]:
    """Every generated file of the gallery and the guides' figures, by path under docs/."""
    pages, reused = [], 0
    for source in notebooks():
        notebook, was_reused = executed_notebook(source)
        reused += was_reused
        pages.append(notebook_page(notebook, source.stem))
    log.info("gallery: reused %d executed notebooks, executed %d", reused, len(pages) - reused)
    report, lab_figures, summary = lab_files()
    files: dict[str, bytes | str] = {"gallery/index.md": index_page(pages, summary)}
    files.update({f"gallery/{name}": data for name, data in report.items()})
    for page in pages:
        files[f"gallery/{page.stem}.md"] = page.markdown
        files.update({f"gallery/{name}": data for name, data in page.files.items()})
        for name, png in page.figures.items():
            files[f"figures/{name}.png"] = png
    files.update({f"figures/{name}.png": png for name, png in lab_figures.items()})
    return files


def gallery_nav() -> list:
    """The gallery's navigation entries (titles come from the pages)."""
    return ["gallery/index.md", *(f"gallery/{source.stem}.md" for source in notebooks())]
