"""NovoGrad (Ginsburg et al., 2019): Adam-like with one second moment per layer.

For each leaf (layer) $l$, with $v$ a scalar:

$$
v^l_t = \\beta_2 v^l_{t-1} + (1-\\beta_2)\\|g^l_t\\|^2,\\qquad
m^l_t = \\beta_1 m^l_{t-1} + \\frac{g^l_t}{\\sqrt{v^l_t + \\epsilon_{root}} + \\epsilon}
        + \\lambda\\,\\theta^l_{t-1},\\qquad
\\theta_t = \\theta_{t-1} - \\eta\\, m_t
$$

started at $v^l_1 = \\|g^l_1\\|^2$ and $m_0 = 0$ (no bias correction). The
second-moment state is one number per layer, not one per weight.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments
from jaxopt_notes.transforms._adding import NO_PARAMS
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


@shared_args
class ScaleByNovogradState(NamedTuple):
  """State of `scale_by_novograd`: the step count, the momentum, one $v$ per leaf.

  Attributes:
    mu: $m_t$, the momentum, shaped like params.
    nu: $v^l_t$, one scalar per leaf.
  """

  count: jax.Array
  mu: Any  # m_t, like the params
  nu: Any  # v_t, a scalar per leaf


def _sq_norm(g: jax.Array) -> jax.Array:
  return jnp.sum(jnp.square(jnp.abs(g)))


@shared_args
def scale_by_novograd(
  b1: Float = 0.9,
  b2: Float = 0.25,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  weight_decay: ScalarOrSchedule = 0.0,
  mu_dtype: Any = None,
) -> GradientTransformation:
  """NovoGrad's momentum $m_t$; see `novograd`. ``weight_decay`` may be a schedule.

  Args:
    b1: $\\beta_1$, the discount of the momentum $m_t = \\beta_1 m_{t-1} + (\\text{normalised }
      g_t)$ (no $1-\\beta_1$ factor), in [0, 1].
    b2: $\\beta_2$, the decay of the per-layer second moment $v^l_t$ of $\\|g^l_t\\|^2$, in [0, 1].
    eps: added outside the square root of $v^l_t$; >= 0.
    eps_root: added inside the square root of $v^l_t$; >= 0.
    weight_decay: coefficient of ``weight_decay * params``, added to the normalised gradient before
      the momentum (a number or a schedule of the step); 0 turns it off.
  """
  check_moments(
    "scale_by_novograd", b1, b2, eps, eps_root, weight_decay=(weight_decay, _validate.FINITE)
  )
  mu_dtype = _tree.canonical_dtype(mu_dtype)

  def init_fn(params):
    nu = jax.tree.map(
      lambda p: None if p is None or _tree.is_frozen(p) else jnp.zeros([], jnp.result_type(p)),
      params,
      is_leaf=_tree.is_none,
    )
    return ScaleByNovogradState(
      count=_placement.zero_count(params),
      mu=_tree.zeros_like(params, dtype=mu_dtype),
      nu=_placement.replicate_like(nu, params),
    )

  def update_fn(updates, state, params=None):
    decay = weight_decay(state.count) if callable(weight_decay) else weight_decay
    no_decay = _numerics.is_concrete(weight_decay) and weight_decay == 0
    if params is None and not no_decay:
      raise ValueError(f"scale_by_novograd {NO_PARAMS}")
    _tree.check_match(updates, state.mu)
    first = state.count == 0
    nu = _tree.map(
      lambda g, v: jnp.where(first, _sq_norm(g), b2 * v + (1 - b2) * _sq_norm(g)),
      updates,
      state.nu,
      broadcast=True,
    )

    def momentum(g, m, v, p=None):
      step = _numerics.rms_scale(g, v, eps, eps_root)
      if p is not None:
        step = step + decay * p
      return b1 * m + step  # m is 0 at the first step

    mu = (
      _tree.map(momentum, updates, state.mu, nu, broadcast=True)
      if no_decay
      else _tree.map(momentum, updates, state.mu, nu, params, broadcast=True)
    )
    mu = _tree.cast_like(mu, state.mu)
    return _tree.cast_like(mu, updates), ScaleByNovogradState(
      count=_numerics.safe_increment(state.count), mu=mu, nu=_tree.cast_like(nu, state.nu)
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_novograd)
def novograd(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.25,
  eps: Float = 1e-6,
  eps_root: Float = 0.0,
  weight_decay: ScalarOrSchedule = 0.0,
  *,
  mu_dtype: Any = None,
) -> GradientTransformation:
  """NovoGrad (module docstring).

  Reference: Ginsburg et al., 2019, "Stochastic Gradient Methods with
  Layer-wise Adaptive Moments for Training of Deep Networks".
  """
  _validate.check("novograd", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    scale_by_novograd(b1, b2, eps, eps_root, weight_decay, mu_dtype),
    scale_by_learning_rate(learning_rate),
  )
