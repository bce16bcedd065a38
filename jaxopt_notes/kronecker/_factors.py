"""Kronecker-factor statistics shared by Shampoo and SOAP: blocking, Gram
matrices along one dimension, products along every dimension, inverse roots,
eigenbases, and where each factor lives on a mesh.

A tensor of rank ``r`` is cut into a grid of equal blocks (`Blocks`) and held
as an array of shape ``(n_1, ..., n_r, b_1, ..., b_r)``: the grid axes first,
then the axes of one block. Every function below works on that layout with the
grid axes as batch axes, so all the blocks of a leaf go through one ``eigh`` or
one ``einsum``. A tensor that is not blocked has a grid of rank 0.
"""

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

HIGHEST = jax.lax.Precision.HIGHEST
_GRID, _BLOCK = "abcdefghij", "nopqrstuvw"  # einsum letters: grid axes, block axes


def stats_dtype(x: Any) -> Any:
  """float32, or float64 for a float64 leaf: the dtype factors are kept and inverted in."""
  return jnp.promote_types(jnp.result_type(x), jnp.float32)


@dataclasses.dataclass(frozen=True)
class Blocks:
  """How a tensor of ``shape`` is cut: ``counts[i]`` blocks of ``sizes[i]`` along axis ``i``.

  The last block along an axis may be short; it is padded with zeros, which
  changes nothing (a zero row of a gradient adds a zero row and column to each
  Gram matrix, and the padded part of the step is cut off again).
  """

  shape: tuple
  counts: tuple
  sizes: tuple

  @classmethod
  def of(cls, shape: Sequence[int], block_size: int) -> "Blocks":
    counts = tuple(max(1, math.ceil(d / block_size)) for d in shape)
    sizes = tuple(math.ceil(d / n) for d, n in zip(shape, counts))
    return cls(tuple(shape), counts, sizes)

  @property
  def rank(self) -> int:
    return len(self.shape)

  def split(self, x: jax.Array) -> jax.Array:
    """``x`` of ``shape`` -> ``(counts..., sizes...)``."""
    pad = [(0, n * b - d) for d, n, b in zip(self.shape, self.counts, self.sizes)]
    if any(p for _, p in pad):
      x = jnp.pad(x, pad)
    x = x.reshape([v for nb in zip(self.counts, self.sizes) for v in nb])
    r = self.rank
    return x.transpose([2 * i for i in range(r)] + [2 * i + 1 for i in range(r)])

  def merge(self, xb: jax.Array) -> jax.Array:
    """The inverse of `split`."""
    r = self.rank
    x = xb.transpose([k for i in range(r) for k in (i, r + i)])
    x = x.reshape([n * b for n, b in zip(self.counts, self.sizes)])
    return x[tuple(slice(0, d) for d in self.shape)]


def gram(xb: jax.Array, axis: int, batch: int, precision: Any = HIGHEST) -> jax.Array:
  """$X_{(i)} X_{(i)}^\\mathsf{H}$ of each block: contracts every block axis but ``axis``.

  ``xb`` has ``batch`` leading grid axes; the result has shape ``(grid..., b, b)``.
  For complex ``xb`` the second factor is conjugated, so the result is Hermitian;
  ``precision=None`` leaves it to the enclosing ``jax.default_matmul_precision``.
  """
  grid, block = _GRID[:batch], _BLOCK[: xb.ndim - batch]
  other = block.replace(block[axis], "z")
  return jnp.einsum(
    f"{grid}{block},{grid}{other}->{grid}{block[axis]}z", xb, jnp.conj(xb), precision=precision
  )


def along(
  xb: jax.Array, mats: Sequence[Any], batch: int, transpose: bool = False, precision: Any = HIGHEST
) -> jax.Array:
  """Multiplies block axis ``i`` of ``xb`` by ``mats[i]`` (``mats[i].T`` with ``transpose``).

  ``mats[i]`` has shape ``(grid..., b_i, b_i)``; ``None`` leaves axis ``i`` as it is.
  ``precision`` as in `gram`.
  """
  grid, block = _GRID[:batch], _BLOCK[: xb.ndim - batch]
  for i, m in enumerate(mats):
    if m is None:
      continue
    mat = f"{grid}{block[i]}y" if transpose else f"{grid}y{block[i]}"
    out = f"{grid}{block.replace(block[i], 'y')}"
    xb = jnp.einsum(f"{mat},{grid}{block}->{out}", m, xb, precision=precision)
  return xb


def abs2(x: jax.Array) -> jax.Array:
  """$|x|^2$ elementwise: ``x * x`` for a real ``x``, $x\\bar x$ (real) for a complex one."""
  return x * x if not jnp.iscomplexobj(x) else jnp.real(x * jnp.conj(x))


def merge_groups(shape: Sequence[int], limit: int) -> list:
  """Neighbouring axes grouped greedily while each group's product stays within ``limit``.

  Returns lists of axis indices, in order; an axis longer than ``limit`` is a
  group of its own. ``[[0, 1], [2]]`` for ``shape = (4, 8, 64)`` and ``limit = 64``.
  """
  groups = []
  for i, size in enumerate(shape):
    if groups and math.prod(shape[j] for j in groups[-1]) * size <= limit:
      groups[-1].append(i)
    else:
      groups.append([i])
  return groups


def ema_weights(decay: Any) -> tuple:
  """``(decay, 1 - decay)``, or ``(1, 1)`` for ``decay = 1`` (a plain sum, as in AdaGrad)."""
  decay = jnp.asarray(decay)
  return decay, jnp.where(decay == 1, 1.0, 1 - decay).astype(decay.dtype)


def rounding_floor(dtype: Any, root: int = 2) -> float:
  """$\\varepsilon^{1/k}$ of ``dtype``, $k$ = ``root`` (float32: 3.5e-4 for $k=2$,
  4.9e-3 for $k=3$; float64: 1.5e-8, 6.1e-6).

  Rounding perturbs a statistic by about $\\varepsilon\\lambda_{\\max}$ (times a
  small multiple of its size), and ``eigh`` resolves eigenvalues only to that
  accuracy. A ridge, floor or gap of $\\varepsilon^{1/k}\\lambda_{\\max}$ stays a
  factor $\\varepsilon^{1-1/k}$ above the noise, so what is computed from it moves
  by about that much relative under rounding, not by O(1). Shampoo's roots are
  Lipschitz in the statistic ($k=2$ suffices); SOAP's eigenvectors move by the
  noise over the gap, and its Adam step divides once more (so $k=3$).
  """
  return float(jnp.finfo(dtype).eps) ** (1.0 / root)


def _eigh(stats: jax.Array) -> tuple:
  """Eigenvalues (ascending, real) and eigenvectors of each Hermitian matrix of ``stats``."""
  return jnp.linalg.eigh(stats, symmetrize_input=True)


def inverse_root(
  stats: jax.Array, exponent: Any, epsilon: Any, relative: bool, floor: Any = 0.0
) -> jax.Array:
  """$(S + r I)^{-1/p}$ of each Hermitian matrix of ``stats``, by ``eigh``.

  The ridge is $r = \\max(\\epsilon\\lambda_{\\max}, f\\lambda_{\\max})$ with ``relative``
  (else $\\max(\\epsilon, f\\lambda_{\\max})$), $f$ = ``floor``, $\\lambda_{\\max}$
  floored at 1e-16 so an all-zero statistic gives a finite root. Eigenvalues
  below zero (rounding of a rank-deficient statistic) are set to zero first.
  The map $S \\mapsto (S + rI)^{-1/p}$ is then Lipschitz with constant
  $r^{-1/p-1}/p$, so a perturbation $\\delta S$ moves the root by at most
  $\\lVert\\delta S\\rVert/(p\\,r)$ relative to its norm, whatever the eigenvectors
  of near-null directions do.
  """
  w, v = _eigh(stats)
  w = jnp.maximum(w, 0)
  top = jnp.maximum(w[..., -1:], 1e-16)
  ridge = epsilon * top if relative else epsilon
  if not (isinstance(floor, (int, float)) and floor == 0):
    ridge = jnp.maximum(ridge, floor * top)
  scale = (w + ridge) ** (-1.0 / exponent)
  root = jnp.einsum(
    "...ij,...j,...kj->...ik", v, scale.astype(v.dtype), jnp.conj(v), precision=HIGHEST
  )
  ok = jnp.all(jnp.isfinite(stats), axis=(-2, -1), keepdims=True)
  return jnp.where(ok, root, 0).astype(stats.dtype)  # an overflowed statistic: no step


def eigenbasis(stats: jax.Array) -> jax.Array:
  """Eigenvectors of a Hermitian matrix, by decreasing eigenvalue (columns)."""
  return eigengroups(stats, 0.0)[0]


def eigengroups(stats: jax.Array, floor: Any) -> tuple:
  """Eigenvectors by decreasing eigenvalue, and which of them are told apart.

  Eigenvalues are clamped from below at ``floor`` times the largest; the
  clamped values are cut into clusters where two neighbours differ by more than
  that much. Returns ``(basis, groups)``: ``groups[k]`` numbers the cluster of
  column ``k`` (0 for the largest eigenvalue, increasing). Within a cluster the
  columns are set by rounding, not by the statistic (the null space of a
  rank-deficient one is such a cluster), so only what is invariant under
  rotations within each cluster is well defined: see `group_mean`.
  """
  ok = jnp.all(jnp.isfinite(stats))
  w, v = _eigh(jnp.where(ok, stats, 0))
  w, v = w[..., ::-1], v[..., ::-1]
  top = jnp.maximum(w[..., :1], 1e-16)
  w = jnp.maximum(w, floor * top)
  cut = (w[..., :-1] - w[..., 1:]) > floor * top
  groups = jnp.concatenate(
    [jnp.zeros(w.shape[:-1] + (1,), jnp.int32), jnp.cumsum(cut, axis=-1, dtype=jnp.int32)], axis=-1
  )
  return v, groups


def group_mean(groups: jax.Array, dtype: Any) -> jax.Array:
  """The matrix that averages a vector over each cluster of `eigengroups`:
  $A_{jk} = [g_j = g_k] / \\#\\{l : g_l = g_j\\}$ in ``dtype`` (the identity when
  every cluster is one column)."""
  same = (groups[..., :, None] == groups[..., None, :]).astype(dtype)
  return same / jnp.sum(same, axis=-1, keepdims=True)


def overlap(new: jax.Array, old: jax.Array) -> jax.Array:
  """$|Q_{new}^H Q_{old}|^2$ elementwise: row $j$ tells how column $j$ of the new
  basis is shared out over the old columns (each row and column sums to 1)."""
  c = jnp.einsum("...ji,...jk->...ik", jnp.conj(new), old, precision=HIGHEST)
  return jnp.real(c * jnp.conj(c))


def power_step(stats: jax.Array, basis: jax.Array) -> tuple:
  """One QR power iteration from ``basis``, its columns first sorted by $q^H S q$.

  Returns the new basis and the permutation applied to the old columns (for
  moments kept in that basis).
  """
  estimates = jnp.real(jnp.einsum("ji,jk,ki->i", jnp.conj(basis), stats, basis, precision=HIGHEST))
  order = jnp.argsort(-estimates, stable=True)
  q, _ = jnp.linalg.qr(jnp.matmul(stats, basis[:, order], precision=HIGHEST))
  ok = jnp.all(jnp.isfinite(q))
  return jnp.where(ok, q, basis[:, order]), order


# ------------------------------------------------------------------ placement
#
# One rule places every Kronecker factor, wherever it is built: `init` (eager, jitted, or
# traced by `jaxopt_notes.abstract_state`) and `update` (under a plain `jax.jit`) call
# `spread` on what they return. The rule reads only the mesh and the factor's shape, never
# the param's partition spec, because a jitted `update` on a mesh with Auto axes sees the
# mesh in its inputs' types but not how they are split; a rule that needs the spec would
# leave the compiler to place the factors there, and they would land somewhere else than
# `init` put them.


def mesh_of(*trees: Any) -> Any:
  """The mesh of the first leaf of ``trees`` that lives on one.

  A concrete leaf tells it by its `NamedSharding`; a traced one by its type, which
  carries the (abstract) mesh of the arrays it was computed from, with Auto axes too.
  Returns None when no leaf is on a mesh.
  """
  for leaf in jax.tree.leaves(trees):
    if isinstance(leaf, jax.core.Tracer):
      sharding = getattr(jax.typeof(leaf), "sharding", None)
    else:
      sharding = getattr(leaf, "sharding", None)
    if isinstance(sharding, jax.sharding.NamedSharding) and sharding.mesh.axis_names:
      return sharding.mesh
  return None


def spread_spec(mesh: Any, shape: Sequence[int]) -> jax.sharding.PartitionSpec:
  """Where a factor of ``shape`` lives on ``mesh``: spread over as many devices as it divides.

  Each mesh axis (in the mesh's order; Manual axes and axes of size 1 left out)
  goes to the first array axis whose length it divides, together with the mesh
  axes already there. A factor is laid out as ``(blocks..., rows, cols)`` (or
  ``(blocks..., rows)`` when diagonal), so whole blocks are spread first: each
  device keeps, and takes the roots or eigenbases of, only its own blocks, as in
  Distributed Shampoo; a factor with too few blocks has its rows (then columns)
  split instead, which divides its bytes but not the work of its ``eigh``.
  """
  taken: list = [[] for _ in shape]
  manual = jax.sharding.AxisType.Manual
  for name, kind in zip(mesh.axis_names, mesh.axis_types):
    size = mesh.shape[name]
    if size == 1 or kind == manual:
      continue
    for axes, length in zip(taken, shape):
      if length % (_axis_size(mesh, tuple(axes)) * size) == 0:
        axes.append(name)
        break
  return jax.sharding.PartitionSpec(
    *(None if not a else a[0] if len(a) == 1 else tuple(a) for a in taken)
  )


def _axis_size(mesh: Any, axes: tuple) -> int:
  return math.prod(mesh.shape[n] for n in axes)


def place(x: jax.Array, mesh: Any, spec: jax.sharding.PartitionSpec) -> jax.Array:
  """``x`` on ``mesh`` with ``spec``: put there when concrete, constrained there when traced
  (resharded when the mesh has `Explicit` axes, whose placement is part of the type)."""
  sharding = jax.sharding.NamedSharding(mesh, spec)
  if isinstance(x, jax.core.Tracer):
    if jax.sharding.AxisType.Explicit in mesh.axis_types:
      return jax.sharding.reshard(x, sharding)
    return jax.lax.with_sharding_constraint(x, sharding)
  if not sharding.is_fully_addressable:  # a mesh over several processes takes host values
    x = jax.device_get(x)
  return jax.device_put(x, sharding)


def spread(factors: Any, *like: Any) -> Any:
  """Every array of ``factors`` placed by `spread_spec` on the mesh of ``like`` (`mesh_of`).

  The one call through which an optimizer places its Kronecker state: ``init``
  passes its params as ``like``, ``update`` its incoming state and updates, so
  an eager ``init``, a jitted one, `jaxopt_notes.abstract_state` and a plain
  jitted ``update`` all put each factor in the same place. With no mesh (one
  device) ``factors`` is returned as it is.
  """
  mesh = mesh_of(*like)
  if mesh is None:
    return factors
  return jax.tree.map(lambda x: place(x, mesh, spread_spec(mesh, jnp.shape(x))), factors)


def _typed_sharding(x: Any) -> Any:
  """The sharding in ``x``'s type on a mesh with `Explicit` axes, else None (Auto:
  the compiler places every intermediate itself)."""
  sharding = getattr(jax.typeof(x), "sharding", None)
  mesh = getattr(sharding, "mesh", None)
  if mesh is None or mesh.empty or jax.sharding.AxisType.Explicit not in mesh.axis_types:
    return None
  return sharding


def gathered(x: Any) -> Any:
  """``x`` whole on every device when its sharding is explicit in its type.

  The Gram matrices, products along every axis, ``eigh`` and QR contract or
  reshape sharded axes, which explicit sharding would make ambiguous; the
  matrices involved are small next to the param, and the results are put back
  where they belong with `sharded_like`. The mesh comes from the type, so no
  mesh context is needed.
  """
  sharding = _typed_sharding(x)
  if sharding is None or all(a is None for a in sharding.spec):
    return x
  return jax.sharding.reshard(
    x, jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
  )


def sharded_like(x: Any, like: Any) -> Any:
  """``x`` resharded like ``like`` when that sharding is explicit in its type."""
  sharding = _typed_sharding(like)
  return x if sharding is None else jax.sharding.reshard(x, sharding)
