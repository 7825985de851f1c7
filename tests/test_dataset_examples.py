"""Dataset examples: a streamed top-k per channel equal to a brute-force argsort, whatever the batch size and
source, resumable, with receptive-field crops, figures and files that reload."""

from __future__ import annotations

import json

import h5py
import keras
import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

import tfprobe
from tfprobe import Probe, dataset_examples, load_dataset_examples
from tfprobe.errors import (
    CheckpointMismatchError,
    ExistingOutputError,
    ImageInputError,
    InvalidIndexError,
    InvalidTypeError,
    InvalidValueError,
    UnknownUnitError,
)
from tfprobe.examples import topk


@pytest.fixture(scope="module")
def cnn() -> keras.Model:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(5, 3, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(4, name="dense")(x)
    return keras.Model(inputs, outputs, name="small")


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    data = rng.random((53, 16, 16, 1)).astype("float32")
    data[20] = data[7]  # equal scores: the lower index must come first
    data[41] = data[7]
    data[30] = 0.0  # a blank image: ties among positions too
    return data


def brute_force(values: np.ndarray, k: int, lowest: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, indices and positions of the k best images per channel by argsort (ties: lower index)."""
    n = len(values)
    if values.ndim == 4:
        flat = values.reshape(n, -1, values.shape[-1])
        scores = flat.max(axis=1)
        first = np.argmax(flat == scores[:, None, :], axis=1)  # first position of the maximum
        positions = np.stack([first // values.shape[2], first % values.shape[2]], axis=-1)
    else:
        scores, positions = values, np.full((*values.shape, 2), -1)
    key = scores if lowest else -scores
    order = np.stack([np.lexsort((np.arange(n), key[:, c]))[:k] for c in range(scores.shape[1])])
    channels = np.arange(scores.shape[1])[:, None]
    return scores.T[channels, order], order, positions.transpose(1, 0, 2)[channels, order]


@pytest.mark.parametrize("unit", ["conv1", "conv2", "dense"])
def test_top_and_bottom_examples_equal_a_brute_force_argsort(cnn, images, unit) -> None:
    values = Probe(cnn).activations(images, unit, progress=False)[unit]
    result = dataset_examples(cnn, unit, images, k=5, batch_size=8, progress=False)
    scores, indices, positions = brute_force(values, 5)
    np.testing.assert_array_equal(result.indices, indices)
    np.testing.assert_allclose(result.scores, scores, rtol=1e-6)
    low_scores, low_indices, low_positions = brute_force(values, 5, lowest=True)
    np.testing.assert_array_equal(result.bottom_indices, low_indices)
    np.testing.assert_allclose(result.bottom_scores, low_scores, rtol=1e-6)
    if values.ndim == 4:
        np.testing.assert_array_equal(result.positions, positions)
        np.testing.assert_array_equal(result.bottom_positions, low_positions)
    else:
        assert result.positions is None and result.field is None
    assert np.all(np.diff(result.scores, axis=1) <= 0) and np.all(np.diff(result.bottom_scores, axis=1) >= 0)


def test_ties_go_to_the_lower_index(cnn, images) -> None:
    result = dataset_examples(cnn, "conv1", images, k=53, batch_size=4, bottom=False, progress=False)
    for row in range(len(result.channels)):
        order = list(result.indices[row])
        assert order.index(7) < order.index(20) < order.index(41)  # three copies of one image


def test_the_result_does_not_depend_on_the_batch_size(cnn, images) -> None:
    results = [
        dataset_examples(cnn, ["conv1", "conv2"], images, k=6, batch_size=b, progress=False) for b in (1, 7, 53, 64)
    ]
    for other in results[1:]:
        for unit in ("conv1", "conv2"):
            np.testing.assert_array_equal(other[unit].indices, results[0][unit].indices)
            np.testing.assert_array_equal(other[unit].positions, results[0][unit].positions)
            np.testing.assert_array_equal(other[unit].bottom_indices, results[0][unit].bottom_indices)
            np.testing.assert_allclose(other[unit].scores, results[0][unit].scores, rtol=1e-6)


def test_mean_and_centre_reductions_and_chosen_channels(cnn, images) -> None:
    values = Probe(cnn).activations(images, "conv1", progress=False)["conv1"]
    mean = dataset_examples(cnn, "conv1", images, k=4, reduce="mean", channels=[5, 2], progress=False)
    expected = values.mean(axis=(1, 2))[:, [5, 2]]
    for row in range(2):
        order = np.lexsort((np.arange(len(images)), -expected[:, row]))[:4]
        np.testing.assert_array_equal(mean.indices[row], order)
    assert mean.channels.tolist() == [5, 2]
    centre = dataset_examples(cnn, "conv1", images, k=4, reduce="center", channels=3, progress=False)
    order = np.lexsort((np.arange(len(images)), -values[:, 8, 8, 3]))[:4]
    np.testing.assert_array_equal(centre.indices[0], order)
    assert (centre.positions == 8).all()


def test_every_kind_of_source_gives_the_same_examples(cnn, images, tmp_path) -> None:
    expected = dataset_examples(cnn, "conv2", images, k=3, progress=False)
    np.save(tmp_path / "images.npy", images)
    with h5py.File(tmp_path / "images.h5", "w") as handle:
        handle["images"] = images
    labels = np.arange(len(images))
    sources = [
        tf.data.Dataset.from_tensor_slices(images),
        tf.data.Dataset.from_tensor_slices((images, labels)).batch(10),
        tmp_path / "images.npy",
        str(tmp_path / "images.h5"),
    ]
    for source in sources:
        got = dataset_examples(cnn, "conv2", source, k=3, batch_size=16, progress=False)
        np.testing.assert_array_equal(got.indices, expected.indices)
        np.testing.assert_array_equal(got.bottom_indices, expected.bottom_indices)
        np.testing.assert_array_equal(got.images("whole")[0, 0], images[expected.indices[0, 0]])


def test_a_folder_of_images_is_read_at_the_models_size(cnn, tmp_path) -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (6, 16, 16), dtype=np.uint8)
    for i, image in enumerate(pixels):
        PIL.Image.fromarray(image).save(tmp_path / f"img_{i}.png")
    result = dataset_examples(cnn, "conv1", tmp_path, k=2, progress=False)
    floats = (pixels[..., None] / 255.0).astype("float32")
    np.testing.assert_array_equal(result.indices, dataset_examples(cnn, "conv1", floats, k=2, progress=False).indices)
    assert result.settings["source"] == f"folder {tmp_path}"


def test_several_time_steps_in_one_pass_equal_separate_searches() -> None:
    rnn = tfprobe.GainModulatedRNN.from_code("bglt_0111", timesteps=3, n_feats=2)
    scenes = np.random.default_rng(2).random((12, 100, 100, 1)).astype("float32")
    together = dataset_examples(rnn, "conv1", scenes, k=3, batch_size=5, progress=False)
    assert list(together) == ["conv1@t0", "conv1@t1", "conv1@t2"]
    for unit, result in together.items():
        alone = dataset_examples(rnn, unit, scenes, k=3, batch_size=12, progress=False)
        np.testing.assert_array_equal(result.indices, alone.indices)
        np.testing.assert_array_equal(result.positions, alone.positions)
    assert not together["conv1@t0"].field.feedforward_only
    late = together["conv1@t2"].field
    assert late.feedforward_only and "whole image" in late.note
    assert late.size == (7, 7) and late.stride == (3, 3)  # 5 x 5 convolution, then 3 x 3 pooling


def test_the_forward_pass_and_the_reduction_compile_once(cnn, images, monkeypatch) -> None:
    traces = []
    reduce = topk.channel_scores

    def counting(*args, **kwargs):
        traces.append(1)
        return reduce(*args, **kwargs)

    monkeypatch.setattr("tfprobe.examples.search.channel_scores", counting)
    dataset_examples(cnn, "conv1", images, k=3, batch_size=10, progress=False)  # batches of 10 and a last of 3
    assert len(traces) == 1


class Interrupted:
    """Images read by slices, recording where each read starts, that fail when a read reaches ``fail_at``."""

    def __init__(self, data: np.ndarray, fail_at: int | None) -> None:
        self.data, self.fail_at, self.reads = data, fail_at, []
        self.shape, self.dtype = data.shape, data.dtype

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, item: slice) -> np.ndarray:
        if self.fail_at is not None and item.start <= self.fail_at < item.stop:
            raise RuntimeError("interrupted")
        self.reads.append(item.start)
        return self.data[item]


def test_an_interrupted_search_resumes_from_its_checkpoint(cnn, images, tmp_path) -> None:
    expected = dataset_examples(cnn, ["conv1", "dense"], images, k=4, progress=False)
    checkpoint = tmp_path / "search.npz"
    options = {"k": 4, "batch_size": 5, "checkpoint": checkpoint, "checkpoint_every": 2, "progress": False}
    with pytest.raises(RuntimeError, match="interrupted"):
        dataset_examples(cnn, ["conv1", "dense"], Interrupted(images, 33), **options)
    with np.load(checkpoint) as saved:
        assert int(saved["processed"]) == 30  # saved after batches 2, 4 and 6 of 5 images; batch 7 never finished
    source = Interrupted(images, None)
    resumed = dataset_examples(cnn, ["conv1", "dense"], source, **options)
    assert min(source.reads) == 30  # the first 30 images were not run again
    for unit in ("conv1", "dense"):
        np.testing.assert_array_equal(resumed[unit].indices, expected[unit].indices)
        np.testing.assert_array_equal(resumed[unit].bottom_indices, expected[unit].bottom_indices)
        np.testing.assert_allclose(resumed[unit].scores, expected[unit].scores, rtol=1e-6)

    # A dataset resumes too: it is read again up to the checkpoint (tf.data skips by reading), not run again.
    def failing() -> object:
        for i, image in enumerate(images):
            if i == 33:
                raise RuntimeError("interrupted")
            yield image

    spec = tf.TensorSpec((16, 16, 1), tf.float32)
    dataset_options = {**options, "checkpoint": tmp_path / "dataset.npz"}
    with pytest.raises(Exception, match="interrupted"):
        dataset_examples(
            cnn, "dense", tf.data.Dataset.from_generator(failing, output_signature=spec), **dataset_options
        )
    whole = dataset_examples(
        cnn, "dense", tf.data.Dataset.from_generator(lambda: iter(images), output_signature=spec), **dataset_options
    )
    np.testing.assert_array_equal(whole.indices, expected["dense"].indices)
    assert whole.settings["images_seen"] == len(images)
    with pytest.raises(CheckpointMismatchError, match="k: 4 there, 5 now"):
        dataset_examples(cnn, ["conv1", "dense"], source, **{**options, "k": 5})


def test_crops_follow_the_receptive_field_and_mark_the_border(cnn, images) -> None:
    result = dataset_examples(cnn, "conv2", images, k=3, progress=False)
    field = result.field
    assert field.size == (8, 8) and field.stride == (2, 2) and field.offset == (-1, -1)
    crops = result.images("crop")
    assert crops.shape == (5, 3, 8, 8, 1)
    outside = result.outside()
    for row in range(5):
        for j in range(3):
            top, left, bottom, right = field.box(*result.positions[row, j])
            image = images[result.indices[row, j]]
            inside = ~outside[row, j]
            clipped = image[max(top, 0) : bottom, max(left, 0) : right]
            np.testing.assert_array_equal(crops[row, j][inside].ravel(), clipped.ravel())
            assert outside[row, j].any() == (top < 0 or left < 0 or bottom > 16 or right > 16)
            assert (crops[row, j][outside[row, j]] == 0).all()


def test_figure_save_and_load(cnn, images, tmp_path) -> None:
    result = dataset_examples(cnn, "conv1", images, k=3, channels=[0, 4], progress=False)
    figure = result.figure(path=tmp_path / "grid.png")
    labels = {axis.get_label() for axis in figure.axes}
    assert {"top 0 0", "top 4 2", "bottom 4 2"} <= labels and (tmp_path / "grid.png").stat().st_size > 0
    folder = result.save(tmp_path / "saved")
    description = json.loads((folder / "examples.json").read_text())
    assert description["unit"] == "conv1" and description["settings"]["k"] == 3
    grid = np.asarray(PIL.Image.open(folder / "channel_4.png"))
    assert grid.shape[0] == 2 * result.field.size[0] + 2  # top row, gap, bottom row
    again = load_dataset_examples(folder)
    np.testing.assert_array_equal(again.indices, result.indices)
    np.testing.assert_array_equal(again.images("crop", "bottom"), result.images("crop", "bottom"))
    np.testing.assert_array_equal(again.images("whole"), result.images("whole"))
    assert again.field == result.field
    with pytest.raises(ExistingOutputError):
        result.save(folder)


def test_bad_requests_are_refused_before_any_work(cnn, images, tmp_path) -> None:
    with pytest.raises(UnknownUnitError, match="conv1"):
        dataset_examples(cnn, "conv_1", images, progress=False)
    with pytest.raises(InvalidValueError, match="k"):
        dataset_examples(cnn, "conv1", images, k=0, progress=False)
    with pytest.raises(InvalidValueError, match="more than the 53 images"):
        dataset_examples(cnn, "conv1", images, k=54, progress=False)
    with pytest.raises(ImageInputError, match="no images"):
        dataset_examples(cnn, "conv1", images[:0], progress=False)
    with pytest.raises(ImageInputError, match=r"\(n, 16, 16, 1\)"):
        dataset_examples(cnn, "conv1", np.zeros((4, 20, 20, 3), "float32"), progress=False)
    with pytest.raises(InvalidIndexError, match="it has 6 channels"):
        dataset_examples(cnn, "conv1", images, channels=[2, 6], progress=False)
    with pytest.raises(InvalidValueError, match="max, mean, center"):
        dataset_examples(cnn, "conv1", images, reduce="median", progress=False)
    with pytest.raises(InvalidIndexError, match="unit 'conv2'"):
        dataset_examples(cnn, ["conv1", "conv2"], images, channels=5, progress=False)  # conv1 has 6, conv2 5
    with pytest.raises(InvalidValueError, match="folder"):
        dataset_examples(cnn, "conv1", images, checkpoint=tmp_path / "missing" / "c.npz", progress=False)
    dense = dataset_examples(cnn, "dense", images, k=2, progress=False)
    with pytest.raises(InvalidTypeError, match="no spatial map"):
        dense.images("crop")
    assert dense.images("whole").shape == (4, 2, 16, 16, 1)


MULTI_WORKER = """
import json, sys
import numpy as np, keras, tensorflow as tf
import tfprobe
from tfprobe import dataset_examples
from tfprobe.errors import UnsupportedError

strategy = tf.distribute.MultiWorkerMirroredStrategy()
keras.utils.set_random_seed(3)
with strategy.scope():
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4, name="dense")(keras.layers.Flatten()(x)))
model.load_weights(sys.argv[1])
images = np.load(sys.argv[2])
sources = {"array": images, "dataset": tf.data.Dataset.from_tensor_slices(images).batch(7)}
found = {}
for kind, source in sources.items():
    results = dataset_examples(model, ["conv1", "dense"], source, k=5, batch_size=4, strategy=strategy, progress=False)
    found[kind] = {unit: [r.indices.tolist(), r.bottom_indices.tolist(), r.scores.tolist(),
                          None if r.positions is None else r.positions.tolist(), r.settings["images_seen"]]
                   for unit, r in results.items()}
try:  # a Probe splits batches on one machine: it refuses a strategy over several workers
    tfprobe.Probe(model, strategy=strategy)
except UnsupportedError as error:
    print("REFUSED", "2 workers" in str(error))
print("RESULT" + json.dumps(found))
"""


@pytest.mark.heavy
def test_two_workers_each_stream_a_shard_and_merge_to_the_single_process_result(images, tmp_path) -> None:
    from cluster import run_cluster

    keras.utils.set_random_seed(3)
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4, name="dense")(keras.layers.Flatten()(x)))
    model.save_weights(tmp_path / "model.weights.h5")
    np.save(tmp_path / "images.npy", images)
    outputs, _ = run_cluster(MULTI_WORKER, tmp_path, str(tmp_path / "model.weights.h5"), str(tmp_path / "images.npy"))
    single = dataset_examples(model, ["conv1", "dense"], images, k=5, batch_size=4, progress=False)
    for output in outputs:
        assert "REFUSED True" in output
        found = json.loads(output.split("RESULT")[1])
        for kind in ("array", "dataset"):
            for unit, result in single.items():
                indices, bottom, scores, positions, seen = found[kind][unit]
                np.testing.assert_array_equal(indices, result.indices)
                np.testing.assert_array_equal(bottom, result.bottom_indices)
                np.testing.assert_allclose(scores, result.scores, rtol=1e-6)
                if result.positions is not None:
                    np.testing.assert_array_equal(positions, result.positions)
                assert seen == len(images)
