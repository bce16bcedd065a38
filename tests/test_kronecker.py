"""Shampoo and SOAP: blocked and higher-rank leaves against the numpy references,
finite roots of rank-deficient statistics, and an ill-conditioned least-squares race."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_notes as jon
import references as ref
from jaxopt_notes.kronecker import _factors

RNG = np.random.default_rng(11)
STEPS = 9


def _compare(opt, reference, shapes, steps=STEPS, rtol=1e-9, atol=1e-12):
  rng = np.random.default_rng(11)  # each case its own data, whichever cases ran before
  params = {k: rng.normal(size=s) for k, s in shapes.items()}
  grads = [
    {k: rng.normal(size=s) * 10.0 ** rng.integers(-2, 2) for k, s in shapes.items()}
    for _ in range(steps)
  ]
  p = jax.tree.map(jnp.asarray, params)
  state, update = opt.init(p), jax.jit(opt.update)
  ours = []
  for g in grads:
    u, state = update(jax.tree.map(jnp.asarray, g), state, p)
    p = jon.apply_updates(p, u)
    ours.append(u)
  for k in shapes:
    expected = reference([g[k] for g in grads], params[k], [0.0] * steps)
    for t, (u, e) in enumerate(zip(ours, expected)):
      np.testing.assert_allclose(u[k], e, rtol=rtol, atol=atol, err_msg=f"{k}, step {t + 1}")


SHAMPOO = [  # (id, keyword arguments shared by the library and the reference)
  ("blocked_refresh_every_3", dict(block_size=4, start=2, every=3)),
  ("adagrad_graft_ema_sum", dict(block_size=3, start=1, every=2, graft="adagrad", b2=1.0)),
  ("rmsprop_graft_override", dict(start=3, graft="rmsprop", exponent=2, nesterov=False)),
  ("sgd_graft_decay", dict(block_size=5, start=1, graft="sgd", weight_decay=0.1)),
  ("no_graft", dict(start=1, every=1, graft="none", b1=0.5)),
  # a ridge below the floor (sqrt of float64's eps): raised to it, or as published
  ("floor_over_tiny_epsilon", dict(start=2, matrix_epsilon=1e-12)),
  ("published_tiny_epsilon", dict(start=2, matrix_epsilon=1e-12, published=True)),
]
_RENAME = {
  "start": "start_preconditioning_step",
  "every": "preconditioning_compute_steps",
  "graft": "graft_type",
  "exponent": "exponent_override",
}


@pytest.mark.parametrize("kwargs", [k for _, k in SHAMPOO], ids=[i for i, _ in SHAMPOO])
def test_shampoo_matches_numpy(kwargs):
  opt = jon.shampoo(0.05, **{_RENAME.get(k, k): v for k, v in kwargs.items()})
  # A factor of a few gradients has eigenvalues down at its ridge, whose inverse fourth
  # roots carry float64's rounding up to ~1e-10 of the step (the entries are O(0.01-1)).
  _compare(
    opt,
    functools.partial(ref.shampoo, lr=0.05, **kwargs),
    {"matrix": (6, 5), "tensor": (2, 3, 4), "vector": (4,), "scalar": ()},
    atol=1e-10,
  )


SOAP = [
  ("defaults", {}, {"square": (4, 4), "tensor": (2, 3, 3), "vector": (5,)}),
  (
    "refresh_every_2",
    dict(frequency=2, shampoo_beta=0.9, b1=0.9, b2=0.99),
    {"square": (4, 4), "tensor": (2, 3, 3)},
  ),
  (
    "merged_and_too_long",
    dict(frequency=3, merge_dims=True, max_dim=4),
    {"merged": (2, 2, 4), "wide": (3, 6)},
  ),
  # rank-deficient factors: a null space whose basis numpy and jax choose differently
  ("rank_deficient", dict(frequency=3), {"tall": (7, 2), "wide": (2, 6, 1)}),
  ("published", dict(published=True), {"square": (4, 4), "tensor": (2, 3, 3), "vector": (5,)}),
  (
    "published_refresh_every_2",
    dict(published=True, frequency=2, shampoo_beta=0.9, b1=0.9, b2=0.99),
    {"square": (4, 4), "tensor": (2, 3, 3)},
  ),
]


@pytest.mark.parametrize("kwargs,shapes", [c[1:] for c in SOAP], ids=[c[0] for c in SOAP])
def test_soap_matches_numpy(kwargs, shapes):
  names = {"frequency": "precondition_frequency", "max_dim": "max_precond_dim"}
  opt = jon.soap(0.05, **{names.get(k, k): v for k, v in kwargs.items()})
  _compare(opt, functools.partial(ref.soap, lr=0.05, **kwargs), shapes, steps=12)


def test_inverse_roots_stay_finite_for_rank_deficient_statistics():
  x = jnp.asarray(RNG.normal(size=(6, 2)))
  for dtype in (jnp.float32, jnp.float64):
    stats = jnp.stack([x @ x.T, jnp.zeros((6, 6))]).astype(dtype)  # rank 2, rank 0
    root = _factors.inverse_root(stats, 4, 1e-6, relative=True)
    assert root.dtype == dtype and bool(jnp.all(jnp.isfinite(root)))
    np.testing.assert_allclose(root, jnp.swapaxes(root, -1, -2), rtol=1e-5)
  opt = jon.shampoo(0.1, start_preconditioning_step=1)
  params = jnp.zeros((5, 4), jnp.float32)
  state = opt.init(params)
  for g in (jnp.ones((5, 4)), jnp.zeros((5, 4)), jnp.outer(jnp.arange(5.0), jnp.ones(4))):
    updates, state = jax.jit(opt.update)(g.astype(jnp.float32), state, params)
    assert bool(jnp.all(jnp.isfinite(updates)))
    assert all(bool(jnp.all(jnp.isfinite(p))) for p in jax.tree.leaves(state[0].preconds))


# ------------------------------------------------------ ill-conditioned race


def _conditioned(rng, rows, cols, cond):
  u, _ = np.linalg.qr(rng.normal(size=(rows, rows)))
  v, _ = np.linalg.qr(rng.normal(size=(cols, cols)))
  s = np.geomspace(1.0, 1.0 / cond, min(rows, cols))
  return u[:, : len(s)] * s @ v[: len(s)]


def least_squares(seed=0):
  """f(W) = 1/2 ||A W B - C||^2, W 20x10, A and B of condition number 30 (the Hessian's ~1e6)."""
  rng = np.random.default_rng(seed)
  a, b = _conditioned(rng, 20, 20, 30.0), _conditioned(rng, 10, 10, 30.0)
  c = a @ rng.normal(size=(20, 10)) @ b
  return lambda w: 0.5 * jnp.sum((a @ w @ b - c) ** 2)


@functools.partial(jax.jit, static_argnames=("loss", "make", "steps"))
def steps_to_reach(make, loss, lr, steps, factor=1e-6):
  """Steps until loss <= factor * loss(0) (``steps + 1`` if never), in one scan."""
  opt = make(lr)
  w0 = jnp.zeros((20, 10))
  target = factor * loss(w0)

  def step(carry, _):
    w, state = carry
    g = jax.grad(loss)(w)
    u, state = opt.update(g, state, w)
    w = jon.apply_updates(w, u)
    return (w, state), loss(w)

  _, losses = jax.lax.scan(step, (w0, opt.init(w0)), None, length=steps)
  hit = losses <= target
  return jnp.where(jnp.any(hit), jnp.argmax(hit) + 1, steps + 1)


GRID = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
RACE = {"shampoo": (jon.shampoo, 500), "soap": (jon.soap, 500), "adam": (jon.adam, 3000)}


def race_counts(name):
  factory, steps = RACE[name]
  loss = least_squares()
  return {lr: int(steps_to_reach(factory, loss, lr, steps)) for lr in GRID}


@pytest.mark.parametrize("name", ["shampoo", "soap"])
def test_kronecker_methods_solve_the_ill_conditioned_problem_within_500_steps(name):
  counts = race_counts(name)
  assert min(counts.values()) <= 500, counts


def test_adam_needs_more_than_3000_steps_at_every_rate_of_the_grid():
  counts = race_counts("adam")
  assert min(counts.values()) > 3000, counts


# ------------------------------------------------------------ complex params

COMPLEX = {
  "shampoo": lambda: jon.shampoo(0.05, start_preconditioning_step=1),
  "soap": lambda: jon.soap(0.05, weight_decay=0.0),
}


def _complex_run(make, target, steps):
  """Losses of min |z - target|^2 from z = 0, the grads conjugated as optax's are."""
  loss = lambda z: jnp.sum(jnp.abs(z - target) ** 2)  # noqa: E731
  opt = make()

  def step(carry, _):
    z, state = carry
    u, state = opt.update(jnp.conj(jax.grad(loss)(z)), state, z)
    z = jon.apply_updates(z, u)
    return (z, state), (loss(z), u)

  z0 = jnp.zeros_like(target)
  return jax.lax.scan(step, (z0, opt.init(z0)), None, length=steps)


@pytest.mark.parametrize("name", list(COMPLEX))
def test_complex_least_squares_converges_with_hermitian_factors(name):
  rng = np.random.default_rng(5)
  target = jnp.asarray(rng.normal(size=(6, 4)) + 1j * rng.normal(size=(6, 4)), jnp.complex64)
  (z, state), (losses, _) = jax.jit(lambda: _complex_run(COMPLEX[name], target, 300))()
  start = float(jnp.sum(jnp.abs(target) ** 2))
  assert float(losses[-1]) < 1e-3 * start, (name, float(losses[-1]), start)
  for s in state[0].stats:  # G G^H: Hermitian, complex
    assert s.dtype == jnp.complex64 and float(jnp.max(jnp.abs(jnp.imag(s)))) > 0
    np.testing.assert_allclose(s, jnp.conj(jnp.swapaxes(s, -1, -2)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(COMPLEX))
def test_complex_params_with_zero_imaginary_part_step_like_real_ones(name):
  """The same steps as real params, up to rounding: complex and real ``eigh``
  round differently, and SOAP's Adam, like Adam at an optimum, multiplies the
  rounding of coordinates that are zero in exact arithmetic by about 100 a step
  here (lr over the floor of its epsilon), so 4 steps are compared."""
  target = jnp.asarray(np.random.default_rng(6).normal(size=(5, 3)))
  _, (_, real) = _complex_run(COMPLEX[name], target, 4)
  _, (_, complex_) = _complex_run(COMPLEX[name], target.astype(jnp.complex128), 4)
  np.testing.assert_allclose(complex_, real, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------------ SPlus


def test_splus_complex_step_and_averaged_params_match_numpy():
  """A complex matrix (sign z / |z| in the Hermitian factors' bases), a vector, a refresh
  every 2 steps; the params it evaluates at are the debiased average of those it saw."""
  rng = np.random.default_rng(3)
  params = {"w": rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2)), "b": rng.normal(size=4)}
  grads = [
    {"w": rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2)), "b": rng.normal(size=4)}
    for _ in range(5)
  ]
  kwargs = dict(b1=0.8, b2=0.9, inverse_every=2, weight_decay=0.1)
  opt = jon.splus(0.1, ema_rate=0.7, **kwargs)
  p, state, update = jax.tree.map(jnp.asarray, params), None, jax.jit(opt.update)
  state, seen = opt.init(p), [p]
  for g in grads:
    u, state = update(jax.tree.map(jnp.asarray, g), state, p)
    p = jon.apply_updates(p, u)
    seen.append(p)
  for k in params:
    expected = ref.splus([g[k] for g in grads], params[k], [0.0] * 5, 0.1, **kwargs)
    np.testing.assert_allclose(seen[-1][k] - seen[-2][k], expected[-1], rtol=1e-10, atol=1e-15)
    average = ref.splus_average([s[k] for s in seen], 0.7)[-1]
    np.testing.assert_allclose(jon.splus_eval_params(state)[k], average, rtol=1e-12)


# -------------------------------------------------------- KL-Shampoo and KL-SOAP

KL = [  # (id, library optimizer, keyword arguments of the reference, shapes)
  # eigenvalue estimates starting at 1e-4: their inverse roots (100) hit the clamp (10)
  (
    "shampoo_rank_3_clamped",
    jon.kl_shampoo(0.05, b2=0.5, precondition_frequency=2, init_factor=1e-4),
    dict(b2=0.5, frequency=2, init_factor=1e-4),
    {"t": (2, 2, 3), "m": (3, 2), "v": (3,)},
  ),
  (
    "soap_merged_partial_1d",
    jon.kl_soap(
      0.05,
      shampoo_beta=0.8,
      precondition_frequency=2,
      max_precond_dim=4,
      merge_dims=True,
      precondition_1d=True,
      max_clamp_value=None,
    ),
    dict(
      soap=True,
      shampoo_beta=0.8,
      frequency=2,
      max_dim=4,
      merge_dims=True,
      precondition_1d=True,
      max_clamp=None,
    ),
    {"t": (2, 2, 3), "w": (5, 2), "v": (2,)},
  ),
]


@pytest.mark.parametrize("name,opt,kwargs,shapes", KL, ids=[c[0] for c in KL])
def test_kl_methods_match_numpy(name, opt, kwargs, shapes):
  _compare(opt, functools.partial(ref.kl, lr=0.05, **kwargs), shapes, steps=7)
