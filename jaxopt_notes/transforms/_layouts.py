"""Layouts: run a transform on the leaves laid out in other buffers.

``flatten`` puts every leaf in one vector (for transforms that look across
leaves); ``pack_leaves`` packs only the small leaves, a few to a buffer, which
is a fast path for elementwise optimizers on trees of many small leaves;
``pack_params`` holds the params themselves packed (a flat-parameter mode).
"""

import math
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.flatten_util import ravel_pytree

from jaxopt_notes import _tree
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  with_extra_args_support,
)


def _trained(tree):
  """``tree`` with its frozen (integer, boolean) leaves replaced by None."""
  return jax.tree.map(
    lambda x: None if x is None or _tree.is_frozen(x) else x, tree, is_leaf=_tree.is_none
  )


def flatten(inner: GradientTransformation) -> GradientTransformationExtraArgs:
  """Runs ``inner`` on one flat vector holding every leaf, then splits the result.

  Useful for transforms that look across leaves (a global preconditioner); for
  elementwise optimizers the result equals the unflattened one. Leaves are
  promoted to their common dtype in the flat vector. The state is the inner
  transform's state over that vector. Frozen (integer, boolean) leaves stay out
  of the vector and get a zero update.

  Args:
    inner: the transform to run on the flat vector.
  """
  inner = with_extra_args_support(inner)

  def flat(tree):
    return None if tree is None else ravel_pytree(_trained(tree))[0]

  def init_fn(params):
    return inner.init(flat(params))

  def update_fn(updates, state, params=None, **extra_args):
    vector, unravel = ravel_pytree(_trained(updates))
    new, state = inner.update(vector, state, flat(params), **extra_args)
    return _tree.cast_like(unravel(new), updates), state

  return GradientTransformationExtraArgs(init_fn, update_fn)


class PackedLeaves(NamedTuple):
  """Leaves raveled into shared 1-D buffers, and leaves kept as they are.

  What the inner transform of `pack_leaves` sees (``leaves``: those above
  ``max_leaf_size``), and the params of `pack_params` (``leaves``: the frozen
  integer and boolean ones).

  Attributes:
    buffers: 1-D arrays, each holding leaves of one dtype raveled and concatenated.
    leaves: the leaves kept as they are.
  """

  buffers: tuple  # 1-D arrays: leaves of one dtype, raveled and concatenated
  leaves: tuple  # leaves as they are


def _layout(leaves: list, max_leaf_size: int, max_group_leaves: int) -> tuple:
  """``(groups, large)``: leaf indices packed together, a group per buffer, and the rest.

  Small leaves join the open group of their dtype in tree order; a group closes
  when it holds ``max_group_leaves``. Depends only on shapes and dtypes, so
  ``init`` and every ``update`` agree.
  """
  closed, open_groups, large = [], {}, []
  for i, x in enumerate(leaves):
    if x is None:
      continue
    if jnp.size(x) > max_leaf_size:
      large.append(i)
      continue
    dtype = jnp.result_type(x)
    open_groups.setdefault(dtype, []).append(i)
    if len(open_groups[dtype]) == max_group_leaves:
      closed.append(open_groups.pop(dtype))
  return closed + list(open_groups.values()), large


def _pack(leaves: list, layout: tuple) -> PackedLeaves:
  groups, large = layout
  return PackedLeaves(
    tuple(jnp.concatenate([jnp.ravel(leaves[i]) for i in group]) for group in groups),
    tuple(leaves[i] for i in large),
  )


def _unpack(packed: PackedLeaves, layout: tuple, like: list) -> list:
  """The leaves of ``packed`` back in the places and shapes of ``like`` (None elsewhere).

  ``like`` needs only shapes: arrays or `jax.ShapeDtypeStruct`.
  """
  groups, large = layout
  out = [None] * len(like)
  for group, buffer in zip(groups, packed.buffers, strict=True):
    shapes = [like[i].shape if hasattr(like[i], "shape") else jnp.shape(like[i]) for i in group]
    # one split, not a slice per leaf: differentiated (pack_params), a split's
    # cotangent is one concatenation, where each slice's would be a padded full buffer
    pieces = lax.split(buffer, [math.prod(shape) for shape in shapes])
    for i, piece, shape in zip(group, pieces, shapes, strict=True):
      out[i] = piece.reshape(shape)
  for i, leaf in zip(large, packed.leaves, strict=True):
    out[i] = leaf
  return out


def pack_leaves(
  inner: GradientTransformation, max_leaf_size: int = 16384, max_group_leaves: int = 16
) -> GradientTransformationExtraArgs:
  """Runs ``inner`` with the small leaves packed into shared buffers: a fast path for many leaves.

  An optimizer step is elementwise work, but XLA runs it as a few kernels per
  leaf, and on a tree of many small leaves the kernels' fixed cost outweighs
  the arithmetic. Here every leaf of at most ``max_leaf_size`` elements is
  raveled into a buffer shared with up to ``max_group_leaves - 1`` others of
  its dtype (in tree order); larger leaves pass through as they are. ``inner``
  runs on the `PackedLeaves` of buffers and large leaves, and keeps its state
  for them; the updates are sliced back out into the params' shapes, one
  kernel per leaf that XLA fuses with `apply_updates`. Speed and compile
  time against optax, per optimizer and tree: docs/benchmarks/optax.md.
  Bounded buffers matter: slicing many leaves out of one large buffer (as
  `flatten` does) compiles slowly. The step holds temporaries of up to two
  copies of the packed leaves; the state has the bytes of the bare
  ``inner``'s, but holds no copy of the params tree (`tree_map_params` sees
  none).

  The updates equal the bare ``inner``'s where ``inner`` is elementwise (adam,
  sgd, rmsprop, adagrad, ...) or looks across all leaves at once (a global
  norm, up to summation order). A transform that reads a leaf's shape or
  whole leaves (per-leaf norms, factored or matrix preconditioners, a mask
  or label tree over the params) sees the buffers instead: put it outside
  ``pack_leaves`` in a `chain`. Frozen (integer, boolean) leaves get no state
  and a zero update. Leaves are grouped by the params' dtypes; pass ``params``
  to ``update`` when a gradient's dtype differs from its param's.

  Args:
    inner: the transform to run on the packed tree.
    max_leaf_size: leaves with more elements than this are not packed.
    max_group_leaves: the most leaves packed into one buffer.

  Example: 40 biases of 3 elements and one matrix; adam's moments are kept in
  three buffers and the matrix's own leaf.

    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> params = {"w": jnp.zeros((200, 100))} | {f"b{i:02d}": jnp.zeros(3) for i in range(40)}
    >>> opt = jon.pack_leaves(jon.adam(1e-3))
    >>> mu = opt.init(params)[0].mu
    >>> [x.shape for x in mu.buffers], [x.shape for x in mu.leaves]
    ([(48,), (48,), (24,)], [(200, 100)])
    >>> updates, _ = opt.update(params, opt.init(params))
    >>> updates["b07"].shape, updates["w"].shape
    ((3,), (200, 100))
  """
  for name, value, least in (
    ("max_leaf_size", max_leaf_size, 0),
    ("max_group_leaves", max_group_leaves, 1),
  ):
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
      raise ValueError(
        f"pack_leaves: argument `{name}`={value!r} must be a Python int of at "
        f"least {least} (the layout is fixed when the step is traced)"
      )
  inner = with_extra_args_support(inner)

  def layout_of(tree):
    leaves = jax.tree.leaves(_trained(tree), is_leaf=_tree.is_none)
    return leaves, _layout(leaves, max_leaf_size, max_group_leaves)

  def init_fn(params):
    leaves, layout = layout_of(params)
    return inner.init(_pack(leaves, layout))

  def update_fn(updates, state, params=None, **extra_args):
    leaves = jax.tree.leaves(_trained(updates), is_leaf=_tree.is_none)
    packed_params = None
    if params is None:
      layout = _layout(leaves, max_leaf_size, max_group_leaves)
    else:  # the layout of init, even where a gradient's dtype differs
      _tree.check_match(updates, params)
      param_leaves, layout = layout_of(
        jax.tree.map(lambda u, p: None if u is None else p, updates, params, is_leaf=_tree.is_none)
      )
      packed_params = _pack(param_leaves, layout)
    new, state = inner.update(_pack(leaves, layout), state, packed_params, **extra_args)
    treedef = jax.tree.structure(updates, is_leaf=_tree.is_none)
    out = jax.tree.unflatten(treedef, _unpack(new, layout, leaves))
    return _tree.cast_like(out, updates), state

  return GradientTransformationExtraArgs(init_fn, update_fn)


def pack_params(params: Any) -> tuple[PackedLeaves, Callable[[PackedLeaves], Any]]:
  """The params held packed: one vector per float dtype, and the function back to the tree.

  A flat-parameter mode for models of many small leaves. Train the packed
  params, and unpack them inside the loss::

    packed, unpack = jon.pack_params(params)
    loss_of_packed = lambda packed, batch: loss(unpack(packed), batch)
    state = opt.init(packed)   # then grad, update, apply_updates on packed

  The optimizer then steps a few long vectors instead of many leaves, and
  the gradient arrives packed: its per-leaf pieces are written straight into
  the vector. Any elementwise optimizer gives the numbers it gives on the tree
  (`pack_leaves` explains which). Unlike `jax.flatten_util.ravel_pytree`,
  leaves of different float dtypes keep their dtype (a vector each), and
  integer and boolean leaves stay out of the vectors, unchanged in
  ``PackedLeaves.leaves`` (``allow_int=True`` in ``jax.grad``), so they get
  no state and a zero update. ``unpack`` needs only the shapes of ``params``
  and works under ``jit``, ``grad`` and ``vmap``. Measured against optax and
  `pack_leaves` in docs/benchmarks/optax.md (whole training steps).

  Args:
    params: the params, a pytree of arrays.

  Example:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> params = {"b": jnp.zeros(3), "w": jnp.ones((2, 2)), "n": jnp.arange(2)}
    >>> packed, unpack = jon.pack_params(params)
    >>> [x.shape for x in packed.buffers], packed.leaves[0].dtype
    ([(7,)], dtype('int32'))
    >>> jax.tree.map(jnp.shape, unpack(packed))
    {'b': (3,), 'n': (2,), 'w': (2, 2)}
  """
  leaves, treedef = jax.tree.flatten(params)
  trained = [None if _tree.is_frozen(x) else x for x in leaves]
  layout = _layout(trained, sys.maxsize, sys.maxsize)
  frozen = [i for i, x in enumerate(trained) if x is None]
  shapes = [jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x)) for x in leaves]
  packed = _pack(trained, layout)._replace(leaves=tuple(leaves[i] for i in frozen))

  def unpack(packed: PackedLeaves) -> Any:
    out = _unpack(packed._replace(leaves=()), layout, shapes)
    for i, leaf in zip(frozen, packed.leaves, strict=True):
      out[i] = leaf
    return jax.tree.unflatten(treedef, out)

  return packed, unpack
