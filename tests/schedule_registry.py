"""Every schedule once: arguments, a plain-numpy reference, the optax twin, sweepable args."""

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import optax

import jaxopt_notes as jon


@dataclasses.dataclass(frozen=True)
class Sched:
  name: str
  kwargs: dict
  reference: Callable[[int], float]  # plain-python value at step t
  sweep: dict  # numeric argument -> another valid value
  invalid: dict = dataclasses.field(default_factory=dict)
  optax_twin: Any = None  # optax's factory of the same name, if any

  @property
  def factory(self):
    return getattr(jon, self.name)

  def __repr__(self):
    return self.name


def _poly(t, init, end, power, steps, begin=0):
  if steps <= 0:
    return init
  s = min(max(t - begin, 0), steps)
  return (init - end) * (1 - s / steps) ** power + end


def _exp(t, init, steps, rate, begin=0, staircase=False, end=None):
  e = t - begin
  if e <= 0:
    return init
  p = math.floor(e / steps) if staircase else e / steps
  v = init * rate**p
  if end is not None:
    v = max(v, end) if rate < 1 else min(v, end)
  return v


def _cos(t, init, steps, alpha=0.0, exponent=1.0):
  c = 0.5 * (1 + math.cos(math.pi * min(t, steps) / steps))
  return init * ((1 - alpha) * c**exponent + alpha)


def _warm_cos(t, init, peak, warm, decay, end=0.0, exponent=1.0):
  if t < warm:
    return _poly(t, init, peak, 1, warm)
  if peak == 0:  # optax's rule: the decay is relative to the peak
    return 0.0
  c = 0.5 * (1 + math.cos(math.pi * min(t - warm, decay - warm) / (decay - warm)))
  return end + (peak - end) * c**exponent


def _interp(t, kind, bounds, values):
  for i in range(len(bounds) - 1):
    if bounds[i] <= t < bounds[i + 1]:
      pct = (t - bounds[i]) / max(bounds[i + 1] - bounds[i], 1)
      if kind == "cosine":
        pct = 0.5 * (1 - math.cos(math.pi * pct))
      return values[i] + pct * (values[i + 1] - values[i])
  return values[-1]


def _piecewise_interp(t, kind, init, bs):
  bounds, values = [0], [init]
  for b, s in sorted(bs.items()):
    bounds.append(b)
    values.append(values[-1] * s)
  return _interp(t, kind, bounds, values)


def _triangular(t, base, top, size, mode="triangular", gamma=1.0):
  cycle = math.floor(1 + t / (2 * size))
  x = abs(t / size - 2 * cycle + 1)
  amp = {"triangular": 1.0, "triangular2": 2.0 ** (1 - cycle), "exp_range": gamma**t}[mode]
  return base + (top - base) * max(0.0, 1 - x) * amp


def _wsd(t, peak, warm, stable, decay, init=0.0, end=0.0, kind="linear"):
  if t < warm:
    return _poly(t, init, peak, 1, warm)
  if t < warm + stable:
    return peak
  f = min(max((t - warm - stable) / decay, 0), 1)
  d = {"linear": 1 - f, "cosine": 0.5 * (1 + math.cos(math.pi * f)), "sqrt": 1 - math.sqrt(f)}[kind]
  return end + (peak - end) * d


SCHEDULES = [
  Sched(
    "constant_schedule",
    {"value": 0.3},
    lambda t: 0.3,
    {"value": 0.1},
    {"value": float("inf")},
    optax.constant_schedule,
  ),
  Sched(
    "linear_schedule",
    dict(init_value=1.0, end_value=0.1, transition_steps=30, transition_begin=5),
    lambda t: _poly(t, 1.0, 0.1, 1, 30, 5),
    {"init_value": 2.0, "end_value": 0.0, "transition_steps": 20, "transition_begin": 3},
    {"transition_steps": -1, "transition_begin": -2},
    optax.linear_schedule,
  ),
  Sched(
    "polynomial_schedule",
    dict(init_value=1.0, end_value=0.1, power=2.0, transition_steps=30, transition_begin=5),
    lambda t: _poly(t, 1.0, 0.1, 2.0, 30, 5),
    {
      "init_value": 2.0,
      "end_value": 0.0,
      "power": 0.5,
      "transition_steps": 20,
      "transition_begin": 3,
    },
    {"power": float("nan")},
    optax.polynomial_schedule,
  ),
  Sched(
    "exponential_decay",
    dict(init_value=1.0, transition_steps=7, decay_rate=0.8, transition_begin=3, end_value=0.2),
    lambda t: _exp(t, 1.0, 7, 0.8, 3, False, 0.2),
    {
      "init_value": 0.5,
      "transition_steps": 5,
      "decay_rate": 0.9,
      "transition_begin": 6,
      "end_value": 0.3,
    },
    {"transition_steps": -3, "decay_rate": -0.5},
    optax.exponential_decay,
  ),
  Sched(
    "cosine_decay_schedule",
    dict(init_value=1.0, decay_steps=40, alpha=0.1, exponent=2.0),
    lambda t: _cos(t, 1.0, 40, 0.1, 2.0),
    {"init_value": 0.5, "decay_steps": 25, "alpha": 0.0, "exponent": 1.0},
    {"decay_steps": 0},
    optax.cosine_decay_schedule,
  ),
  Sched(
    "warmup_cosine_decay_schedule",
    dict(
      init_value=0.0, peak_value=1.0, warmup_steps=10, decay_steps=50, end_value=0.05, exponent=1.5
    ),
    lambda t: _warm_cos(t, 0.0, 1.0, 10, 50, 0.05, 1.5),
    {
      "init_value": 0.1,
      "peak_value": 2.0,
      "warmup_steps": 5,
      "decay_steps": 40,
      "end_value": 0.0,
      "exponent": 1.0,
    },
    {"warmup_steps": -1, "decay_steps": 0},
    optax.warmup_cosine_decay_schedule,
  ),
  Sched(
    "warmup_constant_schedule",
    dict(init_value=0.0, peak_value=1.0, warmup_steps=10),
    lambda t: _poly(t, 0.0, 1.0, 1, 10) if t < 10 else 1.0,
    {"init_value": 0.2, "peak_value": 0.5, "warmup_steps": 4},
    {"warmup_steps": -5},
    optax.warmup_constant_schedule,
  ),
  Sched(
    "warmup_exponential_decay_schedule",
    dict(
      init_value=0.0,
      peak_value=1.0,
      warmup_steps=10,
      transition_steps=5,
      decay_rate=0.7,
      staircase=True,
    ),
    lambda t: _poly(t, 0.0, 1.0, 1, 10) if t < 10 else _exp(t - 10, 1.0, 5, 0.7, 0, True),
    {
      "init_value": 0.1,
      "peak_value": 2.0,
      "warmup_steps": 6,
      "transition_steps": 3,
      "decay_rate": 0.9,
    },
    {"warmup_steps": -1},
    optax.warmup_exponential_decay_schedule,
  ),
  Sched(
    "piecewise_constant_schedule",
    dict(init_value=1.0, boundaries_and_scales={10: 0.5, 25: 0.1}),
    lambda t: 1.0 * (0.5 if t >= 10 else 1) * (0.1 if t >= 25 else 1),
    {"init_value": 3.0},
    {"init_value": float("nan")},
    optax.piecewise_constant_schedule,
  ),
  Sched(
    "piecewise_interpolate_schedule",
    dict(interpolate_type="cosine", init_value=1.0, boundaries_and_scales={10: 0.5, 25: 0.1}),
    lambda t: _piecewise_interp(t, "cosine", 1.0, {10: 0.5, 25: 0.1}),
    {"init_value": 3.0},
    {"interpolate_type": "cubic"},
    optax.piecewise_interpolate_schedule,
  ),
  Sched(
    "cosine_onecycle_schedule",
    dict(transition_steps=50, peak_value=1.0, pct_start=0.3),
    lambda t: _interp(t, "cosine", [0, 15, 50], [1 / 25, 1.0, 1 / 25 / 1e4]),
    {
      "transition_steps": 40,
      "peak_value": 2.0,
      "pct_start": 0.25,
      "div_factor": 10.0,
      "final_div_factor": 100.0,
    },
    {"pct_start": 1.5, "transition_steps": 0},
    optax.cosine_onecycle_schedule,
  ),
  Sched(
    "linear_onecycle_schedule",
    dict(transition_steps=50, peak_value=1.0),
    lambda t: _interp(t, "linear", [0, 15, 42, 50], [1 / 25, 1.0, 1 / 25, 1 / 25 / 1e4]),
    {
      "transition_steps": 40,
      "peak_value": 2.0,
      "pct_start": 0.25,
      "pct_final": 0.9,
      "div_factor": 10.0,
      "final_div_factor": 100.0,
    },
    {"pct_final": 0.0},
    optax.linear_onecycle_schedule,
  ),
  Sched(
    "warmup_inverse_sqrt_schedule",
    dict(peak_value=1.0, warmup_steps=8),
    lambda t: t / 8 if t < 8 else math.sqrt(8 / t),
    {"peak_value": 0.5, "warmup_steps": 5, "init_value": 0.1},
    {"warmup_steps": 0},
  ),
  Sched(
    "warmup_stable_decay_schedule",
    dict(
      peak_value=1.0,
      warmup_steps=5,
      stable_steps=20,
      decay_steps=10,
      end_value=0.1,
      decay_type="sqrt",
    ),
    lambda t: _wsd(t, 1.0, 5, 20, 10, 0.0, 0.1, "sqrt"),
    {
      "peak_value": 0.5,
      "warmup_steps": 3,
      "stable_steps": 10,
      "decay_steps": 6,
      "init_value": 0.05,
      "end_value": 0.0,
    },
    {"decay_steps": 0, "decay_type": "step"},
  ),
  Sched(
    "triangular_cyclic_schedule",
    dict(base_value=0.1, max_value=1.0, step_size=6, mode="exp_range", gamma=0.97),
    lambda t: _triangular(t, 0.1, 1.0, 6, "exp_range", 0.97),
    {"base_value": 0.0, "max_value": 2.0, "step_size": 4, "gamma": 0.9},
    {"step_size": 0, "mode": "sine"},
  ),
  Sched(
    "precond_update_prob_schedule",
    dict(max_prob=0.9, min_prob=0.1, decay=0.05, flat_start=10),
    lambda t: min(max(0.9 * math.exp(-0.05 * (t - 10)), 0.1), 0.9),
    {"max_prob": 0.8, "min_prob": 0.2, "decay": 0.1, "flat_start": 5},
    {"max_prob": 1.5, "decay": -1.0},
  ),
]

SGDR_KWARGS = [
  dict(init_value=0.0, peak_value=1.0, warmup_steps=3, decay_steps=20),
  dict(init_value=0.0, peak_value=0.5, warmup_steps=2, decay_steps=15),
]

ALL_NAMES = {s.name for s in SCHEDULES} | {"sgdr_schedule", "join_schedules"}
