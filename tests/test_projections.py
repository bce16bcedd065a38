"""Projections: in the set, idempotent, nearest (property tests); projected descent."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxopt_notes as jon
from jaxopt_notes import projections as P

TOL = 1e-9


def _flat(tree):
  return np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)])


def _tree(v):
  """A two-leaf pytree from a flat vector: the projections act on all leaves at once."""
  return {"a": jnp.asarray(v[:-1]), "b": jnp.asarray(v[-1])}


# name -> (projection of (tree, rng-drawn parameters), membership test on the flat
# vector, sampler of points of the set, convex?)
def _sets(n, rng):
  s = float(rng.uniform(0.5, 3.0))
  lo = rng.uniform(-2, 0, n)
  hi = lo + rng.uniform(0.1, 2, n)
  a = rng.normal(size=n)
  b = float(rng.normal())
  dirichlet = lambda k: rng.dirichlet(np.ones(n), k) * s  # noqa: E731
  signs = lambda k: rng.choice([-1.0, 1.0], (k, n))  # noqa: E731
  unit = lambda k: (lambda z: z / np.linalg.norm(z, axis=1, keepdims=True))(  # noqa: E731
    rng.normal(size=(k, n))
  )

  def on_plane(k):
    z = rng.normal(size=(k, n)) * 3
    return z - np.outer((z @ a - b) / (a @ a), a)

  return {
    "non_negative": (
      P.projection_non_negative,
      lambda y: np.all(y >= -TOL),
      lambda k: np.abs(rng.normal(size=(k, n))) * 3,
      True,
    ),
    "box": (
      lambda t: P.projection_box(t, _tree(lo), _tree(hi)),
      lambda y: np.all((y >= lo - TOL) & (y <= hi + TOL)),
      lambda k: rng.uniform(lo, hi, (k, n)),
      True,
    ),
    "hypercube": (
      lambda t: P.projection_hypercube(t, s),
      lambda y: np.all((y >= -TOL) & (y <= s + TOL)),
      lambda k: rng.uniform(0, s, (k, n)),
      True,
    ),
    "linf_ball": (
      lambda t: P.projection_linf_ball(t, s),
      lambda y: np.max(np.abs(y)) <= s + TOL,
      lambda k: rng.uniform(-s, s, (k, n)),
      True,
    ),
    "simplex": (
      lambda t: P.projection_simplex(t, s),
      lambda y: np.all(y >= -TOL) and abs(y.sum() - s) <= TOL,
      dirichlet,
      True,
    ),
    "l1_ball": (
      lambda t: P.projection_l1_ball(t, s),
      lambda y: np.abs(y).sum() <= s + TOL,
      lambda k: dirichlet(k) * signs(k) * rng.uniform(0, 1, (k, 1)),
      True,
    ),
    "l1_sphere": (
      lambda t: P.projection_l1_sphere(t, s),
      lambda y: abs(np.abs(y).sum() - s) <= TOL,
      lambda k: dirichlet(k) * signs(k),
      False,
    ),
    "l2_ball": (
      lambda t: P.projection_l2_ball(t, s),
      lambda y: np.linalg.norm(y) <= s + TOL,
      lambda k: unit(k) * s * rng.uniform(0, 1, (k, 1)) ** (1 / n),
      True,
    ),
    "l2_sphere": (
      lambda t: P.projection_l2_sphere(t, s),
      lambda y: abs(np.linalg.norm(y) - s) <= TOL,
      lambda k: unit(k) * s,
      False,
    ),
    "hyperplane": (
      lambda t: P.projection_hyperplane(t, _tree(a), b),
      lambda y: abs(y @ a - b) <= TOL * (1 + np.abs(a) @ np.abs(y)),
      on_plane,
      True,
    ),
    "halfspace": (
      lambda t: P.projection_halfspace(t, _tree(a), b),
      lambda y: y @ a - b <= TOL * (1 + np.abs(a) @ np.abs(y)),
      lambda k: on_plane(k) - np.outer(rng.uniform(0, 2, k), a),
      True,
    ),
  }


NAMES = sorted(_sets(2, np.random.default_rng(0)))
POINTS = st.integers(2, 6).flatmap(
  lambda n: st.lists(st.floats(-5, 5, allow_nan=False, width=64), min_size=n, max_size=n)
)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=30, deadline=None)
@given(point=POINTS, seed=st.integers(0, 2**16))
def test_projection_lands_in_its_set_is_idempotent_and_nearest(name, point, seed):
  x = np.asarray(point)
  n = x.size
  rng = np.random.default_rng(seed)
  project, member, sample, convex = _sets(n, rng)[name]
  tree = _tree(x)
  y_tree = project(tree)
  assert jax.tree.structure(y_tree) == jax.tree.structure(tree)
  y = _flat(y_tree)
  assert member(y), (x, y)
  np.testing.assert_allclose(_flat(project(y_tree)), y, rtol=1e-12, atol=1e-12)
  others = sample(25)
  assert all(member(z) for z in others)
  gap = np.linalg.norm(x - y)
  assert np.all(gap <= np.linalg.norm(others - x, axis=1) + 1e-9)
  if convex:  # the obtuse-angle characterization <x - y, z - y> <= 0 for all z in C
    assert np.all((others - y) @ (x - y) <= 1e-9 * (1 + np.abs(others).sum(axis=1)))


def test_spheres_from_the_origin_and_simplex_against_a_sort_free_reference():
  np.testing.assert_allclose(
    np.abs(_flat(P.projection_l1_sphere(_tree(np.zeros(3)), 2.0))).sum(), 2.0
  )
  np.testing.assert_allclose(
    np.linalg.norm(_flat(P.projection_l2_sphere(_tree(np.zeros(3)), 2.0))), 2.0
  )
  # simplex: the threshold theta solves sum(max(x - theta, 0)) = s (bisection in numpy)
  x = np.array([0.3, -1.2, 2.5, 0.9, 0.0])
  theta = scipy.optimize.brentq(lambda t: np.maximum(x - t, 0).sum() - 1.5, -10, 10, xtol=1e-14)
  np.testing.assert_allclose(
    P.projection_simplex(jnp.asarray(x), 1.5), np.maximum(x - theta, 0), atol=1e-12
  )


def test_projections_run_under_jit_and_vmap():
  xs = jnp.asarray(np.random.default_rng(3).normal(size=(4, 5)))
  for f in (P.projection_simplex, P.projection_l1_ball, P.projection_l2_sphere):
    batched = jax.jit(jax.vmap(f))(xs)
    for k in range(4):
      np.testing.assert_allclose(batched[k], f(xs[k]), rtol=1e-12)


def test_projected_gradient_descent_solves_box_constrained_least_squares():
  rng = np.random.default_rng(11)
  a, b = rng.normal(size=(12, 5)), rng.normal(size=12) * 3
  lower, upper = -0.3, 0.4
  ref = scipy.optimize.lsq_linear(a, b, bounds=(lower, upper), method="bvls", tol=1e-14)
  assert np.sum((ref.x <= lower + 1e-9) | (ref.x >= upper - 1e-9)) >= 2  # constraints bind
  loss = lambda x: 0.5 * jnp.sum((jnp.asarray(a) @ x - jnp.asarray(b)) ** 2)  # noqa: E731
  lipschitz = np.linalg.norm(a, 2) ** 2
  opt = jon.projected(
    jon.sgd(1.0 / lipschitz), functools.partial(P.projection_box, lower=lower, upper=upper)
  )

  @jax.jit
  def solve(x):
    def step(carry, _):
      x, state = carry
      updates, state = opt.update(jax.grad(loss)(x), state, x)
      return (jon.apply_updates(x, updates), state), jnp.max(jnp.abs(x))

    (x, _), largest = jax.lax.scan(step, (x, opt.init(x)), None, length=3000)
    return x, largest

  x, largest = solve(jnp.zeros(5))
  np.testing.assert_allclose(x, ref.x, atol=1e-9)
  assert float(jnp.max(largest)) <= upper + 1e-15 and float(jnp.min(x)) >= lower


def test_projected_keeps_every_iterate_of_any_optimizer_in_the_set():
  project = functools.partial(P.projection_l2_ball, scale=1.0)
  opt = jon.projected(jon.sgd(0.1, momentum=0.5), project)
  x = {"w": jnp.array([0.1, 0.2]), "b": jnp.array(0.0)}
  state = opt.init(x)
  target = {"w": jnp.array([3.0, -4.0]), "b": jnp.array(0.0)}
  loss = lambda p: jnp.sum((p["w"] - target["w"]) ** 2) + p["b"] ** 2  # noqa: E731
  for _ in range(200):
    updates, state = opt.update(jax.grad(loss)(x), state, x)
    x = jon.apply_updates(x, updates)
    assert float(jon.tree.norm(x)) <= 1.0 + 1e-12
  np.testing.assert_allclose(x["w"], [0.6, -0.8], atol=1e-3)  # target / |target|
  with pytest.raises(ValueError, match="params"):
    opt.update(x, state)


def test_l2_ball_gradient_at_the_origin_is_the_identity_as_optax():
  # Inside the ball the projection is the identity, the origin included; the
  # norm's own gradient there (0/0) must not leak into it.
  np.testing.assert_allclose(jax.grad(P.projection_l2_ball)(0.0), 1.0)
  np.testing.assert_allclose(jax.grad(optax.projections.projection_l2_ball)(0.0), 1.0)
  jac = jax.jacobian(lambda x: P.projection_l2_ball(x, 2.0))
  np.testing.assert_allclose(jac(jnp.zeros(3)), np.eye(3))
  outside = jnp.array([3.0, 4.0])  # and outside, s (I - u u^T) / |x| with u = x / |x|
  u = np.asarray(outside) / 5.0
  np.testing.assert_allclose(jac(outside), 2.0 * (np.eye(2) - np.outer(u, u)) / 5.0, rtol=1e-12)
  np.testing.assert_allclose(
    jac(outside),
    jax.jacobian(lambda x: optax.projections.projection_l2_ball(x, 2.0))(outside),
    rtol=1e-12,
  )
