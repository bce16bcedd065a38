"""``flatten``: run a transform on all leaves concatenated into one vector."""

import jax
from jax.flatten_util import ravel_pytree

from jaxopt_notes import _tree
from jaxopt_notes._base import (GradientTransformation, GradientTransformationExtraArgs,
                                with_extra_args_support)


def flatten(inner: GradientTransformation) -> GradientTransformationExtraArgs:
  """Runs ``inner`` on one flat vector holding every leaf, then splits the result.

  Useful for transforms that look across leaves (a global preconditioner); for
  elementwise optimizers the result equals the unflattened one. Leaves are
  promoted to their common dtype in the flat vector. The state is the inner
  transform's state over that vector. Frozen (integer, boolean) leaves stay out
  of the vector and get a zero update.
  """
  inner = with_extra_args_support(inner)

  def trained(tree):
    return jax.tree.map(lambda x: None if x is None or _tree.is_frozen(x) else x, tree,
                        is_leaf=lambda x: x is None)

  def flat(tree):
    return None if tree is None else ravel_pytree(trained(tree))[0]

  def init_fn(params):
    return inner.init(flat(params))

  def update_fn(updates, state, params=None, **extra_args):
    vector, unravel = ravel_pytree(trained(updates))
    new, state = inner.update(vector, state, flat(params), **extra_args)
    return _tree.cast_like(unravel(new), updates), state

  return GradientTransformationExtraArgs(init_fn, update_fn)
