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

from tfprobe.errors import InvalidTypeError, InvalidValueError, UnsupportedError
from tfprobe.models.architecture import STAGES, active_projections, modulated_shapes, stage_shapes
from tfprobe.models.gain_rnn import GainModulatedRNN
from tfprobe.models.outputs import RNNOutputs
from tfprobe.probing.baseline import Baseline
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
        self, images: Any, names: tuple[str, ...], *, compiled: bool = True, select: dict | None = None
    ) -> dict[str, Any]:
        """The named units' activations for a batch (one run of the unrolled network, which compiles itself;
        ``compiled=False`` is for callers tracing it into their own function; ``select`` is refused)."""
        if select:
            raise UnsupportedError("the recurrent network computes every channel of its stages: select cannot apply")
        per_source = any(self.units[name].source is not None for name in names)
        if compiled and not per_source and tf.executing_eagerly():
            outputs = self.model.combined_outputs(images)  # the per-source flows are never computed
        else:
            outputs = self.model(images, return_activations=True)
        return self._read(outputs, names)

    def _read(self, outputs: RNNOutputs, names: tuple[str, ...]) -> dict[str, Any]:
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

    def baseline(self, images: Any) -> Baseline:
        """A normal run of the batch with every activation and combined flow, for :meth:`rerun`."""
        outputs = self.model.combined_outputs(images)
        names = tuple(
            name for name, info in self.units.items() if info.source is None and info.kind in ("activation", "flow")
        )
        return Baseline(images, self._read(outputs, (*names, "log_probs", "readout")), outputs)

    def rerun(self, baseline: Baseline, replace: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
        """The batch of ``baseline`` run again with combined flows replaced, resumed at the first replaced step."""
        if not isinstance(baseline, Baseline) or not isinstance(baseline.state, RNNOutputs):
            raise InvalidTypeError(
                f"baseline must come from Probe.baseline(images) on this network, got {type(baseline).__name__}"
            )
        replacements: dict[tuple[str, int], dict[str, Any]] = {}
        for name, value in replace.items():
            info = self.units.get(name)
            if info is None or info.kind != "flow" or info.source is not None:
                flows = [n for n, i in self.units.items() if i.kind == "flow" and i.source is None]
                raise InvalidValueError(
                    f"only combined recurrent flows can be replaced, such as {flows[0] if flows else 'none here'!r}; "
                    f"got {name!r}"
                )
            replacements.setdefault((info.layer, info.timestep), {})[info.modulation] = value
        if set(names) <= {"log_probs"}:
            log_probs = self.model.run_with_flows(baseline.images, replacements, start=baseline.state)
            return {"log_probs": log_probs}
        # Activations need the per-source flows a baseline does not keep: this run starts from the beginning.
        outputs = self.model.run_with_flows(baseline.images, replacements, return_activations=True)
        return self._read(outputs, names)

    def logits_unit(self) -> str:
        """The class scores before the softmax."""
        return "logits"
