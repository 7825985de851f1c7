"""The package's layers import one way: datasets -> models -> results -> Probe -> wings -> decoding -> figures -> cli.

Every ``.py`` file of ``tfprobe/`` is parsed (not imported) and every import it makes is collected: at
module level, inside functions, under ``if TYPE_CHECKING:``, relative ones resolved, names a package
exports lazily (``_EXPORTS`` of :func:`tfprobe._lazy.lazy_exports`) resolved to the module that defines
them, the lazy export tables themselves, ``importlib.import_module("tfprobe...")`` and attributes reached
through ``import tfprobe`` (``tfprobe.figures``).  Each module is mapped to its layer, and an arrow from a
layer to one it must not import fails the test with the file, line and arrow.
"""

from __future__ import annotations

import ast
import dataclasses
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "tfprobe"

WINGS = frozenset({"visualize", "circuits", "recurrent", "psychophysics", "examples"})

#: The layer of each top-level module or subpackage of the package ("" is the package's own __init__).
LAYERS: dict[str, str] = {
    "": "package",
    **{name: "core" for name in ("errors", "validation", "atomic", "progress", "_lazy", "_runtime", "_assets")},
    "datasets": "datasets",
    "models": "models",
    "results": "results",
    "probe": "probe",
    "probing": "probe",
    **{wing: wing for wing in WINGS},
    "decoding": "decoding",
    "similarity": "similarity",
    "export": "export",
    "figures": "figures",
    "cli": "cli",
}
_ALL = frozenset(LAYERS.values())
_ABOVE_RESULTS = frozenset({"probe", *WINGS, "decoding", "similarity", "export", "figures", "cli"})

#: The layers each layer must not import.  Unlisted arrows are allowed (wings may use one another,
#: decoding and figures; the package's __init__ and the command line may import anything).
FORBIDDEN: dict[str, frozenset[str]] = {
    "package": frozenset(),
    "core": _ALL - {"core", "package"},
    "datasets": _ABOVE_RESULTS | {"models", "results"},
    "models": _ABOVE_RESULTS | {"datasets", "results"},
    # Results sit on datasets and models so that both the wings that compute them and the figures that draw
    # them can import them; decoding is an analysis above the wings, so results do not reach it either.
    "results": _ABOVE_RESULTS,
    "probe": frozenset({*WINGS, "decoding", "similarity", "figures", "cli"}),
    **{wing: frozenset({"cli"}) for wing in WINGS},
    "decoding": frozenset({"figures", "cli"}),
    "similarity": frozenset({"figures", "cli"}),
    "export": frozenset({*WINGS, "decoding", "similarity", "figures", "cli"}),
    "figures": frozenset({*WINGS, "cli"}),
    "cli": frozenset(),
}


@dataclasses.dataclass(frozen=True, order=True)
class Import:
    """One module importing another: where (file relative to the package's parent, line) and what."""

    path: str
    line: int
    importer: str
    imported: str


def _module_name(path: Path, parent: Path) -> str:
    parts = list(path.relative_to(parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(parent: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (under ``parent``) by dotted name."""
    return {_module_name(path, parent): path for path in sorted((parent / package).rglob("*.py"))}


def _string_dict(node: ast.AST | None) -> dict[str, ast.Constant] | None:
    """A dict literal whose keys and values are strings, as key -> value node."""
    if not isinstance(node, ast.Dict):
        return None
    entries = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if isinstance(key, ast.Constant) and isinstance(value, ast.Constant) and isinstance(value.value, str):
            entries[str(key.value)] = value
    return entries


def _module_dicts(tree: ast.Module) -> dict[str, dict[str, ast.Constant]]:
    """The module-level ``NAME = {"...": "..."}`` assignments."""
    found = {}
    for statement in tree.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        value = _string_dict(getattr(statement, "value", None))
        for target in targets:
            if isinstance(target, ast.Name) and value is not None:
                found[target.id] = value
    return found


def _called(node: ast.Call, name: str) -> bool:
    func = node.func
    return (isinstance(func, ast.Name) and func.id == name) or (isinstance(func, ast.Attribute) and func.attr == name)


def collect_imports(parent: Path, package: str = PACKAGE) -> list[Import]:
    """Every import between modules of ``package`` found in its source under ``parent``."""
    modules = _modules(parent, package)
    trees = {name: ast.parse(path.read_text(), filename=str(path)) for name, path in modules.items()}
    lazy = {name: _module_dicts(tree).get("_EXPORTS", {}) for name, tree in trees.items()}

    def resolve(base: str, name: str) -> str:
        """What ``from base import name`` imports: a submodule, the module a lazy export comes from, or base."""
        if f"{base}.{name}" in modules:
            return f"{base}.{name}"
        if name in lazy.get(base, {}):
            return lazy[base][name].value
        return base

    found: set[Import] = set()
    for importer, tree in trees.items():
        path = modules[importer].relative_to(parent).as_posix()
        is_package = modules[importer].name == "__init__.py"
        dicts = _module_dicts(tree)
        # `import tfprobe` (or `import tfprobe.x`) binds the name of the package: its attributes are imports too.
        binds_package = any(
            isinstance(node, ast.Import)
            and any(a.asname is None and a.name.split(".")[0] == package for a in node.names)
            for node in ast.walk(tree)
        )

        def add(line: int, imported: str, importer: str = importer, path: str = path) -> None:
            if imported == package or imported.startswith(f"{package}."):
                found.add(Import(path, line, importer, imported))

        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(node.lineno, alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    here = importer.split(".") if is_package else importer.split(".")[:-1]
                    base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:
                    add(node.lineno, base if alias.name == "*" else resolve(base, alias.name))
            elif isinstance(node, ast.Call) and node.args:
                if _called(node, "lazy_exports") and len(node.args) > 1:
                    table = node.args[1]
                    entries = dicts.get(table.id) if isinstance(table, ast.Name) else _string_dict(table)
                    for value in (entries or {}).values():
                        add(value.lineno, value.value)
                elif _called(node, "import_module") and isinstance(node.args[0], ast.Constant):
                    add(node.lineno, str(node.args[0].value))
            elif (
                binds_package
                and isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == package
                and not node.attr.startswith("__")
            ):
                add(node.lineno, resolve(package, node.attr))
    return sorted(found)


def layer_of(module: str, package: str = PACKAGE) -> str | None:
    """The layer of a module of ``package``, or None if its top-level name is in no layer."""
    parts = module.split(".")
    return LAYERS.get(parts[1] if len(parts) > 1 else "")


def unclassified(parent: Path, package: str = PACKAGE) -> list[str]:
    """Modules of ``package`` that are in no layer."""
    return [
        f"{path.relative_to(parent).as_posix()}: {name} is in no layer"
        for name, path in _modules(parent, package).items()
        if layer_of(name, package) is None
    ]


def violations(parent: Path, package: str = PACKAGE) -> list[str]:
    """``file:line: importer-layer -> imported-layer (importer imports imported)`` for every forbidden arrow."""
    problems = []
    for edge in collect_imports(parent, package):
        source, target = layer_of(edge.importer, package), layer_of(edge.imported, package)
        if source is not None and target is not None and target in FORBIDDEN[source]:
            problems.append(f"{edge.path}:{edge.line}: {source} -> {target} ({edge.importer} imports {edge.imported})")
    return problems


def test_every_layer_has_rules() -> None:
    assert set(FORBIDDEN) == set(LAYERS.values())


def test_every_module_is_in_a_layer() -> None:
    missing = unclassified(REPO)
    assert not missing, "modules in no layer (add them to LAYERS in tests/test_layering.py):\n" + "\n".join(missing)


def test_imports_flow_one_way() -> None:
    problems = violations(REPO)
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def test_the_checker_reads_the_real_package() -> None:
    edges = {(edge.importer, edge.imported) for edge in collect_imports(REPO)}
    # An import at module level, an entry of a lazy export table, an import inside a function.
    assert ("tfprobe.figures.training", "tfprobe.results.training") in edges
    assert ("tfprobe.recurrent", "tfprobe.recurrent.time_decoding") in edges
    assert ("tfprobe.recurrent.lab", "tfprobe.recurrent.lab_report") in edges


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _fake_package(root: Path) -> None:
    _write(
        root,
        {
            "tfprobe/__init__.py": """
                from tfprobe._lazy import lazy_exports

                _EXPORTS = {"Probe": "tfprobe.probe", "figures": "tfprobe.figures"}
                __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
            """,
            "tfprobe/_lazy.py": "def lazy_exports(package, exports):\n    return None, None\n",
            "tfprobe/errors.py": "class TfprobeError(Exception):\n    pass\n",
            "tfprobe/probe.py": "from tfprobe.models.net import Net\n",
            "tfprobe/datasets/__init__.py": "",
            "tfprobe/datasets/digits.py": """
                from tfprobe.errors import TfprobeError


                def load():
                    from tfprobe import Probe  # lazily exported by the package: tfprobe.probe
                    return Probe
            """,
            "tfprobe/models/__init__.py": "",
            "tfprobe/models/net.py": """
                from typing import TYPE_CHECKING

                from ..errors import TfprobeError
                from . import layers

                if TYPE_CHECKING:
                    from ..datasets import digits
            """,
            "tfprobe/models/layers.py": "",
            "tfprobe/recurrent/__init__.py": """
                from tfprobe._lazy import lazy_exports

                __getattr__, __dir__ = lazy_exports(__name__, {"train": "tfprobe.recurrent.training"})
            """,
            "tfprobe/recurrent/training.py": "import tfprobe.models.net\n",
            "tfprobe/figures/__init__.py": "",
            "tfprobe/figures/plot.py": """
                import tfprobe
                from tfprobe.models import net


                def plot(result):
                    from tfprobe.recurrent.training import train

                    print(tfprobe.__version__)
                    return tfprobe.cli, train
            """,
            "tfprobe/cli/__init__.py": "from tfprobe.figures.plot import plot\n",
        },
    )


def test_the_checker_catches_forbidden_arrows(tmp_path: Path) -> None:
    _fake_package(tmp_path)
    assert violations(tmp_path) == [
        "tfprobe/datasets/digits.py:6: datasets -> probe (tfprobe.datasets.digits imports tfprobe.probe)",
        "tfprobe/figures/plot.py:7: figures -> recurrent (tfprobe.figures.plot imports tfprobe.recurrent.training)",
        "tfprobe/figures/plot.py:10: figures -> cli (tfprobe.figures.plot imports tfprobe.cli)",
        "tfprobe/models/net.py:8: models -> datasets (tfprobe.models.net imports tfprobe.datasets.digits)",
    ]
    assert unclassified(tmp_path) == []


def test_the_checker_resolves_every_kind_of_import(tmp_path: Path) -> None:
    _fake_package(tmp_path)
    edges = {(edge.importer, edge.line, edge.imported) for edge in collect_imports(tmp_path)}
    assert edges == {
        ("tfprobe", 2, "tfprobe._lazy"),
        ("tfprobe", 4, "tfprobe.probe"),  # the lazy export table
        ("tfprobe", 4, "tfprobe.figures"),
        ("tfprobe.cli", 1, "tfprobe.figures.plot"),
        ("tfprobe.datasets.digits", 2, "tfprobe.errors"),
        ("tfprobe.datasets.digits", 6, "tfprobe.probe"),
        ("tfprobe.figures.plot", 2, "tfprobe"),
        ("tfprobe.figures.plot", 3, "tfprobe.models.net"),
        ("tfprobe.figures.plot", 7, "tfprobe.recurrent.training"),
        ("tfprobe.figures.plot", 10, "tfprobe.cli"),
        ("tfprobe.models.net", 4, "tfprobe.errors"),
        ("tfprobe.models.net", 5, "tfprobe.models.layers"),
        ("tfprobe.models.net", 8, "tfprobe.datasets.digits"),
        ("tfprobe.probe", 1, "tfprobe.models.net"),
        ("tfprobe.recurrent", 2, "tfprobe._lazy"),
        ("tfprobe.recurrent", 4, "tfprobe.recurrent.training"),
        ("tfprobe.recurrent.training", 1, "tfprobe.models.net"),
    }


def test_a_module_in_no_layer_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, {"tfprobe/__init__.py": "", "tfprobe/image_tools.py": "from tfprobe.probe import Probe\n"})
    assert unclassified(tmp_path) == ["tfprobe/image_tools.py: tfprobe.image_tools is in no layer"]
