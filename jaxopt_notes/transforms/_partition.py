"""Parameter groups: a different transform per group, and frozen groups."""

from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import jax

from jaxopt_notes._base import GradientTransformation, GradientTransformationExtraArgs, set_to_zero
from jaxopt_notes.transforms._masking import masked


class PartitionState(NamedTuple):
  """State of `partition`: each group's masked inner state, by label.

  Attributes:
    inner_states: ``{label: MaskedState}``, each group's masked inner state.
  """

  inner_states: dict  # label -> MaskedState of that group's transform


MultiTransformState = PartitionState
"""`PartitionState` under its older name (optax keeps both, for `multi_transform`)."""


def partition(
  transforms: Mapping[Hashable, GradientTransformation],
  param_labels: Any | Callable[[Any], Any],
  *,
  mask_compatible_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
  """Applies ``transforms[label]`` to the leaves labelled ``label``.

  ``param_labels`` is a tree of labels with the params' structure (or a
  prefix of it), or a callable returning one from the params. Each group's
  transform holds state for its own leaves only. Per-group learning-rate
  multipliers are a ``scale`` in that group's chain (example below).

  Args:
    transforms: the transform of each label.
    param_labels: the tree of labels, or a function of the params returning it.
    mask_compatible_extra_args: whether an extra keyword argument of ``update``
      that has the updates' tree structure is split by group too (see `masked`).

  Returns:
    The combined transform; its state is `PartitionState`.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> params = {'body': jnp.ones(2), 'head': jnp.ones(2)}
    >>> opt = jon.partition({'slow': jon.sgd(0.01), 'fast': jon.sgd(0.1)},
    ...                     {'body': 'slow', 'head': 'fast'})
    >>> updates, _ = opt.update(params, opt.init(params))
    >>> [round(float(updates[k][0]), 6) for k in ('body', 'head')]
    [-0.01, -0.1]
  """

  def labels_of(params):
    return param_labels(params) if callable(param_labels) else param_labels

  def mask_for(label):
    return lambda params: jax.tree.map(lambda x: x == label, labels_of(params))

  def check(params):
    used = set(jax.tree.leaves(labels_of(params)))
    missing = used - set(transforms)
    if missing:
      raise ValueError(
        f"partition: labels {sorted(map(str, missing))} have no transform; "
        f"transforms are given for {sorted(map(str, transforms))}"
      )

  groups = {
    label: masked(tx, mask_for(label), mask_compatible_extra_args=mask_compatible_extra_args)
    for label, tx in transforms.items()
  }

  def init_fn(params):
    check(params)
    return PartitionState({label: g.init(params) for label, g in groups.items()})

  def update_fn(updates, state, params=None, **extra_args):
    inner_states = {}
    for label, group in groups.items():
      updates, inner_states[label] = group.update(
        updates, state.inner_states[label], params, **extra_args
      )
    return updates, PartitionState(inner_states)

  return GradientTransformationExtraArgs(init_fn, update_fn)


multi_transform = partition
"""The same as `partition` (the older optax name)."""


def freeze(mask: Any | Callable[[Any], Any]) -> GradientTransformationExtraArgs:
  """Zero updates (and no state) for the leaves where ``mask`` is True.

  Args:
    mask: which leaves are frozen: a tree of booleans with the params' structure (or a prefix of
      it), or a function of the params returning one.
  """
  return masked(set_to_zero(), mask)


def selective_transform(
  optimizer: GradientTransformation, *, freeze_mask: Any
) -> GradientTransformationExtraArgs:
  """Runs ``optimizer`` on the leaves where ``freeze_mask`` is False; the rest get zero updates.

  ``freeze_mask`` is a tree of booleans with the params' structure (or a
  prefix of it). Unlike ``chain(freeze(mask), optimizer)``, the optimizer holds
  no state for frozen leaves and never sees them, so a global operation
  (a norm, a clip) reads only the trained leaves.

  Args:
    optimizer: the optimizer of the trained leaves.
    freeze_mask: a tree of booleans with the params' structure (or a prefix of it); True marks a
      frozen leaf.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> params = {'body': jnp.ones(2), 'head': jnp.ones(2)}
    >>> opt = jon.selective_transform(jon.adam(0.1), freeze_mask={'body': True, 'head': False})
    >>> updates, _ = opt.update(params, opt.init(params), params)
    >>> [round(float(updates[k][0]), 4) for k in ('body', 'head')]
    [0.0, -0.1]
  """
  labels = jax.tree.map(lambda frozen: "freeze" if frozen else "train", freeze_mask)
  return partition({"train": optimizer, "freeze": set_to_zero()}, labels)
