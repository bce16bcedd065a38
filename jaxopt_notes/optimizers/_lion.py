"""Lion (Chen et al., 2023): the sign of an interpolated momentum.

$$
u_t = \\operatorname{sign}(\\beta_1 m_{t-1} + (1-\\beta_1) g_t),\\qquad
m_t = \\beta_2 m_{t-1} + (1-\\beta_2) g_t,\\qquad
\\theta_t = \\theta_{t-1} - \\eta (u_t + \\lambda\\theta_{t-1})
$$

``mode='smooth'`` replaces the sign by $\\tanh(\\text{smooth\\_beta}\\cdot x)$
and ``mode='refined'`` keeps $x$ where $|x| < 1$.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args

_SIGNS = {
  "hard": lambda x, beta: jnp.sign(x),
  "smooth": lambda x, beta: jnp.tanh(beta * x),
  "refined": lambda x, beta: jnp.where(jnp.abs(x) < 1, x, jnp.sign(x)),
}


@shared_args
class ScaleByLionState(NamedTuple):
  """State of `scale_by_lion`: the step count and the momentum.

  Attributes:
    mu: the momentum $m_t$, shaped like params.
  """

  count: jax.Array
  mu: Any  # m_t


def scale_by_lion(
  b1: Float = 0.9,
  b2: Float = 0.99,
  mu_dtype: Any = None,
  mode: str = "hard",
  smooth_beta: Float = 1.0,
) -> GradientTransformation:
  """Lion's direction; see `lion`.

  Args:
    b1: interpolation weight of the momentum in the direction $\\operatorname{sign}(\\beta_1 m_{t-1}
      + (1-\\beta_1) g_t)$, in [0, 1].
    b2: decay rate of the momentum $m_t = \\beta_2 m_{t-1} + (1-\\beta_2) g_t$, in [0, 1].
    mu_dtype: dtype in which the momentum is stored, e.g. ``jnp.bfloat16``; ``None`` keeps each
      param's dtype.
    mode: how the interpolated momentum $x$ becomes a step: ``'hard'`` (its sign, the paper),
      ``'smooth'`` ($\\tanh(\\text{smooth\\_beta}\\, x)$) or ``'refined'`` ($x$ where $|x| < 1$, its
      sign elsewhere).
    smooth_beta: the slope of ``mode='smooth'``; unused otherwise.
  """
  check_moments("scale_by_lion", b1, b2)
  _validate.check_choice("scale_by_lion", "mode", mode, tuple(_SIGNS))
  sign = _SIGNS[mode]
  mu_dtype = _tree.canonical_dtype(mu_dtype)

  def init_fn(params):
    return ScaleByLionState(
      count=_placement.zero_count(params), mu=_tree.zeros_like(params, dtype=mu_dtype)
    )

  def update_fn(updates, state, params=None):
    del params
    out = _tree.map(lambda g, m: sign((1 - b1) * g + b1 * m, smooth_beta), updates, state.mu)
    mu = _moments.update_moment(updates, state.mu, b2, 1)
    return _tree.cast_like(out, updates), ScaleByLionState(
      count=_numerics.safe_increment(state.count), mu=_tree.cast_like(mu, state.mu)
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_lion)
def lion(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.99,
  mu_dtype: Any = None,
  weight_decay: Float = 1e-3,
  mask: Any = None,
) -> GradientTransformation:
  """Lion (module docstring). Reference: Chen et al., 2023, "Symbolic Discovery
  of Optimization Algorithms".
  """
  _validate.check(
    "lion",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_lion(b1, b2, mu_dtype),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )
