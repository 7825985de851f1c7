"""``tfprobe rnn run``: the lab end to end, its files, its report in a real browser, refusals, resumption and
its time budget (the plan's arithmetic on a fake clock)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from browser import COUNT_DECODED, Elements, console_errors, run_chromium
from matplotlib.image import imread

from tfprobe.cli import main
from tfprobe.errors import InvalidValueError
from tfprobe.recurrent import FlowPerturbationResult, TimeDecodingResult
from tfprobe.recurrent.budget import MARGIN_SHARE, MINIMUM_STEPS, STEP_SHARE, TrainingCosts, plan_budget
from tfprobe.recurrent.lab import LabSettings, run_lab

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "hooks"))
from site_inputs import SHORT_LAB, store_lab_run

# In the process and order of tests/test_site.py, which builds the site from what these tests store.
pytestmark = pytest.mark.xdist_group("site-inputs")

TINY = SHORT_LAB  # the short run the documentation site's gallery shows
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
    store_lab_run(out)  # the documentation site's gallery shows this short run's report
    return out


def test_summary_and_result_files(lab) -> None:
    summary = json.loads((lab / "summary.json").read_text())
    for key in ("test_accuracy", "clean_test_accuracy", "training_steps", "weights_source", "seconds"):
        assert key in summary
    assert summary["training_steps"] == 4 and summary["weights_source"].startswith("trained here: 4 steps")
    assert 0 <= summary["test_accuracy"] <= 1 and 0 <= summary["clean_test_accuracy"] <= 1
    assert summary["seconds"] >= sum(v for k, v in summary["timings"].items() if k not in ("total",)) - 1
    # --steps 4 within the default 13 minutes: the later phases rehearsed, no timing run needed.
    budget, timings = summary["budget"], summary["timings"]
    assert budget["seconds"] == 780.0 and budget["steps"] == 4 and budget["costs"]["per_step"] is None
    assert list(budget["spent"]) == ["startup", "scenes", "rehearsal"]
    assert list(budget["later"]) == ["evaluation", "decoding", "perturbation", "results and report"]
    assert budget["margin"] == pytest.approx(MARGIN_SHARE * sum(budget["later"].values()), abs=0.2)
    spent_and_later = sum(budget["spent"].values()) + sum(budget["later"].values()) + budget["margin"]
    assert budget["training"] == pytest.approx(780.0 - spent_and_later, abs=0.3)
    assert list(timings) == [*budget["spent"], "training", *budget["later"], "total"]
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
    assert "trained here" in text and "Time budget" in text and "Planned and actual seconds per phase" in text
    # The plan beside the actual seconds, row by row: phase, planned, actual.
    cells = [t.strip() for t in dom.text if t.strip()]
    budget, timings = summary["budget"], summary["timings"]
    planned = {**budget["spent"], "training": budget["training"], **budget["later"]}
    rows = [[phase, f"{seconds:.1f}", f"{timings[phase]:.1f}"] for phase, seconds in planned.items()]
    rows += [["margin", f"{budget['margin']:.1f}", "-"], ["total", "780.0", f"{timings['total']:.1f}"]]
    table = cells.index("Planned and actual seconds per phase")
    assert cells[table + 1 : table + 4] == ["phase", "planned (s)", "actual (s)"]
    assert [cells[table + 4 + 3 * i : table + 7 + 3 * i] for i in range(len(rows))] == rows
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

    decode, networks = lab_module.decode_through_time, []

    def killed_after_training(network, *args, **kwargs):
        networks.append(network)
        if len(networks) > 2:  # the two rehearsal parts before training run; the decoding after it is killed
            raise KeyboardInterrupt
        return decode(network, *args, **kwargs)

    monkeypatch.setattr(lab_module, "decode_through_time", killed_after_training)
    with pytest.raises(KeyboardInterrupt):
        run_lab(tmp_path / "lab", TINY_SETTINGS, progress=False, log=lambda line: None)
    partial = tmp_path / "lab.partial"
    assert (partial / "training" / "checkpoints" / "ckpt-4.index").is_file() and not (tmp_path / "lab").exists()
    monkeypatch.undo()
    summary = run_lab(tmp_path / "lab", TINY_SETTINGS, progress=False, log=lambda line: None)
    assert summary["training_resumed_from"] == 4 and summary["training_steps"] == 4
    assert summary["budget"]["steps"] == 4 and summary["budget"]["training"] > 0  # planned again, same steps
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


SPENT = {"startup": 5.0, "scenes": 3.0, "timing run": 30.0, "rehearsal": 20.0}  # 58 s
LATER = {"evaluation": 10.0, "decoding": 40.0, "perturbation": 20.0, "results and report": 10.0}  # 80 s
COSTS = TrainingCosts(per_step=0.5, startup=10.0, overhead=5.0, per_validation=2.0)


def test_training_gets_what_the_budget_leaves() -> None:
    """780 s - 58 s spent - 80 s planned after training - a 12 s margin (15% of 80) = 630 s of training, filled
    with as many steps as fit (set-up, steps and a validation every 500 steps, with the step slack)."""
    plan = plan_budget(780.0, SPENT, LATER, COSTS, validate_every=500)
    assert plan.margin == pytest.approx(MARGIN_SHARE * 80.0) == pytest.approx(12.0)
    assert plan.training == pytest.approx(780.0 - 58.0 - 80.0 - 12.0)

    def needs(steps: int) -> float:
        return (15.0 + 0.5 * steps + 2.0 * math.ceil(steps / 500)) / STEP_SHARE

    assert needs(plan.steps) <= plan.training < needs(plan.steps + 1)
    assert plan.steps == 1180  # 15 + 590 + 3 validations x 2 = 611 s <= 0.97 x 630
    assert plan.step_seconds == pytest.approx(630.0 - 5.0 - 3 * 2.0)  # steps and compiling, not set-up or validations
    assert plan.to_dict()["later"] == LATER and plan.to_dict()["spent"] == SPENT


def test_too_small_a_budget_names_the_minimum() -> None:
    with pytest.raises(InvalidValueError, match=r"budget of 2 minutes is too small.* give at least 3\.7 minutes"):
        plan_budget(120.0, SPENT, LATER, COSTS, validate_every=500)
    # 150 s for the rest, and 100 steps need (15 + 50 + 2) / 0.97 = 69.1 s: 219.1 s, 3.7 minutes, is enough.
    assert plan_budget(3.7 * 60, SPENT, LATER, COSTS, validate_every=500).steps >= MINIMUM_STEPS
    fixed = TrainingCosts(per_step=None, startup=0.0, overhead=1.0, per_validation=2.0)
    with pytest.raises(InvalidValueError, match=r"leaves -50 s for training; give at least 2\.6 minutes"):
        plan_budget(100.0, SPENT, LATER, fixed, validate_every=2, steps=4)
    with pytest.raises(InvalidValueError, match="positive number of seconds"):
        plan_budget(0.0, SPENT, LATER, COSTS, validate_every=500)


def test_fixed_steps_get_a_time_limit_only() -> None:
    fixed = TrainingCosts(per_step=None, startup=0.0, overhead=1.0, per_validation=2.0)
    plan = plan_budget(780.0, SPENT, LATER, fixed, validate_every=2, steps=4)
    assert plan.steps == 4 and plan.training == pytest.approx(630.0)
    assert plan.step_seconds == pytest.approx(630.0 - 1.0 - 2 * 2.0)
    with pytest.raises(InvalidValueError, match="needs the measured seconds per step"):
        plan_budget(780.0, SPENT, LATER, fixed, validate_every=2)


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_the_plan_on_a_fake_clock(monkeypatch) -> None:
    """The timing run, the rehearsal of each later phase and the plan, with every phase's seconds set on a
    fake clock: each later phase is planned as its first part plus its other parts at the second part's
    seconds, and training gets the budget less what was spent, what is planned and the margin."""
    from types import SimpleNamespace

    import tfprobe.recurrent.lab as lab
    from tfprobe.datasets.scenes import Scenes
    from tfprobe.recurrent.lab import TRAINED_DECODING_FACTOR

    clock = FakeClock()
    monkeypatch.setattr(lab, "_now", clock)
    seconds = {"evaluate": [7.0, 2.0], "decode": [30.0, 10.0], "perturb": [20.0, 8.0], "write": [9.0]}

    def costing(name: str, value: object):
        def run(*args, **kwargs):
            clock.advance(seconds[name].pop(0))
            return value

        return run

    monkeypatch.setattr(lab, "evaluate", costing("evaluate", {"loss": 1.0, "accuracy": 0.5}))
    monkeypatch.setattr(lab, "decode_through_time", costing("decode", None))
    monkeypatch.setattr(lab, "perturb_flows", costing("perturb", None))
    monkeypatch.setattr(lab, "_write_results", costing("write", {}))
    # 30 steps timed: 0.5 s per step after 9 s of compiling; 16 s of the 40 s call outside the steps.
    history = [{"step": 10, "seconds": 14.0}, {"step": 20, "seconds": 19.0}, {"step": 30, "seconds": 24.0}]

    def time_training(settings):
        clock.advance(40.0)
        return "throwaway", SimpleNamespace(history=history), 40.0

    monkeypatch.setattr(lab, "_time_training", time_training)

    images = np.zeros((600, 1, 1, 1), np.float32)
    test = Scenes(images, images, {"category": np.zeros(600, np.int64)}, None)
    scenes = lab._LabScenes(test, ["repetition 0", "repetition 1"], ["perturbed"], {}, [], 0.001)
    settings = LabSettings(test_scenes=600, validation=1000, validate_every=500, minutes=13.0)
    started = clock()
    clock.advance(5.0)  # importing, preparing the folder
    timings = {"startup": 5.0}
    clock.advance(3.0)
    timings["scenes"] = 3.0

    def timed(name, work):
        value, spent = lab._timed(work)
        timings[name] = round(spent, 1)
        return value

    lines: list[str] = []
    plan = lab._plan(settings, scenes, None, timings, timed, started, lines.append)
    assert plan.spent == {"startup": 5.0, "scenes": 3.0, "timing run": 40.0, "rehearsal": 86.0}
    assert plan.later == {
        "evaluation": 7.0 + (2 * 3 - 1) * 2.0,  # 600 scenes: 3 batches of 250, cluttered and clean
        # 2 repetitions, cluttered and clean; the trained network's parts take longer than the throwaway's.
        "decoding": 30.0 + (2 * 2 - 1) * 10.0 + (TRAINED_DECODING_FACTOR - 1) * 2 * 2 * 10.0,
        "perturbation": 20.0 + (6 - 1) * 8.0,  # 6 perturbations of 1 repetition
        "results and report": 9.0,
    }
    # The 1,000 validation scenes: drawn at 0.001 s a scene, evaluated at 2 s per 250.
    costs = plan.costs
    assert (costs.per_step, costs.startup, costs.overhead, costs.per_validation) == pytest.approx((0.5, 9, 17, 8))
    later = sum(plan.later.values())
    assert plan.margin == pytest.approx(MARGIN_SHARE * later)
    assert plan.training == pytest.approx(780.0 - 134.0 - later - MARGIN_SHARE * later)

    def needs(steps: int) -> float:  # set-up 9 + 17 s, 0.5 s per step, a validation (8 s) every 500 steps
        return (26.0 + 0.5 * steps + 8.0 * math.ceil(steps / 500)) / STEP_SHARE

    assert needs(plan.steps) <= plan.training < needs(plan.steps + 1)
    assert f"{plan.steps} steps at 0.500 s per step" in lines[-1]


def test_the_timing_run_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    """The throwaway network trains TIMING_STEPS steps of the real loop in memory; its history gives the
    seconds per step, the compiling before them and the set-up outside them."""
    from tfprobe.recurrent.lab import TIMING_STEPS, _run_steps, _time_training, _training_costs

    monkeypatch.chdir(tmp_path)
    settings = LabSettings(timesteps=2, n_feats=2, validation=16, use_downloaded=False)
    network, result, seconds = _time_training(settings)
    assert [entry["step"] for entry in result.history] == [10, 20, TIMING_STEPS] and result.folder is None
    assert network.timesteps == 2 and list(tmp_path.iterdir()) == []
    costs = _training_costs(settings, (result, seconds), evaluating=0.01, drawing=0.002)
    assert costs.per_step > 0 and costs.startup >= 0 and costs.per_validation == pytest.approx(16 * 0.01)
    assert costs.overhead >= 16 * 0.002

    assert _run_steps(tmp_path / "training") is None
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "run.json").write_text(json.dumps({"steps": 77}))
    assert _run_steps(tmp_path / "training") == 77  # a killed run resumes with its own number of steps


@pytest.mark.parametrize("minutes", [0, -1.0, float("nan"), float("inf"), "13", True])
def test_minutes_must_be_a_positive_number(tmp_path, minutes) -> None:
    with pytest.raises(InvalidValueError, match=r"minutes .* must be a positive number"):
        run_lab(tmp_path / "lab", LabSettings(minutes=minutes), log=lambda line: None)
    with pytest.raises(InvalidValueError, match="give minutes, or steps"):
        run_lab(tmp_path / "lab", LabSettings(minutes=None, use_downloaded=False), log=lambda line: None)
    assert list(tmp_path.iterdir()) == []
