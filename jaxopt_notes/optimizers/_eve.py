"""Eve (Hayashi, Koushik & Neubig): Adam with a global step size driven by the loss.

Adam's bias-corrected moments $\\hat m_t, \\hat v_t$; from the second step
on, the relative change of the loss

$$
d_t = \\frac{|f_t - f_{t-1}|}{\\min(f_t, f_{t-1}) - f^\\star},\\qquad
\\tilde d_t = \\beta_3 \\tilde d_{t-1} + (1-\\beta_3)\\,\\operatorname{clip}(d_t, 1/c, c),
\\qquad \\tilde d_1 = 1,
$$

$$
\\theta_t = \\theta_{t-1} - \\frac{\\eta}{\\tilde d_t}\\,
\\frac{\\hat m_t}{\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon}
$$

The loss $f_t$ at the current params comes in as
``update(grads, state, params, value=loss)``. When
$\\min(f_t, f_{t-1}) \\le f^\\star$ the ratio is taken as $c$ (the
largest allowed), or $1/c$ if the loss did not change.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformationExtraArgs, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments
from jaxopt_notes.optimizers._adam import adam_direction
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args

NEEDS_VALUE = (
  "needs the loss value at the current params: call update(grads, state, params, value=loss)"
)


@shared_args
class ScaleByEveState(NamedTuple):
  """State of `scale_by_eve`: Adam's moments, the smoothed loss ratio and the last loss.

  Attributes:
    d: $\\tilde d_t$, the smoothed loss-change ratio (1 before the second step).
    f_prev: the loss at the previous step.
  """

  count: jax.Array  # int32 steps taken
  mu: Any  # m_t
  nu: Any  # v_t
  d: jax.Array  # the smoothed loss-change ratio d~_t (1 before step 2)
  f_prev: jax.Array  # the loss at the previous step


def relative_change(f, f_prev, f_star, c):
  """$\\operatorname{clip}(|f - f_{prev}| / (\\min(f, f_{prev}) - f^\\star), 1/c, c)$."""
  num = jnp.abs(f - f_prev)
  den = jnp.minimum(f, f_prev) - f_star
  ratio = jnp.where(den > 0, num / jnp.where(den > 0, den, 1), jnp.where(num > 0, c, 0))
  return jnp.clip(ratio, 1 / c, c)


@shared_args
def scale_by_eve(
  b1: Float = 0.9,
  b2: Float = 0.999,
  b3: Float = 0.999,
  c: Float = 10.0,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  f_star: Float = 0.0,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
  """Eve's direction, divided by $\\tilde d_t$; see `eve`.

  Args:
    b3: decay rate $\\beta_3$ of the smoothed loss ratio $\\tilde d_t$, in [0, 1].
    c: the clip bound of the loss ratio, which is kept in $[1/c, c]$; > 0.
    f_star: $f^\\star$, a lower bound of the loss (0 for non-negative losses).
  """
  check_moments(
    "scale_by_eve",
    b1,
    b2,
    eps,
    eps_root,
    b3=(b3, _validate.UNIT),
    c=(c, _validate.AT_LEAST_ONE),
    f_star=(f_star, _validate.FINITE),
  )
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    real = jnp.result_type(float)
    return ScaleByEveState(
      count=_placement.zero_count(params),
      mu=_tree.zeros_like(params, mu_dtype),
      nu=_tree.zeros_like(params, nu_dtype),
      d=_placement.replicate_like(jnp.ones([], real), params),
      f_prev=_placement.replicate_like(jnp.zeros([], real), params),
    )

  def update_fn(updates, state, params=None, *, value=None, **extra_args):
    del params, extra_args
    if value is None:
      raise ValueError(f"scale_by_eve {NEEDS_VALUE}")
    f = jnp.asarray(value).astype(state.f_prev.dtype)
    if f.shape != ():
      raise ValueError(f"scale_by_eve: `value` must be the scalar loss, got shape {f.shape}")
    count = _numerics.safe_increment(state.count)
    smoothed = b3 * state.d + (1 - b3) * relative_change(f, state.f_prev, f_star, c)
    d = jnp.where(count > 1, smoothed, 1).astype(state.d.dtype)
    mu = _moments.update_moment(updates, state.mu, b1, 1)
    nu = _moments.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    direction = adam_direction(updates, mu, nu, count, b1, b2, eps, eps_root)
    out = _tree.map(lambda u: u / d.astype(u.dtype), direction)
    return _tree.cast_like(out, updates), ScaleByEveState(
      count=count, mu=_tree.cast_like(mu, state.mu), nu=_tree.cast_like(nu, state.nu), d=d, f_prev=f
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)


@shared_args(like=scale_by_eve)
def eve(
  learning_rate: ScalarOrSchedule = 1e-3,
  b1: Float = 0.9,
  b2: Float = 0.999,
  b3: Float = 0.999,
  c: Float = 10.0,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  f_star: Float = 0.0,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
  """Eve (module docstring); ``update`` needs ``value=loss``.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> loss = lambda x: jnp.sum(x ** 2)
    >>> opt = jon.eve(0.1)
    >>> x = jnp.array([1.0, -2.0]); state = opt.init(x)
    >>> value, grad = jax.value_and_grad(loss)(x)
    >>> updates, state = opt.update(grad, state, x, value=value)
    >>> [round(float(v), 3) for v in jon.apply_updates(x, updates)]
    [0.9, -1.9]

  Reference: Hayashi, Koushik & Neubig, "Eve: A Gradient Based Optimization
  Method with Locally and Globally Adaptive Learning Rates" (arXiv:1611.01505).
  """
  _validate.check("eve", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    scale_by_eve(b1, b2, b3, c, eps, eps_root, f_star, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
    scale_by_learning_rate(learning_rate),
  )
