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
  np.testing.assert_allclose(values, [entry.reference(int(t)) for t in STEPS],
                             rtol=1e-12, atol=1e-14)


@ENTRIES
def test_values_equal_optax(entry):
  if entry.optax_twin is None:
    pytest.skip("optax has no such schedule")
  ours = entry.factory(**entry.kwargs)
  theirs = entry.optax_twin(**entry.kwargs)
  # Python-int steps: optax turns an int32 count into float32 values even with x64 on.
  steps = [int(t) for t in STEPS]
  np.testing.assert_allclose([ours(t) for t in steps], [theirs(t) for t in steps],
                             rtol=1e-12, atol=1e-14)


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
    grad = jax.grad(lambda v, name=name: jnp.sum(
        jax.vmap(entry.factory(**{**entry.kwargs, name: v}))(STEPS)))(
            float(entry.kwargs.get(name, entry.sweep[name])))
    assert np.isfinite(grad), name


def test_sgdr_restarts_and_equals_optax():
  ours = jon.sgdr_schedule(SGDR_KWARGS)
  theirs = optax.sgdr_schedule(SGDR_KWARGS)
  expected = [_warm_cos(t, 0.0, 1.0, 3, 20) if t < 20 else _warm_cos(t - 20, 0.0, 0.5, 2, 15)
              for t in range(60)]
  np.testing.assert_allclose([ours(t) for t in range(60)], expected, rtol=1e-12, atol=1e-14)
  np.testing.assert_allclose([ours(t) for t in range(60)], [theirs(t) for t in range(60)],
                             rtol=1e-12, atol=1e-14)


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
    return jax.vmap(jon.join_schedules([jon.constant_schedule(1.0), jon.constant_schedule(2.0)],
                                       [b]))(STEPS)
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
