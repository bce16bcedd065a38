"""Lookahead (Zhang et al., 2019): slow weights that follow the fast ones every k steps.

The fast weights $\\phi$ take ``sync_period`` steps of the inner
optimizer; then the slow weights move part of the way,
$\\theta \\leftarrow \\theta + \\alpha(\\phi - \\theta)$, and the fast
weights restart from them, $\\phi \\leftarrow \\theta$.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _placement, _tree, _validate
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  with_extra_args_support,
)


class LookaheadParams(NamedTuple):
  """Params for `lookahead`: the fast and the slow weights, same structure.

  Attributes:
    fast: the fast weights $\\phi$, which the inner optimizer steps.
    slow: the slow weights $\\theta$ (evaluate with these).
  """

  fast: Any
  slow: Any

  @classmethod
  def init_synced(cls, params: Any) -> "LookaheadParams":
    """Both copies equal to ``params``."""
    return cls(fast=params, slow=params)


class LookaheadState(NamedTuple):
  """State of `lookahead`: the fast optimizer's state and the steps since the last sync.

  Attributes:
    fast_state: the inner optimizer's state.
    steps_since_sync: int32 steps since the last synchronisation (0 right after one).
  """

  fast_state: Any  # the inner optimizer's state
  steps_since_sync: jax.Array  # int32, 0 right after a synchronisation


def lookahead(
  fast_optimizer: GradientTransformation,
  sync_period: int,
  slow_step_size: jax.typing.ArrayLike,
  reset_state: bool = False,
) -> GradientTransformationExtraArgs:
  """Wraps ``fast_optimizer`` in Lookahead; see the module docstring.

  Params are `LookaheadParams`; ``update`` takes the gradient at the
  fast weights (a tree shaped like ``params.fast``) and returns updates for
  both copies, as ``LookaheadParams``. Evaluate with ``params.slow``.
  ``reset_state`` re-initialises the inner state at each synchronisation.

  Args:
    fast_optimizer: the inner optimizer that steps the fast weights.
    sync_period: $k$, the number of fast steps between synchronisations (a positive int).
    slow_step_size: $\\alpha$, the fraction of the way the slow weights move towards the fast ones,
      in [0, 1].
    reset_state: re-initialise the inner state at each synchronisation.
  """
  _validate.check_positive_int("lookahead", "sync_period", sync_period)
  _validate.check("lookahead", slow_step_size=(slow_step_size, _validate.UNIT))
  inner = with_extra_args_support(fast_optimizer)

  def init_fn(params):
    fast = params.fast if isinstance(params, LookaheadParams) else params
    return LookaheadState(
      fast_state=inner.init(fast), steps_since_sync=_placement.zero_count(params)
    )

  def update_fn(updates, state, params=None, **extra_args):
    if not isinstance(params, LookaheadParams):
      raise TypeError(
        "lookahead: update needs the params as LookaheadParams(fast, slow); "
        "build them with LookaheadParams.init_synced(params)"
      )
    fast_updates, fast_state = inner.update(updates, state.fast_state, params.fast, **extra_args)
    sync = state.steps_since_sync + 1 >= sync_period
    fast = _tree.add(params.fast, fast_updates)
    moved_slow = _tree.map(lambda f, s: s + slow_step_size * (f - s), fast, params.slow)
    slow = _tree.where(sync, moved_slow, params.slow)
    fast = _tree.where(sync, moved_slow, fast)
    if reset_state:
      fresh = inner.init(slow)
      fast_state = jax.tree.map(lambda a, b: jnp.where(sync, a, b), fresh, fast_state)
    out = LookaheadParams(
      fast=_tree.cast_like(_tree.sub(fast, params.fast), params.fast),
      slow=_tree.cast_like(_tree.sub(slow, params.slow), params.slow),
    )
    return out, LookaheadState(
      fast_state=fast_state,
      steps_since_sync=jnp.where(sync, 0, state.steps_since_sync + 1).astype(jnp.int32),
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)
