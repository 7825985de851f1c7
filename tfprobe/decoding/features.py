"""Per-fold feature transforms in TensorFlow: z-scoring, PCA, and the solver's orthogonal basis.

Every statistic comes from the training rows of the fold only and is applied to its test rows.

An L2-regularised linear model's weights lie in the span of its training samples (representer theorem),
so a unit with more features ``d`` than training samples ``n`` can be trained on ``n`` numbers per sample
instead of ``d``: :func:`solver_basis` maps each sample ``x`` to ``A x`` where the rows of ``A`` are an
orthonormal basis of the training samples' span (from the Gram matrix ``X X^T``: one ``(n + m) x n x d``
matmul) or, when ``d <= n``, of the whole feature space (from ``X^T X``).  The map is the same for
training and test rows, and the penalty ``||w||^2`` equals ``||beta||^2`` for ``w = A^T beta``, so the
classifier trained on ``A x`` is the classifier trained on ``x``; in this basis ``Z^T Z`` is diagonal,
which the solver's preconditioner exploits.  Directions whose variance is below ``RANK_RTOL`` times the
largest carry float32 rounding rather than signal and are dropped.
"""

from __future__ import annotations

import tensorflow as tf

#: Eigenvalues of ``X X^T`` (or ``X^T X``) below this fraction of the largest are treated as zero.
RANK_RTOL = 1e-6


def standardize(train: tf.Tensor, test: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Z-score both with the training rows' mean and standard deviation (ddof 0).

    Features constant over the training rows keep scale 1 (as scikit-learn's ``StandardScaler`` does),
    so they become 0 on the training rows instead of NaN.
    """
    mean, variance = tf.nn.moments(train, axes=[0])
    scale = tf.sqrt(variance)
    scale = tf.where(scale > 0, scale, tf.ones_like(scale))
    return (train - mean) / scale, (test - mean) / scale


def center(train: tf.Tensor, test: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Subtract the training rows' mean from both."""
    mean = tf.reduce_mean(train, axis=0)
    return train - mean, test - mean


def _gram_eigh(train: tf.Tensor, test: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Eigen-decomposition of ``train @ train.T`` (descending) and the cross products of every row."""
    n = tf.shape(train)[0]
    cross = tf.matmul(tf.concat([train, test], axis=0), train, transpose_b=True)  # one (n+m) x n x d matmul
    gram = cross[:n]
    gram = 0.5 * (gram + tf.transpose(gram))
    values, vectors = tf.linalg.eigh(gram)
    return values[::-1], vectors[:, ::-1], cross[:n], cross[n:]


def _keep(values: tf.Tensor, limit: int | None) -> tf.Tensor:
    """How many leading eigenvalues are numerically non-zero (at most ``limit``)."""
    kept = tf.reduce_sum(tf.cast(values > RANK_RTOL * values[0], tf.int32))
    if limit is not None:
        kept = tf.minimum(kept, limit)
    return kept


def _span_projection(train: tf.Tensor, test: tf.Tensor, limit: int | None) -> tuple[tf.Tensor, tf.Tensor]:
    """Coordinates in the orthonormal eigenbasis of the training rows' span (the ``d > n`` route).

    With ``X X^T = U S U^T`` the basis is ``V = X^T U S^-1/2``; both train and test use the same formula
    ``x -> S^-1/2 U^T X x``, so rounding in ``U`` and ``S`` changes the basis slightly, never the
    consistency between the two.
    """
    values, vectors, cross_train, cross_test = _gram_eigh(train, test)
    kept = _keep(values, limit)
    map_ = vectors[:, :kept] / tf.sqrt(values[:kept])
    return tf.matmul(cross_train, map_), tf.matmul(cross_test, map_)


def _feature_rotation(train: tf.Tensor, test: tf.Tensor, limit: int | None) -> tuple[tf.Tensor, tf.Tensor]:
    """Coordinates in the eigenbasis of ``X^T X`` (the ``d <= n`` route)."""
    scatter = tf.matmul(train, train, transpose_a=True)
    values, vectors = tf.linalg.eigh(0.5 * (scatter + tf.transpose(scatter)))
    values, vectors = values[::-1], vectors[:, ::-1]
    kept = _keep(values, limit) if limit is not None else tf.shape(values)[0]
    return tf.matmul(train, vectors[:, :kept]), tf.matmul(test, vectors[:, :kept])


def _orthogonal(train: tf.Tensor, test: tf.Tensor, limit: int | None) -> tuple[tf.Tensor, tf.Tensor]:
    n, d = train.shape[0], train.shape[1]
    if d is not None and n is not None and d <= n:
        return _feature_rotation(train, test, limit)
    return _span_projection(train, test, limit)


def pca(train: tf.Tensor, test: tf.Tensor, n_components: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Project onto the training rows' first ``n_components`` principal components.

    Equal to scikit-learn's ``PCA(n_components).fit(train).transform(...)`` up to the sign of each
    component (no whitening).  Components are ordered by decreasing variance; fewer are returned when
    the centred training rows have lower rank.
    """
    train, test = center(train, test)
    return _orthogonal(train, test, int(n_components))


def solver_basis(
    train: tf.Tensor, test: tf.Tensor, *, intercept_scaling: float | None = None
) -> tuple[tf.Tensor, tf.Tensor]:
    """Training and test features in a basis with ``Z^T Z`` diagonal, equivalent for an L2 linear model.

    Parameters
    ----------
    train, test : tf.Tensor (n, d), (m, d)
    intercept_scaling : float, optional
        ``None``: the model has a free (unpenalised) intercept, so the features are centred first
        (an exact reparametrisation).  A number ``s``: liblinear's convention, the intercept is the weight
        of a constant feature ``s`` appended to every sample and is penalised like the others.
    """
    if intercept_scaling is None:
        train, test = center(train, test)
    else:
        s = tf.constant(float(intercept_scaling), train.dtype)
        train = tf.concat([train, tf.fill((tf.shape(train)[0], 1), s)], axis=1)
        test = tf.concat([test, tf.fill((tf.shape(test)[0], 1), s)], axis=1)
    n, d = train.shape[0], train.shape[1]
    if d is not None and n is not None and d <= n:
        return _feature_rotation(train, test, None)
    return _span_projection(train, test, None)
