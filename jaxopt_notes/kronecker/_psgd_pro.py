"""PSGD-PRO (Li, 2024): PSGD with Kronecker factors fitted by the Q0.5EQ1.5 ("PRO",
Procrustes) rule, which keeps each factor close to symmetric positive definite.

The direction is that of PSGD-Kron (`_kron`): the debiased momentum $m_t$ of each
tensor, preconditioned by $P = Q^\\mathsf{H} Q$ with $Q = Q_1 \\otimes \\dots \\otimes
Q_k$, one factor per dimension (a dense matrix, or a diagonal for dimensions above
``max_size_triangular`` and for tensors with fewer than ``min_ndim_triangular`` axes),
and nothing else (no clipping of the update):

$$
u_t = m_t \\times_1 Q_1^\\mathsf{H} Q_1 \\cdots \\times_k Q_k^\\mathsf{H} Q_k .
$$

At the steps chosen by the update probability $p$ (``preconditioner_update_probability``:
step $t$ refits when $\\lfloor\\sum_{s \\le t} p(s)\\rfloor > \\lfloor\\sum_{s < t}
p(s)\\rfloor$, a deterministic thinning), the factors are first balanced (scaled to
equal largest entries, their product unchanged) and then refitted. With a probe
$V \\sim \\mathcal N(0, I)$ and the damped gradient $H = G + (\\delta +
\\epsilon_{32}|G|) \\odot V$ ($\\delta$ = ``dampening``), let $\\tilde H = H \\times_i
Q_i^\\mathsf{H} Q_i$ (the preconditioned $H$) and, for factor $i$ of size $d_i$ in a
block of $N$ entries, $C_i = \\tilde H_{(i)} \\tilde H_{(i)}^\\mathsf{H}$ (the mode-$i$
Gram matrix) and $e_i = N / d_i$ (its value at the fitted preconditioner). The factor
takes a step that moves $C_i$ towards $e_i I$,

$$
Q_i \\leftarrow Q_i - \\eta_P\\, \\frac{C_i Q_i - e_i Q_i}{\\ell_i},
\\qquad
\\ell_i \\leftarrow \\max\\bigl(\\lambda_i + e_i,\\;
  \\beta \\ell_i + (1-\\beta)(\\lambda_i + e_i)\\bigr),
$$

($\\eta_P$ = ``preconditioner_lr``, $\\beta$ = ``lower_bound_beta``, $\\ell_i$ starting at
0), $\\lambda_i$ the largest eigenvalue of $C_i$ estimated by ``power_iterations`` steps
of the power iteration on $C_i^2$ started at $C_i$'s largest row. A diagonal factor
uses the diagonal of $C_i$ and its largest entry for $\\lambda_i$. A dense factor then
turns towards the symmetric positive definite factor with the same $P$ by one step of
an online orthogonal Procrustes solver: with the skew part $R = Q_i^\\mathsf{H} - Q_i$
divided by its largest singular value (the same power iteration),
$c_1 = \\operatorname{Re}\\operatorname{tr}(R Q_i)$ and
$c_2 = \\operatorname{Re}\\operatorname{tr}(R^2 Q_i)$,

$$
Q_i \\leftarrow Q_i + s R Q_i + \\tfrac{s^2}{2} R^2 Q_i,\\qquad
s = \\operatorname{clip}(-c_1/c_2,\\, 0,\\, s_{max}) \\text{ if } c_2 < 0
\\text{ else } s_{max},
$$

the second-order expansion of $e^{sR} Q_i$ ($e^{sR}$ is unitary, so $P$ keeps its
fit) at the step that maximises its trace. The bound the method is described with, and
the default argument of the published function, is $s_{max} = 1/8$ (a small rotation,
where two terms of the exponential suffice); the published code's body clamps at $1/2$
instead (``published=True``). A block whose Gram matrix overflows keeps its factors.
"""

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _placement, _random, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._docargs import shared_args
from jaxopt_notes.kronecker import _factors, _psgd
from jaxopt_notes.kronecker._kron import precond_update_prob_schedule
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate

Float = jax.typing.ArrayLike
_MAX_ROTATION = 1 / 8  # the bound of the rotation step s (as described; published default)
_MAX_ROTATION_PUBLISHED = 1 / 2  # the clamp of the published code
# 0.999 ** (t - 1000) after 1000 steps at 1, floored at 0.03: the published schedule
_DEFAULT_PROBABILITY = precond_update_prob_schedule(decay=-math.log(0.999), flat_start=1000)


@shared_args
class ScaleByPsgdProState(NamedTuple):
  """State of `scale_by_psgd_pro`: step count, momentum, factors, their lower bounds.

  Attributes:
    mu: the momentum $m_t$, shaped like params.
    Qs_preconditioners: per param, a tuple of its Kronecker factors, stacked over blocks.
    lower_bounds: per param, a tuple of the running bounds $\\ell_i$, one per block.
    probability_sum: $\\sum_{s \\le t} p(s)$, which decides the steps that refit.
    rng_key: the PRNG key the next step splits.
  """

  count: jax.Array  # int32 steps taken, saturating
  mu: Any  # momentum m_t, like the params
  Qs_preconditioners: Any  # per param: a tuple of factors, stacked over blocks
  lower_bounds: Any  # per param: a tuple of (blocks,) bounds, one per factor
  probability_sum: jax.Array  # float32 sum of the update probabilities so far
  rng_key: jax.Array  # the key the next step splits


class _Settings(NamedTuple):
  """The arguments of `scale_by_psgd_pro`, as given (see there for each)."""

  b1: Any
  preconditioner_update_probability: Any
  max_size_triangular: int
  min_ndim_triangular: int
  memory_save_mode: Any
  momentum_into_precond_update: bool
  preconditioner_lr: Any
  preconditioner_init_scale: Any
  lower_bound_beta: Any
  dampening: Any
  power_iterations: int
  mu_dtype: Any
  precond_dtype: Any
  scanned_layers: Any
  merge_small_dims: bool
  target_merged_dim_size: int
  partition_grads_into_blocks: bool
  block_size: int
  published: bool
  key: Any


# ------------------------------------------------------ one block's maths


def _top_singular_value(a, iterations):
  """$\\lVert A x\\rVert$, $x$ from ``iterations`` power steps $x \\leftarrow A^\\mathsf{H}
  A x / \\lVert\\cdot\\rVert$ started at the (conjugated) largest row of ``a``."""
  norms = jnp.sqrt(jnp.sum(_factors.abs2(a), axis=1))
  k = jnp.argmax(norms)
  top = jnp.maximum(norms[k], jnp.finfo(jnp.float32).tiny).astype(norms.dtype)
  a = a / top
  x = jnp.conj(a[k])
  for _ in range(iterations):
    y = jnp.conj(a).T @ (a @ x)
    x = y / jnp.maximum(jnp.sqrt(jnp.sum(_factors.abs2(y))), 1e-12)
  return jnp.sqrt(jnp.sum(_factors.abs2(a @ x))) * top


def _running_bound(estimate, bound, beta):
  return jnp.maximum(estimate, bound + (estimate - bound) * (1 - beta))


def _rotate(q, iterations, max_step):
  """One online Procrustes step of ``q`` towards the Hermitian factor of equal
  $Q^\\mathsf{H} Q$ (see the module docstring)."""
  r = jnp.conj(q).T - q
  tiny = jnp.finfo(jnp.real(r).dtype).smallest_normal
  r = r / (_top_singular_value(r, iterations) + tiny).astype(r.dtype)
  rq = r @ q
  rrq = r @ rq
  c1, c2 = jnp.real(jnp.trace(rq)), jnp.real(jnp.trace(rrq))
  s = jnp.where(c2 < 0, jnp.clip(-c1 / jnp.where(c2 < 0, c2, -1), 0, max_step), max_step)
  s = s.astype(q.dtype)
  return q + s * rq + (s * s / 2) * rrq


def _fit(qs, bounds, h, lr, beta, iterations, max_step):
  """One PRO fitting step of the (balanced) factors ``qs`` of one block and of their
  bounds; ``h`` is the damped gradient."""
  pg = _psgd.precondition(qs, h)
  new_qs, new_bounds = [], []
  for i, (q, bound) in enumerate(zip(qs, bounds)):
    c = _psgd.gram(pg, i, q.ndim == 1)
    target = h.size / q.shape[0]
    if q.ndim == 1:
      ell = _running_bound(jnp.max(c) + target, bound, beta)
      q = q - q * (lr * (c - target) / ell).astype(q.dtype)
    else:
      top = _top_singular_value(c, iterations)
      ell = _running_bound(top + target, bound, beta)
      q = q - (lr / ell).astype(q.dtype) * (c @ q - target * q)
      q = _rotate(q, iterations, max_step)
    new_qs.append(q)
    new_bounds.append(ell.astype(bound.dtype))
  # a Gram matrix that overflowed (an extreme gradient): the block keeps its factors
  ok = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in new_qs + new_bounds]))
  keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731
  return tuple(map(keep, new_qs, qs)), tuple(map(keep, new_bounds, bounds))


# --------------------------------------------------------- one leaf's maths
#
# Compiled once per layout: an update run eagerly (not under jit) then dispatches one
# program per leaf instead of every small operation of the fit.


@functools.partial(jax.jit, static_argnames=("lay", "iterations", "max_step"))
def _fit_leaf(g, v, qs, bounds, lr, beta, dampening, lay, iterations, max_step):
  """The factors and bounds of every block of one leaf after a fit to gradient ``g``
  with probe ``v``."""
  eps32 = jnp.finfo(jnp.float32).eps
  h = g + (dampening + eps32 * jnp.abs(g)).astype(g.dtype) * v

  def fit(qs, bounds, h):
    return _fit(_psgd.balance(qs), bounds, h, lr, beta, iterations, max_step)

  new, new_bounds = jax.vmap(fit)(qs, bounds, lay.split(h))
  return tuple(_factors.sharded_like(n, q) for n, q in zip(new, qs)), new_bounds


@functools.partial(jax.jit, static_argnames=("lay",))
def _apply_leaf(g, qs, lay):
  """$G \\times_i Q_i^\\mathsf{H} Q_i$ of every block of one leaf."""
  return lay.merge(jax.vmap(_psgd.precondition)(qs, lay.split(g)))


# ------------------------------------------------------------- transform


def _probe(key, count, like):
  """The default probes: standard normal, one per leaf."""
  del count
  return _random.random_like(key, like)


def _scale_by_psgd_pro(s: _Settings, probe: Callable = _probe) -> GradientTransformation:
  """`scale_by_psgd_pro` with its probes from ``probe(key, count, like)``: the hook through
  which tests hand in the probe vectors."""
  mu_dtype = _tree.canonical_dtype(s.mu_dtype)
  precond_dtype = _tree.canonical_dtype(s.precond_dtype)
  prob, b1 = s.preconditioner_update_probability, s.b1

  def init_fn(params):
    def factors(p, lay):
      return _psgd.initial_factors(p, lay, s.preconditioner_init_scale, precond_dtype)

    def bounds(qs):
      if qs is None:
        return None
      return tuple(jnp.zeros(q.shape[:1], jnp.finfo(q.dtype).dtype) for q in qs)

    qs = jax.tree.map(factors, params, _psgd.layouts(params, s), is_leaf=_tree.is_none)
    return ScaleByPsgdProState(
      count=_placement.zero_count(params),
      mu=_tree.zeros_like(params, dtype=mu_dtype),
      Qs_preconditioners=_factors.spread(qs, params),
      lower_bounds=_factors.spread(
        jax.tree.map(lambda _, q: bounds(q), params, qs, is_leaf=_tree.is_none), params
      ),
      probability_sum=_placement.replicate_like(jnp.zeros([], jnp.float32), params),
      rng_key=_placement.replicate_like(_psgd.prng_key(s.key), params),
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
    probes = probe(sub, state.count, fit_in)
    p = prob(state.count + 1) if callable(prob) else prob
    total = state.probability_sum + jnp.asarray(p, jnp.float32)
    max_step = _MAX_ROTATION_PUBLISHED if s.published else _MAX_ROTATION

    def fit_all(qs_and_bounds):
      def one(g, v, qs, bounds, lay):
        if lay is None:
          return None, None
        return _fit_leaf(
          g,
          v,
          qs,
          bounds,
          s.preconditioner_lr,
          s.lower_bound_beta,
          s.dampening,
          lay=lay,
          iterations=s.power_iterations,
          max_step=max_step,
        )

      qs_tree, bounds_tree = qs_and_bounds
      both = jax.tree.map(one, fit_in, probes, qs_tree, bounds_tree, lays, is_leaf=_tree.is_none)

      def pick(k):
        return jax.tree.map(lambda _, pair: pair[k], fit_in, both, is_leaf=_tree.is_none)

      return pick(0), pick(1)

    refit = jnp.floor(total) > jnp.floor(state.probability_sum)
    current = (state.Qs_preconditioners, state.lower_bounds)
    if isinstance(refit, jax.core.Tracer):
      qs, bounds = _numerics.cond(refit, fit_all, lambda x: x, current)
    else:  # run eagerly: no program with both branches to compile at every step
      qs, bounds = fit_all(current) if bool(refit) else current

    def apply(g, qs, lay):
      return None if lay is None else _apply_leaf(g, qs, lay=lay)

    out = jax.tree.map(apply, work, qs, lays, is_leaf=_tree.is_none)
    return _tree.cast_like(out, updates), ScaleByPsgdProState(
      count=count,
      mu=_tree.cast_like(mu, state.mu),
      Qs_preconditioners=_factors.spread(qs, state.Qs_preconditioners, updates),
      lower_bounds=_factors.spread(bounds, state.lower_bounds, updates),
      probability_sum=total,
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
    lower_bound_beta=(s.lower_bound_beta, _validate.UNIT),
    dampening=(s.dampening, _validate.NONNEGATIVE),
  )
  for name in ("max_size_triangular", "target_merged_dim_size", "block_size"):
    _validate.check_positive_int(owner, name, getattr(s, name))
  for name in ("min_ndim_triangular", "power_iterations"):
    if getattr(s, name) != 0:
      _validate.check_positive_int(owner, name, getattr(s, name))
  _validate.check_choice(owner, "memory_save_mode", s.memory_save_mode, _psgd.MODES)


def scale_by_psgd_pro(
  b1: Float = 0.9,
  preconditioner_update_probability: ScalarOrSchedule = _DEFAULT_PROBABILITY,
  max_size_triangular: int = 2048,
  min_ndim_triangular: int = 2,
  memory_save_mode: str | None = None,
  momentum_into_precond_update: bool = True,
  preconditioner_lr: Float = 0.1,
  preconditioner_init_scale: Float = 1.0,
  lower_bound_beta: Float = 0.9,
  dampening: Float = 1e-9,
  power_iterations: int = 2,
  mu_dtype: Any = None,
  precond_dtype: Any = None,
  scanned_layers: Any = None,
  merge_small_dims: bool = False,
  target_merged_dim_size: int = 2048,
  partition_grads_into_blocks: bool = False,
  block_size: int = 512,
  published: bool = False,
  key: Any = None,
) -> GradientTransformation:
  """PSGD-PRO's preconditioned direction; see `psgd_pro` (and the module docstring for the
  maths).

  Args:
    b1: momentum decay; the momentum is debiased and is the direction preconditioned.
    preconditioner_update_probability: the share $p$ of steps that refit the factors, a
      number or a schedule of the step number $t$ (from 1); the steps are chosen
      deterministically, step $t$ refitting when $\\sum_{s \\le t} p(s)$ passes an
      integer. The default is 1 for 1,000 steps, then $0.999^{t - 1000}$, at least 0.03.
    max_size_triangular: dimensions longer than this get a diagonal factor.
    min_ndim_triangular: tensors with fewer dimensions get only diagonal factors.
    memory_save_mode: ``None``, ``"one_diag"`` (the largest dim diagonal),
      ``"smart_one_diag"`` (the same unless the two largest are equal) or ``"all_diag"``.
    momentum_into_precond_update: fit the factors to the momentum (else to the
      raw gradient).
    preconditioner_lr: step size $\\eta_P$ of the factor fit.
    preconditioner_init_scale: the factors start as identities whose Kronecker
      product is this times the identity.
    lower_bound_beta: decay $\\beta$ of the running bound $\\ell_i$ that divides each
      factor's step.
    dampening: $\\delta$, the floor of the probe's scale in the damped gradient
      $H = G + (\\delta + \\epsilon_{32}|G|) \\odot V$.
    power_iterations: power steps of the largest eigenvalue of $C_i$ and of the largest
      singular value of the skew part $R$.
    mu_dtype: dtype of the momentum (default: the param's).
    precond_dtype: dtype of the factors and of the preconditioning (default: the
      param's, at least float32).
    scanned_layers: tree of bools; a ``True`` leaf is a stack of layers along its
      first axis, each with its own factors.
    merge_small_dims: reshape tensors by merging adjacent dims whose product stays
      within ``target_merged_dim_size`` and within the tensor's longest dim (as `kron`).
    target_merged_dim_size: see ``merge_small_dims``.
    partition_grads_into_blocks: cut dense-factor dims longer than ``block_size``
      into blocks of that length (the last one zero-padded), each fitted alone.
    block_size: see ``partition_grads_into_blocks``.
    published: clamp the Procrustes step $s$ at 1/2, as the published code's body does,
      instead of the described 1/8 (that code's own default argument, left unused).
    key: PRNG key or integer seed of the probes' key (default 0).

  Returns:
    The `GradientTransformation`; its state is a `ScaleByPsgdProState`.
  """
  settings = _Settings(**locals())
  _check("scale_by_psgd_pro", settings)
  return _scale_by_psgd_pro(settings)


@shared_args(like=scale_by_psgd_pro)
def psgd_pro(
  learning_rate: ScalarOrSchedule = 0.001,
  b1: Float = 0.9,
  weight_decay: Float = 0.0,
  weight_decay_mask: Any = None,
  preconditioner_update_probability: ScalarOrSchedule = _DEFAULT_PROBABILITY,
  max_size_triangular: int = 2048,
  min_ndim_triangular: int = 2,
  memory_save_mode: str | None = None,
  momentum_into_precond_update: bool = True,
  preconditioner_lr: Float = 0.1,
  preconditioner_init_scale: Float = 1.0,
  lower_bound_beta: Float = 0.9,
  dampening: Float = 1e-9,
  power_iterations: int = 2,
  mu_dtype: Any = None,
  precond_dtype: Any = None,
  scanned_layers: Any = None,
  merge_small_dims: bool = False,
  target_merged_dim_size: int = 2048,
  partition_grads_into_blocks: bool = False,
  block_size: int = 512,
  published: bool = False,
  key: Any = None,
) -> GradientTransformation:
  """PSGD-PRO: momentum preconditioned by Kronecker factors fitted by the Procrustes rule.

  The update is in the module docstring (and on the docs page "PSGD-Kron", section
  "PSGD-PRO"). The defaults are those of HeavyBall's ``PSGDPRO`` except the factors'
  start (HeavyBall derives it from the first gradient; here ``preconditioner_init_scale``).

  Args:
    weight_decay: decoupled weight decay, added after preconditioning.
    weight_decay_mask: which params decay (a tree of bools or a function of params).

  Returns:
    The `GradientTransformation`: `scale_by_psgd_pro`, weight decay, then the learning rate.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.psgd_pro(0.1)
    >>> params = {"w": jnp.ones((3, 2)), "b": jnp.ones(4)}
    >>> state = opt.init(params)
    >>> [f.shape for f in state[0].Qs_preconditioners["w"]]   # one dense factor per dim
    [(1, 3, 3), (1, 2, 2)]
    >>> [f.shape for f in state[0].Qs_preconditioners["b"]]   # a vector: a diagonal one
    [(1, 4)]
    >>> updates, state = opt.update(jax.tree.map(lambda p: 0.5 * p, params), state)
    >>> bool(jnp.all(updates["w"] < 0))
    True

  References: Li, 2018, "Preconditioned Stochastic Gradient Descent", IEEE TNNLS
  (arXiv:1512.04202); Li, 2024, "Stochastic Hessian Fittings with Lie Groups"
  (arXiv:2402.11858); HeavyBall's ``PSGDPRO`` (github.com/HomebrewML/HeavyBall).
  """
  _validate.check(
    "psgd_pro",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_psgd_pro(
      b1,
      preconditioner_update_probability,
      max_size_triangular,
      min_ndim_triangular,
      memory_save_mode,
      momentum_into_precond_update,
      preconditioner_lr,
      preconditioner_init_scale,
      lower_bound_beta,
      dampening,
      power_iterations,
      mu_dtype,
      precond_dtype,
      scanned_layers,
      merge_small_dims,
      target_merged_dim_size,
      partition_grads_into_blocks,
      block_size,
      published,
      key,
    ),
    add_decayed_weights(weight_decay, weight_decay_mask),
    scale_by_learning_rate(learning_rate),
  )
