"""AdaBelief (Zhuang et al., 2020): Adam scaled by the belief in the gradient.

$$
s_t = \\beta_2 s_{t-1} + (1-\\beta_2)(g_t - m_t)^2 + \\epsilon_{root},\\qquad
\\theta_t = \\theta_{t-1} - \\eta\\,\\frac{\\hat m_t}{\\sqrt{\\hat s_t} + \\epsilon}
$$

($\\epsilon_{root}$ is added to the stored $s_t$ each step, as in
the paper's Algorithm 2.)
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments, debiased_first_moment, init_moments
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


@shared_args
class ScaleByBeliefState(NamedTuple):
  """State of `scale_by_belief`: the first moment and the EMA of (g - m)^2.

  Attributes:
    nu: $s_t$, the moving average of $(g_t - m_t)^2$ (plus $\\epsilon_{root}$ each step), shaped
      like params.
  """

  count: jax.Array
  mu: Any
  nu: Any  # s_t, the EMA of (g - m)^2


@shared_args
def scale_by_belief(
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-16,
  eps_root: Float = 1e-16,
  nesterov: bool = False,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """AdaBelief's direction; see `adabelief`.

  Args:
    b2: $\\beta_2$, the decay of $s_t$, the moving average of $(g_t - m_t)^2$, in [0, 1].
    eps_root: $\\epsilon_{root}$, added to the stored $s_t$ at every step (inside the square root),
      as in the paper's algorithm 2; >= 0.
    nu_dtype: dtype in which $s_t$ is stored; ``None`` keeps each param's dtype.
  """
  check_moments("scale_by_belief", b1, b2, eps, eps_root)
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    return init_moments(ScaleByBeliefState, params, mu_dtype, nu_dtype)

  def update_fn(updates, state, params=None):
    del params
    mu = _moments.update_moment(updates, state.mu, b1, 1)
    surprise = _tree.sub(updates, mu)
    nu = _tree.map(
      lambda s, n: jnp.real((1 - b2) * s * jnp.conj(s)) + b2 * n + eps_root, surprise, state.nu
    )  # |s|^2, real also for complex s
    count = _numerics.safe_increment(state.count)
    mu_hat = debiased_first_moment(mu, updates, b1, count, nesterov)
    nu_hat = _moments.bias_correction(nu, b2, count)
    out = _tree.map(lambda m, v: _numerics.rms_scale(m, v, eps, 0.0), mu_hat, nu_hat)
    return _tree.cast_like(out, updates), ScaleByBeliefState(
      count=count, mu=_tree.cast_like(mu, state.mu), nu=_tree.cast_like(nu, state.nu)
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args
def adabelief(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-16,
  eps_root: Float = 1e-16,
  nesterov: bool = False,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """AdaBelief (module docstring). Reference: Zhuang et al., 2020, "AdaBelief
  Optimizer: Adapting Stepsizes by the Belief in Observed Gradients".

  Args:
    b2: $\\beta_2$, the decay of $s_t$, the moving average of $(g_t - m_t)^2$, in [0, 1].
    eps_root: $\\epsilon_{root}$, added to the stored $s_t$ at every step (inside the square root),
      as in the paper's algorithm 2; >= 0.
  """
  _validate.check("adabelief", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    scale_by_belief(b1, b2, eps, eps_root, nesterov, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
    scale_by_learning_rate(learning_rate),
  )
