"""Downloading the authors' checkpoints: against a local HTTP server that serves a small real checkpoint,
cuts connections, ignores ranges, sends the wrong size, stalls or is not there at all."""

from __future__ import annotations

import http.server
import io
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from tfprobe.cli.rnn_download import CODES
from tfprobe.errors import CheckpointDownloadError, CheckpointError
from tfprobe.models.download import (
    AUTHOR_CHECKPOINTS,
    checkpoint_dir,
    download_checkpoint,
    find_checkpoint,
)

CODE = "bglt_0111"
FILENAME = AUTHOR_CHECKPOINTS[CODE].filename


# ----------------------------------------------------------------------------------------------- server
def send_ranged(handler: http.server.BaseHTTPRequestHandler, data: bytes) -> None:
    """Serve ``data`` as a server that understands ``Range: bytes=N-`` does."""
    wanted = handler.headers.get("Range")
    if wanted is None:
        send_body(handler, data)
        return
    start = int(wanted.removeprefix("bytes=").removesuffix("-"))
    if start >= len(data):
        handler.send_error(416)
        return
    handler.send_response(206)
    handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
    handler.send_header("Content-Length", str(len(data) - start))
    handler.end_headers()
    handler.wfile.write(data[start:])


def send_body(handler: http.server.BaseHTTPRequestHandler, body: bytes, length: int | None = -1) -> None:
    """A 200 answer with ``body``; ``length`` the Content-Length announced (-1: the body's, None: none)."""
    handler.send_response(200)
    if length is not None:
        handler.send_header("Content-Length", str(len(body) if length == -1 else length))
    handler.end_headers()
    handler.wfile.write(body)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection, closed after the answer

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers.get("Range")))
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
        else:
            route(self)

    def log_message(self, *args: object) -> None:
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the client hangs up on a wrong size: expected
            super().handle_error(request, client_address)


@dataclass
class Server:
    """A local server: ``routes`` maps a path to what answers it, ``requests`` records (path, Range)."""

    port: int
    routes: dict[str, Callable[[http.server.BaseHTTPRequestHandler], None]] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ranges(self, path: str) -> list[str | None]:
        return [wanted for seen, wanted in self.requests if seen == path]


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    state = Server(httpd.server_address[1])
    httpd.routes, httpd.requests = state.routes, state.requests
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------------------------------------------ checkpoint
@pytest.fixture(scope="module")
def state_dict():
    """The authors' model (the torch reference), small (n_feats=2) but with the file name's 4 time steps."""
    from conftest import make_reference

    return make_reference(4, (0, 1, 1, 1), n_feats=2).state_dict()


@pytest.fixture(scope="module")
def payload(state_dict) -> bytes:
    """The bytes of the served ``.pth`` (torch's zip format)."""
    import torch

    stream = io.BytesIO()
    torch.save(state_dict, stream)
    return stream.getvalue()


def fetch(server: Server, path: str, folder: Path, size: int, **kwargs) -> Path:
    return download_checkpoint(CODE, folder, url=server.url(path), size=size, progress=False, **kwargs)


def assert_nothing_left(folder: Path) -> None:
    assert not (folder / FILENAME).exists()
    assert not (folder / f"{FILENAME}.part").exists()


# ------------------------------------------------------------------------------------------------ tests
def test_table_and_default_folder(tmp_path, monkeypatch):
    assert set(AUTHOR_CHECKPOINTS) == set(CODES) == {"bglt_0111", "bglt_1011"}
    assert AUTHOR_CHECKPOINTS["bglt_0111"].url == "https://osf.io/wxmkv/download"
    assert AUTHOR_CHECKPOINTS["bglt_1011"].filename == "rnn_bglt_1011_t_4_num_1.pth"
    assert {entry.size for entry in AUTHOR_CHECKPOINTS.values()} == {100_598_907}
    monkeypatch.setenv("TFPROBE_HOME", str(tmp_path / "home"))
    assert checkpoint_dir() == tmp_path / "home" / "checkpoints"
    monkeypatch.delenv("TFPROBE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert checkpoint_dir() == tmp_path / ".tfprobe" / "checkpoints"


def test_complete_download_loads_as_the_reference(server, tmp_path, payload, state_dict):
    from tfprobe import GainModulatedRNN

    server.routes["/ckpt"] = lambda handler: send_ranged(handler, payload)
    folder = tmp_path / "new" / "folder"  # created
    path = fetch(server, "/ckpt", folder, len(payload), chunk_bytes=1 << 16)
    assert path == folder / FILENAME
    assert path.read_bytes() == payload
    assert not (folder / f"{FILENAME}.part").exists()
    assert server.ranges("/ckpt") == [None]
    model = GainModulatedRNN.from_torch_checkpoint(path, code=CODE, jit_compile=False)
    assert (model.n_feats, model.timesteps, model.flags.code) == (2, 4, CODE)
    kernel, bias = model.fc2.get_weights()
    np.testing.assert_array_equal(kernel, state_dict["fc2.weight"].numpy().T)
    np.testing.assert_array_equal(bias, state_dict["fc2.bias"].numpy())
    assert find_checkpoint(CODE, folder) is None  # not the published size
    assert download_checkpoint(CODE, folder, url=server.url("/ckpt"), size=len(payload)) == path


def test_present_file_is_returned_without_the_network(server, tmp_path, payload):
    (tmp_path / FILENAME).write_bytes(payload)
    assert fetch(server, "/ckpt", tmp_path, len(payload)) == tmp_path / FILENAME
    assert server.requests == []
    published = AUTHOR_CHECKPOINTS["bglt_1011"]
    with open(tmp_path / published.filename, "wb") as stream:
        stream.truncate(published.size)  # sparse: the published size without writing 100 MB
    found = download_checkpoint("bglt_1011", tmp_path, timeout=0.01, progress=False)  # OSF is never asked
    assert found == tmp_path / published.filename == find_checkpoint("bglt_1011", tmp_path)


def test_find_checkpoint_wants_the_published_size(tmp_path, monkeypatch):
    monkeypatch.setenv("TFPROBE_HOME", str(tmp_path))
    folder = tmp_path / "checkpoints"
    assert find_checkpoint(CODE) is None
    folder.mkdir()
    with open(folder / FILENAME, "wb") as stream:
        stream.truncate(AUTHOR_CHECKPOINTS[CODE].size - 1)
    assert find_checkpoint(CODE) is None
    with open(folder / FILENAME, "ab") as stream:
        stream.write(b"\0")
    assert find_checkpoint(CODE) == folder / FILENAME
    assert find_checkpoint(CODE, folder) == folder / FILENAME
    assert find_checkpoint("bglt_1011") is None


def test_a_cut_download_keeps_its_part_and_resumes(server, tmp_path, payload):
    half = len(payload) // 2
    calls = []

    def cut_once(handler):
        calls.append(handler.headers.get("Range"))
        if len(calls) == 1:  # announce the whole file, send half, close
            send_body(handler, payload[:half], length=len(payload))
        else:
            send_ranged(handler, payload)

    server.routes["/cut"] = cut_once
    with pytest.raises(CheckpointDownloadError, match="cut short") as caught:
        fetch(server, "/cut", tmp_path, len(payload))
    message = str(caught.value)
    assert f"{half:,} of {len(payload):,} bytes" in message and "resumes" in message
    assert not (tmp_path / FILENAME).exists()
    assert (tmp_path / f"{FILENAME}.part").read_bytes() == payload[:half]
    path = fetch(server, "/cut", tmp_path, len(payload))
    assert calls == [None, f"bytes={half}-"]
    assert path.read_bytes() == payload
    assert not (tmp_path / f"{FILENAME}.part").exists()


def test_a_server_that_ignores_ranges_sends_the_whole_file_again(server, tmp_path, payload):
    server.routes["/plain"] = lambda handler: send_body(handler, payload)
    (tmp_path / f"{FILENAME}.part").write_bytes(b"x" * 1000)  # not even the file's first bytes
    path = fetch(server, "/plain", tmp_path, len(payload))
    assert server.ranges("/plain") == ["bytes=1000-"]
    assert path.read_bytes() == payload
    assert not (tmp_path / f"{FILENAME}.part").exists()


def test_a_part_the_server_cannot_resume_starts_over(server, tmp_path, payload):
    server.routes["/ckpt"] = lambda handler: send_ranged(handler, payload)
    payload_part = tmp_path / f"{FILENAME}.part"
    payload_part.write_bytes(payload + b"junk")  # longer than the file: discarded without asking
    assert fetch(server, "/ckpt", tmp_path, len(payload)).read_bytes() == payload
    assert server.ranges("/ckpt") == [None]

    def refuse_ranges(handler):  # 416 Range Not Satisfiable to any range, the file otherwise
        if handler.headers.get("Range"):
            handler.send_error(416)
        else:
            send_body(handler, payload)

    server.routes["/refuse"] = refuse_ranges
    (tmp_path / FILENAME).unlink()
    payload_part.write_bytes(payload[:10])
    assert fetch(server, "/refuse", tmp_path, len(payload)).read_bytes() == payload
    assert server.ranges("/refuse") == ["bytes=10-", None]


@pytest.mark.parametrize(
    "answer, received",
    [
        (lambda handler, data: send_body(handler, data[:-7]), "announces {n_short}"),
        (lambda handler, data: send_body(handler, data + b"tail"), "announces {n_long}"),
        (lambda handler, data: send_body(handler, data + b"tail", length=None), "sent at least"),
        (lambda handler, data: send_body(handler, data[:-7], length=None), "sent {n_short}"),
    ],
    ids=["shorter", "longer", "longer_unannounced", "shorter_unannounced"],
)
def test_wrong_size_leaves_nothing(server, tmp_path, payload, answer, received):
    server.routes["/wrong"] = lambda handler: answer(handler, payload)
    (tmp_path / f"{FILENAME}.part").write_bytes(payload[:100])  # a .part of this file is dropped too
    with pytest.raises(CheckpointDownloadError) as caught:
        fetch(server, "/wrong", tmp_path, len(payload), chunk_bytes=1 << 16)
    message = str(caught.value)
    assert f"expected {len(payload):,} bytes" in message
    assert received.format(n_short=f"{len(payload) - 7:,}", n_long=f"{len(payload) + 4:,}") in message
    assert_nothing_left(tmp_path)


def test_resumed_part_of_another_file_size_is_refused(server, tmp_path, payload):
    server.routes["/ckpt"] = lambda handler: send_ranged(handler, payload)
    (tmp_path / f"{FILENAME}.part").write_bytes(payload[:100])
    with pytest.raises(CheckpointDownloadError, match=f"expected {len(payload) + 1:,} bytes.*has a file of"):
        fetch(server, "/ckpt", tmp_path, len(payload) + 1)
    assert_nothing_left(tmp_path)


def test_unreachable_server_fails_fast_and_says_what_to_do(tmp_path):
    url = f"http://127.0.0.1:{unused_port()}/rnn.pth"
    folder = tmp_path / "checkpoints"
    with pytest.raises(CheckpointDownloadError) as caught:  # refused at once: no 10 s wait for an answer
        download_checkpoint(CODE, folder, url=url, timeout=10.0, progress=False)
    message = str(caught.value)
    for needed in (url, str(folder / FILENAME), "connection refused", "browser", "--checkpoint PATH", "100,598,907"):
        assert needed in message
    assert isinstance(caught.value, CheckpointError)
    assert not folder.exists()  # created only when a download starts


def test_a_silent_server_times_out(server, tmp_path, payload):
    server.routes["/silent"] = lambda handler: time.sleep(1.5)
    # the server answers after 1.5 s: the timeout of 0.3 s, not the answer, ends the download
    with pytest.raises(CheckpointDownloadError, match=r"no answer within 0\.3 s"):
        fetch(server, "/silent", tmp_path, len(payload), timeout=0.3)
    assert_nothing_left(tmp_path)


def test_http_errors_name_the_status(server, tmp_path, payload):
    with pytest.raises(CheckpointDownloadError, match="HTTP 404 Not Found") as caught:
        fetch(server, "/missing", tmp_path, len(payload))
    assert server.url("/missing") in str(caught.value)
    server.routes["/broken"] = lambda handler: handler.send_error(500)
    with pytest.raises(CheckpointDownloadError, match="HTTP 500"):
        fetch(server, "/broken", tmp_path, len(payload))
    assert_nothing_left(tmp_path)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="bglt_0111, bglt_1011") as caught:
        download_checkpoint("bglt_1111", tmp_path)
    assert not isinstance(caught.value, CheckpointDownloadError)
    with pytest.raises(ValueError, match="bglt_0111, bglt_1011"):
        find_checkpoint("rnn")
    with pytest.raises(ValueError, match="http:// or https://"):
        download_checkpoint(CODE, tmp_path, url="osf.io/wxmkv/download")
    with pytest.raises(ValueError, match="size must be"):
        download_checkpoint(CODE, tmp_path, url="http://127.0.0.1:1/x", size=0)
    with pytest.raises(ValueError, match="timeout must be"):
        download_checkpoint(CODE, tmp_path, timeout=0)
    assert list(tmp_path.iterdir()) == []


def test_progress_goes_to_stderr(server, tmp_path, payload, capsys):
    server.routes["/ckpt"] = lambda handler: send_ranged(handler, payload)
    download_checkpoint(CODE, tmp_path, url=server.url("/ckpt"), size=len(payload), chunk_bytes=1 << 16)
    out, err = capsys.readouterr()
    assert out == ""
    assert f"downloading {server.url('/ckpt')} to {tmp_path / FILENAME} ({len(payload):,} bytes)" in err
    assert "100%" in err


# -------------------------------------------------------------------------------------------- command
def run(argv: list[str]) -> int:
    """``tfprobe rnn <argv>`` through the command line's entry point."""
    from tfprobe.cli import main

    return main(["rnn", *argv])


def test_command_downloads_and_prints_the_path(server, tmp_path, payload, capsys):
    server.routes["/ckpt"] = lambda handler: send_ranged(handler, payload)
    argv = ["download", "--url", server.url("/ckpt"), "--size", str(len(payload)), "--dir", str(tmp_path)]
    assert run(argv) == 0
    assert capsys.readouterr().out == f"{tmp_path / FILENAME}\n"
    assert (tmp_path / FILENAME).read_bytes() == payload
    assert run([*argv, "--timeout", "0.5"]) == 0  # already there
    assert capsys.readouterr().out == f"{tmp_path / FILENAME}\n"
    assert len(server.requests) == 1


def test_command_all_codes_from_the_default_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TFPROBE_HOME", str(tmp_path))
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for entry in AUTHOR_CHECKPOINTS.values():
        with open(folder / entry.filename, "wb") as stream:
            stream.truncate(entry.size)
    assert run(["download", "--code", "all", "--timeout", "0.01"]) == 0
    expected = [str(folder / AUTHOR_CHECKPOINTS[code].filename) for code in CODES]
    assert capsys.readouterr().out.splitlines() == expected


def test_command_errors(tmp_path, capsys):
    url = f"http://127.0.0.1:{unused_port()}/rnn.pth"
    assert run(["download", "--url", url, "--size", "10", "--dir", str(tmp_path), "--timeout", "2"]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("tfprobe rnn download: error: cannot download") and url in err and "--checkpoint PATH" in err
    usage = {
        ("--code", "all", "--url", url): "not --code all",
        ("--size", "10"): "give it with --url",
        ("--url", "ftp://example.org/x.pth"): "http:// or https://",
        ("--timeout", "0"): "--timeout must be",
        ("--dir", str(tmp_path / "file")): "is a file",
    }
    (tmp_path / "file").write_text("x")
    for options, message in usage.items():
        assert run(["download", *options]) == 2, options
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(["download", "--code", "bglt_1111"])
    assert "invalid choice" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file"]
