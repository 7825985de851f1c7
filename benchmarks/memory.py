"""Peak memory of a benchmark's child process, as Linux reports it (shared by the benchmarks' memory rows)."""

from __future__ import annotations

from pathlib import Path


def high_water_mark_kib() -> int:
    """This process's peak resident set size since it started its program (``VmHWM``, KiB).

    Not ``ru_maxrss``: Linux carries the peak of the memory a process had before ``execve`` into it, and a child
    started by ``subprocess`` (fork or vfork, then exec) had its parent's, so every child would report at least
    the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status: peak memory is measured on Linux only")
