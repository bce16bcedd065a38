"""Clipping: elementwise, by global norm, by per-leaf RMS."""

import jax
import jax.numpy as jnp

from jaxopt_notes import _tree, _validate
from jaxopt_notes._base import GradientTransformation, init_empty_state


def clip(max_delta: jax.typing.ArrayLike) -> GradientTransformation:
  """Clips each element of the updates to ``[-max_delta, max_delta]``."""
  _validate.check("clip", max_delta=(max_delta, _validate.NONNEGATIVE))

  def update_fn(updates, state, params=None):
    del params
    return _tree._map(lambda u: jnp.clip(u, -max_delta, max_delta).astype(u.dtype),
                      updates), state
  return GradientTransformation(init_empty_state, update_fn)


def clip_by_global_norm(max_norm: jax.typing.ArrayLike) -> GradientTransformation:
  """Rescales all updates together so that their global l2 norm is at most ``max_norm``.

  $$
  u \\leftarrow u \\cdot \\min(1, \\text{max\\_norm} / \\|u\\|_2)
  $$
  """
  _validate.check("clip_by_global_norm", max_norm=(max_norm, _validate.NONNEGATIVE))

  def update_fn(updates, state, params=None):
    del params
    g_norm = _tree.norm(updates)
    keep = g_norm < max_norm
    # Divide first, then multiply, so a huge norm cannot overflow the product.
    updates = _tree._map(
        lambda u: jnp.where(keep, u, (u / g_norm.astype(u.dtype)) * max_norm).astype(u.dtype),
        updates)
    return updates, state
  return GradientTransformation(init_empty_state, update_fn)


def clip_by_block_rms(threshold: jax.typing.ArrayLike) -> GradientTransformation:
  """Rescales each leaf whose root-mean-square exceeds ``threshold`` down to it."""
  _validate.check("clip_by_block_rms", threshold=(threshold, _validate.POSITIVE))

  def update_fn(updates, state, params=None):
    del params

    def one(u):
      rms = jnp.sqrt(jnp.mean(jnp.square(jnp.abs(u))))
      return (u / jnp.maximum(1.0, rms / threshold)).astype(u.dtype)
    return _tree._map(one, updates), state
  return GradientTransformation(init_empty_state, update_fn)
