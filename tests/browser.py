"""Shared by the tests of HTML pages: an HTML tag collector and headless Chromium.

The browser tests need Debian's ``chromium`` (``apt-get install -y chromium``; .ci/run installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest


class Elements(HTMLParser):
    """Start tags with their attributes, and the page's text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str, css_class: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and (css_class is None or css_class in a.get("class", "").split())]


# Added to a copy of the page only: after loading, count the images the browser decoded.
COUNT_DECODED = (
    '<script>window.addEventListener("load", () => { document.body.setAttribute("data-decoded", '
    "String(Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length)); });</script>"
)


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("headless Chromium is needed to test HTML pages: apt-get install -y chromium")


def run_chromium(page: Path, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *arguments,
        page.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def console_errors(log: str) -> list[str]:
    """Lines of Chromium's log that report the page's console output or an uncaught exception."""
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
