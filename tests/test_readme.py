"""The README is the landing page: its Quickstart is the two commands (the second is CI's), it stays short, and
every link and picture in it points at a file of the repository (and a heading of it, for an anchor).

Its examples moved to the site's pages, which tests/test_guides.py runs.
"""

from __future__ import annotations

import re
from pathlib import Path

from snippets import BLOCK, README, REPO, quickstart

#: The README stays a landing page (issue 30): what tfprobe is, a picture, the Quickstart, links to the guides.
MAX_BYTES = 10_240

INLINE_CODE = re.compile(r"(`+).*?\1", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]+)\"", re.I)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def test_quickstart_is_two_commands_and_ci_runs_the_second() -> None:
    install_and_run, install_and_test = quickstart()
    assert install_and_run == "pip install -e . && tfprobe rnn run --out tfprobe-lab --overwrite"
    assert install_and_test == 'pip install -e ".[test,docs]" && python -m pytest'
    assert install_and_test in (REPO / ".ci" / "run").read_text()
    # The site's home and getting-started pages show the same two commands.
    for page in ("docs/index.md", "docs/getting-started.md"):
        assert quickstart((REPO / page).read_text()) == [install_and_run, install_and_test], page


def test_the_readme_is_a_short_landing_page() -> None:
    size = len(README.read_bytes())
    assert size <= MAX_BYTES, f"README.md is {size} bytes; keep it under {MAX_BYTES}, move the rest to docs/"


def prose(markdown: str) -> str:
    """Markdown without its code: fenced blocks and inline code hold no links."""
    return INLINE_CODE.sub("", BLOCK.sub("", markdown))


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (lower case, punctuation dropped, spaces as
    hyphens, a repeated heading numbered)."""
    anchors: set[str] = set()
    for heading in HEADING.findall(BLOCK.sub("", markdown)):
        text = re.sub(r"[`*_]|<[^>]+>", "", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        anchor, number = slug, 0
        while anchor in anchors:
            number += 1
            anchor = f"{slug}-{number}"
        anchors.add(anchor)
    return anchors


def relative_links(markdown: str) -> list[str]:
    text = prose(markdown)
    targets = LINK.findall(text) + HTML_LINK.findall(text)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.I)]  # not https:, mailto:, ...


def test_every_relative_link_and_picture_of_the_readme_resolves() -> None:
    text = README.read_text()
    links = relative_links(text)
    assert links, "the README links to its guides"
    problems = []
    for link in links:
        path, _, anchor = link.partition("#")
        target = (REPO / path).resolve() if path else README
        if not target.is_relative_to(REPO) or not target.exists():
            problems.append(f"{link}: no such file in the repository")
            continue
        if anchor and (target.suffix != ".md" or anchor not in github_anchors(target.read_text())):
            problems.append(f"{link}: no heading #{anchor} in {target.relative_to(REPO)}")
    assert not problems, problems
    pictures = [link for link in links if Path(link.partition("#")[0]).suffix.lower() in (".png", ".svg", ".jpg")]
    assert len(pictures) == 1, f"the README shows one picture, a file of the repository: {pictures}"
    guides = {link.partition("#")[0] for link in links if link.startswith("docs/guides/")}
    assert guides == {str(p.relative_to(REPO)) for p in (REPO / "docs" / "guides").glob("*.md")}, guides


def test_the_anchor_rule_matches_githubs() -> None:
    assert github_anchors("# A\n## The authors' checkpoints\n## Linear decoding\n## `tfprobe rsa`\n## A\n") == {
        "a",
        "the-authors-checkpoints",
        "linear-decoding",
        "tfprobe-rsa",
        "a-1",
    }
