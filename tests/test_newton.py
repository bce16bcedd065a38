"""Newton (dense and CG) and preconditioned descent against numpy and scipy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import jaxopt_notes as jon
from problems import CLASSICS, logistic_ridge


def _spd(seed, n):
  rng = np.random.default_rng(seed)
  m = rng.normal(size=(n, n))
  return m @ m.T + 0.5 * np.eye(n), rng.normal(size=n)


def _tree_quadratic(a, b):
  """$\\tfrac12 x^\\top A x - b^\\top x$ over params {'u': (3,), 'v': (2,)} (raveled u then v)."""

  def f(p):
    x = jnp.concatenate([p["u"], p["v"]])
    return 0.5 * x @ jnp.asarray(a) @ x - jnp.asarray(b) @ x

  return f


def _step(opt, f):
  @jax.jit
  def step(x, state):
    value, grad = jax.value_and_grad(f)(x)
    updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
    return jon.apply_updates(x, updates), state

  return step


@pytest.mark.parametrize(
  "make", [jon.newton, lambda: jon.newton_cg(tol=1e-13)], ids=["dense", "cg"]
)
def test_one_undamped_step_reaches_the_minimizer_of_a_quadratic(make):
  a, b = _spd(0, 5)
  f = _tree_quadratic(a, b)
  start = {"u": jnp.array([1.0, -2.0, 0.5]), "v": jnp.array([3.0, 0.0])}
  opt = make()
  x, _ = _step(opt, f)(start, opt.init(start))
  np.testing.assert_allclose(
    np.concatenate([x["u"], x["v"]]), np.linalg.solve(a, b), rtol=1e-10, atol=1e-12
  )


def test_newton_converges_quadratically_on_a_strongly_convex_problem():
  ref = scipy.optimize.minimize(
    lambda w: float(logistic_ridge(jnp.asarray(w))),
    np.zeros(3),
    jac=lambda w: np.asarray(jax.grad(logistic_ridge)(jnp.asarray(w))),
    hess=lambda w: np.asarray(jax.hessian(logistic_ridge)(jnp.asarray(w))),
    method="trust-exact",
    options={"gtol": 1e-14},
  )
  opt = jon.newton()
  step = _step(opt, logistic_ridge)
  x, state = jnp.zeros(3), opt.init(jnp.zeros(3))
  errors = [np.linalg.norm(np.asarray(x) - ref.x)]
  for _ in range(6):
    x, state = step(x, state)
    errors.append(np.linalg.norm(np.asarray(x) - ref.x))
  # the error roughly squares each step until it reaches rounding level
  big = [(e0, e1) for e0, e1 in zip(errors, errors[1:], strict=False) if e1 > 1e-13]
  assert len(big) >= 3
  for e0, e1 in big:
    assert e1 <= 2.0 * e0**2, errors
  assert errors[-1] < 1e-13


def test_damping_solves_the_shifted_system():
  a, b = _spd(1, 4)
  a = a - 3.0 * np.eye(4)  # indefinite
  f = lambda x: 0.5 * x @ jnp.asarray(a) @ x - jnp.asarray(b) @ x  # noqa: E731
  x = jnp.array([0.5, -1.0, 2.0, 0.0])
  g = a @ np.asarray(x) - b
  for damping in (3.0 + 1.0, 10.0):
    opt = jon.scale_by_newton(damping=damping)
    direction, state = opt.update(jnp.asarray(g), opt.init(x), x, value_fn=f)
    np.testing.assert_allclose(direction, np.linalg.solve(a + damping * np.eye(4), g), rtol=1e-10)
    assert bool(state.is_positive_definite) == bool(np.all(np.linalg.eigvalsh(a) + damping > 0))


def test_newton_at_a_saddle_falls_back_to_the_gradient_unless_told_not_to():
  f = lambda x: x[0] ** 2 - x[1] ** 2  # noqa: E731
  x = jnp.array([0.1, 1.0])
  g = jax.grad(f)(x)
  plain = jon.newton(fallback_to_gradient=False)
  updates, state = plain.update(g, plain.init(x), x, value_fn=f)
  assert not bool(state[0].is_positive_definite)
  assert float(f(x + updates)) > float(f(x))  # unmodified Newton climbs here
  safe = jon.newton(linesearch=jon.scale_by_backtracking_linesearch(20))
  updates, state = safe.update(g, safe.init(x), x, value=f(x), grad=g, value_fn=f)
  assert not bool(state[0].is_positive_definite)
  np.testing.assert_allclose(updates, -state[-1].learning_rate * g, rtol=1e-12)
  assert float(f(x + updates)) < float(f(x))


def test_newton_cg_matches_dense_newton_and_stops_on_negative_curvature():
  f = logistic_ridge
  x = jnp.array([0.3, -0.2, 1.0])
  g = jax.grad(f)(x)
  dense, cg = jon.scale_by_newton(), jon.scale_by_newton_cg(tol=1e-13)
  d_dense, _ = dense.update(g, dense.init(x), x, value_fn=f)
  d_cg, state = cg.update(g, cg.init(x), x, value_fn=f)
  np.testing.assert_allclose(d_cg, d_dense, rtol=1e-9)
  assert 1 <= int(state.num_hvp) <= 3 and not bool(state.negative_curvature)
  # negative curvature along the gradient at once: the gradient itself comes back
  saddle = lambda x: -jnp.sum(x**2)  # noqa: E731
  x = jnp.array([1.0, 2.0])
  d, state = cg.update(jax.grad(saddle)(x), cg.init(x), x, value_fn=saddle)
  np.testing.assert_allclose(d, jax.grad(saddle)(x))
  assert bool(state.negative_curvature) and int(state.num_hvp) == 1


def test_newton_cg_on_a_problem_too_large_for_a_dense_hessian():
  n = 3000  # a dense Hessian would hold 9e6 entries
  c = jnp.linspace(2.0, 10.0, n)
  f = lambda x: 0.5 * jnp.sum(c * x**2) + jnp.sum(jnp.cos(x))  # noqa: E731  (Hessian >= 1)
  opt = jon.newton_cg(tol=1e-10, maxiter=50)
  step = _step(opt, f)
  x, state = jnp.ones(n), opt.init(jnp.ones(n))
  for _ in range(6):
    x, state = step(x, state)
  assert float(jnp.max(jnp.abs(jax.grad(f)(x)))) < 1e-10
  assert int(state[0].num_hvp) <= 50


@pytest.mark.parametrize("name", ["rosenbrock", "beale", "booth"])
def test_newton_with_backtracking_against_scipy_newton_cg(name):
  f, start, minimizer = CLASSICS[name]
  opt = jon.newton(linesearch=jon.scale_by_backtracking_linesearch(30, decrease_factor=0.5))
  step = _step(opt, f)
  x, state = jnp.asarray(start), opt.init(jnp.asarray(start))
  ours = 0
  while float(jnp.max(jnp.abs(jax.grad(f)(x)))) > 1e-8 and ours < 100:
    x, state = step(x, state)
    ours += 1
  theirs = scipy.optimize.minimize(
    lambda z: float(f(jnp.asarray(z))),
    np.asarray(start),
    jac=lambda z: np.asarray(jax.grad(f)(jnp.asarray(z))),
    hess=lambda z: np.asarray(jax.hessian(f)(jnp.asarray(z))),
    method="Newton-CG",
    options={"xtol": 1e-12},
  )
  np.testing.assert_allclose(x, minimizer, atol=1e-7)
  np.testing.assert_allclose(theirs.x, minimizer, atol=1e-5)
  assert ours <= theirs.nit + 2, (ours, theirs.nit)


def test_newton_runs_under_vmap_over_starting_points():
  opt = jon.newton()
  step = _step(opt, logistic_ridge)

  def run(x):
    state = opt.init(x)
    for _ in range(8):
      x, state = step(x, state)
    return x

  starts = jnp.array([[0.0, 0.0, 0.0], [1.0, -1.0, 2.0]])
  ends = jax.vmap(run)(starts)
  np.testing.assert_allclose(ends[0], ends[1], rtol=1e-12)
  np.testing.assert_allclose(ends[0], run(starts[0]), rtol=1e-12)


def test_preconditioned_descent_with_diagonal_dense_and_operator_preconditioners():
  a, b = _spd(2, 5)
  f = _tree_quadratic(a, b)
  params = {"u": jnp.array([1.0, -2.0, 0.5]), "v": jnp.array([3.0, 0.0])}
  g = jax.grad(f)(params)
  flat_g = np.concatenate([g["u"], g["v"]])
  diag = {"u": jnp.array([0.5, 1.0, 2.0]), "v": jnp.array(0.25)}
  dense = np.linalg.inv(a)
  operator = lambda t: jax.tree.map(lambda x: 3.0 * x, t)  # noqa: E731
  expected = [np.concatenate([diag["u"] * g["u"], 0.25 * g["v"]]), dense @ flat_g, 3.0 * flat_g]
  for p, want in zip([diag, jnp.asarray(dense), operator], expected, strict=True):
    opt = jon.preconditioned_sgd(0.1, p)
    updates, _ = jax.jit(opt.update)(g, opt.init(params))
    np.testing.assert_allclose(
      np.concatenate([updates["u"], updates["v"]]), -0.1 * want, rtol=1e-12
    )
  # the inverse Hessian as preconditioner is Newton's method: one step to the minimum
  opt = jon.preconditioned_sgd(1.0, jnp.asarray(dense))
  updates, _ = opt.update(g, opt.init(params))
  x = jon.apply_updates(params, updates)
  np.testing.assert_allclose(np.concatenate([x["u"], x["v"]]), np.linalg.solve(a, b), rtol=1e-10)
  with pytest.raises(ValueError, match=r"\(5, 5\)"):
    jon.scale_by_preconditioner(jnp.eye(4)).update(g, None)


def test_newton_hyperparameters_are_checked_by_name():
  with pytest.raises(ValueError, match="damping"):
    jon.newton(damping=-1.0)
  with pytest.raises(ValueError, match="maxiter"):
    jon.newton_cg(maxiter=0)
  with pytest.raises(ValueError, match="learning_rate"):
    jon.newton(learning_rate=float("nan"))
