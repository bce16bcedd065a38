"""COCOB-Backprop: continuous coin betting (Orabona & Tommasi, 2017, Algorithm 2).

Each coordinate bets a fraction of its wealth on the sign of the gradient;
no learning rate is tuned. From the starting point $w_1$, per coordinate,

$$
L_t = \\max(L_{t-1}, |g_t|),\\quad G_t = G_{t-1} + |g_t|,\\quad
R_t = \\max(R_{t-1} - g_t (w_t - w_1), 0),\\quad \\theta_t = \\theta_{t-1} - g_t,
$$

$$
w_{t+1} = w_1 + \\frac{\\theta_t}{L_t \\max(G_t + L_t,\\ \\alpha L_t)}\\,(L_t + R_t),
$$

with $L_0 = \\epsilon$ and $G_0 = R_0 = \\theta_0 = 0$; the update is
$w_{t+1} - w_t$. `cocob` multiplies the gradient by ``learning_rate`` (1 by
default) first, after adding ``weight_decay * params``. Where the
denominator is exactly 0 (``eps = 0`` and no gradient yet) the bet is 0.
"""

from typing import Any, NamedTuple

import jax.numpy as jnp

from jaxopt_notes import _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


class COCOBState(NamedTuple):
  """State of `scale_by_cocob`, per coordinate.

  Attributes:
    init_particles: $w_1$, the params at initialisation.
    cumulative_gradients: $\\theta_t$, the negated sum of the gradients.
    scale: $L_t$, the largest gradient magnitude seen (starts at ``eps``).
    subgradients: $G_t$, the sum of the gradient magnitudes.
    reward: $R_t$, the wealth won so far (>= 0).
  """

  init_particles: Any  # w_1
  cumulative_gradients: Any  # theta_t
  scale: Any  # L_t
  subgradients: Any  # G_t
  reward: Any  # R_t


def scale_by_cocob(alpha: Float = 100.0, eps: Float = 1e-8) -> GradientTransformation:
  """COCOB's move $w_{t+1} - w_t$ from the gradient; see `cocob`.

  Args:
    alpha: $\\alpha$, which bounds the fraction of wealth bet while few gradients have been seen
      (the $\\max(G_t + L_t, \\alpha L_t)$ term); >= 0.
    eps: $L_0$, the initial scale of every coordinate; >= 0.
  """
  _validate.check(
    "scale_by_cocob", alpha=(alpha, _validate.NONNEGATIVE), eps=(eps, _validate.NONNEGATIVE)
  )

  def init_fn(params):
    return COCOBState(
      init_particles=_tree.copy(params),
      cumulative_gradients=_tree.zeros_like(params),
      scale=_tree.full_like(params, eps),
      subgradients=_tree.zeros_like(params),
      reward=_tree.zeros_like(params),
    )

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("scale_by_cocob needs the params: call update(grads, state, params)")
    scale = _tree.map(lambda g, lt: jnp.maximum(lt, jnp.abs(g)), updates, state.scale)
    sums = _tree.map(lambda g, gt: gt + jnp.abs(g), updates, state.subgradients)
    reward = _tree.map(
      lambda g, rt, w, w1: jnp.maximum(rt - jnp.real(jnp.conj(g) * (w - w1)), 0),
      updates,
      state.reward,
      params,
      state.init_particles,
    )
    theta = _tree.map(lambda g, c: c - g, updates, state.cumulative_gradients)

    def move(w, w1, c, lt, gt, rt):
      bet = _numerics.safe_div(c, lt * jnp.maximum(gt + lt, alpha * lt))
      return w1 + bet * (lt + rt) - w

    out = _tree.map(move, params, state.init_particles, theta, scale, sums, reward)
    new = COCOBState(state.init_particles, theta, scale, sums, reward)
    return _tree.cast_like(out, updates), COCOBState(
      *[_tree.cast_like(x, old) for x, old in zip(new, state)]
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_cocob)
def cocob(
  learning_rate: ScalarOrSchedule = 1.0,
  alpha: Float = 100.0,
  eps: Float = 1e-8,
  weight_decay: Float = 0.0,
  mask: Any = None,
) -> GradientTransformation:
  """COCOB-Backprop (module docstring).

  Args:
    learning_rate: multiplies the gradient before the bet (a number or a schedule of the step); 1 is
      the paper's method.
    weight_decay: coefficient of ``weight_decay * params``, added to the gradient before the bet; 0
      turns it off.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.cocob()
    >>> x = jnp.array([1.0]); state = opt.init(x)
    >>> updates, state = opt.update(jnp.array([2.0]), state, x)
    >>> round(float(updates[0]), 4)   # -g / (alpha L) * L at the first step
    -0.01

  Reference: Orabona & Tommasi, 2017, "Training Deep Networks without
  Learning Rates Through Coin Betting".
  """
  _validate.check(
    "cocob",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate, flip_sign=False),
    scale_by_cocob(alpha, eps),
  )
