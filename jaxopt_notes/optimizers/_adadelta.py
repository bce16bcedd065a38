"""Adadelta (Zeiler, 2012): steps scaled by the ratio of two running RMS values.

$$
E[g^2]_t = \\rho E[g^2]_{t-1} + (1-\\rho) g_t^2,\\qquad
\\Delta_t = \\frac{\\sqrt{E[\\Delta^2]_{t-1} + \\epsilon_{root}} + \\epsilon}
{\\sqrt{E[g^2]_t + \\epsilon_{root}} + \\epsilon}\\, g_t,
$$

$$
E[\\Delta^2]_t = \\rho E[\\Delta^2]_{t-1} + (1-\\rho)\\Delta_t^2,\\qquad
\\theta_t = \\theta_{t-1} - \\eta\\,\\Delta_t
$$

Zeiler's $\\epsilon$ lives inside both roots (``eps_root``, default
``1e-6``, so the numerator is not zero at the start). The paper has no
learning rate: ``learning_rate=None`` means $\\eta = 1$, and the step
*descends*. (optax's ``adadelta()`` with its default ``learning_rate=None``
moves along ``+g`` and ascends.)
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


class ScaleByAdaDeltaState(NamedTuple):
  """State of `scale_by_adadelta`: running means of squared gradients and squared steps.

  Attributes:
    e_g: $E[g^2]_t$, the running mean of the squared gradients, shaped like params.
    e_x: $E[\\Delta^2]_t$, the running mean of the squared steps, shaped like params.
  """

  e_g: Any  # running mean of squared gradients
  e_x: Any  # running mean of squared steps


def scale_by_adadelta(
  rho: jax.typing.ArrayLike = 0.9,
  eps: jax.typing.ArrayLike = 0.0,
  eps_root: jax.typing.ArrayLike = 1e-6,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Adadelta's scaling $\\Delta_t$ (positive along the gradient); see `adadelta`.

  Args:
    rho: decay rate $\\rho$ of both running means, in [0, 1].
    eps: added outside both square roots (Zeiler has none there); >= 0.
    eps_root: Zeiler's $\\epsilon$, added inside both square roots; > 0 lets the first steps move
      (their numerator is $\\sqrt{\\epsilon_{root}}$).
    nu_dtype: dtype in which both running means are stored; ``None`` keeps each param's dtype.
  """
  _validate.check(
    "scale_by_adadelta",
    rho=(rho, _validate.UNIT),
    eps=(eps, _validate.NONNEGATIVE),
    eps_root=(eps_root, _validate.NONNEGATIVE),
  )

  def init_fn(params):
    zeros = _tree.zeros_like(params, _tree.canonical_dtype(nu_dtype))
    return ScaleByAdaDeltaState(e_g=zeros, e_x=zeros)

  def update_fn(updates, state, params=None):
    del params
    e_g = _moments.update_moment_per_elem_norm(updates, state.e_g, rho, 2)
    step = _tree.map(
      lambda g, eg, ex: (
        _numerics.rms_scale(g, eg, eps, eps_root) * (jnp.sqrt(jnp.real(ex) + eps_root) + eps)
      ),
      updates,
      e_g,
      _moments.widened(state.e_x, updates, nu_dtype),
    )
    e_x = _moments.update_moment_per_elem_norm(step, state.e_x, rho, 2)
    return _tree.cast_like(step, updates), ScaleByAdaDeltaState(
      e_g=_tree.cast_like(e_g, state.e_g), e_x=_tree.cast_like(e_x, state.e_x)
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_adadelta)
def adadelta(
  learning_rate: ScalarOrSchedule | None = None,
  rho: jax.typing.ArrayLike = 0.9,
  eps: jax.typing.ArrayLike = 0.0,
  weight_decay: jax.typing.ArrayLike = 0.0,
  weight_decay_mask: Any = None,
  eps_root: jax.typing.ArrayLike = 1e-6,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Adadelta; the update and the ``learning_rate=None`` rule are in the module docstring.

  Args:
    learning_rate: the step size $\\eta$, a number or a schedule of the step; ``None`` means 1 (the
      paper's method, which descends).

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.adadelta()
    >>> updates, _ = opt.update(jnp.array([2.0]), opt.init(jnp.zeros(1)))
    >>> bool(updates[0] < 0)   # descends along -g
    True

  Reference: Zeiler, 2012, "ADADELTA: An Adaptive Learning Rate Method".
  """
  _validate.check("adadelta", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    add_decayed_weights(weight_decay, mask=weight_decay_mask),
    scale_by_adadelta(rho=rho, eps=eps, eps_root=eps_root, nu_dtype=nu_dtype),
    scale_by_learning_rate(1.0 if learning_rate is None else learning_rate),
  )
