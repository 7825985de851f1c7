"""The API reference: one page per public module, an entry per name of its ``__all__``, from the docstrings.

The modules and their names are read statically (griffe, as mkdocstrings does), so writing the pages
imports neither tfprobe nor TensorFlow. mkdocstrings renders each ``::: identifier`` from the docstring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import griffe

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PublicModule:
    """A module whose ``__all__`` is public API: its dotted path, summary line and public names."""

    path: str
    summary: str
    names: tuple[str, ...]

    @property
    def page(self) -> str:
        return f"reference/{self.path}.md"


@cache
def _package() -> griffe.Module:
    return griffe.load("tfprobe", search_paths=[str(ROOT)], docstring_parser="numpy", resolve_aliases=False)


def _summary(module: griffe.Module) -> str:
    text = module.docstring.value if module.docstring else ""
    return text.strip().split("\n\n")[0].replace("\n", " ")


def public_modules() -> list[PublicModule]:
    """``tfprobe`` and every subpackage that declares ``__all__``, in that order."""
    package = _package()
    found = []
    subpackages = [m for name, m in package.modules.items() if m.path == f"tfprobe.{name}" and m.is_init_module]
    for module in [package, *sorted(subpackages, key=lambda m: m.path)]:
        names = tuple(str(name) for name in (module.exports or ()))
        if names:
            found.append(PublicModule(module.path, _summary(module), names))
    return found


def _target_path(module: PublicModule, name: str) -> str:
    """The path the public name ``module.name`` is bound to: the import the package makes of it (a name may
    shadow a submodule of the same name, as ``tfprobe.similarity.cka`` the function does), else itself."""
    return _package().modules_collection[module.path].imports.get(name, f"{module.path}.{name}")


def _is_module(module: PublicModule, name: str) -> bool:
    target = _target_path(module, name)
    return target == f"{module.path}.{name}" and isinstance(_canonical(target), griffe.Module)


def _canonical(path: str) -> griffe.Object | None:
    try:
        obj = _package().modules_collection[path]
        return obj.final_target if isinstance(obj, griffe.Alias) else obj
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _follow_imports(path: str) -> str:
    """``path`` after the re-exports on its way: ``tfprobe.decoding.decode`` is what the package
    ``tfprobe.decoding`` imports as ``decode`` (a function), not its submodule of that name."""
    collection = _package().modules_collection
    for _ in range(8):
        parent, _, last = path.rpartition(".")
        package = collection.get_member(parent) if parent else None
        imported = package.imports.get(last) if isinstance(package, griffe.Module) else None
        if imported is None or imported == path:
            break
        path = imported
    return path


def _canonical_path(module: PublicModule, name: str) -> str:
    target = _follow_imports(_target_path(module, name))
    obj = _canonical(target)
    return obj.path if obj is not None else target


@dataclass(frozen=True)
class Entry:
    """Where a documented object is rendered: the module page and the identifier of its entry."""

    module: str
    identifier: str


def _entry_identifier(module: PublicModule, name: str) -> str:
    """``module.name``, unless that path is shadowed for griffe by a submodule of the same name; then the
    object's canonical path (the page adds an anchor with the public path)."""
    path = f"{module.path}.{name}"
    obj = _canonical(path)
    canonical = _canonical_path(module, name)
    return path if obj is not None and obj.path == canonical else canonical


@cache
def _home() -> dict[str, Entry]:
    """Where each documented object has its entry, by canonical path.

    A name that ``tfprobe`` and a subpackage both export is rendered once, on the subpackage's page.
    """
    home: dict[str, Entry] = {}
    modules = public_modules()
    for module in [*modules[1:], modules[0]]:
        for name in module.names:
            if not _is_module(module, name):
                home.setdefault(_canonical_path(module, name), Entry(module.path, _entry_identifier(module, name)))
    return home


@cache
def documented_identifiers() -> dict[str, str]:
    """Every identifier a cross-reference may name (a public path, a canonical path, a class member),
    mapped to the identifier of the entry that documents it."""
    found: dict[str, str] = {}
    for canonical, entry in _home().items():
        found[canonical] = found[entry.identifier] = entry.identifier
        obj = _canonical(canonical)
        if isinstance(obj, griffe.Class):
            for member in obj.members:
                if not member.startswith("_"):
                    found[f"{canonical}.{member}"] = f"{entry.identifier}.{member}"
                    found[f"{entry.identifier}.{member}"] = f"{entry.identifier}.{member}"
    for module in public_modules():
        found[module.path] = module.path
        for name in module.names:
            if not _is_module(module, name):
                found[f"{module.path}.{name}"] = _home()[_canonical_path(module, name)].identifier
    return found


def module_page(module: PublicModule, modules: dict[str, PublicModule]) -> str:
    """The reference page of one module: its docstring, then every public name it documents, and a table
    pointing to the entries of the names it re-exports from a subpackage."""
    lines = [
        f"# {module.path}",
        "",
        f"::: {module.path}",
        "    options:",
        "      members: false",
        "      show_root_heading: false",
        "      show_root_toc_entry: false",
        "",
    ]
    submodules = [n for n in module.names if _is_module(module, n)]
    if submodules:
        lines += ["## Subpackages", "", "| module | what it holds |", "|---|---|"]
        for name in submodules:
            path = f"{module.path}.{name}"
            target = modules.get(path)
            summary = _plain(target.summary) if target else ""
            lines.append(f'| <span id="{path}"></span>[`{path}`]({path}.md) | {summary} |')
        lines.append("")
    entries = {n: _home()[_canonical_path(module, n)] for n in module.names if n not in submodules}
    elsewhere = [n for n, entry in entries.items() if entry.module != module.path]
    if elsewhere:
        lines += ["## Names documented with their subpackage", "", "| name | entry |", "|---|---|"]
        for name in elsewhere:
            path, target = f"{module.path}.{name}", entries[name].identifier
            lines.append(f'| <span id="{path}"></span>`{path}` | [`{target}`][{target}] |')
        lines.append("")
    for name, entry in entries.items():
        if entry.module == module.path:
            path = f"{module.path}.{name}"
            if entry.identifier != path:
                lines.append(f'<span id="{path}"></span>')
            lines += [f"::: {entry.identifier}", ""]
    return "\n".join(lines)


def _plain(text: str) -> str:
    """A summary line without reStructuredText roles and double backticks."""
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text).replace("``", "`")


def index_page(modules: list[PublicModule]) -> str:
    rows = "\n".join(f"| [`{m.path}`]({m.path}.md) | {len(m.names)} | {_plain(m.summary)} |" for m in modules)
    return (
        "# API reference\n\n"
        "Every public name of tfprobe: the names `tfprobe` exports (`tfprobe.__all__`) and those of each "
        "subpackage's `__all__`, generated from their docstrings. `import tfprobe` is cheap: a name loads "
        "TensorFlow when it is first used.\n\n"
        "| module | public names | what it holds |\n|---|---|---|\n"
        f"{rows}\n"
    )


def api_pages() -> dict[str, str]:
    """Every page of the API reference, by its path under docs/."""
    modules = public_modules()
    by_path = {m.path: m for m in modules}
    pages = {"reference/index.md": index_page(modules)}
    pages.update({m.page: module_page(m, by_path) for m in modules})
    return pages


def api_nav() -> list:
    """The API reference's navigation entries."""
    return ["reference/index.md", *({m.path: m.page} for m in public_modules())]
