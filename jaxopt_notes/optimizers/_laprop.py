"""LaProp (Ziyin, Wang & Ueda, 2020): momentum of the already normalised gradient.

Adam averages $g$ and divides by the root of the averaged $g^2$; LaProp
divides first and averages after, so the momentum and the adaptivity are
decoupled ($\\beta_1$ and $\\beta_2$ may be chosen freely):

$$
v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,\\qquad
m_t = \\beta_1 m_{t-1} + (1-\\beta_1)
      \\frac{g_t}{\\sqrt{v_t / (1-\\beta_2^t) + \\epsilon_{root}} + \\epsilon},
$$

$$
\\theta_t = \\theta_{t-1} - \\eta \\Big(\\frac{m_t}{1-\\beta_1^t} + \\lambda \\theta_{t-1}\\Big)
$$

The learning rate multiplies the debiased momentum (the authors' code folds
it into the average, which is the same for a constant rate).
"""

from typing import Any, NamedTuple

import jax

from jaxopt_notes import _moments, _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments, init_moments
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


@shared_args
class ScaleByLaPropState(NamedTuple):
  """State of `scale_by_laprop`.

  Attributes:
    mu: $m_t$, the momentum of the normalised gradient, shaped like params.
  """

  count: jax.Array
  mu: Any  # momentum of the normalised gradient, m_t
  nu: Any  # second moment v_t


@shared_args
def scale_by_laprop(
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-15,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """LaProp's direction $m_t / (1-\\beta_1^t)$; see `laprop`."""
  check_moments("scale_by_laprop", b1, b2, eps, eps_root)
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    return init_moments(ScaleByLaPropState, params, mu_dtype, nu_dtype)

  def update_fn(updates, state, params=None):
    del params
    count = _numerics.safe_increment(state.count)
    nu = _moments.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    nu_hat = _moments.bias_correction(nu, b2, count)
    normalised = _tree.map(lambda g, v: _numerics.rms_scale(g, v, eps, eps_root), updates, nu_hat)
    mu = _moments.update_moment(normalised, state.mu, b1, 1)
    out = _moments.bias_correction(mu, b1, count)
    return _tree.cast_like(out, updates), ScaleByLaPropState(
      count=count, mu=_tree.cast_like(mu, state.mu), nu=_tree.cast_like(nu, state.nu)
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args
def laprop(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-15,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  weight_decay: Float = 0.0,
  mask: Any = None,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """LaProp (module docstring); ``weight_decay`` is decoupled, as in AdamW.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.laprop(0.1)
    >>> updates, _ = opt.update(jnp.array([0.3, -2.0]), opt.init(jnp.zeros(2)))
    >>> [round(float(u), 4) for u in updates]   # the first step is -lr * sign(g)
    [-0.1, 0.1]

  Reference: Ziyin, Wang & Ueda, 2020, "LaProp: Separating Momentum and
  Adaptivity in Adam".
  """
  _validate.check(
    "laprop",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_laprop(b1, b2, eps, eps_root, mu_dtype, nu_dtype=nu_dtype),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )
