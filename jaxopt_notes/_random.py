"""Random trees: one key per leaf, and samples shaped like a tree's leaves."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes import _tree


def split_key_like(rng_key: jax.Array, target_tree: Any) -> Any:
  """One fresh key per leaf, in a tree of the same structure.

  Args:
    rng_key: the PRNG key to split.
    target_tree: the tree whose structure the keys take.
  """
  treedef = jax.tree.structure(target_tree)
  keys = jax.random.split(rng_key, treedef.num_leaves)
  return jax.tree.unflatten(treedef, list(keys))


def random_like(
  rng_key: jax.Array, target_tree: Any, sampler: Callable = jax.random.normal, dtype: Any = None
) -> Any:
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
  trained = [i for i, x in enumerate(flat) if not _tree.is_frozen(x)]
  out = [_tree.frozen_update(x) if _tree.is_frozen(x) else None for x in flat]
  for i, k in zip(trained, jax.random.split(rng_key, len(trained))):
    out[i] = sampler(k, jnp.shape(flat[i]), dtype or jnp.asarray(flat[i]).dtype)
  return jax.tree.unflatten(treedef, out)
