"""Schedules: numpy references, optax, and every numeric argument traced under vmap."""

import inspect

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_notes as jon
from schedule_registry import ALL_NAMES, SCHEDULES, SGDR_KWARGS, _warm_cos

STEPS = jnp.arange(0, 61, dtype=jnp.int32)  # the dtype of optimizer step counters
ENTRIES = pytest.mark.parametrize("entry", SCHEDULES, ids=repr)


def test_registry_covers_every_public_schedule():
  public = {n for n in jon.__all__ if n.endswith("_schedule") and not n.startswith("scale_by")}
  public |= {"exponential_decay", "join_schedules"}
  assert public == ALL_NAMES


@ENTRIES
def test_values_equal_the_numpy_reference(entry):
  values = jax.jit(jax.vmap(entry.factory(**entry.kwargs)))(STEPS)
  np.testing.assert_allclose(
    values, [entry.reference(int(t)) for t in STEPS], rtol=1e-12, atol=1e-14
  )


@ENTRIES
def test_values_equal_optax(entry):
  if entry.optax_twin is None:
    pytest.skip("optax has no such schedule")
  ours = entry.factory(**entry.kwargs)
  theirs = entry.optax_twin(**entry.kwargs)
  # Python-int steps: optax turns an int32 count into float32 values even with x64 on.
  steps = [int(t) for t in STEPS]
  np.testing.assert_allclose(
    [ours(t) for t in steps], [theirs(t) for t in steps], rtol=1e-12, atol=1e-14
  )


@ENTRIES
def test_every_numeric_argument_can_be_swept_with_vmap(entry):
  for name, alt in entry.sweep.items():
    default = entry.kwargs.get(name, inspect.signature(entry.factory).parameters[name].default)
    values = jnp.array([default, alt], dtype=jnp.float64)

    def curve(v, name=name):
      return jax.vmap(entry.factory(**{**entry.kwargs, name: v}))(STEPS)

    swept = jax.jit(jax.vmap(curve))(values)
    for i, v in enumerate((default, alt)):
      np.testing.assert_allclose(swept[i], curve(v), rtol=1e-12, atol=1e-14, err_msg=name)


@ENTRIES
def test_concrete_bad_arguments_raise_naming_them(entry):
  for name, bad in entry.invalid.items():
    with pytest.raises(ValueError, match=name):
      entry.factory(**{**entry.kwargs, name: bad})


@ENTRIES
def test_gradient_through_the_values_is_finite(entry):
  value_args = [k for k in entry.sweep if "steps" not in k and k not in ("transition_begin",)]
  for name in value_args:
    grad = jax.grad(
      lambda v, name=name: jnp.sum(jax.vmap(entry.factory(**{**entry.kwargs, name: v}))(STEPS))
    )(float(entry.kwargs.get(name, entry.sweep[name])))
    assert np.isfinite(grad), name


def test_sgdr_restarts_and_equals_optax():
  ours = jon.sgdr_schedule(SGDR_KWARGS)
  theirs = optax.sgdr_schedule(SGDR_KWARGS)
  expected = [
    _warm_cos(t, 0.0, 1.0, 3, 20) if t < 20 else _warm_cos(t - 20, 0.0, 0.5, 2, 15)
    for t in range(60)
  ]
  np.testing.assert_allclose([ours(t) for t in range(60)], expected, rtol=1e-12, atol=1e-14)
  np.testing.assert_allclose(
    [ours(t) for t in range(60)], [theirs(t) for t in range(60)], rtol=1e-12, atol=1e-14
  )


def test_sgdr_cycle_lengths_can_be_swept():
  def curve(length):
    kwargs = [dict(SGDR_KWARGS[0], decay_steps=length), SGDR_KWARGS[1]]
    return jax.vmap(jon.sgdr_schedule(kwargs))(STEPS)

  lengths = jnp.array([20.0, 30.0])
  swept = jax.vmap(curve)(lengths)
  for i in range(2):
    np.testing.assert_allclose(swept[i], curve(float(lengths[i])), rtol=1e-12)


def test_join_schedules_with_traced_boundaries():
  def curve(b):
    return jax.vmap(
      jon.join_schedules([jon.constant_schedule(1.0), jon.constant_schedule(2.0)], [b])
    )(STEPS)

  swept = jax.vmap(curve)(jnp.array([5, 9]))
  np.testing.assert_array_equal(swept[0], np.where(STEPS < 5, 1.0, 2.0))
  np.testing.assert_array_equal(swept[1], np.where(STEPS < 9, 1.0, 2.0))
  with pytest.raises(ValueError, match="boundaries"):
    jon.join_schedules([jon.constant_schedule(1.0)], [3])


def test_warmup_cosine_needs_decay_steps_beyond_warmup():
  with pytest.raises(ValueError, match="decay_steps"):
    jon.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=10, decay_steps=10)


def test_inverse_sqrt_is_the_transformer_schedule():
  d_model, warmup = 512, 40
  sched = jon.warmup_inverse_sqrt_schedule(d_model**-0.5 * warmup**-0.5, warmup)
  for t in range(1, 200):
    expected = d_model**-0.5 * min(t**-0.5, t * warmup**-1.5)
    np.testing.assert_allclose(sched(t), expected, rtol=1e-12)


def test_schedules_drive_an_optimizer_under_jit_without_retracing():
  chex.clear_trace_counter()
  opt = jon.sgd(jon.warmup_cosine_decay_schedule(0.0, 1.0, 3, 10))

  @jax.jit
  @chex.assert_max_traces(n=1)
  def step(g, state):
    return opt.update(g, state)

  state = opt.init(jnp.zeros(()))
  seen = []
  for _ in range(12):
    u, state = step(jnp.asarray(1.0), state)
    seen.append(-float(u))
  np.testing.assert_allclose(seen, [_warm_cos(t, 0.0, 1.0, 3, 10) for t in range(12)], rtol=1e-12)


def test_warmup_cosine_with_a_zero_peak_stays_at_zero_as_optax():
  # The decay is relative to the peak: from a peak of 0 the value stays 0,
  # never rises (or falls) to end_value -- a negative rate would ascend.
  for end_value in (-3.0, 0.1):
    kwargs = dict(
      init_value=0.2, peak_value=0.0, warmup_steps=5, decay_steps=10, end_value=end_value
    )
    ours, theirs = (
      jon.warmup_cosine_decay_schedule(**kwargs),
      optax.warmup_cosine_decay_schedule(**kwargs),
    )
    values = [float(ours(t)) for t in range(14)]
    np.testing.assert_allclose(values, [float(theirs(t)) for t in range(14)], rtol=1e-12)
    np.testing.assert_allclose(
      values, [_warm_cos(t, 0.2, 0.0, 5, 10, end_value) for t in range(14)], rtol=1e-12
    )
    assert values[5:] == [0.0] * 9


B = 10**10  # a step count far beyond int32
# (name, arguments with step counts beyond int32, step, the value from the formula)
HUGE_STEPS = [
  ("linear_schedule", dict(init_value=1.0, end_value=0.0, transition_steps=B), B // 4, 0.75),
  (
    "linear_schedule",
    dict(init_value=1.0, end_value=0.0, transition_steps=100, transition_begin=B),
    B + 50,
    0.5,
  ),
  (
    "polynomial_schedule",
    dict(init_value=1.0, end_value=0.0, power=2, transition_steps=B),
    B // 2,
    0.25,
  ),
  ("exponential_decay", dict(init_value=1.0, transition_steps=B, decay_rate=0.5), 2 * B, 0.25),
  (
    "exponential_decay",
    dict(init_value=1.0, transition_steps=10, decay_rate=0.5, transition_begin=B),
    B + 10,
    0.5,
  ),
  ("cosine_decay_schedule", dict(init_value=1.0, decay_steps=B), B // 2, 0.5),
  ("cosine_decay_schedule", dict(init_value=1.0, decay_steps=B), 2**40, 0.0),
  (
    "warmup_cosine_decay_schedule",
    dict(init_value=0.0, peak_value=1.0, warmup_steps=B, decay_steps=3 * B),
    2 * B,
    0.5,
  ),
  ("warmup_constant_schedule", dict(init_value=0.0, peak_value=1.0, warmup_steps=B), B // 2, 0.5),
  (
    "warmup_exponential_decay_schedule",
    dict(init_value=0.0, peak_value=1.0, warmup_steps=B, transition_steps=B, decay_rate=0.5),
    2 * B,
    0.5,
  ),
  ("piecewise_constant_schedule", dict(init_value=1.0, boundaries_and_scales={B: 0.5}), B - 1, 1.0),
  ("piecewise_constant_schedule", dict(init_value=1.0, boundaries_and_scales={B: 0.5}), B, 0.5),
  (
    "piecewise_interpolate_schedule",
    dict(interpolate_type="linear", init_value=1.0, boundaries_and_scales={B: 0.5}),
    B // 2,
    0.75,
  ),
  ("cosine_onecycle_schedule", dict(transition_steps=B, peak_value=1.0), 3 * B // 10, 1.0),
  ("linear_onecycle_schedule", dict(transition_steps=B, peak_value=1.0), 3 * B // 10, 1.0),
  ("warmup_inverse_sqrt_schedule", dict(peak_value=1.0, warmup_steps=B), 4 * B, 0.5),
  (
    "warmup_stable_decay_schedule",
    dict(peak_value=1.0, warmup_steps=B, stable_steps=B, decay_steps=B),
    5 * B // 2,
    0.5,
  ),
  ("triangular_cyclic_schedule", dict(base_value=0.0, max_value=1.0, step_size=B), B // 2, 0.5),
]


@pytest.mark.parametrize(
  "name, kwargs, step, expected", HUGE_STEPS, ids=[f"{c[0]}-{i}" for i, c in enumerate(HUGE_STEPS)]
)
def test_python_int_steps_beyond_int32_give_the_formulas_value(name, kwargs, step, expected):
  # Without x64 (float32 values, int32 counters): neither the step nor the step
  # arguments may go through int32, and differences of integers stay exact.
  with jax.enable_x64(False):
    schedule = getattr(jon, name)(**kwargs)
    for count in (step, np.int64(step)):
      np.testing.assert_allclose(float(schedule(count)), expected, rtol=1e-6, atol=1e-7)
    if hasattr(optax, name):  # where optax gets a value, it is the same
      try:
        theirs = float(getattr(optax, name)(**kwargs)(step))
      except OverflowError:
        return
      np.testing.assert_allclose(float(schedule(step)), theirs, rtol=1e-6, atol=1e-7)


@ENTRIES
def test_registry_schedules_at_huge_python_int_steps(entry):
  with jax.enable_x64(False):
    schedule = entry.factory(**entry.kwargs)
    for step in (2**31, 10**10, 2**40, 2**63 - 1):
      np.testing.assert_allclose(float(schedule(step)), entry.reference(step), rtol=1e-6, atol=1e-9)
