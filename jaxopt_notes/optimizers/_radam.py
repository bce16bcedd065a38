"""RAdam (Liu et al., 2020): Adam with the variance of its adaptive step rectified.

$$
\\rho_\\infty = \\frac{2}{1-\\beta_2} - 1,\\qquad
\\rho_t = \\rho_\\infty - \\frac{2 t \\beta_2^t}{1-\\beta_2^t},\\qquad
r_t = \\sqrt{\\frac{(\\rho_t-4)(\\rho_t-2)\\rho_\\infty}{(\\rho_\\infty-4)(\\rho_\\infty-2)\\rho_t}}
$$

While $\\rho_t <$ ``threshold`` (at least 4, where $r_t$ is real) the step is the momentum
$\\hat m_t$
alone; after it, $r_t \\hat m_t / (\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon)$.
"""

from typing import Any

import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments, debiased_first_moment, init_moments
from jaxopt_notes.optimizers._adam import ScaleByAdamState
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


# r_t needs rho_t >= 4: a lower threshold would take the root of a negative number.
_AT_LEAST_FOUR = _validate.Range(4.0, float("inf"))  # inf: never rectified


@shared_args
def scale_by_radam(
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  threshold: Float = 5.0,
  nesterov: bool = False,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """RAdam's direction; see `radam`.

  Args:
    threshold: while $\\rho_t$ is below this (>= 4, where $r_t$ is real; ``inf`` never rectifies)
      the step is the momentum $\\hat m_t$ alone.
  """
  check_moments("scale_by_radam", b1, b2, eps, eps_root, threshold=(threshold, _AT_LEAST_FOUR))
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    return init_moments(ScaleByAdamState, params, mu_dtype, nu_dtype)

  def update_fn(updates, state, params=None):
    del params
    rho_inf = 2.0 / (1.0 - b2) - 1.0
    mu = _moments.update_moment(updates, state.mu, b1, 1)
    nu = _moments.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    count = _numerics.safe_increment(state.count)
    b2t = jnp.asarray(b2) ** count
    rho = rho_inf - 2 * count * b2t / (1 - b2t)
    rectified = rho >= threshold
    # Evaluate r_t only where it is defined, so neither value nor gradient is NaN.
    safe_rho = jnp.where(rectified, rho, rho_inf)
    r = jnp.sqrt(
      (safe_rho - 4) * (safe_rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * safe_rho)
    )
    mu_hat = debiased_first_moment(mu, updates, b1, count, nesterov)
    nu_hat = _moments.bias_correction(nu, b2, count)
    out = _tree.map(
      lambda m, v: jnp.where(
        rectified, r.astype(m.dtype) * _numerics.rms_scale(m, v, eps, eps_root), m
      ),
      mu_hat,
      nu_hat,
    )
    return _tree.cast_like(out, updates), ScaleByAdamState(
      count=count, mu=_tree.cast_like(mu, state.mu), nu=_tree.cast_like(nu, state.nu)
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_radam)
def radam(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  threshold: Float = 5.0,
  nesterov: bool = False,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """RAdam (module docstring). Reference: Liu et al., 2020, "On the Variance of
  the Adaptive Learning Rate and Beyond".
  """
  _validate.check("radam", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    scale_by_radam(
      b1, b2, eps, eps_root, threshold, nesterov, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    ),
    scale_by_learning_rate(learning_rate),
  )
