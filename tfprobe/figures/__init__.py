"""Figures: every function returns a matplotlib ``Figure`` and saves it when given a path."""

from tfprobe.figures.circuits import circuit_figure
from tfprobe.figures.decoding import plot_layerwise, plot_over_time
from tfprobe.figures.saving import save_figure
from tfprobe.figures.scenes import plot_perturbations, plot_same_label_pairs, plot_scene_grid
from tfprobe.figures.visualization import plot_gradients, plot_visualization

__all__ = [
    "circuit_figure",
    "plot_gradients",
    "plot_layerwise",
    "plot_over_time",
    "plot_perturbations",
    "plot_same_label_pairs",
    "plot_scene_grid",
    "plot_visualization",
    "save_figure",
]
