"""The network's connections (table, summary, diagram) and its activations over time (Figure 3B)."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch
from PIL import Image

from tfprobe import GainModulatedRNN
from tfprobe.datasets import CATEGORY_NAMES, ClutteredScenes
from tfprobe.errors import ImageInputError
from tfprobe.figures.activations_over_time import MISMATCH_COLOR, plot_activations_over_time
from tfprobe.figures.connections import plot_connections
from tfprobe.models.architecture import RecurrenceFlags
from tfprobe.recurrent.connections import (
    Connection,
    compact_count,
    connection_summary,
    connections,
    format_connections,
)

ALL_CODES = ["bglt_" + "".join(bits) for bits in itertools.product("01", repeat=4)]
_models: dict[tuple[str, int], GainModulatedRNN] = {}


def model_for(code: str, n_feats: int = 8) -> GainModulatedRNN:
    """Models are cheap to build without XLA; one per code, reused across tests."""
    key = (code, n_feats)
    if key not in _models:
        keras.utils.set_random_seed(0)
        _models[key] = GainModulatedRNN.from_code(code, timesteps=4, n_feats=n_feats, jit_compile=False)
    return _models[key]


# ---------------------------------------------------------------------------------------------- connections
# The architecture has a lateral projection on conv1, conv2 and fc1 (none on the input, which has no units
# of its own to project from) and a top-down one from every stage onto every lower one: 3 into the input
# (from conv1, conv2, fc1), 2 into conv1 (from conv2, fc1) and 1 into conv2 (from fc1), 6 in all.  Each
# exists once per modulation kind switched on.  The feed-forward chain always has 3 bottom-up connections
# (input->conv1, conv1->conv2, conv2->fc1) and 1 readout (fc1 of all steps -> fc2).
EXPECTED = {
    # bias off, gain on: 3 lateral and 6 top-down gain connections (the authors' c1c1g, ..., fc1c2g).
    "bglt_0111": {"lateral": {"bias": 0, "gain": 3}, "top-down": {"bias": 0, "gain": 6}},
    # bias on, gain off: the same pathways carry bias instead.
    "bglt_1011": {"lateral": {"bias": 3, "gain": 0}, "top-down": {"bias": 6, "gain": 0}},
    # both kinds: every pathway twice, 6 lateral and 12 top-down.
    "bglt_1111": {"lateral": {"bias": 3, "gain": 3}, "top-down": {"bias": 6, "gain": 6}},
}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_counts_follow_from_the_architecture(code: str) -> None:
    summary = connection_summary(model_for(code))
    expected = EXPECTED[code]
    assert summary["code"] == code
    assert summary["counts"]["bottom-up"] == {"drive": 3}
    assert summary["counts"]["readout"] == {"drive": 1}
    assert summary["counts"]["lateral"] == expected["lateral"]
    assert summary["counts"]["top-down"] == expected["top-down"]
    n_kinds = len(RecurrenceFlags.from_code(code).kinds)
    assert summary["lateral"]["number"] == 3 * n_kinds
    assert summary["topdown"]["number"] == 6 * n_kinds
    assert summary["lateral"]["pathways"] == ["conv1", "conv2", "fc1"]
    assert summary["topdown"]["pathways"] == [
        "conv1->input",
        "conv2->input",
        "fc1->input",
        "conv2->conv1",
        "fc1->conv1",
        "fc1->conv2",
    ]


def test_bglt_0111_names_the_authors_layers() -> None:
    summary = connection_summary(model_for("bglt_0111"))
    assert summary["lateral"]["layers"] == ["gain_conv1_lateral", "gain_conv2_lateral", "gain_fc1_lateral"]
    assert summary["lateral"]["torch_names"] == ["c1c1g", "c2c2g", "fc1fc1g"]
    assert sorted(summary["topdown"]["torch_names"]) == sorted(["c1xg", "c2xg", "fc1xg", "c2c1g", "fc1c1g", "fc1c2g"])
    answer = summary["answer"]
    assert answer.startswith("lateral: 3 connections (gain) on 3 stages (conv1, conv2, fc1)")
    assert "top-down: 6 connections (gain) on 6 pathways" in answer


@pytest.mark.parametrize("code", ["bglt_0000", "bglt_0011", "bglt_1100", "bglt_0111", "bglt_1011", "bglt_1111"])
def test_every_weight_is_on_exactly_one_connection(code: str) -> None:
    model = model_for(code)
    found = connections(model)
    summary = connection_summary(model)
    assert sum(c.parameters for c in found) == model.count_params() == summary["total_parameters"]
    # No layer counted twice, and every layer of the model is on a connection.
    layers = [c.layer for c in found]
    assert len(layers) == len(set(layers))
    assert set(layers) == {layer.name for layer in model.layers}
    recurrent = sum(c.parameters for c in found if c.is_recurrent)
    assert summary["recurrent_parameters"] == recurrent
    assert summary["recurrent_share"] == pytest.approx(recurrent / model.count_params())


def test_no_recurrent_connection_without_a_kind_or_a_direction() -> None:
    # bglt_0011: lateral and top-down pathways, but neither bias nor gain, so no layer is built.
    for code, reason in (("bglt_0011", "no modulation kind"), ("bglt_1100", "flag is off")):
        summary = connection_summary(model_for(code))
        assert summary["lateral"]["number"] == summary["topdown"]["number"] == 0
        assert summary["recurrent_parameters"] == 0
        assert reason in summary["answer"]


def test_shapes_and_parameters_against_the_formulas() -> None:
    # n_feats = 4 so that nothing is silently assumed to be 8.
    nf = 4
    by_layer = {c.layer: c for c in connections(model_for("bglt_1111", n_feats=nf))}
    fc1 = 16 * nf
    expected = {
        # layer: (kernel shape, parameters = kernel + bias)
        "conv1": ((5, 5, 1, nf), 25 * nf + nf),
        "fc1": ((9 * 9 * 2 * nf, fc1), 81 * 2 * nf * fc1 + fc1),
        "fc2": ((4 * fc1, 20), 4 * fc1 * 20 + 20),
        "gain_fc1_to_conv1": ((fc1, 96 * 96 * nf), fc1 * 96 * 96 * nf + 96 * 96 * nf),
        "bias_conv2_to_input": ((20, 20, 1, 2 * nf), 400 * 2 * nf + 1),
        "gain_conv2_to_conv1": ((16, 16, nf, 2 * nf), 256 * nf * 2 * nf + nf),
        "bias_conv1_lateral": ((5, 5, nf, nf), 25 * nf * nf + nf),
        "gain_fc1_lateral": ((fc1, fc1), fc1 * fc1 + fc1),
    }
    for layer, (shape, parameters) in expected.items():
        assert by_layer[layer].shape == shape, layer
        assert by_layer[layer].parameters == parameters, layer
    assert by_layer["gain_fc1_to_conv1"] == Connection(
        "fc1", "conv1", "top-down", "gain", "gain_fc1_to_conv1", "dense", (fc1, 96 * 96 * nf),
        fc1 * 96 * 96 * nf + 96 * 96 * nf, "fc1c1g",
    )  # fmt: skip
    assert by_layer["fc2"].direction == "readout" and by_layer["fc2"].kind == "drive"
    assert by_layer["conv2"].operation == "conv" and by_layer["bias_conv2_to_input"].operation == "conv_transpose"


def test_table_names_every_layer_and_the_totals() -> None:
    model = model_for("bglt_1111")
    text = format_connections(model)
    for layer in model.layers:
        assert f" {layer.name} " in text, layer.name
    assert f"{model.count_params():,} in total" in text
    assert "connections: 22 (3 bottom-up, 6 lateral, 12 top-down, 1 readout)" in text
    # One table row per connection, naming its layer and direction and ending with its parameter count.
    lines = [line.split() for line in text.splitlines()]
    for c in connections(model):
        rows = [
            cells for cells in lines if cells[-1:] == [f"{c.parameters:,}"] and {c.layer, c.direction} <= set(cells)
        ]
        assert len(rows) == 1, c.layer


def test_compact_count() -> None:
    assert [compact_count(n) for n in (0, 416, 1_608, 9_510_912, 25_146_088)] == ["0", "416", "1.6k", "9.5M", "25.1M"]


def test_not_a_model_is_refused() -> None:
    with pytest.raises(TypeError, match="GainModulatedRNN"):
        connections(keras.Sequential([keras.layers.Dense(2)]))


# ---------------------------------------------------------------------------------------------- diagram
def _arrows(figure: Figure) -> list[str]:
    return [patch.get_gid() for patch in figure.axes[0].patches if isinstance(patch, FancyArrowPatch)]


@pytest.mark.parametrize("code", ALL_CODES)
def test_diagram_draws_one_arrow_per_connection(code: str) -> None:
    model = model_for(code)
    found = connections(model)
    figure = plot_connections(model)
    gids = _arrows(figure)
    assert sorted(gids) == sorted(f"{c.direction}:{c.kind}:{c.layer}" for c in found)
    recurrent = [g for g in gids if g.split(":")[0] in ("lateral", "top-down")]
    assert len(recurrent) == sum(c.is_recurrent for c in found)
    texts = [t.get_text() for t in figure.axes[0].texts]
    for connection in found:  # every arrow is labelled with its compact parameter count
        assert any(t.startswith(compact_count(connection.parameters)) for t in texts), connection.layer
    for box in ("input\n100x100x1", "conv1\n32x32x8", "conv2\n9x9x16", "fc1\n128", "output\n20 classes"):
        assert box in texts
    figure.savefig(io.BytesIO(), format="png", dpi=40)  # renders without error


def test_diagram_legend_and_file(tmp_path: Path) -> None:
    model = model_for("bglt_1011")
    path = tmp_path / "connections.png"
    figure = plot_connections(model, path=path)
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == ["bottom-up / readout", "bias (lateral loops, right; top-down arcs, left)"]
    assert "bglt_1011: 3 lateral, 6 top-down" in figure.axes[0].get_title()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 300 and image.size[1] > 300
    assert not list(tmp_path.glob(".*"))


# ---------------------------------------------------------------------------------------------- Figure 3B
@pytest.fixture(scope="module")
def scenes(scene_sources):
    digits, fashion = scene_sources
    return ClutteredScenes("validation", seed=3, digits=digits, fashion=fashion).sample(4)


@pytest.fixture(scope="module")
def small_model() -> GainModulatedRNN:
    keras.utils.set_random_seed(1)
    return GainModulatedRNN.from_code("bglt_0111", timesteps=3, jit_compile=False)


def test_activation_figure_shows_the_models_activations(small_model, scenes) -> None:
    model, images = small_model, scenes.images
    out = model(images, return_activations=True)
    predicted = np.argmax(np.asarray(out.log_probs), axis=-1)
    # Labels chosen so that scene 0 is predicted right and scene 2 wrong.
    labels = predicted.copy()
    labels[2] = (predicted[2] + 1) % 20
    chosen, stages, channel = [2, 0], ("input", "conv2", "fc1"), 5
    figure = plot_activations_over_time(model, images, labels, scenes=chosen, stages=stages, channel=channel)
    axes = figure.axes
    steps = model.timesteps
    assert len(axes) == len(chosen) * len(stages) * steps
    for k, i in enumerate(chosen):
        for j, stage in enumerate(stages):
            row = axes[(k * len(stages) + j) * steps : (k * len(stages) + j + 1) * steps]
            for t, axis in enumerate(row):
                shown = np.asarray(axis.get_images()[0].get_array())
                activation = np.asarray(out.activations[stage][t][i])
                if stage == "input":
                    reference = activation[..., 0]
                elif stage == "fc1":
                    reference = activation.reshape(8, 16)
                else:
                    reference = activation[..., channel]
                np.testing.assert_allclose(shown, reference, atol=1e-5)
                assert axis.get_title() == (f"t = {t + 1}" if j == 0 else "")
            label = row[0].yaxis.label
            assert f"true: {CATEGORY_NAMES[labels[i]]}" in label.get_text()
            assert f"predicted: {CATEGORY_NAMES[predicted[i]]}" in label.get_text()
            assert label.get_text().startswith(f"#{i} ")
            assert (label.get_color() == MISMATCH_COLOR) == (i == 2)
    assert axes[0].get_images()[0].get_cmap().name == "gray"
    assert axes[steps].get_images()[0].get_cmap().name == "viridis"


def test_activation_figure_defaults_labels_mapping_and_file(small_model, scenes, tmp_path: Path) -> None:
    path = tmp_path / "fig3b.png"
    figure = plot_activations_over_time(small_model, scenes.images, scenes.labels, path=path)
    assert len(figure.axes) == 4 * small_model.timesteps  # first four scenes, the input only
    categories = scenes.labels["category"]
    for i in range(4):
        assert f"true: {CATEGORY_NAMES[categories[i]]}" in figure.axes[i * small_model.timesteps].get_ylabel()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 300
    # Without labels only the prediction is named.
    unlabelled = plot_activations_over_time(small_model, scenes.images, scenes=[1])
    assert "true:" not in unlabelled.axes[0].get_ylabel() and "predicted:" in unlabelled.axes[0].get_ylabel()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"scenes": [4]}, ValueError, r"scenes must be .* in \[0, 4\)"),
        ({"scenes": []}, ValueError, "scenes must be a non-empty"),
        ({"stages": ("input", "conv3")}, ValueError, "stages must be .* input, conv1, conv2, fc1"),
        ({"stages": ("conv1",), "channel": 8}, ValueError, r"channel must be in \[0, 8\) for conv1"),
        ({"channel": -1}, ValueError, "channel must be an integer >= 0"),
        ({"labels": [1, 2]}, ValueError, r"shape \(4,\), got shape \(2,\)"),
        ({"labels": [0, 1, 2, 20]}, ValueError, r"integer categories in \[0, 20\)"),
        ({"labels": {"x": [0, 1, 0, 1]}}, ValueError, "'category' entry"),
        ({"path": "figure.nosuchformat"}, ValueError, "expected a suffix naming a format"),
    ],
)
def test_activation_figure_refuses_bad_input(small_model, scenes, kwargs, error, match) -> None:
    kwargs = dict(kwargs)
    labels = kwargs.pop("labels", None)
    with pytest.raises(error, match=match):
        plot_activations_over_time(small_model, scenes.images, labels, **kwargs)


def test_activation_figure_refuses_bad_images_and_models(small_model, scenes) -> None:
    with pytest.raises(ImageInputError, match="channels-last"):
        plot_activations_over_time(small_model, scenes.images[..., 0])
    with pytest.raises(ImageInputError, match="floating-point"):
        plot_activations_over_time(small_model, (scenes.images * 255).astype("uint8"))
    with pytest.raises(TypeError, match="GainModulatedRNN"):
        plot_activations_over_time(object(), scenes.images)
    # channel 8 exists in conv2 (16 channels), so it is accepted there.
    figure = plot_activations_over_time(small_model, scenes.images, scenes=[0], stages=("conv2",), channel=8)
    np.testing.assert_allclose(
        figure.axes[0].get_images()[0].get_array(),
        np.asarray(small_model(scenes.images[:1], return_activations=True).activations["conv2"][0][0, ..., 8]),
        atol=1e-5,
    )
