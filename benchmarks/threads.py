"""One thread count for every thread pool a benchmark touches, set before any of them starts.

A helper module the benchmarks import (it prints no figures of its own).

A comparison is only fair when both sides get the same cores: TensorFlow's intra- and inter-op pools, and
the BLAS / OpenMP pools that numpy and scikit-learn use.  :func:`pin_threads` sets them all to the same
number (by default, every core this process may run on) and reports what it set, for the benchmark's
output.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

#: Read by OpenMP, OpenBLAS, MKL, BLIS and numba when their pools start (and by child processes).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def add_threads_argument(parser: argparse.ArgumentParser, default: int | None = None, what: str = "all cores") -> None:
    """Add ``--threads N``: ``default`` (None: every available core), described in the help as ``what``."""
    parser.add_argument(
        "--threads",
        type=int,
        default=default,
        help=f"threads for TensorFlow (intra- and inter-op) and for BLAS / OpenMP alike (default: {what}, "
        f"{default or available_cores()} here)",
    )


def pin_threads(threads: int | None) -> dict[str, Any]:
    """Limit TensorFlow's and the BLAS / OpenMP libraries' thread pools to ``threads`` each.

    Call it before TensorFlow runs anything (TensorFlow fixes its pools at its first operation).

    Parameters
    ----------
    threads : int or None
        Threads per pool; None: every available core.

    Returns
    -------
    dict
        ``requested``, ``cores`` (available), ``tensorflow_intra_op``, ``tensorflow_inter_op`` and ``blas``:
        per library threadpoolctl found, its thread count after the limit; or, without threadpoolctl, only
        the environment variables were set: ``"environment"``, or ``"environment, after numpy"`` when numpy
        was already imported (its BLAS then keeps its own count).

    Raises
    ------
    ValueError
        ``threads`` is not a positive integer.
    RuntimeError
        TensorFlow has already started, so its pools can no longer be set.
    """
    cores = available_cores()
    if threads is None:
        threads = cores
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)

    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as error:
        raise RuntimeError(
            f"TensorFlow already runs, so its thread pools can no longer be set to {threads}: call pin_threads "
            f"before anything runs a TensorFlow operation ({error})"
        ) from error

    try:
        import threadpoolctl
    except ImportError:
        # The variables reach only the pools that start after this; numpy's BLAS, once loaded, keeps its count.
        blas: dict[str, int] | str = "environment, after numpy" if "numpy" in sys.modules else "environment"
    else:
        import numpy  # noqa: F401  (loads its BLAS so that the limit reaches it)

        try:
            import sklearn.svm  # noqa: F401  (loads scikit-learn's OpenMP runtime, where installed)
        except ImportError:
            pass
        threadpoolctl.threadpool_limits(limits=threads)
        blas = {
            f"{pool['internal_api']} ({os.path.basename(pool['filepath'])})": int(pool["num_threads"])
            for pool in threadpoolctl.threadpool_info()
        }
    return {
        "requested": threads,
        "cores": cores,
        "tensorflow_intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "tensorflow_inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        "blas": blas,
    }


def describe(settings: dict[str, Any]) -> str:
    """One line for a benchmark's output."""
    blas = settings["blas"]
    pools = (
        ", ".join(f"{name} {count}" for name, count in blas.items()) or "none loaded"
        if isinstance(blas, dict)
        else f"{' / '.join(THREAD_VARIABLES)}={settings['requested']} (threadpoolctl not installed)"
    )
    return (
        f"threads: {settings['requested']} of {settings['cores']} cores; TensorFlow intra-op "
        f"{settings['tensorflow_intra_op']}, inter-op {settings['tensorflow_inter_op']}; BLAS / OpenMP: {pools}"
    )
