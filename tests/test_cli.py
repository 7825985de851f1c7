"""The tfprobe command line, run as users run it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfprobe.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfprobe.cli", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.heavy
def test_run_builds_runs_and_exports(tmp_path):
    out = tmp_path / "export"
    result = run_cli("run", "--n-feats", "2", "--timesteps", "2", "--batch", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ran a batch of 3 images of 100x100x1" in result.stdout
    assert "activations['conv1']: 2 steps of 3x32x32x2" in result.stdout
    assert f"wrote a SavedModel to {out.resolve()}" in result.stdout
    loaded = tf.saved_model.load(str(out))
    outputs = loaded.signatures["serving_default"](images=tf.zeros((1, 100, 100, 1)))
    assert outputs["log_probs"].shape == (1, 20)
    np.testing.assert_allclose(np.exp(outputs["log_probs"].numpy()).sum(), 1.0, atol=1e-5)


def test_export_from_checkpoint_lists_outputs(tmp_path, reference_checkpoints, capsys):
    out = tmp_path / "sm"
    status = main(["export", "--checkpoint", str(reference_checkpoints[2]), "--code", "bglt_1001",
                   "--timesteps", "2", "--out", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "flow_conv1_bias_from_fc1_t0" in printed and "(batch, 100, 100, 1)" in printed
    assert (out / "saved_model.pb").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--code", "bglt_9"], "unknown recurrence code 'bglt_9'"),
        (["run", "--timesteps", "0"], "timesteps must be an integer >= 1, got 0"),
        (["run", "--batch", "0", "--n-feats", "2"], "--batch must be >= 1, got 0"),
        (["export", "--checkpoint", "missing.pth", "--out", "x"], "checkpoint not found: missing.pth"),
    ],
)
def test_bad_input_exits_with_a_one_line_reason(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1


def test_existing_output_is_not_overwritten(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    assert main(["export", "--n-feats", "2", "--timesteps", "1", "--out", str(tmp_path / "taken")]) == 2
    assert "exists; pass overwrite=True" in capsys.readouterr().err
