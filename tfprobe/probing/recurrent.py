"""Units of the recurrent gain-modulated network: stages per time step and recurrent flows.

Names:

* ``"conv1@t3"``: a stage's activity at time step 3 (``input``, ``conv1``, ``conv2``, ``fc1``);
  ``"conv1"`` means every time step.
* ``"conv1.gain@t2"``: the gain modulation of conv1 from step 2 to step 3 (all sources summed);
  ``"conv1.gain.from_fc1@t2"`` one source (``lateral`` or ``from_<stage>``); without ``@t``: every step.
* ``"readout"`` (fc1 of all steps, the classifier's input), ``"logits"`` (the classifier's output before
  its softmax) and ``"log_probs"`` (the output).
"""

from __future__ import annotations

import re
from typing import Any

import tensorflow as tf

from tfprobe.models.architecture import STAGES, active_projections, modulated_shapes, stage_shapes
from tfprobe.models.gain_rnn import GainModulatedRNN
from tfprobe.probing.units import UnitInfo, UnknownUnitError, unknown_unit

_NAME = re.compile(r"^(?P<base>[^@]+?)(?:@t(?P<step>-?\d+))?$")


class RecurrentUnits:
    """The recordable units of a :class:`GainModulatedRNN`."""

    def __init__(self, model: GainModulatedRNN) -> None:
        self.model = model
        self.timesteps = model.timesteps
        self.units: dict[str, UnitInfo] = {}
        self.groups: dict[str, list[str]] = {}
        shapes = stage_shapes(model.n_feats)
        for stage in STAGES:
            for t in range(self.timesteps):
                self._add(UnitInfo(f"{stage}@t{t}", shapes[stage], stage, t, "activation"), stage)
        modulated = modulated_shapes(model.n_feats)
        for stage in STAGES:
            sources = [p.source_name for p in active_projections(model.flags, stage)]
            if not sources:
                continue
            for kind in model.flags.kinds:
                for source in [None, *sources]:
                    base = f"{stage}.{kind}" + (f".{source}" if source else "")
                    for t in range(self.timesteps - 1):
                        info = UnitInfo(f"{base}@t{t}", modulated[stage], stage, t, "flow", kind, source)
                        self._add(info, base)
        readout = (16 * model.n_feats * self.timesteps,)
        self._add(UnitInfo("readout", readout, "fc1", None, "output"), None)
        self._add(UnitInfo("logits", (20,), "fc2", None, "output"), None)
        self._add(UnitInfo("log_probs", (20,), "output", None, "output"), None)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (100, 100, 1)

    def _add(self, info: UnitInfo, group: str | None) -> None:
        self.units[info.name] = info
        if group is not None:
            self.groups.setdefault(group, []).append(info.name)

    def expand(self, name: str) -> list[str]:
        """The unit names ``name`` stands for (a group expands to every time step)."""
        if name in self.units:
            return [name]
        if name in self.groups:
            return list(self.groups[name])
        match = _NAME.match(name)
        if match and match["step"] is not None and match["base"] in self.groups:
            steps = [self.units[n].timestep for n in self.groups[match["base"]]]
            raise UnknownUnitError(
                f"time step {match['step']} of {match['base']!r} is out of range: "
                f"{self.model.flags.code} with {self.timesteps} time steps has {match['base']}@t{min(steps)} "
                f"to {match['base']}@t{max(steps)}"
            )
        raise unknown_unit(name, [*self.groups, *self.units])

    def selectable(self, name: str) -> bool:
        """Whether :meth:`forward` can compute only some channels of ``name``: never here (a stage's channels
        feed every later step)."""
        return False

    def forward(
        self, images: tf.Tensor, names: tuple[str, ...], *, compiled: bool = True, select: dict | None = None
    ) -> dict[str, Any]:
        """The named units' activations for a batch (one run of the unrolled network; ``compiled`` is accepted
        for the same signature as the Keras graph's and changes nothing; ``select`` is refused)."""
        if select:
            raise ValueError("the recurrent network computes every channel of its stages: select cannot apply")
        outputs = self.model(images, return_activations=True)
        result = {}
        for name in names:
            info = self.units[name]
            if info.kind == "activation":
                result[name] = outputs.activations[info.layer][info.timestep]
            elif info.kind == "flow":
                flow = outputs.flows[info.layer][info.modulation]
                result[name] = flow.combined[info.timestep] if info.source is None else flow[info.source][info.timestep]
            elif name == "logits":
                result[name] = self.model.fc2(outputs.readout)
            else:
                result[name] = outputs.readout if name == "readout" else outputs.log_probs
        return result

    def logits_unit(self) -> str:
        """The class scores before the softmax."""
        return "logits"
