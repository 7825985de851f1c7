"""Peak memory of a benchmark's child process, as Linux reports it, and the figures a child prints (shared by the
benchmarks' memory rows; a helper module, with no figures of its own)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


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


def child_figures(command: list[str]) -> dict[str, Any]:
    """Run ``command`` (a benchmark in a fresh child process) and return the JSON object its last line prints."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
