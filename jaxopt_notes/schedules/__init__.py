"""Schedules (functions of the int32 step count, from 0), joins, injected hyperparameters.

Every numeric argument of every schedule may be a traced array, step counts
included, so a schedule works under ``jit``, ``vmap`` and ``grad``. Concrete
bad values raise ``ValueError`` naming the argument when the schedule is built.
"""

from jaxopt_notes._base import Schedule
from jaxopt_notes.schedules._decay import (
  constant_schedule,
  cosine_decay_schedule,
  exponential_decay,
  linear_schedule,
  polynomial_schedule,
)
from jaxopt_notes.schedules._inject import (
  InjectHyperparamsState,
  InjectStatefulHyperparamsState,
  StatefulSchedule,
  WrappedSchedule,
  inject_hyperparams,
  inject_stateful_hyperparams,
)
from jaxopt_notes.schedules._piecewise import (
  cosine_onecycle_schedule,
  join_schedules,
  linear_onecycle_schedule,
  piecewise_constant_schedule,
  piecewise_interpolate_schedule,
  sgdr_schedule,
  warmup_constant_schedule,
  warmup_cosine_decay_schedule,
  warmup_exponential_decay_schedule,
)

__all__ = [
  "InjectHyperparamsState",
  "InjectStatefulHyperparamsState",
  "Schedule",
  "StatefulSchedule",
  "WrappedSchedule",
  "constant_schedule",
  "cosine_decay_schedule",
  "cosine_onecycle_schedule",
  "exponential_decay",
  "inject_hyperparams",
  "inject_stateful_hyperparams",
  "join_schedules",
  "linear_onecycle_schedule",
  "linear_schedule",
  "piecewise_constant_schedule",
  "piecewise_interpolate_schedule",
  "polynomial_schedule",
  "sgdr_schedule",
  "warmup_constant_schedule",
  "warmup_cosine_decay_schedule",
  "warmup_exponential_decay_schedule",
]
