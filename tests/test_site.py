"""The documentation site builds with ``mkdocs build --strict`` and is complete, and its pages work in a browser.

Complete: every public name (``tfprobe.__all__`` and each subpackage's ``__all__``, read by importing
them, not as the site's generator reads them) has an entry in the API reference, every command of the
``tfprobe`` parser a page naming all its options, every notebook a gallery page with all its figures.
The build reuses the notebook executions tests/test_notebooks.py stored (this file runs after it), so CI
runs each notebook once. In headless Chromium (through chromedriver): no console errors, every image
decoded, every link to a page of the site resolves, and the search answers offline.

Needs the ``docs`` extra and Debian's ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import importlib
import os
import re
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "docs" / "hooks"))

import site_inputs  # noqa: E402

pytestmark = [pytest.mark.heavy, pytest.mark.xdist_group("site-inputs")]  # after the tests that store them

SUBPACKAGES = [
    "circuits",
    "cli",
    "datasets",
    "decoding",
    "examples",
    "figures",
    "models",
    "probing",
    "psychophysics",
    "recurrent",
    "similarity",
    "visualize",
]


class Page(HTMLParser):
    """The ids, links and images of a built page."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "a" and "href" in values:
            self.links.append(values["href"])
        if tag == "img":
            self.images.append(values.get("src", ""))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, str]:
    """The site built in strict mode, and the build's log."""
    stored_before = {
        source.stem
        for source in site_inputs.notebooks()
        if (site_inputs.folder() / "notebooks" / source.name).is_file()
    }
    out = tmp_path_factory.mktemp("site") / "site"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    log = build.stdout + build.stderr
    assert build.returncode == 0, log[-5000:]
    reused = re.search(r"gallery: reused (\d+) executed notebooks, executed (\d+)", log)
    assert reused is not None, log[-3000:]
    assert int(reused.group(1)) + int(reused.group(2)) == len(site_inputs.notebooks())
    assert int(reused.group(1)) >= len(stored_before)  # the stored executions were not run again
    return out, log


def test_strict_build_has_no_warnings(site) -> None:
    _, log = site
    assert "WARNING" not in log


def test_every_public_name_has_a_reference_entry(site) -> None:
    out, _ = site
    ids = set()
    for page in (out / "reference").glob("*.html"):
        ids |= Page(page).ids
    missing = []
    for module_name in ["tfprobe", *(f"tfprobe.{name}" for name in SUBPACKAGES)]:
        module = importlib.import_module(module_name)
        missing += [f"{module_name}.{name}" for name in module.__all__ if f"{module_name}.{name}" not in ids]
    assert missing == []


def test_every_subpackage_with_public_names_is_in_the_reference() -> None:
    packages = sorted(p.parent.name for p in (REPO / "tfprobe").glob("*/__init__.py"))
    undeclared = [
        p for p in packages if p not in SUBPACKAGES and hasattr(importlib.import_module(f"tfprobe.{p}"), "__all__")
    ]
    assert undeclared == []


def _commands(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.update(_commands(child, (*words, name)) or {(*words, name): child})
    return found


def test_every_command_has_a_page_with_every_option_and_default(site) -> None:
    from tfprobe.cli import build_parser

    out, _ = site
    commands = _commands(build_parser())
    assert ("rnn", "run") in commands and ("act",) in commands
    index = " ".join(Page(out / "cli" / "index.html").text)
    for words, parser in commands.items():
        page = out / "cli" / f"{'-'.join(words)}.html"
        assert page.is_file(), page
        text = " ".join(Page(page).text)
        assert " ".join(("tfprobe", *words)) in index
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            names = action.option_strings or [action.metavar or action.dest]
            assert all(name in text for name in names), (words, names)
            if action.option_strings and action.nargs != 0 and action.default not in (None, argparse.SUPPRESS):
                assert str(action.default) in text, (words, action.dest, action.default)


def test_gallery_shows_every_notebook_with_its_figures(site) -> None:
    out, _ = site
    index = Page(out / "gallery" / "index.html")
    assert "lab-report.html" in index.links and (out / "gallery" / "lab-report.html").is_file()
    for source in site_inputs.notebooks():
        executed = nbformat.read(site_inputs.folder() / "notebooks" / source.name, as_version=4)
        figures = sum(
            "image/png" in output.get("data", {})
            for cell in executed.cells
            if cell.cell_type == "code"
            for output in cell.outputs
        )
        page = Page(out / "gallery" / f"{source.stem}.html")
        shown = [src for src in page.images if src.startswith(f"{source.stem}/")]
        assert figures >= 1 and len(shown) == figures, (source.stem, figures, len(shown))
        assert all((out / "gallery" / src).is_file() for src in shown)
        assert f"{source.stem}.html" in index.links
        assert (out / "gallery" / source.name).is_file()  # the executed notebook, to download


def test_every_guide_shows_a_figure(site) -> None:
    out, _ = site
    without_figures = {"export", "distributed", "command-line"}
    for guide in sorted((REPO / "docs" / "guides").glob("*.md")):
        images = Page(out / "guides" / f"{guide.stem}.html").images
        if guide.stem not in without_figures:
            assert any("figures/" in src for src in images), guide.stem
        for src in images:
            assert (out / "guides" / src).resolve().is_file(), (guide.stem, src)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served(site):
    out, _ = site
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = next(
        (p for p in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if Path(p).exists()), None
    )
    if driver_path is None:
        pytest.fail("the site's browser tests need chromedriver: apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def _pages(out: Path) -> list[str]:
    """Every page of the site but the API reference's module pages (checked for ids above; one is opened)."""
    pages = [p.relative_to(out).as_posix() for p in out.rglob("*.html") if p.name != "404.html"]
    reference = [p for p in pages if p.startswith("reference/") and p != "reference/index.html"]
    return [p for p in pages if p not in reference] + ["reference/tfprobe.similarity.html"]


def test_pages_in_a_browser_no_console_errors_every_image_decoded(site, served, browser) -> None:
    out, _ = site
    problems = []
    for page in _pages(out):
        browser.get(f"{served}/{page}")
        browser.execute_script("return document.readyState")
        images = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "Promise.all(Array.from(document.images).map(i => i.decode().then(() => [i.src, i.naturalWidth],"
            " () => [i.src, 0]))).then(done);"
        )
        broken = [src for src, width in images if width == 0]
        errors = [e["message"] for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        if broken or errors:
            problems.append((page, broken, errors))
    assert problems == []


def test_internal_links_resolve(site) -> None:
    out, _ = site
    dangling = []
    for path in out.rglob("*.html"):
        for link in Page(path).links:
            if re.match(r"^[a-z]+:", link) or link.startswith("#") or not link:
                continue
            base = out if link.startswith("/") else path.parent  # 404.html links from the site's root
            target = (base / link.split("#")[0].lstrip("/")).resolve()
            if not target.exists():
                dangling.append((path.relative_to(out).as_posix(), link))
    assert dangling == []


def test_search_works_offline(site, served, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{served}/index.html?q=crossnobis")
    results = WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".md-search-result__item"))
    assert results and any("crossnobis" in r.text.lower() for r in results)
