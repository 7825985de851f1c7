"""Which precision a rendering runs in: float32, bfloat16, or ``"auto"``, bfloat16 where the hardware runs it.

bfloat16 halves the cost of the model's convolutions only where the hardware has bfloat16 arithmetic:
GPUs from compute capability 8.0 (Ampere) on, TPUs, and CPUs with AVX512-BF16 or AMX-BF16 when TensorFlow
runs its convolutions through oneDNN (the default on x86 Linux and Windows; ``TF_ENABLE_ONEDNN_OPTS=0``
turns it off).  Elsewhere bfloat16 is emulated and slower than float32, and XLA's CPU backend leaves the
bfloat16 instructions unused, so ``"auto"`` picks bfloat16 only where it is native and the step is not
XLA-compiled on a CPU.  :func:`resolve_precision` says what it chose and why; the rendering records both.
"""

from __future__ import annotations

import collections
import functools
import os
import platform
from collections.abc import Callable
from pathlib import Path

from tfprobe.errors import InvalidValueError

__all__ = ["PRECISIONS", "cpu_flags", "executed_convolutions", "native_bfloat16", "onednn_enabled", "resolve_precision"]

#: What ``precision=`` takes.
PRECISIONS = ("float32", "bfloat16", "auto")

_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (empty where there is no ``/proc/cpuinfo``)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags") and ":" in line:
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def onednn_enabled() -> bool:
    """Whether TensorFlow runs its CPU kernels through oneDNN in this process."""
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if setting is not None and setting.strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):  # a TensorFlow without this hook: its documented default
        return platform.machine().lower() in ("x86_64", "amd64") and platform.system() in ("Linux", "Windows")


def _accelerators() -> tuple[list, list]:
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU"), tf.config.list_physical_devices("TPU")


def _gpu_capability(gpu: object) -> tuple[int, int] | None:
    import tensorflow as tf

    try:
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
    except (ValueError, RuntimeError):
        return None
    return tuple(capability) if capability else None


@functools.cache
def native_bfloat16(jit_compile: bool = False) -> tuple[bool, str]:
    """Whether this machine runs bfloat16 convolutions natively (and why, or why not).

    Parameters
    ----------
    jit_compile : bool
        Whether the step is compiled with XLA (whose CPU backend has no native bfloat16 convolutions).

    Returns
    -------
    (bool, str)
        The answer and a sentence saying what it rests on.
    """
    gpus, tpus = _accelerators()
    if tpus:
        return True, "a TPU runs bfloat16 natively"
    if gpus:
        capabilities = [_gpu_capability(gpu) for gpu in gpus]
        if all(c is not None and c >= (8, 0) for c in capabilities):
            return True, f"the GPU (compute capability {capabilities[0][0]}.{capabilities[0][1]}) has bfloat16 units"
        return False, "the GPU has no bfloat16 units (compute capability below 8.0, or unknown)"
    flags = cpu_flags()
    found = sorted(flag for flag in _CPU_FLAGS if flag in flags)
    if not found:
        return False, "the CPU has no AVX512-BF16 or AMX-BF16: bfloat16 would be emulated, slower than float32"
    if jit_compile:
        return False, f"the CPU has {found[0].upper()} but XLA's CPU convolutions do not use it (jit_compile=True)"
    if not onednn_enabled():
        return False, f"the CPU has {found[0].upper()} but TensorFlow's oneDNN kernels are off (TF_ENABLE_ONEDNN_OPTS)"
    return True, f"the CPU has {found[0].upper()} and TensorFlow runs its convolutions through oneDNN"


def resolve_precision(requested: str, *, jit_compile: bool = False, supported: bool = True) -> tuple[str, str]:
    """The precision to run in and why.

    Parameters
    ----------
    requested : {"float32", "bfloat16", "auto"}
    jit_compile : bool
        Whether the step is XLA-compiled.
    supported : bool
        Whether the model can run in bfloat16 at all (False: ``"auto"`` picks float32).

    Returns
    -------
    (str, str)
        ``"float32"`` or ``"bfloat16"``, and the reason.

    Raises
    ------
    ValueError
        ``requested`` is not one of :data:`PRECISIONS`.
    """
    if not isinstance(requested, str) or requested not in PRECISIONS:
        raise InvalidValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {requested!r}")
    if requested != "auto":
        return requested, "requested"
    if not supported:
        return "float32", "auto: this model renders in float32 only"
    native, why = native_bfloat16(bool(jit_compile))
    return ("bfloat16" if native else "float32"), f"auto: {why}"


def executed_convolutions(run: Callable[[], object]) -> dict[str, int]:
    """The convolution kernels ``run()`` executed, by op and type (``"_MklNativeFusedConv2D[bfloat16]"``).

    Read from the graphs TensorFlow ran, after its own rewrites: where oneDNN runs the convolutions, its
    ``_MklNative*`` ops have replaced the plain ones, so this says whether bfloat16 reached oneDNN's
    kernels.  Only functions instantiated during ``run`` are seen: call it on a first rendering.
    """
    import tensorflow as tf
    from tensorflow.python.eager import context

    handle = context.context()
    handle.enable_graph_collection()
    handle.enable_run_metadata()
    try:
        run()
        metadata = handle.export_run_metadata()
    finally:
        handle.disable_run_metadata()
        handle.disable_graph_collection()
    counts: collections.Counter = collections.Counter()
    for function in metadata.function_graphs:
        for graph in function.partition_graphs:
            for node in graph.node:
                if "Conv2D" in node.op and "T" in node.attr:
                    counts[f"{node.op}[{tf.dtypes.as_dtype(node.attr['T'].type).name}]"] += 1
    return dict(counts)
