"""The command line's parsers: options and positionals in any order, and the options every command has."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Sequence
from typing import Any

__all__ = ["CommandParser", "common_options"]


class CommandParser(argparse.ArgumentParser):
    """A parser whose options and positionals may come in any order.

    ``tfprobe act vgg16 --weights none imgs/ --layers block1_conv1 --out a.h5`` puts an option between
    two positionals, which argparse's default parsing refuses; a command's own parser is parsed with
    :meth:`~argparse.ArgumentParser.parse_known_intermixed_args` instead.  A parser with sub-commands of
    its own is parsed the usual way (argparse cannot intermix those).
    """

    _intermixing = False

    def parse_known_args(
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixing or self._subparsers is not None:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def common_options() -> argparse.ArgumentParser:
    """Options of every command (a parent parser): ``--verbose`` and ``--debug``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--verbose", action="store_true", help="show TensorFlow's native log lines")
    parent.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parent


class ParagraphFormatter(argparse.HelpFormatter):
    """Wraps a description paragraph by paragraph; lines indented by two spaces (examples) stay as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        def fill(lines: list[str]) -> str:
            return textwrap.fill(" ".join(lines), width, initial_indent=indent, subsequent_indent=indent)

        paragraphs = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.splitlines()
            prose = [line for line in lines if not line.startswith("  ")]
            examples = [indent + line for line in lines if line.startswith("  ")]
            paragraphs.append("\n".join(([fill(prose)] if prose else []) + examples))
        return "\n\n".join(paragraphs)


def add_command(commands: Any, name: str, *, help: str, description: str) -> CommandParser:
    """A sub-command's parser, with the common options and its description shown by ``--help``."""
    return commands.add_parser(
        name,
        help=help,
        description=description,
        parents=[common_options()],
        formatter_class=ParagraphFormatter,
    )
