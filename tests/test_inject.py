"""inject_hyperparams over every optimizer; reduce_on_plateau against a hand-worked sequence."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_notes as jon
from registry import REGISTRY
from test_conformance import GRADS, PARAMS, _rollout

ENTRIES = pytest.mark.parametrize("entry", REGISTRY, ids=repr)


def _injected(entry, lr=0.01, **overrides):
  return entry.make(lr, factory=jon.inject_hyperparams(entry.factory, entry.static), **overrides)


@ENTRIES
def test_injected_optimizer_equals_the_plain_one(entry):
  plain, injected = entry.make(0.01), _injected(entry)
  expected, _ = _rollout(plain, plain.update)
  got, state = _rollout(injected, injected.update)
  chex.assert_trees_all_close(got, expected, rtol=1e-14, atol=1e-16)
  assert float(state.hyperparams[entry.learning_rate_name]) == 0.01
  assert int(state.count) == len(GRADS)
  for name in entry.sweep:
    assert name in state.hyperparams, name


@ENTRIES
def test_overwriting_a_hyperparameter_takes_effect_without_recompiling(entry):
  opt = _injected(entry)
  chex.clear_trace_counter()

  @jax.jit
  @chex.assert_max_traces(n=1)
  def step(grads, state):
    return opt.update(grads, state, PARAMS, value=jnp.asarray(1.0))

  state = opt.init(PARAMS)
  _, state = step(GRADS[0], state)
  outs = []
  for lr in (0.01, 0.02):
    hyper = {**state.hyperparams, entry.learning_rate_name: jnp.asarray(lr, jnp.float64)}
    outs.append(step(GRADS[1], state._replace(hyperparams=hyper))[0])
  if entry.lr_only_at_init:  # the learning rate was read by init only
    chex.assert_trees_all_close(outs[0], outs[1], rtol=1e-14)
  elif entry.lr_is_last:
    chex.assert_trees_all_close(jax.tree.map(lambda u: 2 * u, outs[0]), outs[1], rtol=1e-12)
  else:
    assert not np.allclose(outs[0]["w"], outs[1]["w"], atol=0)  # learned steps can be tiny


@ENTRIES
def test_vmap_over_injected_state_equals_separate_runs(entry):
  """Batch the stored learning rate of one state; vmap the step over it."""
  if entry.lr_only_at_init:
    pytest.skip("the learning rate is read by init only, not by the step (registry)")
  opt = _injected(entry)
  lrs = jnp.array([0.003, 0.01, 0.05])
  state = opt.init(PARAMS)
  batched = state._replace(hyperparams={**state.hyperparams, entry.learning_rate_name: lrs})
  axes = state._replace(
    count=None,
    inner_state=jax.tree.map(lambda _: None, state.inner_state),
    hyperparams={k: (0 if k == entry.learning_rate_name else None) for k in state.hyperparams},
  )
  step = jax.vmap(
    lambda s: opt.update(GRADS[0], s, PARAMS, value=jnp.asarray(1.0))[0], in_axes=(axes,)
  )
  swept = step(batched)
  for i, lr in enumerate(lrs):
    single = entry.make(float(lr))
    expected, _ = single.update(GRADS[0], single.init(PARAMS), PARAMS, value=jnp.asarray(1.0))
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], swept), expected, rtol=1e-12)


def test_schedules_are_evaluated_at_the_step_and_stored():
  sched = jon.linear_schedule(0.1, 0.0, 4)
  opt = jon.inject_hyperparams(jon.sgd)(learning_rate=sched, momentum=0.5)
  state = opt.init(PARAMS)
  for t in range(6):
    _, state = opt.update(GRADS[0], state)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(float(sched(t)))
  assert float(state.hyperparams["momentum"]) == 0.5
  assert state.hyperparams["learning_rate"].dtype == jnp.float64


def test_hyperparams_follow_the_params_dtype_or_the_requested_one():
  p32 = {"w": jnp.ones(2, jnp.float32)}
  assert jon.inject_hyperparams(jon.adam)(0.1).init(p32).hyperparams["b1"].dtype == jnp.float32
  opt = jon.inject_hyperparams(jon.adam, hyperparam_dtype=jnp.float64)(0.1)
  assert opt.init(p32).hyperparams["b1"].dtype == jnp.float64


def test_static_args_stay_python_values_and_are_checked():
  opt = jon.inject_hyperparams(jon.sgd, static_args="momentum")(0.1, momentum=0.9)
  assert set(opt.init(PARAMS).hyperparams) == {"learning_rate"}
  with pytest.raises(ValueError, match="static_args"):
    jon.inject_hyperparams(jon.sgd, static_args=("beta",))


def test_injected_state_field_names_match_optax():
  ours = jon.inject_hyperparams(jon.adam)(0.1).init(PARAMS)
  theirs = optax.inject_hyperparams(optax.adam)(0.1).init(PARAMS)
  assert set(ours.hyperparams) == set(theirs.hyperparams)
  assert {"count", "hyperparams", "inner_state"} <= set(theirs._fields)


def test_concrete_injected_values_are_still_validated_at_build():
  with pytest.raises(ValueError, match="b1"):
    jon.inject_hyperparams(jon.adam)(0.1, b1=1.5).init(PARAMS)


# ------------------------------------------------------------ reduce_on_plateau


def _scales(tx, losses):
  state = tx.init(PARAMS)
  out = []
  for f in losses:
    _, state = tx.update(GRADS[0], state, PARAMS, value=jnp.asarray(f))
    out.append(float(state.scale))
  return out


def test_reduce_on_plateau_hand_worked():
  # patience 2: two windows without improvement halve the scale; cooldown 1
  # skips the next window; improvement (by more than rtol) resets the count.
  losses = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85]
  expected = [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25]
  tx = jon.reduce_on_plateau(factor=0.5, patience=2, cooldown=1)
  assert _scales(tx, losses) == expected


def test_reduce_on_plateau_windows_and_floor():
  # windows of 2 losses: means 1.0, 1.0, 1.0 -> the second and third do not improve
  tx = jon.reduce_on_plateau(factor=0.1, patience=1, accumulation_size=2, min_scale=0.05)
  assert _scales(tx, [1.5, 0.5, 1.0, 1.0, 0.9, 1.1]) == [1, 1, 1, 0.1, 0.1, 0.05]


def test_reduce_on_plateau_scales_updates_and_equals_optax():
  losses = [3.0, 2.0, 2.1, 2.05, 2.2, 1.0, 1.1, 1.2, 1.3, 0.5, 0.6, 0.7]
  kwargs = dict(factor=0.3, patience=2, rtol=1e-3, atol=0.01, cooldown=2, accumulation_size=1)
  ours, theirs = jon.reduce_on_plateau(**kwargs), optax.contrib.reduce_on_plateau(**kwargs)
  s_ours, s_theirs = ours.init(PARAMS), theirs.init(PARAMS)
  for f in losses:
    u_ours, s_ours = ours.update(GRADS[0], s_ours, PARAMS, value=jnp.asarray(f))
    u_theirs, s_theirs = theirs.update(GRADS[0], s_theirs, PARAMS, value=jnp.asarray(f))
    chex.assert_trees_all_close(u_ours, u_theirs, rtol=1e-12)
    for field in s_theirs._fields:
      np.testing.assert_allclose(getattr(s_ours, field), getattr(s_theirs, field), err_msg=field)


def test_reduce_on_plateau_validation_and_missing_loss():
  with pytest.raises(ValueError, match="factor"):
    jon.reduce_on_plateau(factor=1.5)
  with pytest.raises(ValueError, match="patience"):
    jon.reduce_on_plateau(patience=0)
  with pytest.raises(ValueError, match="rtol"):
    jon.reduce_on_plateau(rtol=0.0, atol=0.0)
  tx = jon.reduce_on_plateau()
  with pytest.raises(ValueError, match="value=loss"):
    tx.update(GRADS[0], tx.init(PARAMS))
