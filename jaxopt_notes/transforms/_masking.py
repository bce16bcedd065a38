"""``masked``: run a transform on a selected subset of the leaves only."""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax

from jaxopt_notes import _tree
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  with_extra_args_support,
)
from jaxopt_notes._docargs import shared_args


MaskOrFn = Any | Callable[[Any], Any] | None
"""A ``mask`` argument: a tree of booleans like the params (or a prefix of it), a
function of the params returning one, or ``None`` (the argument is not used)."""


class MaskedNode(NamedTuple):
  """Stands in for an unselected leaf: an empty pytree, so it holds no state."""


@shared_args
class MaskedState(NamedTuple):
  """State of `masked`: the inner transform's state over the selected leaves."""

  inner_state: Any


def _select(tree: Any, mask_tree: Any) -> Any:
  return jax.tree.map(lambda m, x: x if m else MaskedNode(), mask_tree, tree)


def masked(
  inner: GradientTransformation,
  mask: Any | Callable[[Any], Any],
  *,
  mask_compatible_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
  """Applies ``inner`` to the leaves where ``mask`` is True; others pass unchanged.

  ``mask`` is a tree of booleans with the params' structure (or a prefix of it),
  or a callable returning one from the params. The inner state is built only
  for the selected leaves. Unselected frozen (integer, boolean) leaves get a
  zero update like everywhere else.

  Args:
    inner: the transform to apply to the selected leaves.
    mask: the tree of booleans, or a function of the params returning it.
    mask_compatible_extra_args: whether an extra keyword argument of ``update``
      that has the updates' tree structure is masked too before ``inner`` sees it.

  Returns:
    The masked transform; its state is `MaskedState`.
  """
  inner = with_extra_args_support(inner)

  def mask_of(tree):
    return mask(tree) if callable(mask) else mask

  def init_fn(params):
    return MaskedState(inner_state=inner.init(_select(params, mask_of(params))))

  def update_fn(updates, state, params=None, **extra_args):
    if params is not None:
      _tree.check_match(updates, params)
    mask_tree = mask_of(updates if params is None else params)
    picked_params = None if params is None else _select(params, mask_tree)
    if mask_compatible_extra_args:
      structure = jax.tree.structure(updates)
      extra_args = {
        k: _select(v, mask_tree) if jax.tree.structure(v) == structure else v
        for k, v in extra_args.items()
      }
    new, inner_state = inner.update(
      _select(updates, mask_tree), state.inner_state, picked_params, **extra_args
    )
    merged = jax.tree.map(
      lambda m, n, old: n if m else old,
      mask_tree,
      new,
      _tree.zero_frozen(updates),
      is_leaf=lambda x: isinstance(x, MaskedNode),
    )
    return merged, MaskedState(inner_state=inner_state)

  return GradientTransformationExtraArgs(init_fn, update_fn)
