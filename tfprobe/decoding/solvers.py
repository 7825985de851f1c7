"""Batched L2-regularised linear classifiers in TensorFlow: multinomial logistic regression and squared-hinge SVM.

Many decoding problems train at once.  A batch holds ``G`` feature sets (one per unit and fold, each an
``(N, R)`` matrix of training rows, zero-padded) and, for each, the labels of ``T`` targets.  The weights
of all targets sit side by side as columns of one ``(G, K, R)`` tensor, ``K`` being the total number of
weight columns (:class:`ColumnLayout`), so one batched matmul gives every target's logits.

Objectives are scikit-learn's: ``0.5 * ||W||^2 + C * sum_i loss_i`` with an unpenalised intercept.

- ``"logistic"``: multinomial cross-entropy (softmax) for targets with more than two classes; binary
  targets have one weight column and a fixed zero logit for their first class, i.e. ordinary binary
  logistic regression, as :class:`sklearn.linear_model.LogisticRegression` fits them.
- ``"svm"``: one-vs-rest squared hinge, one column per class, one column for binary targets
  (:class:`sklearn.svm.LinearSVC`'s default loss); the prediction is the arg-max of the decision values.

Solver: truncated Newton.  Each iteration solves ``H d = -g`` by conjugate gradients preconditioned with
the Hessian's diagonal (the generalised Hessian for the squared hinge), to a relative residual of
``min(0.5, sqrt(||g|| / ||g0||))``, then backtracks along ``d`` (step 1, 1/2, 1/4, ... down to 2^-19)
until the Armijo condition holds.  Each problem (a target for the logistic loss, a column for the
one-vs-rest hinge) stops on its own when ``||g|| <= tol * ||g0||`` (``g0``: the gradient at zero
weights), when no step length decreases its objective (converged to the precision of the arithmetic),
or after ``max_iter`` Newton iterations; problems that stopped keep their weights while others go on.
Features are best given in a basis where ``Z^T Z`` is diagonal (:mod:`tfprobe.decoding.features`
provides one), which makes the diagonal preconditioner nearly exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from tfprobe.errors import InvalidValueError

LOSSES = ("logistic", "svm")
_ARMIJO = 1e-4
_STEPS = 20  # step lengths tried: 1, 1/2, ..., 2^-19
_INTERCEPT_DAMPING = 1e-6  # keeps the softmax intercepts' flat direction (adding one value to all) solvable


@dataclass(frozen=True)
class ColumnLayout:
    """Where each target's classes live among the weight columns.

    Parameters
    ----------
    n_classes : tuple of int
        Number of classes of each target (each at least 2).
    loss : {"logistic", "svm"}
    """

    n_classes: tuple[int, ...]
    loss: str
    column_target: np.ndarray = field(init=False, repr=False)
    column_class: np.ndarray = field(init=False, repr=False)
    slot_column: np.ndarray = field(init=False, repr=False)
    slot_valid: np.ndarray = field(init=False, repr=False)
    column_slot: np.ndarray = field(init=False, repr=False)
    column_group: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise InvalidValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        width = max(self.n_classes)
        targets, classes, slots = [], [], []
        slot_column = np.zeros((len(self.n_classes), width), np.int32)
        slot_valid = np.zeros((len(self.n_classes), width), bool)
        for t, k in enumerate(self.n_classes):
            first = 1 if k == 2 else 0  # binary: class 0 has the fixed logit 0
            for c in range(first, k):
                slot_column[t, c] = len(targets)
                slots.append(t * width + c)
                targets.append(t)
                classes.append(c)
            slot_valid[t, :k] = True
        total = len(targets)
        for t, k in enumerate(self.n_classes):
            slot_column[t, k:] = total  # padding slots read the appended zero logit
            if k == 2:
                slot_column[t, 0] = total
        object.__setattr__(self, "column_target", np.asarray(targets, np.int32))
        object.__setattr__(self, "column_class", np.asarray(classes, np.int32))
        object.__setattr__(self, "slot_column", slot_column)
        object.__setattr__(self, "slot_valid", slot_valid)
        object.__setattr__(self, "column_slot", np.asarray(slots, np.int32))
        group = self.column_target if self.loss == "logistic" else np.arange(total, dtype=np.int32)
        object.__setattr__(self, "column_group", np.asarray(group, np.int32))

    @property
    def n_columns(self) -> int:
        return len(self.column_target)

    @property
    def n_groups(self) -> int:
        """Independent optimisation problems per feature set: targets (logistic) or columns (svm)."""
        return len(self.n_classes) if self.loss == "logistic" else self.n_columns

    @property
    def width(self) -> int:
        return int(self.slot_valid.shape[1])


@dataclass(frozen=True)
class SolverOptions:
    """Stopping rule of the truncated Newton solver (see the module docstring).

    ``tol``: a problem stops when ``||g|| <= tol * ||g0||``; ``max_iter``: Newton iterations at most;
    ``max_cg``: conjugate-gradient steps per Newton iteration at most; ``forcing``: the largest relative
    residual a Newton direction is solved to (tightened to ``sqrt(||g|| / ||g0||)`` near the optimum).
    """

    tol: float = 1e-4
    max_iter: int = 100
    max_cg: int = 100
    forcing: float = 0.5


class _Problem:
    """Tensors of one batch and the loss-specific pieces (objective, gradient, Hessian products)."""

    def __init__(self, layout: ColumnLayout, z, zt, rows, labels, c, fit_intercept: bool) -> None:
        self.layout = layout
        self.z, self.zt, self.rows = z, zt, rows  # (G, N, R), (G, R, N), (G, N)
        self.dtype = z.dtype
        self.c = tf.cast(c, z.dtype)
        self.fit_intercept = fit_intercept
        self.row_weight = rows[:, None, :]  # (G, 1, N)
        width = layout.width
        self.slot_column = tf.constant(layout.slot_column.reshape(-1))
        self.column_slot = tf.constant(layout.column_slot)
        self.column_group = tf.constant(layout.column_group)
        self.group_onehot = tf.one_hot(layout.column_group, layout.n_groups, dtype=z.dtype)  # (K, P)
        labels_t = tf.transpose(labels, (0, 2, 1))  # (G, T, N)
        self.onehot = tf.one_hot(labels_t, width, axis=2, dtype=z.dtype) * rows[:, None, None, :]  # (G, T, W, N)
        # classes absent from a training fold are left out, as scikit-learn fits only the classes it sees
        self.present = present_classes(layout, self.onehot)
        self.slot_valid = self.present[:, :, :, None]  # (G, T, W, 1)
        if layout.loss == "svm":
            column_labels = tf.gather(labels_t, tf.constant(layout.column_target), axis=1)  # (G, K, N)
            hit = tf.equal(column_labels, tf.constant(layout.column_class)[None, :, None])
            self.sign = tf.where(hit, tf.ones((), z.dtype), -tf.ones((), z.dtype))

    # --- shapes: weights (G, K, R), intercepts (G, K), logits (G, K, N) ---
    def logits(self, w, b):
        return tf.matmul(w, self.zt) + b[:, :, None]

    def direction_logits(self, dw, db):
        return tf.matmul(dw, self.zt) + db[:, :, None]

    def per_group(self, per_column):
        """Sum (G, K) column values into (G, P) problem values."""
        return tf.matmul(per_column, self.group_onehot)

    def to_columns(self, per_group):
        return tf.gather(per_group, self.column_group, axis=1)

    def _padded(self, logits):
        """(G, K, N) column logits -> (G, T, W, N) per-target class logits (fixed zero logits included)."""
        shape = tf.shape(logits)
        extended = tf.concat([logits, tf.zeros((shape[0], 1, shape[2]), logits.dtype)], axis=1)
        padded = tf.gather(extended, self.slot_column, axis=1)
        return tf.reshape(padded, (shape[0], len(self.layout.n_classes), self.layout.width, shape[2]))

    def _columns(self, padded):
        shape = tf.shape(padded)
        flat = tf.reshape(padded, (shape[0], shape[1] * shape[2], shape[3]))
        return tf.gather(flat, self.column_slot, axis=1)

    def _softmax(self, logits):
        padded = self._padded(logits)
        masked = tf.where(self.slot_valid, padded, tf.constant(-1e30, padded.dtype))
        log_norm = tf.reduce_logsumexp(masked, axis=2)  # (G, T, N)
        return padded, masked, log_norm

    def loss(self, logits):
        """Per-problem data loss (G, P), padded rows excluded."""
        if self.layout.loss == "svm":
            slack = tf.nn.relu(1.0 - self.sign * logits)
            return self.per_group(tf.reduce_sum(tf.square(slack) * self.row_weight, axis=2))
        padded, _, log_norm = self._softmax(logits)
        true_logit = tf.reduce_sum(padded * self.onehot, axis=2)
        return tf.reduce_sum((log_norm - true_logit) * self.rows[:, None, :], axis=2)  # (G, T)

    def curvature(self, logits):
        """Loss derivative with respect to the logits and what the Hessian products need."""
        if self.layout.loss == "svm":
            slack = tf.nn.relu(1.0 - self.sign * logits)
            active = tf.cast(slack > 0, self.dtype) * self.row_weight
            return -2.0 * self.sign * slack * self.row_weight, 2.0 * active
        _, masked, log_norm = self._softmax(logits)
        prob = tf.exp(masked - log_norm[:, :, None, :])
        residual = self._columns(prob - self.onehot) * self.row_weight
        return residual, prob

    def hessian_logits(self, state, dlogits):
        """Per-sample Hessian times a logit direction (G, K, N)."""
        if self.layout.loss == "svm":
            return state * dlogits
        prob = state
        dpad = self._padded(dlogits)
        hd = prob * (dpad - tf.reduce_sum(prob * dpad, axis=2, keepdims=True))
        return self._columns(hd) * self.row_weight

    def hessian_diagonal(self, state):
        if self.layout.loss == "svm":
            per_sample = state
        else:
            per_sample = self._columns(state * (1.0 - state)) * self.row_weight
        diag_w = 1.0 + self.c * tf.matmul(per_sample, tf.square(self.z))
        diag_b = self.c * tf.reduce_sum(per_sample, axis=2) + _INTERCEPT_DAMPING
        return diag_w, diag_b

    def gradient(self, w, residual):
        gw = w + self.c * tf.matmul(residual, self.z)
        gb = self.c * tf.reduce_sum(residual, axis=2)
        if not self.fit_intercept:
            gb = tf.zeros_like(gb)
        return gw, gb

    def hessian_vector(self, state, vw, vb):
        hd = self.hessian_logits(state, self.direction_logits(vw, vb))
        hw = vw + self.c * tf.matmul(hd, self.z)
        hb = self.c * tf.reduce_sum(hd, axis=2) + _INTERCEPT_DAMPING * vb
        if not self.fit_intercept:
            hb = tf.zeros_like(hb)
        return hw, hb

    def dot(self, aw, ab, bw, bb):
        """Per-problem inner product (G, P) of two (weights, intercepts) pairs."""
        return self.per_group(tf.reduce_sum(aw * bw, axis=2) + ab * bb)


def _initial_gradient(layout, options, fit_intercept, z, rows, labels, c):
    """Gradient norm at zero weights per problem (G, P), and the classes present per feature set."""
    problem = _Problem(layout, z, tf.transpose(z, (0, 2, 1)), rows, labels, c, fit_intercept)
    logits = tf.zeros((tf.shape(z)[0], layout.n_columns, tf.shape(z)[1]), z.dtype)
    residual, _ = problem.curvature(logits)
    gw, gb = problem.gradient(tf.zeros((tf.shape(z)[0], layout.n_columns, tf.shape(z)[2]), z.dtype), residual)
    return tf.sqrt(problem.dot(gw, gb, gw, gb)), problem.present


def _final_gradient(layout, options, fit_intercept, z, rows, labels, c, w, b, g0):
    problem = _Problem(layout, z, tf.transpose(z, (0, 2, 1)), rows, labels, c, fit_intercept)
    residual, _ = problem.curvature(problem.logits(w, b))
    gw, gb = problem.gradient(w, residual)
    return tf.sqrt(problem.dot(gw, gb, gw, gb)) / tf.maximum(g0, 1e-30)


def _newton_step(layout, options, fit_intercept, z, rows, labels, c, w, b, logits, active, g0):
    """One truncated Newton iteration of every active problem; returns the new state and CG steps taken."""
    problem = _Problem(layout, z, tf.transpose(z, (0, 2, 1)), rows, labels, c, fit_intercept)
    dtype = z.dtype
    residual, state = problem.curvature(logits)
    gw, gb = problem.gradient(w, residual)
    gnorm = tf.sqrt(problem.dot(gw, gb, gw, gb))
    active = active & (gnorm > options.tol * g0)
    # preconditioned conjugate gradients on H d = -g, per problem
    diag_w, diag_b = problem.hessian_diagonal(state)
    forcing = tf.minimum(tf.constant(options.forcing, dtype), tf.sqrt(gnorm / tf.maximum(g0, 1e-30)))
    target = forcing * gnorm
    rw, rb = -gw, -gb
    sw, sb = rw / diag_w, rb / diag_b
    rs = problem.dot(rw, rb, sw, sb)

    def cg_cond(k, dw, db, rw, rb, pw, pb, rs, cg_active):
        return (k < options.max_cg) & tf.reduce_any(cg_active)

    def cg_body(k, dw, db, rw, rb, pw, pb, rs, cg_active):
        hw, hb = problem.hessian_vector(state, pw, pb)
        curvature = problem.dot(pw, pb, hw, hb)
        alpha = tf.where(cg_active, rs / tf.maximum(curvature, 1e-30), tf.zeros_like(rs))
        alpha_c = problem.to_columns(alpha)
        dw = dw + alpha_c[:, :, None] * pw
        db = db + alpha_c * pb
        rw = rw - alpha_c[:, :, None] * hw
        rb = rb - alpha_c * hb
        rnorm = tf.sqrt(problem.dot(rw, rb, rw, rb))
        cg_active = cg_active & (rnorm > target)
        sw, sb = rw / diag_w, rb / diag_b
        rs_new = problem.dot(rw, rb, sw, sb)
        beta = problem.to_columns(tf.where(cg_active, rs_new / tf.maximum(rs, 1e-30), tf.zeros_like(rs)))
        pw = sw + beta[:, :, None] * pw
        pb = sb + beta * pb
        return k + 1, dw, db, rw, rb, pw, pb, rs_new, cg_active

    initial = (0, tf.zeros_like(w), tf.zeros_like(b), rw, rb, sw, sb, rs, active)
    cg_steps, dw, db, *_ = tf.while_loop(cg_cond, cg_body, initial)
    # backtracking line search on exact objective differences (per sample, for precision)
    dlogits = problem.direction_logits(dw, db)
    slope = problem.dot(gw, gb, dw, db)
    wd = problem.per_group(tf.reduce_sum(w * dw, axis=2))
    dd = problem.per_group(tf.reduce_sum(dw * dw, axis=2))
    base = problem.loss(logits)

    def decrease(step):
        penalty = step * wd + 0.5 * step * step * dd
        return penalty + problem.c * (problem.loss(logits + problem.to_columns(step)[:, :, None] * dlogits) - base)

    def ls_cond(j, step, searching):
        return (j < _STEPS) & tf.reduce_any(searching)

    def ls_body(j, step, searching):
        ok = decrease(step) <= _ARMIJO * step * slope
        searching = searching & ~ok
        step = tf.where(searching, step * 0.5, step)
        return j + 1, step, searching

    searching = active & (slope < 0)
    step0 = tf.where(searching, tf.ones_like(slope), tf.zeros_like(slope))
    _, step, searching = tf.while_loop(ls_cond, ls_body, (0, step0, searching))
    step = tf.where(searching, tf.zeros_like(step), step)  # no decrease found: stalled
    moved = step > 0
    step_c = problem.to_columns(step)
    w = w + step_c[:, :, None] * dw
    b = b + step_c * db
    logits = logits + step_c[:, :, None] * dlogits
    return w, b, logits, active & moved, moved, cg_steps


def present_classes(layout: ColumnLayout, onehot):
    """(G, T, W) which class slots are real classes seen in the training rows."""
    seen = tf.reduce_max(onehot, axis=3) > 0
    return seen & tf.constant(layout.slot_valid)[None]


def _predict(layout: ColumnLayout, w, b, z_test, present):
    logits = tf.matmul(w, z_test, transpose_b=True) + b[:, :, None]  # (G, K, M)
    shape = tf.shape(logits)
    extended = tf.concat([logits, tf.zeros((shape[0], 1, shape[2]), logits.dtype)], axis=1)
    padded = tf.gather(extended, tf.constant(layout.slot_column.reshape(-1)), axis=1)
    padded = tf.reshape(padded, (shape[0], len(layout.n_classes), layout.width, shape[2]))
    padded = tf.where(present[:, :, :, None], padded, tf.constant(-np.inf, logits.dtype))
    return tf.argmax(padded, axis=2, output_type=tf.int32)  # (G, T, M)


_COMPILED: dict[tuple, dict[str, tf.types.experimental.PolymorphicFunction]] = {}


def _compiled(layout: ColumnLayout, options: SolverOptions, fit_intercept: bool, dtype: tf.DType) -> dict:
    """The solver's pieces as TensorFlow graphs, built once per layout, options and dtype."""
    key = (layout.n_classes, layout.loss, options, fit_intercept, dtype)
    if key not in _COMPILED:
        batch = [
            tf.TensorSpec((None, None, None), dtype),  # z
            tf.TensorSpec((None, None), dtype),  # rows
            tf.TensorSpec((None, None, len(layout.n_classes)), tf.int32),  # labels
            tf.TensorSpec((), dtype),  # C
        ]
        weights = [tf.TensorSpec((None, layout.n_columns, None), dtype), tf.TensorSpec((None, layout.n_columns), dtype)]
        per_problem = tf.TensorSpec((None, layout.n_groups), dtype)
        fixed = (layout, options, fit_intercept)

        def function(body, signature):
            return tf.function(lambda *args: body(*fixed, *args), input_signature=signature)

        _COMPILED[key] = {
            "start": function(_initial_gradient, batch),
            "step": function(
                _newton_step,
                [
                    *batch,
                    *weights,
                    tf.TensorSpec((None, layout.n_columns, None), dtype),
                    tf.TensorSpec((None, layout.n_groups), tf.bool),
                    per_problem,
                ],
            ),
            "finish": function(_final_gradient, [*batch, *weights, per_problem]),
            "predict": tf.function(
                lambda w, b, z_test, present: _predict(layout, w, b, z_test, present),
                input_signature=[
                    *weights,
                    tf.TensorSpec((None, None, None), dtype),
                    tf.TensorSpec((None, len(layout.n_classes), layout.width), tf.bool),
                ],
            ),
        }
    return _COMPILED[key]


@dataclass(frozen=True)
class BatchFit:
    """What :func:`fit_predict` returns: predictions and how the solver ended, per problem."""

    predictions: np.ndarray  # (G, T, M) predicted class indices of the test rows
    iterations: np.ndarray  # (G, P) Newton iterations taken
    gradient_ratio: np.ndarray  # (G, P) final ||g|| / ||g0||
    cg_iterations: int  # conjugate-gradient steps of the whole batch (each two batched matmuls)


def fit_predict(
    layout: ColumnLayout,
    z: np.ndarray | tf.Tensor,
    rows: np.ndarray | tf.Tensor,
    labels: np.ndarray | tf.Tensor,
    z_test: np.ndarray | tf.Tensor,
    *,
    C: float = 1.0,
    fit_intercept: bool = True,
    options: SolverOptions = SolverOptions(),
) -> BatchFit:
    """Train ``G x T`` classifiers at once and predict their test rows.

    Parameters
    ----------
    layout : ColumnLayout
        Targets' class counts and the loss.
    z : array (G, N, R)
        Training features of each feature set; padded rows must be zero.
    rows : array (G, N)
        1 for real training rows, 0 for padding.
    labels : int array (G, N, T)
        Class index (0 .. n_classes - 1) of every training row for every target.
    z_test : array (G, M, R)
        Test features.
    C : float
        Inverse regularisation strength (scikit-learn's).
    fit_intercept : bool
        Fit an unpenalised intercept per column (``False`` when a constant feature is already in ``z``).
    options : SolverOptions

    Returns
    -------
    BatchFit
    """
    z = tf.convert_to_tensor(z)
    dtype = z.dtype
    graphs = _compiled(layout, options, bool(fit_intercept), dtype)
    batch = [z, tf.cast(rows, dtype), tf.cast(labels, tf.int32), tf.constant(C, dtype)]
    g0, present = graphs["start"](*batch)
    count, n_rows, width = z.shape
    final_w = np.zeros((count, layout.n_columns, width), dtype.as_numpy_dtype)
    final_b = np.zeros((count, layout.n_columns), dtype.as_numpy_dtype)
    iterations = np.zeros((count, layout.n_groups), np.int64)
    alive = np.arange(count)  # feature sets still training; finished ones leave the batch
    sub_batch, sub_g0 = batch, g0
    w = tf.zeros((count, layout.n_columns, width), dtype)
    b = tf.zeros((count, layout.n_columns), dtype)
    logits = tf.zeros((count, layout.n_columns, n_rows), dtype)
    active = g0 > 0
    cg_total = 0
    for _ in range(options.max_iter):
        keep = np.any(active.numpy(), axis=1)
        if not keep.all():
            done = np.flatnonzero(~keep)
            final_w[alive[done]], final_b[alive[done]] = tf.gather(w, done).numpy(), tf.gather(b, done).numpy()
            if not keep.any():
                break
            kept = np.flatnonzero(keep)
            alive = alive[kept]
            sub_batch = [tf.gather(x, kept) for x in sub_batch[:3]] + [sub_batch[3]]
            sub_g0, w, b, logits, active = (tf.gather(x, kept) for x in (sub_g0, w, b, logits, active))
        w, b, logits, active, moved, cg_steps = graphs["step"](*sub_batch, w, b, logits, active, sub_g0)
        iterations[alive] += moved.numpy()
        cg_total += int(cg_steps)
    else:
        final_w[alive], final_b[alive] = w.numpy(), b.numpy()
    relative = graphs["finish"](*batch, final_w, final_b, g0)
    predictions = graphs["predict"](final_w, final_b, tf.cast(z_test, dtype), present)
    return BatchFit(predictions.numpy(), iterations, relative.numpy(), cg_total)
