"""Shampoo (Gupta, Koren & Singer, 2018), as scaled up by Anil et al. (2020).

A leaf $G$ of rank $r$ is cut into blocks of at most ``block_size`` along each
axis. For every block and every axis $i$ a Kronecker factor collects the Gram
matrix of the block unfolded along that axis,

$$
S^{(i)}_t = \\beta_2 S^{(i)}_{t-1} + (1-\\beta_2)\\, G_{(i)} G_{(i)}^H
\\qquad(\\beta_2 = 1:\\ \\text{a plain sum}),
$$

and every ``preconditioning_compute_steps`` steps (from
``start_preconditioning_step`` on) its inverse root is refreshed,

$$
P^{(i)} = \\bigl(S^{(i)} + \\max(\\epsilon, \\sqrt{\\varepsilon})\\,\\lambda_{\\max}(S^{(i)})\\,
I\\bigr)^{-1/p}, \\qquad p = 2r \\text{ unless } \\texttt{exponent\\_override} > 0 ,
$$

$\\varepsilon$ the machine epsilon of the factors' dtype (omitted with
``published``): the floor keeps rounding from moving the roots of a
rank-deficient factor by more than about $\\sqrt{\\varepsilon}$.

The Shampoo direction multiplies the block by $P^{(i)}$ along each axis,
$D = G \\times_1 P^{(1)} \\cdots \\times_r P^{(r)}$ (for a matrix,
$P_L\\, G\\, P_R$). Its norm is then grafted from a diagonal method
(``graft_type``): $\\tilde D = D\\,\\lVert A\\rVert / \\lVert D\\rVert$ per leaf,
where $A$ is the SGD, AdaGrad, RMSProp or Adam direction of $G$ (``"none"``
keeps $D$). Before ``start_preconditioning_step``, on leaves of rank below
``skip_preconditioning_rank_lt`` and on leaves with an axis longer than
``skip_preconditioning_dim_size_gt``, the step is $A$ itself. Momentum comes
last: $m_t = \\beta_1 m_{t-1} + \\tilde D_t$ (or
$(1-\\beta_1)\\tilde D_t$ with ``moving_average_for_momentum``), and the update
is $m_t$, or $\\beta_1 m_t + \\tilde D_t$ with ``nesterov``.

The roots come from a symmetric eigendecomposition in float32 (float64 for
float64 params); see the Kronecker page of the docs for why.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes.kronecker import _factors
from jaxopt_notes._moments import Float
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args

GRAFTS = ("none", "sgd", "adagrad", "rmsprop", "adam")
_DIAGONAL = ("adagrad", "rmsprop", "adam")  # grafts that keep a second moment


@shared_args
class ScaleByShampooState(NamedTuple):
  """State of `scale_by_shampoo`.

  Attributes:
    stats: per leaf, a tuple of the factors $S^{(i)}$, of shape ``(blocks..., b_i, b_i)``; ``()``
      for a leaf with the graft's step alone.
    preconds: per leaf, their inverse roots $P^{(i)}$ as last refreshed.
    diagonal: the graft's second moment (``None`` for the ``'sgd'`` and ``'none'`` grafts).
    mu: the momentum $m_t$, shaped like params.
  """

  count: jax.Array  # int32 steps taken, saturating
  stats: Any  # per leaf, factors S^(i) of shape (blocks..., b_i, b_i); () if diagonal
  preconds: Any  # per leaf, their inverse roots P^(i), as last refreshed
  diagonal: Any  # the graft's second moment (None for "sgd" and "none")
  mu: Any  # momentum m_t


def _blocks(x: Any, block_size: int, rank_lt: int, dim_gt: int) -> Any:
  """The blocking of a preconditioned leaf, or None where it falls back to the graft."""
  shape = jnp.shape(x)
  if len(shape) < max(rank_lt, 1) or any(d > dim_gt for d in shape):
    return None
  return _factors.Blocks.of(shape, block_size)


def per_leaf(f, like: Any, *trees: Any) -> Any:
  """``f(leaf, *subtrees)`` on each trained leaf of ``like``; ``trees`` have ``like``'s
  structure down to its leaves (below which they may hold tuples of factors)."""
  leaves, treedef = jax.tree.flatten(like, is_leaf=_tree.is_none)
  rest = [treedef.flatten_up_to(t) for t in trees]
  out = [None if x is None or _tree.is_frozen(x) else f(x, *r) for x, *r in zip(leaves, *rest)]
  return treedef.unflatten(out)


def _graft_direction(graft_type, g, v, count, b2, eps):
  if graft_type in ("none", "sgd"):
    return g
  if graft_type == "adam":
    v = v / (1 - b2**count).astype(v.dtype)
  return _numerics.rms_scale(g, v, eps, 0.0)


@shared_args
def scale_by_shampoo(
  b1: Float = 0.9,
  b2: Float = 0.999,
  block_size: int = 1024,
  diagonal_epsilon: Float = 1e-10,
  matrix_epsilon: Float = 1e-6,
  start_preconditioning_step: Any = 5,
  preconditioning_compute_steps: Any = 10,
  graft_type: str = "adam",
  nesterov: bool = True,
  exponent_override: Any = 0,
  skip_preconditioning_dim_size_gt: int = 4096,
  skip_preconditioning_rank_lt: int = 2,
  relative_matrix_epsilon: bool = True,
  moving_average_for_momentum: bool = False,
  published: bool = False,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Shampoo's direction with grafting and momentum; see `shampoo`.

  Args:
    b1: momentum of the grafted step.
    b2: decay of the Kronecker factors and of the graft's second moment (1: sums).
    block_size: longest side of a block; longer axes are cut into equal blocks.
    diagonal_epsilon: added outside the square root of the graft's second moment.
    matrix_epsilon: ridge of the inverse roots (relative to the largest
      eigenvalue when ``relative_matrix_epsilon``).
    start_preconditioning_step: the first step (from 1) that uses the factors;
      earlier steps use the graft alone.
    preconditioning_compute_steps: steps between refreshes of the inverse roots
      (Distributed Shampoo's name: roots at ``start_preconditioning_step`` and
      every that many steps after; the factors take in every gradient). Each
      refresh is an ``eigh`` per block and axis, most of a step's time: the
      default 10, as SOAP's ``precondition_frequency``, trades freshness for
      wall-clock (docs: Kronecker page).
    graft_type: ``"adam"`` (RMSProp with bias correction), ``"rmsprop"``,
      ``"adagrad"``, ``"sgd"`` or ``"none"`` (the plain Shampoo direction).
    nesterov: Nesterov momentum.
    exponent_override: the root ``p`` when positive; 0 uses twice the leaf's rank.
    skip_preconditioning_dim_size_gt: leaves with a longer axis get the graft's
      diagonal step.
    skip_preconditioning_rank_lt: so do leaves of lower rank (vectors, scalars).
    relative_matrix_epsilon: scale the ridge by the largest eigenvalue.
    moving_average_for_momentum: ``m = b1 m + (1 - b1) d`` instead of ``b1 m + d``.
    published: the ridge exactly as published, $\\epsilon\\lambda_{\\max}$. By
      default it is at least $\\sqrt{\\varepsilon}\\lambda_{\\max}$, $\\varepsilon$ the
      machine epsilon of the statistics' dtype (3.5e-4 in float32; 1.5e-8 in
      float64, below the default ``matrix_epsilon``), so that rounding (another
      mesh, another reduction order) moves the roots of a rank-deficient
      statistic by about $\\sqrt{\\varepsilon}$, not by percent.
    nu_dtype: dtype in which the graft's second moment (``diagonal``) is stored; ``None``
      keeps each param's dtype.
  """
  owner = "scale_by_shampoo"
  _validate.check(
    owner,
    b1=(b1, _validate.UNIT),
    b2=(b2, _validate.UNIT),
    diagonal_epsilon=(diagonal_epsilon, _validate.NONNEGATIVE),
    matrix_epsilon=(matrix_epsilon, _validate.POSITIVE),
    start_preconditioning_step=(start_preconditioning_step, _validate.NONNEGATIVE),
    preconditioning_compute_steps=(preconditioning_compute_steps, _validate.AT_LEAST_ONE),
    exponent_override=(exponent_override, _validate.NONNEGATIVE),
  )
  for name, value in (
    ("block_size", block_size),
    ("skip_preconditioning_dim_size_gt", skip_preconditioning_dim_size_gt),
  ):
    _validate.check_positive_int(owner, name, value)
  _validate.check_choice(owner, "graft_type", graft_type, GRAFTS)
  plan = lambda x: _blocks(
    x,
    block_size,
    skip_preconditioning_rank_lt,  # noqa: E731
    skip_preconditioning_dim_size_gt,
  )

  def factors(x, fill):
    """One array per axis of a preconditioned leaf: zeros or identities."""
    blocks = plan(x)
    if blocks is None:
      return ()
    dtype = _factors.stats_dtype(x)
    return tuple(jnp.broadcast_to(fill(b, dtype), blocks.counts + (b, b)) for b in blocks.sizes)

  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    zeros = lambda b, dt: jnp.zeros((b, b), dt)  # noqa: E731
    eye = lambda b, dt: jnp.eye(b, dtype=dt)  # noqa: E731
    return ScaleByShampooState(
      count=_placement.zero_count(params),
      stats=_factors.spread(per_leaf(lambda x: factors(x, zeros), params), params),
      preconds=_factors.spread(per_leaf(lambda x: factors(x, eye), params), params),
      diagonal=_tree.zeros_like(params, nu_dtype) if graft_type in _DIAGONAL else None,
      mu=_tree.zeros_like(params, mu_dtype),
    )

  def new_stats(g, stats):
    blocks = plan(g)
    if blocks is None:
      return ()
    keep, add = _factors.ema_weights(b2)
    gb = blocks.split(_factors.gathered(g).astype(stats[0].dtype))
    r = blocks.rank
    return tuple(
      (keep * s + add * _factors.sharded_like(_factors.gram(gb, i, r), s)).astype(s.dtype)
      for i, s in enumerate(stats)
    )

  def roots(stats):
    if not stats:
      return ()
    p = 2 * len(stats)
    if not (_numerics.is_concrete(exponent_override) and exponent_override == 0):
      p = jnp.where(exponent_override > 0, exponent_override, p)
    return tuple(
      _factors.sharded_like(
        _factors.inverse_root(
          _factors.gathered(s),
          p,
          matrix_epsilon,
          relative_matrix_epsilon,
          0.0 if published else _factors.rounding_floor(s.dtype),
        ),
        s,
      )
      for s in stats
    )

  def direction(g, preconds, graft):
    """The grafted Shampoo direction of one leaf (the graft where it has no factors)."""
    if not preconds:
      return graft
    blocks = plan(g)
    mats = [_factors.gathered(p) for p in preconds]
    d = blocks.merge(_factors.along(blocks.split(_factors.gathered(g)), mats, blocks.rank))
    d = _factors.sharded_like(d, g)
    if graft_type == "none":
      return d
    return d * _numerics.safe_div(jnp.linalg.norm(graft), jnp.linalg.norm(d))

  def update_fn(updates, state, params=None):
    del params
    _tree.check_match(updates, state.mu)
    count = _numerics.safe_increment(state.count)
    since = count - start_preconditioning_step
    refresh = (since >= 0) & (since % preconditioning_compute_steps == 0)
    stats = per_leaf(new_stats, updates, state.stats)
    preconds = _numerics.cond(
      refresh, lambda: per_leaf(lambda g, s: roots(s), updates, stats), lambda: state.preconds
    )
    wide = per_leaf(lambda g, s: g.astype(_factors.stats_dtype(g)), updates, state.stats)
    if graft_type in _DIAGONAL:
      keep, add = _factors.ema_weights(1.0 if graft_type == "adagrad" else b2)
      diagonal = _tree.map(lambda g, v: keep * v + add * _factors.abs2(g), wide, state.diagonal)
    else:
      diagonal = wide
    graft = _tree.map(
      lambda g, v: _graft_direction(graft_type, g, v, count, b2, diagonal_epsilon), wide, diagonal
    )
    shampoo = per_leaf(direction, wide, preconds, graft)
    step = _tree.where(since >= 0, shampoo, graft)
    add = (1 - b1) if moving_average_for_momentum else 1.0
    mu = _tree.map(lambda m, d: b1 * m + add * d, state.mu, step)
    out = _tree.map(lambda m, d: b1 * m + add * d, mu, step) if nesterov else mu
    # each factor back where init put it
    stats, preconds = _factors.spread((stats, preconds), state.stats, updates)
    return _tree.cast_like(out, updates), ScaleByShampooState(
      count=count,
      stats=stats,
      preconds=preconds,
      diagonal=_tree.cast_like(diagonal, state.diagonal) if graft_type in _DIAGONAL else None,
      mu=_tree.cast_like(mu, state.mu),
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_shampoo)
def shampoo(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  block_size: int = 1024,
  diagonal_epsilon: Float = 1e-10,
  matrix_epsilon: Float = 1e-6,
  weight_decay: Float = 0.0,
  start_preconditioning_step: Any = 5,
  preconditioning_compute_steps: Any = 10,
  graft_type: str = "adam",
  nesterov: bool = True,
  exponent_override: Any = 0,
  skip_preconditioning_dim_size_gt: int = 4096,
  skip_preconditioning_rank_lt: int = 2,
  relative_matrix_epsilon: bool = True,
  moving_average_for_momentum: bool = False,
  mask: Any = None,
  published: bool = False,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Shampoo with grafting, momentum and decoupled weight decay (module docstring).

  Args:
    weight_decay: decoupled weight decay; ``mask`` selects the leaves it applies to.
    mask: tree or callable selecting the leaves weight decay applies to.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.shampoo(0.1, start_preconditioning_step=1)
    >>> params = jnp.ones((3, 2))
    >>> updates, state = opt.update(jnp.full((3, 2), 0.5), opt.init(params))
    >>> [s.shape for s in state[0].stats]
    [(1, 1, 3, 3), (1, 1, 2, 2)]

  References:
    Gupta, Koren & Singer, 2018, "Shampoo: Preconditioned Stochastic Tensor
    Optimization"; Anil, Gupta, Koren, Regan & Singer, 2020, "Scalable Second
    Order Optimization for Deep Learning".
  """
  _validate.check(
    "shampoo",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_shampoo(
      b1,
      b2,
      block_size,
      diagonal_epsilon,
      matrix_epsilon,
      start_preconditioning_step,
      preconditioning_compute_steps,
      graft_type,
      nesterov,
      exponent_override,
      skip_preconditioning_dim_size_gt,
      skip_preconditioning_rank_lt,
      relative_matrix_epsilon,
      moving_average_for_momentum,
      published,
      mu_dtype=mu_dtype,
      nu_dtype=nu_dtype,
    ),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )
