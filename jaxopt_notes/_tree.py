"""Tree maths: the leaf rules, leafwise algebra, building and casting, reductions, norms.

Every optimizer maps over its trees with `map`, which applies the library's
leaf rules once: ``None`` (a masked or frozen leaf) stays ``None``, a frozen
leaf gets a zero update, and mismatched trees are reported by path.
"""

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jaxopt_notes._docargs import shared_args

from jaxopt_notes import _numerics


def is_none(x: Any) -> bool:
  """True for ``None``: the ``is_leaf`` that keeps masked and frozen places as leaves."""
  return x is None


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
  got, got_def = jax.tree.flatten(incoming, is_leaf=is_none)
  for other in expected:
    want, want_def = jax.tree.flatten(other, is_leaf=is_none)
    if want_def != got_def:
      raise ValueError(
        "the updates do not have the structure of the optimizer state "
        f"(or params): {_structure_difference(incoming, other)}"
      )
    for i, (g, w) in enumerate(zip(got, want)):
      if g is None or w is None or not shapes:
        continue
      if jnp.shape(g) != jnp.shape(w) or (is_frozen(g) and not is_frozen(w)):
        path = jax.tree_util.keystr(_paths(incoming)[i]) or "the root"
        raise ValueError(
          f"the updates at {path} have {_describe(g)}; expected {_describe(w)} (as in the "
          "optimizer state or params, and a float dtype where the param is a float)"
        )


def _paths(tree: Any) -> list:
  return [path for path, _ in jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_none)[0]]


def _structure_difference(got: Any, want: Any) -> str:
  got_paths = [jax.tree_util.keystr(p) for p in _paths(got)]
  want_paths = [jax.tree_util.keystr(p) for p in _paths(want)]
  got_set, want_set = set(got_paths), set(want_paths)
  extra = [q for q in got_paths if q not in want_set]
  missing = [q for q in want_paths if q not in got_set]
  if not extra and not missing:  # the same leaves in other containers
    return f"expected {jax.tree.structure(want)}, got {jax.tree.structure(got)}"
  return "; ".join(
    [f"unexpected leaves {', '.join(extra)}"] * bool(extra)
    + [f"missing leaves {', '.join(missing)}"] * bool(missing)
  )


def map(f: Callable, tree: Any, *rest: Any, broadcast: bool = False) -> Any:
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

  return jax.tree.map(one, tree, *rest, is_leaf=is_none)


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
    dt = _numerics.complex_if(x, dtype or x.dtype)
    # A select on x rather than a plain constant: the state then takes x's
    # sharding, eagerly and under jit alike (a constant would land replicated).
    return jnp.where(jnp.zeros_like(x, bool), x.astype(dt), jnp.asarray(fill_value, dt))

  return jax.tree.map(lambda x: None if x is None else fill(x), tree, is_leaf=is_none)


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
  return map(lambda x: x, updates)


def zero_updates(updates: Any) -> Any:
  """Zero updates shaped like ``updates`` (a frozen leaf gets its `frozen_update`)."""
  return map(jnp.zeros_like, updates)


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
  return map(lambda x: jnp.asarray(x).astype(_numerics.complex_if(x, dtype)), tree)


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

  return jax.tree.map(one, tree, other_tree, is_leaf=is_none)


def canonical_dtype(dtype: Any) -> Any:
  return None if dtype is None else jax.dtypes.canonicalize_dtype(dtype)


# ------------------------------------------------------------------ algebra


@shared_args
def add(tree_x: Any, tree_y: Any, *other_trees: Any) -> Any:
  """Leafwise sum of two or more trees of the same structure.

  Args:
    *other_trees: more trees of the same structure, added too.
  """
  return map(lambda *xs: functools.reduce(jnp.add, xs), tree_x, tree_y, *other_trees)


@shared_args
def sub(tree_x: Any, tree_y: Any) -> Any:
  """Leafwise difference ``tree_x - tree_y``."""
  return map(jnp.subtract, tree_x, tree_y)


@shared_args
def mul(tree_x: Any, tree_y: Any) -> Any:
  """Leafwise product ``tree_x * tree_y``."""
  return map(jnp.multiply, tree_x, tree_y)


@shared_args
def scale(scalar: Any, tree: Any) -> Any:
  """``scalar * tree``, leaf by leaf.

  Args:
    scalar: a number or a scalar array.
  """
  return map(lambda x: scalar * x, tree)


@shared_args
def add_scale(tree_x: Any, scalar: Any, tree_y: Any) -> Any:
  """``tree_x + scalar * tree_y``.

  Args:
    scalar: a number or a scalar array.
  """
  return map(lambda a, b: a + scalar * b, tree_x, tree_y)


@shared_args
def where(condition: Any, tree_x: Any, tree_y: Any) -> Any:
  """Leafwise ``jnp.where`` with one scalar condition.

  Args:
    condition: a boolean scalar: ``tree_x`` where True, ``tree_y`` where False.
  """
  return map(lambda a, b: jnp.where(condition, a, b), tree_x, tree_y)


def leaves(tree: Any) -> list:
  """The trained leaves: ``None`` and frozen leaves left out."""
  return [leaf for leaf in jax.tree.leaves(tree) if not is_frozen(leaf)]


def _pairwise_sum(parts: list) -> jax.Array:
  while len(parts) > 1:
    parts = [a + b for a, b in zip(parts[::2], parts[1::2])] + parts[len(parts) // 2 * 2 :]
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


@shared_args
def norm(
  tree: Any,
  ord: Any = None,
  squared: bool = False,  # noqa: A002 - optax's name
  dtype: Any = None,
) -> jax.Array:
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
  as_dtype = lambda x: jnp.abs(_numerics.widen(x, dtype))  # noqa: E731
  if ord is None or (not isinstance(ord, str) and ord == 2):
    sq = sum(map(lambda x: jnp.sum(_numerics.abs_sq(_numerics.widen(x, dtype))), tree))
    return sq if squared else jnp.sqrt(sq)
  if not isinstance(ord, str) and ord == 1:
    total = sum(map(lambda x: jnp.sum(as_dtype(x)), tree))
  elif ord in ("inf", "infinity") or (not isinstance(ord, str) and ord == jnp.inf):
    maxes = [jnp.max(as_dtype(x)) for x in leaves(tree) if jnp.size(x)]
    total = functools.reduce(jnp.maximum, maxes) if maxes else jnp.asarray(-jnp.inf)
  else:
    raise ValueError(f"tree.norm: `ord` must be None, 1, 2 or inf; got {ord!r}")
  return jnp.square(total) if squared else total


# ------------------------------------------------- scalars and copies of params


def scalar_dtype(tree: Any) -> Any:
  """The dtype of a scalar summarizing ``tree`` (a norm, a distance, a learned step size).

  The widest float among the trained leaves, and at least float32, so that
  sums of squares over bfloat16 or float16 params neither round away nor overflow.
  Real also for complex params (float64 for complex128).
  """
  widest = jnp.result_type(jnp.float32, *[jnp.result_type(x) for x in leaves(tree)])
  return jnp.finfo(widest).dtype
