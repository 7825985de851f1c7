"""``tfprobe rnn train``: trains into a run folder, resumes it, refuses what it cannot use."""

from __future__ import annotations

import json

import pytest

from tfprobe.cli import main

SMALL = [
    "--code",
    "bglt_0111",
    "--timesteps",
    "2",
    "--n-feats",
    "2",
    "--batch-size",
    "8",
    "--validation",
    "8",
    "--validate-every",
    "1",
    "--quiet",
]


def _summary(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_train_then_resume(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["rnn", "train", "--out", str(out), "--steps", "2", "--schedule", "original", *SMALL]) == 0
    first = _summary(capsys)
    assert first["steps"] == 2 and first["resumed_from"] is None and first["model"] == "bglt_0111"
    assert first["schedule"].startswith("original: Adam, learning rate 0.0001, batch 8")
    assert 0 <= first["validation_accuracy"] <= 1
    assert (out / "model.weights.h5").is_file() and (out / "checkpoints" / "ckpt-2.index").is_file()
    history = json.loads((out / "history.json").read_text())
    assert [entry["step"] for entry in history] == [1, 2]
    # The original schedule is constant: the run can be extended.
    assert main(["rnn", "train", "--out", str(out), "--steps", "3", "--schedule", "original", *SMALL]) == 0
    second = _summary(capsys)
    assert second["resumed_from"] == 2 and second["steps"] == 3
    # Other settings on the same folder: a data error naming the difference, and the folder untouched.
    assert main(["rnn", "train", "--out", str(out), "--steps", "3", "--schedule", "fast", *SMALL]) == 1
    err = capsys.readouterr().err
    assert "tfprobe rnn train: error:" in err and "schedule" in err and "--overwrite" in err
    assert len(json.loads((out / "history.json").read_text())) == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--steps", "0"], "--steps"),
        (["--learning-rate", "3"], "--learning-rate must be in (0, 1)"),
        (["--max-minutes", "0"], "--max-minutes must be > 0"),
        (["--timesteps", "0"], "--timesteps"),
    ],
)
def test_train_usage_errors(tmp_path, capsys, options, message) -> None:
    assert main(["rnn", "train", "--out", str(tmp_path / "run"), *options]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_train_refuses_a_file_as_run_folder(tmp_path, capsys) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["rnn", "train", "--out", str(tmp_path / "file"), "--steps", "1"]) == 2
    assert "is a file, expected a run folder" in capsys.readouterr().err


def test_run_defaults_are_the_lab_defaults() -> None:
    """`tfprobe rnn run` without options runs exactly LabSettings() (one budget, documented once)."""
    import dataclasses

    from tfprobe.cli import build_parser
    from tfprobe.recurrent.lab import LabSettings

    args = build_parser().parse_args(["rnn", "run", "--out", "lab"])
    defaults = LabSettings()
    options = {"repetitions": "decoding_repetitions"}
    for name, value in vars(args).items():
        field = options.get(name, name)
        if field in {f.name for f in dataclasses.fields(LabSettings)} and value is not None:
            assert value == getattr(defaults, field), (name, value, getattr(defaults, field))
    assert (args.steps, args.minutes, args.perturbation_scenes) == (
        defaults.steps,
        defaults.minutes,
        defaults.perturbation_scenes,
    )


@pytest.mark.parametrize(
    ("minutes", "message"),
    [
        ("0", "--minutes must be a positive number (the whole run's wall time), got 0"),
        ("-2.5", "--minutes must be a positive number (the whole run's wall time), got -2.5"),
        ("nan", "--minutes must be a positive number (the whole run's wall time), got nan"),
        ("inf", "--minutes must be a positive number (the whole run's wall time), got inf"),
    ],
)
def test_run_minutes_must_be_a_positive_number(tmp_path, capsys, minutes, message) -> None:
    """--minutes, the whole run's wall time, is checked before anything is imported or written."""
    assert main(["rnn", "run", "--out", str(tmp_path / "lab"), "--minutes", minutes]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_run_minutes_are_a_number_and_max_minutes_is_gone(tmp_path, capsys) -> None:
    """One way to give the run's time: --minutes (the whole run), a number; no separate training limit."""
    for options, message in [
        (["--minutes", "soon"], "argument --minutes: invalid float value: 'soon'"),
        (["--max-minutes", "12"], "unrecognized arguments: --max-minutes 12"),
    ]:
        with pytest.raises(SystemExit) as exited:
            main(["rnn", "run", "--out", str(tmp_path / "lab"), *options])
        assert exited.value.code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
