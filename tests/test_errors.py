"""One home for exceptions: tfprobe/errors.py, every one under TfprobeError and the builtin of its kind."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest

import tfprobe.errors as errors

PACKAGE = Path(__file__).resolve().parents[1] / "tfprobe"


#: The builtin exceptions tfprobe raises through its own classes, each with the general class for it.
GENERAL = {
    ValueError: errors.InvalidValueError,
    TypeError: errors.InvalidTypeError,
    IndexError: errors.InvalidIndexError,
    IsADirectoryError: errors.FolderNotFileError,
    KeyError: errors.InvalidKeyError,
    FileNotFoundError: errors.MissingFileError,
    FileExistsError: errors.ExistingOutputError,
    RuntimeError: errors.WrongContextError,
}

#: Raises of a builtin left as they are, (file, enclosing function, builtin): checks of tfprobe's own
#: consistency, whose failure is a bug and should reach the command line as one (exit status 3).
BUILTIN_RAISES_ALLOWED = {
    ("tfprobe/models/outputs.py", "from_nested", "ValueError"),  # the traced forward pass lost time steps
    ("tfprobe/datasets/splines.py", "zoom_matrix", "ValueError"),  # scipy's zoom changed its output size
    ("tfprobe/_lazy.py", "__getattr__", "AttributeError"),  # the module attribute protocol
}


def test_every_public_exception_is_a_tfprobe_error_and_a_builtin() -> None:
    builtins = (*GENERAL, NotImplementedError)
    for name in errors.__all__:
        kind = getattr(errors, name)
        assert issubclass(kind, errors.TfprobeError), name
        if kind is not errors.TfprobeError:
            assert issubclass(kind, builtins), f"{name} derives from none of {builtins}"


@pytest.mark.parametrize(("builtin", "general"), GENERAL.items(), ids=[b.__name__ for b in GENERAL])
def test_each_general_class_is_a_tfprobe_error_and_its_builtin(builtin: type, general: type) -> None:
    assert general.__name__ in errors.__all__
    error = general("what was expected, and what was given")
    assert isinstance(error, errors.TfprobeError) and isinstance(error, builtin)
    with pytest.raises(builtin, match="what was expected, and what was given"):
        raise error
    assert str(error) == "what was expected, and what was given"  # KeyError's own str would quote it


def test_unknown_units_are_invalid_keys() -> None:
    assert issubclass(errors.UnknownUnitError, errors.InvalidKeyError)
    assert str(errors.UnknownUnitError("unknown unit 'x'")) == "unknown unit 'x'"


def _enclosing_functions(tree: ast.AST) -> dict[int, str]:
    """The name of the innermost function around each node (by id), or "" at module level."""
    names: dict[int, str] = {}

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            names[id(child)] = inner
            visit(child, inner)

    visit(tree, "")
    return names


def builtin_raises(source: str, file: str) -> list[tuple[str, str, str, int]]:
    """``(file, function, builtin, line)`` of each ``raise <builtin exception>(...)`` in ``source``."""
    tree = ast.parse(source)
    functions = _enclosing_functions(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            called = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            kind = getattr(builtins, called.id, None) if isinstance(called, ast.Name) else None
            if isinstance(kind, type) and issubclass(kind, Exception):
                found.append((file, functions[id(node)], kind.__name__, node.lineno))
    return sorted(found, key=lambda hit: hit[3])


def test_the_scan_finds_builtin_raises_and_only_those() -> None:
    source = (
        "def f(x):\n"
        "    if x:\n"
        "        raise ValueError('no')\n"
        "    if x is None:\n"
        "        raise KeyError\n"
        "    raise errors.InvalidValueError('no')\n"
    )
    assert builtin_raises(source, "f.py") == [("f.py", "f", "ValueError", 3), ("f.py", "f", "KeyError", 5)]


def test_tfprobe_raises_no_builtin_exception_of_its_own() -> None:
    found = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        for hit in builtin_raises(path.read_text(), path.relative_to(PACKAGE.parent).as_posix())
    ]
    unexpected = [
        f"{file}:{line} {function}: raise {name}"
        for file, function, name, line in found
        if (file, function, name) not in BUILTIN_RAISES_ALLOWED
    ]
    assert unexpected == [], "raise the errors.py class instead (InvalidValueError for ValueError, ...)"
    stale = BUILTIN_RAISES_ALLOWED - {(file, function, name) for file, function, name, _ in found}
    assert not stale, f"allowed raises that are gone: {stale}"


def test_no_public_exception_is_defined_outside_errors_py() -> None:
    elsewhere = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and node.name.endswith("Error"):
                elsewhere.append(f"{path.relative_to(PACKAGE.parent)}: {node.name}")
    assert elsewhere == []


def test_the_old_import_paths_give_the_same_classes() -> None:
    from tfprobe.cli.failures import DataError, UsageError
    from tfprobe.datasets.idx import DatasetFileError, DatasetNotFoundError
    from tfprobe.models.loading import WeightsUnavailableError
    from tfprobe.visualize.objectives import ObjectiveError

    assert (DatasetFileError, DatasetNotFoundError) == (errors.DatasetFileError, errors.DatasetNotFoundError)
    assert (UsageError, DataError) == (errors.CLIUsageError, errors.CLIDataError)
    assert WeightsUnavailableError is errors.WeightsUnavailableError and ObjectiveError is errors.ObjectiveError
