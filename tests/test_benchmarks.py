"""The benchmark scripts run and end with their JSON line (a smoke test, not a timing)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def run_benchmark(script: str, *args: str) -> tuple[str, dict]:
    """Run ``benchmarks/<script>`` with small arguments; its output and the figures of its last line."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.heavy
def test_rnn_speed_benchmark_prints_its_figures():
    output, figures = run_benchmark(
        "rnn_speed.py", "--train-batch", "2", "--inference-batch", "2", "--repeats", "1", "--warmup", "1"
    )
    for key in ("train_step_ratio", "inference_ratio", "tfprobe_train_step_s", "torch_inference_s"):
        assert figures[key] > 0, key
    assert figures["train_batch"] == 2 and figures["inference_batch"] == 2
    assert "training step (Adam, batch 2)" in output


@pytest.mark.heavy
def test_scene_speed_benchmark_prints_its_figures():
    output, figures = run_benchmark(
        "scene_speed.py", "--reference-scenes", "5", "--scenes", "40", "--repeats", "1", "--pipeline-steps", "2"
    )
    for key in ("speedup", "reference_scenes_per_s", "tfprobe_scenes_per_s", "train_step_s", "render_batch_s"):
        assert figures[key] > 0, key
    assert 0 <= figures["wait_fraction"] < 1
    assert "one core" in output and "scenes/s" in output


@pytest.mark.heavy
def test_decoding_speed_benchmark_prints_its_figures():
    output, figures = run_benchmark("decoding_speed.py", "--scenes", "60", "--test", "20", "--timesteps", "2")
    assert figures["pairs"] == 8 * 6
    assert figures["speedup"] > 0 and figures["sklearn_s"] > 0 and figures["tfprobe_s"] > 0
    assert 0 <= figures["max_accuracy_gap"] <= 100
    assert "randomly initialised" in output


@pytest.mark.heavy
def test_act_memory_benchmark_prints_its_figures():
    output, figures = run_benchmark("act_memory.py", "--small", "16", "--large", "48", "--batch-sizes", "8")
    assert 0.5 < figures["peak_rss_ratio_10k_over_1k"] < 2
    assert figures["peak_rss_small_mib"] > 100 and set(figures["peak_rss_mib_by_batch"]) == {"8"}
    assert "ratio 48 / 16" in output


@pytest.mark.heavy
def test_featurevis_speed_benchmark_prints_its_figures():
    output, figures = run_benchmark(
        "featurevis_speed.py",
        *("--channels", "2", "--size", "48", "--steps", "2", "--seed-steps", "1", "--precision", "auto"),
    )
    for key in ("speedup_vs_seed_loop", "speedup_vs_tf_keras_vis", "seconds_per_step", "bfloat16_speedup"):
        assert figures[key] > 0, key
    assert figures["precision"] in ("float32", "bfloat16") and figures["precision_reason"].startswith("auto: ")
    assert "tf-keras-vis 0.8.7 ActivationMaximization" in output
    # every figure about a peer is measured by the run that prints it: no quoted Xplique timing is left
    assert not re.search(r"Xplique\S*\s+[\d.]+\s*s\b", output) and "featurevis_peers.py" in output


def test_peers_benchmark_without_xplique_says_how_to_build_its_environment():
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "featurevis_peers.py")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    if result.returncode == 0:  # this interpreter has Xplique: the benchmark ran
        assert json.loads(result.stdout.strip().splitlines()[-1])["speedup_vs_xplique"] > 0
        return
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "bash benchmarks/peers_env.sh" in lines[0] and "featurevis_peers.py" in lines[0]
    assert result.stdout == ""


@pytest.mark.heavy
def test_featurevis_quality_benchmark_prints_its_figures(tmp_path):
    output, figures = run_benchmark(
        "featurevis_quality.py",
        *("--train", "1500", "--epochs", "1", "--steps", "6", "--class-seeds", "1", "--channel-seeds", "1"),
        *("--draws", "2", "--no-bfloat16", "--models", str(tmp_path)),
    )
    for key in ("robustness_default", "robustness_naive", "robustness_maco"):
        assert 0 < figures[key] < 5, key
    for key in ("transfer_default", "transfer_naive", "transfer_maco"):
        assert 0 <= figures[key] <= 1, key
    for key in ("saturated_default", "saturated_naive", "saturated_maco"):
        assert 0 <= figures[key] <= 1, key
    # objectives are shares of each target's best over the rows: none above 1 (a 6-step run may stay negative)
    objectives = [figures[f"objective_{recipe}"] for recipe in ("naive", "default", "maco")]
    assert max(objectives) <= 1 and np.isfinite(objectives).all()
    assert figures["steps"] == {"naive": 6, "default": 6, "maco": 6} and figures["head"] == "gap"
    assert len(list(tmp_path.glob("fashion_vgg_gap_*_e1_n1500.keras"))) == 2  # the trained networks, kept
    for recipe in ("naive", "default", "maco"):
        assert f"\n{recipe:<18} " in output
    if figures["robustness_xplique"] is None:  # no Xplique here: its rows are left out, and said so
        assert "bash benchmarks/peers_env.sh" in output and figures["objective_vs_xplique"] is None
    else:
        assert figures["objective_vs_xplique"] > 0 and figures["time_to_quality_vs_xplique"] is not None


@pytest.mark.heavy
def test_circuit_speed_benchmark_prints_its_figures():
    output, figures = run_benchmark(
        "circuit_speed.py", *("--top", "2", "--size", "32", "--steps", "2", "--precision", "bfloat16")
    )
    assert figures["speedup"] > 0 and figures["tfprobe_seconds"] > 0 and figures["seed_seconds"] > 0
    assert figures["precision"] == "bfloat16"
    assert figures["same_ranking"] is True  # tfprobe's top inputs are the seed's, in the same order
    assert "the seed's way" in output


@pytest.mark.heavy
def test_analysis_speed_benchmark_prints_its_figures():
    output, figures = run_benchmark(
        "analysis_speed.py", "--scenes", "40", "--test", "10", "--perturbation-scenes", "2", "--timesteps", "2"
    )
    assert figures["speedup"] > 0 and figures["decoding_speedup"] > 0 and figures["perturbation_speedup"] > 0
    assert figures["decoding_cells"] == 2 * (4 * 2 + 4 * 1) * 6
    # Both sides rerun the same perturbed flows: the same accuracies.
    assert figures["max_perturbed_accuracy_gap"] == 0
    assert "original procedure" in output


@pytest.mark.heavy
def test_csf_speed_benchmark_prints_its_figures():
    output, figures = run_benchmark(
        "csf_speed.py", "--size", "32", "--layer", "conv2_block3_out", "--orientations", "2", "--max-iterations", "2"
    )
    assert figures["speedup"] > 0 and figures["tfprobe_s"] > 0 and figures["reference_s"] > 0
    # 5 frequencies x 2 tests: the loop runs 4 backbone images per orientation, tfprobe one (and gray once).
    assert figures["staircase_tests"] == 10 and figures["reference_backbone_images"] == 10 * 2 * 4
    assert figures["tfprobe_backbone_images"] == 10 * 2 + 1
    assert figures["max_log_threshold_gap"] < 1e-6
    assert "per-trial loop" in output
