"""The figures and the HTML report of :func:`tfprobe.recurrent.lab.run_lab`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from tfprobe.datasets.scenes import Scenes
from tfprobe.figures.activations_over_time import plot_activations_over_time
from tfprobe.figures.connections import plot_connections
from tfprobe.figures.flow_perturbation import plot_flow_perturbation
from tfprobe.figures.saving import save_figure
from tfprobe.figures.time_decoding import plot_auxiliary_through_time, plot_decoding_through_time, plot_flow_decoding
from tfprobe.figures.training import plot_learning_curves
from tfprobe.models.gain_rnn import GainModulatedRNN
from tfprobe.recurrent.connections import connections
from tfprobe.recurrent.flow_perturbation import FlowPerturbationResult
from tfprobe.recurrent.report import ReportSection, write_report
from tfprobe.recurrent.time_decoding import TimeDecodingResult
from tfprobe.recurrent.training import TrainingResult

__all__ = ["write_lab_figures", "write_lab_report"]

#: The original's accuracy on cluttered test scenes (bglt_0111, 4 time steps, 300,000 steps on a GPU).
ORIGINAL_ACCURACY = 0.81
ORIGINAL_AUXILIARY_THROUGH_TIME = (0.65, 0.73, 0.83, 0.85)


def write_lab_figures(
    folder: Path,
    model: GainModulatedRNN,
    test: Scenes,
    decoding: TimeDecodingResult,
    perturbation: FlowPerturbationResult | None,
    training: TrainingResult | None,
) -> dict[str, tuple[str, Figure]]:
    """Make every figure, save each as ``folder/figures/<name>.png`` and return them by name with captions."""
    figures: dict[str, tuple[str, Figure]] = {}
    if training is not None and training.history:
        figures["learning_curve"] = (
            "Validation accuracy against training steps and time (dashed: the original's 81% after 300,000 GPU steps).",
            plot_learning_curves({training.schedule.name: training.history}, reference=ORIGINAL_ACCURACY),
        )
    figures["connections"] = (
        "The network's connections: bottom-up, lateral and top-down, with their parameter counts.",
        plot_connections(model),
    )
    conv_stages = ("input", "conv1") if model.n_feats >= 1 else ("input",)
    figures["activations_over_time"] = (
        "Figure 3B: the input as the recurrent flows modulate it, and conv1 channel 0, over time steps for four "
        "test scenes (true and predicted labels).",
        plot_activations_over_time(model, test.images[:4], test.labels["category"][:4], stages=conv_stages),
    )
    figures["decoding_category"] = (
        "Figure 3A: category decoding from each layer through time (cluttered scenes, 95% bands over "
        "repetitions; dashed: chance).",
        plot_decoding_through_time(decoding),
    )
    if "clean" in decoding.activations.axes["image_type"]:
        figures["decoding_category_clean"] = (
            "Category decoding from clean images (the target alone).",
            plot_decoding_through_time(decoding, image_type="clean"),
        )
    figures["decoding_auxiliary"] = (
        "The category-orthogonal variables through time: location, scale, orientation (cluttered scenes).",
        plot_auxiliary_through_time(decoding),
    )
    if decoding.flows is not None:
        figures["decoding_flows"] = (
            "Decoding from the recurrent flow into each layer (cluttered scenes).",
            plot_flow_decoding(decoding),
        )
    if perturbation is not None:
        figures["perturbation"] = (
            "Figure 4D: functional importance of the recurrent flows, (control - perturbed) / original accuracy.",
            plot_flow_perturbation(perturbation),
        )
    (folder / "figures").mkdir(exist_ok=True)
    for name, (_, figure) in figures.items():
        save_figure(figure, folder / "figures" / f"{name}.png")
    return figures


def _connection_rows(model: GainModulatedRNN) -> list[list[Any]]:
    return [[c.direction, c.source, c.target, c.kind or "-", f"{c.parameters:,}"] for c in connections(model)]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _budget_section(summary: dict[str, Any]) -> ReportSection:
    """The time budget: the plan (seconds per phase, steps) beside the seconds each phase took."""
    budget, timings = summary["budget"], summary["timings"]
    planned: dict[str, float] = {}
    if budget is not None:
        planned = {**budget["spent"], "training": budget["training"], **budget["later"], "margin": budget["margin"]}
    phases = [*planned, *(name for name in timings if name not in planned and name != "total")]
    rows = [[name, _seconds(planned.get(name)), _seconds(timings.get(name))] for name in phases]
    rows.append(["total", _seconds(budget["seconds"] if budget is not None else None), _seconds(timings["total"])])
    if budget is None:
        text = (
            "No time budget was planned (the weights were loaded, or no time limit was given); the run took "
            f"{timings['total']:.0f} s up to writing this report."
        )
    else:
        per_step = budget["costs"]["per_step"]
        timed = "" if per_step is None else f" at {per_step:.3f} s per step (timed here on a throwaway network)"
        text = (
            f"Budget: {budget['seconds'] / 60:g} minutes ({budget['seconds']:.0f} s) for the whole run. Before "
            f"training, {sum(budget['spent'].values()):.0f} s went on {', '.join(budget['spent'])}; the phases after "
            f"training ({', '.join(budget['later'])}) were planned at {sum(budget['later'].values()):.0f} s from "
            f"rehearsing a part of each on the throwaway network, with a {budget['margin']:.0f} s margin; training "
            f"got the rest, {budget['training']:.0f} s (validations and set-up included) for {budget['steps']:,} "
            f"steps{timed}. The run took {timings['total']:.0f} s up to writing this report."
        )
    return ReportSection(
        "Time budget",
        paragraphs=[text],
        tables=[("Planned and actual seconds per phase", ["phase", "planned (s)", "actual (s)"], rows)],
    )


def write_lab_report(
    path: Path,
    summary: dict[str, Any],
    decoding: TimeDecodingResult,
    perturbation: FlowPerturbationResult | None,
    figures: dict[str, tuple[str, Figure]],
    model: GainModulatedRNN | None = None,
) -> Path:
    """Write the self-contained HTML report of a lab run."""
    model_info = summary["model"]
    through_time = summary["auxiliary_decoding_through_time"]
    sections = [
        ReportSection(
            "Network and weights",
            paragraphs=[
                f"Recurrent gain-modulated network {model_info['code']} with {model_info['timesteps']} time steps "
                f"and {model_info['n_feats']} conv1 channels (Thorat, Aldegheri & Kietzmann 2021).",
                f"Weights: {summary['weights_source']}.",
                "Data: "
                + "; ".join(f"{name} from {source}" for name, source in summary["data"]["sources"].items())
                + (
                    f" (from the 10,000-image test split embedded in tfprobe, divided into disjoint train, "
                    f"validation and test parts: {', '.join(summary['data']['embedded_test_split'])})"
                    if summary["data"]["embedded_test_split"]
                    else ""
                ),
            ],
            figures=[figures[name] for name in ("learning_curve", "connections") if name in figures],
        ),
        ReportSection(
            "Read-out accuracy",
            tables=[
                (
                    f"Category accuracy on {summary['test_scenes']:,} test scenes (the original: 81% on cluttered "
                    "scenes after 300,000 GPU steps)",
                    ["images", "accuracy"],
                    [["cluttered", summary["test_accuracy"]], ["clean", summary["clean_test_accuracy"]]],
                )
            ],
            figures=[figures["activations_over_time"]],
        ),
        ReportSection(
            "Decoding through layers and time (Figure 3A)",
            paragraphs=[
                "Auxiliary variables (location, scale, orientation), mean decoding through time: "
                + ", ".join(f"{v:.3f}" for v in through_time)
                + " (the original's trained networks: "
                + ", ".join(f"{v:.2f}" for v in ORIGINAL_AUXILIARY_THROUGH_TIME[: len(through_time)])
                + ")."
            ],
            preformatted=[decoding.summary()],
            figures=[
                figures[name]
                for name in ("decoding_category", "decoding_category_clean", "decoding_auxiliary", "decoding_flows")
                if name in figures
            ],
        ),
    ]
    if perturbation is not None:
        sections.append(
            ReportSection(
                "Perturbing the recurrent flow (Figure 4D)",
                preformatted=[perturbation.summary()],
                figures=[figures["perturbation"]],
            )
        )
    sections.append(_budget_section(summary))
    sections.append(
        ReportSection(
            "Configuration",
            preformatted=[json.dumps({"settings": summary["settings"], "machine": summary["machine"]}, indent=1)],
        )
    )
    if model is not None:
        sections[0].tables.append(
            ("Connections", ["direction", "from", "to", "kind", "parameters"], _connection_rows(model))
        )
    title = f"tfprobe recurrent-network lab: {model_info['code']}, {model_info['timesteps']} time steps"
    return write_report(path, title, sections, overwrite=True)
