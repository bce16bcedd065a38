"""optax's smaller namespaces: second_order, microbatching, perturbations, assignment.

Each function is compared with optax (a test-only oracle) in float64 on tiny
problems, and with a plain-numpy reference written from its formula: an
explicit Hessian, per-example gradients of least squares, the smoothed
function's known derivative, brute force over permutations.
"""

import itertools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_notes as jon
from jaxopt_notes import assignment, microbatching, perturbations, second_order

AT = microbatching.AccumulationType
OPTAX_AT = optax.microbatching.AccumulationType


@pytest.mark.parametrize("name", ["assignment", "microbatching", "perturbations", "second_order"])
def test_every_optax_name_of_the_namespace_is_here(name):
  ours, theirs = getattr(jon, name), getattr(optax, name)
  public = lambda module: {n for n in dir(module) if not n.startswith("_")}
  assert public(theirs) - public(ours) == set()
  assert set(ours.__all__) <= public(ours)
  assert jon.microbatch is microbatching.microbatch


# ---------------------------------------------------------------- second_order
# loss(p, X, y) = |X a - y|^2 / 2 + sum(b^4) / 4 + a[:2] . b, params {"a": (3,), "b": (2,)}:
# its Hessian over ravel order (a, b) is [[X^T X, E], [E^T, diag(3 b^2)]], E = [I_2; 0].


def _curvature_loss(p, x, y):
  return (
    0.5 * jnp.sum((x @ p["a"] - y) ** 2) + 0.25 * jnp.sum(p["b"] ** 4) + jnp.dot(p["a"][:2], p["b"])
  )


def _curvature_problem(seed=0):
  rng = np.random.default_rng(seed)
  params = {"a": rng.normal(size=3), "b": rng.normal(size=2)}
  return params, rng.normal(size=(4, 3)), rng.normal(size=4)


def _numpy_hessian(params, x):
  e = np.zeros((3, 2))
  e[:2, :2] = np.eye(2)
  return np.block([[x.T @ x, e], [e.T, np.diag(3 * params["b"] ** 2)]])


def _numpy_grad(params, x, y):
  ga = x.T @ (x @ params["a"] - y) + np.r_[params["b"], 0.0]
  return np.r_[ga, params["b"] ** 3 + params["a"][:2]]


def _optax_deprecated(fn, *args):
  """optax's (deprecated, warning) curvature helper, jitted, on ``_curvature_loss``."""
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    return jax.jit(fn, static_argnums=0)(_curvature_loss, *args)


def _jitted(fn, *args):
  return jax.jit(fn, static_argnums=0)(_curvature_loss, *args)


def test_hvp_is_the_hessian_times_v_as_a_params_tree():
  params, x, y = _curvature_problem()
  v = np.random.default_rng(1).normal(size=5)
  got = _jitted(second_order.hvp, v, params, x, y)
  expected = _numpy_hessian(params, x) @ v
  np.testing.assert_allclose(np.r_[got["a"], got["b"]], expected, rtol=1e-12, atol=1e-12)
  theirs = _optax_deprecated(optax.second_order.hvp, jnp.asarray(v), params, x, y)
  _assert_trees_close(got, theirs, rtol=1e-14, atol=0)
  # v may also be given shaped like the params.
  tree_v = {"a": v[:3], "b": v[3:]}
  np.testing.assert_allclose(
    _jitted(second_order.hvp, tree_v, params, x, y)["b"], expected[3:], rtol=1e-12
  )


def test_hessian_diag_and_fisher_diag_match_the_formulas_and_optax():
  params, x, y = _curvature_problem()
  other = _curvature_problem(2)[0]
  # Under vmap over params: one Hessian diagonal per point.
  stacked = jax.tree.map(lambda *a: jnp.stack(a), params, other)
  diags = _jitted(
    lambda f, p: jax.vmap(lambda q: second_order.hessian_diag(f, q, x, y))(p), stacked
  )
  for diag, point in zip(diags, (params, other)):
    np.testing.assert_allclose(diag, np.diag(_numpy_hessian(point, x)), rtol=1e-12)
  np.testing.assert_allclose(
    diags[0], _optax_deprecated(optax.second_order.hessian_diag, params, x, y), rtol=1e-14
  )
  fisher = _jitted(second_order.fisher_diag, params, x, y)
  np.testing.assert_allclose(fisher, _numpy_grad(params, x, y) ** 2, rtol=1e-12)
  np.testing.assert_allclose(
    fisher, _optax_deprecated(optax.second_order.fisher_diag, params, x, y), rtol=1e-14
  )


def test_fisher_diag_of_one_example_is_its_squared_gradient_and_micro_grad_averages_them():
  rng = np.random.default_rng(3)
  w, x, y = rng.normal(size=2), rng.normal(size=(4, 2)), rng.normal(size=4)
  nll = lambda w, x, y: 0.5 * jnp.sum((x @ w - y) ** 2)
  per_example = (x @ w - y)[:, None] * x  # numpy gradients, one row per example
  one_each = jax.jit(jax.vmap(lambda a, b: second_order.fisher_diag(nll, w, a[None], b[None])))
  np.testing.assert_allclose(one_each(x, y), per_example**2, rtol=1e-12)
  mean_square, _ = microbatching.micro_grad(
    nll, batch_argnums=(1, 2), accumulator=AT.MEAN, transform_fn=jnp.square, microbatch_size=2
  )(w, x, y)
  np.testing.assert_allclose(mean_square, np.mean(per_example**2, axis=0), rtol=1e-12)


def test_curvature_bad_v_names_the_argument():
  params, x, y = _curvature_problem()
  with pytest.raises(ValueError, match="`v`.*shape \\(5,\\).*got shape \\(4,\\)"):
    second_order.hvp(_curvature_loss, jnp.ones(4), params, x, y)


# ---------------------------------------------------------------- microbatching


def _three_outputs(scale, x, y):
  """Per-example rows, a batch sum and a batch mean."""
  return {
    "rows": x * y * scale,
    "total": jnp.sum(x + 2 * y, axis=0),
    "mean": (jnp.mean(scale * x), {"y": jnp.mean(y)}),
  }


_KINDS = {"rows": "CONCAT", "total": "SUM", "mean": "MEAN"}


def _batch(shape=(6, 2), seed=0):
  rng = np.random.default_rng(seed)
  return jnp.asarray(rng.normal(size=shape)), jnp.asarray(rng.normal(size=shape))


def _assert_trees_close(a, b, rtol=1e-13, atol=1e-13):
  assert jax.tree.structure(a) == jax.tree.structure(b)
  jax.tree.map(lambda p, q: np.testing.assert_allclose(p, q, rtol=rtol, atol=atol), a, b)


@pytest.mark.parametrize("size", [1, 2, 3, 6])
def test_microbatch_equals_the_full_batch_and_optax(size):
  x, y = _batch()
  ours = jon.microbatch(
    _three_outputs, (1, 2), size, {k: getattr(AT, v) for k, v in _KINDS.items()}
  )
  theirs = optax.microbatch(
    _three_outputs, (1, 2), size, {k: getattr(OPTAX_AT, v) for k, v in _KINDS.items()}
  )
  got = jax.jit(ours)(0.5, x, y)
  _assert_trees_close(got, _three_outputs(0.5, x, y), rtol=1e-12)
  _assert_trees_close(got, theirs(0.5, x, y))


def test_microbatch_takes_strided_examples_and_stops_early():
  x = jnp.arange(6.0)
  # Microbatches of 3 hold examples (0, 2, 4) and (1, 3, 5).
  dot = jon.microbatch(lambda v: v[:-1] @ v[1:], 0, 3)
  assert float(dot(x)) == 0 * 2 + 2 * 4 + 1 * 3 + 3 * 5
  np.testing.assert_array_equal(microbatching.reshape_batch_axis(x, 3), [[0, 2, 4], [1, 3, 5]])
  leaf = jnp.arange(24.0).reshape(2, 6, 2)
  np.testing.assert_array_equal(
    microbatching.reshape_batch_axis({"a": leaf}, 2, axis=1)["a"],
    optax.microbatching.reshape_batch_axis(leaf, 2, axis=1),
  )

  @jax.jit
  def first(x, steps):
    return jon.microbatch(lambda v: v, 0, 2, AT.CONCAT, num_real_microbatches=steps)(x)

  # Two of three microbatches: examples 0, 1, 3, 4 (microbatch k holds k, k + 3).
  np.testing.assert_array_equal(first(x + 1, 2), [1, 2, 0, 4, 5, 0])
  steps_mean = jon.microbatch(jnp.mean, 0, 2, AT.RUNNING_MEAN, num_real_microbatches=2)(x)
  assert float(steps_mean) == np.mean([0, 3, 1, 4])
  np.testing.assert_allclose(
    steps_mean,
    optax.microbatch(jnp.mean, 0, 2, OPTAX_AT.RUNNING_MEAN, num_real_microbatches=2)(x),
    rtol=1e-15,
  )


@pytest.mark.parametrize("kind", ["SUM", "MEAN", "RUNNING_MEAN", "CONCAT"])
def test_microbatch_in_axes_and_argnames_match_optax(kind):
  x = jnp.asarray(np.random.default_rng(4).normal(size=(4, 6, 2)))
  fun = lambda a, *, b: jnp.einsum("ibj,ibk->bjk", a, b)
  ours = jon.microbatch(fun, 0, 3, getattr(AT, kind), argnames="b", in_axes=(1, 1))(x, b=x)
  theirs = optax.microbatch(fun, 0, 3, getattr(OPTAX_AT, kind), argnames="b", in_axes=(1, 1))(
    x, b=x
  )
  np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-13)


def test_micro_vmap_equals_vmap_and_reduces():
  x, y = _batch((8, 3))
  fun = lambda a, c, *, k: jnp.sum(a * c) + k
  k = jnp.arange(8.0)
  expected = jax.vmap(fun, in_axes=(0, None))(x, 2.0, k=k)
  mapped = microbatching.micro_vmap(fun, in_axes=(0, None), microbatch_size=4)
  np.testing.assert_allclose(jax.jit(mapped)(x, 2.0, k=k), expected, rtol=1e-13)
  for kind in ("SUM", "MEAN"):
    ours = microbatching.micro_vmap(
      fun, in_axes=(0, None), microbatch_size=2, accumulator=getattr(AT, kind)
    )(x, 2.0, k=k)
    theirs = optax.microbatching.micro_vmap(
      fun, in_axes=(0, None), microbatch_size=2, accumulator=getattr(OPTAX_AT, kind)
    )(x, 2.0, k=k)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13)
    reduce = np.sum if kind == "SUM" else np.mean
    np.testing.assert_allclose(ours, reduce(expected), rtol=1e-12)
  # One integer in_axes maps every positional argument, as in jax.vmap.
  np.testing.assert_allclose(
    microbatching.micro_vmap(jnp.dot, 1, microbatch_size=2)(x.T, y.T),
    jnp.sum(x * y, axis=1),
    rtol=1e-13,
  )


@pytest.mark.parametrize("keep_batch_dim", [True, False])
def test_micro_grad_per_example_gradients_match_numpy_and_optax(keep_batch_dim):
  rng = np.random.default_rng(5)
  w, x, y = rng.normal(size=2), rng.normal(size=(6, 2)), rng.normal(size=6)

  def loss(w, x, y):
    r = x @ w - y
    return 0.5 * jnp.mean(r**2), r

  kwargs = dict(
    has_aux=True,
    batch_argnums=(1, 2),
    keep_batch_dim=keep_batch_dim,
    transform_fn=lambda g: (g, g**2),
    metrics_fn=jnp.linalg.norm,
  )
  (g, g2), out = jax.jit(microbatching.micro_grad(loss, microbatch_size=3, **kwargs))(w, x, y)
  per_example = (x @ w - y)[:, None] * x
  np.testing.assert_allclose(g, per_example.sum(0), rtol=1e-12)
  np.testing.assert_allclose(g2, (per_example**2).sum(0), rtol=1e-12)
  np.testing.assert_allclose(out.values, 0.5 * (x @ w - y) ** 2, rtol=1e-12)
  np.testing.assert_allclose(out.metrics, np.linalg.norm(per_example, axis=1), rtol=1e-12)
  np.testing.assert_allclose(np.ravel(out.aux), x @ w - y, rtol=1e-12)
  theirs = optax.microbatching.micro_grad(loss, microbatch_size=3, **kwargs)(w, x, y)
  _assert_trees_close(((g, g2), tuple(out)), (theirs[0], tuple(theirs[1])))


def test_custom_accumulator_and_vmap_of_a_microbatched_function():
  biggest = microbatching.Accumulator(
    init=lambda s: jnp.full(s.shape, -jnp.inf, s.dtype),
    update=lambda carry, value, index: jnp.maximum(carry, value),
    finalize=lambda carry: carry,
    aggregate=lambda values: jnp.max(values, axis=0),
  )
  x, _ = _batch((6, 2))
  top = jon.microbatch(lambda v: jnp.max(v, axis=0), 0, 2, biggest)
  np.testing.assert_array_equal(top(x), np.max(x, axis=0))
  stacked = jnp.stack([x, 2 * x])
  np.testing.assert_allclose(
    jax.vmap(jon.microbatch(jnp.sum, 0, 3))(stacked), [jnp.sum(x), 2 * jnp.sum(x)], rtol=1e-13
  )


def test_microbatching_keeps_an_explicitly_sharded_batch_axis_sharded():
  mesh = jax.make_mesh((1,), ("batch",), axis_types=(jax.sharding.AxisType.Explicit,))
  with jax.set_mesh(mesh):
    x = jax.device_put(jnp.arange(12.0).reshape(6, 2), jax.NamedSharding(mesh, jax.P("batch")))
    split = microbatching.reshape_batch_axis(x, 3)
    assert jax.typeof(split).sharding.spec == jax.P(None, "batch", None)
    doubled = jax.jit(jon.microbatch(lambda v: 2 * v, 0, 3, AT.CONCAT))(x)
  np.testing.assert_array_equal(doubled, 2 * np.arange(12.0).reshape(6, 2))
  assert jax.typeof(doubled).sharding.spec == jax.P("batch", None)


def test_microbatching_bad_input_names_the_argument():
  x, y = _batch((6, 2))
  with pytest.raises(ValueError, match="divisible by `microbatch_size`=4"):
    jon.microbatch(jnp.sum, 0, 4)(x)
  with pytest.raises(ValueError, match="equal size"):
    jon.microbatch(lambda a, b: a.sum(), (0, 1), 2)(x, y[:4])
  with pytest.raises(ValueError, match="`microbatch_size`=0"):
    jon.microbatch(jnp.sum, 0, 0)
  with pytest.raises(ValueError, match="`accumulator`"):
    jon.microbatch(jnp.sum, 0, 2, "sum")(x)
  with pytest.raises(ValueError, match="MEAN.*floating point"):
    jon.microbatch(jnp.sum, 0, 2, AT.MEAN)(jnp.arange(6))
  with pytest.raises(ValueError, match="`num_real_microbatches`=4"):
    jon.microbatch(jnp.sum, 0, 2, num_real_microbatches=4)(x)
  with pytest.raises(NotImplementedError, match="`out_axes`"):
    microbatching.micro_vmap(jnp.sum, out_axes=1)
  assert jon.microbatch(jnp.sum, 0, None) is jnp.sum


# ---------------------------------------------------------------- perturbations


@pytest.mark.parametrize("noise,use_baseline", [("Gumbel", True), ("Normal", False)])
def test_perturbed_fun_equals_optax_with_the_same_key(noise, use_baseline):
  def fun(x):  # piecewise constant: a one-hot argmax, and a pytree input
    scores = x["s"] + x["t"][0]
    return {"hot": jax.nn.one_hot(jnp.argmax(scores), 3), "top": jnp.max(scores)}

  x = {"s": jnp.array([0.1, -0.3, 0.2]), "t": jnp.array([0.05, 0.0])}
  key = jax.random.key(7)
  make = lambda lib: lib.perturbations.make_perturbed_fun(
    fun, 200, 0.3, getattr(lib.perturbations, noise)(), use_baseline
  )
  both = lambda f: jax.jit(lambda k, v: (f(k, v), jax.jacrev(f, argnums=1)(k, v)))
  ours, theirs = both(make(jon))(key, x), both(make(optax))(key, x)
  _assert_trees_close(ours, theirs, rtol=1e-11, atol=1e-12)
  assert float(jnp.abs(ours[1]["top"]["s"]).sum()) > 0  # the derivative is not trivially 0


def test_perturbed_estimates_agree_with_the_smoothed_function():
  # E relu(x + s z), z ~ N(0, 1): value x Phi(x/s) + s phi(x/s), derivative Phi(x/s).
  from math import erf, exp, pi, sqrt

  x, s = np.array([-0.4, 0.0, 0.3]), 0.5
  cdf = np.array([0.5 * (1 + erf(t / s / sqrt(2))) for t in x])
  pdf = np.array([exp(-((t / s) ** 2) / 2) / sqrt(2 * pi) for t in x])
  make = perturbations.make_perturbed_fun(
    lambda v: jnp.maximum(v, 0.0), 20_000, s, perturbations.Normal()
  )
  value, grad = jax.jit(jax.value_and_grad(lambda k, v: jnp.sum(make(k, v)), argnums=1))(
    jax.random.key(0), jnp.asarray(x)
  )
  np.testing.assert_allclose(value, np.sum(x * cdf + s * pdf), atol=0.02)
  np.testing.assert_allclose(grad, cdf, atol=0.04)
  # Gumbel noise on a linear function: value a.x + s * euler_gamma * sum(a), gradient a.
  a = jnp.array([1.0, -2.0])
  linear = perturbations.make_perturbed_fun(lambda v: a @ v, 20_000, s)
  keys = jax.random.split(jax.random.key(1), 2)
  values, grads = jax.jit(jax.vmap(jax.value_and_grad(linear, argnums=1), in_axes=(0, None)))(
    keys, jnp.ones(2)
  )
  np.testing.assert_allclose(values, float(jnp.sum(a)) * (1 + s * np.euler_gamma), atol=0.03)
  np.testing.assert_allclose(grads, jnp.stack([a, a]), atol=0.1)


def test_perturbations_bad_input_names_the_argument():
  f = jnp.sum
  with pytest.raises(ValueError, match="`num_samples`"):
    perturbations.make_perturbed_fun(f, 0)
  with pytest.raises(ValueError, match="`sigma`"):
    perturbations.make_perturbed_fun(f, 10, 0.0)
  with pytest.raises(TypeError, match="`noise`"):
    perturbations.make_perturbed_fun(f, 10, 0.1, noise=jax.random.normal)


# ---------------------------------------------------------------- assignment


def _brute_force_cost(c):
  c = c.T if c.shape[0] > c.shape[1] else c
  n, m = c.shape
  return min(sum(c[r, p[r]] for r in range(n)) for p in itertools.permutations(range(m), n))


def _costs(i, j, cost):
  return np.array([c[a, b].sum() for c, a, b in zip(cost, np.asarray(i), np.asarray(j))])


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2)])
def test_hungarian_is_optimal_against_brute_force_and_optax(shape):
  rng = np.random.default_rng(sum(shape) * 10 + shape[0])
  # Small integer costs: many ties, so many optimal assignments.
  cost = rng.integers(0, 4, (40, *shape)).astype(float)
  i, j = jax.jit(jax.vmap(assignment.hungarian_algorithm))(cost)
  assert i.shape == j.shape == (40, min(shape))
  assert all(len(set(row)) == min(shape) for row in np.asarray(i))
  assert all(len(set(row)) == min(shape) for row in np.asarray(j))
  assert np.all(np.diff(np.asarray(i), axis=1) > 0)  # rows increase
  np.testing.assert_array_equal(_costs(i, j, cost), [_brute_force_cost(c) for c in cost])
  oi, oj = jax.jit(jax.vmap(optax.assignment.hungarian_algorithm))(cost)
  np.testing.assert_array_equal(_costs(i, j, cost), _costs(oi, oj, cost))


def test_hungarian_agrees_with_scipy_and_takes_integers_and_empty_matrices():
  scipy_optimize = pytest.importorskip("scipy.optimize")
  cost = np.random.default_rng(9).normal(size=(6, 5, 7))
  i, j = jax.jit(jax.vmap(assignment.base_hungarian_algorithm))(cost)
  oi, oj = jax.jit(jax.vmap(optax.assignment.base_hungarian_algorithm))(cost)
  for c, a, b, oa, ob in zip(cost, *map(np.asarray, (i, j, oi, oj))):
    r, s = scipy_optimize.linear_sum_assignment(c)
    np.testing.assert_allclose(c[a, b].sum(), c[r, s].sum(), rtol=1e-13)
    np.testing.assert_array_equal((a, b), (r, s))  # distinct costs: one optimum
    np.testing.assert_array_equal((a, b), (oa, ob))
  ints = jnp.array([[4, 1, 3], [2, 0, 5], [3, 2, 2], [5, 4, 1]])
  i, j = assignment.hungarian_algorithm(ints)
  assert i.dtype == j.dtype == jnp.arange(1).dtype
  assert int(ints[i, j].sum()) == 4
  for empty in (jnp.zeros((0, 3)), jnp.zeros((2, 0))):
    assert [a.shape for a in assignment.hungarian_algorithm(empty)] == [(0,), (0,)]


def test_hungarian_bad_input_names_the_argument():
  with pytest.raises(ValueError, match="`cost_matrix` must be a 2-D array"):
    assignment.hungarian_algorithm(jnp.ones(3))
