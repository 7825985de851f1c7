"""Smoke test of benchmarks/decoding_speed.py with a tiny grid."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "decoding_speed.py"


@pytest.mark.heavy
def test_decoding_benchmark_runs_and_reports_json() -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--scenes", "60", "--test", "20", "--timesteps", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=SCRIPT.parents[1],
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = completed.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["pairs"] == 8 * 6
    assert figures["speedup"] > 0 and figures["sklearn_s"] > 0 and figures["tfprobe_s"] > 0
    assert 0 <= figures["max_accuracy_gap"] <= 100
    assert any("randomly initialised" in line for line in lines)
