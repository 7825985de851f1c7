"""The recurrent network's connections, as a table: :mod:`tfprobe.models.connections`, importable here as
before."""

from __future__ import annotations

from tfprobe.models.connections import (
    DIRECTIONS,
    Connection,
    compact_count,
    connection_summary,
    connections,
    format_connections,
)

__all__ = ["DIRECTIONS", "Connection", "compact_count", "connection_summary", "connections", "format_connections"]
