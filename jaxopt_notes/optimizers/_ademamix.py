"""AdEMAMix (Pagliardini, Ablin & Grangier, 2024): Adam plus a slow, long-memory momentum.

$$
m^{(1)}_t = \\beta_1 m^{(1)}_{t-1} + (1-\\beta_1) g_t,\\quad
m^{(2)}_t = \\beta_3 m^{(2)}_{t-1} + (1-\\beta_3) g_t,\\quad
v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,
$$

$$
\\theta_t = \\theta_{t-1} - \\eta\\Big(
  \\frac{\\hat m^{(1)}_t + \\alpha\\, m^{(2)}_t}{\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon}
  + \\lambda \\theta_{t-1}\\Big)
$$

with $\\hat m^{(1)}_t$, $\\hat v_t$ debiased as in Adam and the slow EMA
$m^{(2)}$ not debiased. ``b3`` and ``alpha`` may be schedules of the step
(the paper warms both up), evaluated at ``count_m2``.

Simplified AdEMAMix (Morwani et al., 2024) keeps one momentum that sums,
rather than averages, the gradients, and adds the current gradient with
weight $\\alpha$:

$$
m_t = \\beta_1 m_{t-1} + g_t,\\qquad
\\theta_t = \\theta_{t-1} - \\eta\\Big(
  \\frac{\\alpha g_t + m_t}{\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon}
  + \\lambda\\theta_{t-1}\\Big)
$$
"""

from typing import Any, NamedTuple

import jax

from jaxopt_notes import _moments, _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


@shared_args
class ScaleByAdemamixState(NamedTuple):
  """State of `scale_by_ademamix`.

  Attributes:
    count_m2: int32 step at which the ``b3`` and ``alpha`` schedules are read.
    m1: $m^{(1)}_t$, the fast moving average of the gradient.
    m2: $m^{(2)}_t$, the slow moving average of the gradient.
  """

  count: jax.Array
  count_m2: jax.Array  # the step at which the b3 and alpha schedules are read
  m1: Any  # fast EMA of g
  m2: Any  # slow EMA of g
  nu: Any  # EMA of g^2


class ScaleBySimplifiedAdEMAMixState(NamedTuple):
  """State of `scale_by_simplified_ademamix`.

  Attributes:
    t: int32 number of updates taken, saturating.
    m: $m_t$, the discounted sum of the gradients.
    n: the moving average of the squared gradient.
  """

  t: jax.Array
  m: Any  # the discounted sum of gradients
  n: Any  # EMA of g^2


def _value(x: Any, count: jax.Array) -> Any:
  return x(count) if callable(x) else x


def _adaptive(num: Any, nu: Any, b2: Float, count: jax.Array, eps: Float, eps_root: Float) -> Any:
  """``num / (sqrt(v_hat + eps_root) + eps)`` with Adam's debiased ``v``."""
  nu_hat = _moments.bias_correction(nu, b2, count)
  return _tree.map(lambda a, v: _numerics.rms_scale(a, v, eps, eps_root), num, nu_hat)


@shared_args
def scale_by_ademamix(
  b1: Float = 0.9,
  b2: Float = 0.999,
  b3: ScalarOrSchedule = 0.9999,
  alpha: ScalarOrSchedule = 6.0,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """AdEMAMix's direction; see `ademamix`.

  Args:
    b1: decay rate $\\beta_1$ of the fast moving average $m^{(1)}$, in [0, 1].
    b3: decay rate $\\beta_3$ of the slow moving average $m^{(2)}$, in [0, 1], or a schedule of the
      step returning it (the paper warms it up).
    alpha: weight $\\alpha$ of the slow moving average in the numerator, or a schedule of the step
      returning it.
  """
  check_moments(
    "scale_by_ademamix",
    b1,
    b2,
    eps,
    eps_root,
    b3=(b3, _validate.UNIT),
    alpha=(alpha, _validate.FINITE),
  )
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    count = _placement.zero_count(params)
    return ScaleByAdemamixState(
      count=count,
      count_m2=count,
      m1=_tree.zeros_like(params, dtype=mu_dtype),
      m2=_tree.zeros_like(params, dtype=mu_dtype),
      nu=_tree.zeros_like(params, dtype=nu_dtype),
    )

  def update_fn(updates, state, params=None):
    del params
    b3_now, alpha_now = _value(b3, state.count_m2), _value(alpha, state.count_m2)
    m1 = _moments.update_moment(updates, state.m1, b1, 1)
    m2 = _moments.update_moment(updates, state.m2, b3_now, 1)
    nu = _moments.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    count = _numerics.safe_increment(state.count)
    num = _tree.add_scale(_moments.bias_correction(m1, b1, count), alpha_now, m2)
    out = _adaptive(num, nu, b2, count, eps, eps_root)
    return _tree.cast_like(out, updates), ScaleByAdemamixState(
      count=count,
      count_m2=_numerics.safe_increment(state.count_m2),
      m1=_tree.cast_like(m1, state.m1),
      m2=_tree.cast_like(m2, state.m2),
      nu=_tree.cast_like(nu, state.nu),
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_ademamix)
def ademamix(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  b3: ScalarOrSchedule = 0.9999,
  alpha: ScalarOrSchedule = 5.0,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  weight_decay: Float = 0.0,
  mask: Any = None,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """AdEMAMix (module docstring).

  Reference: Pagliardini, Ablin & Grangier, 2024, "The AdEMAMix Optimizer:
  Better, Faster, Older".
  """
  _validate.check(
    "ademamix",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_ademamix(b1, b2, b3, alpha, eps, eps_root, mu_dtype, nu_dtype=nu_dtype),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )


@shared_args
def scale_by_simplified_ademamix(
  b1: Float = 0.99,
  b2: Float = 0.95,
  alpha: ScalarOrSchedule = 0.0,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Simplified AdEMAMix's direction; see `simplified_ademamix`.

  Args:
    b1: discount $\\beta_1$ of the momentum $m_t = \\beta_1 m_{t-1} + g_t$ (a sum, not an average),
      in [0, 1].
    alpha: weight $\\alpha$ of the current gradient added to the momentum, or a schedule of the step
      returning it; 0 gives Adam-like steps with a summed momentum.
  """
  check_moments(
    "scale_by_simplified_ademamix", b1, b2, eps, eps_root, alpha=(alpha, _validate.FINITE)
  )
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    return ScaleBySimplifiedAdEMAMixState(
      t=_placement.zero_count(params),
      m=_tree.zeros_like(params, mu_dtype),
      n=_tree.zeros_like(params, nu_dtype),
    )

  def update_fn(updates, state, params=None):
    del params
    alpha_now = _value(alpha, state.t)
    m = _tree.map(lambda g, mi: g + b1 * mi, updates, state.m)
    n = _moments.update_moment_per_elem_norm(updates, state.n, b2, 2)
    t = _numerics.safe_increment(state.t)
    out = _adaptive(_tree.add_scale(m, alpha_now, updates), n, b2, t, eps, eps_root)
    return _tree.cast_like(out, updates), ScaleBySimplifiedAdEMAMixState(
      t=t, m=_tree.cast_like(m, state.m), n=_tree.cast_like(n, state.n)
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_simplified_ademamix)
def simplified_ademamix(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.99,
  b2: Float = 0.95,
  alpha: ScalarOrSchedule = 0.0,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  weight_decay: Float = 0.0,
  mask: Any = None,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Simplified AdEMAMix (module docstring).

  Reference: Morwani, Vyas, Kakade et al., 2024, "Connections between
  Schedule-Free Optimizers, AdEMAMix, and Accelerated SGD Variants".
  """
  _validate.check(
    "simplified_ademamix",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_simplified_ademamix(
      b1, b2, alpha, eps, eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    ),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )
