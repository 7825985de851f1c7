"""Speed of tfprobe's RSA against rsatoolbox's, and the memory of streamed CKA, in one run (issue 29).

**RSA.** The recurrent network bglt_0111 (4 time steps, randomly initialised from ``--seed``: the weights do
not change the work) records its 16 units, input, conv1, conv2 and fc1 at time steps 0-3 (the stages of
``Probe(model).units``, as the decoding benchmark's grid), for ``--scenes`` cluttered test scenes (default
1,000), full maps, no pooling (features: 10,000, 8,192, 1,296 and 128).  The activations are recorded once,
untimed, and both sides read the same arrays.  Each side then does, as its users write it:

* tfprobe: ``rdms = calc_rdm(activations, units, metric=...)`` and ``compare_rdms(rdms, method=...,
  n_bootstrap=B, seed=0)`` (the 16 x 16 comparison matrix and its bootstrap over the conditions);
* rsatoolbox 0.3.2: one ``rsatoolbox.data.Dataset`` per unit, ``rsatoolbox.rdm.calc_rdm(datasets,
  method=...)``, ``rsatoolbox.rdm.compare(rdms, rdms, method)``, then per bootstrap sample
  ``sample, index = rsatoolbox.inference.bootstrap_sample_pattern(rdms, "index")`` and
  ``compare(sample, sample, method)`` (what its ``eval_bootstrap_pattern`` does per sample).  rsatoolbox
  computes in the dtype of its data, so it is given the activations as float64, converted in its timed part
  (in float32 its correlation RDMs differ from float64 ones by about 1e-5; tfprobe computes in float64).

Both do the same number of resamples, ``--bootstrap`` (default 1,000; never extrapolated).  Same values:
the RDMs, the comparison matrix, and on every one of rsatoolbox's own bootstrap samples the matrix tfprobe's
bootstrap computes for that sample (``tfprobe.similarity.bootstrap.bootstrap_similarities``, the routine
``compare_rdms`` runs, given rsatoolbox's indices), against rsatoolbox's: ``max_abs_difference`` is the largest
difference of all three.  Both sides get the same threads (``--threads``, set for TensorFlow, BLAS / OpenMP and
tfprobe's compiled loops before anything runs) and one untimed warm-up on a small problem each (imports, numba
compilation, BLAS pools); they run one after the other, with the load average before and after each and their
CPU times (``time.process_time``) beside the wall times.

**CKA memory.** The same network records ``--cka-large`` scenes (default 10,000) into an activation file with
``Probe.extract`` (conv2 and fc1 at every time step, ``readout`` and ``logits``: 10 units; conv2 pooled to
2 x 2), and the first ``--cka-small`` of them (default 1,000) into another.  A fresh child process per file
runs ``tfprobe.cka_matrix(path, strategy="features")`` (linear CKA of all pairs of the 10 units from feature
cross-products streamed over the stimuli in chunks; what ``"auto"`` picks at these sizes) and reports its
own peak resident set size (``VmHWM`` of ``/proc/self/status``, not ``ru_maxrss``, which a child inherits
from its parent) and its time; ``peak_rss_ratio_10k_over_1k`` is the large file's peak over the small one's
(target <= 1.2), ``seconds_per_pair`` the large run's time over the 45 pairs.  Beside it, in this process,
the in-memory way on the large file: every unit loaded, Kornblith et al.'s feature-space formula per pair
(its time, and the largest difference from the streamed values).

The last line printed is one JSON object: ``speedup_vs_rsatoolbox`` (target >= 10), ``max_abs_difference``,
``peak_rss_ratio_10k_over_1k`` (target <= 1.2), ``seconds_per_pair``, the figures behind them, the targets and
whether each was met, ``threads`` and the load averages.

Run: ``python benchmarks/similarity_speed.py`` (about 20 minutes on 2 cores, most of it rsatoolbox's
bootstrap); a quick check: ``python benchmarks/similarity_speed.py --scenes 60 --bootstrap 5 --cka-small 50
--cka-large 150``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from memory import child_figures, high_water_mark_kib
from threads import add_threads_argument, describe, pin_threads

STAGES = ("input", "conv1", "conv2", "fc1")
CKA_UNITS = ("conv2", "fc1", "readout", "logits")
#: rsatoolbox's calc_rdm methods that are tfprobe's metrics of the same name.
RDM_METRICS = ("correlation", "euclidean")
#: The issue's targets.
TARGETS = {"speedup_vs_rsatoolbox": 10.0, "peak_rss_ratio_10k_over_1k": 1.2}


# ---------------------------------------------------------------------------------------------------- data


def network(seed: int) -> Any:
    """bglt_0111 with 4 time steps, randomly initialised from ``seed``."""
    import keras

    import tfprobe

    keras.utils.set_random_seed(seed)
    return tfprobe.GainModulatedRNN.from_code("bglt_0111", timesteps=4)


def scenes(count: int, seed: int) -> np.ndarray:
    """The first ``count`` cluttered test scenes of the generator seeded ``seed``."""
    from tfprobe.datasets import ClutteredScenes

    return ClutteredScenes("test", seed=seed, allow_single_split=True).sample(count).images


# ---------------------------------------------------------------------------------------------------- RSA


def tfprobe_way(activations: dict[str, np.ndarray], metric: str, method: str, n_bootstrap: int) -> dict[str, Any]:
    """tfprobe's RDMs of every unit, their comparison matrix and its bootstrap, timed by part."""
    from tfprobe.similarity import calc_rdm, compare_rdms

    wall, cpu = time.perf_counter(), time.process_time()
    rdms = calc_rdm(activations, list(activations), metric=metric)
    rdm_seconds = time.perf_counter() - wall
    result = compare_rdms(rdms, method=method, n_bootstrap=n_bootstrap, seed=0)
    return {
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "split": {"rdms": rdm_seconds, "comparison_and_bootstrap": time.perf_counter() - wall - rdm_seconds},
        "vectors": rdms.vectors,
        "values": result.values,
        "bootstrap": result.bootstrap,
    }


def rsatoolbox_way(
    activations: dict[str, np.ndarray], metric: str, method: str, n_bootstrap: int, seed: int
) -> dict[str, Any]:
    """rsatoolbox's RDMs of every unit, their comparison and ``n_bootstrap`` resampled comparisons, as a user
    writes them (``bootstrap_sample_pattern`` + ``compare`` per sample), timed by part."""
    import rsatoolbox
    from rsatoolbox.inference import bootstrap_sample_pattern
    from rsatoolbox.rdm import compare

    np.random.seed(seed)  # noqa: NPY002 (bootstrap_sample_pattern draws from numpy's global generator)
    wall, cpu = time.perf_counter(), time.process_time()
    datasets = []
    for name, values in activations.items():
        n = len(values)
        datasets.append(
            rsatoolbox.data.Dataset(
                values.reshape(n, -1).astype(np.float64),  # rsatoolbox computes in the dtype it is given
                descriptors={"unit": name},
                obs_descriptors={"index": np.arange(n)},
            )
        )
    rdms = rsatoolbox.rdm.calc_rdm(datasets, method=metric)
    rdm_seconds = time.perf_counter() - wall
    values = compare(rdms, rdms, method)
    compare_seconds = time.perf_counter() - wall - rdm_seconds
    samples, bootstrap = [], []
    for _ in range(n_bootstrap):
        sample, index = bootstrap_sample_pattern(rdms, "index")
        samples.append(index)
        bootstrap.append(compare(sample, sample, method))
    return {
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "split": {
            "rdms": rdm_seconds,
            "comparison": compare_seconds,
            "bootstrap": time.perf_counter() - wall - rdm_seconds - compare_seconds,
        },
        "vectors": rdms.dissimilarities,
        "values": values,
        "samples": np.array(samples, dtype=np.int64).reshape(n_bootstrap, -1),
        "bootstrap": np.array(bootstrap).reshape(n_bootstrap, len(activations), len(activations)),
    }


def differences(ours: dict[str, Any], theirs: dict[str, Any], method: str) -> dict[str, float]:
    """The largest differences of the RDMs, the comparison matrices and the bootstrap matrices on rsatoolbox's
    own samples (tfprobe's bootstrap routine given the same indices)."""
    from tfprobe.similarity.bootstrap import bootstrap_similarities

    gaps = {
        "rdms": float(np.abs(ours["vectors"] - theirs["vectors"]).max()),
        "comparison": float(np.abs(ours["values"] - theirs["values"]).max()),
    }
    if len(theirs["samples"]):
        same_samples = bootstrap_similarities(ours["vectors"], None, method, np.sort(theirs["samples"], axis=1))
        gaps["bootstrap"] = float(np.nanmax(np.abs(same_samples - theirs["bootstrap"])))
    return gaps


def compare_rsa(args: argparse.Namespace, activations: dict[str, np.ndarray]) -> dict[str, Any]:
    """Both sides, each warmed up on a small problem first; their times, splits and value differences."""
    small = {name: values[:30] for name, values in list(activations.items())[::4]}
    tfprobe_way(small, args.metric, args.method, 5)
    rsatoolbox_way(small, args.metric, args.method, 5, args.seed)
    runs: dict[str, dict[str, Any]] = {}
    loads: dict[str, list[float]] = {}
    for name, way in (
        ("tfprobe", lambda: tfprobe_way(activations, args.metric, args.method, args.bootstrap)),
        ("rsatoolbox", lambda: rsatoolbox_way(activations, args.metric, args.method, args.bootstrap, args.seed)),
    ):
        before = os.getloadavg()[0]
        runs[name] = way()
        loads[name] = [round(before, 2), round(os.getloadavg()[0], 2)]
        print(
            f"  {name:<10} {runs[name]['seconds']:8.2f} s ({runs[name]['cpu_seconds']:.1f} CPU-s; "
            + ", ".join(f"{part} {seconds:.2f} s" for part, seconds in runs[name]["split"].items())
            + f"; load {loads[name][0]:.1f} -> {loads[name][1]:.1f})",
            flush=True,
        )
    gaps = differences(runs["tfprobe"], runs["rsatoolbox"], args.method)
    return {"runs": runs, "loads": loads, "gaps": gaps}


# ---------------------------------------------------------------------------------------------------- CKA


def cka_child(args: argparse.Namespace) -> None:
    """Linear CKA of every pair of units of ``--cka-file``, streamed (run in a fresh process)."""
    pin_threads(args.threads)
    import tfprobe

    start = time.perf_counter()
    result = tfprobe.cka_matrix(args.cka_file, strategy="features", batch_size=args.cka_batch)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_kib": high_water_mark_kib(),
                "strategy": result.settings["strategy"],
                "values": result.values.tolist(),
                "units": list(result.rows),
            }
        )
    )


def run_cka_child(path: Path, args: argparse.Namespace, threads: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        *("--cka-file", str(path), "--cka-batch", str(args.cka_batch), "--threads", str(threads)),
    ]
    return child_figures(command)


def record_cka_files(model: Any, folder: Path, small: int, large: int, seed: int) -> tuple[Path, Path, float]:
    """The activation files of the first ``small`` and of all ``large`` scenes (the large one written in chunks
    of 1,000 scenes, appended); the seconds the large one took."""
    import tfprobe
    from tfprobe.datasets import ClutteredScenes

    probe = tfprobe.Probe(model, batch_size=100)
    units = probe.resolve(list(CKA_UNITS))
    generator = ClutteredScenes("test", seed=seed + 1, allow_single_split=True)  # successive samples: new scenes
    small_path, large_path = folder / "small.h5", folder / "large.h5"
    options = {"pool": 2, "progress": False}
    start = time.perf_counter()
    for first in range(0, large, 1000):
        chunk = generator.sample(min(1000, large - first)).images
        ids = np.arange(first, first + len(chunk))
        probe.extract(chunk, units, large_path, ids=ids, mode="w" if first == 0 else "a", **options)
        if first == 0:
            probe.extract(chunk[:small], units, small_path, ids=ids[:small], **options)
        elif first < small:
            stop = min(len(chunk), small - first)
            probe.extract(chunk[:stop], units, small_path, ids=ids[:stop], mode="a", **options)
    return small_path, large_path, time.perf_counter() - start


def in_memory_cka(path: Path) -> tuple[np.ndarray, float]:
    """Every unit of the file loaded, linear CKA per pair by Kornblith et al.'s feature-space formula
    ``|Y'X|_F^2 / (|X'X|_F |Y'Y|_F)`` on centred features; the matrix and the seconds."""
    from tfprobe import load_activations

    start = time.perf_counter()
    file = load_activations(path)
    centred = []
    for unit in file.units:
        values = np.asarray(file[unit], dtype=np.float64).reshape(file.n_stimuli, -1)
        centred.append(values - values.mean(axis=0))
    own = [np.linalg.norm(x.T @ x) for x in centred]
    matrix = np.eye(len(centred))
    for a in range(len(centred)):
        for b in range(a + 1, len(centred)):
            cross = np.linalg.norm(centred[b].T @ centred[a]) ** 2
            matrix[a, b] = matrix[b, a] = cross / (own[a] * own[b])
    return matrix, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=1000, help="scenes (conditions) of the RSA (default 1,000)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples, both sides (default 1,000)")
    parser.add_argument("--metric", default="correlation", choices=RDM_METRICS, help="RDM distance")
    parser.add_argument("--method", default="corr", help="RDM comparison, rsatoolbox's name (default corr: Pearson)")
    parser.add_argument("--cka-small", type=int, default=1000, help="stimuli of the small CKA file (default 1,000)")
    parser.add_argument("--cka-large", type=int, default=10000, help="stimuli of the large CKA file (default 10,000)")
    parser.add_argument("--cka-batch", type=int, default=1024, help="stimuli per streamed chunk (default 1,024)")
    parser.add_argument("--no-cka", action="store_true", help="skip the CKA part")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cka-file", type=Path, help=argparse.SUPPRESS)
    add_threads_argument(parser)
    args = parser.parse_args()
    if args.cka_file is not None:
        cka_child(args)
        return
    if args.scenes < 3 or args.bootstrap < 0 or not 4 <= args.cka_small <= args.cka_large:
        parser.error("need --scenes >= 3, --bootstrap >= 0 and 4 <= --cka-small <= --cka-large")
    load_before = os.getloadavg()
    threads = pin_threads(args.threads)  # before TensorFlow runs anything
    from importlib.metadata import version

    import tensorflow as tf

    import tfprobe
    from tfprobe.similarity import METHODS

    if args.method not in METHODS:
        parser.error(f"--method must be one of {', '.join(METHODS)}")
    model = network(args.seed)
    probe = tfprobe.Probe(model, batch_size=100)
    units = probe.resolve(list(STAGES))
    activations = probe.activations(scenes(args.scenes, args.seed), units, progress=False)
    print(
        f"bglt_0111, 4 time steps, randomly initialised (seed {args.seed}); {len(units)} units "
        f"({', '.join(units)}) over {args.scenes:,} cluttered test scenes, full maps; {args.metric} RDMs, "
        f"{args.method} comparisons, {args.bootstrap:,} bootstrap resamples of the conditions on both sides; "
        f"TensorFlow {tf.__version__}, rsatoolbox {version('rsatoolbox')}\n{describe(threads)}",
        flush=True,
    )
    rsa = compare_rsa(args, activations)
    del activations
    ours, theirs = rsa["runs"]["tfprobe"], rsa["runs"]["rsatoolbox"]
    speedup = theirs["seconds"] / ours["seconds"]
    gap = max(rsa["gaps"].values())
    print(
        f"speedup {speedup:.1f}x (target >= {TARGETS['speedup_vs_rsatoolbox']:g}x; in CPU time "
        f"{theirs['cpu_seconds'] / ours['cpu_seconds']:.1f}x); largest difference "
        + ", ".join(f"{part} {value:.2g}" for part, value in rsa["gaps"].items()),
        flush=True,
    )

    cka: dict[str, Any] = {}
    if not args.no_cka:
        with tempfile.TemporaryDirectory() as scratch:
            small_path, large_path, record_seconds = record_cka_files(
                model, Path(scratch), args.cka_small, args.cka_large, args.seed
            )
            small = run_cka_child(small_path, args, threads["requested"])
            large = run_cka_child(large_path, args, threads["requested"])
            reference, reference_seconds = in_memory_cka(large_path)
        n_units = len(large["units"])
        pairs = n_units * (n_units - 1) // 2
        cka = {
            "peak_rss_ratio_10k_over_1k": round(large["peak_rss_kib"] / small["peak_rss_kib"], 4),
            "seconds_per_pair": round(large["seconds"] / pairs, 4),
            "cka_seconds": round(large["seconds"], 3),
            "cka_small_seconds": round(small["seconds"], 3),
            "cka_peak_rss_mib": {
                str(args.cka_small): round(small["peak_rss_kib"] / 1024, 1),
                str(args.cka_large): round(large["peak_rss_kib"] / 1024, 1),
            },
            "cka_strategy": large["strategy"],
            "cka_units": large["units"],
            "cka_pairs": pairs,
            "in_memory_seconds": round(reference_seconds, 3),
            "in_memory_seconds_per_pair": round(reference_seconds / pairs, 4),
            "cka_max_abs_difference_vs_in_memory": float(np.abs(np.array(large["values"]) - reference).max()),
            "cka_record_seconds": round(record_seconds, 1),
        }
        print(
            f"linear CKA of {n_units} units ({', '.join(large['units'])}), all {pairs} pairs, streamed "
            f"({large['strategy']} way, chunks of {args.cka_batch}): {args.cka_small:,} stimuli "
            f"{small['seconds']:.2f} s, "
            f"peak RSS {small['peak_rss_kib'] / 1024:.0f} MiB; {args.cka_large:,} stimuli {large['seconds']:.2f} s "
            f"({cka['seconds_per_pair']:.3f} s per pair), peak RSS {large['peak_rss_kib'] / 1024:.0f} MiB; ratio "
            f"{cka['peak_rss_ratio_10k_over_1k']:.3f} (target <= {TARGETS['peak_rss_ratio_10k_over_1k']:g})\n"
            f"in memory (every unit loaded, Kornblith's formula per pair): {reference_seconds:.2f} s; largest "
            f"difference {cka['cka_max_abs_difference_vs_in_memory']:.2g}",
            flush=True,
        )

    ratio = cka.get("peak_rss_ratio_10k_over_1k")
    figures = {
        "speedup_vs_rsatoolbox": round(speedup, 3),
        "max_abs_difference": gap,
        "peak_rss_ratio_10k_over_1k": ratio,
        "seconds_per_pair": cka.get("seconds_per_pair"),
        "max_abs_difference_by_part": rsa["gaps"],
        "tfprobe_seconds": round(ours["seconds"], 3),
        "rsatoolbox_seconds": round(theirs["seconds"], 3),
        "tfprobe_cpu_seconds": round(ours["cpu_seconds"], 3),
        "rsatoolbox_cpu_seconds": round(theirs["cpu_seconds"], 3),
        "speedup_vs_rsatoolbox_cpu": round(theirs["cpu_seconds"] / ours["cpu_seconds"], 3),
        "tfprobe_split": {part: round(value, 3) for part, value in ours["split"].items()},
        "rsatoolbox_split": {part: round(value, 3) for part, value in theirs["split"].items()},
        "load_average_during": rsa["loads"],
        **{key: value for key, value in cka.items() if key not in ("peak_rss_ratio_10k_over_1k", "seconds_per_pair")},
        "targets": TARGETS,
        "targets_met": {
            "speedup_vs_rsatoolbox": speedup >= TARGETS["speedup_vs_rsatoolbox"],
            "peak_rss_ratio_10k_over_1k": None if ratio is None else ratio <= TARGETS["peak_rss_ratio_10k_over_1k"],
        },
        "scenes": args.scenes,
        "bootstrap": args.bootstrap,
        "metric": args.metric,
        "method": args.method,
        "units": len(units),
        "cka_small": args.cka_small,
        "cka_large": args.cka_large,
        "seed": args.seed,
        "threads": threads,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
