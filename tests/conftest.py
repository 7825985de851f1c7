"""Shared fixtures: the PyTorch reference (test oracle only), its checkpoints, images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REFERENCE_SEED = 1234

#: Hosts a test may connect to: this machine (local test servers, notebook kernels, distributed workers).
LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")


def _remote(address: object) -> str | None:
    """The host of a connection's address when it leaves this machine, else None."""
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        host = address[0]
        return None if host in LOCAL_HOSTS or host.startswith("127.") else host
    return None  # Unix sockets and the like


@pytest.fixture(autouse=True)
def no_remote_connections(monkeypatch: pytest.MonkeyPatch):
    """Fail any test whose code connects to another machine (the tests run offline, on any network).

    The connection is refused with an OSError, as offline, and the test fails afterwards even if the code
    under test caught that error and carried on as if offline.
    """
    import socket

    attempts: list[str] = []
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded(original):
        def call(self, address):
            host = _remote(address)
            if host is not None:
                attempts.append(host)
                raise OSError(f"tests run offline: a connection to {address!r} was refused by tests/conftest.py")
            return original(self, address)

        return call

    monkeypatch.setattr(socket.socket, "connect", guarded(connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(connect_ex))
    yield attempts
    assert not attempts, f"the test tried to reach the network: {sorted(set(attempts))}"


@pytest.fixture
def traceback_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's temporary folder as the command line sees it (where it saves the traceback of a bug): an
    empty folder of the test's own."""
    import tempfile

    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def pytest_configure(config: pytest.Config) -> None:
    import os

    # Quiet TensorFlow's C++ start-up chatter in test logs.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def make_reference(timesteps: int, flags: tuple[int, int, int, int] = (1, 1, 1, 1), n_feats: int = 8):
    """The authors' RNNet_all_fbr, initialised from a fixed seed."""
    import torch
    from torch_reference import RNNetAllFbr

    torch.manual_seed(REFERENCE_SEED + timesteps)
    return RNNetAllFbr(n_feats, 5, timesteps, *flags).eval()


@pytest.fixture(scope="session")
def reference_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """One ``torch.save``d state_dict per number of time steps (1, 2, 4).

    The authors' model builds every projection whatever its flags, so one
    checkpoint serves all 16 flag combinations of a given number of steps.
    """
    import torch

    folder = tmp_path_factory.mktemp("checkpoints")
    paths = {}
    for timesteps in (1, 2, 4):
        path = folder / f"reference_t{timesteps}.pth"
        torch.save(make_reference(timesteps).state_dict(), path)
        paths[timesteps] = path
    return paths


@pytest.fixture(scope="session")
def images() -> np.ndarray:
    """Three reproducible channels-last images in [0, 1], with exact 0s and 1s too."""
    rng = np.random.default_rng(7)
    batch = rng.random((3, 100, 100, 1)).astype("float32")
    batch[0, :10] = 0.0
    batch[1, :10] = 1.0
    return batch


@pytest.fixture(scope="session")
def reference_scenes():
    """The per-image port of the original scene generator (benchmarks/baselines/reference_scenes.py)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "baselines" / "reference_scenes.py"
    spec = importlib.util.spec_from_file_location("reference_scenes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def scene_sources():
    """Object images from the test splits embedded in tfprobe (assets/data), each divided 55:5:10 with seed 0.

    Read from the embedded folders explicitly, so scenes are the same whatever else the machine holds.
    """
    from tfprobe.datasets import embedded_dir, load_fashion_mnist, load_mnist

    digits = load_mnist(embedded_dir("mnist"), allow_single_split=True, seed=0).train
    fashion = load_fashion_mnist(embedded_dir("fashion-mnist"), allow_single_split=True, seed=0).train
    return digits, fashion
