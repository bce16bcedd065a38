"""Polyak's step size for SGD (Polyak, 1987; Loizou et al., 2021).

With the loss $f(\\theta_t)$ fed as ``update(..., value=loss)`` and a lower
bound $f^\\star$ of the loss:

$$
\\gamma_t = \\min\\left(\\frac{f(\\theta_t) - f^\\star}{\\|g_t\\|^2 + \\epsilon},\\;
\\gamma_{\\max}\\right),\\qquad
\\theta_{t+1} = \\theta_t - c\\,\\gamma_t\\, g_t
$$

$\\|g_t\\|$ is the norm of the whole gradient tree, $c$ the ``scaling``.
``variant='sps+'`` clips the gap $f(\\theta_t) - f^\\star$ at zero (no
ascent when the loss falls below the bound). Where $\\|g_t\\|^2 + \\epsilon$
is exactly 0 the step is 0.
"""

import jax.numpy as jnp

from jaxopt_notes import _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformationExtraArgs, ScalarOrSchedule, init_empty_state
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


def loss_value(owner: str, value, dtype):
  """The scalar loss fed as ``value=``, in ``dtype``; a clear error when it is missing."""
  if value is None:
    raise ValueError(
      f"{owner} needs the loss value at the current params: call "
      "update(grads, state, params, value=loss)"
    )
  value = jnp.asarray(value)
  if value.shape != ():
    raise ValueError(f"{owner}: `value` must be the scalar loss, got shape {value.shape}")
  return value.astype(dtype)


def scale_by_polyak(
  f_min: Float = 0.0, max_learning_rate: Float = 1.0, eps: Float = 0.0, variant: str = "sps"
) -> GradientTransformationExtraArgs:
  """Scales the updates by Polyak's step size $\\gamma_t$; see `polyak_sgd`.

  Args:
    f_min: $f^\\star$, a lower bound of the loss (0 for non-negative losses).
    max_learning_rate: $\\gamma_{\\max}$, the cap of the step size; > 0.
    eps: added to $\\|g_t\\|^2$ in the denominator; >= 0.
    variant: ``'sps'`` (the step may ascend when the loss is below ``f_min``) or ``'sps+'`` (the gap
      is clipped at zero).
  """
  _validate.check_choice("scale_by_polyak", "variant", variant, ("sps", "sps+"))
  _validate.check(
    "scale_by_polyak",
    f_min=(f_min, _validate.FINITE),
    max_learning_rate=(max_learning_rate, _validate.NONNEGATIVE_OR_INF),
    eps=(eps, _validate.NONNEGATIVE),
  )

  def update_fn(updates, state, params=None, *, value=None, **extra_args):
    del params, extra_args
    sq_norm = _tree.norm(updates, squared=True, dtype=_tree.scalar_dtype(updates))
    gap = loss_value("scale_by_polyak", value, sq_norm.dtype) - f_min
    if variant == "sps+":
      gap = jnp.maximum(gap, 0)
    step = jnp.minimum(_numerics.safe_div(gap, sq_norm + eps), max_learning_rate)
    return _tree.map(lambda g: (step * g).astype(g.dtype), updates), state

  return GradientTransformationExtraArgs(init_empty_state, update_fn)


@shared_args(like=scale_by_polyak)
def polyak_sgd(
  max_learning_rate: Float = 1.0,
  scaling: ScalarOrSchedule = 1.0,
  f_min: Float = 0.0,
  eps: Float = 0.0,
  variant: str = "sps",
) -> GradientTransformationExtraArgs:
  """SGD with Polyak's step size (module docstring); ``update`` needs ``value=loss``.

  Unlike optax, which sets the step to 0 once $\\|g\\|^2 + \\epsilon$ falls
  below float epsilon, only an exact 0 stops the step here: a small but
  nonzero gradient still moves by $\\gamma_{\\max} g$.

  Args:
    scaling: $c$, multiplies the step (a number or a schedule of the step); 1 is Polyak's step.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> loss = lambda x: jnp.sum(x ** 2)
    >>> opt = jon.polyak_sgd()
    >>> x = jnp.array([1.0, -2.0]); state = opt.init(x)
    >>> value, grad = jax.value_and_grad(loss)(x)
    >>> updates, state = opt.update(grad, state, x, value=value)
    >>> [round(float(v), 3) for v in jon.apply_updates(x, updates)]   # f / |g|^2 = 1/4
    [0.5, -1.0]

  Reference: Loizou, Vaswani, Laradji & Lacoste-Julien, 2021, "Stochastic
  Polyak Step-size for SGD: An Adaptive Learning Rate for Fast Convergence".
  """
  _validate.check("polyak_sgd", scaling=(scaling, _validate.FINITE))
  return chain(
    scale_by_polyak(f_min, max_learning_rate, eps, variant), scale_by_learning_rate(scaling)
  )
