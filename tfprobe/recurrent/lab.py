"""The recurrent-network lab end to end: weights, evaluation, decoding, perturbation, figures and report.

:func:`run_lab` is what ``tfprobe rnn run --out DIR`` runs.  It takes the authors' trained checkpoint
when there is one (given, or downloaded earlier with ``tfprobe rnn download``), and otherwise trains the
network here on a budget a 2-core CPU finishes in minutes; then it measures the read-out on cluttered and
clean test scenes, decodes every variable from every layer, time step and recurrent flow (Figure 3A),
perturbs the recurrent flows (Figure 4D), and writes every result, figure and a self-contained HTML
report to ``DIR``.

The folder is built beside ``DIR`` (``DIR.partial``) and renamed when complete, so ``DIR`` is either
whole or absent.  A run that is killed keeps ``DIR.partial``: started again with the same settings, its
training resumes from the last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from tfprobe.atomic import staged
from tfprobe.datasets.scenes import ClutteredScenes
from tfprobe.models.architecture import parse_checkpoint_filename
from tfprobe.models.gain_rnn import GainModulatedRNN
from tfprobe.recurrent.flow_perturbation import FlowPerturbationResult, perturb_flows
from tfprobe.recurrent.time_decoding import TimeDecodingResult, decode_through_time
from tfprobe.recurrent.training import RUN_FILE, TrainingResult, evaluate, train

__all__ = ["LabSettings", "run_lab"]

#: The original's accuracy on cluttered test scenes (bglt_0111, 4 time steps, 300,000 steps on a GPU).
ORIGINAL_ACCURACY = 0.81
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
    steps, schedule, max_minutes
        The training budget when there are no weights to load.  ``steps=None`` (the default) trains for
        as many steps as fit in ``max_minutes`` on this machine (timed first on a throwaway copy of the
        network, so that the schedule's decay ends within the budget: a run cut short by the time limit
        stops at a high learning rate); give ``steps`` for a fixed, machine-independent run.  Default: the
        fast schedule for 12 minutes of training, so that the whole lab takes under 15 minutes on 2 CPU
        cores.
    validation, validate_every
        Validation scenes and interval while training.
    test_scenes
        Cluttered test scenes for the read-out accuracy (the clean versions too).
    decoding_scenes, decoding_repetitions, n_test
        Scenes per repetition for decoding (the original: 1,000), repetitions (10) and test scenes (200);
        by default 500, 2 and 100, to leave the training most of a 15-minute budget.
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
    max_minutes: float | None = 12.0
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
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    if path.suffix == ".pth":
        named = parse_checkpoint_filename(path.name)
        if named is not None and (named[0].code, named[1]) != (settings.code, settings.timesteps):
            from tfprobe.errors import CheckpointMismatchError

            raise CheckpointMismatchError(
                f"{path.name} holds a {named[0].code} network with {named[1]} time steps, but the lab was asked "
                f"for {settings.code} with {settings.timesteps}; give --code {named[0].code} --timesteps {named[1]}"
            )
    elif not path.name.endswith(".weights.h5"):
        raise ValueError(f"checkpoint {path.name!r}: expected the authors' .pth or a tfprobe .weights.h5 file")


def _load(path: Path, settings: LabSettings) -> GainModulatedRNN:
    _check_checkpoint(path, settings)
    if path.suffix == ".pth":
        from tfprobe.models.loading import load_model

        return load_model(path, code=settings.code, timesteps=settings.timesteps, n_feats=settings.n_feats)
    model = _new_network(settings)
    model.build((None, 100, 100, 1))
    model.load_weights(path)
    return model


def _weights(settings: LabSettings, folder: Path, log: Callable[[str], None], progress: bool) -> tuple[
    GainModulatedRNN, str, TrainingResult | None
]:
    """The network and a sentence saying where its weights came from (and the training, if any)."""
    given = Path(settings.checkpoint) if settings.checkpoint is not None else None
    downloaded = _authors_checkpoint(settings)
    if given is not None or downloaded is not None:
        path = given or downloaded
        model = _load(path, settings)
        origin = "the authors' checkpoint" if path.suffix == ".pth" else "a tfprobe weights file"
        return model, f"{origin} {path.resolve()}", None
    steps = settings.steps if settings.steps is not None else _steps_in_budget(settings, folder / "training", log)
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
        max_seconds=None if settings.max_minutes is None else 60.0 * settings.max_minutes,
        progress=progress,
    )
    source = (
        f"trained here: {result.steps} steps of the {result.schedule.name} schedule "
        f"({result.schedule.describe()}) in {result.seconds / 60:.1f} minutes"
    )
    return model, source, result


#: Steps of the real training loop timed on a throwaway network to fit ``steps=None`` to the time budget.
TIMING_STEPS = 30
_TIMING_INTERVAL = 10


def _steps_in_budget(settings: LabSettings, training_folder: Path, log: Callable[[str], None]) -> int:
    """Training steps that fit in ``settings.max_minutes`` here: those of the run being resumed in
    ``training_folder``, else timed on ``TIMING_STEPS`` steps of the real loop (streamed scenes, compiled
    step) of a throwaway copy of the network."""
    run_file = training_folder / RUN_FILE
    if run_file.is_file():
        return int(json.loads(run_file.read_text())["steps"])
    if settings.max_minutes is None:
        raise ValueError("steps=None trains for as long as max_minutes allows: give max_minutes, or steps")
    budget = 60.0 * settings.max_minutes
    throwaway = _new_network(settings)
    timing = train(
        throwaway,
        TIMING_STEPS,
        schedule=settings.schedule,
        seed=settings.seed,
        validation=8,
        validate_every=_TIMING_INTERVAL,
        progress=False,
    ).history
    per_step = (timing[-1]["seconds"] - timing[0]["seconds"]) / (timing[-1]["step"] - timing[0]["step"])
    startup = max(0.0, timing[0]["seconds"] - timing[0]["step"] * per_step)  # tracing and compiling
    steps = max(1, int(0.98 * (budget - startup) / per_step))
    log(f"training speed here: {per_step:.3f} s per step; {steps} steps fit in {settings.max_minutes:g} minutes")
    return steps


def _prepare(out: Path, overwrite: bool, settings: LabSettings) -> Path:
    """The folder to build in (``out.partial``), refusing an existing ``out`` unless ``overwrite``."""
    if out.exists() and not overwrite:
        raise FileExistsError(f"output folder {str(out)!r} exists: choose another, or pass --overwrite to replace it")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"folder {str(out.parent)!r} for {out.name!r} does not exist")
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


def run_lab(
    out: str | os.PathLike[str],
    settings: LabSettings | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the whole lab and write its results, figures, report and summary to ``out``.

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

    Returns
    -------
    dict
        The summary also written to ``summary.json``: ``test_accuracy``, ``clean_test_accuracy``,
        ``training_steps``, ``weights_source``, ``seconds`` and more.

    Raises
    ------
    FileExistsError
        ``out`` exists and ``overwrite`` is false.
    CheckpointMismatchError
        A checkpoint for other flags or time steps.
    """
    from tfprobe.recurrent.lab_report import write_lab_figures, write_lab_report

    settings = settings or LabSettings()
    out = Path(out)
    started = time.perf_counter()
    partial = _prepare(out, overwrite, settings)
    timings: dict[str, float] = {}

    def timed(name: str, work: Callable[[], Any]) -> Any:
        begin = time.perf_counter()
        value = work()
        timings[name] = round(time.perf_counter() - begin, 1)
        log(f"{name}: {timings[name]:.1f} s")
        return value

    model, weights_source, training = timed("weights", lambda: _weights(settings, partial, log, progress))
    model.save_weights(partial / "model.weights.h5")

    test_generator = ClutteredScenes("test", seed=settings.seed + 2, allow_single_split=True)
    test = timed("test scenes", lambda: test_generator.sample(settings.test_scenes))
    cluttered = timed("evaluation", lambda: evaluate(model, test))
    clean = evaluate(model, test, clean=True)
    log(f"test accuracy: cluttered {cluttered['accuracy']:.3f}, clean {clean['accuracy']:.3f}")

    decoding: TimeDecodingResult = timed(
        "decoding",
        lambda: decode_through_time(
            model,
            ClutteredScenes("test", seed=settings.seed + 3, allow_single_split=True),
            n=settings.decoding_scenes,
            repetitions=settings.decoding_repetitions,
            n_test=settings.n_test,
            progress=progress,
        ),
    )
    decoding.save(partial / "decoding.h5", overwrite=True)
    perturbation: FlowPerturbationResult | None = None
    if model.timesteps > 1 and model.flow_stages():
        generator = ClutteredScenes("test", seed=settings.seed + 4, allow_single_split=True)
        scenes = [generator.sample_perturbed(settings.perturbation_scenes)
                  for _ in range(settings.perturbation_repetitions)]
        perturbation = timed("perturbation", lambda: perturb_flows(model, scenes, seed=settings.seed,
                                                                   progress=progress))
        perturbation.save(partial / "perturbation.h5", overwrite=True)

    summary: dict[str, Any] = {
        "test_accuracy": cluttered["accuracy"],
        "clean_test_accuracy": clean["accuracy"],
        "test_loss": cluttered["loss"],
        "test_scenes": settings.test_scenes,
        "training_steps": training.steps if training is not None else None,
        "training_seconds": round(training.seconds, 1) if training is not None else None,
        "training_resumed_from": training.resumed_from if training is not None else None,
        "schedule": training.schedule.name if training is not None else None,
        "weights_source": weights_source,
        "model": {"code": model.flags.code, "timesteps": model.timesteps, "n_feats": model.n_feats},
        "auxiliary_decoding_through_time": [round(float(v), 4) for v in decoding.auxiliary_through_time()],
        "category_decoding_fc1": [
            round(float(v), 4)
            for v in decoding.activations.sel(layer="fc1", variable="category", image_type="cluttered").mean(-1)
        ],
        "data": {"sources": dict(test_generator.sources), "embedded_test_split": list(test_generator.embedded)},
        "settings": settings.to_dict(),
        "machine": {"python": platform.python_version(), "processor": platform.machine(),
                    "cpus": os.cpu_count()},
    }
    figures = timed("figures", lambda: write_lab_figures(partial, model, test, decoding, perturbation, training))
    timings["total"] = round(time.perf_counter() - started, 1)
    summary["timings"] = timings
    summary["seconds"] = timings["total"]
    write_lab_report(partial / REPORT_FILE, summary, decoding, perturbation, figures, model)
    _write_json(partial / SUMMARY_FILE, summary)
    if out.exists():
        shutil.rmtree(out)
    os.replace(partial, out)
    log(f"wrote {out.resolve() / REPORT_FILE}")
    return summary
