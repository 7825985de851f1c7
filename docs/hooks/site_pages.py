"""MkDocs hook: the pages generated at build time, and their places in the navigation.

- ``reference/``: the API reference, one page per public module (api_reference.py);
- ``cli/``: the CLI reference, one page per command, from the argparse parsers (cli_reference.py);
- ``gallery/`` and ``figures/``: the executed notebooks, the main job's short-run report and the figures
  the guides show (gallery.py, from the executions site_inputs.py keeps).

mkdocs.yml names each section's index page in ``nav``; the pages under it are added here.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from api_reference import api_nav, api_pages
from cli_reference import cli_nav, cli_pages
from gallery import gallery_files, gallery_nav
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

SECTIONS = {"reference/index.md": api_nav, "cli/index.md": cli_nav, "gallery/index.md": gallery_nav}


def _expand(nav: list) -> list:
    expanded = []
    for item in nav:
        if isinstance(item, dict):
            ((title, value),) = item.items()
            if isinstance(value, str) and value in SECTIONS:
                expanded.append({title: SECTIONS[value]()})
            elif isinstance(value, list):
                expanded.append({title: _expand(value)})
            else:
                expanded.append(item)
        else:
            expanded.append(item)
    return expanded


def on_config(config):
    config["nav"] = _expand(config["nav"])
    return config


@event_priority(100)  # before the other plugins see the files
def on_files(files: Files, config) -> Files:
    generated: dict[str, str | bytes] = {**api_pages(), **cli_pages(), **gallery_files()}
    for path, content in generated.items():
        files.append(File.generated(config, path, content=content))
    return files
