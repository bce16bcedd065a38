"""Adan (Xie et al., 2022): Nesterov momentum through a moment of gradient differences.

With $\\Delta_t = g_t - g_{t-1}$ ($\\Delta_1 = 0$):

$$
m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\qquad
v_t = \\beta_2 v_{t-1} + (1-\\beta_2) \\Delta_t,
$$

$$
n_t = \\beta_3 n_{t-1} + (1-\\beta_3) \\big(g_t + (1-\\beta_2)\\Delta_t\\big)^2,
$$

$$
\\theta_t = \\theta_{t-1} - \\eta\\left(
\\frac{\\hat m_t + (1-\\beta_2)\\hat v_t}{\\sqrt{\\hat n_t + \\epsilon_{root}} + \\epsilon}
+ \\lambda\\theta_{t-1}\\right)
$$

with every moment bias-corrected ($\\hat x_t = x_t / (1-\\beta^t)$). The
$\\beta$s weigh the past, as in Adam (the paper writes $1-\\beta$). Weight decay
is decoupled and added before the learning rate (the paper divides by
$1+\\lambda\\eta$ instead; the two agree to first order in $\\lambda\\eta$).
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


class ScaleByAdanState(NamedTuple):
  """State of `scale_by_adan`: the three moments, the last gradient, the step count.

  Attributes:
    m: $m_t$, the moving average of the gradient.
    v: $v_t$, the moving average of the gradient differences.
    n: $n_t$, the second moment of $g_t + (1-\\beta_2)\\Delta_t$.
    g: the previous gradient $g_{t-1}$ (zeros before the first step).
    t: int32 number of updates taken, saturating.
  """

  m: Any  # m_t
  v: Any  # v_t, moment of gradient differences
  n: Any  # n_t, second moment
  g: Any  # g_{t-1}
  t: jax.Array  # int32 steps taken, saturating


@shared_args
def scale_by_adan(
  b1: Float = 0.98,
  b2: Float = 0.92,
  b3: Float = 0.99,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Adan's direction; see `adan`.

  Args:
    b2: decay rate of $v_t$, the moving average of the gradient differences $g_t - g_{t-1}$, in
      [0, 1].
    b3: decay rate of $n_t$, the moving average of $(g_t + (1-\\beta_2)\\Delta_t)^2$, in [0, 1].
    mu_dtype: dtype in which $m_t$ and $v_t$ are stored; ``None`` keeps each param's dtype.
    nu_dtype: the same for $n_t$.
  """
  check_moments("scale_by_adan", b1, b2, eps, eps_root, b3=(b3, _validate.UNIT))

  def init_fn(params):
    zeros = lambda dtype=None: _tree.zeros_like(params, _tree.canonical_dtype(dtype))  # noqa: E731
    return ScaleByAdanState(
      m=zeros(mu_dtype),
      v=zeros(mu_dtype),
      n=zeros(nu_dtype),
      g=zeros(),
      t=_placement.zero_count(params),
    )

  def update_fn(updates, state, params=None):
    del params
    first = state.t == 0
    diff = _tree.map(
      lambda g, prev: jnp.where(first, 0, g - prev).astype(g.dtype), updates, state.g
    )
    m = _moments.update_moment(updates, state.m, b1, 1)
    v = _moments.update_moment(diff, state.v, b2, 1)
    n = _moments.update_moment_per_elem_norm(_tree.add_scale(updates, 1 - b2, diff), state.n, b3, 2)
    t = _numerics.safe_increment(state.t)
    m_hat, v_hat, n_hat = (
      _moments.bias_correction(x, b, t) for x, b in ((m, b1), (v, b2), (n, b3))
    )
    out = _tree.map(
      lambda a, b, c: _numerics.rms_scale(a + (1 - b2) * b, c, eps, eps_root), m_hat, v_hat, n_hat
    )
    like = lambda x, s: _tree.cast_like(x, s)  # noqa: E731
    return _tree.cast_like(out, updates), ScaleByAdanState(
      m=like(m, state.m), v=like(v, state.v), n=like(n, state.n), g=like(updates, state.g), t=t
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_adan)
def adan(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.98,
  b2: Float = 0.92,
  b3: Float = 0.99,
  eps: Float = 1e-8,
  eps_root: Float = 1e-8,
  weight_decay: ScalarOrSchedule = 0.0,
  mask: Any = None,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Adan (module docstring); ``mask`` limits the weight decay to selected leaves.

  Reference: Xie, Zhou, Li, Lin & Yan, 2022, "Adan: Adaptive Nesterov Momentum
  Algorithm for Faster Optimizing Deep Models".
  """
  _validate.check(
    "adan",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_adan(b1, b2, b3, eps, eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )
