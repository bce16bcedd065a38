"""Accumulating the past: momentum traces and exponential moving averages."""

from typing import Any, NamedTuple

import jax

from jaxopt_notes import _moments, _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation
from jaxopt_notes._docargs import shared_args


class TraceState(NamedTuple):
  """State of `trace`: the momentum buffer.

  Attributes:
    trace: the momentum buffer $v_t$, shaped like params.
  """

  trace: Any  # the momentum buffer, one leaf per param


def trace(
  decay: jax.typing.ArrayLike, nesterov: bool = False, accumulator_dtype: Any = None
) -> GradientTransformation:
  """Heavy-ball momentum, optionally Nesterov's.

  $$
  v_t = g_t + \\beta v_{t-1},\\qquad
  u_t = v_t \\ (\\text{heavy ball}) \\quad\\text{or}\\quad u_t = g_t + \\beta v_t
  \\ (\\text{Nesterov})
  $$

  With ``scale(-lr)`` after it this is d2l's ``v <- beta v + g; x <- x - lr v``
  and the study notes' ``v_t = gamma v_{t-1} + eta g_t`` (the same path, since the
  learning rate is constant).

  Args:
    decay: $\\beta$, the decay of the momentum, in [0, 1].
    nesterov: return $g_t + \\beta v_t$ (Nesterov) instead of $v_t$ (heavy ball).
    accumulator_dtype: dtype in which the momentum buffer is stored; ``None`` keeps each param's
      dtype.
  """
  _validate.check("trace", decay=(decay, _validate.UNIT))
  accumulator_dtype = _tree.canonical_dtype(accumulator_dtype)

  def init_fn(params):
    return TraceState(trace=_tree.zeros_like(params, dtype=accumulator_dtype))

  def update_fn(updates, state, params=None):
    del params
    step = lambda g, v: g + decay * v  # noqa: E731
    new_trace = _tree.map(step, updates, state.trace)
    out = _tree.map(step, updates, new_trace) if nesterov else new_trace
    return (
      _tree.cast_like(out, updates),
      TraceState(trace=_tree.cast_like(new_trace, state.trace)),
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args
class EmaState(NamedTuple):
  """State of `ema`: the step count (for debiasing) and the moving average.

  Attributes:
    ema: the moving average $m_t$, shaped like params.
  """

  count: jax.Array  # int32 steps taken, for the debiasing
  ema: Any  # the moving average, one leaf per param


def ema(
  decay: jax.typing.ArrayLike, debias: bool = True, accumulator_dtype: Any = None
) -> GradientTransformation:
  """Exponential moving average of the updates, optionally debiased.

  $$
  m_t = \\beta m_{t-1} + (1-\\beta) u_t,\\qquad
  u_t \\leftarrow m_t / (1 - \\beta^t) \\ \\text{(debias)}
  $$

  Args:
    decay: $\\beta$, the decay of the moving average, in [0, 1].
    debias: divide by $1 - \\beta^t$, so that early averages are not biased towards the zero start.
    accumulator_dtype: dtype in which the moving average is stored; ``None`` keeps each param's
      dtype.
  """
  _validate.check("ema", decay=(decay, _validate.UNIT))
  accumulator_dtype = _tree.canonical_dtype(accumulator_dtype)

  def init_fn(params):
    return EmaState(
      count=_placement.zero_count(params), ema=_tree.zeros_like(params, dtype=accumulator_dtype)
    )

  def update_fn(updates, state, params=None):
    del params
    new_ema = _moments.update_moment(updates, state.ema, decay, 1)
    count = _numerics.safe_increment(state.count)
    out = _moments.bias_correction(new_ema, decay, count) if debias else new_ema
    return (
      _tree.cast_like(out, updates),
      EmaState(count=count, ema=_tree.cast_like(new_ema, state.ema)),
    )

  return GradientTransformation(init_fn, update_fn)
