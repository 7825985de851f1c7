"""The suite's network guard (tests/conftest.py) refuses connections that leave this machine."""

from __future__ import annotations

import socket

import pytest
from conftest import _remote


def test_a_remote_connection_is_refused_and_recorded(no_remote_connections: list[str]) -> None:
    with socket.socket() as connection, pytest.raises(OSError, match="tests run offline"):
        connection.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed
    assert no_remote_connections == ["192.0.2.1"]
    no_remote_connections.clear()  # recorded on purpose here: let the test pass


def test_local_connections_go_through() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.socket() as client:
            client.connect(server.getsockname())
    assert _remote(("127.0.0.1", 80)) is None and _remote(("::1", 80, 0, 0)) is None
    assert _remote(("10.0.0.1", 80)) == "10.0.0.1" and _remote("/tmp/socket") is None
