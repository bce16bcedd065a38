"""Optimistic gradient methods for min-max games (Daskalakis et al., 2018; Mokhtari et al., 2020).

Generalized optimistic gradient descent extrapolates with the previous
direction, which damps the cycling of plain gradient descent-ascent:

$$
u_t = (\\alpha + \\beta)\\, g_t - \\beta\\, g_{t-1},\\qquad
\\theta_t = \\theta_{t-1} - \\eta\\, u_t,\\qquad g_0 := g_1
$$

(the first step has no previous direction and uses the current one, so it is
$\\alpha\\, g_1$).

* Optimistic Adam applies the same extrapolation to Adam's direction
  $r_t = \\hat m_t / (\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon)$:
  $\\theta_t = \\theta_{t-1} - \\eta\\, r_t - o\\,(r_t - r_{t-1})$, with the
  optimism $o$ equal to $\\eta$ by default (`optimistic_adam`, Nesterov
  moments by default); `optimistic_adam_v2` takes $\\alpha, \\beta$ and a
  learning rate that may be a schedule.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments
from jaxopt_notes.optimizers._adam import scale_by_adam
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


class ScaleByOptimisticGradientState(NamedTuple):
  """State of `scale_by_optimistic_gradient`.

  Attributes:
    is_initial_step: True until the first update (no previous direction yet).
    previous_gradient: $g_{t-1}$, the incoming direction of the last step.
  """

  is_initial_step: jax.Array  # bool: no previous direction yet
  previous_gradient: Any  # g_{t-1}, the incoming direction of the last step


def _no_schedule(owner: str, **arguments: Any) -> None:
  for name, value in arguments.items():
    if callable(value):
      raise TypeError(
        f"{owner}: argument `{name}` must be a number or an array, not a "
        "schedule (the transform keeps no step count)"
      )


def scale_by_optimistic_gradient(alpha: Float = 1.0, beta: Float = 1.0) -> GradientTransformation:
  """$(\\alpha + \\beta) g_t - \\beta g_{t-1}$; see `optimistic_gradient_descent`.

  Args:
    alpha: $\\alpha$, the weight of the current direction $g_t$ (a number or traced array, not a
      schedule).
    beta: $\\beta$, the weight of the extrapolation $g_t - g_{t-1}$ (a number or traced array, not a
      schedule).
  """
  _no_schedule("scale_by_optimistic_gradient", alpha=alpha, beta=beta)
  _validate.check(
    "scale_by_optimistic_gradient", alpha=(alpha, _validate.FINITE), beta=(beta, _validate.FINITE)
  )

  def init_fn(params):
    return ScaleByOptimisticGradientState(
      is_initial_step=_placement.replicate_like(jnp.asarray(True), params),
      previous_gradient=_tree.zeros_like(params),
    )

  def update_fn(updates, state, params=None):
    del params
    out = _tree.map(
      lambda g, prev: (alpha + beta) * g - beta * jnp.where(state.is_initial_step, g, prev),
      updates,
      state.previous_gradient,
    )
    return _tree.cast_like(out, updates), ScaleByOptimisticGradientState(
      is_initial_step=jnp.zeros_like(state.is_initial_step),
      previous_gradient=_tree.cast_like(updates, state.previous_gradient),
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args
def optimistic_gradient_descent(
  learning_rate: ScalarOrSchedule, alpha: Float = 1.0, beta: Float = 1.0
) -> GradientTransformation:
  """Optimistic gradient descent (module docstring).

  ``alpha`` and ``beta`` are numbers or (traced) arrays; only the learning rate
  may be a schedule.

  Args:
    alpha: $\\alpha$, the weight of the current direction $g_t$ (a number or traced array, not a
      schedule).
    beta: $\\beta$, the weight of the extrapolation $g_t - g_{t-1}$ (a number or traced array, not a
      schedule).

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.optimistic_gradient_descent(0.1)
    >>> state = opt.init(jnp.zeros(1))
    >>> u1, state = opt.update(jnp.array([1.0]), state)   # alpha * g_1
    >>> u2, state = opt.update(jnp.array([3.0]), state)   # 2 * 3 - 1
    >>> [round(float(u1[0]), 3), round(float(u2[0]), 3)]
    [-0.1, -0.5]

  Reference: Mokhtari, Ozdaglar & Pattathil, 2020, "A Unified Analysis of
  Extra-gradient and Optimistic Gradient Methods for Saddle Point Problems:
  Proximal Point Approach".
  """
  _validate.check("optimistic_gradient_descent", learning_rate=(learning_rate, _validate.FINITE))
  return chain(scale_by_optimistic_gradient(alpha, beta), scale_by_learning_rate(learning_rate))


@shared_args
def optimistic_adam(
  learning_rate: Float,
  optimism: Float | None = None,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  *,
  nesterov: bool = True,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Optimistic Adam (module docstring); ``optimism`` defaults to ``learning_rate``.

  The learning rate is a number or a (traced) array, not a schedule: it is
  the $\\alpha$ of the extrapolation. `optimistic_adam_v2` takes schedules.

  Args:
    learning_rate: $\\eta$, the weight of the current Adam direction: a number or a traced array,
      not a schedule.
    optimism: $o$, the weight of the extrapolation $r_t - r_{t-1}$; ``None`` uses ``learning_rate``.
    nesterov: use NAdam's look-ahead first moment (True by default here).

  Reference: Daskalakis, Ilyas, Syrgkanis & Zeng, 2018, "Training GANs with
  Optimism".
  """
  if callable(learning_rate):
    raise TypeError(
      "optimistic_adam: argument `learning_rate` must be a number or an "
      "array, not a schedule; optimistic_adam_v2 takes schedules"
    )
  check_moments(
    "optimistic_adam",
    b1,
    b2,
    eps,
    eps_root,
    learning_rate=(learning_rate, _validate.FINITE),
    optimism=(optimism, _validate.FINITE),
  )
  optimism = learning_rate if optimism is None else optimism
  return chain(
    scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov, nu_dtype=nu_dtype),
    scale_by_optimistic_gradient(learning_rate, optimism),
    scale_by_learning_rate(1.0),
  )


@shared_args
def optimistic_adam_v2(
  learning_rate: ScalarOrSchedule,
  *,
  alpha: Float = 1.0,
  beta: Float = 1.0,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  nesterov: bool = True,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Optimistic Adam with the extrapolation of `optimistic_gradient_descent` (module docstring).

  $\\theta_t = \\theta_{t-1} - \\eta\\,((\\alpha + \\beta) r_t - \\beta r_{t-1})$.

  Args:
    alpha: $\\alpha$, the weight of the current direction $g_t$ (a number or traced array, not a
      schedule).
    beta: $\\beta$, the weight of the extrapolation $g_t - g_{t-1}$ (a number or traced array, not a
      schedule).
    nesterov: use NAdam's look-ahead first moment (True by default here).
  """
  _validate.check("optimistic_adam_v2", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov, nu_dtype=nu_dtype),
    scale_by_optimistic_gradient(alpha, beta),
    scale_by_learning_rate(learning_rate),
  )
