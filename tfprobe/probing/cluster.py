"""Where this process stands in a ``tf.distribute`` cluster: how many workers, which one it is, and gathering
small arrays from all of them.

Probing splits a batch across the devices of one machine (:class:`~tfprobe.Probe`); over several machines
each worker streams its own share of the stimuli and the workers exchange only their reduced results
(top-k lists, sums), which :func:`all_gather` does with one collective.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["all_gather", "spans_workers", "worker_count", "worker_index"]


def worker_count(strategy: tf.distribute.Strategy) -> int:
    """Number of worker processes (the chief included) the strategy's replicas live in (1 for one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    spec = resolver.cluster_spec()
    return max(1, sum(spec.num_tasks(job) for job in ("chief", "worker") if job in spec.jobs))


def spans_workers(strategy: tf.distribute.Strategy) -> bool:
    """Whether the strategy's replicas live in more than one process."""
    return worker_count(strategy) > 1


def worker_index(strategy: tf.distribute.Strategy) -> int:
    """This process's rank among the strategy's workers (0 .. workers - 1), in the order of the replicas.

    A cluster with a chief counts the chief first; 0 when the strategy spans one process.
    """
    if not spans_workers(strategy):
        return 0
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec()
    chiefs = spec.num_tasks("chief") if "chief" in spec.jobs else 0
    if resolver.task_type == "chief":
        return 0
    return chiefs + int(resolver.task_id)


def all_gather(strategy: tf.distribute.Strategy, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every worker's ``arrays`` stacked along a new first axis, in worker order, on every worker.

    Each worker must call this once with arrays of the same shapes and dtypes (a collective: all workers
    wait for each other).
    """
    replicas_per_worker = strategy.num_replicas_in_sync // worker_count(strategy)
    result = {}
    for name, array in arrays.items():
        value = tf.constant(np.asarray(array)[None])
        per_replica = strategy.experimental_distribute_values_from_function(lambda _, value=value: value)
        gathered = np.asarray(strategy.gather(per_replica, axis=0))
        result[name] = gathered[::replicas_per_worker]  # each worker's local replicas gave the same arrays
    return result
