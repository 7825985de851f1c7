"""ImageNet helpers offline: class names, decoding, image files as Keras reads them, preprocessing, photos."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow_datasets
from PIL import Image

from tfprobe._assets import asset_path
from tfprobe.datasets import PHOTOS, photo_path, photo_paths
from tfprobe.datasets.idx import DatasetFileError
from tfprobe.models import (
    class_names,
    decode_predictions,
    deprocess_input,
    load_image,
    load_images,
    predict,
    preprocess_input,
)

KNOWN = {
    "n01818515": "macaw",
    "n03930313": "picket_fence",
    "n09229709": "bubble",
    "n03991062": "pot",
    "n03782006": "monitor",
    "n01440764": "tench",
    "n15075141": "toilet_tissue",
    "n02123045": "tabby",
    "n03920288": "Petri_dish",
}


# ------------------------------------------------------------------ classes


def test_class_names_are_the_1000_sorted_wnids_with_keras_style_names() -> None:
    classes = class_names()
    wnids = [wnid for wnid, _ in classes]
    assert len(wnids) == len(set(wnids)) == 1000
    assert wnids == sorted(wnids)
    assert all(re.fullmatch(r"n\d{8}", w) for w in wnids)
    tfds_labels = Path(tensorflow_datasets.__file__).parent / "datasets" / "imagenet2012" / "labels.txt"
    assert wnids == tfds_labels.read_text().split()
    by_wnid = dict(classes)
    for wnid, name in KNOWN.items():
        assert by_wnid[wnid] == name
    assert wnids.index("n03930313") == 716 and wnids.index("n09229709") == 971
    assert all(name and " " not in name and "," not in name for _, name in classes)


def test_decode_predictions_orders_the_top_classes() -> None:
    probabilities = np.zeros((2, 1000))
    probabilities[0, [716, 88, 971]] = [0.5, 0.3, 0.2]
    probabilities[1, 738] = 1.0
    decoded = decode_predictions(probabilities, top=3)
    assert decoded[0] == [("n03930313", "picket_fence", 0.5), ("n01818515", "macaw", 0.3), ("n09229709", "bubble", 0.2)]
    assert decoded[1][0] == ("n03991062", "pot", 1.0)
    assert decoded[1][1:] == [("n01440764", "tench", 0.0), ("n01443537", "goldfish", 0.0)]  # ties: class order
    assert decode_predictions(probabilities[1])[0][0][:2] == ("n03991062", "pot")
    with pytest.raises(ValueError, match=r"shape \(n, 1000\), got \(2, 10\)"):
        decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="top must be"):
        decode_predictions(probabilities, top=0)


# ------------------------------------------------------------------ image files


@pytest.fixture(scope="module")
def odd_images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Image files of odd sizes and modes: RGB JPEG, grayscale PNG, RGBA PNG, palette GIF."""
    folder = tmp_path_factory.mktemp("odd")
    rng = np.random.default_rng(0)
    pixels = (rng.random((37, 53, 3)) * 255).astype(np.uint8)
    files = [folder / "rgb.jpg", folder / "gray.png", folder / "rgba.png", folder / "palette.gif"]
    Image.fromarray(pixels).save(files[0], quality=90)
    Image.fromarray(pixels[..., 0]).save(files[1])
    Image.fromarray(np.dstack([pixels, pixels[..., :1]])).save(files[2])
    Image.fromarray(pixels).convert("P").save(files[3])
    return files


@pytest.mark.parametrize("size", [(224, 224), (30, 70), None])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_load_image_matches_keras_load_img(odd_images: list[Path], size: tuple | None, interpolation: str) -> None:
    for path in [*odd_images, *photo_paths().values()]:
        expected = keras.utils.img_to_array(keras.utils.load_img(path, target_size=size, interpolation=interpolation))
        np.testing.assert_array_equal(load_image(path, size, interpolation), expected)


def test_load_images_stacks_resized_images_and_names_bad_files(odd_images: list[Path], tmp_path: Path) -> None:
    batch = load_images(odd_images)
    assert batch.shape == (4, 224, 224, 3) and batch.dtype == np.float32
    np.testing.assert_array_equal(
        batch[1], keras.utils.img_to_array(keras.utils.load_img(odd_images[1], target_size=(224, 224)))
    )
    with pytest.raises(ValueError, match="give a size"):
        load_images(photo_paths().values(), size=None)  # 341x400 and 400x266 ...
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image at all")
    with pytest.raises(DatasetFileError, match=re.escape(str(broken))):
        load_images([odd_images[0], broken])
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(photo_path("chelsea").read_bytes()[:3000])
    with pytest.raises(DatasetFileError, match=re.escape(str(truncated))):
        load_image(truncated)
    with pytest.raises(FileNotFoundError, match=r"nothing\.png"):
        load_image(tmp_path / "nothing.png")


# ------------------------------------------------------------------ preprocessing


def test_preprocess_input_is_keras_and_deprocess_input_undoes_it() -> None:
    images = load_images(photo_paths().values())
    kept = images.copy()
    caffe = preprocess_input(images, "vgg16")
    np.testing.assert_array_equal(images, kept)  # Keras's preprocess_input would have changed them
    np.testing.assert_allclose(caffe, keras.applications.vgg16.preprocess_input(kept.copy()), rtol=0, atol=1e-4)
    np.testing.assert_allclose(caffe[0, 0, 0], kept[0, 0, 0, ::-1] - [103.939, 116.779, 123.68], atol=1e-4)
    np.testing.assert_allclose(deprocess_input(caffe, "vgg16"), kept / 255.0, atol=1e-5)
    tf_mode = preprocess_input(images, "mobilenetv2")
    assert tf_mode.min() >= -1 and tf_mode.max() <= 1
    np.testing.assert_allclose(deprocess_input(tf_mode, "mobilenetv2"), kept / 255.0, atol=1e-5)
    shown = deprocess_input(np.full((2, 2, 3), 500.0))  # one image; out of range values are clipped
    assert shown.shape == (2, 2, 3) and shown.max() == 1.0
    with pytest.raises(ValueError, match="family must be one of"):
        preprocess_input(images, "vgg11")
    with pytest.raises(ValueError, match=r"\(n, height, width, 3\)"):
        deprocess_input(np.zeros((2, 8, 8, 1)))


# ------------------------------------------------------------------ predict


@pytest.fixture(scope="module")
def tiny_classifier() -> keras.Model:
    keras.utils.set_random_seed(5)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1000, activation="softmax")(x))


def test_predict_reads_files_at_the_model_size_and_decodes(tiny_classifier: keras.Model) -> None:
    paths = list(photo_paths().values())
    found = predict(tiny_classifier, paths, top=3, preprocess="vgg16", batch_size=4)
    pixels = np.stack([keras.utils.img_to_array(keras.utils.load_img(p, target_size=(32, 32))) for p in paths])
    outputs = np.asarray(tiny_classifier(keras.applications.vgg16.preprocess_input(pixels)))
    expected = decode_predictions(outputs, top=3)
    assert [[c[:2] for c in row] for row in found] == [[c[:2] for c in row] for row in expected]
    np.testing.assert_allclose(
        [[c[2] for c in row] for row in found], [[c[2] for c in row] for row in expected], rtol=1e-5
    )
    assert len(found) == len(paths) and all(len(row) == 3 for row in found)
    assert predict(tiny_classifier, pixels[0], top=1, preprocess="vgg16")[0][0][:2] == expected[0][0][:2]


def test_predict_refuses_unknown_preprocessing_and_non_imagenet_models(tiny_classifier: keras.Model) -> None:
    with pytest.raises(ValueError, match="preprocessing is unknown"):
        predict(tiny_classifier, photo_path("coffee"))
    small = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="1000-class"):
        predict(small, np.zeros((1, 32, 32, 3)), preprocess=None)


# ------------------------------------------------------------------ shipped files


def _readme_digests() -> dict[str, str]:
    readme = asset_path("README.md").read_text()
    return dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", readme, flags=re.MULTILINE))


def test_photos_are_small_real_images_documented_in_the_assets_readme() -> None:
    paths = photo_paths()
    assert list(paths) == sorted(PHOTOS) and len(paths) == 6
    digests = _readme_digests()
    for name, path in paths.items():
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.mode == "RGB" and max(image.size) <= 400
        assert digests[f"photos/{name}.jpg"] == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(KeyError, match="expected one of chelsea"):
        photo_path("lena")


def test_class_table_matches_its_documented_digest() -> None:
    path = asset_path("imagenet_classes.tsv")
    assert _readme_digests()["imagenet_classes.tsv"] == hashlib.sha256(path.read_bytes()).hexdigest()
