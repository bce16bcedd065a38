"""Scaling by a constant, a learning rate or a schedule."""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _tree, _validate
from jaxopt_notes._base import (GradientTransformation,
                                ScalarOrSchedule, Schedule, identity,
                                init_empty_state)


def _times(step_size, updates):
  """``step_size * u`` for each leaf, keeping the leaf's dtype."""
  return _tree._map(lambda u: jnp.asarray(step_size, dtype=u.dtype) * u, updates)


def scale(step_size: jax.typing.ArrayLike) -> GradientTransformation:
  """Multiplies every update by ``step_size``: ``u <- step_size * u``."""
  _validate.check("scale", step_size=(step_size, _validate.FINITE))

  def update_fn(updates, state, params=None):
    del params
    return _times(step_size, updates), state
  return GradientTransformation(init_empty_state, update_fn)


class ScaleByScheduleState(NamedTuple):
  """State of `scale_by_schedule`: the step count fed to the schedule."""
  count: jax.Array  # int32 number of updates made so far, saturating


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformation:
  """Multiplies the updates of step ``t`` (counted from 0) by ``step_size_fn(t)``."""
  if not callable(step_size_fn):
    raise TypeError(f"scale_by_schedule: argument `step_size_fn` must be a callable "
                    f"of the step count, got {step_size_fn!r}")

  def init_fn(params):
    return ScaleByScheduleState(count=_tree.zero_count(params))

  def update_fn(updates, state, params=None):
    del params
    updates = _times(step_size_fn(state.count), updates)
    return updates, ScaleByScheduleState(count=_tree.safe_increment(state.count))
  return GradientTransformation(init_fn, update_fn)


def scale_by_learning_rate(learning_rate: ScalarOrSchedule | None = None, *,
                           flip_sign: bool = True) -> GradientTransformation:
  """Scales by ``-learning_rate`` (or ``+learning_rate`` with ``flip_sign=False``).

  A callable ``learning_rate`` is a schedule of the step count; ``None`` gives
  `identity`.
  """
  if learning_rate is None:
    return identity()
  _validate.check("scale_by_learning_rate",
                  learning_rate=(learning_rate, _validate.FINITE))
  sign = -1 if flip_sign else 1
  if callable(learning_rate):
    return scale_by_schedule(lambda count: sign * learning_rate(count))
  return scale(sign * learning_rate)

