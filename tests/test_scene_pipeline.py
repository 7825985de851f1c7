"""The tf.data pipeline of scenes: endless, seeded, batched, and what model.fit takes."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfprobe.datasets import LABEL_KEYS, ClutteredScenes
from tfprobe.datasets.scene_layout import draw_layout


@pytest.fixture(scope="module")
def make(scene_sources):
    digits, fashion = scene_sources

    def build(seed: int = 3) -> ClutteredScenes:
        return ClutteredScenes("train", seed=seed, digits=digits, fashion=fashion)

    return build


def take(dataset: tf.data.Dataset, n: int) -> list:
    return [tf.nest.map_structure(lambda x: x.numpy(), element) for element in itertools.islice(dataset, n)]


def test_batches_of_images_and_category(make) -> None:
    dataset = make().dataset(batch_size=5)
    images_spec, labels_spec = dataset.element_spec
    assert images_spec.shape == (5, 100, 100, 1) and images_spec.dtype == tf.float32
    assert labels_spec.shape == (5,) and labels_spec.dtype == tf.int64
    batches = take(dataset, 3)
    for images, labels in batches:
        assert images.shape == (5, 100, 100, 1) and labels.shape == (5,)
        assert images.min() >= 0 and images.max() <= 1 and set(labels) <= set(range(20))
    assert not np.array_equal(batches[0][0], batches[1][0])  # new scenes every batch


def test_the_same_seed_gives_the_same_stream(make) -> None:
    first = take(make(seed=9).dataset(batch_size=4, parallel_calls=2), 4)
    second = take(make(seed=9).dataset(batch_size=4, parallel_calls=1), 4)
    for (a_images, a_labels), (b_images, b_labels) in zip(first, second, strict=True):
        assert a_images.tobytes() == b_images.tobytes()
        np.testing.assert_array_equal(a_labels, b_labels)
    other = take(make(seed=10).dataset(batch_size=4), 1)
    assert not np.array_equal(other[0][0], first[0][0])


def test_batches_are_scenes_with_their_labels(make) -> None:
    """Batch k is rendered from default_rng([entropy, k]), entropy drawn once from the seed: as documented."""
    generator = make(seed=12)
    batches = take(generator.dataset(batch_size=6, targets=LABEL_KEYS), 2)
    entropy = int(np.random.default_rng(12).integers(2**63 - 1))
    objects = generator.objects
    for k, (images, labels) in enumerate(batches):
        layout = draw_layout(np.random.default_rng([entropy, k]), 6, objects.n_digits, objects.n_fashion)
        expected = generator.render(layout)
        assert images.tobytes() == expected.images.tobytes()
        assert set(labels) == set(LABEL_KEYS)
        for key in LABEL_KEYS:
            np.testing.assert_array_equal(labels[key], expected.labels[key])


def test_targets_choose_the_element_structure(make) -> None:
    generator = make()
    assert isinstance(generator.dataset(batch_size=2, targets=None).element_spec, tf.TensorSpec)
    _, labels = generator.dataset(batch_size=2, targets=("x", "scale")).element_spec
    assert set(labels) == {"x", "scale"}
    with pytest.raises(ValueError, match=r"targets must be label keys among category, x, y"):
        generator.dataset(targets="colour")
    with pytest.raises(ValueError, match="targets must be label keys"):
        generator.dataset(targets=())
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        generator.dataset(batch_size=0)


def test_model_fit_trains_on_the_pipeline(make) -> None:
    model = keras.Sequential(
        [
            keras.Input((100, 100, 1)),
            keras.layers.AveragePooling2D(10),
            keras.layers.Flatten(),
            keras.layers.Dense(20),
        ]
    )
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(make().dataset(batch_size=8), steps_per_epoch=3, epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))


def test_a_stream_resumes_at_any_batch(make) -> None:
    """(entropy, start) names a stream position: what a training checkpoint stores to resume its data."""
    generator = make(seed=5)
    whole = take(generator.dataset(batch_size=3), 5)
    entropy = generator.last_entropy
    resumed = take(make(seed=99).dataset(batch_size=3, start=3, entropy=entropy), 2)
    for (images, labels), (want_images, want_labels) in zip(resumed, whole[3:], strict=True):
        np.testing.assert_array_equal(images, want_images)
        np.testing.assert_array_equal(labels, want_labels)
    with pytest.raises(ValueError, match="start must be an int >= 0"):
        generator.dataset(batch_size=3, start=-1)
    with pytest.raises(ValueError, match="entropy must be an int >= 0"):
        generator.dataset(batch_size=3, entropy=1.5)


def test_a_curriculum_fades_clean_scenes_out(make) -> None:
    """clean_until=T: batch k shows a share 1 - k/T of its targets without clutter, then the plain stream."""
    generator = make(seed=7)
    plain = take(generator.dataset(batch_size=64), 6)
    entropy = generator.last_entropy
    taught = take(make(seed=7).dataset(batch_size=64, clean_until=4, entropy=entropy), 6)
    objects = generator.objects
    shares = []
    for k, ((images, labels), (plain_images, plain_labels)) in enumerate(zip(taught, plain, strict=True)):
        np.testing.assert_array_equal(labels, plain_labels)  # the same scenes, only the clutter goes
        scenes = generator.render(
            draw_layout(np.random.default_rng([entropy, k]), 64, objects.n_digits, objects.n_fashion)
        )
        clean = np.all(images == scenes.clean, axis=(1, 2, 3))
        cluttered = np.all(images == plain_images, axis=(1, 2, 3))
        assert np.all(clean | cluttered)
        shares.append(float(np.mean(clean & ~cluttered)))
    assert shares[0] == 1.0 and shares[4] == shares[5] == 0.0
    assert shares[0] > shares[1] > shares[3] > 0.0
    assert shares[2] == pytest.approx(0.5, abs=0.2)
    # A resumed curriculum picks up where it stopped.
    resumed = take(make(seed=99).dataset(batch_size=64, clean_until=4, entropy=entropy, start=2), 1)
    np.testing.assert_array_equal(resumed[0][0], taught[2][0])
    with pytest.raises(ValueError, match="clean_until must be an int >= 0"):
        generator.dataset(batch_size=3, clean_until=-2)
