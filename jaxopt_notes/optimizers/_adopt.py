"""ADOPT (Taniguchi et al., 2024): Adam normalised by the second moment of the *previous* steps.

The first step only records $v_0 = g_0^2$ (its update is zero). Then, for
$t \\ge 1$,

$$
m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\,
      \\operatorname{clip}\\Big(\\frac{g_t}{\\max(\\sqrt{v_{t-1}}, \\epsilon)}, c_t\\Big),\\qquad
v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,\\qquad
\\theta_t = \\theta_{t-1} - \\eta\\, m_t
$$

Because $v_{t-1}$ does not contain $g_t$, the normalised gradient is an
unbiased direction, which makes the method converge for any $\\beta_2$.
The clip bound $c_t$ = ``clip_value_fn(t)`` ($t^{1/4}$ by default) applies
when ``use_clipping``; ``nesterov`` takes one more momentum step,
$\\beta_1 m_t + (1-\\beta_1) \\tilde g_t$.
"""

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments, init_moments
from jaxopt_notes.optimizers._adam import ScaleByAdamState
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


def _quarter_power(count):
  return jnp.asarray(count, float) ** 0.25


@shared_args
def scale_by_adopt(
  b1: Float = 0.9,
  b2: Float = 0.9999,
  eps: Float = 1e-6,
  mu_dtype: Any = None,
  *,
  nesterov: bool = False,
  use_clipping: bool = True,
  clip_value_fn: Callable = _quarter_power,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """ADOPT's direction $m_t$ (a `ScaleByAdamState`, as in optax); see `adopt`.

  Args:
    eps: floor of $\\sqrt{v_{t-1}}$ in the normaliser $\\max(\\sqrt{v_{t-1}}, \\epsilon)$; >= 0.
    nesterov: take one more momentum step, $\\beta_1 m_t + (1-\\beta_1)\\tilde g_t$.
    use_clipping: clip the normalised gradient to $[-c_t, c_t]$ before the momentum (algorithm 2 of
      the paper); needs real params.
    clip_value_fn: $c_t$ as a function of the int32 step count (0 at the first step); $t^{1/4}$ by
      default.
  """
  check_moments("scale_by_adopt", b1, b2, eps)
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    if use_clipping:
      _validate.reject_complex(
        "scale_by_adopt",
        params,
        "`clip_value_fn` clips to a real interval (pass use_clipping=False for complex params)",
      )
    return init_moments(ScaleByAdamState, params, mu_dtype, nu_dtype)

  def update_fn(updates, state, params=None):
    del params
    first = state.count == 0  # records v_0 = g_0^2 and moves nothing
    b1_now, b2_now = jnp.where(first, 1, b1), jnp.where(first, 0, b2)
    nu = _moments.update_moment_per_elem_norm(updates, state.nu, b2_now, 2)
    bound = clip_value_fn(state.count) if use_clipping else None

    def normalised(g, v):
      x = _numerics.safe_div(g, jnp.maximum(jnp.sqrt(v), eps))
      return x if bound is None else jnp.clip(x, -bound, bound)

    direction = _tree.map(normalised, updates, _moments.widened(state.nu, updates, nu_dtype))
    mu = _moments.update_moment(direction, state.mu, b1_now, 1)
    out = _moments.update_moment(direction, mu, b1_now, 1) if nesterov else mu
    return _tree.cast_like(out, updates), ScaleByAdamState(
      count=_numerics.safe_increment(state.count),
      mu=_tree.cast_like(mu, state.mu),
      nu=_tree.cast_like(nu, state.nu),
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_adopt)
def adopt(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.9999,
  eps: Float = 1e-6,
  mu_dtype: Any = None,
  *,
  nesterov: bool = False,
  use_clipping: bool = True,
  clip_value_fn: Callable = _quarter_power,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """ADOPT (module docstring).

  Reference: Taniguchi et al., 2024, "ADOPT: Modified Adam Can Converge with
  Any beta2 with the Optimal Rate", algorithm 2 (with clipping).
  """
  _validate.check("adopt", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    scale_by_adopt(
      b1,
      b2,
      eps,
      mu_dtype,
      nesterov=nesterov,
      use_clipping=use_clipping,
      clip_value_fn=clip_value_fn,
      nu_dtype=nu_dtype,
    ),
    scale_by_learning_rate(learning_rate),
  )
