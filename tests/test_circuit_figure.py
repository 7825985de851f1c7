"""The circuit figure: centre, excitatory left, inhibitory right, kernels on one symmetric diverging scale."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from tfprobe.circuits.circuit import Circuit
from tfprobe.circuits.graph import Source
from tfprobe.figures.circuits import chosen_inputs, circuit_figure, kernel_limit
from tfprobe.figures.saving import save_figure

# Channel c's slice is VALUES[c] plus a small pattern that keeps its sign: by L2 the channels rank 0..5;
# 0, 2, 4 excite and 1, 3, 5 inhibit.
VALUES = (3.0, -2.5, 2.0, -1.5, 1.0, -0.5)


def make_circuit(values: tuple[float, ...] = VALUES) -> Circuit:
    pattern = np.linspace(-0.2, 0.2, 9).reshape(3, 3)
    kernel = np.stack([v + np.sign(v) * pattern for v in values], axis=-1).astype("float32")
    circuit = Circuit("conv2", 4, kernel, 0.5, Source(layer="conv1", render_unit="conv1"))
    ramp = np.linspace(0.0, 1.0, 16 * 16, dtype="float32").reshape(16, 16, 1)
    circuit.filter_image = np.concatenate([ramp, ramp[::-1], ramp], axis=-1)
    circuit.input_images = {0: ramp, 1: np.repeat(ramp, 3, axis=-1), 2: ramp}  # 3 is not rendered
    return circuit


def axes_by_label(figure: Figure) -> dict[str, object]:
    return {axis.get_label(): axis for axis in figure.axes}


def test_layout_and_kinds() -> None:
    circuit = make_circuit()
    figure = circuit_figure(circuit, k=2)
    assert isinstance(figure, Figure)
    labels = axes_by_label(figure)
    expected = {"filter", "colorbar"} | {f"{what} {c}" for c in (0, 2, 1, 3) for what in ("kernel", "input")}
    assert len(figure.axes) == 10 and set(labels) == expected
    figure.canvas.draw()  # positions from the constrained layout
    centre = labels["filter"].get_position()
    for channel in (0, 2):  # excitatory: left of the centre, image outside the kernel
        kernel, image = labels[f"kernel {channel}"].get_position(), labels[f"input {channel}"].get_position()
        assert image.x1 <= kernel.x0 < kernel.x1 <= centre.x0
    for channel in (1, 3):
        kernel, image = labels[f"kernel {channel}"].get_position(), labels[f"input {channel}"].get_position()
        assert centre.x1 <= kernel.x0 < kernel.x1 <= image.x0
    # strongest on top
    assert labels["kernel 0"].get_position().y0 > labels["kernel 2"].get_position().y0
    title = labels["kernel 3"].get_title()
    l2 = np.linalg.norm(circuit.kernel[:, :, 3])  # about 3 x 1.5
    assert title == f"ch 3  l2 {l2:.3g}\ninhibitory"
    assert "conv2 filter 4" in labels["filter"].get_title() and "bias 0.5" in labels["filter"].get_title()
    assert "from conv1" in figure.get_suptitle()
    assert circuit_figure(circuit, k=2, title="mine").get_suptitle() == "mine"


def test_kernels_share_a_symmetric_scale() -> None:
    circuit = make_circuit()
    figure = circuit_figure(circuit, k=2)
    labels = axes_by_label(figure)
    limit = float(np.abs(circuit.kernel[:, :, [0, 1, 2, 3]]).max())  # 3.2: the shown kernels only
    assert kernel_limit(circuit, circuit.inputs[:4]) == pytest.approx(limit)
    for channel in (0, 1, 2, 3):
        (image,) = labels[f"kernel {channel}"].get_images()
        low, high = image.get_clim()
        assert low == pytest.approx(-limit) and high == pytest.approx(limit)
        assert image.get_cmap().name == "RdBu_r"
        np.testing.assert_array_equal(image.get_array(), circuit.kernel_of(channel))
    assert labels["colorbar"].get_ylim() == pytest.approx((-limit, limit))
    assert labels["colorbar"].get_ylabel() == "weight"


def test_images_gray_rgb_and_placeholders() -> None:
    circuit = make_circuit()
    circuit.filter_image = None
    labels = axes_by_label(circuit_figure(circuit, k=2))
    (gray,) = labels["input 0"].get_images()
    assert gray.get_array().ndim == 2 and gray.get_cmap().name == "gray"
    (rgb,) = labels["input 1"].get_images()
    assert rgb.get_array().shape == (16, 16, 3)
    for name in ("input 3", "filter"):  # not rendered
        assert labels[name].get_images() == []
        assert [text.get_text() for text in labels[name].texts] == ["not rendered"]


def test_fewer_inputs_than_k_and_a_missing_kind() -> None:
    figure = circuit_figure(make_circuit(), k=5)  # 3 of each kind
    assert len(figure.axes) == 1 + 2 * 6 + 1
    only_excitatory = make_circuit((1.0, 2.0))
    labels = axes_by_label(circuit_figure(only_excitatory, k=3))
    assert set(labels) == {"filter", "colorbar", "kernel 0", "input 0", "kernel 1", "input 1", "no inhibitory"}
    assert labels["no inhibitory"].texts[0].get_text() == "no inhibitory inputs"
    assert chosen_inputs(only_excitatory, 1)[0][0].channel == 1  # the stronger one


def test_saving_to_png(tmp_path) -> None:
    circuit = make_circuit()
    circuit_figure(circuit, k=3, path=tmp_path / "circuit.png")
    image = imread(tmp_path / "circuit.png")
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
    assert image[..., :3].std() > 0.05
    path = save_figure(circuit_figure(circuit, k=1), tmp_path / "small.svg")
    assert path.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_errors() -> None:
    circuit = make_circuit()
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        circuit_figure(circuit, k=0)
    with pytest.raises(TypeError, match="k must be an int, got str"):
        circuit_figure(circuit, k="2")
    circuit.input_images[2] = np.zeros((8, 8, 2))
    with pytest.raises(ValueError, match=r"input channel 2's image must be \(h, w, 1\) or \(h, w, 3\), got shape"):
        circuit_figure(circuit, k=2)
    circuit.input_images[2] = np.full((8, 8, 1), np.nan)
    with pytest.raises(ValueError, match="input channel 2's image has non-finite values"):
        circuit_figure(circuit, k=2)
    circuit = make_circuit()
    circuit.kernel[1, 1, 3] = np.inf
    with pytest.raises(ValueError, match="the kernel of 'conv2' filter 4 has non-finite weights"):
        circuit_figure(circuit, k=2)
