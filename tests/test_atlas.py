"""The unit atlas: pages per layer with every channel's visualisation, dataset examples and circuit, linked
across layers and with the circuit explorer, checked as files and in headless Chromium.

The browser tests need Debian's ``chromium`` (``apt-get install -y chromium``; .ci/run installs it).
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from urllib.parse import urldefrag

import keras
import numpy as np
import pytest
from browser import COUNT_DECODED, Elements, console_errors, run_chromium
from matplotlib.image import imread

import tfprobe
from tfprobe.circuits.circuit import Circuit
from tfprobe.circuits.explorer import explorer_html
from tfprobe.circuits.graph import Source
from tfprobe.errors import (
    ExistingOutputError,
    ImageInputError,
    InvalidIndexError,
    InvalidTypeError,
    InvalidValueError,
    MissingFileError,
    UnknownUnitError,
)
from tfprobe.examples.atlas import PARTS, _pages
from tfprobe.examples.atlas_links import channel_weights, wire
from tfprobe.figures.html import file_safe

LAYERS = ["conv1", "pool1", "conv2", "fc1"]
QUICK = {"steps": 4, "progress": False}


@pytest.fixture(scope="module")
def cnn() -> keras.Model:
    keras.utils.set_random_seed(5)
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(5, activation="relu", name="fc1"),
            keras.layers.Dense(3, activation="softmax", name="logits"),
        ],
        name="atlas_cnn",
    )


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).random((40, 16, 16, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def site(cnn, images, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("site") / "atlas"
    return tfprobe.atlas(cnn, LAYERS, images, out=folder, k=4, explorers=True, **QUICK)


def read(path: Path) -> Elements:
    return Elements(path.read_text(encoding="utf-8"))


def decode_png(uri: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    return imread(io.BytesIO(base64.b64decode(uri[len(prefix) :])), format="png")


def section_of(page: Elements, channel: int) -> list[tuple[str, dict[str, str]]]:
    """The start tags of one channel's section, in order."""
    tags = page.tags
    start = next(i for i, (tag, a) in enumerate(tags) if tag == "section" and a.get("id") == f"channel-{channel}")
    end = next((i for i in range(start + 1, len(tags)) if tags[i][0] == "section"), len(tags))
    return tags[start:end]


def list_items(tags: list[tuple[str, dict[str, str]]], css_class: str) -> list[dict[str, str]]:
    return [a for tag, a in tags if tag == "li" and css_class in a.get("class", "").split()]


def examples_in(tags: list[tuple[str, dict[str, str]]], which: str) -> list[dict[str, str]]:
    """The examples listed after ``<ol class="examples <which>">``, up to the next list."""
    found, inside = [], False
    for tag, attributes in tags:
        if tag == "ol":
            inside = attributes.get("class") == f"examples {which}"
        elif tag in ("ul", "div", "h3", "p", "section", "figure"):
            inside = False
        elif inside and tag == "li":
            found.append(attributes)
    return found


def targets(page_path: Path) -> list[tuple[str, Path, str]]:
    """Every link of a page that is not a data URI: (href, the file it points to, the fragment)."""
    links = []
    for tag, attributes in read(page_path).tags:
        href = attributes.get("href")
        if tag == "a" and href is not None:
            address, fragment = urldefrag(href)
            links.append((href, (page_path.parent / address).resolve() if address else page_path.resolve(), fragment))
    return links


def anchors(path: Path) -> set[str]:
    return {a["id"] for _, a in read(path).tags if "id" in a}


def assert_links_resolve(folder: Path, pages: list[Path]) -> int:
    """Every link of the pages points to a file of the atlas and, with a fragment, to an element of it."""
    checked = 0
    for page in pages:
        for href, target, fragment in targets(page):
            assert target.is_file(), (page.name, href)
            assert target.is_relative_to(folder.resolve()), (page.name, href)
            if fragment:
                assert fragment in anchors(target), (page.name, href)
            checked += 1
    return checked


# ---------------------------------------------------------------------------------------------- the pages


def test_writes_a_page_per_layer_with_every_channel(site, cnn) -> None:
    assert list(site.pages) == LAYERS
    assert sorted(p.name for p in site.folder.iterdir()) == sorted(
        ["atlas.json", "circuits", "index.html", "conv1.html", "pool1.html", "conv2.html", "fc1.html"]
    )
    counts = {"conv1": 4, "pool1": 4, "conv2": 6, "fc1": 5}
    for layer, path in site.pages.items():
        assert path == site.folder / f"{layer}.html"
        page = read(path)
        sections = page.all("section", "channel")
        assert [s["id"] for s in sections] == [f"channel-{c}" for c in range(counts[layer])]
        assert site.channels[layer] == list(range(counts[layer]))
        assert not page.all("script") and not page.all("iframe")
        assert all(link.get("href", "").startswith("data:") for link in page.all("link"))  # nothing fetched
        assert all(i["src"].startswith("data:image/png;base64,") for i in page.all("img"))
    index = read(site.index)
    assert [a["href"] for a in index.all("a")] == [f"{layer}.html" for layer in LAYERS]
    for layer in LAYERS:  # one search for every layer: one pass over the images
        assert site.examples[layer].settings["units"] == LAYERS
    described = json.loads((site.folder / "atlas.json").read_text())
    assert described["pages"] == {layer: f"{layer}.html" for layer in LAYERS}
    assert described["units"] == {layer: [layer] for layer in LAYERS}
    assert described["sources"] == {"conv1": None, "pool1": None, "conv2": "conv1", "fc1": "conv2"}


def test_examples_shown_are_the_searchs_top_and_bottom(site, cnn, images) -> None:
    for layer in ("conv2", "fc1"):
        expected = tfprobe.dataset_examples(cnn, layer, images, k=4, progress=False)
        np.testing.assert_array_equal(site.examples[layer].indices, expected.indices)
        page = read(site.pages[layer])
        for row, channel in enumerate(expected.channels.tolist()):
            tags = section_of(page, channel)
            top, bottom = examples_in(tags, "top"), examples_in(tags, "bottom")
            assert [int(a["data-index"]) for a in top] == expected.indices[row].tolist()
            assert [int(a["data-index"]) for a in bottom] == expected.bottom_indices[row].tolist()
            np.testing.assert_allclose([float(a["data-score"]) for a in top], expected.scores[row], rtol=1e-5)
            np.testing.assert_allclose([float(a["data-score"]) for a in bottom], expected.bottom_scores[row], rtol=1e-5)


def test_crops_are_the_receptive_field_and_whole_images_where_there_is_none(site, images) -> None:
    conv2 = site.examples["conv2"]
    assert conv2.field.size == (8, 8)  # 3 x 3, pooled by 2, then 3 x 3 on the pooled grid
    page = read(site.pages["conv2"])
    tags = section_of(page, 1)
    shown = [a for tag, a in tags if tag == "img"][1:5]  # after the visualisation: the top 4
    crops, outside = conv2.images("crop", "top", 1)[0], conv2.outside("top", 1)[0]
    for uri, crop, mask in zip((a["src"] for a in shown), crops, outside, strict=True):
        png = decode_png(uri)
        assert png.shape[:2] == (8, 8)
        inside = ~mask
        np.testing.assert_allclose(png[..., :3][inside], crop[inside], atol=0.5 / 255 + 1e-6)  # 8-bit rounding
        if mask.any():  # the padding the unit saw: tinted red
            assert np.all(png[..., 0][mask] > png[..., 2][mask])
    fc1 = read(site.pages["fc1"])
    whole = [a for tag, a in section_of(fc1, 0) if tag == "img"][1]
    first = site.examples["fc1"].indices[0, 0]
    np.testing.assert_allclose(decode_png(whole["src"])[..., :3], images[first], atol=0.5 / 255 + 1e-6)


def test_visualizations_are_one_render_per_layer_and_shown_per_channel(site) -> None:
    for layer, count in {"conv1": 4, "conv2": 6, "fc1": 5}.items():
        vis = site.visualizations[layer]
        assert vis.images.shape == (count, 16, 16, 3)  # every channel in one rendering
        assert vis.steps == 4
        page = read(site.pages[layer])
        for channel in range(count):
            (picture,) = [a for tag, a in section_of(page, channel) if tag == "img" and "feature" in a["alt"]]
            np.testing.assert_allclose(decode_png(picture["src"]), vis.images[channel], atol=0.5 / 255 + 1e-6)


def test_inputs_are_the_circuits_strongest_linked_to_the_previous_page(site, cnn) -> None:
    page = read(site.pages["conv2"])
    for channel in range(6):
        circuit = tfprobe.circuit(cnn, "conv2", channel)
        tags = section_of(page, channel)
        for kind in ("excitatory", "inhibitory"):
            listed = [int(a["data-channel"]) for a in list_items(tags, "input") if kind in a["class"].split()]
            assert listed == [r.channel for r in getattr(circuit, kind)()[:3]]
        hrefs = [a["href"] for tag, a in tags if tag == "a" and a["href"].startswith("conv1.html")]
        assert hrefs == [f"conv1.html#channel-{a['data-channel']}" for a in list_items(tags, "input")]
    text = "".join(page.text)
    record = tfprobe.circuit(cnn, "conv2", 0).inputs[0]
    assert f"l2 {record.l2:.3g}" in text
    # fc1 reads conv2 through the global pooling: its inputs link to conv2's page
    fc1 = section_of(read(site.pages["fc1"]), 2)
    assert list_items(fc1, "input")
    assert all(a["href"].startswith("conv2.html#channel-") for tag, a in fc1 if tag == "a" and "html#" in a["href"])
    # pool1 has no weights: no circuit, said so
    assert "no circuit" in "".join(read(site.pages["pool1"]).text)


def test_each_channel_links_to_the_next_layers_channels_it_drives_most(site, cnn) -> None:
    kernel = keras.ops.convert_to_numpy(cnn.get_layer("conv2").kernel)  # (3, 3, 4, 6)
    page = read(site.pages["conv1"])
    for channel in range(4):
        strength = np.sqrt(np.sum(np.square(kernel[:, :, channel, :]), axis=(0, 1)))
        expected = sorted(range(6), key=lambda f: (-strength[f], f))[:3]
        driven = list_items(section_of(page, channel), "drive")
        assert [(a["data-layer"], int(a["data-channel"])) for a in driven] == [("conv2", f) for f in expected]
    assert not list_items(section_of(read(site.pages["fc1"]), 0), "drive")  # logits are not in the atlas


def test_every_link_resolves_to_an_existing_anchor(site) -> None:
    pages = [site.index, *site.pages.values(), *(p for by in site.explorers.values() for p in by.values())]
    assert assert_links_resolve(site.folder, pages) > 100


def test_explorers_link_to_the_atlas_and_back(site, cnn) -> None:
    assert sorted(site.explorers) == ["conv1", "conv2", "fc1"]  # the layers with weights
    assert sorted(site.explorers["conv2"]) == list(range(6))
    explorer = site.explorers["conv2"][3]
    assert explorer == site.folder / "circuits" / "conv2_3.html"
    tags = section_of(read(site.pages["conv2"]), 3)
    explorer_links = [a["href"] for tag, a in tags if tag == "a" and "explorer" in a.get("class", "")]
    assert explorer_links == ["circuits/conv2_3.html"]
    page = read(explorer)
    back = [a["href"] for a in page.all("a", "atlas")]
    assert back == ["../conv2.html#channel-3"]
    circuit = tfprobe.circuit(cnn, "conv2", 3)
    listed = [int(li["data-channel"]) for li in page.all("li", "input")]
    inputs = [a["href"] for a in page.all("a", "channel")]
    assert inputs == [f"../conv1.html#channel-{c}" for c in listed]
    assert listed[:1] == [circuit.excitatory(1)[0].channel]
    # the visualisations already rendered are reused: the filter and its inputs from conv1's rendering
    images = page.all("img")
    assert len(images) == len(listed) + 1
    filter_image = decode_png(images[len(circuit.excitatory(3))]["src"])  # after the excitatory inputs
    np.testing.assert_allclose(filter_image, site.visualizations["conv2"].images[3], atol=0.5 / 255 + 1e-6)
    first_input = decode_png(images[0]["src"])
    np.testing.assert_allclose(first_input, site.visualizations["conv1"].images[listed[0]], atol=0.5 / 255 + 1e-6)


def test_timing_says_how_the_time_split(site) -> None:
    assert list(site.seconds) == [*PARTS, "total"]
    assert all(value >= 0 for value in site.seconds.values())
    assert site.seconds["total"] >= sum(site.seconds[part] for part in PARTS)
    text = site.timing()
    for part in PARTS:
        assert part in text
    assert "conv1.html" in str(site)


# ---------------------------------------------------------------------------------------------- choices


def test_channels_per_layer_and_links_only_to_shown_channels(cnn, images, tmp_path) -> None:
    result = tfprobe.atlas(
        cnn,
        ["conv1", "conv2"],
        images,
        out=tmp_path / "a",
        k=2,
        channels={"conv2": [4, 1]},
        inputs=1,
        drives=2,
        **QUICK,
    )
    assert result.channels == {"conv1": [0, 1, 2, 3], "conv2": [4, 1]}
    page = read(result.pages["conv2"])
    assert [s["id"] for s in page.all("section", "channel")] == ["channel-4", "channel-1"]
    assert result.visualizations["conv2"].images.shape[0] == 2
    conv1 = read(result.pages["conv1"])
    for channel in range(4):
        driven = list_items(section_of(conv1, channel), "drive")
        assert len(driven) == 2 and {int(a["data-channel"]) for a in driven} <= {1, 4}
        for tag, attributes in section_of(conv1, channel):
            if tag == "a" and attributes["href"].startswith("conv2.html#"):
                assert attributes["href"].split("#")[1] in anchors(result.pages["conv2"])
    tags = section_of(page, 4)
    assert len(list_items(tags, "input")) <= 2  # one of each kind


def test_overwrite_replaces_and_pages_get_safe_unique_names(cnn, images, tmp_path) -> None:
    out = tmp_path / "a"
    tfprobe.atlas(cnn, "conv1", images, out=out, k=2, channels=[0], **QUICK)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(ExistingOutputError, match="exists: pass overwrite=True"):
        tfprobe.atlas(cnn, ["conv2"], None, out=out, k=2)  # refused before the images are even looked at
    assert sorted(p.name for p in out.iterdir()) == before
    result = tfprobe.atlas(cnn, ["conv2"], images, out=out, k=2, channels=[0], overwrite=True, **QUICK)
    assert sorted(p.name for p in out.iterdir()) == ["atlas.json", "conv2.html", "index.html"]
    assert result.explorers == {}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left
    assert _pages(["vgg16/block5_conv2", "vgg16_block5_conv2", "index", "conv1@t0"]) == {
        "vgg16/block5_conv2": "vgg16_block5_conv2.html",
        "vgg16_block5_conv2": "vgg16_block5_conv2-2.html",
        "index": "index-2.html",
        "conv1@t0": "conv1_t0.html",
    }
    assert file_safe("..") == "_.." and file_safe("a b:c") == "a_b_c"


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"layers": ["conv3"]}, UnknownUnitError, "did you mean .*'conv2'"),
        ({"layers": []}, InvalidValueError, "at least one layer"),
        ({"layers": ["conv1", "conv1"]}, InvalidValueError, "repeat"),
        ({"k": 0}, InvalidValueError, "k must be"),
        ({"k": 41}, InvalidValueError, "k=41 is more than the 40 images"),
        ({"channels": [9]}, InvalidIndexError, "channels \\[9\\] out of range for layer 'conv1': it has 4"),
        ({"channels": {"conv7": [0]}}, InvalidValueError, "not in the atlas"),
        ({"timesteps": 0}, InvalidValueError, "recurrent network"),
        ({"size": 8}, InvalidValueError, "smaller than the 16x16"),
        ({"layers": ["gap"], "images": np.zeros((5, 8, 8, 3), np.float32)}, ImageInputError, "expected stimuli of"),
        ({"inputs": 0}, InvalidValueError, "inputs must be"),
        ({"out": 3}, InvalidTypeError, "out must be"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(cnn, images, tmp_path, arguments, error, message) -> None:
    call = {"layers": ["conv1"], "images": images, "out": tmp_path / "a", **arguments}
    with pytest.raises(error, match=message):
        tfprobe.atlas(cnn, call.pop("layers"), call.pop("images"), **call, **QUICK)
    assert list(tmp_path.iterdir()) == []


def test_out_must_be_a_new_folder_in_an_existing_one(cnn, images, tmp_path) -> None:
    with pytest.raises(MissingFileError, match="does not exist"):
        tfprobe.atlas(cnn, "conv1", images, out=tmp_path / "missing" / "a", **QUICK)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExistingOutputError, match="is a file"):
        tfprobe.atlas(cnn, "conv1", images, out=tmp_path / "file", overwrite=True, **QUICK)
    assert (tmp_path / "file").read_text() == "x"


# ---------------------------------------------------------------------------------------------- wiring


def flattened_circuit() -> Circuit:
    """A Dense filter reading a flattened 2 x 2 x 3 map: input i is neuron unravel_index(i, (2, 2, 3))."""
    weights = np.array([1.0, -2.0, 0.5, 1.0, -2.0, 0.5, 1.0, -2.0, -3.0, 1.0, 2.0, 0.5], np.float32)
    return Circuit("dense", 0, weights.reshape(1, 1, 12), 0.0, Source("conv", "conv", (2, 2, 3)))


def test_flattened_inputs_are_summed_per_channel() -> None:
    weights = {w.channel: w for w in channel_weights(flattened_circuit())}
    # channel 0: 1, 1, 1, 1; channel 1: -2, -2, -2, 2; channel 2: 0.5, 0.5, -3, 0.5
    assert weights[0].l2 == pytest.approx(2.0) and weights[0].kind == "excitatory"
    assert weights[1].l2 == pytest.approx(4.0) and weights[1].net == pytest.approx(-4.0)
    assert weights[1].kind == "inhibitory"
    assert weights[2].positive == pytest.approx(1.5) and weights[2].negative == pytest.approx(-3.0)
    assert [w.channel for w in channel_weights(flattened_circuit())] == [1, 2, 0]  # by L2 norm
    wiring = wire(
        {"dense": {0: flattened_circuit()}},
        {"conv": "conv", "dense": "dense"},
        {"conv": [0, 1, 2], "dense": [0]},
        {"conv": 3, "dense": 1},
        drives=2,
    )
    assert wiring.sources == {"conv": None, "dense": "conv"}
    assert [(layer, w.channel, w.kind) for layer, w in wiring.drives["conv"][1]] == [("dense", 0, "inhibitory")]
    # a layer whose inputs are not the previous layer's channels is not linked
    circuits = {"dense": {0: flattened_circuit()}}
    unlinked = wire(circuits, {"conv": "conv"}, {"conv": [0], "dense": [0]}, {"conv": 4, "dense": 1}, 2)
    assert unlinked.sources["dense"] is None and unlinked.drives["conv"] == {0: []}


def test_explorer_links_to_the_atlas_pages_of_its_layers() -> None:
    circuit = flattened_circuit()
    circuit.input_layer = "vgg/conv"
    page = Elements(explorer_html(circuit, k=2, atlas="../dense.html"))
    assert [a["href"] for a in page.all("a", "atlas")] == ["../dense.html#channel-0"]
    listed = [int(li["data-channel"]) for li in page.all("li", "input")]
    expected = [f"../vgg_conv.html#channel-{np.unravel_index(c, (2, 2, 3))[-1]}" for c in listed]
    assert [a["href"] for a in page.all("a", "channel")] == expected
    mapped = Elements(explorer_html(circuit, k=2, atlas={"dense": "d.html"}))  # the input layer left out
    assert [a["href"] for a in mapped.all("a")] == ["d.html#channel-0"]
    assert not Elements(explorer_html(circuit, k=2)).all("a")
    with pytest.raises(InvalidTypeError, match="atlas must be a page URL"):
        explorer_html(circuit, k=2, atlas=3)


# ---------------------------------------------------------------------------------------------- in a browser


def instrument(page: Path, script: str, folder: Path) -> Path:
    """A copy of a page, in another folder, with a script added (the page's images are all inline)."""
    copy = folder / f"instrumented-{page.name}"
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", f"{script}</body>"), encoding="utf-8")
    return copy


def test_chromium_shows_every_page_without_errors_and_decodes_every_image(site, tmp_path) -> None:
    for layer in ("conv1", "conv2"):
        copy = instrument(site.pages[layer], COUNT_DECODED, tmp_path)
        run = run_chromium(copy, tmp_path / f"profile-{layer}", "--dump-dom")
        assert run.returncode == 0, run.stderr[-2000:]
        assert console_errors(run.stderr) == []
        dom = Elements(run.stdout)
        (body,) = dom.all("body")
        assert int(body["data-decoded"]) == len(dom.all("img")) == len(read(site.pages[layer]).all("img"))
        assert len(dom.all("section", "channel")) == len(site.channels[layer])


# Added to a copy of a recurrent page: which unit each channel section shows, before and after choosing t1.
SHOWN_STEPS = """<script>
function shown() {
  return Array.from(document.querySelectorAll("section.channel")).map(section =>
    Array.from(section.querySelectorAll(".step")).filter(s => getComputedStyle(s).display !== "none")
      .map(s => s.dataset.unit).join("+")).join(",");
}
window.addEventListener("load", () => {
  document.body.setAttribute("data-before", shown());
  document.querySelector('label[for="timestep-1"]').click();
  document.body.setAttribute("data-after", shown());
});
</script>"""


@pytest.fixture(scope="module")
def recurrent_site(tmp_path_factory: pytest.TempPathFactory):
    model = tfprobe.GainModulatedRNN.from_code("bglt_0111", timesteps=2, n_feats=2)
    scenes = np.random.default_rng(2).random((5, 100, 100, 1), dtype=np.float32)
    folder = tmp_path_factory.mktemp("recurrent") / "atlas"
    return tfprobe.atlas(
        model, ["conv1", "conv2", "fc1"], scenes, out=folder, k=2, channels={"fc1": [0, 5]}, explorers=True, **QUICK
    )


@pytest.mark.heavy
def test_recurrent_pages_show_each_time_step(recurrent_site) -> None:
    site = recurrent_site
    assert site.units == {layer: [f"{layer}@t0", f"{layer}@t1"] for layer in ("conv1", "conv2", "fc1")}
    assert site.visualizations["conv2"].images.shape == (8, 100, 100, 1)  # 4 channels x 2 steps, one batch
    page = read(site.pages["conv2"])
    steps = page.all("div", "step")
    assert [s["data-unit"] for s in steps[:2]] == ["conv2@t0", "conv2@t1"]
    assert len(steps) == 2 * 4
    assert [a["id"] for a in page.all("input")] == ["timestep-0", "timestep-1"]
    text = "".join(page.text)
    assert site.examples["conv2@t1"].field.note in text  # after step 0 the field is the whole image
    assert "after time step 0" in site.examples["conv2@t1"].field.note
    for row, channel in enumerate(site.channels["conv2"]):
        tags = section_of(page, channel)
        for unit in ("conv2@t0", "conv2@t1"):
            start = next(i for i, (t, a) in enumerate(tags) if t == "div" and a.get("data-unit") == unit)
            top = examples_in(tags[start:], "top")[:2]
            assert [int(a["data-index"]) for a in top] == site.examples[unit].indices[row].tolist()
    # conv2's inputs link to conv1's channels; fc1's (a flattened conv2 map) to conv2's
    for layer, source in (("conv2", "conv1"), ("fc1", "conv2")):
        tags = section_of(read(site.pages[layer]), site.channels[layer][0])
        links = [a["href"] for t, a in tags if t == "a" and "html#" in a["href"]]
        inputs = [f"{source}.html#channel-{a['data-channel']}" for a in list_items(tags, "input")]
        assert inputs and set(inputs) <= set(links)
    pages = [site.index, *site.pages.values(), *(p for by in site.explorers.values() for p in by.values())]
    assert assert_links_resolve(site.folder, pages) > 20


@pytest.mark.heavy
def test_chromium_time_step_selector_switches_what_is_shown(recurrent_site, tmp_path) -> None:
    copy = instrument(recurrent_site.pages["conv1"], SHOWN_STEPS, tmp_path)
    run = run_chromium(copy, tmp_path / "profile", "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    assert console_errors(run.stderr) == []
    (body,) = Elements(run.stdout).all("body")
    assert body["data-before"] == "conv1@t0,conv1@t0"
    assert body["data-after"] == "conv1@t1,conv1@t1"
