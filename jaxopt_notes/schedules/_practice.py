"""Schedules practitioners use that optax lacks: inverse square root, WSD, cyclical."""

import jax.numpy as jnp

from jaxopt_notes import _validate
from jaxopt_notes._base import Schedule
from jaxopt_notes.schedules._checks import POSITIVE_STEPS, STEPS, check
from jaxopt_notes.schedules._decay import Num, as_real, linear_schedule, positive_or_one
from jaxopt_notes.schedules._piecewise import join_schedules
from jaxopt_notes._docargs import shared_args


def warmup_inverse_sqrt_schedule(
  peak_value: Num, warmup_steps: Num, init_value: Num = 0.0
) -> Schedule:
  """Linear warmup, then decay as the inverse square root of the step (the Transformer's).

  $$
  \\eta_t = \\eta_{init} + (\\eta_{peak} - \\eta_{init})\\,t/W \\ (t < W),\\qquad
  \\eta_t = \\eta_{peak}\\sqrt{W / t}\\ (t \\ge W)
  $$

  With ``init_value=0`` and ``peak_value = d_model**-0.5 * W**-0.5`` this is
  Vaswani et al.'s $d^{-1/2}\\min(t^{-1/2}, t W^{-3/2})$.

  Args:
    peak_value: $\\eta_{peak}$, the value at the end of the warmup.
    warmup_steps: $W$, the steps of the linear warmup (> 0).
    init_value: $\\eta_{init}$, the value at step 0.
  """
  check(
    "warmup_inverse_sqrt_schedule",
    peak_value=(peak_value, _validate.FINITE),
    warmup_steps=(warmup_steps, POSITIVE_STEPS),
    init_value=(init_value, _validate.FINITE),
  )

  def decay(count):  # count from the end of the warmup (negative before it: unused)
    w = positive_or_one(warmup_steps)
    return peak_value * jnp.sqrt(w / (jnp.maximum(as_real(count), 0) + w))

  return join_schedules(
    [linear_schedule(init_value, peak_value, warmup_steps), decay], [warmup_steps]
  )


_DECAYS = {
  "linear": lambda frac: 1 - frac,
  "cosine": lambda frac: 0.5 * (1 + jnp.cos(jnp.pi * frac)),
  "sqrt": lambda frac: 1 - jnp.sqrt(frac),
}


@shared_args
def warmup_stable_decay_schedule(
  peak_value: Num,
  warmup_steps: Num,
  stable_steps: Num,
  decay_steps: Num,
  init_value: Num = 0.0,
  end_value: Num = 0.0,
  decay_type: str = "linear",
) -> Schedule:
  """Warmup-stable-decay ("trapezoidal"): linear warmup, a constant plateau, then a
  short decay to ``end_value`` over ``decay_steps`` (``'linear'``, ``'cosine'``
  or ``'sqrt'``, i.e. $1-\\sqrt{f}$), constant after.

  $$
  \\eta = \\eta_{end} + (\\eta_{peak} - \\eta_{end})\\, d(f),\\quad f = (t - W - S)/D
  $$

  Args:
    peak_value: $\\eta_{peak}$, the value of the plateau.
    stable_steps: $S$, the length of the plateau in steps.
    decay_steps: $D$, the length of the decay in steps.
    init_value: the value at step 0.
    end_value: $\\eta_{end}$, the value after the decay.
    decay_type: the shape $d$ of the decay: ``'linear'``, ``'cosine'`` or ``'sqrt'``.

  Reference: Hägele et al., 2024, "Scaling Laws and Compute-Optimal Training
  Beyond Fixed Training Durations"; Hu et al., 2024 (MiniCPM).
  """
  _validate.check_choice("warmup_stable_decay_schedule", "decay_type", decay_type, tuple(_DECAYS))
  check(
    "warmup_stable_decay_schedule",
    peak_value=(peak_value, _validate.FINITE),
    warmup_steps=(warmup_steps, STEPS),
    stable_steps=(stable_steps, STEPS),
    decay_steps=(decay_steps, POSITIVE_STEPS),
    init_value=(init_value, _validate.FINITE),
    end_value=(end_value, _validate.FINITE),
  )
  shape = _DECAYS[decay_type]

  def decay(count):  # count from the end of the plateau
    count = as_real(count)
    frac = jnp.clip(count / positive_or_one(decay_steps), 0, 1)
    return end_value + (peak_value - end_value) * shape(frac)

  return join_schedules(
    [
      linear_schedule(init_value, peak_value, warmup_steps),
      lambda count: peak_value + jnp.zeros_like(as_real(count)),
      decay,
    ],
    [warmup_steps, warmup_steps + stable_steps],
  )


def triangular_cyclic_schedule(
  base_value: Num, max_value: Num, step_size: Num, mode: str = "triangular", gamma: Num = 1.0
) -> Schedule:
  """Cyclical learning rates (Smith, 2017): a triangle between ``base_value`` and
  ``max_value``, half a cycle every ``step_size`` steps.

  $$
  c = \\lfloor 1 + t / 2s \\rfloor,\\quad x = |t/s - 2c + 1|,\\quad
  \\eta_t = \\eta_{base} + (\\eta_{max} - \\eta_{base})\\max(0, 1 - x)\\,a(c, t)
  $$

  with $a = 1$ (``'triangular'``), $2^{1-c}$ (``'triangular2'``) or
  $\\gamma^t$ (``'exp_range'``).

  Args:
    base_value: $\\eta_{base}$, the lowest value.
    max_value: $\\eta_{max}$, the highest value (before the amplitude decays).
    step_size: $s$, the steps of half a cycle (> 0).
    mode: the amplitude: ``'triangular'`` (constant), ``'triangular2'`` (halved every cycle) or
      ``'exp_range'`` ($\\gamma^t$).
    gamma: $\\gamma$ of ``'exp_range'``; unused otherwise.
  """
  _validate.check_choice(
    "triangular_cyclic_schedule", "mode", mode, ("triangular", "triangular2", "exp_range")
  )
  check(
    "triangular_cyclic_schedule",
    base_value=(base_value, _validate.FINITE),
    max_value=(max_value, _validate.FINITE),
    step_size=(step_size, POSITIVE_STEPS),
    gamma=(gamma, _validate.NONNEGATIVE),
  )

  def schedule(count):
    count = as_real(count)
    s = positive_or_one(step_size)
    cycle = jnp.floor(1 + count / (2 * s))
    x = jnp.abs(count / s - 2 * cycle + 1)
    amplitude = {"triangular": 1.0, "triangular2": 2.0 ** (1 - cycle), "exp_range": gamma**count}[
      mode
    ]
    return base_value + (max_value - base_value) * jnp.maximum(0, 1 - x) * amplitude

  return schedule
