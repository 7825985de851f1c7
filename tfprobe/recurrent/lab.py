"""The recurrent-network lab end to end: weights, evaluation, decoding, perturbation, figures and report.

:func:`run_lab` is what ``tfprobe rnn run --out DIR`` runs.  It takes the authors' trained checkpoint
when there is one (given, or downloaded earlier with ``tfprobe rnn download``), and otherwise trains the
network here on a budget a 2-core CPU finishes in minutes; then it measures the read-out on cluttered and
clean test scenes, decodes every variable from every layer, time step and recurrent flow (Figure 3A),
perturbs the recurrent flows (Figure 4D), and writes every result, figure and a self-contained HTML
report to ``DIR``.

The whole run keeps to a time budget (``minutes``, 13 by default): before training, the lab draws every
scene it will analyse, times the training loop on a throwaway copy of the network, and rehearses a part
of each later phase (evaluation, decoding, perturbation, results and report) on that copy, extrapolated
to the run's sizes; training gets what the budget leaves after those phases and a margin
(:mod:`tfprobe.recurrent.budget`).  The report states the plan and the seconds each phase took.

The folder is built beside ``DIR`` (``DIR.partial``) and renamed when complete, so ``DIR`` is either
whole or absent.  A run that is killed keeps ``DIR.partial``: started again with the same settings, its
training resumes from the last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from tfprobe.atomic import staged
from tfprobe.datasets.perturbations import PERTURBATIONS, PerturbedScenes
from tfprobe.datasets.scenes import ClutteredScenes, Scenes
from tfprobe.errors import ExistingOutputError, InvalidValueError, MissingFileError
from tfprobe.models.architecture import parse_checkpoint_filename
from tfprobe.models.gain_rnn import GainModulatedRNN
from tfprobe.recurrent.budget import BudgetPlan, TrainingCosts, plan_budget
from tfprobe.recurrent.flow_perturbation import FlowPerturbationResult, perturb_flows
from tfprobe.recurrent.time_decoding import IMAGE_TYPES, TimeDecodingResult, decode_through_time
from tfprobe.recurrent.training import (
    EVALUATION_BATCH_SIZE,
    RUN_FILE,
    TrainingResult,
    checkpointed_progress,
    evaluate,
    train,
)
from tfprobe.validation import is_real

__all__ = ["LabSettings", "run_lab"]

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"


@dataclasses.dataclass(frozen=True)
class LabSettings:
    """What the lab runs: the network, where its weights come from, and the size of each analysis.

    Attributes
    ----------
    code, timesteps, n_feats
        The network (the authors' published checkpoints are ``bglt_0111`` and ``bglt_1011``, 4 steps).
    checkpoint : path, optional
        Weights to use: the authors' ``.pth`` or a ``.weights.h5`` written by tfprobe.  Default: the
        authors' file in the download folder when it is there, else train.
    use_downloaded : bool
        Look in the download folder (``tfprobe rnn download``) for the authors' checkpoint.
    steps, schedule
        The training when there are no weights to load.  ``steps=None`` (the default) trains for as many
        steps as fit in the time the budget leaves for training on this machine (timed first on a throwaway
        copy of the network, so that the schedule's decay ends within them: a run cut short by the time
        limit stops at a high learning rate); give ``steps`` for a fixed, machine-independent run.
    minutes
        The whole run's wall time, 13 by default (so that it ends within 13.5 minutes).  Before training,
        the lab measures what the phases after it cost here, keeps a margin, and gives training the rest
        (:mod:`tfprobe.recurrent.budget`); training stops at its share even when a fixed ``steps`` would
        take longer.  None: no limit (then give ``steps``).
    validation, validate_every
        Validation scenes and interval while training.
    test_scenes
        Cluttered test scenes for the read-out accuracy (the clean versions too).
    decoding_scenes, decoding_repetitions, n_test
        Scenes per repetition for decoding (the original: 1,000), repetitions (10) and test scenes (200);
        by default 500, 2 and 100, to leave the training most of the budget.
    perturbation_scenes, perturbation_repetitions
        Scenes per repetition of the flow perturbation (the original: 1,000 x 5).
    seed
        Seeds the weights, the training stream and every set of scenes.
    """

    code: str = "bglt_0111"
    timesteps: int = 4
    n_feats: int = 8
    checkpoint: str | None = None
    use_downloaded: bool = True
    steps: int | None = None
    schedule: str = "fast"
    minutes: float | None = 13.0
    validation: int = 1000
    validate_every: int = 500
    test_scenes: int = 2000
    decoding_scenes: int = 500
    decoding_repetitions: int = 2
    n_test: int = 100
    perturbation_scenes: int = 100
    perturbation_repetitions: int = 1
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _new_network(settings: LabSettings) -> GainModulatedRNN:
    """A freshly initialised network of the lab's flags, time steps and width."""
    return GainModulatedRNN.from_code(settings.code, timesteps=settings.timesteps, n_feats=settings.n_feats)


def _authors_checkpoint(settings: LabSettings) -> Path | None:
    if settings.checkpoint is not None or not settings.use_downloaded or settings.timesteps != 4:
        return None
    from tfprobe.models.download import AUTHOR_CHECKPOINTS, find_checkpoint

    return find_checkpoint(settings.code) if settings.code in AUTHOR_CHECKPOINTS else None


def _check_checkpoint(path: Path, settings: LabSettings) -> None:
    if not path.is_file():
        raise MissingFileError(f"checkpoint {str(path)!r} does not exist")
    if path.suffix == ".pth":
        named = parse_checkpoint_filename(path.name)
        if named is not None and (named[0].code, named[1]) != (settings.code, settings.timesteps):
            from tfprobe.errors import CheckpointMismatchError

            raise CheckpointMismatchError(
                f"{path.name} holds a {named[0].code} network with {named[1]} time steps, but the lab was asked "
                f"for {settings.code} with {settings.timesteps}; give --code {named[0].code} --timesteps {named[1]}"
            )
    elif not path.name.endswith(".weights.h5"):
        raise InvalidValueError(f"checkpoint {path.name!r}: expected the authors' .pth or a tfprobe .weights.h5 file")


def _load(path: Path, settings: LabSettings) -> GainModulatedRNN:
    _check_checkpoint(path, settings)
    if path.suffix == ".pth":
        from tfprobe.models.loading import load_model

        return load_model(path, code=settings.code, timesteps=settings.timesteps, n_feats=settings.n_feats)
    model = _new_network(settings)
    model.build((None, 100, 100, 1))
    model.load_weights(path)
    return model


def _weights_file(settings: LabSettings) -> Path | None:
    """The weights to load (given, or the authors' downloaded checkpoint), or None to train."""
    return Path(settings.checkpoint) if settings.checkpoint is not None else _authors_checkpoint(settings)


def _weights(
    settings: LabSettings,
    folder: Path,
    steps: int | None,
    max_seconds: float | None,
    log: Callable[[str], None],
    progress: bool,
) -> tuple[GainModulatedRNN, str, TrainingResult | None]:
    """The network and a sentence saying where its weights came from (and the training, if any)."""
    path = _weights_file(settings)
    if path is not None:
        model = _load(path, settings)
        origin = "the authors' checkpoint" if path.suffix == ".pth" else "a tfprobe weights file"
        return model, f"{origin} {path.resolve()}", None
    log(f"no checkpoint given or downloaded: training {settings.schedule} for {steps} steps")
    keras.utils.set_random_seed(settings.seed)
    model = _new_network(settings)
    result = train(
        model,
        steps,
        schedule=settings.schedule,
        seed=settings.seed,
        validation=settings.validation,
        validate_every=settings.validate_every,
        folder=folder / "training",
        max_seconds=max_seconds,
        progress=progress,
    )
    source = (
        f"trained here: {result.steps} steps of the {result.schedule.name} schedule "
        f"({result.schedule.describe()}) in {result.seconds / 60:.1f} minutes"
    )
    return model, source, result


#: Steps of the real training loop timed on a throwaway network to plan ``steps=None``.
TIMING_STEPS = 30
_TIMING_INTERVAL = 10

#: The lab's clock (tests replace it).
_now = time.perf_counter


def _timed(work: Callable[[], Any]) -> tuple[Any, float]:
    """What ``work()`` returns, and the seconds it took."""
    begin = _now()
    value = work()
    return value, _now() - begin


@dataclasses.dataclass(frozen=True)
class _LabScenes:
    """Every scene the analyses use, drawn before training (so that drawing them is measured, not guessed)."""

    test: Scenes
    decoding: list[Scenes]
    perturbation: list[PerturbedScenes]
    sources: dict[str, str]
    embedded: list[str]
    seconds_per_scene: float  # drawing one test scene


def _perturbs(settings: LabSettings) -> bool:
    """Whether the network has recurrent flows to perturb."""
    network = _new_network(settings)
    return network.timesteps > 1 and bool(network.flow_stages())


def _draw_scenes(settings: LabSettings, perturbing: bool) -> _LabScenes:
    """The test scenes, the scenes of each decoding repetition and those of each perturbation repetition."""
    generator = ClutteredScenes("test", seed=settings.seed + 2, allow_single_split=True)
    test, seconds = _timed(lambda: generator.sample(settings.test_scenes))
    decoding = ClutteredScenes("test", seed=settings.seed + 3, allow_single_split=True)
    perturbed = ClutteredScenes("test", seed=settings.seed + 4, allow_single_split=True)
    repetitions = settings.perturbation_repetitions if perturbing else 0
    return _LabScenes(
        test=test,
        decoding=[decoding.sample(settings.decoding_scenes) for _ in range(settings.decoding_repetitions)],
        perturbation=[perturbed.sample_perturbed(settings.perturbation_scenes) for _ in range(repetitions)],
        sources=dict(generator.sources),
        embedded=list(generator.embedded),
        seconds_per_scene=seconds / len(test),
    )


def _run_steps(training_folder: Path) -> int | None:
    """The steps of the training run being resumed in ``training_folder`` (None when there is none)."""
    run_file = training_folder / RUN_FILE
    return int(json.loads(run_file.read_text())["steps"]) if run_file.is_file() else None


def _time_training(settings: LabSettings) -> tuple[GainModulatedRNN, TrainingResult, float]:
    """Train a throwaway copy of the network for ``TIMING_STEPS`` steps of the real loop (streamed scenes,
    compiled step); return it, its result and the seconds the whole call took."""
    throwaway = _new_network(settings)
    result, seconds = _timed(
        lambda: train(
            throwaway,
            TIMING_STEPS,
            schedule=settings.schedule,
            seed=settings.seed,
            validation=8,
            validate_every=_TIMING_INTERVAL,
            progress=False,
        )
    )
    return throwaway, result, seconds


def _training_costs(
    settings: LabSettings, timing: tuple[TrainingResult, float] | None, evaluating: float, drawing: float
) -> TrainingCosts:
    """What training costs here, from the timing run (if any: it is skipped when the steps are known) and
    the seconds per scene of evaluating and of drawing scenes."""
    drawn = settings.validation * drawing  # the validation scenes, drawn when training starts
    per_validation = settings.validation * evaluating
    if timing is None:
        return TrainingCosts(per_step=None, startup=0.0, overhead=drawn, per_validation=per_validation)
    result, seconds = timing
    first, last = result.history[0], result.history[-1]
    per_step = (last["seconds"] - first["seconds"]) / (last["step"] - first["step"])
    startup = max(0.0, first["seconds"] - first["step"] * per_step)  # tracing and compiling
    # Outside its steps the timing run set up its stream and validated (compiling the evaluation too).
    overhead = max(0.0, seconds - last["seconds"]) + drawn
    return TrainingCosts(per_step=per_step, startup=startup, overhead=overhead, per_validation=per_validation)


def _first(scenes: Scenes, n: int) -> Scenes:
    """The first ``n`` scenes: images, clean images and labels (the layout, not needed here, stays whole)."""
    labels = {name: values[:n] for name, values in scenes.labels.items()}
    return dataclasses.replace(scenes, images=scenes.images[:n], clean=scenes.clean[:n], labels=labels)


#: The perturbations the rehearsal runs: each a whole group of Figure 4D, so that its figure can be drawn.
_REHEARSED_PERTURBATIONS = ("orientation", "scale")


#: How much longer decoding takes on the trained network than on the throwaway copy it is rehearsed on:
#: the decoder's solver needs more iterations to fit a trained network's features (1.3 to 1.6 times as
#: long, the same scenes side by side on a 2-core CPU, after 600 training steps).
TRAINED_DECODING_FACTOR = 1.5


def _rehearse(
    network: GainModulatedRNN, scenes: _LabScenes, settings: LabSettings, training: TrainingResult | None
) -> tuple[dict[str, float], float]:
    """Plan the phases after training by running a part of each on ``network`` (a throwaway copy).

    A phase is planned as its first part, which also traces and compiles what the phase runs (counted
    once: the trained network may need it again), and as many more parts as the phase has, each as long as
    the second part.  Evaluation: a batch of cluttered scenes, then the same batch clean; decoding: the
    first repetition's cluttered scenes, then its clean ones (the parts on the trained network counted
    ``TRAINED_DECODING_FACTOR`` times as long); perturbation: one perturbation, then another,
    on the first repetition's scenes; results, figures and report: all of them, into a temporary folder.

    Returns
    -------
    dict of str to float, and float
        The planned seconds of each phase after training, and evaluation's seconds per scene.
    """
    later: dict[str, float] = {}
    n_test = settings.n_test
    batch = _first(scenes.test, min(EVALUATION_BATCH_SIZE, len(scenes.test)))
    cluttered, first = _timed(lambda: evaluate(network, batch))
    clean, again = _timed(lambda: evaluate(network, batch, clean=True))
    later["evaluation"] = first + (2 * math.ceil(len(scenes.test) / len(batch)) - 1) * again
    decodings = [
        _timed(lambda kind=kind: decode_through_time(network, scenes.decoding[:1], n_test=n_test, image_types=[kind]))
        for kind in IMAGE_TYPES
    ]
    decoding = decodings[0][0]  # the cluttered scenes: enough for the figures and report
    (_, first_set), (_, next_set) = decodings
    sets = len(scenes.decoding) * len(IMAGE_TYPES)
    later["decoding"] = first_set + (sets - 1) * next_set + (TRAINED_DECODING_FACTOR - 1) * sets * next_set
    perturbation = None
    if scenes.perturbation:
        runs = [
            _timed(lambda kind=kind: perturb_flows(network, scenes.perturbation[:1], perturbations=[kind]))
            for kind in _REHEARSED_PERTURBATIONS
        ]
        perturbation = runs[-1][0]
        parts = len(scenes.perturbation) * len(PERTURBATIONS)
        later["perturbation"] = runs[0][1] + (parts - 1) * runs[1][1]
    accuracy = {"cluttered": cluttered, "clean": clean}
    with tempfile.TemporaryDirectory(prefix="tfprobe-rehearsal-") as folder:
        written = _Written(network, scenes, accuracy, decoding, perturbation, training, "a rehearsal", settings)
        _, later["results and report"] = _timed(lambda: _write_results(Path(folder), written, None, {}, _now()))
    return later, again / len(batch)


def _plan(
    settings: LabSettings,
    scenes: _LabScenes,
    steps: int | None,
    timings: dict[str, float],
    timed: Callable[[str, Callable[[], Any]], Any],
    started: float,
    log: Callable[[str], None],
) -> BudgetPlan:
    """Measure what training and the phases after it cost here, and divide the budget between them."""
    timing = None
    if steps is None:
        network, result, seconds = timed("timing run", lambda: _time_training(settings))
        timing = (result, seconds)
    else:
        network, result = _new_network(settings), None
    later, evaluating = timed("rehearsal", lambda: _rehearse(network, scenes, settings, result))
    costs = _training_costs(settings, timing, evaluating, scenes.seconds_per_scene)
    # Everything before the plan that no phase timed (importing, preparing the folder) counts as starting up.
    timings["startup"] = round(_now() - started - sum(v for k, v in timings.items() if k != "startup"), 1)
    plan = plan_budget(
        60.0 * settings.minutes, timings, later, costs, validate_every=settings.validate_every, steps=steps
    )
    per_step = "" if costs.per_step is None else f" at {costs.per_step:.3f} s per step"
    log(
        f"budget {settings.minutes:g} minutes: {sum(plan.spent.values()):.0f} s spent; training "
        f"{plan.training:.0f} s for {plan.steps} steps{per_step}; then "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in plan.later.items())
        + f", and a {plan.margin:.0f} s margin"
    )
    return plan


def _prepare(out: Path, overwrite: bool, settings: LabSettings) -> Path:
    """The folder to build in (``out.partial``), refusing an existing ``out`` unless ``overwrite``."""
    if out.exists() and not overwrite:
        raise ExistingOutputError(
            f"output folder {str(out)!r} exists: choose another, or pass --overwrite to replace it"
        )
    if not out.parent.is_dir():
        raise MissingFileError(f"folder {str(out.parent)!r} for {out.name!r} does not exist")
    partial = out.with_name(out.name + ".partial")
    settings_file = partial / "settings.json"
    if partial.is_dir():
        if settings_file.is_file() and json.loads(settings_file.read_text()) == settings.to_dict():
            return partial  # a killed run: its training resumes from the last checkpoint
        shutil.rmtree(partial)
    partial.mkdir()
    _write_json(settings_file, settings.to_dict())
    return partial


def _write_json(path: Path, value: Any) -> None:
    with staged(path) as temporary:
        temporary.write_text(json.dumps(value, indent=1, default=str) + "\n")


@dataclasses.dataclass(frozen=True)
class _Written:
    """What a run writes: the network, its scenes and results, where its weights came from, its settings."""

    model: GainModulatedRNN
    scenes: _LabScenes
    accuracy: dict[str, dict[str, float]]
    decoding: TimeDecodingResult
    perturbation: FlowPerturbationResult | None
    training: TrainingResult | None
    source: str
    settings: LabSettings


def _summary(written: _Written, plan: BudgetPlan | None, timings: dict[str, float]) -> dict[str, Any]:
    model, training, decoding = written.model, written.training, written.decoding
    cluttered, clean = written.accuracy["cluttered"], written.accuracy["clean"]
    return {
        "test_accuracy": cluttered["accuracy"],
        "clean_test_accuracy": clean["accuracy"],
        "test_loss": cluttered["loss"],
        "test_scenes": len(written.scenes.test),
        "training_steps": training.steps if training is not None else None,
        "training_seconds": round(training.seconds, 1) if training is not None else None,
        "training_resumed_from": training.resumed_from if training is not None else None,
        "schedule": training.schedule.name if training is not None else None,
        "weights_source": written.source,
        "model": {"code": model.flags.code, "timesteps": model.timesteps, "n_feats": model.n_feats},
        "auxiliary_decoding_through_time": [round(float(v), 4) for v in decoding.auxiliary_through_time()],
        "category_decoding_fc1": [
            round(float(v), 4)
            for v in decoding.activations.sel(layer="fc1", variable="category", image_type="cluttered").mean(-1)
        ],
        "data": {"sources": written.scenes.sources, "embedded_test_split": written.scenes.embedded},
        "settings": written.settings.to_dict(),
        "machine": {"python": platform.python_version(), "processor": platform.machine(), "cpus": os.cpu_count()},
        "budget": plan.to_dict() if plan is not None else None,
        "timings": dict(timings),
        "seconds": timings.get("total"),
    }


def _write_results(
    folder: Path, written: _Written, plan: BudgetPlan | None, timings: dict[str, float], started: float
) -> dict[str, Any]:
    """Save the weights, results, figures, report and summary into ``folder``, and return the summary.

    ``timings`` receives this phase's seconds (``"results and report"``, up to the report's own writing) and
    the total since ``started``.
    """
    from tfprobe.recurrent.lab_report import write_lab_figures, write_lab_report

    begin = _now()
    written.model.save_weights(folder / "model.weights.h5")
    written.decoding.save(folder / "decoding.h5", overwrite=True)
    if written.perturbation is not None:
        written.perturbation.save(folder / "perturbation.h5", overwrite=True)
    figures = write_lab_figures(
        folder, written.model, written.scenes.test, written.decoding, written.perturbation, written.training
    )
    timings["results and report"] = round(_now() - begin, 1)
    timings["total"] = round(_now() - started, 1)
    summary = _summary(written, plan, timings)
    write_lab_report(folder / REPORT_FILE, summary, written.decoding, written.perturbation, figures, written.model)
    _write_json(folder / SUMMARY_FILE, summary)
    return summary


def _check_budget(settings: LabSettings) -> None:
    minutes = settings.minutes
    if minutes is not None and (not is_real(minutes) or not math.isfinite(minutes) or minutes <= 0):
        raise InvalidValueError(f"minutes (the whole run's wall time) must be a positive number, got {minutes!r}")
    if minutes is None and settings.steps is None and _weights_file(settings) is None:
        raise InvalidValueError("steps=None trains for as many steps as fit in the time budget: give minutes, or steps")


def run_lab(
    out: str | os.PathLike[str],
    settings: LabSettings | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    started: float | None = None,
) -> dict[str, Any]:
    """Run the whole lab within its time budget and write its results, figures, report and summary to ``out``.

    Parameters
    ----------
    out : path
        Folder to create (refused when it exists, unless ``overwrite``).
    settings : LabSettings, optional
    overwrite : bool
        Replace ``out``.
    progress : bool
        Progress bars.
    log : callable
        Where progress lines go.
    started : float, optional
        The ``time.perf_counter()`` the budget counts from (default: now); the command line passes the
        moment it started, so that importing TensorFlow counts too.

    Returns
    -------
    dict
        The summary also written to ``summary.json``: ``test_accuracy``, ``clean_test_accuracy``,
        ``training_steps``, ``weights_source``, ``budget`` (the plan: seconds per phase and steps; None
        without training or without ``minutes``), ``timings`` (the seconds each phase took), ``seconds``
        (in all) and more.

    Raises
    ------
    ExistingOutputError
        ``out`` exists and ``overwrite`` is false.
    CheckpointMismatchError
        A checkpoint for other flags or time steps.
    InvalidValueError
        ``minutes`` is not a positive number, neither ``minutes`` nor ``steps`` says how long to train, or
        the budget is too small for the run (the message names the smallest that would do).
    """
    started = _now() if started is None else started
    settings = settings or LabSettings()
    _check_budget(settings)
    out = Path(out)
    partial = _prepare(out, overwrite, settings)
    timings: dict[str, float] = {"startup": round(_now() - started, 1)}

    def timed(name: str, work: Callable[[], Any]) -> Any:
        value, seconds = _timed(work)
        timings[name] = round(seconds, 1)
        log(f"{name}: {seconds:.1f} s")
        return value

    scenes = timed("scenes", lambda: _draw_scenes(settings, _perturbs(settings)))
    plan, steps, max_seconds = None, settings.steps, None
    training_folder = partial / "training"
    trains = _weights_file(settings) is None
    if trains:
        steps = _run_steps(training_folder) or steps  # a killed run resumes with its own number of steps
        if settings.minutes is not None:
            plan = _plan(settings, scenes, steps, timings, timed, started, log)
            steps = plan.steps
            max_seconds = checkpointed_progress(training_folder)[1] + plan.step_seconds
    model, source, training = timed(
        "training" if trains else "weights", lambda: _weights(settings, partial, steps, max_seconds, log, progress)
    )
    accuracy = timed(
        "evaluation",
        lambda: {"cluttered": evaluate(model, scenes.test), "clean": evaluate(model, scenes.test, clean=True)},
    )
    log(f"test accuracy: cluttered {accuracy['cluttered']['accuracy']:.3f}, clean {accuracy['clean']['accuracy']:.3f}")
    decoding: TimeDecodingResult = timed(
        "decoding", lambda: decode_through_time(model, scenes.decoding, n_test=settings.n_test, progress=progress)
    )
    perturbation: FlowPerturbationResult | None = None
    if scenes.perturbation:
        perturbation = timed(
            "perturbation", lambda: perturb_flows(model, scenes.perturbation, seed=settings.seed, progress=progress)
        )
    written = _Written(model, scenes, accuracy, decoding, perturbation, training, source, settings)
    summary = _write_results(partial, written, plan, timings, started)
    log(f"results and report: {timings['results and report']:.1f} s; {timings['total']:.1f} s in all")
    if out.exists():
        shutil.rmtree(out)
    os.replace(partial, out)
    log(f"wrote {out.resolve() / REPORT_FILE}")
    return summary
