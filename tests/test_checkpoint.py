"""Reading PyTorch ``.pth`` files without torch, and loading them into GainModulatedRNN.

torch is used here only to write checkpoints and as the numerical oracle.
"""

from __future__ import annotations

import builtins
import os
import pickle
import struct
import subprocess
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch writes the checkpoints under test: pip install -e '.[test]'")

from conftest import make_reference  # noqa: E402

from tfprobe import GainModulatedRNN  # noqa: E402
from tfprobe.errors import CheckpointError, CheckpointMismatchError, UnsafeCheckpointError  # noqa: E402
from tfprobe.models import pth_reader, read_torch_state_dict  # noqa: E402

TOLERANCE = 1e-4
N_FEATS = 2
TIMESTEPS = 2
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


# ---------------------------------------------------------------------------------------------- helpers
def save(obj, path: Path, legacy: bool = False) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def small_model(**kwargs) -> GainModulatedRNN:
    options = dict(n_feats=N_FEATS, timesteps=TIMESTEPS, bias=True, gain=True, lateral=True, topdown=True)
    options.update(kwargs)
    return GainModulatedRNN(jit_compile=False, **options)


def torch_log_probs(reference, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        actvs, _, _ = reference(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))
    return actvs[5].numpy()


def assert_same_arrays(loaded: dict[str, np.ndarray], state_dict: dict) -> None:
    assert sorted(loaded) == sorted(state_dict)
    for key, tensor in state_dict.items():
        expected = tensor.detach().numpy()
        assert loaded[key].dtype == expected.dtype, key
        assert loaded[key].shape == expected.shape, key
        np.testing.assert_array_equal(loaded[key], expected, err_msg=key)


def rewrite_zip(source: Path, target: Path, member_suffix: str, action: str) -> Path:
    """Copy a torch zip checkpoint, dropping or halving the member ending in ``member_suffix``."""
    with zipfile.ZipFile(source) as archive:
        members = [(info.filename, archive.read(info.filename)) for info in archive.infolist()]
    hits = [name for name, _ in members if name.endswith(member_suffix)]
    assert len(hits) == 1, f"{member_suffix} not in {[name for name, _ in members]}"
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members:
            if name == hits[0]:
                if action == "drop":
                    continue
                data = data[: len(data) // 2]
            archive.writestr(name, data)
    return target


def write_zip_checkpoint(path: Path, pickle_bytes: bytes) -> Path:
    """A zip archive laid out like torch's, with ``pickle_bytes`` as its data.pkl."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle_bytes)
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/byteorder", "little")
    return path


def write_legacy_checkpoint(path: Path, pickle_bytes: bytes) -> Path:
    """The legacy stream: magic number, protocol, sys info, then ``pickle_bytes``."""
    sys_info = {"protocol_version": LEGACY_PROTOCOL, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    with open(path, "wb") as stream:
        pickle.dump(LEGACY_MAGIC, stream, protocol=2)
        pickle.dump(LEGACY_PROTOCOL, stream, protocol=2)
        pickle.dump(sys_info, stream, protocol=2)
        stream.write(pickle_bytes)
        pickle.dump([], stream, protocol=2)
    return path


# --------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def reference():
    """The authors' model, n_feats=2, 2 time steps, every flag on."""
    return make_reference(TIMESTEPS, (1, 1, 1, 1), n_feats=N_FEATS)


@pytest.fixture(scope="module")
def state_dict(reference):
    return reference.state_dict()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, state_dict) -> Path:
    return save(state_dict, tmp_path_factory.mktemp("ckpt") / "small_reference.pth")


# ------------------------------------------------------------------------------------ 1. zip round trip
def test_zip_round_trip_is_exact(checkpoint, state_dict):
    with zipfile.ZipFile(checkpoint) as archive:  # really the zip format of torch >= 1.6
        assert any(name.endswith("/data.pkl") for name in archive.namelist())
    loaded = read_torch_state_dict(checkpoint)
    assert len(loaded) == len(state_dict) == 8 + 9 * 2 * 2  # 8 feedforward + 9 projections x {b, g} x {w, b}
    assert_same_arrays(loaded, state_dict)
    assert all(array.dtype == np.float32 for array in loaded.values())


# ------------------------------------------------------------------------------------- 2. legacy format
def test_legacy_format_reads_identical_arrays(tmp_path, checkpoint, state_dict):
    path = save(state_dict, tmp_path / "legacy.pth", legacy=True)
    assert not zipfile.is_zipfile(path)
    legacy = read_torch_state_dict(path)
    assert_same_arrays(legacy, state_dict)
    modern = read_torch_state_dict(checkpoint)
    for key in modern:
        np.testing.assert_array_equal(legacy[key], modern[key], err_msg=key)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_non_contiguous_tensors_and_shared_storage(tmp_path, legacy):
    base = torch.arange(12.0).reshape(3, 4)
    views = {
        "transposed": base.t(),  # non-contiguous, stride (1, 4)
        "row": base[1],  # storage offset 4
        "column": base[:, 2],  # offset 2, stride 4
        "every_other": base[::2, 1::2],  # (2, 2), strides (8, 2), offset 1
        "whole": base,
    }
    loaded = read_torch_state_dict(save(views, tmp_path / "views.pth", legacy=legacy))
    assert_same_arrays(loaded, views)
    np.testing.assert_array_equal(loaded["transposed"], np.arange(12.0, dtype=np.float32).reshape(3, 4).T)
    np.testing.assert_array_equal(loaded["row"], [4.0, 5.0, 6.0, 7.0])
    assert loaded["transposed"].shape == (4, 3)
    assert loaded["row"].shape == (4,)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_other_dtypes_and_scalars(tmp_path, legacy):
    tensors = {
        "double": torch.linspace(-1, 1, 7, dtype=torch.float64),
        "half": torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16),
        "long": torch.tensor([-(2**40), 3], dtype=torch.int64),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 3),
    }
    loaded = read_torch_state_dict(save(tensors, tmp_path / "dtypes.pth", legacy=legacy))
    assert_same_arrays(loaded, tensors)


# --------------------------------------------------------------------------------------------- 3. wrappers
@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {"state_dict": sd},
        lambda sd: {"model_state_dict": sd},
        lambda sd: {"model": sd},
        lambda sd: {"epoch": 7, "state_dict": sd, "best_acc": 0.5, "note": "trained"},
        lambda sd: OrderedDict((f"module.{k}", v) for k, v in sd.items()),
        lambda sd: {"state_dict": OrderedDict((f"module.{k}", v) for k, v in sd.items())},
    ],
    ids=["state_dict", "model_state_dict", "model", "with_metadata", "dataparallel", "wrapped_dataparallel"],
)
def test_wrappers_and_dataparallel_prefix_are_unwrapped(tmp_path, state_dict, wrap):
    loaded = read_torch_state_dict(save(wrap(state_dict), tmp_path / "wrapped.pth"))
    assert_same_arrays(loaded, state_dict)


def test_wrapped_dataparallel_checkpoint_loads_into_model(tmp_path, state_dict):
    wrapped = {"state_dict": OrderedDict((f"module.{k}", v) for k, v in state_dict.items())}
    model = small_model().load_torch_checkpoint(save(wrapped, tmp_path / "dp.pth"))
    kernel, bias = model.fc2.get_weights()
    np.testing.assert_array_equal(kernel, state_dict["fc2.weight"].numpy().T)
    np.testing.assert_array_equal(bias, state_dict["fc2.bias"].numpy())


# ------------------------------------------------------------------------------- 4. same function as torch
def test_loaded_weights_compute_the_reference_log_probs(checkpoint, reference, images):
    model = small_model()
    assert model.load_torch_checkpoint(checkpoint) is model
    expected = torch_log_probs(reference, images)
    got = np.asarray(model(images))
    assert got.shape == expected.shape == (3, 20)
    np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)


def test_from_torch_checkpoint_infers_size(checkpoint):
    model = GainModulatedRNN.from_torch_checkpoint(checkpoint, code="bglt_1111", jit_compile=False)
    assert (model.n_feats, model.timesteps, model.flags.code) == (N_FEATS, TIMESTEPS, "bglt_1111")
    explicit = small_model().load_torch_checkpoint(checkpoint)
    assert len(model.get_weights()) == len(explicit.get_weights()) > 0
    for a, b in zip(model.get_weights(), explicit.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------ 5. flags from the file name
@pytest.fixture
def named_checkpoint(tmp_path, state_dict) -> Path:
    return save(state_dict, tmp_path / "rnn_bglt_0111_t_2_num_1.pth")


def test_file_name_flags_must_match_model(named_checkpoint):
    model = GainModulatedRNN.from_code("bglt_1011", timesteps=TIMESTEPS, n_feats=N_FEATS, jit_compile=False)
    with pytest.raises(CheckpointMismatchError) as info:
        model.load_torch_checkpoint(named_checkpoint)
    message = str(info.value)
    assert "bglt_0111" in message and "bglt_1011" in message
    assert "check_filename=False" in message


def test_check_filename_false_allows_renamed_file(named_checkpoint, state_dict):
    model = GainModulatedRNN.from_code("bglt_1011", timesteps=TIMESTEPS, n_feats=N_FEATS, jit_compile=False)
    model.load_torch_checkpoint(named_checkpoint, check_filename=False)
    kernel, _ = model.conv1.get_weights()
    np.testing.assert_array_equal(kernel, state_dict["conv1.weight"].numpy().transpose(2, 3, 1, 0))


def test_file_name_time_steps_must_match_model(tmp_path, state_dict):
    path = save(state_dict, tmp_path / "rnn_bglt_1111_t_4_num_1.pth")  # the tensors are for 2 steps
    with pytest.raises(CheckpointMismatchError, match="4 time steps"):
        small_model().load_torch_checkpoint(path)


def test_from_torch_checkpoint_reads_flags_from_file_name(named_checkpoint):
    model = GainModulatedRNN.from_torch_checkpoint(named_checkpoint, jit_compile=False)
    assert model.flags.code == "bglt_0111"
    assert (model.n_feats, model.timesteps) == (N_FEATS, TIMESTEPS)


def test_from_torch_checkpoint_without_code_or_pattern(checkpoint):
    with pytest.raises(CheckpointError) as info:
        GainModulatedRNN.from_torch_checkpoint(checkpoint, jit_compile=False)
    assert "code=" in str(info.value)
    assert checkpoint.name in str(info.value)


# ------------------------------------------------------------------------------------ 6. unsafe pickles
class _Payload:
    """Pickles to a call of ``func(*args)``."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker: Path) -> dict[str, tuple[_Payload, tuple[str, ...]]]:
    """Payload and the names the refusal may give (pickle protocols < 3 write Python 2 module names)."""
    return {
        "os.system": (_Payload(os.system, (f"touch {marker}",)), ("os.system", "posix.system")),
        "builtins.eval": (
            _Payload(builtins.eval, (f"__import__('pathlib').Path({str(marker)!r}).touch()",)),
            ("builtins.eval", "__builtin__.eval"),
        ),
        "subprocess.Popen": (
            _Payload(subprocess.Popen, (["touch", str(marker)],)),
            ("subprocess.Popen", "commands.Popen"),
        ),
    }


@pytest.mark.parametrize("container", ["zip", "legacy"])
@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize("attack", ["os.system", "builtins.eval", "subprocess.Popen"])
def test_unsafe_pickle_is_refused_and_runs_nothing(tmp_path, container, protocol, attack):
    marker = tmp_path / "pwned"
    payload, names = _payloads(marker)[attack]
    # Hidden in an otherwise ordinary-looking state_dict.
    body = pickle.dumps(OrderedDict([("conv1.bias", 1.0), ("evil", payload)]), protocol=protocol)
    path = tmp_path / "evil.pth"
    (write_zip_checkpoint if container == "zip" else write_legacy_checkpoint)(path, body)
    with pytest.raises(UnsafeCheckpointError) as info:
        read_torch_state_dict(path)
    message = str(info.value)
    assert any(name in message for name in names), message
    assert str(path) in message
    assert not marker.exists()


@pytest.mark.parametrize("attack", ["os.system", "builtins.eval", "subprocess.Popen"])
def test_unsafe_pickle_inside_real_torch_zip_is_refused(tmp_path, attack):
    marker = tmp_path / "pwned"
    payload, names = _payloads(marker)[attack]
    path = save({"weight": torch.ones(3), "evil": payload}, tmp_path / "evil_torch.pth")
    with pytest.raises(UnsafeCheckpointError) as info:
        read_torch_state_dict(path)
    assert any(name in str(info.value) for name in names)
    assert not marker.exists()


@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_load_torch_checkpoint_refuses_unsafe_pickle(tmp_path, container):
    marker = tmp_path / "pwned"
    payload, _ = _payloads(marker)["os.system"]
    path = tmp_path / "rnn_bglt_1111_t_2_num_1.pth"
    (write_zip_checkpoint if container == "zip" else write_legacy_checkpoint)(path, pickle.dumps(payload, 2))
    with pytest.raises(UnsafeCheckpointError, match=r"(os|posix)\.system"):
        small_model().load_torch_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError, match=r"(os|posix)\.system"):
        GainModulatedRNN.from_torch_checkpoint(path, jit_compile=False)
    assert not marker.exists()


def test_unsafe_global_as_legacy_magic_is_refused(tmp_path):
    """The very first pickle of a legacy stream is unpickled restrictedly too."""
    marker = tmp_path / "pwned"
    payload, _ = _payloads(marker)["os.system"]
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(UnsafeCheckpointError, match=r"(os|posix)\.system"):
        read_torch_state_dict(path)
    assert not marker.exists()


def _build_on_storage_stand_in() -> bytes:
    """A pickle that fetches the allowed ``torch.FloatStorage`` global and BUILDs new state into it."""
    return (
        b"\x80\x02"
        + b"ctorch\nFloatStorage\n"
        + b"}"  # EMPTY_DICT
        + b"X" + struct.pack("<I", 5) + b"dtype"
        + b"X" + struct.pack("<I", 4) + b"int8"
        + b"s"  # SETITEM
        + b"b"  # BUILD: FloatStorage.__dict__.update({"dtype": "int8"})
        + b"."
    )


@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_a_hostile_file_cannot_alter_later_reads(tmp_path, checkpoint, state_dict, container):
    """Reading one file must not change how the next one is read (the stand-ins are shared)."""
    path = tmp_path / "poison.pth"
    (write_zip_checkpoint if container == "zip" else write_legacy_checkpoint)(path, _build_on_storage_stand_in())
    saved = {key: dict(vars(obj)) for key, obj in pth_reader._ALLOWED.items() if hasattr(obj, "__dict__")}
    try:
        try:
            read_torch_state_dict(path)
        except CheckpointError:
            pass  # refusing the file is fine; what matters is the next read
        assert_same_arrays(read_torch_state_dict(checkpoint), state_dict)
    finally:
        # Undo any damage so that later tests are not affected by this one.
        for key, contents in saved.items():
            vars(pth_reader._ALLOWED[key]).clear()
            vars(pth_reader._ALLOWED[key]).update(contents)


# ----------------------------------------------------------------------------------------- 7. corrupt input
def _assert_checkpoint_error(path: Path, *fragments: str) -> str:
    with pytest.raises(CheckpointError) as info:
        read_torch_state_dict(path)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def test_truncated_zip_checkpoint(tmp_path, checkpoint):
    data = checkpoint.read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: len(data) // 2])
    message = _assert_checkpoint_error(path)
    assert "truncated" in message or "zip" in message


@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.6, 0.95])
def test_truncated_legacy_checkpoint(tmp_path, state_dict, fraction):
    data = save(state_dict, tmp_path / "full.pth", legacy=True).read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: int(len(data) * fraction)])
    _assert_checkpoint_error(path, "truncated")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    _assert_checkpoint_error(path, "not a PyTorch checkpoint")


def test_text_file(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("these are not the weights you are looking for\n")
    _assert_checkpoint_error(path, "not a PyTorch checkpoint")


def test_random_bytes(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    path = tmp_path / "random.pth"
    path.write_bytes(b"\x13" + data)
    _assert_checkpoint_error(path, "not a PyTorch checkpoint")


@pytest.mark.parametrize("seed", range(5))
def test_pickle_header_then_garbage(tmp_path, seed):
    data = np.random.default_rng(seed).integers(0, 256, 512, dtype=np.uint8).tobytes()
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"\x80\x02" + data)
    _assert_checkpoint_error(path)


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x04\x95" + struct.pack("<Q", 2**63),  # FRAME longer than any file can be
        b"\x80\x04\x8d" + struct.pack("<Q", 2**63),  # BINUNICODE8 of absurd length
        b"\x80\x04\x8e" + struct.pack("<Q", 2**62),  # BINBYTES8 of 4 EiB
    ],
    ids=["frame", "binunicode8", "binbytes8"],
)
def test_pickle_with_absurd_declared_length(tmp_path, data):
    """A 12-byte corrupt file must give CheckpointError, not OverflowError/MemoryError."""
    path = tmp_path / "absurd.pth"
    path.write_bytes(data)
    _assert_checkpoint_error(path)


def test_zip_without_data_pkl(tmp_path):
    path = tmp_path / "archive.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/data/0", b"\x00" * 16)
    _assert_checkpoint_error(path, "not a PyTorch checkpoint", "data.pkl")


def test_zip_with_missing_storage(tmp_path, checkpoint):
    path = rewrite_zip(checkpoint, tmp_path / "missing_storage.pth", "/data/0", "drop")
    _assert_checkpoint_error(path, "data/0", "missing")


def test_zip_with_short_storage(tmp_path, checkpoint):
    path = rewrite_zip(checkpoint, tmp_path / "short_storage.pth", "/data/0", "truncate")
    _assert_checkpoint_error(path, "storage '0'", "bytes")


def test_zip_with_corrupted_member(tmp_path, checkpoint):
    """A member whose bytes no longer match its CRC."""
    data = bytearray(checkpoint.read_bytes())
    with zipfile.ZipFile(checkpoint) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("/data/0"))
    assert info.compress_type == zipfile.ZIP_STORED
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length  # first byte of the stored data
    data[start] ^= 0xFF
    path = tmp_path / "crc.pth"
    path.write_bytes(bytes(data))
    _assert_checkpoint_error(path, "zip")


def test_missing_path(tmp_path):
    path = tmp_path / "nowhere" / "model.pth"
    with pytest.raises(FileNotFoundError) as info:
        read_torch_state_dict(path)
    assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError):
        small_model().load_torch_checkpoint(path)


def test_directory_is_not_a_checkpoint(tmp_path):
    with pytest.raises((CheckpointError, FileNotFoundError, IsADirectoryError)):
        read_torch_state_dict(tmp_path)


# -------------------------------------------------------------------------------------- 8. not a state_dict
@pytest.mark.parametrize(
    "obj",
    [[torch.ones(2), torch.zeros(3)], {"name": "rnn", "arch": "bglt"}, 42, {}, {"w": torch.ones(2), "step": 3}],
    ids=["list_of_tensors", "dict_of_strings", "int", "empty_dict", "mixed_dict"],
)
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_not_a_state_dict(tmp_path, obj, legacy):
    path = save(obj, tmp_path / "other.pth", legacy=legacy)
    _assert_checkpoint_error(path, "state_dict")


# --------------------------------------------------------------------------------------------- 9. mismatches
def _mismatch(model: GainModulatedRNN, path: Path) -> str:
    with pytest.raises(CheckpointMismatchError) as info:
        model.load_torch_checkpoint(path)
    return str(info.value)


def test_checkpoint_for_more_features(tmp_path):
    path = save(make_reference(TIMESTEPS, n_feats=4).state_dict(), tmp_path / "nf4.pth")
    message = _mismatch(small_model(), path)
    assert "conv1.weight" in message
    assert "(4, 1, 5, 5)" in message and "(2, 1, 5, 5)" in message
    assert "n_feats=4" in message


def test_checkpoint_for_more_time_steps(tmp_path):
    path = save(make_reference(4, n_feats=N_FEATS).state_dict(), tmp_path / "t4.pth")
    message = _mismatch(small_model(), path)
    assert "fc2.weight" in message
    assert "(20, 128)" in message and "(20, 64)" in message
    assert "timesteps=4" in message


def test_missing_key(tmp_path, state_dict):
    partial = OrderedDict((k, v) for k, v in state_dict.items() if k != "fc1.bias")
    message = _mismatch(small_model(), save(partial, tmp_path / "partial.pth"))
    assert "missing" in message and "fc1.bias" in message


def test_unexpected_key(tmp_path, state_dict):
    extended = OrderedDict(state_dict)
    extended["extra.weight"] = torch.ones(3)
    message = _mismatch(small_model(), save(extended, tmp_path / "extended.pth"))
    assert "unexpected" in message and "extra.weight" in message


def test_integer_weight(tmp_path, state_dict):
    broken = OrderedDict(state_dict)
    broken["conv2.weight"] = torch.ones_like(state_dict["conv2.weight"], dtype=torch.int64)
    message = _mismatch(small_model(), save(broken, tmp_path / "int.pth"))
    assert "conv2.weight" in message and "int64" in message


def test_mismatch_leaves_model_weights_alone(tmp_path, checkpoint, state_dict):
    model = small_model().load_torch_checkpoint(checkpoint)
    before = [w.copy() for w in model.get_weights()]
    broken = OrderedDict(state_dict)
    broken["fc2.weight"] = torch.zeros(20, 16 * N_FEATS * 3)
    _mismatch(model, save(broken, tmp_path / "broken.pth"))
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------- 10. float64
def test_float64_state_dict_loads_as_float32(tmp_path, state_dict, reference, images):
    doubled = OrderedDict((k, v.double()) for k, v in state_dict.items())
    path = save(doubled, tmp_path / "double.pth")
    assert read_torch_state_dict(path)["fc1.weight"].dtype == np.float64
    model = small_model().load_torch_checkpoint(path)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    got = np.asarray(model(images))
    np.testing.assert_allclose(got, torch_log_probs(reference, images), atol=TOLERANCE, rtol=0)



@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_tiny_file_describing_a_huge_expanded_tensor_is_refused(tmp_path, legacy):
    """A stride-0 view lets a 1 kB file describe petabytes; reading must refuse, not allocate."""
    path = save({"w": torch.zeros(1).expand(2**50)}, tmp_path / "expanded.pth", legacy=legacy)
    assert path.stat().st_size < 10_000
    _assert_checkpoint_error(path, "refusing to expand")
    # A modest expanded view (a legitimate torch.save of x.expand) still reads.
    path = save({"w": torch.arange(3.0).expand(4, 3)}, tmp_path / "small.pth", legacy=legacy)
    np.testing.assert_array_equal(read_torch_state_dict(path)["w"], np.tile(np.arange(3.0, dtype="float32"), (4, 1)))
