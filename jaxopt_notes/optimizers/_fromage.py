"""Fromage (Bernstein et al., 2020): steps relative to each layer's norm.

For each leaf (layer), with step size $\\eta$:

$$
\\theta_t = \\frac{1}{\\sqrt{1+\\eta^2}}
\\left(\\theta_{t-1} - \\eta\\,\\frac{\\|\\theta_{t-1}\\|}{\\|g_t\\|}\\, g_t\\right)
$$

The gradient is rescaled to the param's norm (a trust ratio, see `lars`),
so each layer moves by a fixed fraction of its size; the factor
$1/\\sqrt{1+\\eta^2}$ undoes the growth of the norm that such steps cause.
Norms below ``min_norm`` count as ``min_norm``.
"""

from jaxopt_notes import _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float
from jaxopt_notes.optimizers._trust import scale_by_trust_ratio
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate


def _shrink(learning_rate):
  return 1 / (1 + learning_rate**2) ** 0.5


def fromage(learning_rate: ScalarOrSchedule, min_norm: Float = 1e-6) -> GradientTransformation:
  """Fromage (module docstring); ``learning_rate`` may be a schedule.

  Args:
    learning_rate: the step size $\\eta$, a fraction of each layer's norm (a number or a schedule of
      the step).
    min_norm: norms of params and gradients below this count as this value; >= 0.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.fromage(0.1)
    >>> p = jnp.array([3.0, 4.0])
    >>> u, _ = opt.update(jnp.array([4.0, -3.0]), opt.init(p), p)
    >>> round(float(jnp.linalg.norm(p + u)), 4)  # a step across p keeps ||p|| = 5
    5.0

  Reference: Bernstein, Vahdat, Yue & Liu, 2020, "On the distance between
  two neural networks and the stability of learning".
  """
  _validate.check(
    "fromage",
    learning_rate=(learning_rate, _validate.FINITE),
    min_norm=(min_norm, _validate.NONNEGATIVE),
  )
  if callable(learning_rate):
    step = lambda count: _shrink(learning_rate(count)) * learning_rate(count)  # noqa: E731
    decay = lambda count: _shrink(learning_rate(count)) - 1  # noqa: E731
  else:
    step = _shrink(learning_rate) * learning_rate
    decay = _shrink(learning_rate) - 1
  return chain(
    scale_by_trust_ratio(min_norm), scale_by_learning_rate(step), add_decayed_weights(decay)
  )
