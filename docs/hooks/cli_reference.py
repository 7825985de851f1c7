"""The CLI reference: one Markdown page per ``tfprobe`` command, written from the argparse parsers.

Everything on these pages (usage, description, every option with its default and help) is read from
:func:`tfprobe.cli.build_parser` at build time, so the reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import html
from dataclasses import dataclass

from tfprobe.cli import build_parser


@dataclass(frozen=True)
class Command:
    """One command: its words (``("rnn", "run")``), one-line help and parser."""

    words: tuple[str, ...]
    help: str
    parser: argparse.ArgumentParser

    @property
    def name(self) -> str:
        return " ".join(("tfprobe", *self.words))

    @property
    def page(self) -> str:
        return f"cli/{'-'.join(self.words)}.md"


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return found[0] if found else None


def commands(parser: argparse.ArgumentParser | None = None, words: tuple[str, ...] = ()) -> list[Command]:
    """Every command that does work, in the order ``tfprobe --help`` lists them (groups such as ``rnn``
    are walked into, not listed)."""
    parser = parser or build_parser()
    sub = _subcommands(parser)
    if sub is None:
        return []
    helps = {choice.dest: choice.help or "" for choice in sub._choices_actions}
    found = []
    for name, child in sub.choices.items():
        path = (*words, name)
        nested = commands(child, path)
        found.extend(nested or [Command(path, helps.get(name, ""), child)])
    return found


def _cell(text: str) -> str:
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def _description(text: str) -> str:
    """A parser description as Markdown: prose paragraphs, and lines indented by two spaces as examples."""
    blocks = []
    for paragraph in (text or "").split("\n\n"):
        lines = paragraph.splitlines()
        prose = " ".join(line.strip() for line in lines if not line.startswith("  "))
        examples = [line[2:] for line in lines if line.startswith("  ")]
        if prose:
            blocks.append(html.escape(prose, quote=False))
        if examples:
            blocks.append("```text\n" + "\n".join(examples) + "\n```")
    return "\n\n".join(blocks)


def _flags(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    metavar = ""
    if action.nargs != 0:
        formatter = argparse.HelpFormatter("tfprobe")
        metavar = " " + formatter._format_args(action, action.dest.upper())
    return ", ".join(f"`{flag}{metavar}`" for flag in action.option_strings)


def _default(action: argparse.Action) -> str:
    if action.option_strings and action.nargs == 0:
        return ""  # a switch
    if action.default in (None, argparse.SUPPRESS) or action.required:
        return "required" if action.required or not action.option_strings else ""
    return f"`{_cell(str(action.default))}`"


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help:
        return ""
    text = parser._get_formatter()._expand_help(action)
    if action.choices and "{" not in text and not isinstance(action.choices, dict):
        text += " (one of: " + ", ".join(str(c) for c in action.choices) + ")"
    return _cell(text)


def command_page(command: Command) -> str:
    """The Markdown page of one command."""
    parser = command.parser
    usage = parser.format_usage().removeprefix("usage: ").rstrip()
    rows = [
        f"| {_flags(a)} | {_default(a)} | {_help(parser, a)} |"
        for a in parser._actions
        if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
    ]
    parts = [
        f"# {command.name}",
        _cell(command.help),
        "```text\n" + usage + "\n```",
        _description(parser.description or ""),
        "## Arguments and options",
        "| argument | default | what it does |\n|---|---|---|\n" + "\n".join(rows),
        "`-h`, `--help` prints this on the command line.",
    ]
    if parser.epilog:
        parts += ["## Notes", _description(parser.epilog)]
    return "\n\n".join(p for p in parts if p) + "\n"


def index_page(found: list[Command]) -> str:
    """The CLI reference's index: every command with its one line, the global options and exit statuses."""
    parser = build_parser()
    rows = "\n".join(f"| [`{c.name}`]({c.page.removeprefix('cli/')}) | {_cell(c.help)} |" for c in found)
    return (
        "# The command line\n\n"
        f"{_cell(parser.description or '')} One command per verb; this reference is generated from the "
        "parsers themselves (`tfprobe COMMAND --help` prints the same).\n\n"
        "| command | does |\n|---|---|\n"
        f"{rows}\n\n"
        "## Global options\n\n"
        "`tfprobe --version` prints the version. Every command also takes `--verbose` (show TensorFlow's native "
        "log lines) and `--debug` (show the traceback of an error).\n\n"
        "## Exit status\n\n"
        f"{_cell(parser.epilog or '')}\n\n"
        "The guide [The command line](../guides/command-line.md) explains what the commands share: models, "
        "stimuli, early checks, atomic outputs.\n"
    )


def cli_pages() -> dict[str, str]:
    """Every page of the CLI reference, by its path under docs/."""
    found = commands()
    pages = {"cli/index.md": index_page(found)}
    pages.update({c.page: command_page(c) for c in found})
    return pages


def cli_nav() -> list:
    """The CLI reference's navigation entries."""
    return ["cli/index.md", *({c.name: c.page} for c in commands())]
