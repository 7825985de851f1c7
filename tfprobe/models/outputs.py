"""Containers for everything one run of the recurrent network computes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfprobe.errors import InvalidKeyError
from tfprobe.models.architecture import KINDS, STAGES, RecurrenceFlags, active_projections

__all__ = ["RNNOutputs", "RecurrentFlow"]


class RecurrentFlow:
    """The recurrent flow of one kind (bias or gain) into one stage.

    Indexed by an integer time step ``t``, it gives the combined flow (the sum
    over sources, the authors' ``fb_acts_comb``) computed from the activity of
    step ``t`` and applied to produce step ``t + 1``; indexed by a source name
    (``"lateral"``, ``"from_conv1"``, ``"from_conv2"``, ``"from_fc1"``) it gives
    that source's list of per-step flows (the authors' ``fb_acts``).  Sources
    whose flag is off are absent.  ``len(flow)`` is the number of transitions,
    ``timesteps - 1``.

    Shapes are channels-last and those of the modulated map: 100x100x1 for
    the input, the unpooled 96x96 and 28x28 maps for conv1 and conv2, and the
    vector for fc1.
    """

    def __init__(self, combined: list[Any], sources: dict[str, list[Any]]) -> None:
        self.combined = list(combined)
        self.sources = dict(sources)

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            if key not in self.sources:
                raise InvalidKeyError(
                    f"no flow from source {key!r}; the active sources are {sorted(self.sources)} "
                    "(sources whose flag is off are absent)"
                )
            return self.sources[key]
        return self.combined[key]

    def __len__(self) -> int:
        return len(self.combined)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.combined)

    def keys(self) -> list[str]:
        """The names of the active sources."""
        return list(self.sources)

    def __repr__(self) -> str:
        return f"RecurrentFlow(steps={len(self)}, sources={self.keys()})"

    def map(self, fn: Any) -> RecurrentFlow:
        """A new flow with ``fn`` applied to every tensor."""
        return RecurrentFlow([fn(v) for v in self.combined], {k: [fn(v) for v in vs] for k, vs in self.sources.items()})


@dataclass(frozen=True)
class RNNOutputs:
    """Everything one run of :class:`~tfprobe.models.GainModulatedRNN` computes.

    Attributes
    ----------
    log_probs : tensor, (batch, 20)
        Clamped log-softmax class scores (the original's ``actvs[5]``).
    activations : dict[str, list[tensor]]
        ``activations[stage][t]`` for stage in ``"input"``, ``"conv1"``,
        ``"conv2"``, ``"fc1"`` and ``t`` in ``range(timesteps)``: the clamped
        input, the pooled conv maps (32x32, 9x9) and the fc1 vector, channels-last
        (the original's ``actvs[0..3][t]``).
    readout : tensor, (batch, 16 * n_feats * timesteps)
        fc1 activity of all time steps concatenated, the input of the
        classifier (the original's ``actvs[4]``).
    flows : dict[str, dict[str, RecurrentFlow | None]]
        ``flows[stage][kind]`` for kind in ``"bias"``, ``"gain"``: a
        :class:`RecurrentFlow`, or ``None`` when that kind is switched off or
        no active projection reaches ``stage`` (for example fc1 without
        lateral recurrence).
    """

    log_probs: Any
    activations: dict[str, list[Any]]
    readout: Any
    flows: dict[str, dict[str, RecurrentFlow | None]]

    @classmethod
    def from_nested(cls, nested: dict[str, Any], flags: RecurrenceFlags, timesteps: int) -> RNNOutputs:
        """Wrap the nested dict that the model's traced forward pass returns."""
        flows: dict[str, dict[str, RecurrentFlow | None]] = {}
        for stage in STAGES:
            sources = [p.source_name for p in active_projections(flags, stage)]
            flows[stage] = {}
            for kind in KINDS:
                if kind not in flags.kinds or not sources:
                    flows[stage][kind] = None
                    continue
                record = nested["flows"].get(stage, {}).get(kind, {"combined": [], "sources": {}})
                flows[stage][kind] = RecurrentFlow(
                    record["combined"], {s: record["sources"].get(s, []) for s in sources}
                )
        activations = {stage: list(nested["activations"][stage]) for stage in STAGES}
        if any(len(steps) != timesteps for steps in activations.values()):
            raise ValueError("forward pass returned activations for the wrong number of time steps")
        return cls(
            log_probs=nested["log_probs"],
            activations=activations,
            readout=nested["readout"],
            flows=flows,
        )

    def numpy(self) -> RNNOutputs:
        """The same outputs with every tensor converted to a numpy array."""

        def to_numpy(value: Any) -> np.ndarray:
            return np.asarray(value)

        return RNNOutputs(
            log_probs=to_numpy(self.log_probs),
            activations={k: [to_numpy(v) for v in vs] for k, vs in self.activations.items()},
            readout=to_numpy(self.readout),
            flows={
                stage: {kind: (flow.map(to_numpy) if flow is not None else None) for kind, flow in kinds.items()}
                for stage, kinds in self.flows.items()
            },
        )

    def flat(self) -> dict[str, Any]:
        """Every output under a flat name, as the SavedModel signature names them.

        ``log_probs``, ``readout``, ``<stage>_t<t>`` for activations and
        ``flow_<stage>_<kind>_t<t>`` / ``flow_<stage>_<kind>_<source>_t<t>``
        for the recurrent flows.
        """
        named: dict[str, Any] = {"log_probs": self.log_probs, "readout": self.readout}
        for stage, steps in self.activations.items():
            for t, value in enumerate(steps):
                named[f"{stage}_t{t}"] = value
        for stage, kinds in self.flows.items():
            for kind, flow in kinds.items():
                if flow is None:
                    continue
                for t, value in enumerate(flow.combined):
                    named[f"flow_{stage}_{kind}_t{t}"] = value
                for source, steps in flow.sources.items():
                    for t, value in enumerate(steps):
                        named[f"flow_{stage}_{kind}_{source}_t{t}"] = value
        return named
