"""Validation shared by the schedule constructors."""

from jaxopt_notes import _validate

STEPS = _validate.NONNEGATIVE  # warmup_steps, transition_begin, ...
POSITIVE_STEPS = _validate.POSITIVE  # decay_steps, step_size, ...
OPEN_UNIT = _validate.Range(0.0, 1.0, lo_closed=False, hi_closed=False)


def check(owner: str, **arguments) -> None:
  _validate.check(owner, **arguments)
