"""Single-phase schedules: constant, polynomial (linear), exponential, cosine.

The "single-factor" scheduler of d2l's chapter 11 (and of the study notes on
schedules) is `exponential_decay`; its cosine
scheduler (Loshchilov & Hutter) is `cosine_decay_schedule`.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_notes import _validate
from jaxopt_notes._base import Schedule
from jaxopt_notes.schedules._checks import POSITIVE_STEPS, STEPS, check
from jaxopt_notes._docargs import shared_args

Num = jax.typing.ArrayLike


def as_real(count):
  """The step count as a float of the default precision.

  An int32 counter divided by an integer gives float32 in JAX even with x64
  on; converting first keeps float64 schedules exact.
  """
  if _exact_int(count):  # a Python int or int64 never goes through int32
    count = float(count)
  return jnp.asarray(count, jnp.result_type(float))


def _exact_int(x) -> bool:
  """True for a concrete integer that Python can hold exactly (``10**10``, ``np.int64``)."""
  return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def since(count, start):
  """``count - start``: exact (a Python int) when both are concrete integers, else a real.

  A step count held in a state is an int32 array, but a schedule called
  directly may get a Python int or an int64 beyond int32 (``10**10``), and its
  step arguments may be as large; these are never turned into int32 (where
  they overflow) nor rounded to float32 before their difference is taken.
  """
  if _exact_int(count) and _exact_int(start):
    return int(count) - int(start)
  return as_real(count) - as_real(start)


def positive_or_one(x):
  """``x`` (as a real) where ``x > 0`` else 1: a divisor safe for traced step counts."""
  return jnp.where(x > 0, as_real(x), 1)


def constant_schedule(value: Num) -> Schedule:
  """$\\eta_t = \\text{value}$.

  Args:
    value: the value at every step.
  """
  check("constant_schedule", value=(value, _validate.FINITE))
  return lambda count: jnp.asarray(value) + jnp.zeros_like(as_real(count))


@shared_args
def polynomial_schedule(
  init_value: Num, end_value: Num, power: Num, transition_steps: Num, transition_begin: Num = 0
) -> Schedule:
  """Polynomial decay from ``init_value`` to ``end_value``.

  $$
  \\eta_t = (\\eta_0 - \\eta_{end})\\,(1 - s/T)^{p} + \\eta_{end},\\qquad
  s = \\operatorname{clip}(t - t_0, 0, T)
  $$

  ``transition_steps`` $T = 0$ gives the constant ``init_value``.

  Args:
    init_value: $\\eta_0$, the value up to step ``transition_begin``.
    end_value: $\\eta_{end}$, the value from step ``transition_begin + transition_steps`` on.
    power: $p$, the power of the decay; 1 is linear.
    transition_steps: $T$, the length of the transition in steps; 0 gives the constant
      ``init_value``.
  """
  check(
    "polynomial_schedule",
    init_value=(init_value, _validate.FINITE),
    end_value=(end_value, _validate.FINITE),
    power=(power, _validate.FINITE),
    transition_steps=(transition_steps, STEPS),
    transition_begin=(transition_begin, STEPS),
  )

  def schedule(count):
    steps = positive_or_one(transition_steps)
    s = jnp.clip(as_real(since(count, transition_begin)), 0, steps)
    value = (init_value - end_value) * (1 - s / steps) ** power + end_value
    return jnp.where(transition_steps > 0, value, init_value + 0.0 * value)

  return schedule


@shared_args
def linear_schedule(
  init_value: Num, end_value: Num, transition_steps: Num, transition_begin: Num = 0
) -> Schedule:
  """Linear interpolation: `polynomial_schedule` with ``power=1``.

  Args:
    init_value: the value up to step ``transition_begin``.
    end_value: the value from step ``transition_begin + transition_steps`` on.
    transition_steps: the length of the transition in steps; 0 gives the constant ``init_value``.
  """
  return polynomial_schedule(init_value, end_value, 1, transition_steps, transition_begin)


@shared_args
def exponential_decay(
  init_value: Num,
  transition_steps: Num,
  decay_rate: Num,
  transition_begin: Num = 0,
  staircase: bool = False,
  end_value: Num | None = None,
) -> Schedule:
  """Multiplicative decay by ``decay_rate`` every ``transition_steps`` steps.

  $$
  \\eta_t = \\eta_0\\, r^{(t - t_0)/T}\\quad(t > t_0),\\qquad \\eta_t = \\eta_0\\quad(t \\le t_0)
  $$

  ``staircase`` floors the exponent; ``end_value`` bounds the result (from
  below when $r < 1$, from above when $r > 1$). ``T = 0`` or
  ``r = 0`` gives the constant ``init_value``.

  Args:
    init_value: $\\eta_0$, the value up to step ``transition_begin``.
    transition_steps: $T$, the steps over which the value is multiplied by ``decay_rate`` once; 0
      gives the constant ``init_value``.
    end_value: a bound of the value: a floor when ``decay_rate < 1``, a ceiling when it is > 1;
      ``None`` for none.
  """
  check(
    "exponential_decay",
    init_value=(init_value, _validate.FINITE),
    transition_steps=(transition_steps, STEPS),
    decay_rate=(decay_rate, _validate.NONNEGATIVE),
    transition_begin=(transition_begin, STEPS),
    end_value=(end_value, _validate.FINITE),
  )

  def schedule(count):
    elapsed = as_real(since(count, transition_begin))
    p = elapsed / positive_or_one(transition_steps)
    if staircase:
      p = jnp.floor(p)
    value = jnp.where(elapsed <= 0, init_value, init_value * jnp.power(decay_rate, p))
    if end_value is not None:
      value = jnp.where(
        decay_rate < 1, jnp.maximum(value, end_value), jnp.minimum(value, end_value)
      )
    constant = (transition_steps <= 0) | (decay_rate == 0)
    return jnp.where(constant, init_value, value)

  return schedule


@shared_args
def cosine_decay_schedule(
  init_value: Num, decay_steps: Num, alpha: Num = 0.0, exponent: Num = 1.0
) -> Schedule:
  """Cosine decay (Loshchilov & Hutter, 2017) to ``alpha * init_value``.

  $$
  \\eta_t = \\eta_0\\Big((1-\\alpha)\\big[\\tfrac12(1 + \\cos(\\pi \\min(t, T)/T))\\big]^{e}
    + \\alpha\\Big)
  $$

  Args:
    init_value: $\\eta_0$, the value at step 0.
    decay_steps: $T$, the step at which the decay ends (> 0); the value is constant after.
    alpha: $\\alpha$, the final value as a fraction of ``init_value``.
  """
  check(
    "cosine_decay_schedule",
    init_value=(init_value, _validate.FINITE),
    decay_steps=(decay_steps, POSITIVE_STEPS),
    alpha=(alpha, _validate.FINITE),
    exponent=(exponent, _validate.FINITE),
  )

  def schedule(count):
    count = as_real(count)
    steps = positive_or_one(decay_steps)
    cosine = 0.5 * (1 + jnp.cos(jnp.pi * jnp.minimum(count, steps) / steps))
    return init_value * ((1 - alpha) * cosine**exponent + alpha)

  return schedule
