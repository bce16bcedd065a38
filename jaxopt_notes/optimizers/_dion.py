"""Dion (Ahn et al., 2025): low-rank orthonormal updates by amortised power iteration.

For an $m \\times n$ matrix leaf (oriented so that $m \\ge n$; the update of the
transpose is the transpose of the update), with a right factor $Q_{t-1}$ of
$n \\times r$ carried from step to step (random at the start):

$$
B_t = M_{t-1} + G_t,\\qquad P_t = \\operatorname{orth}(B_t Q_{t-1}),\\qquad
R_t = B_t^\\top P_t,
$$

$$
M_t = B_t - (1 - \\mu) P_t R_t^\\top,\\qquad
Q_t = R_t\\,\\operatorname{diag}(\\lVert R_t e_j\\rVert + \\epsilon)^{-1},
$$

$$
\\theta_t = \\theta_{t-1} - \\eta\\Big(\\sqrt{\\text{fan\\_out}/\\text{fan\\_in}}\\;P_t Q_t^\\top
            + \\lambda\\theta_{t-1}\\Big)
$$

($\\operatorname{orth}$ is the Q of a QR decomposition). One power-iteration
step per optimizer step, warm-started from the last $Q$, tracks the leading
rank-$r$ subspace of the momentum; what the rank-$r$ step leaves out stays in
$M_t$ (error feedback: the momentum keeps the residual, and only the part the
update used decays by $\\mu$). $P_t Q_t^\\top$ has orthonormal columns in $P$ and
unit columns in $Q$, a low-rank stand-in for Muon's $UV^\\top$.

``rank`` is a fraction of $\\min(m, n)$ when a float (rounded up), a number of
columns when an int; $r \\le \\min(m, n)$. A column of $R_t$ that is zero steps by
zero and keeps its old $Q$ column, so that the iteration can restart. So does
one whose norm is at rounding level, below $\\max(m, n)\\,\\varepsilon_{mach}$
times the largest: where $B_t$ has rank below $r$ (the last layer's gradient
under a softmax, whose rows sum to zero, loses one), the QR's surplus columns
are rounding noise, which $R_t / (\\lVert R_t e_j\\rVert + \\epsilon)$ would
blow up to unit columns of arbitrary direction (in exact arithmetic they are
zero).
Half-precision leaves are orthonormalised in float32.

Leaves that are not matrices follow `adamw`, as in `muon`; the axes of a
leaf are named by `MuonDimensionNumbers` (other axes are batch axes, each
matrix with its own $Q$).
"""

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._moments import Float
from jaxopt_notes.optimizers._muon import (
  is_spec,
  matrix_axes,
  resolve_dimension_numbers,
  widen_float16,
)
from jaxopt_notes.transforms._masking import MaskedNode
from jaxopt_notes._docargs import shared_args
from jaxopt_notes.optimizers._normuon import matrices_and_adamw


class _Step(NamedTuple):
  update: jax.Array
  residual: jax.Array
  q: jax.Array


class ScaleByDionState(NamedTuple):
  """State of `scale_by_dion`.

  Attributes:
    count: int32 steps taken, saturating.
    mu: the momentum $M_t$, which keeps the residual of the low-rank steps (error feedback).
    q: the right factors $Q_t$ of the power iteration, ``(batch, min(m, n), r)`` per matrix
      leaf.
  """

  count: jax.Array  # int32 steps taken, saturating
  mu: Any  # momentum M_t, the residual of the low-rank steps
  q: Any  # right factors Q_t: (batch, min(m, n), r) per matrix leaf


def _rank(rank: Any, m: int, n: int) -> int:
  r = rank if isinstance(rank, int) else math.ceil(rank * min(m, n))
  return max(1, min(r, m, n))


def _as_matrices(spec: Any, x: jax.Array) -> tuple[jax.Array, Any]:
  """``x`` as a stack of the paper's $m \\times n$ = fan_out x fan_in matrices, turned where
  wide (so that $m \\ge n$), and the way back."""
  batch, red, out = matrix_axes(x, spec)
  order = batch + red + out
  shape = [x.shape[a] for a in order]
  fan_in = math.prod(x.shape[a] for a in red)
  fan_out = math.prod(x.shape[a] for a in out)
  stack = x.transpose(order).reshape(-1, fan_in, fan_out)
  tall = fan_in > fan_out  # x is fan_in x fan_out: the paper's matrix turned
  stack = stack if tall else stack.transpose(0, 2, 1)
  inverse = sorted(range(x.ndim), key=order.__getitem__)

  def back(y):
    y = y if tall else y.transpose(0, 2, 1)
    return y.reshape(shape).transpose(inverse)

  return stack, back


def _dion_matrix(b, q, mu, eps):
  """One Dion step on a tall matrix ``b`` with right factor ``q``: (update, residual, q)."""
  p, _ = jnp.linalg.qr(b @ q)
  r = b.conj().T @ p
  residual = b - (1 - mu) * p @ r.conj().T
  norms = jnp.linalg.norm(r, axis=0, keepdims=True)
  # columns at rounding level (zero in exact arithmetic: b has lower rank) step by 0
  kept = norms > jnp.finfo(norms.dtype).eps * max(b.shape) * jnp.max(norms)
  new = jnp.where(kept, _numerics.safe_div(r, norms + eps), 0)
  return p @ new.conj().T, residual, jnp.where(kept, new, q)


def scale_by_dion(
  rank: Any = 1.0,
  mu: Float = 0.95,
  eps: Float = 1e-8,
  mu_dtype: Any = None,
  *,
  key: Any = 0,
  weight_dimension_numbers: Any = None,
) -> GradientTransformation:
  """Dion's low-rank orthonormal direction for every matrix leaf; see `dion`.

  The shape factor $\\sqrt{\\text{fan\\_out}/\\text{fan\\_in}}$ is included.

  Args:
    rank: a fraction of $\\min(m, n)$ (a float in ``(0, 1]``) or a number of columns
      (a positive int).
    mu: the momentum's decay $\\mu$ (of the part the update used).
    eps: added to the column norms of $R_t$.
    mu_dtype: the momentum's dtype (``None``: the params').
    key: a PRNG key or an int seed for the random start of $Q$.
    weight_dimension_numbers: a tree (or prefix, or callable of the updates) of
      `MuonDimensionNumbers`; ``None`` makes every leaf a matrix of rows x columns.

  Returns:
    The transform; its state is `ScaleByDionState`.
  """
  owner = "scale_by_dion"
  _validate.check(owner, mu=(mu, _validate.UNIT), eps=(eps, _validate.NONNEGATIVE))
  if (
    isinstance(rank, bool)
    or not isinstance(rank, (int, float))
    or rank <= 0
    or (isinstance(rank, float) and rank > 1)
  ):
    raise ValueError(
      f"{owner}: argument `rank` must be a float in (0, 1] or a positive int, got {rank!r}"
    )
  mu_dtype = _tree.canonical_dtype(mu_dtype)

  def init_fn(params):
    specs = resolve_dimension_numbers(weight_dimension_numbers, params)
    base = jax.random.PRNGKey(key) if isinstance(key, int) else key
    counter = iter(range(len(jax.tree.leaves(params))))

    def start(spec, x):
      # placed as the update leaves Q (R = B^T P keeps the sharding of B's columns): a
      # reduction over the rows of the param-placed zeros, broadcast over the rank
      zeros, _ = _as_matrices(spec, _tree.zeros_like(x))
      m, n = zeros.shape[1:]
      k = jax.random.fold_in(base, next(counter))
      q = jax.random.normal(k, (zeros.shape[0], n, _rank(rank, m, n)))
      return jnp.sum(zeros, axis=1)[..., None] + _placement.replicate_like(q.astype(zeros.dtype), x)

    q = jax.tree.map(
      lambda spec, sub: (
        sub
        if isinstance(spec, MaskedNode)
        else None
        if spec is None
        else _tree.map(lambda x: start(spec, x), sub)
      ),
      specs,
      params,
      is_leaf=is_spec,
    )
    return ScaleByDionState(
      count=_placement.zero_count(params), mu=_tree.zeros_like(params, dtype=mu_dtype), q=q
    )

  def update_fn(updates, state, params=None):
    del params
    specs = resolve_dimension_numbers(weight_dimension_numbers, updates)
    b = jax.tree.map(lambda m, g: m + g, widen_float16(state.mu), widen_float16(updates))

    def step(spec, x, q):
      # the QR runs in at least float32 (LAPACK has no bfloat16 or float16 QR)
      stack, back = _as_matrices(spec, x.astype(jnp.promote_types(x.dtype, jnp.float32)))
      u, res, q = jax.vmap(lambda s, f: _dion_matrix(s, f.astype(s.dtype), mu, eps))(stack, q)
      _, red, out = matrix_axes(x, spec)
      shape = math.sqrt(math.prod(x.shape[a] for a in out) / math.prod(x.shape[a] for a in red))
      return _Step(shape * back(u), back(res), q)

    def one(spec, g, m, bb, q):  # leaves without a matrix spec: the gradient, as it is
      if spec is None or isinstance(spec, MaskedNode):
        return jax.tree.map(lambda x, y: _Step(x, y, None), g, m)
      return jax.tree.map(lambda x, f: step(spec, x, f), bb, q)

    steps = jax.tree.map(one, specs, updates, state.mu, b, state.q, is_leaf=is_spec)
    is_step = lambda t: isinstance(t, _Step)  # noqa: E731
    out, residual, q = (jax.tree.map(lambda t, i=i: t[i], steps, is_leaf=is_step) for i in range(3))
    q = jax.tree.map(lambda new, old: new.astype(old.dtype), q, state.q)
    return _tree.cast_like(out, updates), ScaleByDionState(
      count=_numerics.safe_increment(state.count), mu=_tree.cast_like(residual, state.mu), q=q
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args
def dion(
  learning_rate: ScalarOrSchedule,
  rank: Any = 1.0,
  mu: Float = 0.95,
  eps: Float = 1e-8,
  weight_decay: Float = 0.0,
  weight_decay_mask: Any = None,
  mu_dtype: Any = None,
  *,
  key: Any = 0,
  nesterov: bool = True,
  adam_b1: Float = 0.9,
  adam_b2: Float = 0.999,
  adam_eps_root: Float = 0.0,
  adam_weight_decay: Float = 0.0,
  adam_learning_rate: ScalarOrSchedule | None = None,
  muon_weight_dimension_numbers: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Dion on the matrix leaves, AdamW on the others (module docstring).

  Args:
    learning_rate: the step size $\\eta$ (a number or a schedule).
    rank: a fraction of $\\min(m, n)$ (a float in ``(0, 1]``) or a number of columns
      (a positive int).
    mu: the momentum's decay $\\mu$.
    eps: added to the column norms of $R_t$ (and, for the others, AdamW's $\\epsilon$).
    weight_decay: the matrices' decoupled weight decay $\\lambda$.
    weight_decay_mask: which matrices decay (a tree of booleans or a callable).
    mu_dtype: the momentum's dtype (``None``: the params').
    nu_dtype: AdamW's second moment's dtype (``None``: the params').
    key: a PRNG key or an int seed for the random start of $Q$.
    nesterov: whether AdamW uses NAdam's look-ahead momentum.
    muon_weight_dimension_numbers: a tree (or prefix, or callable of the params)
      of `MuonDimensionNumbers` and ``None`` (``None``: AdamW); left out, the 2-D
      leaves are Dion's.

  Returns:
    The optimizer.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> params = {'w': jnp.zeros((6, 4)), 'b': jnp.zeros(4)}
    >>> opt = jon.dion(0.1, rank=2)
    >>> grads = {'w': jnp.arange(24.0).reshape(6, 4), 'b': jnp.ones(4)}
    >>> updates, state = opt.update(grads, opt.init(params))
    >>> int(jnp.linalg.matrix_rank(updates['w']))   # a rank-2 step
    2

  Reference: Ahn et al., 2025, "Dion: Distributed Orthonormalized Updates".
  """
  return matrices_and_adamw(
    "dion",
    lambda specs_of: scale_by_dion(
      rank, mu, eps, mu_dtype, key=key, weight_dimension_numbers=specs_of
    ),
    learning_rate,
    eps,
    weight_decay,
    weight_decay_mask,
    mu_dtype,
    nesterov,
    adam_b1,
    adam_b2,
    adam_eps_root,
    adam_weight_decay,
    adam_learning_rate,
    muon_weight_dimension_numbers,
    nu_dtype=nu_dtype,
  )
