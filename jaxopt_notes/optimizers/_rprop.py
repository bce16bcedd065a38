"""Rprop (Riedmiller & Braun, 1993), in the iRprop- form (Igel & Hüsken, 2000).

Each coordinate keeps its own step size $\\Delta$, adapted from the sign of
successive gradients only:

$$
\\Delta_t = \\begin{cases}
\\min(\\eta^+ \\Delta_{t-1}, \\Delta_{\\max}) & g_t g_{t-1} > 0\\\\
\\max(\\eta^- \\Delta_{t-1}, \\Delta_{\\min}) & g_t g_{t-1} < 0\\\\
\\Delta_{t-1} & \\text{otherwise}
\\end{cases}\\qquad
\\theta_t = \\theta_{t-1} - \\Delta_t \\operatorname{sign}(g_t)
$$

After a sign change the step is skipped and $g_t$ is forgotten (taken as
0), so the next step keeps $\\Delta$. $\\Delta_0$ is the learning rate. Only
signs are multiplied, so tiny or huge gradients cannot underflow or overflow
the comparison.
"""

from typing import Any, NamedTuple

import jax.numpy as jnp

from jaxopt_notes import _tree, _validate
from jaxopt_notes._base import GradientTransformation
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float
from jaxopt_notes.transforms._scaling import scale
from jaxopt_notes._docargs import shared_args


class ScaleByRpropState(NamedTuple):
  """State of `scale_by_rprop`: per-coordinate step sizes and the last signed steps.

  Attributes:
    step_sizes: $\\Delta_t$, the step size of every coordinate.
    prev_updates: $\\Delta_t \\operatorname{sign}(g_t)$, zero after a sign change.
  """

  step_sizes: Any  # Delta_t
  prev_updates: Any  # Delta_t sign(g_t), zero after a sign change


def scale_by_rprop(
  learning_rate: Float,
  eta_minus: Float = 0.5,
  eta_plus: Float = 1.2,
  min_step_size: Float = 1e-6,
  max_step_size: Float = 50.0,
) -> GradientTransformation:
  """Rprop's step $\\Delta_t \\operatorname{sign}(g_t)$ (ascent direction); see `rprop`.

  Args:
    learning_rate: $\\Delta_0$, the initial step size of every coordinate; >= 0, a number (not a
      schedule: the step sizes live in the state).
    eta_minus: $\\eta^-$, the factor that shrinks a step size after a sign change; in [0, 1].
    eta_plus: $\\eta^+$, the factor that grows it while the sign holds; >= 1.
    min_step_size: $\\Delta_{\\min}$, the smallest step size.
    max_step_size: $\\Delta_{\\max}$, the largest step size.
  """
  if callable(learning_rate):
    raise TypeError(
      "scale_by_rprop: argument `learning_rate` is the initial step size held "
      "in the state, a number; a schedule cannot apply to it"
    )
  _validate.check(
    "scale_by_rprop",
    learning_rate=(learning_rate, _validate.NONNEGATIVE),
    eta_minus=(eta_minus, _validate.UNIT),
    eta_plus=(eta_plus, _validate.AT_LEAST_ONE),
    min_step_size=(min_step_size, _validate.NONNEGATIVE),
    max_step_size=(max_step_size, _validate.NONNEGATIVE_OR_INF),
  )

  def init_fn(params):
    _validate.reject_complex(
      "scale_by_rprop",
      params,
      "Rprop adapts a step size by whether "
      "the gradient kept its sign, which a complex number has not",
    )
    return ScaleByRpropState(
      step_sizes=_tree.full_like(params, learning_rate), prev_updates=_tree.zeros_like(params)
    )

  def new_step_size(g, delta, prev):
    agree = jnp.sign(g) * jnp.sign(prev)
    changed = jnp.clip(
      delta * jnp.where(agree > 0, eta_plus, eta_minus), min_step_size, max_step_size
    )
    return jnp.where(agree == 0, delta, changed).astype(delta.dtype)

  def signed_step(g, delta, prev):
    return jnp.where(jnp.sign(g) * jnp.sign(prev) < 0, 0, delta * jnp.sign(g)).astype(prev.dtype)

  def update_fn(updates, state, params=None):
    del params
    step_sizes = _tree.map(new_step_size, updates, state.step_sizes, state.prev_updates)
    steps = _tree.map(signed_step, updates, step_sizes, state.prev_updates)
    return _tree.cast_like(steps, updates), ScaleByRpropState(step_sizes, steps)

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_rprop)
def rprop(
  learning_rate: Float,
  eta_minus: Float = 0.5,
  eta_plus: Float = 1.2,
  min_step_size: Float = 1e-6,
  max_step_size: Float = 50.0,
) -> GradientTransformation:
  """Rprop (module docstring). ``learning_rate`` is the initial step size
  $\\Delta_0$ of every coordinate; the step sizes then live in the state, so
  it is a number, not a schedule.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.rprop(0.1)
    >>> state = opt.init(jnp.zeros(2))
    >>> u, state = opt.update(jnp.array([2.0, -3.0]), state)
    >>> u, state = opt.update(jnp.array([1.0, 3.0]), state)
    >>> [round(float(x), 6) + 0 for x in u]  # same sign grows, a flip skips
    [-0.12, 0.0]

  Reference: Riedmiller & Braun, 1993, "A Direct Adaptive Method for Faster
  Backpropagation Learning: The RPROP Algorithm"; Igel & Hüsken, 2000,
  "Improving the Rprop Learning Algorithm".
  """
  return chain(
    scale_by_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size), scale(-1.0)
  )
