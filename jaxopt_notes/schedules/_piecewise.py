"""Multi-phase schedules: piecewise, joined, warmup + decay, restarts, one-cycle.

The "multi-factor" scheduler of d2l's chapter 11 (and of the study notes on
schedules) is `piecewise_constant_schedule`;
its warmup is the linear first phase of the ``warmup_*`` schedules.
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from jaxopt_notes import _validate
from jaxopt_notes._base import Schedule
from jaxopt_notes.schedules._checks import OPEN_UNIT, POSITIVE_STEPS, STEPS, check
from jaxopt_notes.schedules._decay import (
  Num,
  as_real,
  exponential_decay,
  linear_schedule,
  positive_or_one,
  since,
)
from jaxopt_notes._docargs import shared_args


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[Num]) -> Schedule:
  """Runs ``schedules[i]`` from ``boundaries[i-1]`` on, each restarted at count 0.

  ``boundaries`` may be a traced array. A concrete integer count (a Python
  int, an int64) reaches each schedule as the exact integer ``count - boundary``.

  Args:
    schedules: the schedules, one more than the boundaries.
    boundaries: the steps at which each next schedule takes over (increasing; may be a traced
      array).
  """
  if len(schedules) != len(boundaries) + 1:
    raise ValueError(
      f"join_schedules: {len(schedules)} schedules need {len(schedules) - 1} "
      f"boundaries, got {len(boundaries)}"
    )

  def schedule(count):
    value = schedules[0](count)
    for i, later in enumerate(schedules[1:]):
      elapsed = since(count, boundaries[i])
      value = jnp.where(elapsed < 0, value, later(elapsed))
    return value

  return schedule


def _scales(owner, boundaries_and_scales):
  items = sorted((boundaries_and_scales or {}).items())
  for boundary, scale in items:
    check(owner, boundaries_and_scales=(scale, _validate.NONNEGATIVE))
    check(owner, boundaries_and_scales=(boundary, STEPS))
  return [b for b, _ in items], [s for _, s in items]


def piecewise_constant_schedule(
  init_value: Num, boundaries_and_scales: dict | None = None
) -> Schedule:
  """Multiplies the value by ``scale`` from each ``boundary`` step on.

  $$
  \\eta_t = \\eta_0 \\prod_{b_i \\le t} s_i
  $$

  Args:
    init_value: $\\eta_0$, the value before the first boundary.
    boundaries_and_scales: ``{boundary step: scale}``: from each boundary on, the value is
      multiplied by its scale (>= 0); ``None`` for none.
  """
  check("piecewise_constant_schedule", init_value=(init_value, _validate.FINITE))
  bounds, scales = _scales("piecewise_constant_schedule", boundaries_and_scales)

  def schedule(count):
    value = jnp.asarray(init_value) + jnp.zeros_like(as_real(count))
    for b, s in zip(bounds, scales):
      value = jnp.where(since(count, b) < 0, value, value * s)
    return value

  return schedule


def _interpolate(kind: str, count, bounds, values):
  """Interpolates ``values`` (at ``bounds``, first bound 0) linearly or by a half cosine."""
  bounds, values = jnp.stack([as_real(b) for b in bounds]), jnp.stack(values)
  sizes = jnp.maximum(bounds[1:] - bounds[:-1], 1)
  inside = (bounds[:-1] <= count) & (count < bounds[1:])
  pct = (count - bounds[:-1]) / sizes
  if kind == "cosine":
    pct = 0.5 * (1 - jnp.cos(jnp.pi * pct))
  between = values[:-1] + pct * (values[1:] - values[:-1])
  return jnp.sum(jnp.where(inside, between, 0)) + jnp.where(bounds[-1] <= count, values[-1], 0)


def piecewise_interpolate_schedule(
  interpolate_type: str, init_value: Num, boundaries_and_scales: dict | None = None
) -> Schedule:
  """Interpolates (``'linear'`` or ``'cosine'``) between the cumulative values
  $\\eta_0, \\eta_0 s_1, \\eta_0 s_1 s_2, \\dots$ reached at the boundaries.

  Args:
    interpolate_type: ``'linear'`` or ``'cosine'``, how the value moves between boundaries.
    init_value: $\\eta_0$, the value at step 0.
    boundaries_and_scales: ``{boundary step: scale}``: the value reached at each boundary is the
      previous one times its scale (>= 0); ``None`` for none.
  """
  _validate.check_choice(
    "piecewise_interpolate_schedule", "interpolate_type", interpolate_type, ("linear", "cosine")
  )
  check("piecewise_interpolate_schedule", init_value=(init_value, _validate.FINITE))
  bounds, scales = _scales("piecewise_interpolate_schedule", boundaries_and_scales)

  def schedule(count):
    count = as_real(count)
    values = [jnp.asarray(init_value, jnp.result_type(float))]
    for s in scales:
      values.append(values[-1] * s)
    return _interpolate(interpolate_type, count, [0, *bounds], values)

  return schedule


@shared_args
def warmup_constant_schedule(init_value: Num, peak_value: Num, warmup_steps: Num) -> Schedule:
  """Linear warmup from ``init_value`` to ``peak_value``, then constant.

  Args:
    init_value: the value at step 0.
    peak_value: the value from the end of the warmup on.
  """
  check(
    "warmup_constant_schedule",
    peak_value=(peak_value, _validate.FINITE),
    warmup_steps=(warmup_steps, STEPS),
  )
  return join_schedules(
    [
      linear_schedule(init_value, peak_value, warmup_steps),
      lambda count: peak_value + jnp.zeros_like(as_real(count)),
    ],
    [warmup_steps],
  )


@shared_args
def warmup_cosine_decay_schedule(
  init_value: Num,
  peak_value: Num,
  warmup_steps: Num,
  decay_steps: Num,
  end_value: Num = 0.0,
  exponent: Num = 1.0,
) -> Schedule:
  """Linear warmup to ``peak_value``, then cosine decay to ``end_value`` at ``decay_steps``.

  $$
  \\eta_t = \\eta_{end} + (\\eta_{peak} - \\eta_{end})
  \\big[\\tfrac12(1 + \\cos(\\pi \\min(t - W, D - W) / (D - W)))\\big]^{e}\\quad (t \\ge W)
  $$

  ``decay_steps`` counts from step 0, warmup included. The decay is relative
  to the peak (optax's rule): with ``peak_value=0`` the value after the
  warmup is 0 whatever ``end_value``, never a rise to it.

  Args:
    init_value: the value at step 0, where the warmup starts.
    peak_value: $\\eta_{peak}$, the value at the end of the warmup.
    decay_steps: $D$, the step at which the decay ends, counted from step 0 (the warmup included); >
      ``warmup_steps``.
    end_value: $\\eta_{end}$, the value from step ``decay_steps`` on.
  """
  check(
    "warmup_cosine_decay_schedule",
    init_value=(init_value, _validate.FINITE),
    peak_value=(peak_value, _validate.FINITE),
    warmup_steps=(warmup_steps, STEPS),
    decay_steps=(decay_steps, POSITIVE_STEPS),
    end_value=(end_value, _validate.FINITE),
    exponent=(exponent, _validate.FINITE),
  )
  _check_order("warmup_cosine_decay_schedule", warmup_steps, decay_steps)

  def cosine_phase(count):
    count = as_real(count)
    length = positive_or_one(decay_steps - warmup_steps)
    cosine = 0.5 * (1 + jnp.cos(jnp.pi * jnp.minimum(count, length) / length))
    value = end_value + (peak_value - end_value) * cosine**exponent
    return jnp.where(jnp.asarray(peak_value) == 0, jnp.zeros_like(value), value)

  return join_schedules(
    [linear_schedule(init_value, peak_value, warmup_steps), cosine_phase], [warmup_steps]
  )


def _check_order(owner, warmup_steps, decay_steps):
  if not any(isinstance(x, jax.core.Tracer) for x in (warmup_steps, decay_steps)):
    if decay_steps <= warmup_steps:
      raise ValueError(
        f"{owner}: argument `decay_steps`={decay_steps!r} must exceed "
        f"`warmup_steps`={warmup_steps!r} (it counts the warmup too)"
      )


@shared_args
def warmup_exponential_decay_schedule(
  init_value: Num,
  peak_value: Num,
  warmup_steps: Num,
  transition_steps: Num,
  decay_rate: Num,
  transition_begin: Num = 0,
  staircase: bool = False,
  end_value: Num | None = None,
) -> Schedule:
  """Linear warmup to ``peak_value``, then `exponential_decay` from it.

  Args:
    init_value: the value at step 0, where the warmup starts.
    peak_value: the value at the end of the warmup, where the decay starts.
    transition_steps: the steps over which the value is multiplied by ``decay_rate`` once.
    transition_begin: the steps after the warmup during which the value stays at ``peak_value``.
    end_value: a bound of the value (a floor when ``decay_rate < 1``); ``None`` for none.
  """
  check("warmup_exponential_decay_schedule", warmup_steps=(warmup_steps, STEPS))
  return join_schedules(
    [
      linear_schedule(init_value, peak_value, warmup_steps),
      exponential_decay(
        peak_value, transition_steps, decay_rate, transition_begin, staircase, end_value
      ),
    ],
    [warmup_steps],
  )


def sgdr_schedule(cosine_kwargs: Sequence[dict]) -> Schedule:
  """Warm restarts (Loshchilov & Hutter, 2017): `warmup_cosine_decay_schedule`
  cycles, one per dict of ``cosine_kwargs``, each restarting where the last ended.

  Args:
    cosine_kwargs: one dict of `warmup_cosine_decay_schedule` arguments per cycle; each cycle lasts
      its ``decay_steps``.
  """
  schedules = [warmup_cosine_decay_schedule(**kwargs) for kwargs in cosine_kwargs]
  ends, total = [], 0
  for kwargs in cosine_kwargs[:-1]:
    total = total + kwargs["decay_steps"]
    ends.append(total)
  return join_schedules(schedules, ends)


def cosine_onecycle_schedule(
  transition_steps: Num,
  peak_value: Num,
  pct_start: Num = 0.3,
  div_factor: Num = 25.0,
  final_div_factor: Num = 1e4,
) -> Schedule:
  """One cycle (Smith & Topin, 2018): cosine up from ``peak / div_factor`` to the peak
  at ``pct_start * T``, then cosine down to ``peak / (div_factor * final_div_factor)``.

  Args:
    transition_steps: $T$, the length of the cycle in steps (> 0).
    peak_value: the value at step ``pct_start * T``.
    pct_start: the fraction of the cycle spent rising, in (0, 1).
    div_factor: the value at step 0 is ``peak_value / div_factor``.
    final_div_factor: the value at the end is ``peak_value / (div_factor * final_div_factor)``.
  """
  _check_onecycle(
    "cosine_onecycle_schedule", transition_steps, pct_start, div_factor, final_div_factor
  )

  def schedule(count):
    count = as_real(count)
    start = peak_value / div_factor
    bounds = [0, jnp.floor(pct_start * as_real(transition_steps)), transition_steps]
    return _interpolate("cosine", count, bounds, [start, peak_value, start / final_div_factor])

  return schedule


def linear_onecycle_schedule(
  transition_steps: Num,
  peak_value: Num,
  pct_start: Num = 0.3,
  pct_final: Num = 0.85,
  div_factor: Num = 25.0,
  final_div_factor: Num = 1e4,
) -> Schedule:
  """One cycle with linear pieces: up to the peak at ``pct_start * T``, down to
  ``peak / div_factor`` at ``pct_final * T``, then to ``peak / (div_factor * final_div_factor)``.

  Args:
    transition_steps: $T$, the length of the cycle in steps (> 0).
    peak_value: the value at step ``pct_start * T``.
    pct_start: the fraction of the cycle spent rising, in (0, 1).
    pct_final: the fraction of the cycle at whose end the value is back at ``peak_value /
      div_factor``, in (0, 1).
    div_factor: the value at step 0 is ``peak_value / div_factor``.
    final_div_factor: the value at the end is ``peak_value / (div_factor * final_div_factor)``.
  """
  _check_onecycle(
    "linear_onecycle_schedule", transition_steps, pct_start, div_factor, final_div_factor
  )
  check("linear_onecycle_schedule", pct_final=(pct_final, OPEN_UNIT))

  def schedule(count):
    count = as_real(count)
    start = peak_value / div_factor
    steps = as_real(transition_steps)
    bounds = [0, jnp.floor(pct_start * steps), jnp.floor(pct_final * steps), transition_steps]
    return _interpolate(
      "linear", count, bounds, [start, peak_value, start, start / final_div_factor]
    )

  return schedule


def _check_onecycle(owner, transition_steps, pct_start, div_factor, final_div_factor):
  check(
    owner,
    transition_steps=(transition_steps, POSITIVE_STEPS),
    pct_start=(pct_start, OPEN_UNIT),
    div_factor=(div_factor, POSITIVE_STEPS),
    final_div_factor=(final_div_factor, POSITIVE_STEPS),
  )
