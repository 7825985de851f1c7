"""Arrays with named axes and their self-describing HDF5 files."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from tfprobe.recurrent import LabelledArray, load_labelled, save_labelled

LAYERS = ["input", "conv1", "conv2", "fc1"]


@pytest.fixture()
def accuracy() -> LabelledArray:
    values = np.random.default_rng(0).random((4, 3, 2))
    return LabelledArray(
        values,
        {"layer": LAYERS, "timestep": np.arange(3), "image_type": ["cluttered", "clean"]},
        {"classifier": "svm", "n": np.int64(1000)},
    )


def test_selection_by_axis_values(accuracy) -> None:
    assert accuracy.dims == ("layer", "timestep", "image_type")
    assert accuracy.axes["timestep"] == [0, 1, 2] and type(accuracy.axes["timestep"][0]) is int
    np.testing.assert_array_equal(accuracy.sel(layer="conv2"), accuracy.values[2])
    np.testing.assert_array_equal(accuracy.sel(layer="fc1", image_type="clean"), accuracy.values[3, :, 1])
    assert accuracy.sel(layer="fc1", timestep=np.int32(2), image_type="clean") == accuracy.values[3, 2, 1]
    with pytest.raises(KeyError, match="'conv3' is not on axis 'layer'"):
        accuracy.sel(layer="conv3")
    with pytest.raises(KeyError, match="no axis 'variable'"):
        accuracy.sel(variable="x")


def test_shape_and_axes_must_agree() -> None:
    with pytest.raises(ValueError, match=r"2 dimensions .* but 1 axes"):
        LabelledArray(np.zeros((2, 3)), {"layer": ["a", "b"]})
    with pytest.raises(ValueError, match="axis 'layer' has 2 entries in values but 3 index values"):
        LabelledArray(np.zeros((2, 3)), {"layer": ["a", "b", "c"], "t": [0, 1, 2]})


def test_file_round_trip_is_self_describing(accuracy, tmp_path) -> None:
    other = LabelledArray(np.arange(3.0), {"repetition": [0, 1, 2]})
    path = save_labelled(tmp_path / "results.h5", {"accuracy": accuracy, "chance": other}, {"model": "bglt_0111"})
    arrays, attrs = load_labelled(path)
    assert attrs == {"model": "bglt_0111"}
    np.testing.assert_array_equal(arrays["accuracy"].values, accuracy.values)
    assert arrays["accuracy"].axes == accuracy.axes and arrays["accuracy"].attrs == {"classifier": "svm", "n": 1000}
    # Readable with h5py alone: axis names and values are attributes of the dataset.
    with h5py.File(path) as f:
        data = f["accuracy"]
        assert json.loads(data.attrs["dims"]) == ["layer", "timestep", "image_type"]
        assert json.loads(data.attrs["axis:layer"]) == LAYERS
        assert data.shape == (4, 3, 2)
    single = accuracy.save(tmp_path / "one.h5")
    np.testing.assert_array_equal(LabelledArray.load(single).values, accuracy.values)


def test_files_are_not_overwritten_unless_asked(accuracy, tmp_path) -> None:
    path = accuracy.save(tmp_path / "one.h5")
    with pytest.raises(FileExistsError):
        accuracy.save(path)
    doubled = LabelledArray(2 * accuracy.values, accuracy.axes)
    doubled.save(path, overwrite=True)
    np.testing.assert_array_equal(LabelledArray.load(path).values, 2 * accuracy.values)
    assert [p.name for p in tmp_path.iterdir()] == ["one.h5"]  # no temporary left behind


def test_reading_other_files_fails_clearly(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no labelled-array file"):
        load_labelled(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a tfprobe labelled-array file"):
        load_labelled(tmp_path / "plain.h5")


def test_written_files_get_the_usual_permissions(accuracy, tmp_path) -> None:
    """Staged through a private temporary, published with what open() would give under the umask."""
    import os
    import stat

    umask = os.umask(0o022)
    try:
        path = accuracy.save(tmp_path / "shared.h5")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    finally:
        os.umask(umask)
