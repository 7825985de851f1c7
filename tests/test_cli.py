"""The tfprobe command line, run as users run it: start-up, noise, errors, exit statuses, run and export."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tfprobe.errors as errors
from tfprobe.cli import main
from tfprobe.cli.quiet import NATIVE_LOG_LINE

COMMANDS = ("run", "export", "act", "decode", "rsa", "visualize", "data", "rnn run", "rnn train", "rnn download")


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tfprobe.cli", *args], capture_output=True, text=True, timeout=600, cwd=cwd
    )


def test_help_imports_no_tensorflow_and_every_command_has_a_description() -> None:
    script = (
        "import sys\n"
        "from tfprobe.cli import main\n"
        f"for command in ([], *(c.split() for c in {COMMANDS!r})):\n"
        "    try:\n"
        "        main([*command, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('LOADED', 'tensorflow' in sys.modules, 'keras' in sys.modules, 'numpy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "LOADED False False False" in result.stdout
    assert result.stderr == ""
    for command in COMMANDS:
        assert f"usage: tfprobe {command}" in result.stdout
    # each command's help starts with a description paragraph of its own, and lists --verbose / --debug
    sections = result.stdout.split("usage: tfprobe ")[2:]
    for section in sections:
        description = section.split("\n\n")[1]
        assert len(description) > 80 and not description.startswith(("positional", "options"))
        assert "--verbose" in section and "--debug" in section


@pytest.mark.heavy
def test_native_logs_are_silenced_unless_verbose(tmp_path) -> None:
    arguments = ("export", "--n-feats", "2", "--timesteps", "1")
    quiet = run_cli(*arguments, "--out", str(tmp_path / "quiet"))
    assert quiet.returncode == 0, quiet.stderr
    assert not [line for line in quiet.stderr.splitlines() if NATIVE_LOG_LINE.match(line)], quiet.stderr
    assert "absl" not in quiet.stderr and "cudart" not in quiet.stderr
    verbose = run_cli(*arguments, "--out", str(tmp_path / "verbose"), "--verbose")
    assert verbose.returncode == 0
    assert [line for line in verbose.stderr.splitlines() if NATIVE_LOG_LINE.match(line)], verbose.stderr


@pytest.mark.heavy
def test_run_builds_runs_and_exports(tmp_path):
    out = tmp_path / "export"
    result = run_cli("run", "--n-feats", "2", "--timesteps", "2", "--batch", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ran a batch of 3 images of 100x100x1" in result.stdout
    assert "activations['conv1']: 2 steps of 3x32x32x2" in result.stdout
    assert f"wrote a SavedModel to {out.resolve()}" in result.stdout
    loaded = tf.saved_model.load(str(out))
    outputs = loaded.signatures["serving_default"](images=tf.zeros((1, 100, 100, 1)))
    assert outputs["log_probs"].shape == (1, 20)
    np.testing.assert_allclose(np.exp(outputs["log_probs"].numpy()).sum(), 1.0, atol=1e-5)


def test_export_from_checkpoint_lists_outputs(tmp_path, reference_checkpoints, capsys):
    out = tmp_path / "sm"
    status = main(["export", "--checkpoint", str(reference_checkpoints[2]), "--code", "bglt_1001", "--out", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "flow_conv1_bias_from_fc1_t0" in printed and "(batch, 100, 100, 1)" in printed
    assert "serving_default (= serve)" in printed and "classify" in printed
    assert (out / "saved_model.pb").is_file()


@pytest.fixture
def authors_named_checkpoint(tmp_path, reference_checkpoints):
    path = tmp_path / "rnn_bglt_1011_t_2_num_1.pth"
    path.write_bytes(reference_checkpoints[2].read_bytes())
    return path


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["run", "--code", "bglt_9"], 2, "--code: unknown recurrence code 'bglt_9'"),
        (["run", "--timesteps", "0"], 2, "--timesteps must be at least 1, got 0"),
        (["run", "--batch", "0", "--n-feats", "2"], 2, "--batch must be at least 1, got 0"),
        (["export", "--checkpoint", "missing.pth", "--out", "x"], 2, "checkpoint file 'missing.pth' does not exist"),
        (
            ["export", "--checkpoint", "{named}", "--code", "bglt_0111", "--out", "x"],
            2,
            "rnn_bglt_1011_t_2_num_1.pth: its name says it was trained as bglt_1011, but --code is bglt_0111",
        ),
        (
            ["export", "--checkpoint", "{named}", "--timesteps", "4", "--out", "x"],
            2,
            "its name says 2 time steps, but --timesteps is 4",
        ),
        (["export", "--checkpoint", "{plain}", "--out", "x"], 2, "give them with --code, e.g. --code bglt_0111"),
        (["export", "--checkpoint", "{corrupt}", "--out", "x"], 1, "rnn_bglt_0111_t_4_num_1.pth"),
    ],
)
def test_bad_input_exits_with_a_one_line_reason_in_the_command_lines_words(
    args, status, message, capsys, tmp_path, monkeypatch, authors_named_checkpoint
):
    monkeypatch.chdir(tmp_path)
    plain = tmp_path / "weights.pth"
    plain.write_bytes(authors_named_checkpoint.read_bytes())
    corrupt = tmp_path / "rnn_bglt_0111_t_4_num_1.pth"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    values = {"named": authors_named_checkpoint, "plain": plain, "corrupt": corrupt}
    assert main([a.format(**values) for a in args]) == status
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
    for api_word in ("check_filename", "overwrite=True", "mode='a'", "code=", "Traceback"):
        assert api_word not in error
    assert not (tmp_path / "x").exists()


def test_debug_shows_the_traceback(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--checkpoint", "missing.pth", "--out", "x", "--debug"]) == 2
    error = capsys.readouterr().err
    assert "Traceback (most recent call last)" in error
    assert error.strip().splitlines()[-1] == "tfprobe export: error: checkpoint file 'missing.pth' does not exist"


def test_existing_output_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    from tfprobe.cli import models

    monkeypatch.setattr(models, "load", lambda args: pytest.fail("the model must not be built"))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep").write_text("mine")
    assert main(["export", "--n-feats", "2", "--timesteps", "1", "--out", str(tmp_path / "taken")]) == 2
    assert "--out " + str(tmp_path / "taken") + " exists: pass --overwrite to replace it" in capsys.readouterr().err
    assert (tmp_path / "taken" / "keep").read_text() == "mine"
    assert main(["run", "--out", str(tmp_path / "no-such-folder" / "export")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _data_command_raising(monkeypatch, error_or_bug) -> None:
    """Make ``tfprobe data`` fail inside its work: raise ``error_or_bug``, or call it when it is a function."""
    import tfprobe.datasets.digits as digits

    def survey(name):
        if callable(error_or_bug):
            return error_or_bug()
        raise error_or_bug

    monkeypatch.setattr(digits, "survey", survey)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.CLIUsageError("--layers names no unit"), 2),
        (errors.InvalidValueError("n must be a positive int, got 0"), 2),
        (errors.InvalidTypeError("k must be an int, got float 2.5"), 2),
        (errors.UnknownUnitError("unknown unit 'conv9' (the model has: conv1, conv2)"), 2),
        (errors.MissingFileError("checkpoint file 'a.pth' does not exist"), 2),
        (errors.ExistingOutputError("activation file 'a.h5' exists: pass --overwrite to replace it"), 2),
        (errors.CLIDataError("stimulus 3 of imgs.npy holds NaN values"), 1),
        (errors.ActivationFileError("a.h5 is not an activation file"), 1),
        (errors.CheckpointMismatchError("conv1.weight: (8, 1, 5, 5) in the file, (4, 1, 5, 5) in the model"), 1),
        (PermissionError(13, "Permission denied", "out.h5"), 1),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_expected_errors_end_with_one_line_and_their_exit_status(
    error, status, capsys, monkeypatch, traceback_folder
) -> None:
    from tfprobe.cli.failures import one_line

    _data_command_raising(monkeypatch, error)
    assert main(["data", "mnist"]) == status
    assert capsys.readouterr().err.splitlines() == [f"tfprobe data: error: {one_line(error)}"]
    assert list(traceback_folder.iterdir()) == []  # an expected error leaves no traceback behind


def _merge_incompatible_shapes():
    return tf.TensorShape([2]).merge_with(tf.TensorShape([3]))  # a plain ValueError, raised inside TensorFlow


@pytest.mark.parametrize(
    ("bug", "line"),
    [
        (lambda: 1 / 0, "ZeroDivisionError: division by zero"),
        (_merge_incompatible_shapes, "ValueError: Shapes (2,) and (3,) are not compatible"),
    ],
    ids=["ZeroDivisionError", "ValueError-inside-tensorflow"],
)
def test_a_bug_is_reported_with_its_traceback_in_a_file_and_exit_status_3(
    bug, line, capsys, monkeypatch, traceback_folder
) -> None:
    from tfprobe.cli.failures import UNEXPECTED

    _data_command_raising(monkeypatch, bug)
    assert main(["data", "mnist"]) == UNEXPECTED == 3
    error = capsys.readouterr().err
    [saved] = list(traceback_folder.iterdir())
    assert error.splitlines() == [
        f"tfprobe data: unexpected error ({line}); please report it, the traceback is in {saved}"
    ]
    text = saved.read_text()
    assert "command: tfprobe data mnist" in text and "Traceback (most recent call last)" in text
    assert text.rstrip().splitlines()[-1] == line  # the whole traceback, down to the error itself
    assert "_data_command_raising" in text or "survey" in text  # the frames where it happened


def test_debug_prints_the_traceback_of_a_bug_instead_of_saving_it(capsys, monkeypatch, traceback_folder) -> None:
    _data_command_raising(monkeypatch, lambda: 1 / 0)
    assert main(["data", "mnist", "--debug"]) == 3
    error = capsys.readouterr().err
    assert "Traceback (most recent call last)" in error and "ZeroDivisionError: division by zero" in error
    expected = "tfprobe data: unexpected error (ZeroDivisionError: division by zero); please report it"
    assert error.strip().splitlines()[-1] == expected + " with the traceback above"
    assert list(traceback_folder.iterdir()) == []


def test_a_bug_whose_traceback_cannot_be_saved_prints_it(capsys, monkeypatch, tmp_path) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    _data_command_raising(monkeypatch, lambda: 1 / 0)
    assert main(["data", "mnist"]) == 3
    error = capsys.readouterr().err
    assert "Traceback (most recent call last)" in error and error.strip().endswith("with the traceback above")


def test_a_long_unexpected_message_is_cut_on_its_line(capsys, monkeypatch, traceback_folder) -> None:
    _data_command_raising(monkeypatch, RuntimeError("x" * 5000 + "\nsecond line"))
    assert main(["data", "mnist"]) == 3
    [line] = capsys.readouterr().err.splitlines()
    [saved] = list(traceback_folder.iterdir())
    assert str(saved) in line and "..." in line
    assert len(line.replace(str(saved), "")) < 400  # the message is cut; the file's path, however long, is not
    assert "x" * 5000 in saved.read_text()  # the file keeps all of it


def test_help_documents_the_exit_statuses() -> None:
    from tfprobe.cli import build_parser

    text = " ".join(build_parser().format_help().split())
    assert "exit status: 0 done; 2 the command was used wrongly; 1 the data could not be used; 3" in text


def test_two_bugs_in_one_second_keep_both_tracebacks(capsys, monkeypatch, traceback_folder) -> None:
    import os
    import time

    monkeypatch.setattr(time, "strftime", lambda pattern, *rest: "20260101-000000")
    lines = []
    for bug in (lambda: 1 / 0, lambda: [][1]):
        _data_command_raising(monkeypatch, bug)
        assert main(["data", "mnist"]) == 3
        lines.append(capsys.readouterr().err.strip())
    first, second = (
        traceback_folder / f"tfprobe-error-20260101-000000-{os.getpid()}{end}" for end in (".txt", "-2.txt")
    )
    assert lines[0].endswith(f"the traceback is in {first}") and lines[1].endswith(f"the traceback is in {second}")
    assert first.read_text().rstrip().endswith("ZeroDivisionError: division by zero")
    assert second.read_text().rstrip().endswith("IndexError: list index out of range")
