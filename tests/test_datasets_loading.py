"""MNIST / Fashion-MNIST loading: IDX parsing, the study's split, where data is looked for, and errors.

Real data: the MNIST and Fashion-MNIST test splits embedded in tfprobe
(``assets/data``).  Each source of the documented order is built by the test
that checks it, in a temporary folder (a Debian folder, a Keras cache,
``$TFPROBE_DATA_DIR``), so the results are the same whether or not the machine
has Debian's dataset-fashion-mnist.  The network is never used:
tensorflow-datasets is always cut off by a failing network probe.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from tfprobe import _assets
from tfprobe.datasets import (
    DatasetFileError,
    DatasetNotFoundError,
    EmbeddedDataError,
    ImageSplits,
    digits,
    embedded_dir,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)

EMBEDDED = _assets.assets_dir() / "data"
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


@pytest.fixture
def nowhere(isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """As ``isolated``, and tfprobe's assets are an empty folder: no embedded copy either."""
    empty = tmp_path / "no-assets"
    empty.mkdir()
    monkeypatch.setattr(_assets, "assets_dir", lambda: empty)
    return isolated


def damaged_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: bytes) -> Path:
    """A copy of tfprobe's assets in which ``data/<name>`` holds ``content``; tfprobe looks there."""
    copy = tmp_path / "assets"
    shutil.copytree(_assets.assets_dir() / "data", copy / "data")
    (copy / "data" / name).write_bytes(content)
    monkeypatch.setattr(_assets, "assets_dir", lambda: copy)
    return copy / "data" / name


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


def debian_folder(root: Path) -> Path:
    """A Debian-style dataset-fashion-mnist folder built from the embedded Fashion-MNIST test split.

    The embedded test files also stand in for the training files (10,000 images: more than the
    5,000 the study's split takes for validation).
    """
    folder = root / "usr-share-datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    for kind in ("images-idx3", "labels-idx1"):
        source = embedded_dir("fashion-mnist") / f"t10k-{kind}-ubyte.gz"
        for prefix in ("train", "t10k"):
            shutil.copyfile(source, folder / f"{prefix}-{kind}-ubyte.gz")
    return folder


def test_debian_folder_gives_the_study_split(isolated: Path, tmp_path: Path, monkeypatch) -> None:
    folder = debian_folder(tmp_path)
    monkeypatch.setattr(digits, "DEBIAN_FASHION_MNIST_DIR", folder)
    fashion = load_fashion_mnist()
    assert str(folder) in fashion.source and "the study's split" in fashion.source
    assert not fashion.embedded
    raw_train = read_idx(folder / "train-images-idx3-ubyte.gz")
    raw_labels = read_idx(folder / "train-labels-idx1-ubyte.gz")
    assert (len(fashion.train), len(fashion.validation), len(fashion.test)) == (5000, 5000, 10000)
    np.testing.assert_array_equal(fashion.validation.images, raw_train[:5000])
    np.testing.assert_array_equal(fashion.train.images, raw_train[5000:])
    np.testing.assert_array_equal(fashion.validation.labels, raw_labels[:5000])
    np.testing.assert_array_equal(fashion.test.images, read_idx(folder / "t10k-images-idx3-ubyte.gz"))


@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("mnist", [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]),  # MNIST's published test-set counts
        ("fashion-mnist", [1000] * 10),
    ],
)
def test_embedded_test_splits_are_the_real_data_sets(name: str, counts: list[int]) -> None:
    folder = embedded_dir(name)
    images = read_idx(folder / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), counts)
    assert images.min() == 0 and images.max() == 255
    # Centred objects on a black background: the corners are dark, the centre bright.
    assert images[:, :3, :3].mean() < 1 < 80 < images[:, 10:18, 10:18].mean()


def test_mnist_test_split_only_needs_allow_single_split(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = isolated / "data"
    shutil.copytree(embedded_dir("mnist"), root / "mnist")
    monkeypatch.setenv("TFPROBE_DATA_DIR", str(root))
    with pytest.raises(DatasetNotFoundError) as excinfo:
        load_mnist()
    text = message(excinfo)
    assert "only the test split (10,000 images)" in text
    assert str(root / "mnist") in text
    assert "allow_single_split=True" in text
    # A test-only copy earlier in the order wins over the embedded one.
    splits = load_mnist(allow_single_split=True)
    assert str(root / "mnist") in splits.source and not splits.embedded


def test_embedded_copy_is_the_last_source(isolated: Path) -> None:
    for loader, name in ((load_mnist, "MNIST"), (load_fashion_mnist, "Fashion-MNIST")):
        with pytest.raises(DatasetNotFoundError, match="allow_single_split=True") as excinfo:
            loader()
        assert f"embedded in tfprobe: only the test split (10,000 images) in the {name} test split embedded" in (
            message(excinfo)
        )
        splits = loader(allow_single_split=True)
        assert splits.embedded
        assert f"the {name} test split embedded in tfprobe" in splits.source
        assert "not the full training set" in splits.source
        assert str(_assets.assets_dir() / "data") in splits.source


def test_mnist_single_split_is_disjoint_and_seeded(isolated: Path) -> None:
    splits = load_mnist(allow_single_split=True, seed=0)
    parts = (splits.train, splits.validation, splits.test)
    assert [len(p) for p in parts] == [7857, 714, 1429]  # 55:5:10 of 10,000
    everything = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(everything), np.arange(10000))  # disjoint, nothing lost
    raw_images = read_idx(EMBEDDED / "mnist" / "t10k-images-idx3-ubyte.gz")
    raw_labels = read_idx(EMBEDDED / "mnist" / "t10k-labels-idx1-ubyte.gz")
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


def test_cluttered_scenes_say_when_objects_are_embedded(isolated: Path) -> None:
    from tfprobe.datasets import ClutteredScenes

    generator = ClutteredScenes("validation", seed=0, allow_single_split=True)
    assert generator.embedded == ("MNIST", "Fashion-MNIST")
    assert "embedded in tfprobe" in generator.sources["MNIST"]
    assert "embedded test split: MNIST, Fashion-MNIST" in repr(generator)
    assert (generator.objects.n_digits, generator.objects.n_fashion) == (714, 714)


# --------------------------------------------------------------------------- embedded files


def test_readme_lists_the_checksums_the_code_checks() -> None:
    from tfprobe.datasets.embedded import EMBEDDED_SHA256, sha256_of

    readme = (_assets.assets_dir() / "README.md").read_text()
    for folder, files in EMBEDDED_SHA256.items():
        for name, digest in files.items():
            assert f"| `data/{folder}/{name}` |" in readme and f"`{digest}`" in readme
            assert sha256_of(EMBEDDED / folder / name) == digest


@pytest.mark.parametrize("damage", ["truncated", "changed"])
def test_damaged_embedded_file_is_refused_with_its_checksum(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    name = "mnist/t10k-labels-idx1-ubyte.gz"
    good = (EMBEDDED / name).read_bytes()
    content = good[: len(good) // 2] if damage == "truncated" else good[:-1] + bytes([good[-1] ^ 1])
    path = damaged_assets(tmp_path, monkeypatch, name, content)
    with pytest.raises(EmbeddedDataError) as excinfo:
        load_mnist(allow_single_split=True)
    text = message(excinfo)
    assert str(path) in text
    assert "expected SHA-256 f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6" in text
    assert f"found {hashlib.sha256(content).hexdigest()}" in text
    assert "git checkout -- assets/" in text and "Keras cache:" in text  # the other places were looked at too
    assert isinstance(excinfo.value, DatasetFileError)
    # Fashion-MNIST's embedded files are intact: its load is unaffected.
    assert load_fashion_mnist(allow_single_split=True).embedded


def test_damaged_embedded_file_gives_way_to_a_copy_earlier_in_the_order(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged_assets(tmp_path, monkeypatch, "mnist/t10k-images-idx3-ubyte.gz", b"")
    root = isolated / "data"
    write_dataset(root / "mnist")
    monkeypatch.setenv("TFPROBE_DATA_DIR", str(root))
    assert str(root / "mnist") in load_mnist().source


def test_damaged_source_before_the_embedded_one_is_passed_over(isolated: Path) -> None:
    cache = isolated / ".keras" / "datasets"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"not an npz")
    splits = load_mnist(allow_single_split=True)
    assert splits.embedded


# --------------------------------------------------------------------------- the survey (tfprobe data)


def test_survey_lists_every_place_in_order(isolated: Path, tmp_path: Path, monkeypatch) -> None:
    from tfprobe.datasets import survey

    monkeypatch.setattr(digits, "DEBIAN_FASHION_MNIST_DIR", debian_folder(tmp_path))
    fashion, mnist = survey("fashion-mnist"), survey("mnist")
    labels = [source.label for source in digits.SOURCES]
    assert [r.label for r in fashion.reports] == labels == [r.label for r in mnist.reports]
    assert [r.status for r in fashion.reports] == [
        "unavailable",
        "full",
        "unavailable",
        "unavailable",
        "test split only",
    ]
    assert fashion.reports[1].sizes == {"train": 10000, "test": 10000}
    assert fashion.reports[4].sizes == {"test": 10000}
    assert fashion.choice.startswith("load_fashion_mnist() reads Debian dataset-fashion-mnist")
    assert mnist.choice.startswith("load_mnist(allow_single_split=True) uses embedded in tfprobe")
    assert "7,857/714/1,429" in mnist.choice
    assert mnist.usable and fashion.usable
    text = str(mnist)
    assert text.splitlines()[0] == "MNIST:" and "5. embedded in tfprobe" in text
    assert "network is unreachable (test)" in text


def test_survey_does_not_download(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tfprobe.datasets import survey

    monkeypatch.setattr(digits.socket, "create_connection", lambda *a, **k: type("C", (), {"close": lambda s: None})())
    monkeypatch.setattr(digits, "_from_tfds", lambda dataset: pytest.fail("the survey must not download"))
    report = survey("mnist").reports[3]
    assert (report.label, report.status) == ("tensorflow-datasets", "would download")
    assert "tfds.load('mnist')" in report.detail
    assert survey("mnist").choice == "load_mnist() downloads the full set from tensorflow-datasets; the study's split"


def test_data_command(isolated: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    from tfprobe.cli import main

    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("MNIST:\n  1. $TFPROBE_DATA_DIR")
    assert "\nFashion-MNIST:\n" in out and out.count("embedded in tfprobe") >= 4
    assert main(["data", "fashion-mnist"]) == 0
    assert "MNIST:" not in capsys.readouterr().out.replace("Fashion-MNIST:", "")
    assert main(["data", "cifar10"]) == 2
    assert "expected data sets among mnist, fashion-mnist, got cifar10" in capsys.readouterr().err

    damaged_assets(tmp_path, monkeypatch, "fashion-mnist/t10k-images-idx3-ubyte.gz", b"\x1f\x8b broken")
    assert main(["data"]) == 1
    out = capsys.readouterr().out
    assert "damaged:" in out and "expected SHA-256 cc1d090a" in out
    assert "load_fashion_mnist() finds no copy" in out


# --------------------------------------------------------------------------- where data is looked for


def test_no_source_lists_every_place_and_reason(nowhere: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as excinfo:
        load_fashion_mnist()
    assert isinstance(excinfo.value, FileNotFoundError)
    text = message(excinfo)
    assert "$TFPROBE_DATA_DIR: not set" in text
    assert f"Debian dataset-fashion-mnist: {digits.DEBIAN_FASHION_MNIST_DIR} does not exist" in text
    assert f"Keras cache: {nowhere / '.keras' / 'datasets' / 'fashion-mnist'} does not exist" in text
    assert "tensorflow-datasets:" in text and "network is unreachable (test)" in text
    assert "embedded in tfprobe:" in text and "fashion-mnist is missing" in text

    with pytest.raises(DatasetNotFoundError) as excinfo:
        load_mnist(allow_single_split=True)
    assert "Debian packages only Fashion-MNIST" in message(excinfo)
    assert f"{nowhere / '.keras' / 'datasets' / 'mnist.npz'} does not exist" in message(excinfo)


def test_tfds_fails_fast_when_offline(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A network probe that hangs is cut off after NETWORK_TIMEOUT; its reason reaches the error."""
    released = threading.Event()

    def hang(*args: object, **kwargs: object) -> None:
        released.wait(30)
        raise OSError("released")

    monkeypatch.setattr(digits.socket, "create_connection", hang)
    monkeypatch.setattr(digits, "NETWORK_TIMEOUT", 0.5)
    try:
        with pytest.raises(DatasetNotFoundError) as excinfo:  # the probe hangs 30 s unless cut off
            load_mnist()
    finally:
        released.set()
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


def test_explicit_data_dir_never_falls_back(isolated: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(digits, "DEBIAN_FASHION_MNIST_DIR", debian_folder(tmp_path))
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
