"""``flatten``: run a transform on all leaves concatenated into one vector."""

from jax.flatten_util import ravel_pytree

from jaxopt_notes._base import (GradientTransformation, GradientTransformationExtraArgs,
                                with_extra_args_support)


def flatten(inner: GradientTransformation) -> GradientTransformationExtraArgs:
  """Runs ``inner`` on one flat vector holding every leaf, then splits the result.

  Useful for transforms that look across leaves (a global preconditioner); for
  elementwise optimizers the result equals the unflattened one. Leaves are
  promoted to their common dtype in the flat vector. The state is the inner
  transform's state over that vector.
  """
  inner = with_extra_args_support(inner)

  def flat(tree):
    return None if tree is None else ravel_pytree(tree)[0]

  def init_fn(params):
    return inner.init(flat(params))

  def update_fn(updates, state, params=None, **extra_args):
    vector, unravel = ravel_pytree(updates)
    new, state = inner.update(vector, state, flat(params), **extra_args)
    return unravel(new), state

  return GradientTransformationExtraArgs(init_fn, update_fn)
