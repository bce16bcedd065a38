"""The core contract: a transform is a pure ``(init, update)`` pair over pytrees."""

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _tree
from jaxopt_notes._docargs import shared_args

Params = Any
"""A pytree of arrays: the parameters being optimized."""
Updates = Any
"""A pytree shaped like the params: gradients coming in, updates going out."""
OptState = Any
"""An optimizer state: a pytree of arrays (NamedTuples with named fields)."""
PyTree = Any
"""Any JAX pytree."""
Schedule = Callable[[jax.typing.ArrayLike], jax.typing.ArrayLike]
"""A function of the int32 step count (from 0) to a value."""
ScalarOrSchedule = float | jax.Array | Schedule
"""A number, a (possibly traced) array, or a `Schedule`."""


class TransformInitFn(Protocol):
  """``init(params) -> state``."""

  def __call__(self, params: Params) -> OptState:
    """Builds the state.

    Args:
      params: the params the state is built for (their shapes and dtypes).
    """
    ...


class TransformUpdateFn(Protocol):
  """``update(updates, state, params=None) -> (updates, state)``."""

  @shared_args
  def __call__(
    self, updates: Updates, state: OptState, params: Params | None = None
  ) -> tuple[Updates, OptState]:
    """Maps the incoming updates to the outgoing ones and the next state.

    Args:
      params: the current params (``None`` for transforms that do not need them).
    """
    ...


class TransformUpdateExtraArgsFn(Protocol):
  """``update(updates, state, params=None, **extra_args) -> (updates, state)``."""

  @shared_args
  def __call__(
    self, updates: Updates, state: OptState, params: Params | None = None, **extra_args: Any
  ) -> tuple[Updates, OptState]:
    """Maps the incoming updates to the outgoing ones and the next state.

    Args:
      params: the current params (``None`` for transforms that do not need them).
    """
    ...


class GradientTransformation(NamedTuple):
  """A pure pair of functions.

  ``init(params) -> state`` builds the state; ``update(updates, state,
  params=None) -> (updates, state)`` maps incoming gradients (or updates from
  an earlier transform) to outgoing updates. Neither function has side effects,
  so both run under ``jax.jit``, ``jax.vmap`` and ``jax.grad``.

  Attributes:
    init: ``init(params) -> state`` (a `TransformInitFn`).
    update: ``update(updates, state, params=None) -> (updates, state)`` (a `TransformUpdateFn`).
  """

  init: TransformInitFn
  update: TransformUpdateFn


class GradientTransformationExtraArgs(GradientTransformation):
  """A transform whose ``update`` also takes keyword extras (``value=``, ...).

  Attributes:
    init: ``init(params) -> state`` (a `TransformInitFn`).
    update: ``update(updates, state, params=None, **extra_args) -> (updates, state)`` (a
      `TransformUpdateExtraArgsFn`).
  """

  update: TransformUpdateExtraArgsFn


class EmptyState(NamedTuple):
  """The state of a transform that keeps none."""


def init_empty_state(params: Params) -> EmptyState:
  """The ``init`` of a transform that keeps no state.

  Args:
    params: ignored.
  """
  del params
  return EmptyState()


def identity() -> GradientTransformation:
  """Passes updates through unchanged."""
  return GradientTransformation(
    init_empty_state, lambda updates, state, params=None: (updates, state)
  )


def set_to_zero() -> GradientTransformation:
  """Replaces every update by zeros (freezes the params it is applied to)."""

  def update_fn(updates, state, params=None):
    del params
    return _tree.zero_updates(updates), state

  return GradientTransformation(init_empty_state, update_fn)


def stateless(f: Callable[[Updates, Params | None], Updates]) -> GradientTransformation:
  """A transform from ``f(updates, params) -> updates`` with no state.

  Args:
    f: ``f(updates, params) -> updates``; ``params`` is ``None`` when ``update`` is called without
      them.
  """

  def update_fn(updates, state, params=None):
    del state
    return f(updates, params), EmptyState()

  return GradientTransformation(init_empty_state, update_fn)


def stateless_with_tree_map(
  f: Callable[[jax.Array, jax.Array | None], jax.Array],
) -> GradientTransformation:
  """A stateless transform applying ``f(update_leaf, param_leaf)`` leafwise.

  Args:
    f: ``f(update_leaf, param_leaf) -> update_leaf``; ``param_leaf`` is ``None`` when ``update`` is
      called without params.
  """

  def apply(updates, params):
    if params is None:
      return jax.tree.map(lambda u: f(u, None), updates)
    return jax.tree.map(f, updates, params)

  return stateless(apply)


def with_extra_args_support(tx: GradientTransformation) -> GradientTransformationExtraArgs:
  """Wraps ``tx`` so that its ``update`` accepts (and ignores) keyword extras.

  Args:
    tx: the transform to wrap (returned as it is if it already takes extras).
  """
  if isinstance(tx, GradientTransformationExtraArgs):
    return tx

  def update_fn(updates, state, params=None, **extra_args):
    del extra_args
    return tx.update(updates, state, params)

  return GradientTransformationExtraArgs(tx.init, update_fn)


def _stochastic_round(exact: jax.Array, dtype: Any, key: jax.Array) -> jax.Array:
  """``exact`` rounded to the narrower float ``dtype`` up or down at random, so that
  the expected result is ``exact``: up with probability (exact - down) / (up - down)."""
  near = exact.astype(dtype)
  residual = exact - near.astype(exact.dtype)
  toward = jnp.where(residual > 0, jnp.asarray(jnp.inf, dtype), jnp.asarray(-jnp.inf, dtype))
  other = jnp.nextafter(near, toward)
  gap = other.astype(exact.dtype) - near.astype(exact.dtype)
  chance = jnp.where(gap != 0, residual / jnp.where(gap != 0, gap, 1), 0)
  pick = jax.random.uniform(key, exact.shape, exact.dtype) < jnp.abs(chance)
  return jnp.where(jnp.isfinite(exact) & pick & (residual != 0), other, near)


def apply_updates(params: Params, updates: Updates, *, key: jax.Array | None = None) -> Params:
  """Returns ``params + updates``, each leaf keeping its param's dtype.

  A ``None`` or ``float0`` update (a frozen integer param) leaves its param as it is.
  With ``key``, a float param narrower than its update or than float32 (bfloat16 or
  float16 params) gets the sum, computed in the wider dtype, rounded stochastically:
  to one of the two neighbouring values of its dtype, with probabilities that make the
  expected result the sum. Updates below half a unit in the last place then move the params on
  average instead of being lost, which pure bfloat16 training needs.

  Args:
    params: the params, a pytree of arrays (``None`` leaves stay ``None``).
    updates: the updates to add, shaped like ``params``.
    key: None (round to nearest, as optax does) or a PRNG key for stochastic
      rounding; split per leaf, so each step needs a fresh key.

  Returns:
    The new params, each leaf in its param's dtype.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> p, u = jnp.ones(10000, jnp.bfloat16), jnp.full(10000, 1e-3, jnp.float32)
    >>> float(jon.apply_updates(p, u).astype(jnp.float32).mean())  # below half an ulp: lost
    1.0
    >>> moved = jon.apply_updates(p, u, key=jax.random.key(0))
    >>> round(float(moved.astype(jnp.float32).mean()), 3)   # 1.001 on average
    1.001
  """
  leaves = jax.tree.leaves(params)
  keys = iter(jax.random.split(key, len(leaves))) if key is not None and leaves else None

  def add(p, u):
    if p is None:
      return None
    leaf_key = None if keys is None else next(keys)
    if u is None or jnp.result_type(u) == jax.dtypes.float0:
      return p
    p = jnp.asarray(p)
    if leaf_key is not None and jnp.issubdtype(p.dtype, jnp.floating):
      wide = jnp.promote_types(jnp.result_type(p, u), jnp.float32)
      if jnp.issubdtype(wide, jnp.floating) and jnp.finfo(wide).bits > jnp.finfo(p.dtype).bits:
        return _stochastic_round(p.astype(wide) + jnp.asarray(u).astype(wide), p.dtype, leaf_key)
    return (p + u).astype(p.dtype)

  _tree.check_match(updates, params)
  return jax.tree.map(add, params, updates, is_leaf=_tree.is_none)


def incremental_update(
  new_tensors: Params, old_tensors: Params, step_size: jax.typing.ArrayLike
) -> Params:
  """Polyak-style move towards new values: ``step_size * new + (1 - step_size) * old``.

  Args:
    new_tensors: the new values, a pytree.
    old_tensors: the old values, a pytree of the same structure.
    step_size: the weight of the new values, usually in [0, 1].
  """
  return jax.tree.map(
    lambda new, old: (
      None
      if new is None
      else (step_size * new + (1.0 - step_size) * old).astype(jnp.asarray(old).dtype)
    ),
    new_tensors,
    old_tensors,
    is_leaf=_tree.is_none,
  )


def periodic_update(
  new_tensors: Params,
  old_tensors: Params,
  steps: jax.typing.ArrayLike,
  update_period: jax.typing.ArrayLike,
) -> Params:
  """Returns ``new_tensors`` when ``steps`` is a multiple of ``update_period``, else the old.

  Args:
    new_tensors: the new values, a pytree.
    old_tensors: the old values, a pytree of the same structure.
    steps: the current step count (an int, possibly traced).
    update_period: the new values are returned every this many steps.
  """
  return _numerics.cond(
    jnp.mod(steps, update_period) == 0, lambda: new_tensors, lambda: old_tensors
  )
