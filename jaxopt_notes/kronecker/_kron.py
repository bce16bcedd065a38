"""PSGD-Kron (Li, 2015/2018): SGD with a fitted Kronecker-factored preconditioner.

Each gradient tensor $G$ (with momentum $m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t$
debiased by $1-\\beta_1^t$) is preconditioned by $P = Q^\\top Q$ with
$Q = Q_1 \\otimes \\dots \\otimes Q_k$, one factor per tensor dimension: an upper
triangular matrix, or a diagonal one for dimensions above ``max_size_triangular``
(and all dimensions of tensors with fewer than ``min_ndim_triangular`` axes):

$$
\\tilde G = G \\times_1 Q_1^\\top Q_1 \\cdots \\times_k Q_k^\\top Q_k,\\qquad
u_t = \\tilde G / \\max(1, \\operatorname{rms}(\\tilde G) / 1.1).
$$

With probability $p_t$ (``preconditioner_update_probability``, by default
`precond_update_prob_schedule`) the factors are first refitted to whiten the
gradient. With a probe $V \\sim \\mathcal N(0, I)$ and the damped gradient
$H = G + \\sqrt{\\epsilon_{32}}\\,\\operatorname{mean}|G|\\,V$,

$$
A = H \\times_1 Q_1 \\cdots \\times_k Q_k,\\qquad
B = V \\times_1 Q_1^{-\\top} \\cdots \\times_k Q_k^{-\\top},
$$

and for each factor $i$, with $A_{(i)}$ the mode-$i$ unfolding,
$T_1 = A_{(i)} A_{(i)}^\\top$, $T_2 = B_{(i)} B_{(i)}^\\top$:

$$
Q_i \\leftarrow Q_i - \\frac{\\eta_P}{\\lVert T_1 + T_2 \\rVert}
\\operatorname{triu}(T_1 - T_2)\\, Q_i
$$

($\\eta_P$ = ``preconditioner_lr``; $\\lVert\\cdot\\rVert$ a lower bound of the
spectral norm, $\\lVert S v\\rVert / \\lVert v\\rVert$ with $v$ the column of $S$ of largest
norm). A diagonal factor keeps only the diagonals of $T_1$, $T_2$ and divides by
their largest entry. This is a step on the Lie group of triangular matrices that
decreases $\\mathbb E[H^\\top P H + V^\\top P^{-1} V]$, whose minimiser is
$P = (\\mathbb E[HH^\\top])^{-1/2}$. Before the fit, tensors may be reshaped by
merging adjacent small dimensions (``merge_small_dims``) and cut into blocks of
``block_size`` along triangular dimensions (``partition_grads_into_blocks``);
each block then has factors of its own.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _placement, _random, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes.kronecker import _factors, _psgd
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args

Float = jax.typing.ArrayLike
_RMS_CAP = 1.1


def precond_update_prob_schedule(
  max_prob: Float = 1.0, min_prob: Float = 0.03, decay: Float = 0.001, flat_start: Float = 500
) -> Callable:
  """The default preconditioner update probability of `kron`: flat, then decaying.

  $p(n) = \\operatorname{clip}(p_{max}\\, e^{-\\text{decay}\\,(n - \\text{flat\\_start})},
  p_{min}, p_{max})$ for the step count $n$ (from 0): the preconditioner is
  refitted at every step for ``flat_start`` steps, then less and less often,
  down to ``min_prob`` (about step 4000 with the defaults).

  Args:
    max_prob: $p_{max}$, the probability during the flat start, in [0, 1].
    min_prob: $p_{min}$, the smallest probability, in [0, 1].
    decay: the rate of the exponential decay after the flat start; >= 0.
    flat_start: the number of steps at ``max_prob``.

  Examples:
    >>> import jaxopt_notes as jon
    >>> schedule = jon.precond_update_prob_schedule()
    >>> [round(float(schedule(n)), 3) for n in (0, 500, 1500, 5000)]
    [1.0, 1.0, 0.368, 0.03]
  """
  _validate.check(
    "precond_update_prob_schedule",
    max_prob=(max_prob, _validate.UNIT),
    min_prob=(min_prob, _validate.UNIT),
    decay=(decay, _validate.NONNEGATIVE),
  )

  def schedule(n):
    return jnp.clip(max_prob * jnp.exp(-decay * (n - flat_start)), min_prob, max_prob)

  return schedule


@shared_args
class ScaleByKronState(NamedTuple):
  """State of `scale_by_kron`: step count, momentum, Kronecker factors, PRNG key.

  Attributes:
    mu: the momentum $m_t$, shaped like params.
    Qs_preconditioners: per param, a tuple of its Kronecker factors, stacked over blocks.
    rng_key: the PRNG key the next step splits.
  """

  count: jax.Array  # int32 steps taken, saturating
  mu: Any  # momentum m_t, like the params
  Qs_preconditioners: Any  # per param: a tuple of factors, stacked over blocks
  rng_key: jax.Array  # the key the next step splits


# ------------------------------------------------------------------ settings


class _Settings(NamedTuple):
  """The arguments of `scale_by_kron`, as given (see `kron` for each)."""

  b1: Any
  preconditioner_update_probability: Any
  max_size_triangular: int
  min_ndim_triangular: int
  memory_save_mode: Any
  momentum_into_precond_update: bool
  preconditioner_lr: Any
  preconditioner_init_scale: Any
  mu_dtype: Any
  precond_dtype: Any
  precond_update_precision: Any
  precond_grads_precision: Any
  scanned_layers: Any
  lax_map_scanned_layers: bool
  lax_map_batch_size: int
  merge_small_dims: bool
  target_merged_dim_size: int
  partition_grads_into_blocks: bool
  block_size: int
  params_sharding: Any
  preconditioner_sharding: Any
  key: Any


# ------------------------------------------------------ one block's maths


def _norm_lower_bound(s):
  """$\\lVert S v\\rVert / \\lVert v\\rVert$, $v$ the largest column of Hermitian ``s``."""
  top = jnp.max(jnp.abs(s))
  safe = jnp.where(top > 0, top, 1)
  s = s / safe
  v = s[:, jnp.argmax(jnp.sum(_factors.abs2(s), axis=0))]
  vv = jnp.sum(_factors.abs2(v))
  return top * jnp.sqrt(jnp.sum(_factors.abs2(s @ v)) / jnp.where(vv > 0, vv, 1))


def _fit(qs, h, v, lr):
  """One fitting step of the factors ``qs`` of one block (see the module docstring)."""
  a, b = h, v
  for i, q in enumerate(qs):
    a = _psgd.times(a, q, i)
    b = _psgd.times(b, q, i, inverse=True)
  # A common scale leaves every step unchanged and keeps the Gram matrices finite.
  scale = _psgd.safe(jnp.maximum(jnp.max(jnp.abs(a)), jnp.max(jnp.abs(b))))
  a, b = a / scale, b / scale
  new = []
  for i, q in enumerate(qs):
    t1, t2 = _psgd.gram(a, i, q.ndim == 1), _psgd.gram(b, i, q.ndim == 1)
    if q.ndim == 1:
      new.append(q - lr / _psgd.safe(jnp.max(jnp.abs(t1 + t2))) * (t1 - t2) * q)
    else:
      new.append(q - lr / _psgd.safe(_norm_lower_bound(t1 + t2)) * jnp.triu(t1 - t2) @ q)
  return tuple(new)


def _rms_cap(u):
  """``u / max(1, rms(u) / 1.1)``, computed without overflow."""
  top = _psgd.safe(jnp.max(jnp.abs(u)))
  rms = top * jnp.sqrt(jnp.mean(_factors.abs2(u / top)))
  return u / jnp.maximum(1, rms / _RMS_CAP)


# ------------------------------------------------------------- transform


def _draw(key, count, like):
  """The default randomness: a uniform for the fit decision and normal probes."""
  del count
  decide, probe = jax.random.split(key)
  return jax.random.uniform(decide), _random.random_like(probe, like)


def _scale_by_kron(s: _Settings, draw: Callable = _draw) -> GradientTransformation:
  """`scale_by_kron` with its randomness from ``draw(key, count, like) -> (uniform,
  probes)``: the hook through which tests hand in the probe vectors."""
  mu_dtype = _tree.canonical_dtype(s.mu_dtype)
  precond_dtype = _tree.canonical_dtype(s.precond_dtype)
  prob, b1 = s.preconditioner_update_probability, s.b1
  over_stack = _psgd.mapper(s.lax_map_scanned_layers, s.lax_map_batch_size)

  def init_fn(params):
    factors = lambda p, lay: _psgd.initial_factors(  # noqa: E731
      p, lay, s.preconditioner_init_scale, precond_dtype
    )
    key = _psgd.prng_key(s.key)
    return ScaleByKronState(
      count=_placement.zero_count(params),
      mu=_tree.zeros_like(params, dtype=mu_dtype),
      Qs_preconditioners=_factors.spread(
        jax.tree.map(factors, params, _psgd.layouts(params, s), is_leaf=_tree.is_none), params
      ),
      rng_key=_placement.replicate_like(key, params),
    )

  def update_fn(updates, state, params=None):
    del params
    count = _numerics.safe_increment(state.count)
    mu = _moments.update_moment(updates, state.mu, b1, 1)
    direction = _moments.bias_correction(mu, b1, count)
    lays = _psgd.layouts(updates, s)
    work = _tree.map(lambda g: g.astype(_psgd.compute_dtype(g, precond_dtype)), direction)
    fit_in = (
      work
      if s.momentum_into_precond_update
      else _tree.map(lambda g, w: g.astype(w.dtype), updates, work)
    )
    rng_key, sub = jax.random.split(state.rng_key)
    uniform, probes = draw(sub, state.count, fit_in)
    p = prob(state.count) if callable(prob) else prob
    damping = jnp.sqrt(jnp.finfo(jnp.float32).eps)

    def fit_all(qs_tree):
      def one(g, v, qs, lay):
        if lay is None:
          return None
        h = g + damping.astype(g.dtype) * jnp.mean(jnp.abs(g)) * v
        fit = lambda qs, h, v: _fit(_psgd.balance(qs), h, v, s.preconditioner_lr)  # noqa: E731
        new = over_stack(fit, qs, lay.split(h), lay.split(v))
        return tuple(_factors.sharded_like(n, q) for n, q in zip(new, qs))

      with _psgd.precision(s.precond_update_precision):
        return jax.tree.map(one, fit_in, probes, qs_tree, lays, is_leaf=_tree.is_none)

    qs = _numerics.cond(uniform < p, fit_all, lambda q: q, state.Qs_preconditioners)

    def apply(g, qs, lay):
      if lay is None:
        return None
      with _psgd.precision(s.precond_grads_precision):
        out = over_stack(_psgd.precondition, qs, lay.split(g))
      return _rms_cap(lay.merge(out))

    out = jax.tree.map(apply, work, qs, lays, is_leaf=_tree.is_none)
    return _tree.cast_like(out, updates), ScaleByKronState(
      count=count,
      mu=_tree.cast_like(mu, state.mu),
      Qs_preconditioners=_factors.spread(qs, state.Qs_preconditioners, updates),
      rng_key=rng_key,
    )

  return GradientTransformation(init_fn, update_fn)


def _check(owner: str, s: _Settings) -> None:
  _validate.check(
    owner,
    b1=(s.b1, _validate.UNIT),
    preconditioner_update_probability=(s.preconditioner_update_probability, _validate.UNIT),
    preconditioner_lr=(s.preconditioner_lr, _validate.NONNEGATIVE),
    preconditioner_init_scale=(s.preconditioner_init_scale, _validate.POSITIVE),
  )
  for name in ("max_size_triangular", "lax_map_batch_size", "target_merged_dim_size", "block_size"):
    _validate.check_positive_int(owner, name, getattr(s, name))
  if s.min_ndim_triangular != 0:
    _validate.check_positive_int(owner, "min_ndim_triangular", s.min_ndim_triangular)
  _validate.check_choice(owner, "memory_save_mode", s.memory_save_mode, _psgd.MODES)


def scale_by_kron(
  b1: Float = 0.9,
  preconditioner_update_probability: ScalarOrSchedule = precond_update_prob_schedule(),
  max_size_triangular: int = 8192,
  min_ndim_triangular: int = 2,
  memory_save_mode: str | None = None,
  momentum_into_precond_update: bool = True,
  preconditioner_lr: Float = 0.1,
  preconditioner_init_scale: Float = 1.0,
  mu_dtype: Any = None,
  precond_dtype: Any = None,
  precond_update_precision: str | None = "tensorfloat32",
  precond_grads_precision: str | None = None,
  scanned_layers: Any = None,
  lax_map_scanned_layers: bool = False,
  lax_map_batch_size: int = 8,
  merge_small_dims: bool = True,
  target_merged_dim_size: int = 4096,
  partition_grads_into_blocks: bool = True,
  block_size: int = 512,
  params_sharding: Any = None,
  preconditioner_sharding: Any = None,
  key: Any = None,
) -> GradientTransformation:
  """PSGD-Kron's preconditioned direction; see `kron` (and the module docstring for the maths).

  Args:
    b1: momentum decay; the momentum is debiased and is the direction preconditioned.
    preconditioner_update_probability: probability of refitting the factors at a
      step, a number or a schedule of the step count (default:
      `precond_update_prob_schedule`). The draw uses the key in the state.
    max_size_triangular: dimensions longer than this get a diagonal factor.
    min_ndim_triangular: tensors with fewer dimensions get only diagonal factors.
    memory_save_mode: ``None``, ``"one_diag"`` (the largest dim diagonal),
      ``"smart_one_diag"`` (the same unless the two largest are equal) or ``"all_diag"``.
    momentum_into_precond_update: fit the factors to the momentum (else to the
      raw gradient).
    preconditioner_lr: step size $\\eta_P$ of the factor fit.
    preconditioner_init_scale: the factors start as identities whose Kronecker
      product is this times the identity.
    mu_dtype: dtype of the momentum (default: the param's).
    precond_dtype: dtype of the factors and of the preconditioning (default: the
      param's, at least float32).
    precond_update_precision: matmul precision of the fit (``jax.default_matmul_precision``).
    precond_grads_precision: matmul precision of the preconditioning.
    scanned_layers: tree of bools; a ``True`` leaf is a stack of layers along its
      first axis, each with its own factors.
    lax_map_scanned_layers: map over blocks and layers with ``lax.map`` (less
      memory) instead of ``vmap``.
    lax_map_batch_size: the ``batch_size`` of that ``lax.map``.
    merge_small_dims: reshape tensors by merging adjacent dims whose product stays
      within ``target_merged_dim_size`` and within the tensor's longest dim:
      merging never makes a factor larger than the largest the tensor has
      unmerged, so a matrix is never merged.
    target_merged_dim_size: see ``merge_small_dims``.
    partition_grads_into_blocks: cut triangular dims longer than ``block_size``
      into blocks of that length (the last one zero-padded), each fitted alone.
    block_size: see ``partition_grads_into_blocks``.
    params_sharding: accepted for compatibility: the factors are spread over the
      params' mesh by one rule (whole blocks first, then rows; docs page
      "Kronecker factors"), the same in ``init``, a jitted ``update`` and
      `abstract_state`.
    preconditioner_sharding: accepted for compatibility; see ``params_sharding``.
    key: PRNG key or integer seed of the state's key (default 0).
  """
  settings = _Settings(**locals())
  _check("scale_by_kron", settings)
  return _scale_by_kron(settings)


@shared_args(like=scale_by_kron)
def kron(
  learning_rate: ScalarOrSchedule = 0.0003,
  b1: Float = 0.9,
  weight_decay: Float = 0.0,
  weight_decay_mask: Any = None,
  preconditioner_update_probability: ScalarOrSchedule = precond_update_prob_schedule(),
  max_size_triangular: int = 8192,
  min_ndim_triangular: int = 2,
  memory_save_mode: str | None = None,
  momentum_into_precond_update: bool = True,
  preconditioner_lr: Float = 0.1,
  preconditioner_init_scale: Float = 1.0,
  mu_dtype: Any = None,
  precond_dtype: Any = None,
  precond_update_precision: str | None = "tensorfloat32",
  precond_grads_precision: str | None = None,
  scanned_layers: Any = None,
  lax_map_scanned_layers: bool = False,
  lax_map_batch_size: int = 8,
  merge_small_dims: bool = True,
  target_merged_dim_size: int = 4096,
  partition_grads_into_blocks: bool = True,
  block_size: int = 512,
  params_sharding: Any = None,
  preconditioner_sharding: Any = None,
  key: Any = None,
) -> GradientTransformation:
  """PSGD-Kron: momentum SGD preconditioned by fitted Kronecker factors.

  The update is in the module docstring (and on the docs page "PSGD-Kron"); the argument
  names and defaults are those of the ``kron`` of the psgd_jax and
  distributed_kron packages, so code written for them switches by import.

  Args:
    weight_decay: decoupled weight decay, added after preconditioning.
    weight_decay_mask: which params decay (a tree of bools or a function of params).

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.kron(0.1, merge_small_dims=False)
    >>> params = {"w": jnp.ones((3, 2))}
    >>> updates, state = opt.update({"w": jnp.full((3, 2), 0.5)}, opt.init(params))
    >>> [f.shape for f in state[0].Qs_preconditioners["w"]]   # one triangular factor per dim
    [(1, 3, 3), (1, 2, 2)]
    >>> conv = {"w": jnp.ones((3, 3, 16))}   # 3 x 3 = 9 <= 16: the two small dims merge
    >>> [f.shape for f in jon.kron(0.1).init(conv)[0].Qs_preconditioners["w"]]
    [(1, 9, 9), (1, 16, 16)]

  References: Li, 2018, "Preconditioned Stochastic Gradient Descent", IEEE TNNLS
  (arXiv:1512.04202); Li, 2019, "Preconditioner on Matrix Lie Group for SGD", ICLR.
  """
  _validate.check(
    "kron",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_kron(
      b1,
      preconditioner_update_probability,
      max_size_triangular,
      min_ndim_triangular,
      memory_save_mode,
      momentum_into_precond_update,
      preconditioner_lr,
      preconditioner_init_scale,
      mu_dtype,
      precond_dtype,
      precond_update_precision,
      precond_grads_precision,
      scanned_layers,
      lax_map_scanned_layers,
      lax_map_batch_size,
      merge_small_dims,
      target_merged_dim_size,
      partition_grads_into_blocks,
      block_size,
      params_sharding,
      preconditioner_sharding,
      key,
    ),
    add_decayed_weights(weight_decay, weight_decay_mask),
    scale_by_learning_rate(learning_rate),
  )
