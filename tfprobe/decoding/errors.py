"""The exception decoding raises for bad input."""

from __future__ import annotations

__all__ = ["DecodingInputError"]


class DecodingInputError(ValueError):
    """Activations, labels, folds or options that decoding cannot use; the message says which and why."""
