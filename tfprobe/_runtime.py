"""Process-wide TensorFlow settings tfprobe makes before TensorFlow allocates anything.

TensorFlow's default CPU allocator hands every large tensor fresh pages from
the operating system, and the page faults that follow cost more than the
arithmetic for networks with large feature maps (the recurrent network's
96x96 maps and 73,728-unit projections): the best-fit-with-coalescing
allocator TensorFlow also ships reuses freed memory instead.  How much that
saves depends on the machine and its load; ``benchmarks/allocator_speed.py``
measures it.  On a 2-core AMD EPYC shared with other work (7 December 2026,
two rounds per setting) it made the recurrent network's training step 1.15x
and its inference 1.28x faster with two threads, with rounds from 0.59x to
2.40x, and 1.01x to 1.02x with one thread: rough figures.  The ~1.5x for
inference and ~1.2x for training quoted here before were one measurement
(23 November 2026) with no script behind it.  GPUs are not affected.

The setting is only a default: an explicit ``TF_CPU_ALLOCATOR_USE_BFC`` in the
environment wins, and it takes effect only if tfprobe is imported before
TensorFlow runs its first operation.

TensorFlow also warns when "5 out of the last 5 calls" to a function traced it
again, counting every function made from the same source together.  tfprobe
makes one compiled loop per objective, model and image size (and one forward
function per set of units), each traced once per batch shape by design: after
five of them the warning would blame a retracing that does not happen.  Those
warnings, and only those about tfprobe's own functions, are dropped.
"""

from __future__ import annotations

import logging
import os

ALLOCATOR_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"

#: Functions tfprobe makes once per objective, model or set of units (their qualified names).
_OWN_FUNCTIONS = ("_compile.<locals>.", "KerasGraphUnits.forward.<locals>.")


class _OwnRetracingFilter(logging.Filter):
    """Drops TensorFlow's frequent-retracing warnings about tfprobe's own per-objective functions."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message and any(n in message for n in _OWN_FUNCTIONS))


def configure_tensorflow_runtime() -> None:
    """Default TensorFlow's CPU allocator to BFC unless the user chose otherwise, and drop TensorFlow's
    retracing warnings about tfprobe's own functions."""
    os.environ.setdefault(ALLOCATOR_VARIABLE, "true")
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _OwnRetracingFilter) for f in logger.filters):
        logger.addFilter(_OwnRetracingFilter())
