"""Steps that happen only when a condition holds: finite gradients, a step predicate."""

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  with_extra_args_support,
)
from jaxopt_notes._docargs import shared_args


def all_finite(tree: Any) -> jax.Array:
  """True when every element of every leaf is finite."""
  flags = [jnp.all(jnp.isfinite(x)) for x in _tree.leaves(tree)]
  return jnp.all(jnp.stack(flags)) if flags else jnp.array(True)


@shared_args
class ConditionFn(Protocol):
  """The ``should_transform_fn`` of `conditionally_transform` and `conditionally_mask`."""

  def __call__(self, step: jax.typing.ArrayLike, **extra_args: Any) -> jax.typing.ArrayLike:
    """Whether the inner transform runs at this step.

    Args:
      step: the int32 count of steps taken.
      **extra_args: the extra keyword arguments given to ``update``.

    Returns:
      A boolean scalar.
    """
    ...


@shared_args
class ApplyIfFiniteState(NamedTuple):
  """State of `apply_if_finite`: non-finite step counts and the inner state.

  Attributes:
    notfinite_count: int32 number of non-finite steps in a row.
    last_finite: whether the last step's updates were all finite.
    total_notfinite: int32 number of non-finite steps in all.
  """

  notfinite_count: jax.Array  # non-finite steps in a row (int32)
  last_finite: jax.Array  # whether the last step's gradients were finite
  total_notfinite: jax.Array  # non-finite steps in all (int32)
  inner_state: Any


def apply_if_finite(
  inner: GradientTransformation, max_consecutive_errors: int
) -> GradientTransformationExtraArgs:
  """Skips a step whose gradients hold a NaN or an Inf.

  A skipped step returns zero updates (the params stay exactly as they were)
  and leaves the inner state untouched, bit for bit; it is counted in
  ``notfinite_count`` (in a row) and ``total_notfinite``. After more than
  ``max_consecutive_errors`` non-finite steps in a row the step is applied
  anyway, so that a run that only ever produces non-finite gradients fails
  loudly instead of stalling silently.

  Args:
    inner: the transform whose steps are skipped on non-finite updates.
    max_consecutive_errors: after more than this many non-finite steps in a row, the step is applied
      anyway; >= 0.
  """
  _validate.check(
    "apply_if_finite", max_consecutive_errors=(max_consecutive_errors, _validate.NONNEGATIVE)
  )
  inner = with_extra_args_support(inner)

  def init_fn(params):
    zero = _placement.zero_count(params)
    return ApplyIfFiniteState(
      notfinite_count=zero,
      last_finite=_placement.replicate_like(jnp.array(True), params),
      total_notfinite=zero,
      inner_state=inner.init(params),
    )

  def update_fn(updates, state, params=None, **extra_args):
    finite = all_finite(updates)
    in_a_row = jnp.where(finite, 0, _numerics.safe_increment(state.notfinite_count))
    apply = finite | (in_a_row > max_consecutive_errors)
    new_updates, inner_state = _numerics.cond(
      apply,
      lambda: inner.update(updates, state.inner_state, params, **extra_args),
      lambda: (_tree.zero_updates(updates), state.inner_state),
    )
    total = jnp.where(
      finite, state.total_notfinite, _numerics.safe_increment(state.total_notfinite)
    )
    return new_updates, ApplyIfFiniteState(in_a_row.astype(jnp.int32), finite, total, inner_state)

  return GradientTransformationExtraArgs(init_fn, update_fn)


@shared_args
class ConditionallyTransformState(NamedTuple):
  """State of `conditionally_transform`: the inner state and the step count.

  Attributes:
    step: int32 number of steps taken.
  """

  inner_state: Any
  step: jax.Array  # int32 steps taken


@shared_args
class ConditionallyMaskState(NamedTuple):
  """State of `conditionally_mask`: the step count and the inner state.

  Attributes:
    step: int32 number of steps taken.
  """

  step: jax.Array
  inner_state: Any


def _conditionally(inner, should_transform_fn, forward_extra_args, otherwise, state_class):
  inner = with_extra_args_support(inner)

  def init_fn(params):
    return state_class(inner_state=inner.init(params), step=_placement.zero_count(params))

  def update_fn(updates, state, params=None, **extra_args):
    condition = should_transform_fn(state.step, **(extra_args if forward_extra_args else {}))
    new_updates, inner_state = _numerics.cond(
      condition,
      lambda: inner.update(updates, state.inner_state, params, **extra_args),
      lambda: (otherwise(updates), state.inner_state),
    )
    return new_updates, state_class(
      inner_state=inner_state, step=_numerics.safe_increment(state.step)
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)


def conditionally_transform(
  inner: GradientTransformation,
  should_transform_fn: Callable[..., jax.Array],
  forward_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
  """Applies ``inner`` at steps where ``should_transform_fn(step)`` is True; passes the
  updates through unchanged (and keeps the inner state) otherwise.

  Args:
    inner: the transform applied when the condition holds.
    should_transform_fn: a `ConditionFn`: ``should_transform_fn(step, **extras) -> bool`` with the
      int32 step count from 0.
    forward_extra_args: pass the keyword extras of ``update`` to ``should_transform_fn`` too
      (``inner`` always gets them).
  """
  return _conditionally(
    inner, should_transform_fn, forward_extra_args, _tree.zero_frozen, ConditionallyTransformState
  )


@shared_args(like=conditionally_transform)
def conditionally_mask(
  inner: GradientTransformation,
  should_transform_fn: Callable[..., jax.Array],
  forward_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
  """Applies ``inner`` at steps where ``should_transform_fn(step)`` is True; returns zero
  updates (and keeps the inner state) otherwise.
  """
  return _conditionally(
    inner, should_transform_fn, forward_extra_args, _tree.zero_updates, ConditionallyMaskState
  )
