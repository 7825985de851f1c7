"""MNIST and Fashion-MNIST, split as in the original study.

The original study read the data with TF1's
``input_data.read_data_sets(dir, validation_size=5000)``, which takes the
validation set from the *start* of the official 60,000-image training set::

    validation = training images [:5000]     (5,000)
    train      = training images [5000:]     (55,000)
    test       = the official test set       (10,000)

:func:`load_mnist` and :func:`load_fashion_mnist` return that split.

Where the data comes from
-------------------------
An explicit ``data_dir`` is the only place used when given (an unusable one is
an error, never a silent fallback).  Otherwise these are tried in order, each
computed when called, and the first holding the full data set wins:

1. ``data_dir``: IDX files, gzipped or not (``train-images-idx3-ubyte[.gz]``,
   ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
   ``t10k-labels-idx1-ubyte[.gz]``), as in the study's ``MNIST_data/`` and
   ``fMNIST_data/`` folders.
2. ``$TFPROBE_DATA_DIR/mnist/`` or ``$TFPROBE_DATA_DIR/fashion-mnist/``: the same IDX files.
3. :data:`DEBIAN_FASHION_MNIST_DIR` (``/usr/share/datasets/fashion-mnist``,
   Debian package ``dataset-fashion-mnist``): Fashion-MNIST only; Debian has no MNIST package.
4. The Keras cache, ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``:
   ``mnist.npz`` (keys ``x_train``, ``y_train``, ``x_test``, ``y_test``) or
   ``fashion-mnist/`` (IDX gzip files, as Keras downloads them).
5. tensorflow-datasets (``tfds.load``), which downloads when needed.  It is
   skipped at once, with the reason, when tensorflow-datasets or
   ``importlib_resources`` (needed by tfds 4.9 to download) is missing or
   :data:`NETWORK_PROBE` cannot be reached within :data:`NETWORK_TIMEOUT`
   seconds.  TFDS stores examples in its own order, so its train/validation
   partition is not the study's (``.source`` says so).

6. The test splits embedded in tfprobe (``assets/data/mnist``,
   ``assets/data/fashion-mnist``; :mod:`tfprobe.datasets.embedded`): 10,000
   images each, checked against their SHA-256 before use.

Steps 2 to 6 are the module-level list :data:`SOURCES`; :func:`survey` (the
``tfprobe data`` command) reports what each holds.  When none has the data,
:class:`~tfprobe.datasets.idx.DatasetNotFoundError` lists every place looked
at and why it failed.  A source with damaged files is reported and the next
one is tried, so a broken Keras cache never hides a good copy later in the
order; the embedded copy comes last, so when it is damaged and no other
source holds the data its :class:`~tfprobe.datasets.embedded.EmbeddedDataError`
(naming the file and its expected SHA-256) is raised.

Only the test split
-------------------
A source may hold only the 10,000 test images (the embedded copies always do).
That is used only when no source has the full data set, and only with
``allow_single_split=True``: the test images are then divided into disjoint
train/validation/test splits in the proportions 55:5:10 by
``np.random.default_rng(seed).permutation``.  Such splits are not the study's;
``.source`` says so, and ``.embedded`` is true when the images are tfprobe's
embedded copy.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfprobe._assets import MissingAssetError
from tfprobe.datasets.embedded import EmbeddedDataError, embedded_dir
from tfprobe.datasets.idx import (
    DatasetFileError,
    DatasetNotFoundError,
    check_images,
    check_labels,
    check_pair,
    read_idx_images,
    read_idx_labels,
)
from tfprobe.errors import InvalidValueError
from tfprobe.validation import check_int

__all__ = [
    "DEBIAN_FASHION_MNIST_DIR",
    "NETWORK_PROBE",
    "NETWORK_TIMEOUT",
    "SOURCES",
    "VALIDATION_SIZE",
    "DataSource",
    "DataSurvey",
    "ImageSplits",
    "SourceReport",
    "Split",
    "load_fashion_mnist",
    "load_mnist",
    "survey",
]

#: Size of the validation set the study's ``read_data_sets`` took from the start of the training set.
VALIDATION_SIZE = 5000
#: Where Debian's ``dataset-fashion-mnist`` installs the four IDX gzip files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Host and port whose reachability decides whether tensorflow-datasets may try to download.
NETWORK_PROBE = ("storage.googleapis.com", 443)
#: Seconds the network probe may take (name lookup included).
NETWORK_TIMEOUT = 2.0

_TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
_TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_SINGLE_SPLIT_PROPORTIONS = (55, 5, 10)


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a data set.

    Attributes
    ----------
    images : numpy.ndarray
        ``uint8``, shape ``(N, 28, 28)``, values 0..255.
    labels : numpy.ndarray
        ``int64``, shape ``(N,)``, values 0..9.
    indices : numpy.ndarray
        ``int64``, shape ``(N,)``: where each example sits in the file it was
        read from (the training set for the study's train and validation
        splits, the test set otherwise).
    """

    images: np.ndarray
    labels: np.ndarray
    indices: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class ImageSplits:
    """Train, validation and test splits of one data set, and where they came from.

    Attributes
    ----------
    train, validation, test : Split
        Disjoint splits.
    source : str
        The place the data was read from and how it was split.
    embedded : bool
        True when the images are the 10,000-image test split embedded in tfprobe (divided into three
        splits), not a full copy of the data set.
    """

    train: Split
    validation: Split
    test: Split
    source: str
    embedded: bool = False


@dataclass(frozen=True)
class _Dataset:
    title: str
    subdir: str
    tfds_name: str


_MNIST = _Dataset("MNIST", "mnist", "mnist")
_FASHION_MNIST = _Dataset("Fashion-MNIST", "fashion-mnist", "fashion_mnist")


@dataclass(frozen=True, eq=False)
class _Found:
    """Arrays read from one place; ``train_*`` is ``None`` when only the test split is there."""

    where: str
    test_images: np.ndarray
    test_labels: np.ndarray
    train_images: np.ndarray | None = None
    train_labels: np.ndarray | None = None
    embedded: bool = False


class _Unavailable(Exception):
    """A source that does not hold the data set, with the reason."""


# --------------------------------------------------------------------------- sources


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx_images(images_path), read_idx_labels(labels_path)
    check_pair(images, labels, str(images_path), str(labels_path))
    return images, labels


def _read_idx_dir(folder: Path) -> _Found:
    """The IDX files in ``folder``; raises :class:`_Unavailable` naming each missing file."""
    if not folder.is_dir():
        raise _Unavailable(f"{folder} does not exist" if not folder.exists() else f"{folder} is not a directory")
    paths = {stem: _find(folder, stem) for stem in (*_TRAIN_FILES, *_TEST_FILES)}
    missing = [f"{stem}[.gz]" for stem, path in paths.items() if path is None]
    train_missing = [stem for stem in _TRAIN_FILES if paths[stem] is None]
    if any(paths[stem] is None for stem in _TEST_FILES) or len(train_missing) == 1:
        raise _Unavailable(f"{folder}: missing {', '.join(missing)}")
    test_images, test_labels = _read_pair(*(paths[stem] for stem in _TEST_FILES))
    if train_missing:
        return _Found(f"IDX files in {folder}", test_images, test_labels)
    train_images, train_labels = _read_pair(*(paths[stem] for stem in _TRAIN_FILES))
    return _Found(f"IDX files in {folder}", test_images, test_labels, train_images, train_labels)


def _from_env_dir(dataset: _Dataset) -> _Found:
    root = os.environ.get("TFPROBE_DATA_DIR")
    if not root:
        raise _Unavailable("not set")
    return _read_idx_dir(Path(root) / dataset.subdir)


def _from_debian(dataset: _Dataset) -> _Found:
    if dataset is not _FASHION_MNIST:
        raise _Unavailable(f"Debian packages only Fashion-MNIST (dataset-fashion-mnist), not {dataset.title}")
    return _read_idx_dir(Path(DEBIAN_FASHION_MNIST_DIR))


def _keras_datasets_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"


def _from_keras_cache(dataset: _Dataset) -> _Found:
    folder = _keras_datasets_dir()
    if dataset is not _MNIST:
        return _read_idx_dir(folder / dataset.subdir)
    path = folder / "mnist.npz"
    if not path.is_file():
        raise _Unavailable(f"{path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = {key: arrays[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, ValueError, KeyError) as error:
        raise DatasetFileError(
            f"{path}: expected an .npz with x_train, y_train, x_test, y_test; {type(error).__name__}: {error}"
        ) from None
    arrays = {
        key: (check_images if key[0] == "x" else check_labels)(value, f"{path}[{key}]") for key, value in found.items()
    }
    check_pair(arrays["x_train"], arrays["y_train"], f"{path}[x_train]", f"{path}[y_train]")
    check_pair(arrays["x_test"], arrays["y_test"], f"{path}[x_test]", f"{path}[y_test]")
    return _Found(str(path), arrays["x_test"], arrays["y_test"], arrays["x_train"], arrays["y_train"])


def _probe_network(timeout: float | None = None) -> str | None:
    """``None`` when :data:`NETWORK_PROBE` accepts a connection within ``timeout`` s, else why not."""
    timeout = NETWORK_TIMEOUT if timeout is None else timeout
    host, port = NETWORK_PROBE
    outcome: list[OSError | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as error:
            outcome.append(error)

    # A thread, because name lookup ignores the socket timeout and can hang offline.
    thread = threading.Thread(target=connect, name="tfprobe-network-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"no network: {host}:{port} did not answer within {timeout:g} s"
    if outcome[0] is not None:
        return f"no network: cannot connect to {host}:{port} ({outcome[0]})"
    return None


def _drop_channel(images: np.ndarray) -> np.ndarray:
    """TFDS images are ``(N, 28, 28, 1)``; drop the channel axis when it is there."""
    return images[..., 0] if images.ndim == 4 and images.shape[-1] == 1 else images


def _tfds_ready(dataset: _Dataset) -> str:
    """What tensorflow-datasets would do now, or :class:`_Unavailable` with why it cannot be used."""
    if importlib.util.find_spec("tensorflow_datasets") is None:
        raise _Unavailable("tensorflow-datasets is not installed (pip install tensorflow-datasets)")
    problems = []
    if importlib.util.find_spec("importlib_resources") is None:
        problems.append("importlib_resources, which tensorflow-datasets 4.9 needs to download, is not installed")
    network = _probe_network()
    if network is not None:
        problems.append(network)
    if problems:
        raise _Unavailable("; ".join(problems))
    return f"network reachable: tfds.load({dataset.tfds_name!r}) would read its cache or download the full set"


def _from_tfds(dataset: _Dataset) -> _Found:
    _tfds_ready(dataset)
    import tensorflow_datasets as tfds

    try:
        loaded = tfds.load(dataset.tfds_name, split=["train", "test"], batch_size=-1, as_supervised=True)
        (train_images, train_labels), (test_images, test_labels) = tfds.as_numpy(loaded)
    except Exception as error:  # tfds raises many kinds (download, checksum, I/O); report any of them
        raise _Unavailable(f"tfds.load({dataset.tfds_name!r}) failed: {type(error).__name__}: {error}") from None
    where = f"tensorflow-datasets {dataset.tfds_name!r} (TFDS example order, not the IDX files' order)"
    arrays = [
        check_images(_drop_channel(train_images), f"{where} train images"),
        check_labels(train_labels, f"{where} train labels"),
        check_images(_drop_channel(test_images), f"{where} test images"),
        check_labels(test_labels, f"{where} test labels"),
    ]
    return _Found(where, arrays[2], arrays[3], arrays[0], arrays[1])


def _from_embedded(dataset: _Dataset) -> _Found:
    try:
        folder = embedded_dir(dataset.subdir)
    except MissingAssetError as error:
        raise _Unavailable(str(error)) from None
    test_images, test_labels = _read_pair(*(folder / f"{stem}.gz" for stem in _TEST_FILES))
    where = f"the {dataset.title} test split embedded in tfprobe ({folder})"
    return _Found(where, test_images, test_labels, embedded=True)


@dataclass(frozen=True)
class DataSource:
    """One place data sets are looked for.

    Attributes
    ----------
    label : str
        How messages and :func:`survey` name the place.
    read : callable
        Returns what the place holds, or raises with the reason it holds nothing.
    check : callable, optional
        For a place that downloads: says, without downloading, what ``read`` would do (or raises the
        reason it cannot work); :func:`survey` calls it instead of ``read``.
    """

    label: str
    read: Callable[[_Dataset], _Found]
    check: Callable[[_Dataset], str] | None = None


#: Places tried, in order, when no ``data_dir`` is given.  Tests replace this list.
SOURCES: list[DataSource] = [
    DataSource("$TFPROBE_DATA_DIR", _from_env_dir),
    DataSource("Debian dataset-fashion-mnist", _from_debian),
    DataSource("Keras cache", _from_keras_cache),
    DataSource("tensorflow-datasets", _from_tfds, check=_tfds_ready),
    DataSource("embedded in tfprobe", _from_embedded),
]


# --------------------------------------------------------------------------- splits


def _study_split(found: _Found) -> ImageSplits:
    assert found.train_images is not None and found.train_labels is not None
    n_train = len(found.train_labels)
    if n_train <= VALIDATION_SIZE:
        raise DatasetFileError(f"{found.where}: expected more than {VALIDATION_SIZE} training images, found {n_train}")
    train_index = np.arange(n_train, dtype=np.int64)
    test_index = np.arange(len(found.test_labels), dtype=np.int64)
    cut = slice(None, VALIDATION_SIZE), slice(VALIDATION_SIZE, None)
    validation, train = (Split(found.train_images[s], found.train_labels[s], train_index[s]) for s in cut)
    source = (
        f"{found.where}; the study's split (read_data_sets, validation_size={VALIDATION_SIZE}): "
        f"validation = training images [:{VALIDATION_SIZE}], train = training images [{VALIDATION_SIZE}:] "
        f"({n_train - VALIDATION_SIZE:,}), test = the {len(test_index):,} test images"
    )
    return ImageSplits(train, validation, Split(found.test_images, found.test_labels, test_index), source)


def _single_split(found: _Found, seed: int) -> ImageSplits:
    n = len(found.test_labels)
    n_train, n_validation, n_test = _single_split_sizes(n)
    if min(n_train, n_validation, n_test) < 1:
        raise DatasetFileError(f"{found.where}: expected enough test images for three splits, found {n}")
    order = np.random.default_rng(seed).permutation(n)
    parts = [np.sort(part) for part in np.split(order, [n_train, n_train + n_validation])]
    train, validation, test = (Split(found.test_images[p], found.test_labels[p], p.astype(np.int64)) for p in parts)
    source = (
        f"{found.where}: only the test split ({n:,} images), not the full training set; allow_single_split=True "
        f"divided it into disjoint train/validation/test of {n_train:,}/{n_validation:,}/{n_test:,} images "
        f"(55:5:10) with np.random.default_rng({seed}).permutation({n}) (not the study's split; indices refer "
        "to the test file)"
    )
    return ImageSplits(train, validation, test, source, embedded=found.embedded)


def _single_split_sizes(n: int) -> tuple[int, int, int]:
    """Train, validation and test sizes of the 55:5:10 division of ``n`` test images."""
    total = sum(_SINGLE_SPLIT_PROPORTIONS)
    n_validation = round(n * _SINGLE_SPLIT_PROPORTIONS[1] / total)
    n_test = round(n * _SINGLE_SPLIT_PROPORTIONS[2] / total)
    return n - n_validation - n_test, n_validation, n_test


def _single_split_message(dataset: _Dataset, found: _Found) -> str:
    return (
        f"{dataset.title}: only the test split ({len(found.test_labels):,} images) was found, in {found.where}; "
        f"the training split ({', '.join(f + '[.gz]' for f in _TRAIN_FILES)}) is missing. "
        "Pass allow_single_split=True to build disjoint train/validation/test splits (55:5:10) from those "
        "test images, or provide the training files."
    )


# --------------------------------------------------------------------------- loading


def _splits(dataset: _Dataset, found: _Found, allow_single_split: bool, seed: int, looked: str = "") -> ImageSplits:
    """The study's split of what one source holds, or the single-split fallback when allowed."""
    if found.train_images is not None:
        return _study_split(found)
    if allow_single_split:
        return _single_split(found, seed)
    raise DatasetNotFoundError(_single_split_message(dataset, found) + looked)


def _load(
    dataset: _Dataset, data_dir: str | os.PathLike[str] | None, allow_single_split: bool, seed: int
) -> ImageSplits:
    seed = check_int(seed, "seed")
    if data_dir is not None:
        try:
            found = _read_idx_dir(Path(data_dir))
        except _Unavailable as reason:
            raise DatasetNotFoundError(f"{dataset.title}: data_dir {reason}") from None
        return _splits(dataset, found, allow_single_split, seed)

    looked: list[str] = []
    test_only: _Found | None = None
    damaged: EmbeddedDataError | None = None
    for source in SOURCES:
        try:
            found = source.read(dataset)
        except (_Unavailable, DatasetFileError) as reason:
            if isinstance(reason, EmbeddedDataError):
                damaged = reason
            else:
                looked.append(f"{source.label}: {reason}")
            continue
        if found.train_images is not None:
            return _study_split(found)
        looked.append(f"{source.label}: only the test split ({len(found.test_labels):,} images) in {found.where}")
        test_only = test_only or found
    places = "".join(f"\n  - {line}" for line in looked)
    if test_only is None and damaged is not None:
        raise EmbeddedDataError(f"{dataset.title}: {damaged}. No other copy was found; looked at:{places}")
    if test_only is None:
        raise DatasetNotFoundError(
            f"{dataset.title}: no copy found; pass data_dir or set TFPROBE_DATA_DIR. Looked at:{places}"
        )
    return _splits(dataset, test_only, allow_single_split, seed, f" Looked at:{places}")


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None, *, allow_single_split: bool = False, seed: int = 0
) -> ImageSplits:
    """MNIST, split as in the original study (validation = first 5,000 training images).

    Parameters
    ----------
    data_dir : str or path-like, optional
        A folder of the four IDX files, gzipped or not.  When given, it is the
        only place used.  When omitted, the places in :data:`SOURCES` are tried
        in order (see the module docstring).
    allow_single_split : bool
        When only the 10,000 test images can be found, divide them into
        disjoint train/validation/test splits (55:5:10) instead of raising.
        Used only if no place holds the full data set.
    seed : int
        Seed of that division; the same seed gives the same splits.

    Returns
    -------
    ImageSplits
        ``train``, ``validation`` and ``test`` (uint8 images ``(N, 28, 28)``,
        int64 labels ``(N,)``) and ``source``.

    Raises
    ------
    DatasetNotFoundError
        No usable copy (the message lists each place looked at and why), a
        ``data_dir`` missing files (each named), or only the test split without
        ``allow_single_split``.
    DatasetFileError
        A file in ``data_dir`` is corrupt or not MNIST-shaped.
    """
    return _load(_MNIST, data_dir, allow_single_split, seed)


def load_fashion_mnist(
    data_dir: str | os.PathLike[str] | None = None, *, allow_single_split: bool = False, seed: int = 0
) -> ImageSplits:
    """Fashion-MNIST, split as in the original study; parameters as in :func:`load_mnist`.

    Also found in Debian's ``dataset-fashion-mnist`` (:data:`DEBIAN_FASHION_MNIST_DIR`).
    """
    return _load(_FASHION_MNIST, data_dir, allow_single_split, seed)


# --------------------------------------------------------------------------- survey


@dataclass(frozen=True)
class SourceReport:
    """What one place in :data:`SOURCES` holds.

    Attributes
    ----------
    label : str
        The place, as in :data:`SOURCES`.
    status : {"full", "test split only", "would download", "unavailable", "damaged"}
    detail : str
        Where the files are and their sizes, or why the place holds nothing usable.
    sizes : dict of str to int
        Images per split found (``train``, ``test``); empty when nothing was read.
    """

    label: str
    status: str
    detail: str
    sizes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSurvey:
    """Every place one data set is looked for, what each holds, and which one a load would use.

    Attributes
    ----------
    title : str
        ``"MNIST"`` or ``"Fashion-MNIST"``.
    reports : tuple of SourceReport
        One per place, in the order they are tried.
    choice : str
        What a call of the loader would use, and whether it needs ``allow_single_split=True``.
    usable : bool
        Whether some place holds the data (the full set, the test split, or a reachable download).
    """

    title: str
    reports: tuple[SourceReport, ...]
    choice: str
    usable: bool

    def __str__(self) -> str:
        width = max(len(report.label) for report in self.reports)
        lines = [f"{self.title}:"]
        for number, report in enumerate(self.reports, 1):
            lines.append(f"  {number}. {report.label:<{width}}  {report.status}: {report.detail}")
        lines.append(f"  -> {self.choice}")
        return "\n".join(lines)


_DATASETS = {"mnist": (_MNIST, "load_mnist"), "fashion-mnist": (_FASHION_MNIST, "load_fashion_mnist")}


def _report(source: DataSource, dataset: _Dataset) -> SourceReport:
    try:
        if source.check is not None:
            return SourceReport(source.label, "would download", source.check(dataset))
        found = source.read(dataset)
    except _Unavailable as reason:
        return SourceReport(source.label, "unavailable", str(reason))
    except DatasetFileError as reason:
        return SourceReport(source.label, "damaged", str(reason))
    sizes = {"test": len(found.test_labels)}
    if found.train_labels is None:
        return SourceReport(source.label, "test split only", f"{sizes['test']:,} test images in {found.where}", sizes)
    sizes["train"] = len(found.train_labels)
    detail = f"{sizes['train']:,} training + {sizes['test']:,} test images in {found.where}"
    return SourceReport(source.label, "full", detail, sizes)


def survey(name: str) -> DataSurvey:
    """Look in every place of :data:`SOURCES` for one data set, without downloading anything.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}

    Returns
    -------
    DataSurvey
        Prints as the table ``tfprobe data`` shows.
    """
    if name not in _DATASETS:
        raise InvalidValueError(f"expected a data set among {', '.join(_DATASETS)}, got {name!r}")
    dataset, loader = _DATASETS[name]
    reports = tuple(_report(source, dataset) for source in SOURCES)
    test_only = next((r for r in reports if r.status == "test split only"), None)
    full = next((r for r in reports if r.status in ("full", "would download")), None)
    if full is not None:
        how = "reads" if full.status == "full" else "downloads the full set from"
        choice = f"{loader}() {how} {full.label}; the study's split"
    elif test_only is not None:
        sizes = "/".join(f"{n:,}" for n in _single_split_sizes(test_only.sizes["test"]))
        choice = (
            f"{loader}(allow_single_split=True) uses {test_only.label}: only the test split, divided into "
            f"train/validation/test of {sizes} images; without allow_single_split it raises"
        )
    else:
        choice = f"{loader}() finds no copy and raises DatasetNotFoundError"
    return DataSurvey(dataset.title, reports, choice, usable=full is not None or test_only is not None)
