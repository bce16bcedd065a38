"""SOAP (Vyas et al., 2024): Adam run in the eigenbasis of Shampoo's factors.

For each axis $i$ of a leaf (after ``merge_dims``) no longer than
``max_precond_dim`` a factor $S^{(i)}_t = \\beta_s S^{(i)}_{t-1} + (1-\\beta_s)
G_{(i)}G_{(i)}^\\top$ is kept ($\\beta_s$ = ``shampoo_beta``, by default $\\beta_2$),
with an orthogonal basis $Q^{(i)}$ of its eigenvectors. Writing
$\\rho(X) = X \\times_1 Q^{(1)\\top} \\cdots \\times_r Q^{(r)\\top}$ for the rotation
into that basis (the identity along axes without a factor),

$$
m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\rho(G_t),\\qquad
v_t = \\beta_2 v_{t-1} + (1-\\beta_2)\\rho(G_t)^2,
$$

$$
u_t = \\frac{\\sqrt{1-\\beta_2^{t}}}{1-\\beta_1^{t}}\\;
\\rho^{-1}\\!\\left(\\frac{m_t}{\\sqrt{v_t} + \\epsilon}\\right).
$$

The first call only starts the factors and takes the exact eigenbasis of each
(``eigh``); it returns a zero update and $t$ counts the calls after it, as in
the authors' code. After each step the factors take in $G_t$; every
``precondition_frequency`` steps the basis is refreshed by one QR power
iteration ($Q \\leftarrow \\operatorname{qr}(S Q)$, columns first sorted by the
estimates $q^\\top S q$, with $v$ permuted along), and $m$ is rotated from the
old basis to the new one. Leaves of rank 1 are plain Adam unless
``precondition_1d``; scalars always are.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes.kronecker import _factors
from jaxopt_notes.kronecker._shampoo import per_leaf
from jaxopt_notes.optimizers._adam import Float, check_moments
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate


class ScaleBySoapState(NamedTuple):
  """State of `scale_by_soap`."""
  count: jax.Array  # int32 calls taken (the first only starts the factors), saturating
  mu: Any           # first moment m_t, in the eigenbasis
  nu: Any           # second moment v_t, in the eigenbasis
  stats: Any        # per leaf, a tuple with a factor S^(i) or None for each (merged) axis
  bases: Any        # per leaf, the matching eigenbases Q^(i)


def merged_shape(shape: tuple, max_precond_dim: int) -> tuple:
  """Neighbouring axes merged while their product stays within ``max_precond_dim``."""
  out, run = [], 1
  for d in shape:
    if run * d <= max_precond_dim:
      run *= d
    elif run > 1:
      out.append(run)
      run = d
    else:
      out.append(d)
  if run > 1 or not out:
    out.append(run)
  return tuple(out)


def _layout(shape: tuple, max_precond_dim: int, merge_dims: bool, precondition_1d: bool):
  """The shape the factors see, and which of its axes get one."""
  if len(shape) == 1 and not precondition_1d:
    return shape, (False,)
  if merge_dims and len(shape) > 1:
    shape = merged_shape(shape, max_precond_dim)
  return shape, tuple(d <= max_precond_dim for d in shape)


def scale_by_soap(b1: Float = 0.95, b2: Float = 0.95, shampoo_beta: Any = None,
                  eps: Float = 1e-8, precondition_frequency: Any = 10,
                  max_precond_dim: int = 10000, merge_dims: bool = False,
                  precondition_1d: bool = False) -> GradientTransformation:
  """SOAP's direction; see `soap`."""
  check_moments("scale_by_soap", b1, b2, eps)
  if _tree._is_concrete(shampoo_beta) and shampoo_beta < 0:
    shampoo_beta = None  # the reference code's -1
  _validate.check("scale_by_soap", shampoo_beta=(shampoo_beta, _validate.UNIT),
                  precondition_frequency=(precondition_frequency, _validate.AT_LEAST_ONE))
  _validate.check_positive_int("scale_by_soap", "max_precond_dim", max_precond_dim)
  beta_s = b2 if shampoo_beta is None else shampoo_beta
  layout = lambda x: _layout(jnp.shape(x), max_precond_dim, merge_dims,  # noqa: E731
                             precondition_1d)

  def factors(x, fill):
    shape, which = layout(x)
    if not any(which):
      return ()
    return tuple(fill(d, _factors.stats_dtype(x)) if yes else None
                 for d, yes in zip(shape, which))

  def init_fn(params):
    zeros = lambda d, dt: jnp.zeros((d, d), dt)  # noqa: E731
    stats, bases = (_factors.spread(per_leaf(lambda x: factors(x, zeros), params), params)
                    for _ in range(2))
    return ScaleBySoapState(count=_tree.zero_count(params), mu=_tree.zeros_like(params),
                            nu=_tree.zeros_like(params), stats=stats, bases=bases)

  def rotate(x, bases, back=False):
    """$\\rho(x)$, or $\\rho^{-1}(x)$ with ``back``, in the factors' shape."""
    if not bases:
      return x
    shape, _ = layout(x)
    mats = [None if q is None else _factors.gathered(q) for q in bases]
    y = _factors.along(_factors.gathered(x).reshape(shape), mats, 0, transpose=not back)
    return _factors.sharded_like(y.reshape(jnp.shape(x)), x)

  def new_stats(g, stats):
    if not stats:
      return ()
    keep, add = beta_s, 1 - beta_s
    shape, _ = layout(g)
    x = _factors.gathered(g).astype(_factors.stats_dtype(g)).reshape(shape)
    return tuple(None if s is None else (
        keep * s + add * _factors.sharded_like(_factors.gram(x, i, 0), s)).astype(s.dtype)
                 for i, s in enumerate(stats))

  def refreshed(stats, bases, nu):
    """One power iteration per factor; ``nu`` permuted along with the columns."""
    like, shape = nu, nu.shape
    nu = _factors.gathered(nu).reshape(layout(nu)[0])
    out = []
    for i, (s, q) in enumerate(zip(stats, bases)):
      if s is None:
        out.append(None)
        continue
      new, order = _factors.power_step(_factors.gathered(s), _factors.gathered(q))
      nu = jnp.take(nu, order, axis=i)
      out.append(_factors.sharded_like(new, q))
    return tuple(out), _factors.sharded_like(nu.reshape(shape), like)

  def update_fn(updates, state, params=None):
    del params
    _tree.check_match(updates, state.mu)
    first = state.count == 0
    t = state.count  # Adam's step: the calls before this one
    wide = _tree._map(lambda g: g.astype(_factors.stats_dtype(g)), updates)
    rotated = per_leaf(rotate, wide, state.bases)
    mu = _tree._map(lambda m, r: b1 * m + (1 - b1) * r, state.mu, rotated)
    nu = _tree._map(lambda v, r: b2 * v + (1 - b2) * r * r, state.nu, rotated)
    t1 = jnp.maximum(t, 1)  # the first call's step is dropped; keep its gradient finite
    scale = jnp.sqrt(1 - b2 ** t1) / (1 - b1 ** t1)
    ratio = _tree._map(lambda m, v: scale * m / (jnp.sqrt(v) + eps), mu, nu)
    out = _tree.where(first, _tree.zeros_like(updates),
                      per_leaf(lambda r, q: rotate(r, q, back=True), ratio, state.bases))
    mu = _tree.where(first, state.mu, mu)
    nu = _tree.where(first, state.nu, nu)
    stats = per_leaf(new_stats, updates, state.stats)

    def exact():
      return per_leaf(lambda g, s: tuple(
          None if f is None else _factors.sharded_like(_factors.eigenbasis(
              _factors.gathered(f)), f) for f in s), updates, stats), nu

    def power():
      pairs = per_leaf(lambda v, s, q: refreshed(s, q, v), nu, stats, state.bases)
      return (per_leaf(lambda v, p: p[0], nu, pairs), per_leaf(lambda v, p: p[1], nu, pairs))

    due = (t > 0) & (t % precondition_frequency == 0)
    branch = jnp.where(first, 0, jnp.where(due, 1, 2))
    bases, nu = jax.lax.switch(branch, [exact, power, lambda: (state.bases, nu)])
    mu = per_leaf(lambda m, old, new: rotate(rotate(m, old, back=True), new), mu,
                  state.bases, bases)
    # A select on the old moments: the new ones then keep their placement (sharding)
    # rather than whatever the rotations' einsums would give them.
    mu, nu = (_tree._map(lambda o, n: jnp.where(jnp.zeros_like(o, bool), o, n.astype(o.dtype)),
                         old, new) for old, new in ((state.mu, mu), (state.nu, nu)))
    stats, bases = _factors.spread((stats, bases), state.stats, updates)  # where init put them
    return _tree.cast_like(out, updates), ScaleBySoapState(
        count=_tree.safe_increment(state.count), mu=_tree.cast_like(mu, state.mu),
        nu=_tree.cast_like(nu, state.nu), stats=stats, bases=bases)

  return GradientTransformation(init_fn, update_fn)


def soap(learning_rate: ScalarOrSchedule, b1: Float = 0.95, b2: Float = 0.95,
         shampoo_beta: Any = None, eps: Float = 1e-8, weight_decay: Float = 0.01,
         precondition_frequency: Any = 10, max_precond_dim: int = 10000,
         merge_dims: bool = False, precondition_1d: bool = False,
         mask: Any = None) -> GradientTransformation:
  """SOAP with decoupled weight decay (module docstring).

  Args:
    learning_rate: a number, traced array or schedule.
    b1: decay of the first moment (kept in the eigenbasis).
    b2: decay of the second moment (kept in the eigenbasis).
    shampoo_beta: decay of the Kronecker factors; ``None`` (or a negative
      number, as in the authors' code) uses ``b2``.
    eps: added outside the square root.
    weight_decay: decoupled weight decay; ``mask`` selects the leaves.
    precondition_frequency: steps between refreshes of the eigenbasis.
    max_precond_dim: axes longer than this get no factor (identity basis).
    merge_dims: merge neighbouring axes while their product stays within
      ``max_precond_dim`` (e.g. a convolution kernel's spatial axes).
    precondition_1d: give leaves of rank 1 a factor too.
    mask: tree or callable selecting the leaves weight decay applies to.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.soap(0.01)
    >>> params = jnp.ones((3, 2))
    >>> state = opt.init(params)
    >>> updates, state = opt.update(jnp.full((3, 2), 0.5), state, params)
    >>> round(float(abs(updates).max()), 6)  # the first call: only weight decay
    0.0001

  Reference: Vyas, Morwani, Zhao, Shapira, Brandfonbrener, Janson & Kakade,
  2024, "SOAP: Improving and Stabilizing Shampoo using Adam".
  """
  _validate.check("soap", learning_rate=(learning_rate, _validate.FINITE),
                  weight_decay=(weight_decay, _validate.FINITE))
  return chain(scale_by_soap(b1, b2, shampoo_beta, eps, precondition_frequency,
                             max_precond_dim, merge_dims, precondition_1d),
               add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate))
