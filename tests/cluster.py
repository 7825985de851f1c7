"""Helpers for tests that run Python in other processes: one script, or every worker of a ``tf.distribute``
cluster on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def run_script(code: str, *args: str, env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen:
    """Python ``code`` in a new process with ``args``, its output piped back, or written to ``log`` .out and .err
    files."""
    if log is None:
        outputs = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    else:
        outputs = {"stdout": log.with_suffix(".out").open("w"), "stderr": log.with_suffix(".err").open("w")}
    try:
        return subprocess.Popen(
            [sys.executable, "-c", code, *args],
            text=True,
            env={**os.environ, **(env or {})},
            **outputs,
        )
    finally:
        if log is not None:
            for file in outputs.values():
                file.close()  # the child holds its own copies


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# What a TensorFlow server prints when its port was taken (TensorFlow binds without SO_REUSEPORT, so the
# port cannot be held for it until it starts).
PORT_TAKEN = "Could not start gRPC server"


def _port_taken(base: Path, workers: int) -> bool:
    return any(PORT_TAKEN in (base / f"worker{index}.err").read_text() for index in range(workers))


def run_cluster(code: str, folder: Path, *args: str, workers: int = 2, attempts: int = 3) -> tuple[list[str], Path]:
    """Run Python ``code`` as every worker of a cluster on this machine; each worker's standard output, and the
    folder of the run.

    A worker gets the arguments ``args``, then ``<folder of the run>/run`` and ``.../worker<index>.npz``.
    The ports are found free just before the workers start, so another process may take one first: that
    worker then fails to start its server, and the cluster starts again, in a new folder, on other ports.
    Any other failure fails the test with every worker's error output (a worker's failure shows up in its
    peers as a lost connection, so the first to exit is not always the one at fault).
    """
    for attempt in range(attempts):
        base = folder / f"attempt{attempt}"
        base.mkdir()
        addresses = [f"127.0.0.1:{port}" for port in free_ports(workers)]
        processes = [
            run_script(
                code,
                *args,
                str(base / "run"),
                str(base / f"worker{index}.npz"),
                env={
                    "TF_CONFIG": json.dumps(
                        {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
                    )
                },
                log=base / f"worker{index}",
            )
            for index in range(workers)
        ]
        deadline, failed_at = time.monotonic() + 600, None
        try:
            while any(process.poll() is None for process in processes) and time.monotonic() < deadline:
                if failed_at is None and any(process.returncode for process in processes):
                    failed_at = time.monotonic()
                # A failed worker's peers wait on it (for its server, or in a collective): stop them, at
                # once when its port was taken, else once they have had time to report what they saw.
                if failed_at is not None and (_port_taken(base, workers) or time.monotonic() > failed_at + 60):
                    break
                time.sleep(0.2)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        codes = [process.returncode for process in processes]
        if any(codes) and attempt + 1 < attempts and _port_taken(base, workers):
            continue
        errors = [(base / f"worker{index}.err").read_text() for index in range(workers)]
        report = "\n".join(
            f"--- worker {index} (exit {code}):\n{error[-3000:]}"
            for index, (code, error) in enumerate(zip(codes, errors, strict=True))
        )
        assert not any(codes), report
        return [(base / f"worker{index}.out").read_text() for index in range(workers)], base
    raise AssertionError("unreachable")  # the last attempt returns or fails
