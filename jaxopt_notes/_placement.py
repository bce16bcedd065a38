"""Device placement of the small concrete parts of a state (counters, keys, scalars).

Moments take their params' sharding from the trees they are built from (see
`jaxopt_notes._tree.full_like`); the scalars of a state have no param to follow,
so they are put on every device of the params' mesh here.
"""

from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes import _tree


def mesh_of(like: Any) -> Any:
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
  mesh = mesh_of(like)
  if mesh is None:
    return tree
  everywhere = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  return jax.tree.map(lambda x: place(x, everywhere), tree)


def place(x: Any, everywhere: jax.sharding.Sharding) -> Any:
  """``x`` on every device of ``everywhere``, also when some are another process's.

  A mesh spanning several processes accepts only host values (each process
  passes its own, equal copy), so a concrete array goes through the host
  first; a PRNG key goes as its raw bits and is wrapped again.
  """
  if isinstance(x, jax.core.Tracer):
    return x
  if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
    bits = place(jax.random.key_data(x), everywhere)
    return jax.random.wrap_key_data(bits, impl=jax.random.key_impl(x))
  if not everywhere.is_fully_addressable:
    x = jax.device_get(x)
  return jax.device_put(x, everywhere)


def zero_count(like: Any = None) -> jax.Array:
  """A fresh int32 step counter (on every device of ``like``'s mesh, see `replicate_like`)."""
  return replicate_like(jnp.zeros([], jnp.int32), like)


def scalar_like(value: Any, tree: Any) -> jax.Array:
  """``value`` as a `scalar_dtype` array placed like ``tree``'s counters (see `replicate_like`)."""
  return replicate_like(jnp.asarray(value, _tree.scalar_dtype(tree)), tree)
