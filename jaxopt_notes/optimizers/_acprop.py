"""ACProp (Zhuang et al., 2021): AdaBelief's centred second moment, used one step late.

The momentum and the centred second moment are updated as in AdaBelief, but
the step divides the *raw* gradient by the denominator known *before* it
arrived (the asynchronous update that makes the step size independent of
$g_t$):

$$
m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\qquad
s_t = \\beta_2 s_{t-1} + (1-\\beta_2)(g_t - m_t)^2 + \\epsilon_{root},
$$

$$
\\theta_t = \\theta_{t-1} - \\eta\\Big(\\frac{g_t}{\\sqrt{s_{t-1} / (1-\\beta_2^{t-1})} + \\epsilon}
            + \\lambda \\theta_{t-1}\\Big)
$$

At $t = 1$ nothing is known yet and the denominator is taken as 1, so the
first step is $g_1 / (1 + \\epsilon)$. The state is AdaBelief's
(`ScaleByBeliefState`), with $\\nu = s$.

optax 0.2.8 centres on the previous momentum, $(g_t - m_{t-1})^2$; we centre
on $m_t$ as the paper's algorithm (and AdaBelief) does.
"""

from typing import Any

import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments
from jaxopt_notes.optimizers._belief import scale_by_belief
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


@shared_args
def scale_by_acprop(
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-16,
  eps_root: Float = 1e-16,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """ACProp's direction $g_t / (\\sqrt{\\hat s_{t-1}} + \\epsilon)$; see `acprop`.

  Args:
    b2: $\\beta_2$, the decay of $s_t$, the moving average of $(g_t - m_t)^2$, in [0, 1].
    nu_dtype: dtype in which $s_t$ is stored; ``None`` keeps each param's dtype.
    eps_root: $\\epsilon_{root}$, added to the stored $s_t$ at every step (inside the square root),
      as in the paper's algorithm 2; >= 0.
  """
  check_moments("scale_by_acprop", b1, b2, eps, eps_root)
  # the moments are AdaBelief's: reuse its update and keep only the new state
  belief = scale_by_belief(b1, b2, eps, eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype)

  def update_fn(updates, state, params=None):
    del params
    _, new_state = belief.update(updates, state)
    first = state.count == 0
    earlier = jnp.maximum(state.count, 1)
    nu_hat = _tree.map(
      lambda s: jnp.where(first, jnp.ones_like(s), s),
      _moments.bias_correction(_moments.widened(state.nu, updates, nu_dtype), b2, earlier),
    )
    out = _tree.map(lambda g, v: _numerics.rms_scale(g, v, eps, 0.0), updates, nu_hat)
    return _tree.cast_like(out, updates), new_state

  return GradientTransformation(belief.init, update_fn)


@shared_args(like=scale_by_acprop)
def acprop(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-16,
  eps_root: Float = 1e-16,
  weight_decay: Float = 0.0,
  mask: Any = None,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """ACProp (module docstring); ``weight_decay`` is added to the step before the learning rate.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.acprop(0.1)
    >>> updates, _ = opt.update(jnp.array([0.5, -2.0]), opt.init(jnp.zeros(2)))
    >>> [round(float(u), 4) for u in updates]   # the first step is plain SGD
    [-0.05, 0.2]

  Reference: Zhuang, Ding, Tang, Dvornek, Tatikonda & Duncan, 2021, "Momentum
  Centering and Asynchronous Update for Adaptive Gradient Methods".
  """
  _validate.check(
    "acprop",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_acprop(b1, b2, eps, eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )
