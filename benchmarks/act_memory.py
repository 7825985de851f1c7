"""Peak memory of ``tfprobe act`` on the recurrent network: streaming keeps it flat in the number of stimuli.

Runs the command a user types,

    tfprobe act rnn STIMULI.npy --layers conv1 conv2 fc1 --pool mean --out acts.h5 --batch-size B

in child processes on 1,000 and on 10,000 stimuli (100 x 100 float32 images written to a temporary folder)
and reads each child's peak resident set size from the kernel (``os.wait4``).  The baseline is the same
command on 1,000 stimuli: streaming stimuli from the file and activations to it, the 10,000-stimulus run
should peak within 20% of it (``peak_rss_ratio_10k_over_1k``).  It also measures the peak for several batch
sizes on 1,000 stimuli, the figures docs/benchmarks.md quotes.  Ends with one JSON line of its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_stimuli(path: Path, n: int, seed: int = 0) -> None:
    """``n`` random scenes as a .npy file, written in chunks (this process stays small)."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, 100, 100, 1))
    rng = np.random.default_rng(seed)
    for start in range(0, n, 1000):
        stop = min(n, start + 1000)
        array[start:stop] = rng.random((stop - start, 100, 100, 1), dtype=np.float32)
    array.flush()
    del array


def peak_rss_of_act(stimuli: Path, out: Path, batch_size: int, layers: list[str]) -> tuple[float, float]:
    """Peak resident memory (MiB) and wall time (s) of one ``tfprobe act`` run in a child process."""
    command = [
        sys.executable,
        "-m",
        "tfprobe.cli",
        "act",
        "rnn",
        str(stimuli),
        "--layers",
        *layers,
        "--pool",
        "mean",
        "--out",
        str(out),
        "--overwrite",
        "--batch-size",
        str(batch_size),
    ]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    error = child.stderr.read().decode()
    child.stderr.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({child.returncode}): {error[-2000:]}")
    return usage.ru_maxrss / 1024, seconds  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000, help="stimuli of the baseline run (default 1,000)")
    parser.add_argument("--large", type=int, default=10000, help="stimuli of the large run (default 10,000)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch of the two runs (default 64)")
    parser.add_argument(
        "--batch-sizes", type=int, nargs="*", default=[32, 64, 128, 256], help="batches to measure on the small set"
    )
    parser.add_argument("--layers", nargs="+", default=["conv1", "conv2", "fc1"])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        small, large = folder / "small.npy", folder / "large.npy"
        write_stimuli(small, args.small)
        write_stimuli(large, args.large, seed=1)
        print(
            f"tfprobe act rnn (bglt_0111, 4 time steps) --layers {' '.join(args.layers)} --pool mean, "
            f"batch {args.batch_size}; stimuli files of {small.stat().st_size / 2**20:.0f} and "
            f"{large.stat().st_size / 2**20:.0f} MiB"
        )
        small_rss, small_s = peak_rss_of_act(small, folder / "small.h5", args.batch_size, args.layers)
        large_rss, large_s = peak_rss_of_act(large, folder / "large.h5", args.batch_size, args.layers)
        ratio = large_rss / small_rss
        print(f"  {args.small:>6,} stimuli: peak RSS {small_rss:7.0f} MiB ({small_s:.0f} s)")
        print(f"  {args.large:>6,} stimuli: peak RSS {large_rss:7.0f} MiB ({large_s:.0f} s)")
        print(f"  ratio {args.large:,} / {args.small:,}: {ratio:.3f} (target <= 1.2)")
        by_batch = {}
        for batch_size in args.batch_sizes:
            by_batch[batch_size], _ = peak_rss_of_act(small, folder / f"b{batch_size}.h5", batch_size, args.layers)
            print(f"  batch {batch_size:>4}: peak RSS {by_batch[batch_size]:7.0f} MiB")
    figures = {
        "peak_rss_ratio_10k_over_1k": round(ratio, 4),
        "peak_rss_small_mib": round(small_rss, 1),
        "peak_rss_large_mib": round(large_rss, 1),
        "small_stimuli": args.small,
        "large_stimuli": args.large,
        "batch_size": args.batch_size,
        "peak_rss_mib_by_batch": {str(k): round(v, 1) for k, v in by_batch.items()},
        "large_seconds": round(large_s, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
