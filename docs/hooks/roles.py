"""A griffe extension: the reStructuredText inline markup of tfprobe's docstrings, as Markdown.

tfprobe's docstrings are numpy-style and name other objects with Sphinx roles (``:func:`calc_rdm```,
``:class:`~tfprobe.Probe```) and literals in double backticks. mkdocstrings reads Markdown, so before it
renders a docstring this extension turns literals into code spans and a role into a cross-reference
(``[`calc_rdm`][tfprobe.similarity.calc_rdm]``) when its target has an entry in the API reference, or a
plain code span when it has none (a private module, a Keras function). Names resolve as Python would in
the docstring's scope (the object's class, its module, the package), then from ``tfprobe``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import griffe

sys.path.insert(0, str(Path(__file__).parent))
from api_reference import documented_identifiers

ROLE = re.compile(r":(?:py:)?(func|class|mod|meth|attr|data|obj|exc):`(~?)([^`<>]+?)`")
LITERAL = re.compile(r"(?<!`)``([^`]+?)``(?!`)")


def _scopes(obj: griffe.Object) -> list[str]:
    scopes, current = [], obj
    while current is not None:
        scopes.append(current.path)
        current = current.parent
    return [*scopes, "tfprobe"]


def _target(name: str, obj: griffe.Object, documented: dict[str, str]) -> str | None:
    name = name.rstrip("()")
    candidates = [name] + [f"{scope}.{name}" for scope in _scopes(obj)]
    for candidate in candidates:
        if candidate in documented:
            return documented[candidate]
    try:
        resolved = obj.resolve(name.split(".")[0])
    except (griffe.NameResolutionError, ValueError, AttributeError):
        return None
    full = ".".join([resolved, *name.split(".")[1:]])
    return documented.get(full)


def markdown(text: str, obj: griffe.Object, documented: dict[str, str]) -> str:
    """``text`` (a docstring) with its roles and double-backtick literals in Markdown."""

    def role(match: re.Match[str]) -> str:
        kind, short, name = match.group(1), match.group(2) == "~", match.group(3).strip()
        shown = name.rsplit(".", 1)[-1] if short else name
        if kind in ("func", "meth") and not shown.endswith("()"):
            shown += "()"  # as Sphinx shows a function
        target = _target(name, obj, documented)
        return f"[`{shown}`][{target}]" if target else f"`{shown}`"

    return LITERAL.sub(r"`\1`", ROLE.sub(role, text))


class RestructuredRoles(griffe.Extension):
    """Rewrites every docstring of the loaded package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: object) -> None:
        documented = documented_identifiers()
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = markdown(obj.docstring.value, obj, documented)


def _walk(obj: griffe.Object):
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)
