"""``reduce_on_plateau``: scale the updates down when the loss stops improving."""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformationExtraArgs

_OPEN_UNIT = _validate.Range(0.0, 1.0, lo_closed=False, hi_closed=False)


class ReduceLROnPlateauState(NamedTuple):
  """State of `reduce_on_plateau`: the scale, the best loss, and the plateau and window counters.

  Attributes:
    scale: the factor applied to the updates now.
    best_value: the best window-averaged loss seen.
    plateau_count: int32 windows since the last improvement.
    cooldown_count: int32 windows left before plateaus are counted again.
    count: int32 losses accumulated in the current window.
    avg_value: the running mean of the current window's losses.
  """

  scale: jax.Array  # the factor applied to the updates now
  best_value: jax.Array  # the best window-averaged loss seen
  plateau_count: jax.Array  # windows since the last improvement (int32)
  cooldown_count: jax.Array  # windows left before counting again (int32)
  count: jax.Array  # losses accumulated in the current window (int32)
  avg_value: jax.Array  # their running mean


def reduce_on_plateau(
  factor: float = 0.1,
  patience: int = 10,
  rtol: float = 1e-4,
  atol: float = 0.0,
  cooldown: int = 0,
  accumulation_size: int = 1,
  min_scale: float = 0.0,
) -> GradientTransformationExtraArgs:
  """Multiplies the updates by a scale that drops by ``factor`` on a plateau.

  ``update(updates, state, params, value=loss)`` averages the losses of
  ``accumulation_size`` calls into one window value $\\bar f$. A window
  improves when $\\bar f < (1 - \\text{rtol})\\, f_{best} - \\text{atol}$;
  after ``patience`` windows in a row without improvement the scale becomes
  ``max(scale * factor, min_scale)`` (from that very step on), and the next
  ``cooldown`` windows are not counted. Put it after the optimizer in a
  `jaxopt_notes.chain`.

  Args:
    factor: the scale is multiplied by this on a plateau, in (0, 1).
    patience: the windows without improvement that make a plateau (a positive int).
    rtol: the relative improvement a window must make over the best.
    atol: the absolute improvement a window must make over the best.
    cooldown: the windows after a reduction that are not counted.
    accumulation_size: the number of losses averaged into one window (a positive int).
    min_scale: the smallest scale.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> tx = jon.reduce_on_plateau(factor=0.5, patience=1)
    >>> state = tx.init(jnp.zeros(1))
    >>> for loss in [1.0, 1.0]:
    ...   updates, state = tx.update(jnp.ones(1), state, value=loss)
    >>> float(state.scale)
    0.5
  """
  _validate.check(
    "reduce_on_plateau",
    factor=(factor, _OPEN_UNIT),
    rtol=(rtol, _validate.UNIT),
    atol=(atol, _validate.NONNEGATIVE),
    min_scale=(min_scale, _validate.NONNEGATIVE),
    cooldown=(cooldown, _validate.NONNEGATIVE),
  )
  _validate.check_positive_int("reduce_on_plateau", "patience", patience)
  _validate.check_positive_int("reduce_on_plateau", "accumulation_size", accumulation_size)
  if not isinstance(rtol, jax.core.Tracer) and not isinstance(atol, jax.core.Tracer):
    if rtol == 0 and atol == 0:
      raise ValueError("reduce_on_plateau: at least one of `rtol` and `atol` must be positive")

  def init_fn(params):
    real = jnp.result_type(float)
    zero = jnp.zeros([], jnp.int32)
    return _placement.replicate_like(
      ReduceLROnPlateauState(
        scale=jnp.ones([], real),
        best_value=jnp.full([], jnp.inf, real),
        plateau_count=zero,
        cooldown_count=zero,
        count=zero,
        avg_value=jnp.zeros([], real),
      ),
      params,
    )

  def end_of_window(state, mean):
    improved = mean < (1 - rtol) * state.best_value - atol
    best = jnp.where(improved, mean, state.best_value)
    waiting = jnp.where(improved, 0, _numerics.safe_increment(state.plateau_count))
    cooling = state.cooldown_count > 0
    drop = ~cooling & (waiting == patience)
    scale = jnp.where(drop, jnp.maximum(state.scale * factor, min_scale), state.scale)
    return ReduceLROnPlateauState(
      scale=scale.astype(state.scale.dtype),
      best_value=best,
      plateau_count=jnp.where(cooling | drop, 0, waiting).astype(jnp.int32),
      cooldown_count=jnp.where(
        cooling, state.cooldown_count - 1, jnp.where(drop, cooldown, 0)
      ).astype(jnp.int32),
      count=jnp.zeros([], jnp.int32),
      avg_value=jnp.zeros_like(state.avg_value),
    )

  def update_fn(updates, state, params=None, *, value=None, **extra_args):
    del params, extra_args
    if value is None:
      raise ValueError(
        "reduce_on_plateau needs the loss: call update(updates, state, params, value=loss)"
      )
    count = _numerics.safe_increment(state.count)
    mean = (state.count * state.avg_value + jnp.asarray(value, state.avg_value.dtype)) / count
    ongoing = state._replace(count=count, avg_value=mean.astype(state.avg_value.dtype))
    closed = end_of_window(ongoing, mean.astype(state.avg_value.dtype))
    state = jax.tree.map(lambda a, b: jnp.where(count >= accumulation_size, a, b), closed, ongoing)
    return _tree.map(lambda u: (state.scale * u).astype(u.dtype), updates), state

  return GradientTransformationExtraArgs(init_fn, update_fn)
