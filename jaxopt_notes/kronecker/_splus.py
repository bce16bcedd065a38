"""SPlus (Frans, Levine & Abbeel, 2025): the sign of the momentum in Shampoo's eigenbasis.

For a matrix leaf $G \\in \\mathbb R^{m \\times n}$ the momentum and Shampoo's two
factors are kept,

$$
M_t = \\beta_1 M_{t-1} + (1-\\beta_1) G_t,\\qquad
L_t = \\beta_2 L_{t-1} + (1-\\beta_2) G_t G_t^H,\\qquad
R_t = \\beta_2 R_{t-1} + (1-\\beta_2) G_t^\\top \\bar G_t,
$$

with orthogonal eigenbases $Q_L, Q_R$ of $L + \\epsilon I$ and $R + \\epsilon I$,
refreshed after the step at $t = 1$ and every ``inverse_every`` steps (the
identity before the first refresh). The direction takes the sign of the
momentum in that basis ("instant-sign normalisation": no second moment, so a
stale basis cannot give an unbounded step) and rotates it back,

$$
D_t = Q_L\\, \\operatorname{sign}\\bigl(Q_L^H M_t \\bar Q_R\\bigr)\\, Q_R^\\top ,
$$

(for a real leaf $Q_L \\operatorname{sign}(Q_L^\\top M Q_R) Q_R^\\top$). An axis
longer than ``max_dim`` keeps the identity basis; leaves that are not matrices
take $\\operatorname{sign}(M_t)$. For a complex leaf $\\operatorname{sign}(z) = z/|z|$.

`splus` adds decoupled weight decay and scales the step per leaf, learning rate
last: $u_t = -\\eta\\, s\\, (D_t + \\lambda \\theta_{t-1})$ with the shape-aware
$s = 2/(m+n)$ for a matrix with both sides at most ``max_dim`` whose path names
none of ``nonstandard_strings``, and $s$ = ``nonstandard_constant`` otherwise
(embeddings, norms, vectors), so that one learning rate carries across widths.

Iterate averaging: the state keeps the debiased average of the params given to
``update``, $\\bar\\theta_t = \\sum_s w_{t,s}\\theta_{s-1}$ with the weights of the
exponential average $\\bar\\theta_t \\propto \\rho\\bar\\theta_{t-1} + (1-\\rho)\\theta_{t-1}$
divided by $1-\\rho^t$ ($\\rho$ = ``ema_rate``); evaluate at `splus_eval_params`.
"""

from typing import Any, NamedTuple
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule, stateless
from jaxopt_notes._combine import chain
from jaxopt_notes.kronecker import _factors
from jaxopt_notes.kronecker._shampoo import per_leaf
from jaxopt_notes._moments import Float
from jaxopt_notes.transforms._adding import NO_PARAMS, add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args

_BELOW_ONE = _validate.Range(0.0, 1.0, hi_closed=False)


@shared_args
class ScaleBySplusState(NamedTuple):
  """State of `scale_by_splus`.

  Attributes:
    count: int32 steps taken, saturating.
    mu: the momentum $M_t$.
    params_ema: the debiased average of the params given to ``update`` (for evaluation).
    stats: per matrix leaf, $(L, R)$ (``None`` on an axis longer than ``max_dim``); else ``()``.
    bases: per matrix leaf, their eigenbases as last refreshed.
  """

  count: jax.Array  # int32 steps taken, saturating
  mu: Any  # momentum M_t
  params_ema: Any  # the debiased average of the params given to update (for evaluation)
  stats: Any  # per matrix leaf, (L, R) (None on an axis longer than max_dim); else ()
  bases: Any  # per matrix leaf, their eigenbases as last refreshed


@shared_args
def scale_by_splus(
  b1: Float = 0.9,
  b2: Float = 0.999,
  ema_rate: Float = 0.999,
  eps: Float = 1e-30,
  inverse_every: Any = 100,
  max_dim: int = 10000,
  *,
  mu_dtype: Any = None,
) -> GradientTransformation:
  """SPlus's direction $D_t$ and its average of the params; see `splus`.

  Args:
    b1: momentum decay.
    b2: decay of the factors $L$, $R$.
    ema_rate: decay $\\rho$ of the average of the params (below 1).
    eps: added to the factors' diagonal before their ``eigh``.
    inverse_every: steps between refreshes of the eigenbases (also refreshed after
      the first step).
    max_dim: axes longer than this get no factor.
  """
  owner = "scale_by_splus"
  _validate.check(
    owner,
    b1=(b1, _validate.UNIT),
    b2=(b2, _validate.UNIT),
    ema_rate=(ema_rate, _BELOW_ONE),
    eps=(eps, _validate.NONNEGATIVE),
    inverse_every=(inverse_every, _validate.AT_LEAST_ONE),
  )
  _validate.check_positive_int(owner, "max_dim", max_dim)

  def factors(x, fill):
    if jnp.ndim(x) != 2 or not any(d <= max_dim for d in jnp.shape(x)):
      return ()
    dtype = _factors.stats_dtype(x)
    return tuple(fill(d, dtype) if d <= max_dim else None for d in jnp.shape(x))

  def init_fn(params):
    zeros = lambda d, dt: jnp.zeros((d, d), dt)  # noqa: E731
    eye = lambda d, dt: jnp.eye(d, dtype=dt)  # noqa: E731
    return ScaleBySplusState(
      count=_placement.zero_count(params),
      mu=_tree.zeros_like(params, _tree.canonical_dtype(mu_dtype)),
      params_ema=_tree.zeros_like(params),
      stats=_factors.spread(per_leaf(lambda x: factors(x, zeros), params), params),
      bases=_factors.spread(per_leaf(lambda x: factors(x, eye), params), params),
    )

  def along(x, mats, transpose=False):
    if not mats:
      return x
    mats = [None if m is None else _factors.gathered(m) for m in mats]
    y = _factors.along(_factors.gathered(x), mats, 0, transpose=transpose)
    return _factors.sharded_like(y, x)

  def direction(m, bases):
    """$Q_L \\operatorname{sign}(Q_L^H M \\bar Q_R) Q_R^\\top$ (``sign(M)`` off matrices)."""
    rotated = along(m, [None if q is None else jnp.conj(q) for q in bases], transpose=True)
    return along(jnp.sign(rotated), bases)

  def new_stats(g, stats):
    x = _factors.gathered(g)
    return tuple(
      None
      if s is None
      else (
        b2 * s + (1 - b2) * _factors.sharded_like(_factors.gram(x.astype(s.dtype), i, 0), s)
      ).astype(s.dtype)
      for i, s in enumerate(stats)
    )

  def eigen(stats):
    return tuple(
      None
      if s is None
      else _factors.sharded_like(
        _factors.eigenbasis(_factors.gathered(s) + eps * jnp.eye(s.shape[-1], dtype=s.dtype)), s
      )
      for s in stats
    )

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError(f"{owner} {NO_PARAMS}")
    _tree.check_match(updates, state.mu)
    count = _numerics.safe_increment(state.count)
    wide = per_leaf(lambda g, s: g.astype(_factors.stats_dtype(g)), updates, state.stats)
    mu = _tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, wide)
    out = per_leaf(direction, mu, state.bases)
    stats = per_leaf(new_stats, wide, state.stats)
    refresh = (count == 1) | (count % inverse_every == 0)
    bases = _numerics.cond(
      refresh, lambda: per_leaf(lambda g, s: eigen(s), updates, stats), lambda: state.bases
    )
    rho = jnp.asarray(ema_rate, _tree.scalar_dtype(params))
    weight = (1 - rho) / (1 - rho ** count.astype(rho.dtype))
    params_ema = _tree.map(lambda e, p: e + weight * (p - e), state.params_ema, params)
    stats, bases = _factors.spread((stats, bases), state.stats, updates)  # where init put them
    return _tree.cast_like(out, updates), ScaleBySplusState(
      count=count,
      mu=_tree.cast_like(mu, state.mu),
      params_ema=_tree.cast_like(params_ema, state.params_ema),
      stats=stats,
      bases=bases,
    )

  return GradientTransformation(init_fn, update_fn)


def _shape_scale(x: Any, path: str, constant: Any, strings: Sequence[str], max_dim: int) -> Any:
  """$2/(m+n)$ for an $m \\times n$ matrix (both at most ``max_dim``, ``path`` naming none
  of ``strings``), else ``constant``."""
  shape = jnp.shape(x)
  if len(shape) == 2 and max(shape) <= max_dim and not any(s in path for s in strings):
    return 2.0 / (shape[0] + shape[1])
  return constant


def scale_by_shape(
  nonstandard_constant: Float = 0.001,
  nonstandard_strings: Sequence[str] = ("embed", "layernorm"),
  max_dim: int = 10000,
) -> GradientTransformation:
  """SPlus's shape-aware scaling: each leaf times $2/(m+n)$ or a constant.

  An $m \\times n$ matrix with both sides at most ``max_dim`` whose pytree path
  (`jax.tree_util.keystr`, lower case) contains none of ``nonstandard_strings``
  is multiplied by $2/(m+n)$; every other leaf (vectors, scalars, embeddings,
  norms, tensors of other rank) by ``nonstandard_constant``.

  Args:
    nonstandard_constant: the factor of the leaves that are not standard matrices.
    nonstandard_strings: substrings of a leaf's path that make it nonstandard.
    max_dim: a matrix with a longer side is nonstandard.

  Returns:
    A stateless `GradientTransformation`.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> tx = jon.kronecker.scale_by_shape()
    >>> g = {"w": jnp.ones((3, 5)), "embed": jnp.ones((3, 5)), "b": jnp.ones(5)}
    >>> u, _ = tx.update(g, tx.init(g))
    >>> [round(float(u[k].ravel()[0]), 6) for k in ("w", "embed", "b")]
    [0.25, 0.001, 0.001]
  """
  _validate.check("scale_by_shape", nonstandard_constant=(nonstandard_constant, _validate.FINITE))
  _validate.check_positive_int("scale_by_shape", "max_dim", max_dim)
  strings = tuple(s.lower() for s in nonstandard_strings)

  def apply(updates, params):
    del params
    return jax.tree_util.tree_map_with_path(
      lambda path, u: (
        None
        if u is None
        else u
        * jnp.asarray(
          _shape_scale(
            u, jax.tree_util.keystr(path).lower(), nonstandard_constant, strings, max_dim
          ),
          jnp.real(u).dtype,
        )
      ),
      updates,
      is_leaf=_tree.is_none,
    )

  return stateless(apply)


def splus_eval_params(state: Any) -> Any:
  """The averaged params SPlus is evaluated at, from its state (or a chain's state holding it).

  Args:
    state: a `ScaleBySplusState`, or any optimizer state (a `splus` chain's tuple,
      a wrapper's state) that holds exactly one.

  Returns:
    The debiased exponential average of the params given to ``update``.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.kronecker.splus(0.1, ema_rate=0.5, weight_decay=0.0)
    >>> params = jnp.array([1.0, -2.0])
    >>> state = opt.init(params)
    >>> for _ in range(2):
    ...   updates, state = opt.update(2 * params, state, params)
    ...   params = params + updates
    >>> [round(float(v), 5) for v in jon.kronecker.splus_eval_params(state)]  # (w0 + 2 w1) / 3
    [0.99993, -1.99993]
  """
  found = [
    s
    for s in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, ScaleBySplusState))
    if isinstance(s, ScaleBySplusState)
  ]
  if len(found) != 1:
    raise TypeError(
      "splus_eval_params: `state` must hold exactly one ScaleBySplusState "
      f"(the state of splus or scale_by_splus), found {len(found)}"
    )
  return found[0].params_ema


@shared_args(like=scale_by_splus)
def splus(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  ema_rate: Float = 0.999,
  eps: Float = 1e-30,
  inverse_every: Any = 100,
  nonstandard_constant: Float = 0.001,
  nonstandard_strings: Sequence[str] = ("embed", "layernorm"),
  weight_decay: Float = 1e-2,
  mask: Any = None,
  max_dim: int = 10000,
  *,
  mu_dtype: Any = None,
) -> GradientTransformation:
  """SPlus: sign descent in Shampoo's eigenbasis, shape-scaled, with iterate averaging.

  The update is in the module docstring (and on the docs page "SPlus"):
  $u_t = -\\eta\\, s\\,(D_t + \\lambda\\theta_{t-1})$. The argument names and defaults
  are those of the authors' optax code. Evaluate the model at
  `splus_eval_params` (the averaged params), train at the params.

  Args:
    learning_rate: a number, traced array or schedule; far larger than Adam's
      because of the shape scale (the authors suggest 0.2 for common transformers).
    nonstandard_constant: the step's scale on leaves that are not standard matrices.
    nonstandard_strings: substrings of a leaf's path (lower case) that make it
      nonstandard (embeddings, norms).
    weight_decay: decoupled weight decay, scaled with the step; ``mask`` selects leaves.
    mask: tree or callable selecting the leaves weight decay applies to.
    max_dim: axes longer than this get no factor, and a matrix with one is nonstandard.

  Returns:
    The chain ``scale_by_splus``, ``add_decayed_weights``, `scale_by_shape`,
    ``scale_by_learning_rate``.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.kronecker.splus(0.1, weight_decay=0.0)
    >>> params = {"w": jnp.ones((2, 3))}
    >>> updates, state = opt.update({"w": jnp.full((2, 3), 0.5)}, opt.init(params), params)
    >>> round(float(updates["w"][0, 0]), 6)  # first step: -0.1 * 2 / (2 + 3) * sign(0.05)
    -0.04

  Reference: Frans, Levine & Abbeel, 2025, "A Stable Whitening Optimizer for
  Efficient Neural Network Training" (arXiv:2506.07254).
  """
  _validate.check(
    "splus",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_splus(b1, b2, ema_rate, eps, inverse_every, max_dim, mu_dtype=mu_dtype),
    add_decayed_weights(weight_decay, mask),
    scale_by_shape(nonstandard_constant, nonstandard_strings, max_dim),
    scale_by_learning_rate(learning_rate),
  )
