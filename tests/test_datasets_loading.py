"""MNIST / Fashion-MNIST loading: IDX parsing, the study's split, where data is looked for, and errors.

Real data: Fashion-MNIST from Debian's ``dataset-fashion-mnist`` and the MNIST
test split in the repository's sibling ``shared/data/mnist``.  The network is
never used: tensorflow-datasets is always cut off by a failing network probe.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tfprobe.datasets import (
    DatasetFileError,
    DatasetNotFoundError,
    ImageSplits,
    digits,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
N_SYNTHETIC_TRAIN = 5010  # just over the 5,000 validation images the study's split takes
N_SYNTHETIC_TEST = 14


# --------------------------------------------------------------------------- helpers


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file of unsigned bytes holding ``array`` (``magic`` overrides the header's magic)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = 0x800 + array.ndim if magic is None else magic
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray, *, magic: int | None = None) -> Path:
    """Write ``array`` as IDX, gzipped when ``path`` ends in ``.gz``."""
    data = idx_bytes(array, magic)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def synthetic_images(n: int) -> np.ndarray:
    """Images whose first two pixels encode their index, so splits can be traced back."""
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 0, 0] = np.arange(n) % 256
    images[:, 0, 1] = np.arange(n) // 256
    return images


def image_index(images: np.ndarray) -> np.ndarray:
    return images[:, 0, 0].astype(np.int64) + 256 * images[:, 0, 1].astype(np.int64)


def write_dataset(folder: Path, *, train: bool = True, gz: bool = True) -> Path:
    """The four (or, with ``train=False``, two test) IDX files of a small synthetic data set."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    sizes = {"t10k": N_SYNTHETIC_TEST, "train": N_SYNTHETIC_TRAIN} if train else {"t10k": N_SYNTHETIC_TEST}
    for prefix, n in sizes.items():
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", synthetic_images(n))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n) % 10)
    return folder


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No data anywhere: empty HOME, no TFPROBE_DATA_DIR or KERAS_HOME, no Debian folder, no network."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("TFPROBE_DATA_DIR", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setattr(digits, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian" / "fashion-mnist")

    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(digits.socket, "create_connection", offline)
    return home


def message(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    return str(excinfo.value)


# --------------------------------------------------------------------------- IDX reading


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_reads_raw_and_gzipped_files(tmp_path: Path, suffix: str) -> None:
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    result = read_idx(write_idx(tmp_path / f"images{suffix}", images))
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, images)


@pytest.mark.parametrize("gz", [True, False])
def test_data_dir_gives_the_study_split(tmp_path: Path, gz: bool) -> None:
    splits = load_mnist(write_dataset(tmp_path / "MNIST_data", gz=gz))
    assert isinstance(splits, ImageSplits)
    # TF1 read_data_sets(validation_size=5000): validation = first 5,000 training images, train = the rest.
    np.testing.assert_array_equal(image_index(splits.validation.images), np.arange(5000))
    np.testing.assert_array_equal(image_index(splits.train.images), np.arange(5000, N_SYNTHETIC_TRAIN))
    np.testing.assert_array_equal(splits.validation.indices, np.arange(5000))
    np.testing.assert_array_equal(image_index(splits.test.images), np.arange(N_SYNTHETIC_TEST))
    for split in (splits.train, splits.validation, splits.test):
        assert split.images.dtype == np.uint8 and split.images.shape[1:] == (28, 28)
        assert split.labels.dtype == np.int64 and split.labels.shape == (len(split),)
        np.testing.assert_array_equal(split.labels, split.indices % 10)
    assert str(tmp_path / "MNIST_data") in splits.source


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def fashion() -> ImageSplits:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("TFPROBE_DATA_DIR", raising=False)
        monkeypatch.setattr(digits, "SOURCES", [s for s in digits.SOURCES if s[0] != "tensorflow-datasets"])
        return load_fashion_mnist()


def test_fashion_mnist_from_debian_has_the_study_split(fashion: ImageSplits) -> None:
    assert str(DEBIAN_FASHION) in fashion.source
    assert fashion.train.images.shape == (55000, 28, 28)
    assert fashion.validation.images.shape == (5000, 28, 28)
    assert fashion.test.images.shape == (10000, 28, 28)
    assert all(split.images.dtype == np.uint8 for split in (fashion.train, fashion.validation, fashion.test))
    raw_train = read_idx(DEBIAN_FASHION / "train-images-idx3-ubyte.gz")
    raw_labels = read_idx(DEBIAN_FASHION / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(fashion.validation.images, raw_train[:5000])
    np.testing.assert_array_equal(fashion.train.images, raw_train[5000:])
    np.testing.assert_array_equal(fashion.validation.labels, raw_labels[:5000])
    np.testing.assert_array_equal(fashion.test.images, read_idx(DEBIAN_FASHION / "t10k-images-idx3-ubyte.gz"))


def test_fashion_mnist_labels_are_balanced_classes(fashion: ImageSplits) -> None:
    for split in (fashion.train, fashion.validation, fashion.test):
        assert split.labels.dtype == np.int64
        assert split.labels.min() == 0 and split.labels.max() == 9
    np.testing.assert_array_equal(np.bincount(fashion.test.labels), np.full(10, 1000))
    train_share = np.bincount(fashion.train.labels) / len(fashion.train)
    np.testing.assert_allclose(train_share, 0.1, atol=0.01)


def test_mnist_test_split_only_needs_allow_single_split(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFPROBE_DATA_DIR", str(SHARED_DATA))
    with pytest.raises(DatasetNotFoundError) as excinfo:
        load_mnist()
    text = message(excinfo)
    assert "only the test split (10,000 images)" in text
    assert str(SHARED_DATA / "mnist") in text
    assert "allow_single_split=True" in text


def test_mnist_single_split_is_disjoint_and_seeded(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFPROBE_DATA_DIR", str(SHARED_DATA))
    splits = load_mnist(allow_single_split=True, seed=0)
    parts = (splits.train, splits.validation, splits.test)
    assert [len(p) for p in parts] == [7857, 714, 1429]  # 55:5:10 of 10,000
    everything = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(everything), np.arange(10000))  # disjoint, nothing lost
    raw_images = read_idx(SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz")
    raw_labels = read_idx(SHARED_DATA / "mnist" / "t10k-labels-idx1-ubyte.gz")
    assert raw_labels[0] == 7  # the first MNIST test image is a 7
    for part in parts:
        np.testing.assert_array_equal(part.images, raw_images[part.indices])
        np.testing.assert_array_equal(part.labels, raw_labels[part.indices])
    assert "allow_single_split" in splits.source and "default_rng(0)" in splits.source

    again = load_mnist(allow_single_split=True, seed=0)
    other = load_mnist(allow_single_split=True, seed=1)

    def digest(split: ImageSplits) -> list[str]:
        return [hashlib.sha256(p.images.tobytes()).hexdigest() for p in (split.train, split.validation, split.test)]

    assert digest(again) == digest(splits)
    assert digest(other) != digest(splits)
    assert not np.array_equal(other.validation.indices, splits.validation.indices)


# --------------------------------------------------------------------------- where data is looked for


def test_no_source_lists_every_place_and_reason(isolated: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as excinfo:
        load_fashion_mnist()
    assert isinstance(excinfo.value, FileNotFoundError)
    text = message(excinfo)
    assert "$TFPROBE_DATA_DIR: not set" in text
    assert f"Debian dataset-fashion-mnist: {digits.DEBIAN_FASHION_MNIST_DIR} does not exist" in text
    assert f"Keras cache: {isolated / '.keras' / 'datasets' / 'fashion-mnist'} does not exist" in text
    assert "tensorflow-datasets:" in text and "network is unreachable (test)" in text

    with pytest.raises(DatasetNotFoundError) as excinfo:
        load_mnist()
    assert "Debian packages only Fashion-MNIST" in message(excinfo)
    assert f"{isolated / '.keras' / 'datasets' / 'mnist.npz'} does not exist" in message(excinfo)


def test_tfds_fails_fast_when_offline(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A network probe that hangs is cut off after NETWORK_TIMEOUT; its reason reaches the error."""
    released = threading.Event()

    def hang(*args: object, **kwargs: object) -> None:
        released.wait(30)
        raise OSError("released")

    monkeypatch.setattr(digits.socket, "create_connection", hang)
    monkeypatch.setattr(digits, "NETWORK_TIMEOUT", 0.5)
    start = time.perf_counter()
    try:
        with pytest.raises(DatasetNotFoundError) as excinfo:
            load_mnist()
    finally:
        released.set()
    assert time.perf_counter() - start < 5
    assert "did not answer within 0.5 s" in message(excinfo)


def test_environment_folder_and_keras_cache(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = isolated / "data"
    write_dataset(root / "fashion-mnist", gz=False)
    monkeypatch.setenv("TFPROBE_DATA_DIR", str(root))
    assert str(root / "fashion-mnist") in load_fashion_mnist().source

    # A test-only copy earlier in the order gives way to a full copy later (here the Keras cache's mnist.npz).
    write_dataset(root / "mnist", train=False)
    cache = isolated / ".keras" / "datasets"
    cache.mkdir(parents=True)
    np.savez(
        cache / "mnist.npz",
        x_train=synthetic_images(N_SYNTHETIC_TRAIN),
        y_train=np.arange(N_SYNTHETIC_TRAIN, dtype=np.uint8) % 10,
        x_test=synthetic_images(N_SYNTHETIC_TEST),
        y_test=np.arange(N_SYNTHETIC_TEST, dtype=np.uint8) % 10,
    )
    splits = load_mnist(allow_single_split=True)
    assert str(cache / "mnist.npz") in splits.source
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (10, 5000, N_SYNTHETIC_TEST)


def test_explicit_data_dir_never_falls_back(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digits, "DEBIAN_FASHION_MNIST_DIR", DEBIAN_FASHION)
    folder = write_dataset(isolated / "fMNIST_data", train=False)
    with pytest.raises(DatasetNotFoundError) as excinfo:
        load_fashion_mnist(folder)
    assert "only the test split (14 images)" in message(excinfo) and "allow_single_split" in message(excinfo)
    splits = load_fashion_mnist(folder, allow_single_split=True, seed=3)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (11, 1, 2)
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_fashion_mnist(isolated / "nowhere")


# --------------------------------------------------------------------------- bad input


def test_missing_files_are_each_named(tmp_path: Path) -> None:
    folder = tmp_path / "MNIST_data"
    folder.mkdir()
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(3))
    with pytest.raises(DatasetNotFoundError) as excinfo:
        load_mnist(folder)
    text = message(excinfo)
    for name in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert f"{name}[.gz]" in text
    assert "train-labels" not in text


def test_truncated_and_trailing_payload(tmp_path: Path) -> None:
    data = idx_bytes(synthetic_images(4))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(DatasetFileError) as excinfo:
        read_idx(path)
    assert str(path) in message(excinfo) and "truncated" in message(excinfo)
    assert f"expects {4 * 784} payload bytes, found {4 * 784 - 100}" in message(excinfo)

    path.write_bytes(gzip.compress(data + b"extra"))
    with pytest.raises(DatasetFileError, match=f"trailing data.*expects {4 * 784} payload bytes, found {4 * 784 + 5}"):
        read_idx(path)


def test_truncated_and_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(synthetic_images(50)))[:-40])
    with pytest.raises(DatasetFileError) as excinfo:
        read_idx(path)
    assert str(path) in message(excinfo) and "expected gzip-compressed data" in message(excinfo)

    path.write_bytes(b"this is not gzip at all" * 10)
    with pytest.raises(DatasetFileError, match="corrupt or truncated gzip") as excinfo:
        read_idx(path)
    assert str(path) in message(excinfo)


def write_bad_set(folder: Path, *, images: np.ndarray, labels: np.ndarray, images_magic: int | None = None) -> Path:
    write_dataset(folder)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images, magic=images_magic)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels)
    return folder


@pytest.mark.parametrize(
    ("images", "labels", "magic", "expected"),
    [
        (np.zeros((3, 28, 28)), np.zeros(3), 0x0D03, r"expected an IDX magic number 0x000008NN.*found 0x00000D03"),
        (np.zeros((3, 28, 28)), np.zeros(3), 0x12340803, r"expected an IDX magic number.*found 0x12340803"),
        (np.zeros(3), np.zeros(3), None, r"expected an IDX images file \(magic 0x00000803\), found magic 0x00000801"),
        (np.zeros((3, 28, 28)), np.array([1, 12, 3]), None, r"expected labels in 0..9, found 1 .*first: 12 at index 1"),
        (np.zeros((3, 28, 28)), np.zeros(4), None, r"expected as many labels as images, found 3 images in .* 4 labels"),
        (
            np.zeros((3, 32, 32)),
            np.zeros(3),
            None,
            r"expected images of shape \(N, 28, 28\), found shape \(3, 32, 32\)",
        ),
    ],
    ids=["wrong-dtype-magic", "garbage-magic", "labels-as-images", "label-12", "count-mismatch", "32x32"],
)
def test_bad_files_raise_clear_errors(
    tmp_path: Path, images: np.ndarray, labels: np.ndarray, magic: int | None, expected: str
) -> None:
    folder = write_bad_set(tmp_path / "data", images=images, labels=labels, images_magic=magic)
    with pytest.raises(DatasetFileError, match=expected) as excinfo:
        load_mnist(folder)
    assert str(folder / "t10k-") in message(excinfo)
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize("seed", [1.5, "0", None, True])
def test_seed_of_the_wrong_type_is_refused(seed):
    with pytest.raises(TypeError, match="seed must be an int, got"):
        load_fashion_mnist(allow_single_split=True, seed=seed)
