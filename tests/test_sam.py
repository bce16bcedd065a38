"""SAM wraps two optimizers, so it is not a registry entry (the shared tests build an optimizer
from a learning rate): its properties are checked here, against optax and a numpy reference."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_notes as jon
import references as ref

PARAMS = {"a": jnp.array([0.7, -1.2, 0.4]), "b": jnp.array([[0.3, -0.5], [1.1, 0.2]])}
SCALES = {"a": jnp.array([1.0, 3.0, 0.5]), "b": jnp.array([[2.0, 0.7], [1.5, 4.0]])}


def loss(params):
  return sum(jnp.sum(SCALES[k] * (params[k] ** 2 + 0.1 * params[k] ** 4)) for k in params)


def _transparent_run(opt, steps, params=PARAMS):
  state = opt.init(params)
  update = jax.jit(opt.update)
  outs = []
  for _ in range(steps):
    u, state = update(jax.grad(loss)(params), state, params)
    params = jon.apply_updates(params, u)
    outs.append(u)
  return outs, params, state


def _climb(lib, rho):
  return lib.chain(lib.contrib.normalize() if lib is optax else jon.normalize(), lib.sgd(rho))


@pytest.mark.parametrize("sync_period,reset_state", [(2, True), (3, True), (3, False)])
def test_transparent_equals_optax(sync_period, reset_state):
  ours, _, _ = _transparent_run(
    jon.sam(jon.adam(0.05), _climb(jon, 0.1), sync_period, reset_state), 9
  )
  theirs, _, _ = _transparent_run(
    optax.contrib.sam(optax.adam(0.05), _climb(optax, 0.1), sync_period, reset_state), 9
  )
  for t, (u, e) in enumerate(zip(ours, theirs)):
    for k in PARAMS:
      np.testing.assert_allclose(u[k], e[k], rtol=1e-12, atol=1e-15, err_msg=f"step {t + 1}")


def test_opaque_equals_optax():
  grad_fn = lambda p, i: jax.grad(loss)(p)  # noqa: E731
  results = []
  for lib, tx in ((jon, jon.sam), (optax, optax.contrib.sam)):
    opt = tx(lib.adam(0.05), _climb(lib, 0.1), sync_period=3, opaque_mode=True)
    params, state = PARAMS, opt.init(PARAMS)
    update = jax.jit(functools.partial(opt.update, grad_fn=grad_fn))
    for _ in range(4):
      u, state = update(jax.grad(loss)(params), state, params)
      params = jon.apply_updates(params, u)
    results.append(params)
  for k in PARAMS:
    np.testing.assert_allclose(results[0][k], results[1][k], rtol=1e-12)


def test_classic_sam_matches_numpy_reference():
  opt = jon.sam(jon.sgd(0.05), jon.chain(jon.normalize(), jon.sgd(0.1)))
  ours, params, _ = _transparent_run(opt, 8)
  grad = lambda p: {
    k: np.asarray(v)
    for k, v in jax.grad(loss)(  # noqa: E731
      {k: jnp.asarray(x) for k, x in p.items()}
    ).items()
  }
  expected = ref.sam(grad, PARAMS, 4, 0.05, 0.1)
  after = jax.tree.map(jnp.asarray, PARAMS)
  for t, u in enumerate(ours):
    after = jon.apply_updates(after, u)
    if t % 2 == 1:
      for k in PARAMS:
        np.testing.assert_allclose(after[k], expected[t // 2][k], rtol=1e-10, err_msg=f"{t}")


def test_jit_equals_eager_one_trace_and_stable_state():
  opt = jon.sam(jon.sgd(0.05, momentum=0.9), _climb(jon, 0.1), sync_period=3)
  traces = []

  def step(g, s, p):
    traces.append(1)
    return opt.update(g, s, p)

  jitted = jax.jit(step)
  params, state = PARAMS, opt.init(PARAMS)
  state0 = state
  for _ in range(5):
    g = jax.grad(loss)(params)
    (u, s_jit), (u_eager, s_eager) = jitted(g, state, params), opt.update(g, state, params)
    for x, y in zip(jax.tree.leaves((u, s_jit)), jax.tree.leaves((u_eager, s_eager))):
      np.testing.assert_allclose(x, y, rtol=1e-12)
    state, params = s_jit, jon.apply_updates(params, u)
  assert len(traces) == 1
  assert jax.tree.structure(state) == jax.tree.structure(state0)
  assert [x.dtype for x in jax.tree.leaves(state)] == [x.dtype for x in jax.tree.leaves(state0)]


def test_frozen_leaf_gets_zero_update_and_float32_is_kept():
  params = {"w": jnp.array([1.0, -2.0], jnp.float32), "n": jnp.array(3, jnp.int32)}
  opt = jon.sam(jon.adam(0.1), _climb(jon, 0.1))
  state = opt.init(params)
  for _ in range(2):
    grads = {"w": params["w"] * 2, "n": jnp.array(0, jnp.int32)}
    u, state = opt.update(grads, state, params)
    assert u["w"].dtype == jnp.float32 and int(u["n"]) == 0
    params = jon.apply_updates(params, u)
  assert int(params["n"]) == 3 and bool(jnp.all(jnp.isfinite(params["w"])))


def test_normalize_keeps_a_zero_gradient_finite():
  u, _ = jon.normalize().update({"a": jnp.zeros(3)}, jon.NormalizeState())
  np.testing.assert_array_equal(u["a"], np.zeros(3))


def test_bad_arguments_are_named():
  with pytest.raises(ValueError, match="sync_period"):
    jon.sam(jon.sgd(0.1), jon.sgd(0.1), sync_period=0)
  opt = jon.sam(jon.sgd(0.1), jon.sgd(0.1), opaque_mode=True)
  with pytest.raises(ValueError, match="grad_fn"):
    opt.update(PARAMS, opt.init(PARAMS), PARAMS)


def test_state_class_and_fields_match_optax():
  ours = jon.sam(jon.adam(0.1), jon.sgd(0.1)).init(PARAMS)
  theirs = optax.contrib.sam(optax.adam(0.1), optax.sgd(0.1)).init(PARAMS)
  assert (type(ours).__name__, ours._fields) == (type(theirs).__name__, theirs._fields)
  assert jax.tree.structure(ours.cache) == jax.tree.structure(theirs.cache)
