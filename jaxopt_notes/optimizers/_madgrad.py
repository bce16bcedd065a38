"""MADGRAD (Defazio & Jelassi, 2021): dual averaging with a cube-root AdaGrad scale and momentum.

With $\\lambda_k = (\\eta_k + \\epsilon)\\sqrt{k+1}$ (step $k$ from 0) the
method keeps weighted sums of the gradients and of their squares and steps
from the starting point $x_0$:

$$
s_{k+1} = s_k + \\lambda_k g_k,\\qquad \\nu_{k+1} = \\nu_k + \\lambda_k g_k^2,\\qquad
z_{k+1} = x_0 - \\frac{s_{k+1}}{\\sqrt[3]{\\nu_{k+1}} + \\epsilon},
$$

$$
x_{k+1} = \\beta x_k + (1 - \\beta) z_{k+1}
$$

where $\\beta$ = ``momentum`` (the averaging form of momentum). The
learning rate sits inside the sums, so a schedule changes the weights of
later gradients, not a final scale. ``weight_decay`` adds
$\\lambda_{wd} x_k$ to the gradient.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes._docargs import shared_args


@shared_args
class MadgradState(NamedTuple):
  """State of `scale_by_madgrad`.

  Attributes:
    grad_sum_sq: $\\nu_k$, the $\\lambda$-weighted sum of squared gradients.
    s: $s_k$, the $\\lambda$-weighted sum of gradients.
    x0: $x_0$, the params at initialisation.
  """

  count: jax.Array
  grad_sum_sq: Any  # nu_k, the lambda-weighted sum of g^2
  s: Any  # s_k, the lambda-weighted sum of g
  x0: Any  # the starting params


def scale_by_madgrad(
  learning_rate: ScalarOrSchedule, momentum: Float = 0.9, eps: Float = 1e-6
) -> GradientTransformation:
  """MADGRAD's step $x_{k+1} - x_k$ (it needs the params); see `madgrad`.

  Args:
    learning_rate: the step size $\\eta_k$ (a number or a schedule of the step); it weighs each
      gradient in the sums ($\\lambda_k$), it is no final scale.
    momentum: $\\beta$ of the averaging $x_{k+1} = \\beta x_k + (1-\\beta) z_{k+1}$, in [0, 1]; 0
      steps straight to $z_{k+1}$.
    eps: added to $\\eta_k$ in $\\lambda_k$ and to the cube root in the denominator; >= 0.
  """
  _validate.check(
    "scale_by_madgrad",
    learning_rate=(learning_rate, _validate.FINITE),
    momentum=(momentum, _validate.UNIT),
    eps=(eps, _validate.NONNEGATIVE),
  )

  def init_fn(params):
    return MadgradState(
      count=_placement.zero_count(params),
      grad_sum_sq=_tree.zeros_like(params),
      s=_tree.zeros_like(params),
      x0=_tree.copy(params),
    )

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("scale_by_madgrad: update needs the params")
    lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
    weight = (lr + eps) * jnp.sqrt(jnp.asarray(state.count, float) + 1)
    grad_sum_sq = _tree.map(
      lambda g, v: v + jnp.real(weight * g * jnp.conj(g)),  # |g|^2
      updates,
      state.grad_sum_sq,
    )
    s = _tree.map(lambda g, si: si + weight * g, updates, state.s)
    z = _tree.map(
      lambda x0, si, v: x0 - si / (jnp.cbrt(jnp.real(v)) + eps), state.x0, s, grad_sum_sq
    )
    out = _tree.map(lambda g, zi, x: (1 - momentum) * (zi - x), updates, z, params)
    return _tree.cast_like(out, updates), MadgradState(
      count=_numerics.safe_increment(state.count),
      grad_sum_sq=_tree.cast_like(grad_sum_sq, state.grad_sum_sq),
      s=_tree.cast_like(s, state.s),
      x0=state.x0,
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_madgrad)
def madgrad(
  learning_rate: ScalarOrSchedule,
  momentum: Float = 0.9,
  weight_decay: Float = 0.0,
  eps: Float = 1e-6,
) -> GradientTransformation:
  """MADGRAD (module docstring).

  Args:
    weight_decay: $\\lambda_{wd}$: ``weight_decay * params`` is added to the gradient (coupled, as
      in the paper); 0 turns it off.

  Reference: Defazio & Jelassi, 2021, "Adaptivity without Compromise: A
  Momentumized, Adaptive, Dual Averaged Gradient Method for Stochastic
  Optimization".
  """
  _validate.check("madgrad", weight_decay=(weight_decay, _validate.FINITE))
  return chain(add_decayed_weights(weight_decay), scale_by_madgrad(learning_rate, momentum, eps))
