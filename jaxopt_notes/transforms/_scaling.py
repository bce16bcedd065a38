"""Scaling by a constant, a learning rate or a schedule."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import (
  EmptyState,
  GradientTransformation,
  ScalarOrSchedule,
  Schedule,
  identity,
  init_empty_state,
)
from jaxopt_notes.transforms._adding import NO_PARAMS
from jaxopt_notes._docargs import shared_args

ScaleState = EmptyState
"""State of `scale` (it keeps none): `EmptyState`, under optax's name."""


def _times(step_size, updates):
  """``step_size * u`` for each leaf, keeping the leaf's dtype."""
  return _tree.map(lambda u: jnp.asarray(step_size, dtype=u.dtype) * u, updates)


def scale(step_size: jax.typing.ArrayLike) -> GradientTransformation:
  """Multiplies every update by ``step_size``: ``u <- step_size * u``.

  Args:
    step_size: the factor, a number or a (traced) array.
  """
  _validate.check("scale", step_size=(step_size, _validate.FINITE))

  def update_fn(updates, state, params=None):
    del params
    return _times(step_size, updates), state

  return GradientTransformation(init_empty_state, update_fn)


@shared_args
class ScaleByScheduleState(NamedTuple):
  """State of `scale_by_schedule`: the step count fed to the schedule."""

  count: jax.Array  # int32 number of updates made so far, saturating


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformation:
  """Multiplies the updates of step ``t`` (counted from 0) by ``step_size_fn(t)``.

  Args:
    step_size_fn: a schedule: the int32 step count (from 0) to the factor of that step.
  """
  if not callable(step_size_fn):
    raise TypeError(
      f"scale_by_schedule: argument `step_size_fn` must be a callable "
      f"of the step count, got {step_size_fn!r}"
    )

  def init_fn(params):
    return ScaleByScheduleState(count=_placement.zero_count(params))

  def update_fn(updates, state, params=None):
    del params
    updates = _times(step_size_fn(state.count), updates)
    return updates, ScaleByScheduleState(count=_numerics.safe_increment(state.count))

  return GradientTransformation(init_fn, update_fn)


def scale_by_learning_rate(
  learning_rate: ScalarOrSchedule | None = None, *, flip_sign: bool = True
) -> GradientTransformation:
  """Scales by ``-learning_rate`` (or ``+learning_rate`` with ``flip_sign=False``).

  A callable ``learning_rate`` is a schedule of the step count; ``None`` gives
  `identity`.

  Args:
    learning_rate: a number, a traced array or a schedule of the step count; ``None`` for no
      scaling.
    flip_sign: multiply by ``-learning_rate`` (descent); False multiplies by ``+learning_rate``.
  """
  if learning_rate is None:
    return identity()
  _validate.check("scale_by_learning_rate", learning_rate=(learning_rate, _validate.FINITE))
  sign = -1 if flip_sign else 1
  if callable(learning_rate):
    return scale_by_schedule(lambda count: sign * learning_rate(count))
  return scale(sign * learning_rate)


def _by_param_block(owner: str, measure, min_scale) -> GradientTransformation:
  """Multiplies each leaf's update by ``measure(param, min_scale)``."""
  _validate.check(owner, min_scale=(min_scale, _validate.NONNEGATIVE))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError(f"{owner} {NO_PARAMS}")
    return _tree.map(
      lambda u, p: (u * measure(p, min_scale).astype(u.dtype)).astype(u.dtype), updates, params
    ), state

  return GradientTransformation(init_empty_state, update_fn)


def scale_by_param_block_norm(min_scale: jax.typing.ArrayLike = 1e-3) -> GradientTransformation:
  """Multiplies each leaf's update by its param's l2 norm, at least ``min_scale``.

  $$
  u \\leftarrow u \\cdot \\max(\\|\\theta\\|_2, \\text{min\\_scale})
  $$

  A step relative to the size of the param block it moves.

  Args:
    min_scale: the smallest factor, so that zero params still move; >= 0.
  """
  return _by_param_block("scale_by_param_block_norm", _numerics.safe_norm, min_scale)


def scale_by_param_block_rms(min_scale: jax.typing.ArrayLike = 1e-3) -> GradientTransformation:
  """Multiplies each leaf's update by its param's root mean square, at least ``min_scale``.

  $$
  u \\leftarrow u \\cdot \\max(\\operatorname{rms}(\\theta), \\text{min\\_scale})
  $$

  Adafactor's parameter-scale multiplication (the paper's $\\epsilon_2$ is
  ``min_scale``); see `adafactor`.

  Args:
    min_scale: the smallest factor, so that zero params still move; >= 0.
  """
  return _by_param_block("scale_by_param_block_rms", _numerics.safe_rms, min_scale)


def normalize_by_update_norm(
  scale_factor: jax.typing.ArrayLike = 1.0, eps: jax.typing.ArrayLike = 1e-6
) -> GradientTransformation:
  """Divides all updates by their global l2 norm (plus ``eps``), times ``scale_factor``.

  $$
  u \\leftarrow \\text{scale\\_factor}\\cdot\\frac{u}{\\|u\\|_2 + \\epsilon}
  $$

  Normalized gradient descent: the step length is set by the learning rate
  alone, its direction by the gradient.

  Args:
    scale_factor: multiplies the normalised updates.
    eps: added to the global norm in the denominator; >= 0.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> tx = jon.normalize_by_update_norm()
    >>> u, _ = tx.update({'w': jnp.array([3.0, 4.0])}, tx.init(None))
    >>> [round(float(x), 4) for x in u['w']]
    [0.6, 0.8]
  """
  _validate.check(
    "normalize_by_update_norm",
    scale_factor=(scale_factor, _validate.FINITE),
    eps=(eps, _validate.NONNEGATIVE),
  )

  def update_fn(updates, state, params=None):
    del params
    factor = scale_factor / (_tree.norm(updates) + eps)
    return _tree.map(lambda u: (u * factor.astype(u.dtype)).astype(u.dtype), updates), state

  return GradientTransformation(init_empty_state, update_fn)


@jax.custom_vjp
def _scaled_backward(inputs, factor):
  return inputs


def _scaled_backward_fwd(inputs, factor):
  return inputs, factor


def _scaled_backward_bwd(factor, cotangent):
  scaled = jax.tree.map(lambda c: (c * factor).astype(c.dtype), cotangent)
  return scaled, jnp.zeros_like(factor)


_scaled_backward.defvjp(_scaled_backward_fwd, _scaled_backward_bwd)


def scale_gradient(inputs: Any, scale: jax.typing.ArrayLike) -> Any:
  """Returns ``inputs`` unchanged, but scales the gradient flowing back through them.

  The forward value is ``inputs``; in ``jax.grad`` the cotangent reaching
  ``inputs`` is multiplied by ``scale`` (``0`` stops it, as
  ``jax.lax.stop_gradient``). Not a transform: it is used inside a loss, e.g.
  to slow the learning of one branch of a model. ``scale`` may be traced; the
  gradient with respect to ``scale`` itself is zero.

  Args:
    inputs: any pytree of arrays, returned as it is.
    scale: the factor of the gradient flowing back (0 stops it).

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> float(jax.grad(lambda x: jon.scale_gradient(x, 0.5) ** 2)(3.0))
    3.0
  """
  if isinstance(scale, (int, float)) and not isinstance(scale, bool):
    if scale == 1:
      return inputs
    if scale == 0:
      return jax.lax.stop_gradient(inputs)
  return _scaled_backward(inputs, jnp.asarray(scale))
