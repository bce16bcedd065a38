"""Schedule-Free: b1 = 0 is plain SGD with a weighted average, warmup weights, optax's gaps."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxopt_notes as jon

GRADS = [jnp.asarray(g) for g in np.random.default_rng(3).normal(size=(7, 3))]
START = jnp.array([1.0, -2.0, 0.5])


def _run(opt, grads=GRADS):
  params, state, trail = START, opt.init(START), []
  for g in grads:
    u, state = jax.jit(opt.update)(g, state, params)
    params = jon.apply_updates(params, u)
    trail.append((params, jon.schedule_free_eval_params(state, params), state))
  return trail


def test_with_b1_zero_the_params_follow_sgd_and_the_evaluation_point_averages_them():
  lr, power = 0.1, 2.0
  trail = _run(jon.schedule_free_sgd(lr, b1=0.0, weight_lr_power=power))
  sgd = [START]
  for g in GRADS:
    sgd.append(sgd[-1] - lr * g)
  for t, (params, x, _) in enumerate(trail, start=1):
    np.testing.assert_allclose(params, sgd[t], rtol=1e-14)  # SGD up to rounding: y = z
    # constant lr: every weight is lr^power, so x is the plain mean of z_1..z_t
    np.testing.assert_allclose(x, np.mean(sgd[1 : t + 1], axis=0), rtol=1e-12)


def test_warmup_weights_follow_the_largest_rate_to_the_power():
  lr, warmup, power = 0.2, 4, 1.5
  trail = _run(jon.schedule_free_sgd(lr, warmup_steps=warmup, b1=0.0, weight_lr_power=power))
  rates = [lr * min(1.0, t / warmup) for t in range(1, len(GRADS) + 1)]
  weights = [max(rates[:t]) ** power for t in range(1, len(GRADS) + 1)]
  z = [START]
  for g, gamma in zip(GRADS, rates):
    z.append(z[-1] - gamma * g)
  for t, (params, x, state) in enumerate(trail, start=1):
    np.testing.assert_allclose(params, z[t], rtol=1e-12)
    np.testing.assert_allclose(state.weight_sum, sum(weights[:t]), rtol=1e-12)
    np.testing.assert_allclose(state.max_lr, max(rates[:t]), rtol=1e-12)
    expected = sum(w * zi for w, zi in zip(weights[:t], z[1 : t + 1])) / sum(weights[:t])
    np.testing.assert_allclose(x, expected, rtol=1e-12)
    assert int(state.step_count) == t + 1  # counts from 1, as optax's


def test_optax_wastes_the_first_warmup_step_and_fails_at_b1_zero():
  """optax's base SGD reads its schedule at count 0 (rate 0); ours and the paper give lr / T."""
  theirs = optax.contrib.schedule_free_sgd(0.1, warmup_steps=5)
  u, _ = theirs.update(GRADS[0], theirs.init(START), START)
  np.testing.assert_array_equal(u, jnp.zeros(3))
  ours = jon.schedule_free_sgd(0.1, warmup_steps=5)
  u, _ = ours.update(GRADS[0], ours.init(START), START)
  np.testing.assert_allclose(u, -0.1 / 5 * GRADS[0], rtol=1e-12)
  zero = optax.contrib.schedule_free_sgd(0.1, b1=0.0)
  u, _ = zero.update(GRADS[0], zero.init(START), START)
  assert bool(jnp.all(jnp.isnan(u)))


def test_update_needs_the_params():
  opt = jon.schedule_free_sgd()
  try:
    opt.update(GRADS[0], opt.init(START))
  except ValueError as err:
    assert "params" in str(err)
  else:
    raise AssertionError("no error without params")
