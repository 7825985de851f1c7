"""``tfprobe rnn run``: the lab end to end, its files, its report in a real browser, refusals and resumption."""

from __future__ import annotations

import json

import numpy as np
import pytest
from browser import COUNT_DECODED, Elements, console_errors, run_chromium
from matplotlib.image import imread

from tfprobe.cli import main
from tfprobe.recurrent import FlowPerturbationResult, TimeDecodingResult
from tfprobe.recurrent.lab import LabSettings, run_lab

TINY = [
    "--timesteps",
    "2",
    "--n-feats",
    "2",
    "--steps",
    "4",
    "--validation",
    "16",
    "--validate-every",
    "2",
    "--test-scenes",
    "40",
    "--decoding-scenes",
    "60",
    "--n-test",
    "20",
    "--repetitions",
    "2",
    "--perturbation-scenes",
    "20",
    "--quiet",
]
TINY_SETTINGS = LabSettings(
    timesteps=2,
    n_feats=2,
    steps=4,
    validation=16,
    validate_every=2,
    test_scenes=40,
    decoding_scenes=60,
    n_test=20,
    decoding_repetitions=2,
    perturbation_scenes=20,
    use_downloaded=False,
)
FIGURES = [
    "activations_over_time",
    "connections",
    "decoding_auxiliary",
    "decoding_category",
    "decoding_category_clean",
    "decoding_flows",
    "learning_curve",
    "perturbation",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab") / "lab"
    status = main(["rnn", "run", "--out", str(out), "--train", *TINY])
    assert status == 0
    return out


def test_summary_and_result_files(lab) -> None:
    summary = json.loads((lab / "summary.json").read_text())
    for key in ("test_accuracy", "clean_test_accuracy", "training_steps", "weights_source", "seconds"):
        assert key in summary
    assert summary["training_steps"] == 4 and summary["weights_source"].startswith("trained here: 4 steps")
    assert 0 <= summary["test_accuracy"] <= 1 and 0 <= summary["clean_test_accuracy"] <= 1
    assert summary["seconds"] >= sum(v for k, v in summary["timings"].items() if k not in ("total",)) - 1
    assert summary["data"]["sources"]["MNIST"]
    decoding = TimeDecodingResult.load(lab / "decoding.h5")
    assert decoding.activations.shape == (4, 2, 6, 2, 2)
    assert summary["auxiliary_decoding_through_time"] == pytest.approx(decoding.auxiliary_through_time(), abs=1e-4)
    perturbation = FlowPerturbationResult.load(lab / "perturbation.h5")
    assert perturbation.accuracy.axes["step"] == [0]
    assert sorted(p.stem for p in (lab / "figures").glob("*.png")) == FIGURES
    assert (lab / "training" / "history.json").is_file() and (lab / "model.weights.h5").is_file()
    assert not lab.with_name("lab.partial").exists()


def test_report_in_a_headless_browser(lab, tmp_path) -> None:
    page = (lab / "report.html").read_text(encoding="utf-8")
    assert 'src="http' not in page and "<script" not in page  # self-contained, nothing to fetch or run
    instrumented = tmp_path / "instrumented.html"
    instrumented.write_text(page.replace("</body>", f"{COUNT_DECODED}</body>"), encoding="utf-8")
    dump = run_chromium(instrumented, tmp_path / "profile-dom", "--dump-dom")
    assert dump.returncode == 0, dump.stderr[-2000:]
    assert console_errors(dump.stderr) == []
    dom = Elements(dump.stdout)
    images = dom.all("img")
    assert len(images) == len(FIGURES) and all(i["src"].startswith("data:image/png;base64,") for i in images)
    (body,) = dom.all("body")
    assert body["data-decoded"] == str(len(FIGURES))  # every figure decoded by the browser
    text = " ".join(dom.text)
    summary = json.loads((lab / "summary.json").read_text())
    assert f"{summary['test_accuracy']:.3g}" in text and "Figure 3A" in text and "Figure 4D" in text
    assert "trained here" in text and "Seconds per stage" in text
    screenshot = tmp_path / "report.png"
    shot = run_chromium(
        lab / "report.html",
        tmp_path / "profile-shot",
        "--hide-scrollbars",
        "--window-size=1200,2400",
        f"--screenshot={screenshot}",
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    pixels = imread(screenshot)[..., :3]
    assert pixels.shape[:2] == (2400, 1200) and pixels.std() > 0.1
    assert np.count_nonzero(pixels.mean(-1) < 0.5) > 10_000  # text and figures, not a blank page


def test_an_existing_output_folder_is_refused(lab, capsys) -> None:
    before = sorted(p.name for p in lab.iterdir())
    assert main(["rnn", "run", "--out", str(lab), *TINY]) == 2
    err = capsys.readouterr().err
    assert "exists" in err and "--overwrite" in err
    assert sorted(p.name for p in lab.iterdir()) == before


def test_usage_errors(tmp_path, capsys) -> None:
    assert main(["rnn", "run", "--out", str(tmp_path / "a"), "--decoding-scenes", "100", "--n-test", "99"]) == 2
    assert "too few scenes for the split" in capsys.readouterr().err
    assert main(["rnn", "run", "--out", str(tmp_path / "a"), "--checkpoint", str(tmp_path / "missing.pth")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "a.partial").exists()


def test_a_checkpoint_for_other_flags_is_refused(tmp_path, capsys) -> None:
    other = tmp_path / "rnn_bglt_1011_t_4_num_1.pth"
    other.write_bytes(b"not read: the name already disagrees")
    status = main(["rnn", "run", "--out", str(tmp_path / "lab"), "--checkpoint", str(other), "--code", "bglt_0111"])
    assert status == 1  # a checkpoint that cannot be used: a data error
    err = capsys.readouterr().err
    assert "bglt_1011" in err and "bglt_0111" in err
    assert not (tmp_path / "lab").exists()


def test_a_killed_run_resumes_its_training(tmp_path, monkeypatch) -> None:
    import tfprobe.recurrent.lab as lab_module

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lab_module, "decode_through_time", killed)
    with pytest.raises(KeyboardInterrupt):
        run_lab(tmp_path / "lab", TINY_SETTINGS, progress=False, log=lambda line: None)
    partial = tmp_path / "lab.partial"
    assert (partial / "training" / "checkpoints" / "ckpt-4.index").is_file() and not (tmp_path / "lab").exists()
    monkeypatch.undo()
    summary = run_lab(tmp_path / "lab", TINY_SETTINGS, progress=False, log=lambda line: None)
    assert summary["training_resumed_from"] == 4 and summary["training_steps"] == 4
    assert not partial.exists() and (tmp_path / "lab" / "report.html").is_file()


@pytest.mark.heavy
def test_the_authors_checkpoint_is_used_when_given(reference_checkpoints, tmp_path) -> None:
    import shutil

    path = tmp_path / "rnn_bglt_0111_t_4_num_1.pth"
    shutil.copy(reference_checkpoints[4], path)
    settings = LabSettings(
        checkpoint=str(path),
        test_scenes=20,
        decoding_scenes=40,
        n_test=10,
        decoding_repetitions=1,
        perturbation_scenes=10,
    )
    summary = run_lab(tmp_path / "lab", settings, progress=False, log=lambda line: None)
    assert summary["weights_source"].startswith("the authors' checkpoint") and summary["training_steps"] is None
    assert not (tmp_path / "lab" / "training").exists()
    assert sorted(p.stem for p in (tmp_path / "lab" / "figures").glob("*.png")) == [
        f for f in FIGURES if f != "learning_curve"
    ]


def test_the_default_budget_fits_its_steps_to_the_time_limit(tmp_path) -> None:
    """steps=None: the loop is timed on a throwaway network and the steps chosen to fill max_minutes; a
    resumed run keeps the number its run folder holds, and a budget needs a time limit."""
    from tfprobe.recurrent.lab import TIMING_STEPS, _steps_in_budget

    lines: list[str] = []
    settings = LabSettings(timesteps=2, n_feats=2, steps=None, max_minutes=5, use_downloaded=False)
    steps = _steps_in_budget(settings, tmp_path / "training", lines.append)
    per_step = float(lines[-1].split("training speed here: ")[1].split(" s per step")[0])
    assert steps > TIMING_STEPS
    assert 0.7 * 300.0 <= steps * per_step <= 300.0  # the budget filled (less compiling), not exceeded
    assert f"{steps} steps fit in 5 minutes" in lines[-1]
    assert not (tmp_path / "training").exists()  # the timing run leaves nothing behind

    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "run.json").write_text(json.dumps({"steps": 77}))
    assert _steps_in_budget(settings, tmp_path / "training", lines.append) == 77

    with pytest.raises(ValueError, match="give max_minutes, or steps"):
        _steps_in_budget(LabSettings(steps=None, max_minutes=None), tmp_path / "elsewhere", lines.append)
