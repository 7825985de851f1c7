"""The time budget of the recurrent-network lab: how long training may take so that the whole run ends in time.

:func:`tfprobe.recurrent.lab.run_lab` measures, before it trains, what everything after training costs on
the machine at hand (it rehearses a part of each later phase on a throwaway copy of the network and
extrapolates to the sizes the run uses), and what a training step, a validation and the training's one-time
set-up cost (timed on the same copy).  :func:`plan_budget` turns those measurements into a plan: the time
already spent, the later phases and a margin are taken from the budget, and training gets the rest, as
many steps as fit in it (so that a schedule's decay ends within them).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from tfprobe.errors import InvalidValueError
from tfprobe.validation import is_real

__all__ = ["MARGIN_SHARE", "MINIMUM_STEPS", "STEP_SHARE", "BudgetPlan", "TrainingCosts", "plan_budget"]

#: The margin kept for the later phases, as a share of their planned seconds (the machine may be busier
#: after training than when they were measured, and the trained network's decoding converges differently).
MARGIN_SHARE = 0.15
#: The share of the training time planned for steps; the rest absorbs fluctuations of the step time before
#: the time limit stops training (which would leave a decaying schedule unfinished).
STEP_SHARE = 0.97
#: The fewest training steps a budget must leave time for when the number of steps is planned.
MINIMUM_STEPS = 100


@dataclasses.dataclass(frozen=True)
class TrainingCosts:
    """What training costs on this machine, in seconds.

    Attributes
    ----------
    per_step : float or None
        One training step (None when not timed: a fixed or resumed number of steps).
    startup : float
        Once per session, counted in the training time: tracing and compiling the step.
    overhead : float
        Once per session, outside the training time: setting up the scene stream, drawing the validation
        scenes, saving the weights.
    per_validation : float
        One validation (evaluating the validation scenes), outside the training time.
    """

    per_step: float | None
    startup: float
    overhead: float
    per_validation: float

    @property
    def one_time(self) -> float:
        """Seconds once per session: ``startup + overhead``."""
        return self.startup + self.overhead


@dataclasses.dataclass(frozen=True)
class BudgetPlan:
    """How a run's time budget is divided.

    Attributes
    ----------
    seconds : float
        The whole budget.
    spent : dict of str to float
        The phases before the plan, as measured (starting up, drawing scenes, timing, rehearsing).
    later : dict of str to float
        The planned seconds of each phase after training.
    margin : float
        Kept free for the later phases to take longer than planned.
    training : float
        The seconds training may take in all (steps, validations, set-up).
    steps : int
        The training steps planned (given, or as many as fit in ``training``).
    step_seconds : float
        The training time allowed (steps and compiling; validations and set-up excluded): the time limit
        that stops training if it runs slower than measured.
    costs : TrainingCosts
        The measured costs the plan rests on.
    """

    seconds: float
    spent: dict[str, float]
    later: dict[str, float]
    margin: float
    training: float
    steps: int
    step_seconds: float
    costs: TrainingCosts

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready values, seconds rounded to 0.1."""
        return {
            "seconds": round(self.seconds, 1),
            "spent": {name: round(value, 1) for name, value in self.spent.items()},
            "training": round(self.training, 1),
            "later": {name: round(value, 1) for name, value in self.later.items()},
            "margin": round(self.margin, 1),
            "steps": self.steps,
            "step_seconds": round(self.step_seconds, 1),
            "costs": {
                "per_step": None if self.costs.per_step is None else round(self.costs.per_step, 4),
                "startup": round(self.costs.startup, 1),
                "overhead": round(self.costs.overhead, 1),
                "per_validation": round(self.costs.per_validation, 2),
            },
        }


def _validations(steps: int, validate_every: int) -> int:
    """Validations of a run of ``steps`` steps: every ``validate_every`` steps and at the end."""
    return math.ceil(steps / validate_every)


def _training_seconds(steps: int, costs: TrainingCosts, validate_every: int) -> float:
    """Seconds a run of ``steps`` steps takes in all (set-up, steps and validations), with its slack."""
    per_step = costs.per_step or 0.0
    work = costs.one_time + steps * per_step + _validations(steps, validate_every) * costs.per_validation
    return work / STEP_SHARE


def plan_budget(
    seconds: float,
    spent: Mapping[str, float],
    later: Mapping[str, float],
    costs: TrainingCosts,
    *,
    validate_every: int,
    steps: int | None = None,
) -> BudgetPlan:
    """Divide a time budget between what has been spent, training, the later phases and a margin.

    Parameters
    ----------
    seconds : float
        The whole budget (wall time).
    spent : mapping of str to float
        Seconds spent before planning, per phase.
    later : mapping of str to float
        Planned seconds of each phase after training (measured and extrapolated).
    costs : TrainingCosts
        What training costs here (``per_step`` needed when ``steps`` is None).
    validate_every : int
        Steps between validations.
    steps : int, optional
        A fixed number of steps (given, or that of a run being resumed).  Default: as many as fit.

    Returns
    -------
    BudgetPlan
        Training gets ``seconds - spent - later - margin``, the margin being ``MARGIN_SHARE`` of the
        later phases.

    Raises
    ------
    InvalidValueError
        The budget leaves no time for training (or, when the steps are planned, for ``MINIMUM_STEPS``);
        the message names the smallest budget that would.
    """
    if not (is_real(seconds) and math.isfinite(seconds) and seconds > 0):
        raise InvalidValueError(f"the budget must be a positive number of seconds, got {seconds!r}")
    if steps is None and not (costs.per_step is not None and costs.per_step > 0):
        raise InvalidValueError(f"planning the steps needs the measured seconds per step, got {costs.per_step!r}")
    spent, later = dict(spent), dict(later)
    margin = MARGIN_SHARE * sum(later.values())
    training = seconds - sum(spent.values()) - sum(later.values()) - margin
    if steps is None:
        per_interval = costs.per_step + costs.per_validation / validate_every
        planned = max(0, math.floor((STEP_SHARE * training - costs.one_time) / per_interval))
        while planned > 0 and _training_seconds(planned, costs, validate_every) > training:
            planned -= 1  # a last, partial interval still validates
        need, least = _training_seconds(MINIMUM_STEPS, costs, validate_every), MINIMUM_STEPS
    else:
        planned, need, least = steps, 0.0, 0
    if planned < least or training <= need:
        minimum = sum(spent.values()) + sum(later.values()) + margin + max(need, 1.0)
        for_steps = f", less than the {need:.0f} s that {least} steps need here" if least else ""
        raise InvalidValueError(
            f"a budget of {seconds / 60:g} minutes is too small: {sum(spent.values()):.0f} s went on starting up "
            f"and measuring, and the phases after training need about {sum(later.values()) + margin:.0f} s "
            f"(a {margin:.0f} s margin included), which leaves {training:.0f} s for training{for_steps}; give "
            f"at least {math.ceil(minimum / 6) / 10:.1f} minutes, or fewer scenes to analyse"
        )
    # The time limit counts training steps (compiling included), not validations or set-up.
    step_seconds = training - costs.overhead - _validations(planned, validate_every) * costs.per_validation
    return BudgetPlan(
        seconds=float(seconds),
        spent=spent,
        later=later,
        margin=margin,
        training=training,
        steps=planned,
        step_seconds=max(step_seconds, 0.0),
        costs=costs,
    )
