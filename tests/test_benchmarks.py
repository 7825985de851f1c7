"""The benchmark scripts run and end with their JSON line (a smoke test, not a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.heavy
def test_rnn_speed_benchmark_prints_its_figures():
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "rnn_speed.py"), "--train-batch", "2", "--inference-batch", "2",
         "--repeats", "1", "--warmup", "1"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("train_step_ratio", "inference_ratio", "tfprobe_train_step_s", "torch_inference_s"):
        assert figures[key] > 0, key
    assert figures["train_batch"] == 2 and figures["inference_batch"] == 2
    assert "training step (Adam, batch 2)" in result.stdout


@pytest.mark.heavy
def test_scene_speed_benchmark_prints_its_figures():
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "scene_speed.py"), "--reference-scenes", "5", "--scenes", "40",
         "--repeats", "1", "--pipeline-steps", "2"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("speedup", "reference_scenes_per_s", "tfprobe_scenes_per_s", "train_step_s", "render_batch_s"):
        assert figures[key] > 0, key
    assert 0 <= figures["wait_fraction"] < 1
    assert "one core" in result.stdout and "scenes/s" in result.stdout
