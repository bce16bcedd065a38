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
``precondition_frequency`` steps the basis is refreshed and $m$ is rotated from
the old basis to the new one. Leaves of rank 1 are plain Adam unless
``precondition_1d``; scalars always are.

By default the step does not depend on rounding (docs: Kronecker page). With
$f = \\varepsilon^{1/4}$ of the factors' dtype: eigenvalues are clamped at
$f\\lambda_{\\max}$ and clustered where neighbours are within $f\\lambda_{\\max}$,
and $v$ (hence the step) is averaged over each cluster, so that the basis
within a cluster (a null space, a repeated eigenvalue) does not matter; in a
basis, $\\epsilon$ is at least $f\\sqrt{\\operatorname{mean} v}$; refreshes use
``eigh``, $v$ carried by the squared overlaps $|Q_{new}^H Q_{old}|^2$. With
``published`` a refresh is the authors' QR power iteration
($Q \\leftarrow \\operatorname{qr}(S Q)$, columns first sorted by $q^H S q$, $v$
permuted along), every coordinate has its own $v$, and $\\epsilon$ is as given.
Complex leaves use Hermitian factors $G G^H$, $Q^H$ and $|\\rho(G)|^2$.
"""

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes.kronecker import _factors
from jaxopt_notes.kronecker._shampoo import per_leaf
from jaxopt_notes._moments import Float, check_moments
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


class ScaleBySoapState(NamedTuple):
  """State of `scale_by_soap`.

  Attributes:
    count: int32 calls taken (the first only starts the factors), saturating.
    mu: the first moment $m_t$, in the eigenbasis.
    nu: the second moment $v_t$, in the eigenbasis.
    stats: per leaf, a tuple with a factor $S^{(i)}$ or ``None`` for each (merged) axis.
    bases: per leaf, the matching eigenbases $Q^{(i)}$.
    groups: per leaf, the int32 eigenvalue cluster of each column of $Q^{(i)}$.
  """

  count: jax.Array  # int32 calls taken (the first only starts the factors), saturating
  mu: Any  # first moment m_t, in the eigenbasis
  nu: Any  # second moment v_t, in the eigenbasis
  stats: Any  # per leaf, a tuple with a factor S^(i) or None for each (merged) axis
  bases: Any  # per leaf, the matching eigenbases Q^(i)
  groups: Any  # per leaf, the eigenvalue cluster of each column of Q^(i) (int32)


def merged_shape(shape: tuple, max_precond_dim: int) -> tuple:
  """Neighbouring axes merged while their product stays within ``max_precond_dim``;
  axes of length 1 are dropped (a shape of only such axes becomes ``(1,)``)."""
  merged = [math.prod(shape[i] for i in g) for g in _factors.merge_groups(shape, max_precond_dim)]
  return tuple(d for d in merged if d > 1) or (1,)


def _layout(shape: tuple, max_precond_dim: int, merge_dims: bool, precondition_1d: bool):
  """The shape the factors see, and which of its axes get one."""
  if len(shape) == 1 and not precondition_1d:
    return shape, (False,)
  if merge_dims and len(shape) > 1:
    shape = merged_shape(shape, max_precond_dim)
  return shape, tuple(d <= max_precond_dim for d in shape)


def _capped(v: jax.Array) -> jax.Array:
  """A second moment, real, with an overflowed entry taken as the largest finite
  number: mixing entries by a matrix with zeros then gives no NaN."""
  v = jnp.real(v)
  return jnp.minimum(v, jnp.finfo(v.dtype).max)


def _whole(groups: Any, *like: Any) -> Any:
  """SOAP's eigenvalue clusters (a few integers each) whole on every device of ``like``'s
  mesh, in ``init``, `abstract_state` and a plain jitted ``update`` alike."""
  mesh = _factors.mesh_of(*like)
  if mesh is None:
    return groups
  return jax.tree.map(lambda g: _factors.place(g, mesh, jax.sharding.PartitionSpec()), groups)


def scale_by_soap(
  b1: Float = 0.95,
  b2: Float = 0.95,
  shampoo_beta: Any = None,
  eps: Float = 1e-8,
  precondition_frequency: Any = 10,
  max_precond_dim: int = 10000,
  merge_dims: bool = False,
  precondition_1d: bool = False,
  published: bool = False,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """SOAP's direction; see `soap`.

  Args:
    b1: decay of the first moment (kept in the eigenbasis).
    b2: decay of the second moment (kept in the eigenbasis).
    shampoo_beta: decay of the Kronecker factors; ``None`` (or a negative
      number, as in the authors' code) uses ``b2``.
    eps: added outside the square root.
    precondition_frequency: steps between refreshes of the eigenbasis.
    max_precond_dim: axes longer than this get no factor (identity basis).
    merge_dims: merge neighbouring axes while their product stays within
      ``max_precond_dim`` (e.g. a convolution kernel's spatial axes).
    precondition_1d: give leaves of rank 1 a factor too.
    published: the authors' numerics: a QR power step at refreshes, the second
      moment permuted with the basis, every coordinate its own second moment,
      ``eps`` as given. Their step depends on rounding wherever a factor has a
      repeated (e.g. zero) eigenvalue; the default (module docstring) does not.
    mu_dtype: the dtype of the first moment (rotated into the eigenbasis); None:
      the params' dtype.
    nu_dtype: the same for the second moment.
  """
  check_moments("scale_by_soap", b1, b2, eps)
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)
  if _numerics.is_concrete(shampoo_beta) and shampoo_beta < 0:
    shampoo_beta = None  # the reference code's -1
  _validate.check(
    "scale_by_soap",
    shampoo_beta=(shampoo_beta, _validate.UNIT),
    precondition_frequency=(precondition_frequency, _validate.AT_LEAST_ONE),
  )
  _validate.check_positive_int("scale_by_soap", "max_precond_dim", max_precond_dim)
  beta_s = b2 if shampoo_beta is None else shampoo_beta
  layout = lambda x: _layout(
    jnp.shape(x),
    max_precond_dim,
    merge_dims,  # noqa: E731
    precondition_1d,
  )

  def factors(x, fill):
    shape, which = layout(x)
    if not any(which):
      return ()
    return tuple(fill(d, _factors.stats_dtype(x)) if yes else None for d, yes in zip(shape, which))

  def singletons(x):
    """Each column of each basis a cluster of its own (replicated: a few integers)."""
    shape, which = layout(x)
    return (
      tuple(
        _placement.replicate_like(jnp.arange(d, dtype=jnp.int32), x) if yes else None
        for d, yes in zip(shape, which)
      )
      if any(which)
      else ()
    )

  def init_fn(params):
    zeros = lambda d, dt: jnp.zeros((d, d), dt)  # noqa: E731
    stats, bases = (
      _factors.spread(per_leaf(lambda x: factors(x, zeros), params), params) for _ in range(2)
    )
    return ScaleBySoapState(
      count=_placement.zero_count(params),
      mu=_tree.zeros_like(params, dtype=mu_dtype),
      nu=_tree.zeros_like(params, dtype=nu_dtype),
      stats=stats,
      bases=bases,
      groups=_whole(per_leaf(singletons, params), params),
    )

  def along(x, mats, transpose=False):
    """``x`` multiplied along each axis of the factors' shape by ``mats`` (see `_factors.along`)."""
    if not mats:
      return x
    shape, _ = layout(x)
    mats = [None if m is None else _factors.gathered(m) for m in mats]
    y = _factors.along(_factors.gathered(x).reshape(shape), mats, 0, transpose=transpose)
    return _factors.sharded_like(y.reshape(jnp.shape(x)), x)

  def rotate(x, bases, back=False):
    """$\\rho(x)$, or $\\rho^{-1}(x)$ with ``back``, in the factors' shape."""
    if back:
      return along(x, bases)
    return along(x, [None if q is None else jnp.conj(q) for q in bases], transpose=True)

  def averaged(x, groups):
    """``x`` (>= 0) averaged over each eigenvalue cluster of each basis
    (`_factors.group_mean`)."""
    x = _capped(x)
    return along(x, [None if g is None else _factors.group_mean(g, x.dtype) for g in groups])

  def new_stats(g, stats):
    if not stats:
      return ()
    keep, add = beta_s, 1 - beta_s
    shape, _ = layout(g)
    x = _factors.gathered(g).astype(_factors.stats_dtype(g)).reshape(shape)
    return tuple(
      None
      if s is None
      else (keep * s + add * _factors.sharded_like(_factors.gram(x, i, 0), s)).astype(s.dtype)
      for i, s in enumerate(stats)
    )

  def eigen(stats):
    """The eigenbasis and clusters of each factor (``None`` where an axis has none)."""
    pairs = [
      None
      if s is None
      else _factors.eigengroups(
        _factors.gathered(s), 0.0 if published else _factors.rounding_floor(s.dtype, 4)
      )
      for s in stats
    ]
    return (
      tuple(None if p is None else _factors.sharded_like(p[0], s) for p, s in zip(pairs, stats)),
      tuple(None if p is None else p[1] for p in pairs),
    )

  def carried(nu, old, new, groups):
    """The second moment moved to the new basis: each new column takes the old
    columns' entries weighted by its squared overlap with them, then its
    cluster's mean."""
    mats = []
    for q, qn, gr in zip(old, new, groups):
      if q is None:
        mats.append(None)
        continue
      w = _factors.overlap(_factors.gathered(qn), _factors.gathered(q))
      mats.append(jnp.matmul(_factors.group_mean(gr, w.dtype), w, precision=_factors.HIGHEST))
    return along(_capped(nu), mats).astype(nu.dtype)

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

  def denominator(v, bases):
    """$\\sqrt{v} + \\epsilon$; in a basis, $\\epsilon$ at least $\\sqrt{\\varepsilon}$ times
    the leaf's root-mean-square $\\sqrt{v}$ (not with ``published``)."""
    if published or not bases:
      return jnp.sqrt(v) + eps
    floor = _factors.rounding_floor(jnp.real(v).dtype, 4)
    return jnp.sqrt(v) + jnp.maximum(eps, floor * jnp.sqrt(jnp.mean(jnp.real(v))))

  def update_fn(updates, state, params=None):
    del params
    _tree.check_match(updates, state.mu)
    first = state.count == 0
    t = state.count  # Adam's step: the calls before this one
    wide = _tree.map(lambda g: g.astype(_factors.stats_dtype(g)), updates)
    rotated = per_leaf(rotate, wide, state.bases)
    squares = _tree.map(_factors.abs2, rotated)
    if not published:
      squares = per_leaf(averaged, squares, state.groups)
    mu = _tree.map(lambda m, r: b1 * m + (1 - b1) * r, state.mu, rotated)
    nu = _tree.map(lambda v, r2: b2 * v + (1 - b2) * r2, state.nu, squares)
    t1 = jnp.maximum(t, 1)  # the first call's step is dropped; keep its gradient finite
    scale = jnp.sqrt(1 - b2**t1) / (1 - b1**t1)
    ratio = per_leaf(lambda m, v, q: scale * m / denominator(v, q), mu, nu, state.bases)
    out = _tree.where(
      first,
      _tree.zeros_like(updates),
      per_leaf(lambda r, q: rotate(r, q, back=True), ratio, state.bases),
    )
    mu = _tree.where(first, state.mu, mu)
    nu = _tree.where(first, state.nu, nu)
    stats = per_leaf(new_stats, updates, state.stats)

    def moved(bases):
      """The first moment rotated from the old bases to ``bases`` (only where they change:
      a step without a refresh skips these products)."""
      return per_leaf(
        lambda m, old, new: rotate(rotate(m, old, back=True), new), mu, state.bases, bases
      )

    def exact():
      found = per_leaf(lambda g, s: eigen(s), updates, stats)
      bases = per_leaf(lambda g, f: f[0], updates, found)
      groups = per_leaf(lambda g, f: f[1], updates, found)
      if published:
        return bases, state.groups, nu, moved(bases)
      return bases, groups, per_leaf(carried, nu, state.bases, bases, groups), moved(bases)

    def power():
      pairs = per_leaf(lambda v, s, q: refreshed(s, q, v), nu, stats, state.bases)
      bases = per_leaf(lambda v, p: p[0], nu, pairs)
      return bases, state.groups, per_leaf(lambda v, p: p[1], nu, pairs), moved(bases)

    due = (t > 0) & (t % precondition_frequency == 0)
    branch = jnp.where(first, 0, jnp.where(due, 1, 2))
    bases, groups, nu, mu = _numerics.switch(
      branch,
      [exact, power if published else exact, lambda: (state.bases, state.groups, nu, mu)],
    )
    # A select on the old moments: the new ones then keep their placement (sharding)
    # rather than whatever the rotations' einsums would give them.
    keep = lambda o, n: jnp.where(jnp.zeros_like(o, bool), o, n.astype(o.dtype))  # noqa: E731
    mu, nu = (_tree.map(keep, old, new) for old, new in ((state.mu, mu), (state.nu, nu)))
    stats, bases = _factors.spread((stats, bases), state.stats, updates)  # where init put them
    groups = _whole(groups, state.stats, updates)
    return _tree.cast_like(out, updates), ScaleBySoapState(
      count=_numerics.safe_increment(state.count),
      mu=_tree.cast_like(mu, state.mu),
      nu=_tree.cast_like(nu, state.nu),
      stats=stats,
      bases=bases,
      groups=groups,
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_soap)
def soap(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.95,
  b2: Float = 0.95,
  shampoo_beta: Any = None,
  eps: Float = 1e-8,
  weight_decay: Float = 0.01,
  precondition_frequency: Any = 10,
  max_precond_dim: int = 10000,
  merge_dims: bool = False,
  precondition_1d: bool = False,
  mask: Any = None,
  published: bool = False,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """SOAP with decoupled weight decay (module docstring).

  Args:
    weight_decay: decoupled weight decay; ``mask`` selects the leaves.
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
  _validate.check(
    "soap",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_soap(
      b1,
      b2,
      shampoo_beta,
      eps,
      precondition_frequency,
      max_precond_dim,
      merge_dims,
      precondition_1d,
      published,
      mu_dtype=mu_dtype,
      nu_dtype=nu_dtype,
    ),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )
