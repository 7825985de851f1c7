"""Circuits: a filter's input channels ranked and classified as the lab notebook does, on any Keras conv net."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pytest

import tfprobe
from tfprobe import visualize as fv
from tfprobe.circuits import Circuit, InputRecord, circuit
from tfprobe.errors import UnknownUnitError


@pytest.fixture(scope="module")
def cnn() -> keras.Model:
    """conv1 -> pool -> bn -> dropout -> conv2 -> flatten -> dense, random weights (biases too)."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.BatchNormalization(name="bn1"),
            keras.layers.Dropout(0.2, name="drop1"),
            keras.layers.Conv2D(32, 3, name="conv2"),
            keras.layers.Activation("relu", name="relu2"),
            keras.layers.DepthwiseConv2D(3, name="depthwise"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(5, activation="softmax", name="dense"),
        ]
    )
    for layer in model.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(np.random.default_rng(0).normal(size=layer.bias.shape))
    return model


def seed_notebook(filters: np.ndarray, filter_index: int) -> tuple[np.ndarray, list[str]]:
    """The lab notebook's extraction, line for line: top-ten channels (ascending) and their categories."""
    specific_filter = filters[:, :, :, filter_index]
    l2_norms = np.sqrt(np.sum(np.square(specific_filter), axis=(0, 1)))
    top_ten_indices = np.argsort(l2_norms)[-10:]

    def categorize_filter(filter_weights: np.ndarray) -> str:
        positive_sum = np.sum(filter_weights[filter_weights > 0])
        negative_sum = np.sum(filter_weights[filter_weights < 0])
        if np.abs(negative_sum) > positive_sum:
            return "mostly inhibitory"
        return "mostly excitatory"

    return top_ten_indices, [categorize_filter(specific_filter[:, :, idx]) for idx in top_ten_indices]


@pytest.mark.parametrize("filter_index", [0, 7, 31])
def test_matches_the_seed_notebook(cnn: keras.Model, filter_index: int) -> None:
    filters, _ = cnn.get_layer("conv2").get_weights()
    top_ten, categories = seed_notebook(filters, filter_index)
    result = circuit(cnn, "conv2", filter_index)
    top = result.top(10)
    assert [r.channel for r in top] == top_ten[::-1].tolist()  # the notebook's order is ascending
    assert [f"mostly {r.kind}" for r in top] == categories[::-1]
    kinds = {r.channel: r.kind for r in result.inputs}
    for idx in range(filters.shape[2]):  # every channel, not only the top ten
        assert f"mostly {kinds[idx]}" == seed_notebook(filters[:, :, idx : idx + 1], filter_index)[1][0]


def test_table_values_match_an_independent_computation(cnn: keras.Model) -> None:
    filters, biases = cnn.get_layer("conv2").get_weights()
    result = tfprobe.circuit(tfprobe.Probe(cnn), "conv2", 4)
    w = filters[:, :, :, 4].astype(np.float64)
    table = result.table()
    assert table.dtype.names == tuple(f.name for f in dataclasses.fields(InputRecord))
    assert table["rank"].tolist() == list(range(16))
    channels = table["channel"]
    assert sorted(channels.tolist()) == list(range(16))
    expected_l2 = np.sqrt((w**2).sum(axis=(0, 1)))
    np.testing.assert_allclose(table["l2"], expected_l2[channels], rtol=1e-6)
    assert np.all(np.diff(table["l2"]) <= 0)
    positive = np.where(w > 0, w, 0).sum(axis=(0, 1))
    negative = np.where(w < 0, w, 0).sum(axis=(0, 1))
    np.testing.assert_allclose(table["positive"], positive[channels], rtol=1e-5)
    np.testing.assert_allclose(table["negative"], negative[channels], rtol=1e-5)
    np.testing.assert_allclose(table["net"], (positive + negative)[channels], rtol=1e-5, atol=1e-6)
    share = np.where(w < 0, w**2, 0).sum(axis=(0, 1)) / (w**2).sum(axis=(0, 1))
    np.testing.assert_allclose(table["negative_share"], share[channels], rtol=1e-6)
    assert result.bias == pytest.approx(float(biases[4]))
    np.testing.assert_array_equal(result.kernel, filters[:, :, :, 4])
    np.testing.assert_array_equal(result.kernel_of(9), filters[:, :, 9, 4])
    assert result.input_layer == "conv1"  # through dropout, batch norm and pooling


def test_kinds_partition_the_inputs_in_rank_order(cnn: keras.Model) -> None:
    result = circuit(cnn, "conv2", 11)
    excitatory, inhibitory = result.excitatory(), result.inhibitory()
    assert sorted(r.channel for r in excitatory + inhibitory) == list(range(16))
    assert all(r.kind == "excitatory" and abs(r.negative) <= r.positive for r in excitatory)
    assert all(r.kind == "inhibitory" and abs(r.negative) > r.positive for r in inhibitory)
    assert [r.rank for r in excitatory] == sorted(r.rank for r in excitatory)
    assert result.excitatory(2) == excitatory[:2]
    assert result.inhibitory(16) == inhibitory  # k up to the channel count, fewer when a kind has fewer
    assert result.top(3) == result.inputs[:3]


def test_ties_rank_the_lower_channel_first() -> None:
    from tfprobe.circuits import input_records

    kernel = np.zeros((2, 2, 4), np.float32)
    kernel[0, 0, 3] = kernel[1, 1, 1] = -2.0
    kernel[0, 1, 2] = 1.0
    records = input_records(kernel)
    assert [r.channel for r in records] == [1, 3, 2, 0]
    assert [r.kind for r in records] == ["inhibitory", "inhibitory", "excitatory", "excitatory"]
    assert records[-1].negative_share == 0.0 and records[0].negative_share == 1.0


def test_dense_layer_after_flatten(cnn: keras.Model) -> None:
    kernel, bias = cnn.get_layer("dense").get_weights()
    result = circuit(cnn, "dense", 2)
    assert result.kernel.shape == (1, 1, kernel.shape[0])
    np.testing.assert_array_equal(result.kernel[0, 0], kernel[:, 2])
    assert result.bias == pytest.approx(float(bias[2]))
    assert result.input_layer == "depthwise"  # the flattened map comes from it
    assert result.source.grid == (3, 3, 32)


def test_first_layer_reads_the_image(cnn: keras.Model) -> None:
    result = circuit(cnn, "conv1", 0)
    assert result.input_layer is None
    assert result.kernel.shape == (3, 3, 3)
    with pytest.raises(ValueError, match="model's image"):
        result.render(1, steps=1, progress=False)


def test_functional_model_and_branches() -> None:
    inputs = keras.Input((12, 12, 2))
    a = keras.layers.Conv2D(3, 3, name="a")(inputs)
    b = keras.layers.Conv2D(4, 3, name="b")(inputs)
    joined = keras.layers.Concatenate(name="joined")([a, b])
    padded = keras.layers.ZeroPadding2D(1, name="pad")(joined)
    out = keras.layers.Conv2D(2, 3, name="out")(padded)
    model = keras.Model(inputs, out)
    result = circuit(model, "out", 1)
    assert result.input_layer == "joined"  # channels of the concatenation
    assert result.channels == 7
    np.testing.assert_array_equal(result.kernel, model.get_layer("out").get_weights()[0][..., 1])


def test_nested_vgg16() -> None:
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    model = keras.Sequential([keras.Input((32, 32, 3)), vgg])
    probe = tfprobe.Probe(model)
    result = tfprobe.circuit(probe, "vgg16/block5_conv1", 3)
    assert result.input_layer == "vgg16/block4_conv3"  # through block4_pool
    np.testing.assert_array_equal(result.kernel, vgg.get_layer("block5_conv1").get_weights()[0][..., 3])
    assert result.channels == 512
    assert circuit(model, "vgg16/block2_conv1", 0).input_layer == "vgg16/block1_conv2"


def test_recurrent_network_layers() -> None:
    model = tfprobe.GainModulatedRNN(timesteps=2)
    probe = tfprobe.Probe(model)
    conv2 = tfprobe.circuit(probe, "conv2", 5)
    assert conv2.input_layer == "conv1"
    np.testing.assert_array_equal(conv2.kernel, model.conv2.kernel.numpy()[..., 5])
    assert tfprobe.circuit(probe, "conv1", 0).input_layer is None
    fc1 = tfprobe.circuit(probe, "fc1", 3)
    assert fc1.input_layer == "conv2" and fc1.source.grid == (9, 9, 16)
    np.testing.assert_array_equal(fc1.kernel[0, 0], model.fc1.kernel.numpy()[:, 3])
    assert tfprobe.circuit(probe, "fc2", 0).channels == 16 * 8 * 2  # the readout: fc1 of both time steps
    with pytest.raises(UnknownUnitError, match="'conv2'"):
        tfprobe.circuit(probe, "conv_2", 0)
    projection = model.recurrent_projections[0].layer_name(model.flags.kinds[0])
    with pytest.raises(TypeError, match="recurrent projection"):
        tfprobe.circuit(probe, projection, 0)
    with pytest.raises(ValueError, match=r"timestep must be an int in 0\.\.1"):
        conv2.render(1, steps=1, timestep=2, progress=False)


def test_bad_layers_and_indices(cnn: keras.Model) -> None:
    with pytest.raises(TypeError, match=r"'pool1' is a MaxPooling2D.*Conv2D and Dense"):
        circuit(cnn, "pool1", 0)
    with pytest.raises(TypeError, match="'depthwise' is a DepthwiseConv2D"):
        circuit(cnn, "depthwise", 0)
    with pytest.raises(UnknownUnitError, match="did you mean 'conv2'"):
        circuit(cnn, "conv_2", 0)
    with pytest.raises(IndexError, match="it has 32 filters"):
        circuit(cnn, "conv2", 32)
    with pytest.raises(IndexError, match="it has 32 filters"):
        circuit(cnn, "conv2", -1)
    with pytest.raises(TypeError, match="filter must be an int"):
        circuit(cnn, "conv2", 1.0)
    result = circuit(cnn, "conv2", 0)
    with pytest.raises(ValueError, match="between 1 and the 16 input channels, got 17"):
        result.top(17)
    with pytest.raises(ValueError, match="got 0"):
        result.excitatory(0)
    with pytest.raises(ValueError, match="got 17"):
        result.render(17, steps=1, progress=False)
    with pytest.raises(IndexError, match="out of range"):
        result.kernel_of(16)
    with pytest.raises(TypeError, match=r"Probe wraps a keras\.Model"):
        circuit("not a model", "conv2", 0)


def test_text_dict_and_save(cnn: keras.Model, tmp_path) -> None:
    result = circuit(cnn, "conv2", 6)
    text = str(result)
    assert "'conv2' filter 6" in text and "from 'conv1'" in text
    lines = result.format_table(3).splitlines()
    assert len(lines) == 4 and lines[1].split()[1] == str(result.inputs[0].channel)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["layer"] == "conv2" and data["filter"] == 6 and data["input_layer"] == "conv1"
    assert data["kernel_shape"] == [3, 3, 16]
    assert [InputRecord(**r) for r in data["inputs"]] == result.inputs

    folder = tmp_path / "conv2_6"
    assert result.save(folder) == folder
    assert sorted(p.name for p in folder.iterdir()) == ["circuit.html", "circuit.json", "circuit.png"]
    saved = json.loads((folder / "circuit.json").read_text())
    assert saved["inputs"] == data["inputs"] and saved["tfprobe_version"] == tfprobe.__version__
    with pytest.raises(FileExistsError, match="conv2_6"):
        result.save(folder)
    circuit(cnn, "conv2", 7).save(folder, overwrite=True)
    assert json.loads((folder / "circuit.json").read_text())["filter"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv2_6"]  # no temporaries left
    (tmp_path / "empty").mkdir()
    result.save(tmp_path / "empty")
    assert (tmp_path / "empty" / "circuit.json").exists()


def test_exports() -> None:
    assert tfprobe.Circuit is Circuit and tfprobe.InputRecord is InputRecord
    assert tfprobe.expanded_weights is tfprobe.circuits.expanded_weights


def test_render_fills_the_images(cnn: keras.Model) -> None:
    probe = tfprobe.Probe(cnn)
    result = tfprobe.circuit(probe, "conv2", 2)
    options = {"steps": 2, "size": 16, "seed": 1, "progress": False, "jit_compile": False}
    assert result.render(2, **options) is result
    wanted = [r.channel for r in result.excitatory(2) + result.inhibitory(2)]
    assert list(result.input_images) == wanted
    assert all(image.shape == (16, 16, 3) for image in result.input_images.values())
    stacked = fv.stack(fv.channel("conv2", [2]), fv.channel("conv1", wanted))  # built independently
    alone = fv.render(probe, stacked, **options)
    np.testing.assert_allclose(result.filter_image, alone.images[0], atol=1e-6)
    np.testing.assert_allclose(np.stack(list(result.input_images.values())), alone.images[1:], atol=1e-6)
    assert alone.labels == ["conv2:2", *(f"conv1:{c}" for c in wanted)]
    top = [r.channel for r in result.top(3)]  # the seed's choice: the strongest by L2, whatever their kind
    assert list(result.render(channels=top, **options).input_images) == top
    with pytest.raises(IndexError, match="out of range"):
        result.render(channels=[99], **options)


def test_render_objectives(cnn: keras.Model, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dense filter is rendered at its logits; inputs after a Flatten as neurons of the flattened map."""
    calls = []

    def fake_render(model, objective, **options):
        calls.append((objective, options))
        count = objective.size or 1
        images = np.zeros((count, 16, 16, 3), np.float32)
        return fv.Visualization(images, images, np.zeros(count), images[..., 0], [], "", {}, 0, 1, 0.0)

    monkeypatch.setattr(fv, "render", fake_render)
    result = circuit(cnn, "dense", 1).render(3, steps=1, progress=False)
    ((stacked, options),) = calls  # the filter and its inputs in one run
    own, term = stacked.terms
    assert own.unit == "dense.logits" and own.parameters["index"][0] == 1
    assert own.parameters["_mask"].tolist() == [1, 0, 0, 0, 0, 0, 0]
    assert term.kind == "neuron" and term.unit == "depthwise"
    channels = [r.channel for r in result.excitatory(3) + result.inhibitory(3)]
    y, x, c = np.unravel_index(channels, (3, 3, 32))
    assert term.parameters["index"][1:].tolist() == c.tolist()
    assert term.parameters["x"][1:].tolist() == x.tolist() and term.parameters["y"][1:].tolist() == y.tolist()
    assert term.parameters["_mask"].tolist() == [0, 1, 1, 1, 1, 1, 1]
    assert options["batch_size"] == 1 + len(channels)
    assert sorted(result.input_images) == sorted(channels)
