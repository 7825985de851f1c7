"""Figures: every function returns a matplotlib ``Figure`` and saves it when given a path."""

from tfprobe.figures.activations_over_time import plot_activations_over_time
from tfprobe.figures.circuits import circuit_figure
from tfprobe.figures.connections import plot_connections
from tfprobe.figures.decoding import plot_layerwise, plot_over_time
from tfprobe.figures.filters import plot_activation_grid, plot_filters
from tfprobe.figures.flow_perturbation import plot_flow_perturbation
from tfprobe.figures.psychophysics import plot_csf, plot_probe_training
from tfprobe.figures.saving import save_figure
from tfprobe.figures.scenes import plot_perturbations, plot_same_label_pairs, plot_scene_grid
from tfprobe.figures.similarity import (
    plot_layer_time,
    plot_rdm,
    plot_rdm_mds,
    plot_similarity_matrix,
    plot_similarity_over_time,
)
from tfprobe.figures.time_decoding import (
    plot_auxiliary_through_time,
    plot_decoding_through_time,
    plot_flow_decoding,
)
from tfprobe.figures.training import plot_learning_curves
from tfprobe.figures.visualization import plot_gradients, plot_visualization

__all__ = [
    "circuit_figure",
    "plot_activation_grid",
    "plot_activations_over_time",
    "plot_auxiliary_through_time",
    "plot_connections",
    "plot_csf",
    "plot_decoding_through_time",
    "plot_filters",
    "plot_flow_decoding",
    "plot_flow_perturbation",
    "plot_gradients",
    "plot_layer_time",
    "plot_layerwise",
    "plot_learning_curves",
    "plot_over_time",
    "plot_perturbations",
    "plot_probe_training",
    "plot_rdm",
    "plot_rdm_mds",
    "plot_same_label_pairs",
    "plot_scene_grid",
    "plot_similarity_matrix",
    "plot_similarity_over_time",
    "plot_visualization",
    "save_figure",
]
