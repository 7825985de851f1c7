"""Linear decoding of activations: which units carry which stimulus variables, with cross-validation.

``decode(features, targets, cv=...)`` trains, for every unit and target variable, a linear classifier
on the training part of each fold and scores it on the held-out part.  The built-in classifiers
(``"logistic"``, ``"svm"``) are L2-regularised with scikit-learn's objectives and train in
TensorFlow, many (unit, target, fold) problems in one batched Newton solver; units with more features
than training samples train in the span of the samples (see :mod:`tfprobe.decoding.features`).
scikit-learn is optional: it is only needed to pass a scikit-learn estimator as ``classifier``.
"""

from __future__ import annotations

from tfprobe.decoding.decode import CLASSIFIERS, DecodingConvergenceWarning, decode
from tfprobe.decoding.result import DecodingResult, Score
from tfprobe.decoding.splits import HoldOut, stratified_kfold
from tfprobe.errors import DecodingInputError

__all__ = [
    "CLASSIFIERS",
    "DecodingConvergenceWarning",
    "DecodingInputError",
    "DecodingResult",
    "HoldOut",
    "Score",
    "decode",
    "stratified_kfold",
]
