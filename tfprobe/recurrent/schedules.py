"""Training schedules for the recurrent network: the original study's, and a faster one for CPU budgets.

The authors trained with Adam at a constant learning rate of 1e-4, batches of 32 scenes, for 300,000
steps on a GPU (81% on cluttered test scenes).  A CPU affords a few thousand steps in an hour, where that
schedule is still early in its climb; the ``"fast"`` schedule trades it for a ten times higher peak
learning rate reached by a linear warm-up and brought down by a cosine decay to 1% of the peak at the
last step, which gets much further in the same number of steps (measured figures in the README).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras

from tfprobe.validation import positive_int

__all__ = ["SCHEDULES", "TrainingSchedule", "get_schedule"]


@dataclasses.dataclass(frozen=True)
class TrainingSchedule:
    """How the network is optimised: Adam with a learning rate that may warm up and decay.

    Attributes
    ----------
    name : str
        ``"original"``, ``"fast"`` or a name of your own.
    learning_rate : float
        The (peak) learning rate.
    batch_size : int
        Scenes per step (the global batch: split across replicas under a distribution strategy).
    warmup_fraction : float
        Share of the steps over which the rate rises linearly from 0 to ``learning_rate`` (0: none).
    decay : bool
        Cosine decay from ``learning_rate`` after the warm-up to ``final_fraction * learning_rate`` at the
        last step.
    final_fraction : float
        Where the decay ends, as a share of the peak.
    max_warmup_steps : int
        Cap on the warm-up, whatever the number of steps.
    """

    name: str
    learning_rate: float
    batch_size: int = 32
    warmup_fraction: float = 0.0
    decay: bool = False
    final_fraction: float = 0.01
    max_warmup_steps: int = 500

    def __post_init__(self) -> None:
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 1):
            raise ValueError(f"learning_rate must be a number in (0, 1), got {self.learning_rate!r}")
        positive_int(self.batch_size, "batch_size")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction!r}")
        if not 0 <= self.final_fraction <= 1:
            raise ValueError(f"final_fraction must be in [0, 1], got {self.final_fraction!r}")

    @property
    def depends_on_steps(self) -> bool:
        """Whether the learning rate at a step depends on the run's total number of steps (a warm-up
        fraction or a decay does); a run whose schedule does not can be extended when resumed."""
        return bool(self.warmup_fraction or self.decay)

    def warmup_steps(self, steps: int) -> int:
        """Warm-up steps of a run of ``steps`` steps."""
        return min(round(self.warmup_fraction * steps), self.max_warmup_steps)

    def learning_rate_schedule(self, steps: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
        """The learning rate (a number, or a Keras schedule of the optimizer's step) for ``steps`` steps."""
        steps = positive_int(steps, "steps")
        warmup = self.warmup_steps(steps)
        if not self.decay and not warmup:
            return float(self.learning_rate)
        if not self.decay:
            # Warm up, then stay at the peak: a decay to the peak itself.
            return keras.optimizers.schedules.CosineDecay(
                0.0, 1, alpha=1.0, warmup_target=self.learning_rate, warmup_steps=warmup
            )
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else self.learning_rate,
            max(1, steps - warmup),
            alpha=self.final_fraction,
            warmup_target=self.learning_rate if warmup else None,
            warmup_steps=warmup,
        )

    def optimizer(self, steps: int) -> keras.optimizers.Optimizer:
        """A fresh Adam optimizer following this schedule over ``steps`` steps."""
        return keras.optimizers.Adam(self.learning_rate_schedule(steps))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """One line for logs and reports."""
        text = f"{self.name}: Adam, learning rate {self.learning_rate:g}, batch {self.batch_size}"
        if self.warmup_fraction:
            text += f", linear warm-up over {self.warmup_fraction:.0%} of the steps (at most {self.max_warmup_steps})"
        if self.decay:
            text += f", cosine decay to {self.final_fraction:g} x the peak at the last step"
        return text if (self.warmup_fraction or self.decay) else text + ", constant"


#: The named schedules.  ``original``: the study's (Adam 1e-4, batch 32, constant).  ``fast``: for CPU
#: budgets (peak 1e-3 after a warm-up, cosine decay to 1e-5).
SCHEDULES: dict[str, TrainingSchedule] = {
    "original": TrainingSchedule("original", 1e-4, 32),
    "fast": TrainingSchedule("fast", 1e-3, 32, warmup_fraction=0.05, decay=True, final_fraction=0.01),
}


def get_schedule(schedule: str | TrainingSchedule, **changes: Any) -> TrainingSchedule:
    """A named schedule (``"original"``, ``"fast"``) or the given one, with fields replaced by ``changes``
    (those that are not None: ``learning_rate``, ``batch_size``, ...)."""
    if isinstance(schedule, str):
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}: expected one of {', '.join(SCHEDULES)}")
        schedule = SCHEDULES[schedule]
    elif not isinstance(schedule, TrainingSchedule):
        raise TypeError(f"schedule must be a name or a TrainingSchedule, got {type(schedule).__name__}")
    changes = {key: value for key, value in changes.items() if value is not None}
    return dataclasses.replace(schedule, **changes) if changes else schedule
