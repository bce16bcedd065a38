"""Yogi (Zaheer et al., 2018): Adam with an additive second-moment update.

$$
v_t = v_{t-1} - (1-\\beta_2)\\,\\operatorname{sign}(v_{t-1} - g_t^2)\\, g_t^2
$$

The rest is Adam's (bias-corrected, ``eps`` outside and ``eps_root`` inside the
root). As in the paper, $m_0 = 0$ and $v_0$ is
``initial_accumulator_value``. (optax also starts $m_0$ at that value,
which biases the first steps; with ``initial_accumulator_value=0`` both agree.)
"""

from typing import Any

import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments
from jaxopt_notes.optimizers._adam import ScaleByAdamState, adam_direction
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


@shared_args
def scale_by_yogi(
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-3,
  eps_root: Float = 0.0,
  initial_accumulator_value: Float = 1e-6,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Yogi's direction; see `yogi`.

  Args:
    initial_accumulator_value: $v_0$, the value the second moment starts from; >= 0.
    b2: $\\beta_2$: the second moment moves by $(1-\\beta_2) g_t^2$ towards $g_t^2$ each step, in
      [0, 1].
  """
  check_moments(
    "scale_by_yogi",
    b1,
    b2,
    eps,
    eps_root,
    initial_accumulator_value=(initial_accumulator_value, _validate.NONNEGATIVE),
  )
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    return ScaleByAdamState(
      count=_placement.zero_count(params),
      mu=_tree.zeros_like(params, dtype=mu_dtype),
      nu=_tree.full_like(params, initial_accumulator_value, nu_dtype),
    )

  def update_fn(updates, state, params=None):
    del params
    mu = _moments.update_moment(updates, state.mu, b1, 1)

    # v == |g|^2 means no change; spelt out so that an overflowed v = |g|^2 = inf stays inf
    def second(g, v):  # real-valued also for complex g: |g|^2 = g conj(g)
      g2, v = _numerics.abs_sq(g), jnp.real(v)
      return jnp.where(v == g2, v, v - jnp.real((1 - b2) * jnp.sign(v - g2) * g * jnp.conj(g)))

    nu = _tree.map(second, updates, _moments.widened(state.nu, updates, nu_dtype))
    count = _numerics.safe_increment(state.count)
    out = adam_direction(updates, mu, nu, count, b1, b2, eps, eps_root)
    return _tree.cast_like(out, updates), ScaleByAdamState(
      count=count, mu=_tree.cast_like(mu, state.mu), nu=_tree.cast_like(nu, state.nu)
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_yogi)
def yogi(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-3,
  eps_root: Float = 0.0,
  initial_accumulator_value: Float = 1e-6,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Yogi (module docstring). Reference: Zaheer et al., 2018, "Adaptive Methods
  for Nonconvex Optimization".
  """
  _validate.check("yogi", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    scale_by_yogi(
      b1, b2, eps, eps_root, initial_accumulator_value, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    ),
    scale_by_learning_rate(learning_rate),
  )
