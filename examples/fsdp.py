"""FSDP placement shared by the sharded examples: which axis of a leaf to split, and bytes held.

Each leaf is split along its largest dimension over the mesh axis ``fsdp``
when that divides evenly, else replicated. The byte counts say how much of a
state one device, or one process, actually holds.
"""

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P


def fsdp_spec(leaf, devices: int) -> P:
  """Split a leaf along its largest dimension when that divides evenly; else replicate."""
  if leaf.ndim == 0:
    return P()
  axis = max(range(leaf.ndim), key=lambda i: leaf.shape[i])
  if leaf.shape[axis] % devices:
    return P()
  return P(*[("fsdp" if i == axis else None) for i in range(leaf.ndim)])


def fsdp_shardings(tree, mesh):
  """A NamedSharding per leaf of ``tree``, by `fsdp_spec` over all of ``mesh``."""
  return jax.tree.map(lambda x: NamedSharding(mesh, fsdp_spec(x, mesh.size)), tree)


def shard(tree, shardings):
  """Global arrays from host values that every process holds alike.

  Each process hands over only the pieces its own devices keep, so this works
  the same on one process or many (no cross-process check or transfer).
  """

  def one(x, sharding):
    x = np.asarray(jax.device_get(x))
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

  return jax.tree.map(one, tree, shardings)


def state_bytes(tree) -> tuple[int, int]:
  """(bytes of all leaves, bytes that device 0 holds)."""
  leaves = [x for x in jax.tree.leaves(tree) if hasattr(x, "addressable_shards")]
  total = sum(x.nbytes for x in leaves)
  first = jax.devices()[0]
  held = sum(s.data.nbytes for x in leaves for s in x.addressable_shards if s.device == first)
  return total, held


def process_bytes(tree) -> int:
  """Bytes this process holds: each distinct piece of a leaf on its devices, counted once.

  A replicated leaf counts once per process, however many of its devices hold a copy.
  """
  held = 0
  for x in jax.tree.leaves(tree):
    pieces = {str(s.index): s.data.nbytes for s in x.addressable_shards}
    held += sum(pieces.values())
  return held
