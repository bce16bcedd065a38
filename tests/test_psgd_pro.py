"""PSGD-PRO: the steps that refit follow the running sum of the update probability, and
float32 factors stay float32 under float64 hyperparameters."""

import jax
import jax.numpy as jnp
import numpy as np

import jaxopt_notes as jon

PARAMS = {"w": jnp.ones((3, 2), jnp.float32), "b": jnp.ones(3, jnp.float32)}


def test_a_constant_probability_of_a_quarter_refits_every_fourth_step():
  opt = jon.scale_by_psgd_pro(preconditioner_update_probability=0.25)
  state, step = opt.init(PARAMS), jax.jit(opt.update)
  refitted = []
  for t in range(1, 9):
    grads = jax.tree.map(lambda p: jnp.cos(t * p + jnp.arange(p.size).reshape(p.shape)), PARAMS)
    before = state.Qs_preconditioners
    _, state = step(grads, state)
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), before, state.Qs_preconditioners)
    refitted.append(any(jax.tree.leaves(moved)))
  assert refitted == [t % 4 == 0 for t in range(1, 9)], refitted


def test_float32_factors_stay_float32_under_float64_hyperparameters():
  """A traced float64 preconditioner_lr once made a diagonal factor's step float64, which
  the refit's two branches then disagreed on."""

  def two_steps(lr, precond_lr, beta, dampening):
    opt = jon.psgd_pro(
      lr,
      preconditioner_lr=precond_lr,
      lower_bound_beta=beta,
      dampening=dampening,
      preconditioner_update_probability=1.0,
    )
    state = opt.init(PARAMS)
    for _ in range(2):
      updates, state = opt.update(PARAMS, state, PARAMS)
    return updates, state[0]

  hyper = [jnp.asarray(x, jnp.float64) for x in (0.1, 0.2, 0.5, 1e-6)]
  updates, state = jax.jit(two_steps)(*hyper)
  kept = (updates, state.mu, state.Qs_preconditioners, state.lower_bounds)
  assert {x.dtype for x in jax.tree.leaves(kept)} == {np.dtype(np.float32)}
