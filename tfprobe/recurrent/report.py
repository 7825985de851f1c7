"""A self-contained HTML report: sections of prose, tables and figures, every figure inlined as a PNG.

The file needs nothing beside it and no script: it opens the same from a folder, an e-mail attachment or
a lab's archive years later.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from tfprobe.atomic import check_destination, staged
from tfprobe.figures.html import document

__all__ = ["ReportSection", "figure_data_uri", "write_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; line-height: 1.45; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.85em; }
th, td { padding: 0.25em 0.8em; text-align: right; border-bottom: 1px solid #eee; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
pre { background: #f7f7f7; padding: 0.8em; font-size: 0.8em; overflow-x: auto; }
"""


@dataclasses.dataclass
class ReportSection:
    """One section of the report.

    Attributes
    ----------
    title : str
    paragraphs : list of str
        Plain text (escaped).
    tables : list of (caption, header, rows)
        Cells are formatted with ``str`` (floats to 3 significant places).
    figures : list of (caption, Figure)
    preformatted : list of str
        Monospaced blocks (text tables, configuration).
    """

    title: str
    paragraphs: list[str] = dataclasses.field(default_factory=list)
    tables: list[tuple[str, Sequence[str], Sequence[Sequence[Any]]]] = dataclasses.field(default_factory=list)
    figures: list[tuple[str, Figure]] = dataclasses.field(default_factory=list)
    preformatted: list[str] = dataclasses.field(default_factory=list)


def figure_data_uri(figure: Figure, dpi: int = 110) -> str:
    """The figure rendered as a base64 PNG data URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return html.escape(f"{value:.3g}")
    return html.escape(str(value))


def _section(section: ReportSection) -> str:
    parts = [f"<section><h2>{html.escape(section.title)}</h2>"]
    parts += [f"<p>{html.escape(text)}</p>" for text in section.paragraphs]
    for caption, header, rows in section.tables:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
        parts.append(f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>")
    parts += [f"<pre>{html.escape(text)}</pre>" for text in section.preformatted]
    for caption, figure in section.figures:
        parts.append(
            f'<figure><img src="{figure_data_uri(figure)}" alt="{html.escape(caption, quote=True)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def write_report(
    path: str | os.PathLike[str], title: str, sections: Sequence[ReportSection], *, overwrite: bool = False
) -> Path:
    """Write the report to ``path`` atomically and return the path.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    check_destination(path, overwrite=overwrite, what="report")
    body = "\n".join(_section(section) for section in sections)
    page = document(title, _STYLE, f"<h1>{html.escape(title)}</h1>\n{body}")
    with staged(path) as temporary:
        temporary.write_text(page, encoding="utf-8")
    return path
