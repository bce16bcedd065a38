"""Small constraints on the updates: no NaNs, non-negative params, zero-mean gradients."""

from typing import Any, NamedTuple

import jax.numpy as jnp

from jaxopt_notes import _tree
from jaxopt_notes._base import EmptyState, GradientTransformation, init_empty_state
from jaxopt_notes.transforms._adding import NO_PARAMS

NonNegativeParamsState = EmptyState
"""State of `keep_params_nonnegative` (it keeps none): `EmptyState`, under optax's name."""


class ZeroNansState(NamedTuple):
  """State of `zero_nans`: per leaf, whether the last updates held a NaN.

  Attributes:
    found_nan: per leaf, a boolean: whether the last updates held a NaN.
  """

  found_nan: Any  # per leaf: whether the last updates held a NaN


def zero_nans() -> GradientTransformation:
  """Replaces NaN entries of the updates by 0 and records, per leaf, that it did."""

  def init_fn(params):
    return ZeroNansState(found_nan=_tree.map(lambda _: jnp.array(False), params))

  def update_fn(updates, state, params=None):
    del params
    found = _tree.map(lambda u: jnp.any(jnp.isnan(u)), updates)
    return _tree.map(
      lambda u: jnp.where(jnp.isnan(u), jnp.zeros_like(u), u), updates
    ), ZeroNansState(found_nan=found)

  return GradientTransformation(init_fn, update_fn)


def keep_params_nonnegative() -> GradientTransformation:
  """Shortens updates so that ``params + updates >= 0``: where the sum would be
  negative the update becomes ``-params`` (the param lands on 0)."""

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError(f"keep_params_nonnegative {NO_PARAMS}")
    return _tree.map(
      lambda u, p: jnp.where(p + u < 0, -p, u).astype(u.dtype), updates, params
    ), state

  return GradientTransformation(init_empty_state, update_fn)


def centralize() -> GradientTransformation:
  """Gradient centralization (Yong et al., 2020): from each leaf of rank > 1 subtract
  its mean over every axis but the first."""

  def one(u):
    if u.ndim <= 1:
      return u
    return u - jnp.mean(u, axis=tuple(range(1, u.ndim)), keepdims=True)

  def update_fn(updates, state, params=None):
    del params
    return _tree.map(one, updates), state

  return GradientTransformation(init_empty_state, update_fn)
