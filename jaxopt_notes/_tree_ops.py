"""Leafwise operations and whole-tree reductions offered by ``jaxopt_notes.tree``.

These complete `jaxopt_notes._tree` (which holds the maths the optimizers use)
with the rest of ``optax.tree``: quotients, clipping, complex parts, extrema,
sizes, dtypes, comparisons and random-key unwrapping. Unlike the optimizers'
helpers they treat integer leaves like any other.
"""

import functools
import operator
from typing import Any

import jax
import jax.numpy as jnp


def div(tree_x: Any, tree_y: Any) -> Any:
  """Leafwise quotient ``tree_x / tree_y``.

  Args:
    tree_x: the numerators.
    tree_y: the denominators, a tree of the same structure.

  Returns:
    The tree of quotients.
  """
  return jax.tree.map(jnp.true_divide, tree_x, tree_y)


def clip(tree: Any, min_value: Any = None, max_value: Any = None) -> Any:
  """Clips every leaf to ``[min_value, max_value]``.

  Args:
    tree: the tree to clip.
    min_value: the lower bound, or ``None`` for none.
    max_value: the upper bound, or ``None`` for none.

  Returns:
    The clipped tree.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> jon.tree.clip({"a": jnp.array([-2.0, 0.5, 3.0])}, -1.0, 1.0)["a"].tolist()
    [-1.0, 0.5, 1.0]
  """
  return jax.tree.map(lambda x: jnp.clip(x, min_value, max_value), tree)


def conj(tree: Any) -> Any:
  """The complex conjugate of every leaf (real leaves come back unchanged).

  Args:
    tree: a tree of arrays.

  Returns:
    The conjugated tree.
  """
  return jax.tree.map(jnp.conj, tree)


def real(tree: Any) -> Any:
  """The real part of every leaf.

  Args:
    tree: a tree of arrays.

  Returns:
    The tree of real parts.
  """
  return jax.tree.map(jnp.real, tree)


def _reduce(tree: Any, leaf_fn, combine, empty: float) -> jax.Array:
  parts = [leaf_fn(x) for x in jax.tree.leaves(tree) if jnp.size(x)]
  return functools.reduce(combine, parts) if parts else jnp.asarray(empty)


def max(tree: Any) -> jax.Array:  # noqa: A001 - optax's name
  """The largest element of all leaves together (``-inf`` for a tree with no elements).

  Args:
    tree: a tree of arrays.

  Returns:
    A scalar.
  """
  return _reduce(tree, jnp.max, jnp.maximum, -float("inf"))


def min(tree: Any) -> jax.Array:  # noqa: A001 - optax's name
  """The smallest element of all leaves together (``inf`` for a tree with no elements).

  Args:
    tree: a tree of arrays.

  Returns:
    A scalar.
  """
  return _reduce(tree, jnp.min, jnp.minimum, float("inf"))


def size(tree: Any) -> int:
  """The number of elements of all leaves together.

  Args:
    tree: a tree of arrays.

  Returns:
    A Python int.
  """
  return functools.reduce(operator.add, (int(jnp.size(x)) for x in jax.tree.leaves(tree)), 0)


def batch_shape(tree: Any, shape: tuple[int, ...] = ()) -> Any:
  """Broadcasts every leaf to leading batch axes ``shape``.

  Args:
    tree: a tree of arrays.
    shape: the batch axes to put in front of each leaf's own shape.

  Returns:
    The tree with leaves of shape ``(*shape, *leaf.shape)``.
  """
  return jax.tree.map(lambda x: jnp.broadcast_to(x, (*shape, *jnp.shape(x))), tree)


def dtype(tree: Any, mixed_dtype_handler: str | None = None) -> Any:
  """The dtype of a tree's leaves.

  Args:
    tree: a tree of arrays (an empty one has JAX's default float dtype).
    mixed_dtype_handler: what to do when the leaves' dtypes differ: ``None``
      raises a ``ValueError``; ``'promote'`` returns their promoted dtype;
      ``'highest'`` / ``'lowest'`` returns the one every other promotes to /
      that promotes to every other, and raises if there is none.

  Returns:
    A numpy dtype.
  """
  dtypes = [jnp.asarray(x).dtype for x in jax.tree.leaves(tree)]
  if not dtypes:
    return jnp.asarray([]).dtype
  if mixed_dtype_handler is None:
    if any(d != dtypes[0] for d in dtypes):
      raise ValueError(
        f"tree.dtype: the leaves have several dtypes {sorted(set(map(str, dtypes)))}"
        "; pass mixed_dtype_handler='promote', 'highest' or 'lowest'"
      )
    return dtypes[0]
  if mixed_dtype_handler == "promote":
    return functools.reduce(jnp.promote_types, dtypes)
  if mixed_dtype_handler in ("highest", "lowest"):
    for candidate in dtypes:
      ranks = [jnp.promote_types(candidate, d) for d in dtypes]
      if mixed_dtype_handler == "highest" and all(r == candidate for r in ranks):
        return candidate
      if mixed_dtype_handler == "lowest" and all(r == d for r, d in zip(ranks, dtypes)):
        return candidate
    raise ValueError(
      f"tree.dtype: the dtypes {sorted(set(map(str, dtypes)))} have no "
      f"{mixed_dtype_handler} element (some do not promote to one another)"
    )
  raise ValueError(
    "tree.dtype: `mixed_dtype_handler` must be None, 'promote', 'highest' or "
    f"'lowest'; got {mixed_dtype_handler!r}"
  )


def allclose(a: Any, b: Any, rtol: Any = 1e-05, atol: Any = 1e-08, equal_nan: bool = False) -> Any:
  """Whether two trees are equal leaf by leaf within ``atol + rtol * |b|``.

  Args:
    a: a tree of arrays.
    b: a tree of the same structure.
    rtol: the relative tolerance.
    atol: the absolute tolerance.
    equal_nan: whether NaNs in the same places count as equal.

  Returns:
    A boolean scalar (``True`` for two empty trees).
  """
  close = jax.tree.map(
    lambda x, y: jnp.allclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan), a, b
  )
  return functools.reduce(operator.and_, jax.tree.leaves(close), True)


def unwrap_random_key_data(input_tree: Any) -> Any:
  """Replaces every typed random key in a tree by its raw key data, for comparisons.

  Args:
    input_tree: a tree of arrays, some of which may be ``jax.random.key`` keys.

  Returns:
    The same tree with each key replaced by ``jax.random.key_data(key)``.
  """

  def one(x):
    is_key = isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
    return jax.random.key_data(x) if is_key else x

  return jax.tree.map(one, input_tree)
