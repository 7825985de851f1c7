"""Training schedules for the recurrent network: the original study's, and a faster one for CPU budgets.

The authors trained with Adam at a constant learning rate of 1e-4, batches of 32 scenes, for 300,000
steps on a GPU (81% on cluttered test scenes).  A CPU affords a few thousand steps in an hour, where that
schedule is still early in its climb; the ``"fast"`` schedule trades it for a ten times higher peak
learning rate reached by a linear warm-up (over 30% of the steps, at most 500), held, and brought down by
a cosine decay over the last ``decay_fraction`` of the steps to 1% of the peak at the last step (warm-up,
stable, decay).  Both ends matter on short budgets: the network spends its first few hundred steps near
chance, and reaching the peak too early lengthens that plateau (the same network and data: 14.9%
validation accuracy after 1,000 steps with a 65-step warm-up, 21.7% with a 500-step one), while a decay
that starts right after the warm-up spends most of a short run at rates too low to climb.

The fast schedule also starts on easier data: scenes without clutter (the target alone, the scene's clean
image) fade out of the training batches over the warm-up, from all of batch 0 to none at its end (a
curriculum; the scenes, labels and stream are otherwise those of a run without it, and the network is
still trained and tested on cluttered scenes).  Learning where the target is and what it is from clean
images first is meant to shorten the near-chance start.  One pair of runs (6 December 2026, a 2-core AMD
EPYC) suggested it: side by side, one thread each, 1,000 steps of the fast schedule with the same seed,
weights and scenes reached 27.2% on cluttered test scenes with a 300-step curriculum against 18.3% without
(validation 10.9% against 8.5% after 250 steps, 16.1% against 11.6% after 500, 21.4% against 15.5% after
750, 27.5% against 18.7% after 1,000; clean test scenes 41.8% against 27.3%).  Over seeds 0, 1 and 2
(``benchmarks/curriculum_seeds.py``, 7 December 2026, the same machine shared with other work) the gain
was smaller and the arms overlapped: 13.2% +- 1.8 (sample std) validation accuracy after 500 steps with the
curriculum against 9.0% +- 3.8 without (one seed without it reached 13.3%), and 8.9% +- 1.9 against
7.6% +- 1.9 after 300 steps, both near chance.

Measured before the curriculum, on a 2-core CPU, the same seed, scenes and validation set: without a
warm-up, Adam at a constant 1e-3 collapses to one class (6.7% validation accuracy after 1,000 steps),
with or without clipping the gradients' global norm to 1; a peak of 2e-3 after the same warm-up stays
there too (6.7% after 1,650 steps). Clipping changes nothing on the fast schedule (9.1% against 9.0%
after 500 steps), and halving the batch to 16 for 1.7 times the steps in the same time gains nothing
(28.3% on cluttered test scenes after 2,800 steps, against 28.2% after 1,650 at batch 32). A decay over
the last 50% of the steps instead of 30% did no better (24.2% on cluttered test scenes after 1,579
steps, against 27.8%), but single runs this short differ by several points for reasons other than the
schedule: the same run on one thread instead of two, with the same learning rate up to step 1,027, had
7.4% instead of 10.6% validation accuracy after 500 steps and 17.4% instead of 21.3% after 1,000
(floating-point sums in another order lead the early, near-chance phase elsewhere).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import keras

from tfprobe.errors import InvalidTypeError, InvalidValueError
from tfprobe.validation import positive_int

__all__ = ["SCHEDULES", "TrainingSchedule", "WarmupHoldCosine", "get_schedule"]


def _capped_share(fraction: float, steps: int, cap: int) -> int:
    """``fraction`` of ``steps``, rounded, at most ``cap``."""
    return min(round(fraction * steps), cap)


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
    decay_fraction : float
        Share of the steps, at the end of the run, over which the decay runs; the rate holds at the peak
        between the warm-up and the decay (1: the decay starts right after the warm-up).
    curriculum_fraction : float
        Share of the steps, at the start of the run, over which scenes without clutter (the target alone)
        fade out of the training batches: all of batch 0, none from the curriculum's end on (0: none;
        see :meth:`ClutteredScenes.dataset`'s ``clean_until``).
    max_curriculum_steps : int
        Cap on the curriculum, whatever the number of steps.
    """

    name: str
    learning_rate: float
    batch_size: int = 32
    warmup_fraction: float = 0.0
    decay: bool = False
    final_fraction: float = 0.01
    max_warmup_steps: int = 500
    decay_fraction: float = 1.0
    curriculum_fraction: float = 0.0
    max_curriculum_steps: int = 500

    def __post_init__(self) -> None:
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 1):
            raise InvalidValueError(f"learning_rate must be a number in (0, 1), got {self.learning_rate!r}")
        positive_int(self.batch_size, "batch_size")
        if not 0 <= self.warmup_fraction < 1:
            raise InvalidValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction!r}")
        if not 0 <= self.final_fraction <= 1:
            raise InvalidValueError(f"final_fraction must be in [0, 1], got {self.final_fraction!r}")
        if not 0 < self.decay_fraction <= 1:
            raise InvalidValueError(f"decay_fraction must be in (0, 1], got {self.decay_fraction!r}")
        if not 0 <= self.curriculum_fraction < 1:
            raise InvalidValueError(f"curriculum_fraction must be in [0, 1), got {self.curriculum_fraction!r}")

    @property
    def depends_on_steps(self) -> bool:
        """Whether the learning rate or the data at a step depend on the run's total number of steps (a
        warm-up fraction, a decay or a curriculum do); a run whose schedule does not can be extended when
        resumed."""
        return bool(self.warmup_fraction or self.decay or self.curriculum_fraction)

    def warmup_steps(self, steps: int) -> int:
        """Warm-up steps of a run of ``steps`` steps."""
        return _capped_share(self.warmup_fraction, steps, self.max_warmup_steps)

    def curriculum_steps(self, steps: int) -> int:
        """Steps of a run of ``steps`` steps over which clean scenes fade out (the stream's ``clean_until``)."""
        return _capped_share(self.curriculum_fraction, steps, self.max_curriculum_steps)

    def learning_rate_schedule(self, steps: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
        """The learning rate (a number, or a Keras schedule of the optimizer's step) for ``steps`` steps."""
        steps = positive_int(steps, "steps")
        warmup = self.warmup_steps(steps)
        if not self.decay and not warmup:
            return float(self.learning_rate)
        decay_steps = max(1, round(self.decay_fraction * (steps - warmup))) if self.decay else 0
        return WarmupHoldCosine(
            self.learning_rate,
            warmup_steps=warmup,
            hold_steps=steps - warmup - decay_steps,
            decay_steps=decay_steps,
            final_fraction=self.final_fraction,
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
            if self.decay_fraction < 1:
                text += f" over the last {self.decay_fraction:.0%}"
        if self.curriculum_fraction:
            text += (
                f"; scenes without clutter fading out over the first {self.curriculum_fraction:.0%} of the steps "
                f"(at most {self.max_curriculum_steps})"
            )
        return text if (self.warmup_fraction or self.decay) else text + ", constant"


#: The named schedules.  ``original``: the study's (Adam 1e-4, batch 32, constant).  ``fast``: for CPU
#: budgets (peak 1e-3 after a linear warm-up over 30% of the steps, at most 500, held, then a cosine decay to
#: 1e-5 over the last 30% of the steps after the warm-up; scenes without clutter fading out of the batches
#: over the warm-up).
SCHEDULES: dict[str, TrainingSchedule] = {
    "original": TrainingSchedule("original", 1e-4, 32),
    "fast": TrainingSchedule(
        "fast",
        1e-3,
        32,
        warmup_fraction=0.3,
        decay=True,
        final_fraction=0.01,
        decay_fraction=0.3,
        curriculum_fraction=0.3,
    ),
}


def get_schedule(schedule: str | TrainingSchedule, **changes: Any) -> TrainingSchedule:
    """A named schedule (``"original"``, ``"fast"``) or the given one, with fields replaced by ``changes``
    (those that are not None: ``learning_rate``, ``batch_size``, ...)."""
    if isinstance(schedule, str):
        if schedule not in SCHEDULES:
            raise InvalidValueError(f"unknown schedule {schedule!r}: expected one of {', '.join(SCHEDULES)}")
        schedule = SCHEDULES[schedule]
    elif not isinstance(schedule, TrainingSchedule):
        raise InvalidTypeError(f"schedule must be a name or a TrainingSchedule, got {type(schedule).__name__}")
    changes = {key: value for key, value in changes.items() if value is not None}
    return dataclasses.replace(schedule, **changes) if changes else schedule


@keras.saving.register_keras_serializable(package="tfprobe")
class WarmupHoldCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to ``peak``, a hold at ``peak``, then a cosine decay to ``final_fraction * peak``.

    Parameters
    ----------
    peak : float
        The learning rate after the warm-up.
    warmup_steps, hold_steps, decay_steps : int
        Lengths of the three phases; the rate stays at the decay's end after them.
    final_fraction : float
        Where the decay ends, as a share of ``peak``.
    """

    def __init__(
        self, peak: float, warmup_steps: int, hold_steps: int, decay_steps: int, final_fraction: float = 0.01
    ) -> None:
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)
        self.hold_steps = int(hold_steps)
        self.decay_steps = int(decay_steps)
        self.final_fraction = float(final_fraction)
        if min(self.warmup_steps, self.hold_steps, self.decay_steps) < 0:
            raise InvalidValueError(
                "warmup_steps, hold_steps and decay_steps must be >= 0, got "
                f"{self.warmup_steps}, {self.hold_steps}, {self.decay_steps}"
            )

    def __call__(self, step: Any) -> Any:
        from keras import ops

        step = ops.cast(step, "float32")
        warmup = ops.minimum(step / max(self.warmup_steps, 1), 1.0) if self.warmup_steps else 1.0
        if not self.decay_steps:
            return self.peak * warmup
        into_decay = ops.clip((step - self.warmup_steps - self.hold_steps) / self.decay_steps, 0.0, 1.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * into_decay))
        return self.peak * warmup * (self.final_fraction + (1.0 - self.final_fraction) * cosine)

    def get_config(self) -> dict[str, Any]:
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "hold_steps": self.hold_steps,
            "decay_steps": self.decay_steps,
            "final_fraction": self.final_fraction,
        }
