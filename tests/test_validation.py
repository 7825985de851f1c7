"""The int checks of tfprobe/validation.py, and that nothing else in tfprobe tells ints from bools by hand."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from tfprobe.errors import InvalidTypeError, InvalidValueError, TfprobeError
from tfprobe.validation import check_int, int_in_range, is_int, is_real, non_negative_int, positive_int

PACKAGE = Path(__file__).resolve().parents[1] / "tfprobe"

#: Checks that look at bools on purpose, (file, function): a flag that takes a bool or 0 / 1.
BOOL_CHECKS_ALLOWED = {("tfprobe/models/gain_rnn.py", "_as_flag")}


def test_ints_are_python_and_numpy_integers_but_not_bools() -> None:
    for value in (0, -3, 7, np.int64(5), np.uint8(2)):
        assert is_int(value), value
    for value in (True, False, np.bool_(True), 1.0, np.float32(2), "3", None, [1]):
        assert not is_int(value), value
    assert is_real(2.5) and is_real(np.float32(1)) and is_real(np.int16(3)) and is_real(4)
    assert not is_real(True) and not is_real("1") and not is_real(1j)


def test_int_in_range_returns_a_python_int_and_names_the_range_and_the_value() -> None:
    assert int_in_range(np.int64(3), "n", 1, 5) == 3 and type(int_in_range(np.int64(3), "n", 1, 5)) is int
    assert int_in_range(1, "n", 1, 1) == 1 and int_in_range(-9, "n") == -9
    cases = [
        ((0, "n", 1), "n must be an int >= 1, got 0"),
        ((6, "top", 1, 5), "top must be an int from 1 to 5, got 6"),
        ((3, "k", None, 2), "k must be an int <= 2, got 3"),
        ((True, "n", 0), "n must be an int >= 0, got True"),
        ((1.0, "n", 0), "n must be an int >= 0, got 1.0"),
    ]
    for args, message in cases:
        with pytest.raises(InvalidValueError) as error:
            int_in_range(*args)
        assert str(error.value) == message
    with pytest.raises(ValueError, match=r"size must be an int >= 1 \(pixels\), got -2"):
        int_in_range(-2, "size", 1, meaning="pixels")


def test_check_int_tells_a_wrong_type_from_a_wrong_value() -> None:
    assert check_int(np.int32(4), "k", 1) == 4
    with pytest.raises(InvalidTypeError, match=r"k must be an int, got float 2\.0"):
        check_int(2.0, "k", 1)
    with pytest.raises(TypeError, match="k must be an int, got bool True"):
        check_int(True, "k")
    with pytest.raises(InvalidValueError, match="k must be an int >= 1, got 0"):
        check_int(0, "k", 1)


def test_positive_and_non_negative_ints_keep_their_words() -> None:
    assert positive_int(np.int8(2), "batch_size") == 2 and non_negative_int(0, "start") == 0
    with pytest.raises(InvalidValueError, match="batch_size must be a positive int, got 0"):
        positive_int(0, "batch_size")
    with pytest.raises(InvalidValueError, match=r"start must be an int >= 0 \(the first batch\), got -1"):
        non_negative_int(-1, "start", "the first batch")
    with pytest.raises(TfprobeError):
        positive_int(False, "n")


def _names_bool(node: ast.expr) -> bool:
    """Whether a classinfo expression names ``bool`` or ``np.bool_``."""
    parts = node.elts if isinstance(node, ast.Tuple) else [node]
    return any(
        (isinstance(part, ast.Name) and part.id == "bool") or (isinstance(part, ast.Attribute) and part.attr == "bool_")
        for part in parts
    )


def hand_written_bool_checks(source: str) -> list[tuple[str, int]]:
    """``(function, line)`` of each ``isinstance(x, bool)`` (or a tuple holding bool / np.bool_) in ``source``."""
    found = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Name)
                and child.func.id == "isinstance"
                and len(child.args) == 2
                and _names_bool(child.args[1])
            ):
                found.append((inner, child.lineno))
            visit(child, inner)

    visit(ast.parse(source), "")
    return found


def test_the_scan_finds_hand_written_int_checks() -> None:
    source = (
        "def f(x, y):\n"
        "    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):\n"
        "        pass\n"
        "    return isinstance(y, (int, np.bool_)) or is_int(y) or isinstance(y, int)\n"
    )
    assert hand_written_bool_checks(source) == [("f", 2), ("f", 4)]


def test_ints_are_told_from_bools_only_in_validation_py() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        file = path.relative_to(PACKAGE.parent).as_posix()
        if file != "tfprobe/validation.py":
            found += [(file, function, line) for function, line in hand_written_bool_checks(path.read_text())]
    by_hand = [
        f"{file}:{line} ({function})" for file, function, line in found if (file, function) not in BOOL_CHECKS_ALLOWED
    ]
    assert by_hand == [], "use tfprobe.validation (is_int, int_in_range, check_int, positive_int, ...)"
    assert BOOL_CHECKS_ALLOWED <= {(file, function) for file, function, _ in found}, "an allowed check is gone"
