"""The circuit explorer page: its content, its self-containment, saving, and how headless Chromium shows it.

The browser tests need Debian's ``chromium`` (``apt-get install -y chromium``; .ci/run installs it).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from browser import COUNT_DECODED, Elements, console_errors, run_chromium
from matplotlib import colormaps
from matplotlib.image import imread

from tfprobe.circuits.circuit import Circuit
from tfprobe.circuits.explorer import explorer_html, save_explorer
from tfprobe.circuits.graph import Source

# Channel c's slice is VALUES[c] plus a small pattern that keeps its sign: by L2 the channels rank 0..7;
# even channels excite, odd ones inhibit.
VALUES = (3.0, -2.6, 2.2, -1.8, 1.4, -1.0, 0.6, -0.3)
LAYER = 'mixed<3b>&"x"'


def make_circuit() -> Circuit:
    pattern = np.linspace(-0.2, 0.2, 9).reshape(3, 3)
    kernel = np.stack([v + np.sign(v) * pattern for v in VALUES], axis=-1).astype("float32")
    circuit = Circuit(LAYER, 7, kernel, -0.25, Source(layer="conv<1>", render_unit="conv<1>"))
    ramp = np.linspace(0.0, 1.0, 20 * 20, dtype="float32").reshape(20, 20, 1)
    circuit.filter_image = np.repeat(ramp, 3, axis=-1)
    circuit.input_images = {0: ramp, 1: ramp[::-1], 2: np.repeat(ramp, 3, axis=-1)}  # others not rendered
    return circuit


def decode_png(uri: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    return imread(io.BytesIO(base64.b64decode(uri[len(prefix) :])), format="png")


# ---------------------------------------------------------------------------------------------- the page


def test_lists_the_top_inputs_of_each_kind() -> None:
    circuit = make_circuit()
    page = Elements(explorer_html(circuit, k=3))
    entries = page.all("li", "input")
    assert [int(e["data-channel"]) for e in entries] == [0, 2, 4, 1, 3, 5]  # excitatory column first
    assert [e["class"] for e in entries] == ["input excitatory"] * 3 + ["input inhibitory"] * 3
    text = "".join(page.text)
    for name in ("excitatory inputs", "inhibitory inputs", "All inputs, by L2 norm", "bias -0.25"):
        assert name in text
    record = circuit.record(3)
    assert f"l2 {record.l2:.4g}" in text and f"net {record.net:.4g}" in text
    assert f"positive {record.positive:.4g}" in text and f"negative {record.negative:.4g}" in text
    assert f"negative share {100 * record.negative_share:.1f}%" in text
    assert len(page.all("tr")) == 1 + len(VALUES)  # header and every input
    assert len(page.all("tr", "shown")) == 6


def test_images_are_inline_pngs_of_the_visualisations() -> None:
    circuit = make_circuit()
    page = Elements(explorer_html(circuit, k=2))  # inputs 0, 2 | 1, 3: channel 3 is not rendered
    images = page.all("img")
    assert len(images) == 4
    filter_png = decode_png(images[2]["src"])  # document order: excitatory 0, 2, centre, inhibitory 1
    assert filter_png.shape == (20, 20, 3)
    np.testing.assert_allclose(filter_png, circuit.filter_image, atol=0.5 / 255 + 1e-6)  # 8-bit rounding
    gray_png = decode_png(images[0]["src"])  # a grayscale image stays a gray PNG
    np.testing.assert_allclose(gray_png, circuit.input_images[0][..., 0], atol=0.5 / 255 + 1e-6)
    assert images[3]["alt"] == "conv<1> channel 1"
    placeholders = page.all("div", "placeholder")
    assert len(placeholders) == 1 and placeholders[0]["title"] == "conv<1> channel 3"


def test_kernels_are_svg_heatmaps_on_one_symmetric_scale() -> None:
    circuit = make_circuit()
    page = explorer_html(circuit, k=2)
    parser = Elements(page)
    svgs = parser.all("svg", "kernel")
    assert [s["aria-label"] for s in svgs] == [f"kernel of channel {c}" for c in (0, 2, 1, 3)]
    assert svgs[0]["width"] == svgs[0]["height"] == str(3 * 14)
    rects = [a for t, a in parser.tags if t == "rect" and "x" in a]
    assert len(rects) == 4 * 9
    limit = float(np.abs(circuit.kernel[:, :, :4]).max())  # the shown kernels: 3.2
    fills = np.array([[int(a["fill"][i : i + 2], 16) / 255 for i in (1, 3, 5)] for a in rects])
    weights = np.concatenate([circuit.kernel_of(c).ravel() for c in (0, 2, 1, 3)])
    np.testing.assert_array_equal(fills[:, 0] > fills[:, 2], weights > 0)  # red excites, blue inhibits
    strongest = int(np.argmax(weights))
    np.testing.assert_allclose(fills[strongest], colormaps["RdBu_r"](1.0)[:3], atol=1 / 255)  # the scale's end
    assert f"kernel weight: {-limit:.3g} " in "".join(parser.text)
    titles = page.split("<title>")[2:]  # after the page's own title
    assert [float(t.split("<")[0]) for t in titles] == pytest.approx(weights, rel=1e-3)


def test_self_contained_and_escaped() -> None:
    page = explorer_html(make_circuit(), k=3, title="<b>mine</b>")
    parser = Elements(page)
    for _, attributes in parser.tags:
        for name in ("src", "href"):
            assert attributes.get(name, "data:").startswith("data:")
    assert not parser.all("script") and not parser.all("iframe")
    assert all(link.get("href", "").startswith("data:") for link in parser.all("link"))  # nothing fetched
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<b>" not in page and "&lt;b&gt;mine&lt;/b&gt;" in page
    assert LAYER not in page and "mixed&lt;3b&gt;&amp;&quot;x&quot;" in page
    assert "conv<1>" not in page and "conv&lt;1&gt;" in page


def test_k_is_checked() -> None:
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        explorer_html(make_circuit(), k=0)
    with pytest.raises(TypeError, match="k must be an int, got float"):
        explorer_html(make_circuit(), k=2.0)


# ---------------------------------------------------------------------------------------------- saving


def test_save_writes_atomically_and_refuses_to_overwrite(tmp_path) -> None:
    circuit = make_circuit()
    path = save_explorer(circuit, tmp_path / "circuit.html", k=2)
    assert path == tmp_path / "circuit.html"
    assert path.read_text(encoding="utf-8") == explorer_html(circuit, k=2)
    with pytest.raises(FileExistsError, match=f"explorer page '{path}' exists: pass overwrite=True"):
        save_explorer(circuit, path, k=4)
    assert path.read_text(encoding="utf-8") == explorer_html(circuit, k=2)
    save_explorer(circuit, path, k=4, overwrite=True)
    assert len(Elements(path.read_text(encoding="utf-8")).all("li", "input")) == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["circuit.html"]  # no temporaries left
    with pytest.raises(IsADirectoryError, match="is a folder"):
        save_explorer(circuit, tmp_path, overwrite=True)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_explorer(circuit, tmp_path / "missing" / "circuit.html")


# ---------------------------------------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def browsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The page of a circuit, as Chromium dumps its DOM (from an instrumented copy) and screenshots it."""
    folder = tmp_path_factory.mktemp("explorer")
    circuit = make_circuit()
    page = save_explorer(circuit, folder / "circuit.html", k=3)
    instrumented = folder / "instrumented.html"
    instrumented.write_text(page.read_text(encoding="utf-8").replace("</body>", f"{COUNT_DECODED}</body>"))
    dump = run_chromium(instrumented, folder / "profile-dom", "--dump-dom")
    screenshot = folder / "screenshot.png"
    shot = run_chromium(
        page, folder / "profile-shot", "--hide-scrollbars", "--window-size=1280,900", f"--screenshot={screenshot}"
    )
    return {"circuit": circuit, "dump": dump, "shot": shot, "screenshot": screenshot}


def test_chromium_loads_the_page_without_console_errors(browsed) -> None:
    for run in (browsed["dump"], browsed["shot"]):
        assert run.returncode == 0, run.stderr[-2000:]
        assert console_errors(run.stderr) == []


def test_chromium_dom_has_the_entries_and_decodes_every_image(browsed) -> None:
    dom = browsed["dump"].stdout
    parser = Elements(dom)
    assert [int(e["data-channel"]) for e in parser.all("li", "input")] == [0, 2, 4, 1, 3, 5]
    images = parser.all("img")
    assert len(images) == 4 and all(i["src"].startswith("data:image/png;base64,") for i in images)
    (body,) = parser.all("body")
    assert body["data-decoded"] == "4"  # every data URI is a PNG the browser could decode
    assert len(parser.all("svg", "kernel")) == 6
    assert len(parser.all("tr")) == 1 + len(VALUES)


def test_chromium_screenshot_shows_the_page(browsed) -> None:
    screenshot = imread(browsed["screenshot"])
    assert screenshot.shape[:2] == (900, 1280)
    pixels = screenshot[..., :3]
    assert pixels.std() > 0.1  # not blank
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    # The page's images are gray, so saturated colours come from the red-blue scale: the legend (160 x 12
    # pixels, half of each colour at most) and six 42 x 42 kernels, three mostly red and three mostly blue.
    assert np.count_nonzero((red - blue > 0.3) & (green < 0.5)) > 1500
    assert np.count_nonzero((blue - red > 0.3) & (green < 0.6)) > 1500
