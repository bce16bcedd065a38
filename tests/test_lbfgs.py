"""L-BFGS: the two-loop direction against the explicit BFGS matrix, optax, and scipy."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

import jaxopt_notes as jon
from problems import CLASSICS, beale


def _bfgs_inverse_hessian(pairs, g, scale_init):
  """$H g$ from the explicit BFGS update over ``pairs`` (oldest first), in numpy."""
  n = g.size
  s, y = pairs[-1] if pairs else (None, None)
  gamma = (s @ y) / (y @ y) if pairs and scale_init else 1.0
  if scale_init and not pairs:
    gamma = min(1.0, 1.0 / np.linalg.norm(g))
  h = gamma * np.eye(n)
  for s, y in pairs:
    rho = 1.0 / (s @ y)
    v = np.eye(n) - rho * np.outer(y, s)
    h = v.T @ h @ v + rho * np.outer(s, s)
  return h @ g


@pytest.mark.parametrize("memory_size, scale_init", [(3, True), (3, False), (10, True)])
def test_direction_equals_the_explicit_bfgs_update(memory_size, scale_init):
  f = CLASSICS["rosenbrock_5d"][0]
  opt = jon.scale_by_lbfgs(memory_size, scale_init)
  update = jax.jit(opt.update)
  x = np.array([-1.2, 1.0, -1.2, 1.0, -1.2])
  state = opt.init(jnp.asarray(x))
  pairs, last = [], None
  for _ in range(7):
    g = np.asarray(jax.grad(f)(jnp.asarray(x)))
    if last is not None:
      pairs = (pairs + [(x - last[0], g - last[1])])[-memory_size:]
    direction, state = update(jnp.asarray(g), state, jnp.asarray(x))
    expected = _bfgs_inverse_hessian(pairs, g, scale_init)
    np.testing.assert_allclose(direction, expected, rtol=1e-9, atol=1e-12)
    last = (x, g)
    x = x - 2e-4 * np.asarray(direction) / max(1.0, np.linalg.norm(direction)) * 50


def test_direction_equals_optax_scale_by_lbfgs():
  f = beale
  ours, theirs = jon.scale_by_lbfgs(4), optax.scale_by_lbfgs(4)
  x = jnp.array([1.0, 1.0])
  s_ours, s_theirs = ours.init(x), theirs.init(x)
  for _ in range(8):
    g = jax.grad(f)(x)
    d_ours, s_ours = ours.update(g, s_ours, x)
    d_theirs, s_theirs = theirs.update(g, s_theirs, x)
    np.testing.assert_allclose(d_ours, d_theirs, rtol=1e-10)
    x = x - 0.05 * d_ours
  assert s_ours._fields == s_theirs._fields


def _solve(f, start, gtol=1e-8, limit=300):
  """Our L-BFGS until the largest gradient entry is at most ``gtol``; (x, iterations)."""
  opt = jon.lbfgs()
  value_and_grad = jon.value_and_grad_from_state(f)

  @jax.jit
  def step(x, state):
    value, grad = value_and_grad(x, state=state)
    updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
    return x + updates, state

  x = jnp.asarray(start)
  state, iterations = opt.init(x), 0
  while float(jnp.max(jnp.abs(jax.grad(f)(x)))) > gtol and iterations < limit:
    x, state = step(x, state)
    iterations += 1
  return x, iterations


@pytest.mark.parametrize("name", sorted(CLASSICS))
def test_same_minimizer_as_scipy_in_comparable_iterations(name):
  f, start, minimizer = CLASSICS[name]
  x, ours = _solve(f, start)
  theirs = scipy.optimize.minimize(
    lambda z: float(f(jnp.asarray(z))),
    np.asarray(start),
    jac=lambda z: np.asarray(jax.grad(f)(jnp.asarray(z))),
    method="L-BFGS-B",
    options={"maxcor": 10, "gtol": 1e-8, "ftol": 1e-15},
  )
  np.testing.assert_allclose(x, minimizer, atol=1e-7)
  np.testing.assert_allclose(theirs.x, minimizer, atol=1e-6)
  assert ours <= theirs.nit + 5, (ours, theirs.nit)


def test_state_keeps_its_shapes_and_dtypes_and_the_step_compiles_once():
  f = CLASSICS["rosenbrock"][0]
  opt = jon.lbfgs(memory_size=3)
  traces = []

  @jax.jit
  def step(x, state):
    traces.append(1)
    value, grad = jax.value_and_grad(f)(x)
    updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
    return x + updates, state

  x = jnp.array([-1.2, 1.0])
  state = first = opt.init(x)
  for _ in range(5):
    x, state = step(x, state)
  shape_of = lambda t: jax.tree.map(lambda a: (a.shape, a.dtype), t)  # noqa: E731
  assert shape_of(state) == shape_of(first) and len(traces) == 1


def test_lbfgs_runs_under_vmap_and_checks_memory_size():
  f = beale

  def run(x):
    opt = jon.lbfgs()

    def step(_, carry):  # one loop body: the step compiles once, not 30 times
      x, state = carry
      value, grad = jax.value_and_grad(f)(x)
      updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
      return x + updates, state

    return jax.lax.fori_loop(0, 30, step, (x, opt.init(x)))[0]

  ends = jax.jit(jax.vmap(run))(jnp.array([[1.0, 1.0], [2.0, 0.0]]))
  np.testing.assert_allclose(ends, [[3.0, 0.5], [3.0, 0.5]], atol=1e-6)
  with pytest.raises(ValueError, match="memory_size"):
    jon.lbfgs(memory_size=0)
