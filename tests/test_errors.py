"""One home for exceptions: tfprobe/errors.py, every one under TfprobeError and the builtin of its kind."""

from __future__ import annotations

import ast
from pathlib import Path

import tfprobe.errors as errors

PACKAGE = Path(__file__).resolve().parents[1] / "tfprobe"


def test_every_public_exception_is_a_tfprobe_error_and_a_builtin() -> None:
    for name in errors.__all__:
        kind = getattr(errors, name)
        assert issubclass(kind, errors.TfprobeError), name
        if kind is not errors.TfprobeError:
            builtins = (ValueError, KeyError, FileNotFoundError)
            assert issubclass(kind, builtins), f"{name} derives from none of {builtins}"


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
