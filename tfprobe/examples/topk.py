"""Running top-k lists per channel: each batch's scores merged into the k best so far by one compiled step.

The state of one unit is three arrays over (channels, k): scores, the images' indices in the source, and
(for spatial units) the row and column of each score.  A batch's scores (batch, channels) are appended to
the state and ``tf.math.top_k`` keeps the k largest.  ``top_k`` puts the lower position first among equal
values, the state always holds earlier (lower) indices than the batch, and it stays ordered by score and
then index, so ties go to the lower index: the result is the same for every batch size.  The k lowest
scores are the k largest of the negated scores, kept the same way.

Lists from different workers are merged by :func:`merge_lists` with an explicit sort on (score, index).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from tfprobe.errors import InvalidValueError
from tfprobe.probing.pooling import pool_activation

__all__ = ["REDUCTIONS", "TopK", "channel_scores", "merge_lists"]

#: How a spatial unit's map becomes one score per channel and image.
REDUCTIONS = ("max", "mean", "center")

#: Index of an empty slot (no image yet): larger than any real index, so it loses every tie.
EMPTY = np.iinfo(np.int64).max


def channel_scores(values: tf.Tensor, reduce: str, channels: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor | None]:
    """One score per image and channel, and for maps the position (row, column) it was read at.

    Parameters
    ----------
    values : tensor (batch, channels) or (batch, rows, columns, channels)
    reduce : {"max", "mean", "center"}
        The map's maximum (at its first position in row-major order among ties), its mean (with the
        position of the maximum), or its value at the centre position ``(rows // 2, columns // 2)``.
    channels : int tensor, optional
        The channels kept, in that order.

    Returns
    -------
    scores : float32 tensor (batch, channels)
    positions : int32 tensor (batch, channels, 2), or None for a unit without a map
    """
    values = tf.cast(values, tf.float32)
    if channels is not None:
        values = tf.gather(values, channels, axis=-1)
    if values.shape.rank == 2:
        return values, None
    shape = tf.shape(values)
    rows, columns = shape[1], shape[2]
    if reduce == "center":
        centre = values[:, rows // 2, columns // 2, :]
        position = tf.stack([rows // 2, columns // 2])
        positions = tf.broadcast_to(position, tf.concat([tf.shape(centre), [2]], axis=0))
        return centre, tf.cast(positions, tf.int32)
    flat = tf.reshape(values, (shape[0], rows * columns, shape[3]))
    peak = tf.reduce_max(flat, axis=1)
    at = tf.range(rows * columns)[None, :, None]
    first = tf.reduce_min(tf.where(flat == peak[:, None, :], at, rows * columns), axis=1)  # ties: first position
    positions = tf.stack([first // columns, first % columns], axis=-1)
    scores = peak if reduce == "max" else pool_activation(values, reduce)  # the probe's global pooling
    return scores, tf.cast(positions, tf.int32)


@tf.function(reduce_retracing=True)
def _merge(
    scores: tf.Tensor,
    indices: tf.Tensor,
    positions: tf.Tensor,
    batch_scores: tf.Tensor,
    batch_indices: tf.Tensor,
    batch_positions: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    k = tf.shape(scores)[1]
    channels = tf.shape(scores)[0]
    candidates = tf.concat([scores, tf.transpose(batch_scores)], axis=1)
    candidate_indices = tf.concat(
        [indices, tf.broadcast_to(batch_indices[None, :], [channels, tf.size(batch_indices)])], 1
    )
    candidate_positions = tf.concat([positions, tf.transpose(batch_positions, (1, 0, 2))], axis=1)
    best = tf.math.top_k(candidates, k=k, sorted=True)
    return (
        best.values,
        tf.gather(candidate_indices, best.indices, batch_dims=1),
        tf.gather(candidate_positions, best.indices, batch_dims=1),
    )


@dataclasses.dataclass
class TopK:
    """The k largest scores per channel seen so far, with their images' indices and positions.

    Create with :meth:`empty`; :meth:`add` merges one batch.  ``scores`` are stored as given (for the k
    lowest, the negated scores: :meth:`ranked` undoes it).
    """

    scores: np.ndarray  # (channels, k) float32
    indices: np.ndarray  # (channels, k) int64
    positions: np.ndarray  # (channels, k, 2) int32; (-1, -1) for units without a map
    negated: bool = False

    @classmethod
    def empty(cls, channels: int, k: int, *, negated: bool = False) -> TopK:
        """A list with no image yet."""
        return cls(
            np.full((channels, k), -np.inf, np.float32),
            np.full((channels, k), EMPTY, np.int64),
            np.full((channels, k, 2), -1, np.int32),
            negated,
        )

    def add(self, scores: np.ndarray, indices: np.ndarray, positions: np.ndarray | None) -> None:
        """Merge one batch: ``scores`` (batch, channels), the images' source ``indices`` (batch,) in increasing
        order and larger than any seen before, ``positions`` (batch, channels, 2) or None."""
        batch_scores = -scores if self.negated else scores
        if positions is None:
            positions = np.full((*scores.shape, 2), -1, np.int32)
        merged = _merge(
            tf.constant(self.scores),
            tf.constant(self.indices),
            tf.constant(self.positions),
            tf.constant(batch_scores, tf.float32),
            tf.constant(indices, tf.int64),
            tf.constant(positions, tf.int32),
        )
        self.scores, self.indices, self.positions = (np.asarray(m) for m in merged)

    def ranked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores (in the unit's own sign), indices and positions, best first (highest, or lowest when
        negated)."""
        scores = -self.scores if self.negated else self.scores
        return scores.copy(), self.indices.copy(), self.positions.copy()

    def state(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays to checkpoint, under names starting with ``prefix``."""
        return {
            f"{prefix}.scores": self.scores,
            f"{prefix}.indices": self.indices,
            f"{prefix}.positions": self.positions,
        }

    @classmethod
    def from_state(cls, arrays: Any, prefix: str, *, negated: bool) -> TopK:
        """The list :meth:`state` wrote."""
        return cls(
            np.asarray(arrays[f"{prefix}.scores"], np.float32),
            np.asarray(arrays[f"{prefix}.indices"], np.int64),
            np.asarray(arrays[f"{prefix}.positions"], np.int32),
            negated,
        )


def merge_lists(lists: list[TopK]) -> TopK:
    """One list from several workers' lists of the same channels and k: the k best by score, ties to the
    lower index."""
    if not lists:
        raise InvalidValueError("no top-k lists to merge")
    k = lists[0].scores.shape[1]
    scores = np.concatenate([item.scores for item in lists], axis=1)
    indices = np.concatenate([item.indices for item in lists], axis=1)
    positions = np.concatenate([item.positions for item in lists], axis=1)
    order = np.lexsort((indices, -scores), axis=1)[:, :k]  # by score (descending), then index
    return TopK(
        np.take_along_axis(scores, order, axis=1),
        np.take_along_axis(indices, order, axis=1),
        np.take_along_axis(positions, order[..., None], axis=1),
        lists[0].negated,
    )
