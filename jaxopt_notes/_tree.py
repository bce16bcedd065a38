"""Tree helpers: moment updates, bias correction, norms, casting, counters.

The maths of every moment-based optimizer is written here once.
"""

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxopt_notes._docargs import shared_args

_is_none = lambda x: x is None  # noqa: E731


def is_frozen(x: Any) -> bool:
  """True for a leaf that is not trained: integer, boolean, or ``float0``.

  ``float0`` is what ``jax.grad(..., allow_int=True)`` returns for an integer
  param. Such leaves get no optimizer state (``None`` in its place) and a zero
  update of their own dtype, so ``params + updates`` leaves them unchanged.
  """
  return not jnp.issubdtype(jnp.result_type(x), jnp.inexact)


def frozen_update(x: Any) -> Any:
  """The update of a frozen leaf: zeros of its own dtype (``float0`` as it is)."""
  if jnp.result_type(x) == jax.dtypes.float0:
    return x
  return jnp.zeros_like(x)


def _describe(x: Any) -> str:
  if x is None:
    return "no array (a frozen or masked leaf)"
  return f"shape {tuple(jnp.shape(x))} and dtype {jnp.result_type(x)}"


def check_match(incoming: Any, *expected: Any, shapes: bool = True) -> None:
  """Raises a ValueError naming the path where ``incoming`` differs from ``expected``.

  ``incoming`` is what a caller handed in (the updates); each of ``expected``
  is what it must match (the optimizer state built by ``init``, or the
  params). Structures must be equal; array leaves must have equal shapes; an
  integer or boolean incoming leaf is accepted only where the other tree holds
  no array. Runs at trace time, so a jitted step pays nothing for it.
  """
  got, got_def = jax.tree.flatten(incoming, is_leaf=_is_none)
  for other in expected:
    want, want_def = jax.tree.flatten(other, is_leaf=_is_none)
    if want_def != got_def:
      raise ValueError("the updates do not have the structure of the optimizer state "
                       f"(or params): {_structure_difference(incoming, other)}")
    for i, (g, w) in enumerate(zip(got, want)):
      if g is None or w is None or not shapes:
        continue
      if jnp.shape(g) != jnp.shape(w) or (is_frozen(g) and not is_frozen(w)):
        path = jax.tree_util.keystr(_paths(incoming)[i]) or "the root"
        raise ValueError(
            f"the updates at {path} have {_describe(g)}; expected {_describe(w)} (as in the "
            "optimizer state or params, and a float dtype where the param is a float)")


def _paths(tree: Any) -> list:
  return [path for path, _ in jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_none)[0]]


def _structure_difference(got: Any, want: Any) -> str:
  got_paths = [jax.tree_util.keystr(p) for p in _paths(got)]
  want_paths = [jax.tree_util.keystr(p) for p in _paths(want)]
  got_set, want_set = set(got_paths), set(want_paths)
  extra = [q for q in got_paths if q not in want_set]
  missing = [q for q in want_paths if q not in got_set]
  if not extra and not missing:  # the same leaves in other containers
    return f"expected {jax.tree.structure(want)}, got {jax.tree.structure(got)}"
  return "; ".join([f"unexpected leaves {', '.join(extra)}"] * bool(extra)
                   + [f"missing leaves {', '.join(missing)}"] * bool(missing))


def _map(f: Callable, tree: Any, *rest: Any, broadcast: bool = False) -> Any:
  """``jax.tree.map`` with the library's leaf rules, written once.

  ``tree`` is the incoming tree and ``rest`` the trees it must match (see
  `check_match`). Where any tree holds ``None`` (a masked or frozen leaf) the
  result is ``None``; a frozen incoming leaf (int, bool, float0) gives
  `frozen_update`; otherwise ``f`` is applied. With ``broadcast``, leaves of
  ``rest`` may have other (broadcastable) shapes, as bounds or scales do.
  """
  if rest:
    check_match(tree, *rest, shapes=not broadcast)

  def one(x, *r):
    if x is None or any(y is None for y in r):
      return None
    if is_frozen(x):
      return frozen_update(x)
    return f(x, *r)
  return jax.tree.map(one, tree, *rest, is_leaf=_is_none)


# ----------------------------------------------------------------- counters

def safe_increment(count: jax.Array) -> jax.Array:
  """``count + 1``, saturating at the dtype's maximum instead of wrapping.

  Args:
    count: an integer or float counter.

  Returns:
    The incremented counter, of ``count``'s dtype.
  """
  count = jnp.asarray(count)
  top = (jnp.iinfo(count.dtype).max if jnp.issubdtype(count.dtype, jnp.integer)
         else jnp.finfo(count.dtype).max)
  top = jnp.asarray(top, count.dtype)
  return jnp.where(count < top, count + jnp.asarray(1, count.dtype), top)


def _mesh_of(like: Any) -> Any:
  """The mesh of the first concrete leaf of ``like`` sharded on one, else None."""
  for leaf in jax.tree.leaves(like):
    if isinstance(leaf, jax.Array) and not isinstance(leaf, jax.core.Tracer):
      sharding = leaf.sharding
      if isinstance(sharding, jax.sharding.NamedSharding):
        return sharding.mesh
  return None


def replicate_like(tree: Any, like: Any) -> Any:
  """Places the (small) concrete leaves of ``tree`` on every device of ``like``'s mesh.

  For the scalars of a state (counters, keys, hyperparameters) built eagerly
  for sharded params; traced leaves, and params on no mesh, are left as they are
  (under ``jit`` the compiler places them).
  """
  mesh = _mesh_of(like)
  if mesh is None:
    return tree
  everywhere = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  return jax.tree.map(lambda x: _place(x, everywhere), tree)


def _place(x: Any, everywhere: jax.sharding.Sharding) -> Any:
  """``x`` on every device of ``everywhere``, also when some are another process's.

  A mesh spanning several processes accepts only host values (each process
  passes its own, equal copy), so a concrete array goes through the host
  first; a PRNG key goes as its raw bits and is wrapped again.
  """
  if isinstance(x, jax.core.Tracer):
    return x
  if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
    bits = _place(jax.random.key_data(x), everywhere)
    return jax.random.wrap_key_data(bits, impl=jax.random.key_impl(x))
  if not everywhere.is_fully_addressable:
    x = jax.device_get(x)
  return jax.device_put(x, everywhere)


def zero_count(like: Any = None) -> jax.Array:
  """A fresh int32 step counter (on every device of ``like``'s mesh, see `replicate_like`)."""
  return replicate_like(jnp.zeros([], jnp.int32), like)


# ------------------------------------------------------- building and casting

@shared_args
def full_like(tree: Any, fill_value: Any, dtype: Any = None) -> Any:
  """A tree of arrays shaped like ``tree``'s leaves, filled with ``fill_value``.

  The leaves are never weakly typed, so a state built from Python-scalar
  params keeps its exact dtype (and a jitted step its one trace) from step to
  step; each is sharded like its leaf. ``fill_value`` may be traced.

  Args:
    fill_value: the value of every element (may be traced).
    dtype: the dtype of the new leaves; ``None`` keeps each leaf's dtype.
  """
  def fill(x):
    if is_frozen(x):
      return None
    x = jnp.asarray(x)
    dt = complex_if(x, dtype or x.dtype)
    # A select on x rather than a plain constant: the state then takes x's
    # sharding, eagerly and under jit alike (a constant would land replicated).
    return jnp.where(jnp.zeros_like(x, bool), x.astype(dt), jnp.asarray(fill_value, dt))
  return jax.tree.map(lambda x: None if x is None else fill(x), tree, is_leaf=_is_none)


@shared_args
def zeros_like(tree: Any, dtype: Any = None) -> Any:
  """A tree of zeros shaped like ``tree``'s leaves (see `full_like`).

  Args:
    dtype: the dtype of the new leaves; ``None`` keeps each leaf's dtype.
  """
  return full_like(tree, 0, dtype)


def zeros_reduced(x: jax.Array, axis: Any, dtype: Any = None) -> jax.Array:
  """Zeros shaped like ``x`` with ``axis`` (an int or a tuple) removed.

  For statistics kept per row or per column (Adafactor, SM3): the result is a
  reduction of ``x``, so it takes the sharding of ``x``'s remaining axes.
  """
  full = full_like(x, 0, dtype)
  return jnp.sum(full, axis=axis).astype(full.dtype)


def copy(tree: Any, dtype: Any = None) -> Any:
  """A fresh copy of ``tree`` (in ``dtype``), sharded like it; ``None`` for frozen leaves.

  Fresh buffers, so that a state holding it can be donated together with the params.
  """
  zeros = zeros_like(tree, dtype)
  return cast_like(add(zeros, tree), zeros)


def zero_frozen(updates: Any) -> Any:
  """``updates`` as they are, except that a frozen leaf gets its `frozen_update`."""
  return _map(lambda x: x, updates)


def zero_updates(updates: Any) -> Any:
  """Zero updates shaped like ``updates`` (a frozen leaf gets its `frozen_update`)."""
  return _map(jnp.zeros_like, updates)


@shared_args
def ones_like(tree: Any, dtype: Any = None) -> Any:
  """A tree of ones shaped like ``tree``'s leaves (see `full_like`).

  Args:
    dtype: the dtype of the new leaves; ``None`` keeps each leaf's dtype.
  """
  return full_like(tree, 1, dtype)


@shared_args
def cast(tree: Any, dtype: Any) -> Any:
  """Casts every leaf to ``dtype`` (``None`` leaves it as it is).

  Args:
    dtype: the dtype to cast to; ``None`` leaves the tree as it is.
  """
  if dtype is None:
    return tree
  return _map(lambda x: jnp.asarray(x).astype(complex_if(x, dtype)), tree)


@shared_args
def cast_like(tree: Any, other_tree: Any) -> Any:
  """Casts each leaf of ``tree`` to the dtype of the matching ``other_tree`` leaf.

  Where ``tree`` holds ``None`` and ``other_tree`` a frozen leaf, the result is
  that leaf's `frozen_update`: how a frozen param's zero update comes out.

  Args:
    other_tree: a tree of the same structure whose leaves' dtypes are taken.
  """
  def one(x, r):
    if x is None or r is None:
      return None if r is None or not is_frozen(r) else frozen_update(r)
    return jnp.asarray(x).astype(jnp.asarray(r).dtype)
  return jax.tree.map(one, tree, other_tree, is_leaf=_is_none)


def canonical_dtype(dtype: Any) -> Any:
  return None if dtype is None else jax.dtypes.canonicalize_dtype(dtype)


# ------------------------------------------------------------------ algebra

@shared_args
def add(tree_x: Any, tree_y: Any, *other_trees: Any) -> Any:
  """Leafwise sum of two or more trees of the same structure.

  Args:
    *other_trees: more trees of the same structure, added too.
  """
  return _map(lambda *xs: functools.reduce(jnp.add, xs), tree_x, tree_y, *other_trees)


@shared_args
def sub(tree_x: Any, tree_y: Any) -> Any:
  """Leafwise difference ``tree_x - tree_y``."""
  return _map(jnp.subtract, tree_x, tree_y)


@shared_args
def mul(tree_x: Any, tree_y: Any) -> Any:
  """Leafwise product ``tree_x * tree_y``."""
  return _map(jnp.multiply, tree_x, tree_y)


@shared_args
def scale(scalar: Any, tree: Any) -> Any:
  """``scalar * tree``, leaf by leaf.

  Args:
    scalar: a number or a scalar array.
  """
  return _map(lambda x: scalar * x, tree)


@shared_args
def add_scale(tree_x: Any, scalar: Any, tree_y: Any) -> Any:
  """``tree_x + scalar * tree_y``.

  Args:
    scalar: a number or a scalar array.
  """
  return _map(lambda a, b: a + scalar * b, tree_x, tree_y)


@shared_args
def where(condition: Any, tree_x: Any, tree_y: Any) -> Any:
  """Leafwise ``jnp.where`` with one scalar condition.

  Args:
    condition: a boolean scalar: ``tree_x`` where True, ``tree_y`` where False.
  """
  return _map(lambda a, b: jnp.where(condition, a, b), tree_x, tree_y)


def leaves(tree: Any) -> list:
  """The trained leaves: ``None`` and frozen leaves left out."""
  return [leaf for leaf in jax.tree.leaves(tree) if not is_frozen(leaf)]


def _pairwise_sum(parts: list) -> jax.Array:
  while len(parts) > 1:
    parts = [a + b for a, b in zip(parts[::2], parts[1::2])] + parts[len(parts) // 2 * 2:]
  return parts[0]


@shared_args
def sum(tree: Any, associative_reduction: bool = False) -> jax.Array:  # noqa: A001
  """The sum of every element of every leaf (``associative_reduction``: summed pairwise).

  Args:
    associative_reduction: sum the leaves' totals pairwise (a tree reduction) instead of in order.
  """
  parts = [jnp.sum(x) for x in leaves(tree)]
  if not parts:
    return jnp.zeros([])
  return _pairwise_sum(parts) if associative_reduction else jnp.sum(jnp.stack(parts))


@shared_args
def vdot(tree_x: Any, tree_y: Any) -> jax.Array:
  """``sum(conj(x) * y)`` over all leaves (complex for complex leaves, as `jnp.vdot`)."""
  parts = [jnp.vdot(a, b) for a, b in zip(leaves(tree_x), leaves(tree_y))]
  return jnp.sum(jnp.stack(parts)) if parts else jnp.zeros([])


def inner(x: Any, y: Any) -> jax.Array:
  """The real inner product ``Re sum(conj(x) * y)``: `vdot` for real leaves.

  A complex coordinate counts as two real ones (its real and imaginary parts),
  so this is the slope of a real objective along ``y`` when ``x`` is its
  gradient in the optimizer's convention (``conj`` of ``jax.grad``).
  """
  return jnp.real(vdot(x, y))


def abs_sq(x: jax.Array) -> jax.Array:
  """``|x|^2`` as a real array: ``x * x`` for real ``x``, ``re^2 + im^2`` for complex."""
  if jnp.iscomplexobj(x):
    return jnp.square(jnp.real(x)) + jnp.square(jnp.imag(x))
  return x * x


def complex_if(x: Any, dtype: Any) -> Any:
  """``dtype``, or its complex counterpart where ``x`` is complex and ``dtype`` a real float.

  The dtype a copy or statistic of ``x`` is kept in when asked for ``dtype``
  (``mu_dtype``, ``accumulator_dtype``, a norm's ``dtype``): a real dtype would
  drop the imaginary part of a complex param's state.
  """
  if (dtype is not None and jnp.iscomplexobj(x)
      and jnp.issubdtype(jnp.dtype(dtype), jnp.floating)):
    return jnp.result_type(dtype, jnp.complex64)
  return dtype


def widen(x: jax.Array, dtype: Any) -> jax.Array:
  """``x`` cast to the float ``dtype``, or to its complex counterpart for complex ``x``."""
  return jnp.asarray(x, complex_if(x, dtype))


@shared_args
def norm(tree: Any, ord: Any = None, squared: bool = False,  # noqa: A002 - optax's name
         dtype: Any = None) -> jax.Array:
  """Global norm of all leaves together, each leaf first cast to ``dtype`` if given.

  ``ord`` is ``None`` or 2 (the l2 norm), 1, or ``inf`` (also ``'inf'``,
  ``'infinity'``); ``squared`` returns the norm's square. Real for complex
  leaves, of their moduli ``|x|`` (a real ``dtype`` casts a complex leaf to its
  complex counterpart, see `widen`).

  Args:
    ord: the norm: ``None`` or 2 (l2), 1, or ``inf``.
    squared: return the square of the norm.
    dtype: cast every leaf to this dtype first; ``None`` keeps each leaf's.
  """
  as_dtype = lambda x: jnp.abs(widen(x, dtype))  # noqa: E731
  if ord is None or (not isinstance(ord, str) and ord == 2):
    sq = sum(_map(lambda x: jnp.sum(abs_sq(widen(x, dtype))), tree))
    return sq if squared else jnp.sqrt(sq)
  if not isinstance(ord, str) and ord == 1:
    total = sum(_map(lambda x: jnp.sum(as_dtype(x)), tree))
  elif ord in ("inf", "infinity") or (not isinstance(ord, str) and ord == jnp.inf):
    maxes = [jnp.max(as_dtype(x)) for x in leaves(tree) if jnp.size(x)]
    total = functools.reduce(jnp.maximum, maxes) if maxes else jnp.asarray(-jnp.inf)
  else:
    raise ValueError(f"tree.norm: `ord` must be None, 1, 2 or inf; got {ord!r}")
  return jnp.square(total) if squared else total


def safe_norm(x: jax.Array, min_norm: Any, ord: Any = None,  # noqa: A002 - optax's name
              axis: Any = None, keepdims: bool = False) -> jax.Array:
  """``max(||x||, min_norm)`` with a gradient that stays finite where the norm is small.

  The norm is ``jnp.linalg.norm(x, ord, axis)``; where it is at most
  ``min_norm`` the result is ``min_norm`` and the gradient 0 (a plain maximum
  would give a NaN gradient at ``x = 0``).

  Args:
    x: an array.
    min_norm: the lower bound of the result.
    ord: the order of the norm, as in ``jnp.linalg.norm``.
    axis: the axis or axes to reduce over, as in ``jnp.linalg.norm``.
    keepdims: whether the reduced axes stay, with size 1.

  Returns:
    The bounded norm.
  """
  if ord is None and axis is None and not keepdims:  # one reduction, the common case
    sq = jnp.sum(abs_sq(x))
    small = sq <= jnp.square(min_norm)
    return jnp.where(small, min_norm, jnp.sqrt(jnp.where(small, 1.0, sq)))
  small = jnp.linalg.norm(x, ord=ord, axis=axis, keepdims=True) <= min_norm
  masked = jnp.linalg.norm(jnp.where(small, jnp.ones_like(x), x), ord=ord, axis=axis,
                           keepdims=keepdims)
  if not keepdims:
    small = jnp.squeeze(small, axis=axis)
  return jnp.where(small, min_norm, masked)


def safe_rms(x: jax.Array, min_rms: Any) -> jax.Array:
  """``max(rms(x), min_rms)`` with a gradient that stays finite at ``x = 0``.

  Args:
    x: an array.
    min_rms: the lower bound of the result.

  Returns:
    The bounded root mean square of ``x``'s elements.
  """
  sq = jnp.mean(abs_sq(x))
  small = sq <= jnp.square(min_rms)
  return jnp.where(small, min_rms, jnp.sqrt(jnp.where(small, 1.0, sq)))
def safe_sqrt(x: jax.Array) -> jax.Array:
  """``sqrt(x)`` for ``x >= 0`` whose gradient at ``x = 0`` is 0 rather than infinite."""
  positive = x > 0
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1)), 0)


# ------------------------------------------------------------------ moments

def update_moment(updates: Any, moments: Any, decay: Any, order: int) -> Any:
  """Exponential moving average of ``g**order``: ``(1 - decay) g^order + decay m``.

  Args:
    updates: the incoming updates (gradients), a tree.
    moments: the moments so far, a tree like ``updates``.
    decay: the decay rate of the average.
    order: the power of the gradient averaged (1: mean, 2: second moment).

  Returns:
    The new moments.
  """
  return _map(lambda g, m: (1 - decay) * g**order + decay * m, updates, moments)


def update_moment_per_elem_norm(updates: Any, moments: Any, decay: Any,
                                order: int) -> Any:
  """Like `update_moment` with ``|g|**order`` (equal for real ``g``, even order).

  For complex ``g`` the moment is real-valued (``|g|^2 = g conj(g)``, not ``g^2``);
  it keeps the dtype of ``moments``.

  Args:
    updates: the incoming updates (gradients), a tree.
    moments: the moments so far, a tree like ``updates``.
    decay: the decay rate of the average.
    order: the power of ``|g|`` averaged.

  Returns:
    The new moments.
  """
  def one(g, m):
    if order % 2 == 0 and not jnp.iscomplexobj(g):  # |g|^order == g^order, one op fewer
      return (1 - decay) * g**order + decay * m
    if order == 2:
      return (1 - decay) * abs_sq(g) + decay * m
    return (1 - decay) * jnp.abs(g)**order + decay * m
  return _map(one, updates, moments)


def update_infinity_moment(updates: Any, moments: Any, decay: Any, eps: Any) -> Any:
  """Adamax's weighted infinity norm: ``max(|g| + eps, decay * u)``.

  Args:
    updates: the incoming updates (gradients), a tree.
    moments: the moments so far, a tree like ``updates``.
    decay: the decay rate of the average.
    eps: added to ``|g|``.

  Returns:
    The new moments.
  """
  return _map(lambda g, u: jnp.maximum(jnp.abs(g) + eps, decay * u), updates, moments)


def bias_correction(moment: Any, decay: Any, count: jax.Array) -> Any:
  """Divides an EMA started at zero by ``1 - decay**count``.

  The factor is computed in at least float32 and then cast to each leaf's
  dtype, so low-precision moments are not divided by a rounded-to-zero factor.

  Args:
    moment: the moving average, a tree.
    decay: its decay rate.
    count: the number of steps averaged so far (from 1).

  Returns:
    The corrected average.
  """
  factor = 1 - jnp.asarray(decay) ** count
  return _map(lambda t: t / factor.astype(t.dtype), moment)


# ------------------------------------------------------------------- random

def split_key_like(rng_key: jax.Array, target_tree: Any) -> Any:
  """One fresh key per leaf, in a tree of the same structure.

  Args:
    rng_key: the PRNG key to split.
    target_tree: the tree whose structure the keys take.
  """
  treedef = jax.tree.structure(target_tree)
  keys = jax.random.split(rng_key, treedef.num_leaves)
  return jax.tree.unflatten(treedef, list(keys))


def random_like(rng_key: jax.Array, target_tree: Any,
                sampler: Callable = jax.random.normal, dtype: Any = None) -> Any:
  """Samples an array of each leaf's shape and dtype (or ``dtype``) from ``sampler``.

  Keys are split over the trained leaves only, so adding a frozen (integer or
  boolean) leaf, which gets zeros, changes no other leaf's sample.

  Args:
    rng_key: the PRNG key, split over the trained leaves.
    target_tree: the tree whose leaves' shapes (and dtypes) are sampled.
    sampler: ``sampler(key, shape, dtype) -> array``, e.g. ``jax.random.normal``.
    dtype: the dtype of the samples; ``None`` takes each leaf's.
  """
  flat, treedef = jax.tree.flatten(target_tree)
  trained = [i for i, x in enumerate(flat) if not is_frozen(x)]
  out = [frozen_update(x) if is_frozen(x) else None for x in flat]
  for i, k in zip(trained, jax.random.split(rng_key, len(trained))):
    out[i] = sampler(k, jnp.shape(flat[i]), dtype or jnp.asarray(flat[i]).dtype)
  return jax.tree.unflatten(treedef, out)


def safe_div(num: jax.Array, den: jax.Array) -> jax.Array:
  """``num / den``, and 0 where ``den`` is 0, with finite gradients there.

  A subnormal ``den`` counts as 0: CPUs flush such inputs to zero, so the
  division would give NaN (a ``min_norm`` of 1e-6 is subnormal in float16).
  A NaN or Inf in the denominator still propagates, so a non-finite gradient
  is never hidden.
  """
  den = jnp.asarray(den)
  tiny = jnp.finfo(den.dtype).tiny if jnp.issubdtype(den.dtype, jnp.inexact) else 1
  zero = jnp.abs(den) < tiny
  return jnp.where(zero, 0, num / jnp.where(zero, 1, den))


def rms_scale(g: jax.Array, second_moment: jax.Array, eps: Any, eps_root: Any) -> jax.Array:
  """The adaptive step ``g / (sqrt(v + eps_root) + eps)`` shared by every method.

  ``eps`` is added outside the square root, ``eps_root`` inside it. Where the
  denominator is zero (both constants 0 and no gradient seen yet) the step is 0.
  Concrete constants are folded at trace time: no ``+ 0`` for a zero constant,
  and no zero guard when ``eps``, or ``eps_root`` with ``eps >= 0``, is a
  normal positive number in the step's dtype: ``v`` is a second moment, never
  negative, so the denominator cannot vanish. A complex ``v`` (a moment kept in
  complex params' dtype) holds real values: its real part is used.
  """
  if jnp.iscomplexobj(second_moment):
    second_moment = jnp.real(second_moment)
  if not (_is_concrete(eps_root) and eps_root == 0):
    second_moment = second_moment + eps_root
  den = jnp.sqrt(second_moment)
  if not (_is_concrete(eps) and eps == 0):
    den = den + eps
  if _is_normal(eps, den.dtype) or (_is_normal(eps_root, den.dtype)
                                    and _is_concrete(eps) and eps >= 0):
    return g / den  # v >= 0, so a normal eps or eps_root keeps den normal and positive
  return safe_div(g, den)


def _is_normal(x: Any, dtype: Any) -> bool:
  """A concrete number that is positive and normal in ``dtype``.

  1e-8 is 0 in float16, and 1e-6 a subnormal that the CPU flushes to 0.
  """
  dtype = jnp.finfo(dtype).dtype  # the real dtype of a complex one
  return _is_concrete(x) and np.asarray(x, dtype) >= jnp.finfo(dtype).tiny


def _is_concrete(x: Any) -> bool:
  """A Python number (not an array, not traced): safe to branch on at trace time."""
  return isinstance(x, (int, float)) and not isinstance(x, bool)


# ------------------------------------------------- scalars and copies of params

def scalar_dtype(tree: Any) -> Any:
  """The dtype of a scalar summarizing ``tree`` (a norm, a distance, a learned step size).

  The widest float among the trained leaves, and at least float32, so that
  sums of squares over bfloat16 or float16 params neither round away nor overflow.
  Real also for complex params (float64 for complex128).
  """
  widest = jnp.result_type(jnp.float32, *[jnp.result_type(x) for x in leaves(tree)])
  return jnp.finfo(widest).dtype


def scalar_like(value: Any, tree: Any) -> jax.Array:
  """``value`` as a `scalar_dtype` array placed like ``tree``'s counters (see `replicate_like`)."""
  return replicate_like(jnp.asarray(value, scalar_dtype(tree)), tree)
