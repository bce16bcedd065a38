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

import contextlib
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes.kronecker import _factors
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate

Float = jax.typing.ArrayLike
_MODES = (None, "one_diag", "smart_one_diag", "all_diag")
_RMS_CAP = 1.1


def precond_update_prob_schedule(max_prob: Float = 1.0, min_prob: Float = 0.03,
                                 decay: Float = 0.001,
                                 flat_start: Float = 500) -> Callable:
  """The default preconditioner update probability of `kron`: flat, then decaying.

  $p(n) = \\operatorname{clip}(p_{max}\\, e^{-\\text{decay}\\,(n - \\text{flat\\_start})},
  p_{min}, p_{max})$ for the step count $n$ (from 0): the preconditioner is
  refitted at every step for ``flat_start`` steps, then less and less often,
  down to ``min_prob`` (about step 4000 with the defaults).

  Examples:
    >>> import jaxopt_notes as jon
    >>> schedule = jon.precond_update_prob_schedule()
    >>> [round(float(schedule(n)), 3) for n in (0, 500, 1500, 5000)]
    [1.0, 1.0, 0.368, 0.03]
  """
  _validate.check("precond_update_prob_schedule", max_prob=(max_prob, _validate.UNIT),
                  min_prob=(min_prob, _validate.UNIT), decay=(decay, _validate.NONNEGATIVE))

  def schedule(n):
    return jnp.clip(max_prob * jnp.exp(-decay * (n - flat_start)), min_prob, max_prob)
  return schedule


class ScaleByKronState(NamedTuple):
  """State of `scale_by_kron`: step count, momentum, Kronecker factors, PRNG key."""
  count: jax.Array         # int32 steps taken, saturating
  mu: Any                  # momentum m_t, like the params
  Qs_preconditioners: Any  # per param: a tuple of factors, stacked over blocks
  rng_key: jax.Array       # the key the next step splits


# ------------------------------------------------------------------ layout

class _Layout(NamedTuple):
  """How one param becomes a stack of equally shaped blocks (all static)."""
  shape: tuple       # the param's shape
  scan: int          # leading scanned length (1 when not scanned)
  merged: tuple      # per-layer shape after merging small dims
  diag: tuple        # per merged dim: diagonal factor?
  counts: tuple      # per merged dim: number of blocks
  extents: tuple     # per merged dim: block length
  axes: tuple        # per merged dim: mesh axes of the param along it (or None)

  @property
  def stack(self) -> int:
    return self.scan * math.prod(self.counts)


def _diagonal_dims(shape, max_size, min_ndim, mode) -> list:
  diag = [mode == "all_diag"] * len(shape)
  if mode in ("one_diag", "smart_one_diag") and shape:
    order = sorted(range(len(shape)), key=lambda i: shape[i], reverse=True)
    tie = len(shape) > 1 and shape[order[0]] == shape[order[1]]
    diag[order[0]] = not (mode == "smart_one_diag" and tie)
  return [d or size == 1 or size > max_size or len(shape) < min_ndim
          for d, size in zip(diag, shape)]


def _merge_groups(shape, target) -> list:
  """Adjacent dims merged greedily while their product stays within ``target``."""
  groups = []
  for i, size in enumerate(shape):
    if groups and math.prod(shape[j] for j in groups[-1]) * size <= target:
      groups[-1].append(i)
    else:
      groups.append([i])
  return groups


def _layout(shape, spec, scanned, o) -> _Layout:
  scan = shape[0] if scanned else 1
  layer = tuple(shape[1:] if scanned else shape) or (1,)
  spec = tuple(spec[1:] if scanned else spec) + (None,) * len(layer)
  diag = _diagonal_dims(layer, o["max_size_triangular"], o["min_ndim_triangular"],
                        o["memory_save_mode"])
  groups = (_merge_groups(layer, o["target_merged_dim_size"]) if o["merge_small_dims"]
            else [[i] for i in range(len(layer))])
  merged = tuple(math.prod(layer[i] for i in g) for g in groups)
  mdiag = tuple(all(diag[i] for i in g) for g in groups)
  # a merged dim keeps the mesh axes of its first dim when the others have none
  axes = tuple(spec[g[0]] if all(spec[i] is None for i in g[1:]) else None for g in groups)
  block = o["block_size"] if o["partition_grads_into_blocks"] else None
  counts = tuple(-(-d // block) if block and not dg and d > block else 1
                 for d, dg in zip(merged, mdiag))
  extents = tuple(block if c > 1 else d for d, c in zip(merged, counts))
  return _Layout(tuple(shape), scan, merged, mdiag, counts, extents, axes)


def _to_blocks(x: jax.Array, lay: _Layout) -> jax.Array:
  """``(stack, *extents)``: pads each blocked dim to whole blocks and stacks the blocks."""
  k = len(lay.merged)
  x = x.reshape((lay.scan,) + lay.merged)
  x = jnp.pad(x, [(0, 0)] + [(0, c * e - d) for d, c, e in
                             zip(lay.merged, lay.counts, lay.extents)])
  x = x.reshape((lay.scan,) + sum(((c, e) for c, e in zip(lay.counts, lay.extents)), ()))
  x = x.transpose((0,) + tuple(1 + 2 * i for i in range(k)) + tuple(2 + 2 * i for i in range(k)))
  return x.reshape((lay.stack,) + lay.extents)


def _from_blocks(x: jax.Array, lay: _Layout) -> jax.Array:
  k = len(lay.merged)
  x = x.reshape((lay.scan,) + lay.counts + lay.extents)
  x = x.transpose((0,) + sum(((1 + i, 1 + k + i) for i in range(k)), ()))
  x = x.reshape((lay.scan,) + tuple(c * e for c, e in zip(lay.counts, lay.extents)))
  return x[(slice(None),) + tuple(slice(0, d) for d in lay.merged)].reshape(lay.shape)


# ------------------------------------------------------ one block's maths

def _mode_apply(x, q, i, transpose_solve=False):
  """``x`` times ``q`` along axis ``i`` (``q^{-T}`` with ``transpose_solve``)."""
  if q.ndim == 1:
    shape = [1] * x.ndim
    shape[i] = -1
    return x / q.reshape(shape) if transpose_solve else x * q.reshape(shape)
  moved = jnp.moveaxis(x, i, 0)
  flat = moved.reshape(moved.shape[0], -1)
  if transpose_solve:  # Y = Q^{-T} X, as Y^T = X^T Q^{-1} (a right-side solve)
    out = jax.lax.linalg.triangular_solve(q, flat.T, left_side=False, lower=False).T
  else:
    out = q @ flat
  return jnp.moveaxis(out.reshape(moved.shape), 0, i)


def _precondition(qs, g):
  """$G \\times_i Q_i^\\top Q_i$ over every axis."""
  for i, q in enumerate(qs):
    if q.ndim == 1:
      g = _mode_apply(g, q * q, i)
    else:
      g = _mode_apply(_mode_apply(g, q, i), q.T, i)
  return g


def _gram(x, i, diagonal):
  """The mode-``i`` Gram matrix of ``x`` (only its diagonal when ``diagonal``)."""
  flat = jnp.moveaxis(x, i, 0).reshape(x.shape[i], -1)
  return jnp.sum(flat * flat, axis=1) if diagonal else flat @ flat.T


def _norm_lower_bound(s):
  """$\\lVert S v\\rVert / \\lVert v\\rVert$, $v$ the largest column of symmetric ``s``."""
  top = jnp.max(jnp.abs(s))
  safe = jnp.where(top > 0, top, 1)
  s = s / safe
  v = s[:, jnp.argmax(jnp.sum(s * s, axis=0))]
  sv = s @ v
  vv = jnp.sum(v * v)
  return top * jnp.sqrt(jnp.sum(sv * sv) / jnp.where(vv > 0, vv, 1))


def _safe(x):
  return jnp.where(x > 0, x, 1)


def _fit(qs, h, v, lr):
  """One fitting step of the factors ``qs`` of one block (see the module docstring)."""
  a, b = h, v
  for i, q in enumerate(qs):
    a = _mode_apply(a, q, i)
    b = _mode_apply(b, q, i, transpose_solve=True)
  # A common scale leaves every step unchanged and keeps the Gram matrices finite.
  scale = _safe(jnp.maximum(jnp.max(jnp.abs(a)), jnp.max(jnp.abs(b))))
  a, b = a / scale, b / scale
  new = []
  for i, q in enumerate(qs):
    t1, t2 = _gram(a, i, q.ndim == 1), _gram(b, i, q.ndim == 1)
    if q.ndim == 1:
      new.append(q - lr / _safe(jnp.max(jnp.abs(t1 + t2))) * (t1 - t2) * q)
    else:
      new.append(q - lr / _safe(_norm_lower_bound(t1 + t2)) * jnp.triu(t1 - t2) @ q)
  return tuple(new)


def _balance(qs):
  """Rescales the factors to equal largest entries; their product is unchanged."""
  if len(qs) < 2:
    return qs
  tops = jnp.stack([_safe(jnp.max(jnp.abs(q))) for q in qs])
  mean = jnp.exp(jnp.mean(jnp.log(tops)))
  return tuple(q * (mean / t).astype(q.dtype) for q, t in zip(qs, tops))


def _rms_cap(u):
  """``u / max(1, rms(u) / 1.1)``, computed without overflow."""
  top = _safe(jnp.max(jnp.abs(u)))
  rms = top * jnp.sqrt(jnp.mean(jnp.square(u / top)))
  return u / jnp.maximum(1, rms / _RMS_CAP)


# ------------------------------------------------------------- transform

def _draw(key, count, like):
  """The default randomness: a uniform for the fit decision and normal probes."""
  del count
  decide, probe = jax.random.split(key)
  return jax.random.uniform(decide), _tree.random_like(probe, like)


def _mapper(lax_map, batch_size):
  def over_stack(f, *xs):
    if lax_map:
      return jax.lax.map(lambda args: f(*args), xs, batch_size=batch_size)
    return jax.vmap(f)(*xs)
  return over_stack


def _precision(name):
  return contextlib.nullcontext() if name is None else jax.default_matmul_precision(name)


def _spec_of(x):
  sharding = getattr(x, "sharding", None)
  if isinstance(x, jax.core.Tracer) or not isinstance(sharding, jax.sharding.NamedSharding):
    return None, ()
  return sharding.mesh, tuple(sharding.spec)


def _compute_dtype(x, precond_dtype):
  return precond_dtype or jnp.promote_types(jnp.result_type(x), jnp.float32)


def _scale_by_kron(o: dict, draw: Callable = _draw) -> GradientTransformation:
  """`scale_by_kron` with its randomness from ``draw(key, count, like) -> (uniform,
  probes)``: the hook through which tests hand in the probe vectors."""
  mu_dtype = _tree.canonical_dtype(o["mu_dtype"])
  precond_dtype = _tree.canonical_dtype(o["precond_dtype"])
  prob, b1 = o["preconditioner_update_probability"], o["b1"]
  over_stack = _mapper(o["lax_map_scanned_layers"], o["lax_map_batch_size"])
  key0 = o["key"]

  def layouts(tree):
    scanned = o["scanned_layers"]
    if scanned is None:
      scanned = jax.tree.map(lambda _: False, tree)
    specs = o["params_sharding"]
    if specs is None:
      specs = jax.tree.map(lambda x: _spec_of(x)[1], tree)
    return jax.tree.map(lambda x, s, sp: None if _tree.is_frozen(x) else
                        _layout(jnp.shape(x), tuple(sp or ()), bool(s), o),
                        tree, scanned, specs,
                        is_leaf=lambda x: x is None or isinstance(x, jax.sharding.PartitionSpec))

  def init_fn(params):
    def factors(p, lay):
      if lay is None:
        return None
      dtype = _compute_dtype(p, precond_dtype)
      scale = jnp.asarray(o["preconditioner_init_scale"], dtype) ** (1 / len(lay.merged))
      return tuple(scale * (jnp.ones((lay.stack, e), dtype) if dg else jnp.broadcast_to(
          jnp.eye(e, dtype=dtype), (lay.stack, e, e))) for e, dg in zip(lay.extents, lay.diag))
    lays = layouts(params)
    qs = jax.tree.map(factors, params, lays, is_leaf=_tree._is_none)
    key = key0 if isinstance(key0, jax.Array) and jnp.issubdtype(
        key0.dtype, jax.dtypes.prng_key) else jax.random.key(0 if key0 is None else key0)
    return ScaleByKronState(count=_tree.zero_count(params),
                            mu=_tree.zeros_like(params, dtype=mu_dtype),
                            Qs_preconditioners=_factors.spread(qs, params),
                            rng_key=_tree.replicate_like(key, params))

  def update_fn(updates, state, params=None):
    del params
    count = _tree.safe_increment(state.count)
    mu = _tree.update_moment(updates, state.mu, b1, 1)
    direction = _tree.bias_correction(mu, b1, count)
    lays = layouts(updates)
    work = _tree._map(lambda g: g.astype(_compute_dtype(g, precond_dtype)), direction)
    fit_in = work if o["momentum_into_precond_update"] else _tree._map(
        lambda g, w: g.astype(w.dtype), updates, work)
    rng_key, sub = jax.random.split(state.rng_key)
    uniform, probes = draw(sub, state.count, fit_in)
    p = prob(state.count) if callable(prob) else prob
    damping = jnp.sqrt(jnp.finfo(jnp.float32).eps)

    def fit_all(qs_tree):
      def one(g, v, qs, lay):
        if lay is None:
          return None
        h = g + damping.astype(g.dtype) * jnp.mean(jnp.abs(g)) * v
        fit = lambda qs, h, v: _fit(_balance(qs), h, v, o["preconditioner_lr"])  # noqa: E731
        return over_stack(fit, qs, _to_blocks(h, lay), _to_blocks(v, lay))
      with _precision(o["precond_update_precision"]):
        return jax.tree.map(one, fit_in, probes, qs_tree, lays, is_leaf=_tree._is_none)

    qs = jax.lax.cond(uniform < p, fit_all, lambda q: q, state.Qs_preconditioners)

    def apply(g, qs, lay):
      with _precision(o["precond_grads_precision"]):
        out = over_stack(_precondition, qs, _to_blocks(g, lay))
      return _rms_cap(_from_blocks(out, lay))
    out = jax.tree.map(lambda g, q, lay: None if lay is None else apply(g, q, lay),
                       work, qs, lays, is_leaf=_tree._is_none)
    return _tree.cast_like(out, updates), ScaleByKronState(
        count=count, mu=_tree.cast_like(mu, state.mu),
        Qs_preconditioners=_factors.spread(qs, state.Qs_preconditioners, updates),
        rng_key=rng_key)

  return GradientTransformation(init_fn, update_fn)


def _check(owner, o):
  _validate.check(owner, b1=(o["b1"], _validate.UNIT),
                  preconditioner_update_probability=(o["preconditioner_update_probability"],
                                                     _validate.UNIT),
                  preconditioner_lr=(o["preconditioner_lr"], _validate.NONNEGATIVE),
                  preconditioner_init_scale=(o["preconditioner_init_scale"],
                                             _validate.POSITIVE))
  for name in ("max_size_triangular", "lax_map_batch_size", "target_merged_dim_size",
               "block_size"):
    _validate.check_positive_int(owner, name, o[name])
  if o["min_ndim_triangular"] != 0:
    _validate.check_positive_int(owner, "min_ndim_triangular", o["min_ndim_triangular"])
  _validate.check_choice(owner, "memory_save_mode", o["memory_save_mode"], _MODES)


def scale_by_kron(b1: Float = 0.9,
                  preconditioner_update_probability: ScalarOrSchedule =
                  precond_update_prob_schedule(),
                  max_size_triangular: int = 8192, min_ndim_triangular: int = 2,
                  memory_save_mode: str | None = None,
                  momentum_into_precond_update: bool = True,
                  preconditioner_lr: Float = 0.1, preconditioner_init_scale: Float = 1.0,
                  mu_dtype: Any = None, precond_dtype: Any = None,
                  precond_update_precision: str | None = "tensorfloat32",
                  precond_grads_precision: str | None = None,
                  scanned_layers: Any = None, lax_map_scanned_layers: bool = False,
                  lax_map_batch_size: int = 8, merge_small_dims: bool = True,
                  target_merged_dim_size: int = 4096,
                  partition_grads_into_blocks: bool = True, block_size: int = 512,
                  params_sharding: Any = None, preconditioner_sharding: Any = None,
                  key: Any = None) -> GradientTransformation:
  """PSGD-Kron's preconditioned direction; see `kron` (arguments and maths)."""
  options = dict(locals())
  _check("scale_by_kron", options)
  return _scale_by_kron(options)


def kron(learning_rate: ScalarOrSchedule = 0.0003, b1: Float = 0.9,
         weight_decay: Float = 0.0, weight_decay_mask: Any = None,
         preconditioner_update_probability: ScalarOrSchedule =
         precond_update_prob_schedule(),
         max_size_triangular: int = 8192, min_ndim_triangular: int = 2,
         memory_save_mode: str | None = None, momentum_into_precond_update: bool = True,
         preconditioner_lr: Float = 0.1, preconditioner_init_scale: Float = 1.0,
         mu_dtype: Any = None, precond_dtype: Any = None,
         precond_update_precision: str | None = "tensorfloat32",
         precond_grads_precision: str | None = None, scanned_layers: Any = None,
         lax_map_scanned_layers: bool = False, lax_map_batch_size: int = 8,
         merge_small_dims: bool = True, target_merged_dim_size: int = 4096,
         partition_grads_into_blocks: bool = True, block_size: int = 512,
         params_sharding: Any = None, preconditioner_sharding: Any = None,
         key: Any = None) -> GradientTransformation:
  """PSGD-Kron: momentum SGD preconditioned by fitted Kronecker factors.

  The update is in the module docstring (and on the docs page "PSGD-Kron"); the argument
  names and defaults are those of the ``kron`` of the psgd_jax and
  distributed_kron packages, so code written for them switches by import.

  Args:
    learning_rate: step size, or a schedule of the step count.
    b1: momentum decay; the momentum is debiased and is the direction preconditioned.
    weight_decay: decoupled weight decay, added after preconditioning.
    weight_decay_mask: which params decay (a tree of bools or a function of params).
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
      within ``target_merged_dim_size``.
    target_merged_dim_size: see ``merge_small_dims``.
    partition_grads_into_blocks: cut triangular dims longer than ``block_size``
      into blocks of that length (the last one zero-padded), each fitted alone.
    block_size: see ``partition_grads_into_blocks``.
    params_sharding: optional tree of ``PartitionSpec`` of the params; by default
      read from the params' own ``NamedSharding`` at ``init``. Accepted for
      compatibility: the factors are spread over the params' mesh by one rule
      (whole blocks first, then rows; docs page "Kronecker factors"), the same
      in ``init``, a jitted ``update`` and `abstract_state`.
    preconditioner_sharding: accepted for compatibility; see ``params_sharding``.
    key: PRNG key or integer seed of the state's key (default 0).

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.kron(0.1, merge_small_dims=False)
    >>> params = {"w": jnp.ones((3, 2))}
    >>> updates, state = opt.update({"w": jnp.full((3, 2), 0.5)}, opt.init(params))
    >>> [f.shape for f in state[0].Qs_preconditioners["w"]]   # one triangular factor per dim
    [(1, 3, 3), (1, 2, 2)]
    >>> [f.shape for f in jon.kron(0.1).init(params)[0].Qs_preconditioners["w"]]  # merged
    [(1, 6, 6)]

  References: Li, 2018, "Preconditioned Stochastic Gradient Descent", IEEE TNNLS
  (arXiv:1512.04202); Li, 2019, "Preconditioner on Matrix Lie Group for SGD", ICLR.
  """
  _validate.check("kron", learning_rate=(learning_rate, _validate.FINITE),
                  weight_decay=(weight_decay, _validate.FINITE))
  options = dict(locals())
  for name in ("learning_rate", "weight_decay", "weight_decay_mask"):
    options.pop(name)
  return chain(scale_by_kron(**options), add_decayed_weights(weight_decay, weight_decay_mask),
               scale_by_learning_rate(learning_rate))
