"""What the PSGD variants (`_kron`, `_psgd_pro`) share: how a param becomes a stack of
equally shaped blocks with one factor $Q_i$ per block axis, the factors' start, products
of a block by $Q_i$ (or $Q_i^{-\\mathsf H}$) along an axis, the preconditioning
$G \\times_i Q_i^\\mathsf{H} Q_i$, mode Gram matrices and the balancing of the factors.

The functions here read the layout arguments of either variant (``max_size_triangular``,
``min_ndim_triangular``, ``memory_save_mode``, ``merge_small_dims``,
``target_merged_dim_size``, ``partition_grads_into_blocks``, ``block_size``,
``scanned_layers``) from its settings; how each variant fits its factors stays in its
own module.
"""

import contextlib
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _tree
from jaxopt_notes.kronecker import _factors

MODES = (None, "one_diag", "smart_one_diag", "all_diag")


class Layout(NamedTuple):
  """How one param becomes a stack of equally shaped blocks (all static).

  The param is reshaped to ``(scan, *merged dims)`` and cut by ``blocks``, whose
  grid is ``(scan, *counts)`` and whose blocks are ``(1, *extents)``; the grid is
  flattened into one stack axis, over which the factors are stacked too.
  """

  shape: tuple  # the param's shape
  blocks: _factors.Blocks  # the cut of the param reshaped to (scan, *merged dims)
  diag: tuple  # per merged dim: diagonal factor?

  @property
  def extents(self) -> tuple:
    return self.blocks.sizes[1:]

  @property
  def stack(self) -> int:
    return math.prod(self.blocks.counts)

  def split(self, x: jax.Array) -> jax.Array:
    """``(stack, *extents)``: each blocked dim padded to whole blocks, the blocks stacked."""
    return self.blocks.split(x.reshape(self.blocks.shape)).reshape((self.stack,) + self.extents)

  def merge(self, xb: jax.Array) -> jax.Array:
    """The inverse of `split`."""
    return self.blocks.merge(xb.reshape(self.blocks.counts + (1,) + self.extents)).reshape(
      self.shape
    )


def _diagonal_dims(shape, max_size, min_ndim, mode) -> list:
  diag = [mode == "all_diag"] * len(shape)
  if mode in ("one_diag", "smart_one_diag") and shape:
    order = sorted(range(len(shape)), key=lambda i: shape[i], reverse=True)
    tie = len(shape) > 1 and shape[order[0]] == shape[order[1]]
    diag[order[0]] = not (mode == "smart_one_diag" and tie)
  return [
    d or size == 1 or size > max_size or len(shape) < min_ndim for d, size in zip(diag, shape)
  ]


def _merge_limit(shape: tuple, target: int) -> int:
  """The longest merged dim that ``merge_small_dims`` makes of ``shape``.

  Neighbouring dims merge while their product stays within ``target`` and
  within the longest dim of ``shape``, so merging never gives a factor larger
  than the largest one the unmerged tensor has: a (64, 64) matrix keeps its two
  64 x 64 factors rather than becoming one dim of 4096 cut into 8 blocks with a
  512 x 512 factor each (2.1M factor entries for 4,096 params; 8,192 unmerged).
  """
  return min(target, max(shape))


def layout(shape: tuple, scanned: bool, s: Any) -> Layout:
  """The `Layout` of a param of ``shape`` under the layout arguments of settings ``s``."""
  scan = shape[0] if scanned else 1
  layer = tuple(shape[1:] if scanned else shape) or (1,)
  diag = _diagonal_dims(layer, s.max_size_triangular, s.min_ndim_triangular, s.memory_save_mode)
  groups = (
    _factors.merge_groups(layer, _merge_limit(layer, s.target_merged_dim_size))
    if s.merge_small_dims
    else [[i] for i in range(len(layer))]
  )
  merged = tuple(math.prod(layer[i] for i in g) for g in groups)
  mdiag = tuple(all(diag[i] for i in g) for g in groups)
  block = s.block_size if s.partition_grads_into_blocks else None
  counts = tuple(
    -(-d // block) if block and not dg and d > block else 1 for d, dg in zip(merged, mdiag)
  )
  extents = tuple(block if c > 1 else d for d, c in zip(merged, counts))
  blocks = _factors.Blocks((scan,) + merged, (scan,) + counts, (1,) + extents)
  return Layout(tuple(shape), blocks, mdiag)


def layouts(tree: Any, s: Any) -> Any:
  """The `Layout` of every trained leaf of ``tree`` (None for a frozen one)."""
  scanned = s.scanned_layers
  if scanned is None:
    scanned = jax.tree.map(lambda _: False, tree)
  return jax.tree.map(
    lambda x, sc: None if _tree.is_frozen(x) else layout(jnp.shape(x), bool(sc), s),
    tree,
    scanned,
  )


def compute_dtype(x: Any, precond_dtype: Any) -> Any:
  """The factors' dtype: ``precond_dtype`` (default: the leaf's, at least float32),
  made complex for a complex leaf."""
  dtype = _factors.stats_dtype(x) if precond_dtype is None else precond_dtype
  return jnp.promote_types(dtype, jnp.complex64) if jnp.iscomplexobj(x) else dtype


def initial_factors(p: Any, lay: Layout | None, init_scale: Any, precond_dtype: Any) -> Any:
  """The factors of param ``p`` at the start: identities (or ones for a diagonal factor)
  whose Kronecker product is ``init_scale`` times the identity, stacked over blocks."""
  if lay is None:
    return None
  dtype = compute_dtype(p, precond_dtype)
  scale = jnp.asarray(init_scale, jnp.finfo(dtype).dtype)
  scale = (scale ** (1 / len(lay.diag))).astype(dtype)
  return tuple(
    scale
    * (
      jnp.ones((lay.stack, e), dtype)
      if dg
      else jnp.broadcast_to(jnp.eye(e, dtype=dtype), (lay.stack, e, e))
    )
    for e, dg in zip(lay.extents, lay.diag)
  )


def prng_key(key: Any) -> jax.Array:
  """A typed PRNG key from a key or an integer seed (default 0)."""
  if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    return key
  return jax.random.key(0 if key is None else key)


def _solve_h(q, y):
  """$Q^{-\\mathsf{H}} Y$ for an upper triangular ``q``."""
  return jax.lax.linalg.triangular_solve(
    q, y, left_side=True, lower=False, transpose_a=True, conjugate_a=True
  )


# XLA:CPU runs a batched triangular solve by splitting its batch over the intra-op thread
# pool and blocking until the parts are done, so as many such solves at once as the pool
# has threads wait on each other forever (docs/kron.md, "An XLA:CPU deadlock"). On CPU the
# solves over a stack of blocks therefore run one block at a time.
_solve_h_per_block = jax.custom_batching.sequential_vmap(_solve_h)


def times(x: jax.Array, q: jax.Array, i: int, inverse: bool = False) -> jax.Array:
  """``x`` times the factor ``q`` along axis ``i`` (``q^{-H}`` with ``inverse``, for an
  upper triangular or diagonal ``q``)."""
  if q.ndim == 1:
    q = q.reshape([-1 if j == i else 1 for j in range(x.ndim)])
    return x / jnp.conj(q) if inverse else x * q
  if not inverse:
    return _factors.along(x, [None] * i + [q], 0, precision=None)
  moved = jnp.moveaxis(x, i, 0)
  flat = jax.lax.platform_dependent(
    q, moved.reshape(moved.shape[0], -1), cpu=_solve_h_per_block, default=_solve_h
  )
  return jnp.moveaxis(flat.reshape(moved.shape), 0, i)


def precondition(qs: tuple, g: jax.Array) -> jax.Array:
  """$G \\times_i Q_i^\\mathsf{H} Q_i$ over every axis."""
  for i, q in enumerate(qs):
    if q.ndim == 1:
      g = times(g, _factors.abs2(q).astype(q.dtype), i)
    else:
      g = _factors.along(
        times(g, q, i), [None] * i + [jnp.conj(q)], 0, transpose=True, precision=None
      )
  return g


def gram(x: jax.Array, i: int, diagonal: bool) -> jax.Array:
  """The mode-``i`` Gram matrix $X_{(i)} X_{(i)}^\\mathsf{H}$ (only its diagonal when
  ``diagonal``)."""
  if diagonal:
    return jnp.sum(_factors.abs2(jnp.moveaxis(x, i, 0).reshape(x.shape[i], -1)), axis=1)
  return _factors.gram(x, i, 0, precision=None)


def safe(x: jax.Array) -> jax.Array:
  """``x`` where positive, else 1: a divisor that leaves a zero numerator at zero."""
  return jnp.where(x > 0, x, 1)


def balance(qs: tuple) -> tuple:
  """Rescales the factors to equal largest entries; their product is unchanged."""
  if len(qs) < 2:
    return qs
  tops = jnp.stack([safe(jnp.max(jnp.abs(q))) for q in qs])
  mean = jnp.exp(jnp.mean(jnp.log(tops)))
  return tuple(q * (mean / t).astype(q.dtype) for q, t in zip(qs, tops))


def mapper(lax_map: bool, batch_size: int):
  """``over_stack(f, *xs)``: ``f`` over the leading (stack) axis of ``xs``, by ``vmap`` or
  by ``lax.map`` in batches of ``batch_size`` (less memory)."""

  def over_stack(f, *xs):
    if lax_map:
      return jax.lax.map(lambda args: f(*args), xs, batch_size=batch_size)
    return jax.vmap(f)(*xs)

  return over_stack


def precision(name: str | None):
  """A ``jax.default_matmul_precision`` context (none for ``None``)."""
  return contextlib.nullcontext() if name is None else jax.default_matmul_precision(name)
