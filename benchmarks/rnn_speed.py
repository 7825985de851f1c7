"""Speed of the TF port against the authors' PyTorch model, side by side in one run.

Both run the recurrent network bglt_0111 with 4 time steps, the same weights
(the PyTorch model's, loaded into tfprobe through its .pth reader) and the
same inputs:

- a training step: forward, NLL loss, backward and an Adam(1e-4) update on a
  batch of 32 (tfprobe: ``model.compile`` + ``train_on_batch``, as users train);
- inference returning every activation and recurrent flow on a batch of 256.

Timings alternate between the two frameworks and the median of the repeats
is kept.  Peak memory is what each phase adds: TensorFlow's allocator peak
for tfprobe, the rise of the resident set for PyTorch.  The
last line printed is a JSON object with ``train_step_ratio`` and
``inference_ratio`` (PyTorch time / tfprobe time).

Run: ``python benchmarks/rnn_speed.py`` (torch from the ``test`` extra).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import tfprobe  # first: it configures TensorFlow's allocator before TensorFlow starts

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
from torch_reference import RNNetAllFbr  # noqa: E402

from tfprobe.models import NegativeLogLikelihood  # noqa: E402

CODE, FLAGS, TIMESTEPS = "bglt_0111", (0, 1, 1, 1), 4


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def resident_rise_mib(fn: Callable[[], object]) -> float | None:
    """Rise of the process's resident set (MiB) while ``fn`` runs (how PyTorch's
    memory shows: its CPU allocator returns freed memory to the system); None
    where Linux's /proc peak counter cannot be reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        fn()
        return None
    before = _status_kib("VmRSS")
    fn()
    peak = _status_kib("VmHWM")
    return None if before is None or peak is None else (peak - before) / 1024


def tensorflow_peak_mib(fn: Callable[[], object]) -> float | None:
    """Peak of TensorFlow's CPU allocator above its level before ``fn`` (MiB).

    TensorFlow keeps freed memory in its pool, so the resident set would not
    show a second run's use; the allocator's own statistics do.
    """
    try:
        tf.config.experimental.reset_memory_stats("CPU:0")
        before = tf.config.experimental.get_memory_info("CPU:0")["current"]
        fn()
        return (tf.config.experimental.get_memory_info("CPU:0")["peak"] - before) / 2**20
    except (ValueError, tf.errors.OpError):
        fn()
        return None


def alternate_timings(tasks: dict[str, Callable[[], object]], repeats: int, warmup: int) -> dict[str, float]:
    """Median seconds per call of each task, the tasks taking turns."""
    for fn in tasks.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for _ in range(repeats):
        for name, fn in tasks.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> dict[str, float | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--inference-batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    keras.utils.set_random_seed(0)
    reference = RNNetAllFbr(8, 5, TIMESTEPS, *FLAGS)
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / "reference.pth"
        torch.save(reference.state_dict(), checkpoint)
        model = tfprobe.GainModulatedRNN.from_code(CODE, timesteps=TIMESTEPS).load_torch_checkpoint(checkpoint)

    rng = np.random.default_rng(0)
    train_images = rng.random((args.train_batch, 100, 100, 1), dtype=np.float32)
    train_labels = rng.integers(0, 20, args.train_batch)
    test_images = rng.random((args.inference_batch, 100, 100, 1), dtype=np.float32)
    as_torch = lambda images: torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))  # noqa: E731

    # Training step.
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=NegativeLogLikelihood())
    tf_x, tf_y = tf.constant(train_images), tf.constant(train_labels)
    torch_optimizer = torch.optim.Adam(reference.parameters(), lr=1e-4)
    torch_x, torch_y = as_torch(train_images), torch.from_numpy(train_labels)

    def tfprobe_train_step() -> None:
        model.train_on_batch(tf_x, tf_y)

    def torch_train_step() -> None:
        torch_optimizer.zero_grad()
        actvs, _, _ = reference(torch_x)
        torch.nn.functional.nll_loss(actvs[5], torch_y).backward()
        torch_optimizer.step()

    # Inference with every intermediate.
    tf_test = tf.constant(test_images)
    torch_test = as_torch(test_images)

    def tfprobe_inference() -> None:
        out = model(tf_test, return_activations=True)
        out.log_probs.numpy()  # waits for the computation

    def torch_inference() -> None:
        with torch.no_grad():
            reference(torch_test)

    print(f"{CODE}, {TIMESTEPS} time steps, n_feats=8; TensorFlow {tf.__version__} (XLA), "
          f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads); {args.repeats} repeats, median")
    train = alternate_timings({"tfprobe": tfprobe_train_step, "torch": torch_train_step}, args.repeats, args.warmup)
    infer = alternate_timings({"tfprobe": tfprobe_inference, "torch": torch_inference}, args.repeats, args.warmup)
    memory = {
        "tfprobe_inference_peak_mib": tensorflow_peak_mib(tfprobe_inference),
        "torch_inference_peak_mib": resident_rise_mib(torch_inference),
        "tfprobe_train_step_peak_mib": tensorflow_peak_mib(tfprobe_train_step),
        "torch_train_step_peak_mib": resident_rise_mib(torch_train_step),
    }
    figures: dict[str, float | None] = {
        "train_step_ratio": train["torch"] / train["tfprobe"],
        "inference_ratio": infer["torch"] / infer["tfprobe"],
        "tfprobe_train_step_s": train["tfprobe"],
        "torch_train_step_s": train["torch"],
        "tfprobe_inference_s": infer["tfprobe"],
        "torch_inference_s": infer["torch"],
        "train_batch": args.train_batch,
        "inference_batch": args.inference_batch,
        **memory,
    }

    def mib(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f} MiB"

    print(f"training step (Adam, batch {args.train_batch}): tfprobe {train['tfprobe'] * 1000:.0f} ms, "
          f"PyTorch {train['torch'] * 1000:.0f} ms -> {figures['train_step_ratio']:.2f}x")
    print(f"inference with all activations (batch {args.inference_batch}): tfprobe {infer['tfprobe'] * 1000:.0f} ms, "
          f"PyTorch {infer['torch'] * 1000:.0f} ms -> {figures['inference_ratio']:.2f}x")
    print(f"peak memory of one call: inference tfprobe {mib(memory['tfprobe_inference_peak_mib'])}, PyTorch "
          f"{mib(memory['torch_inference_peak_mib'])}; training step tfprobe "
          f"{mib(memory['tfprobe_train_step_peak_mib'])}, PyTorch {mib(memory['torch_train_step_peak_mib'])}")
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in figures.items()}))
    return figures


if __name__ == "__main__":
    main()
