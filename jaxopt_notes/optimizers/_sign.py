"""Sign-based descent: signSGD and Signum (Bernstein et al., 2018).

$$
\\text{signSGD:}\\quad \\theta_t = \\theta_{t-1} - \\eta\\,\\operatorname{sign}(g_t)
$$

$$
\\text{Signum:}\\quad m_t = \\beta m_{t-1} + (1-\\beta) g_t,\\qquad
\\theta_t = \\theta_{t-1} - \\eta\\,\\operatorname{sign}(m_t)
$$

Every coordinate moves by exactly the learning rate, whatever the gradient's
size. Signum's momentum needs no debiasing: dividing by $1-\\beta^t$ does not
change a sign.
"""

from typing import Any

import jax.numpy as jnp

from jaxopt_notes import _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule, init_empty_state
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float
from jaxopt_notes.transforms._accumulation import ema
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


def scale_by_sign() -> GradientTransformation:
  """Replaces each update by its sign (``0`` stays ``0``); see `sign_sgd`."""

  def update_fn(updates, state, params=None):
    del params
    return _tree.map(jnp.sign, updates), state

  return GradientTransformation(init_empty_state, update_fn)


@shared_args
def sign_sgd(learning_rate: ScalarOrSchedule) -> GradientTransformation:
  """signSGD (module docstring): each coordinate steps by ``learning_rate``.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.sign_sgd(0.1)
    >>> u, _ = opt.update(jnp.array([3.0, -1e-4, 0.0]), opt.init(jnp.zeros(3)))
    >>> [round(float(x), 6) + 0 for x in u]  # + 0 turns -0.0 into 0.0
    [-0.1, 0.1, 0.0]

  Reference: Bernstein, Wang, Azizzadenesheli & Anandkumar, 2018, "signSGD:
  Compressed Optimisation for Non-Convex Problems".
  """
  _validate.check("sign_sgd", learning_rate=(learning_rate, _validate.FINITE))
  return chain(scale_by_sign(), scale_by_learning_rate(learning_rate))


@shared_args
def signum(
  learning_rate: ScalarOrSchedule, beta: Float = 0.9, accumulator_dtype: Any = None
) -> GradientTransformation:
  """Signum (module docstring): the sign of a momentum of decay ``beta``.

  ``accumulator_dtype`` stores the momentum (e.g. ``jnp.bfloat16``). Reference:
  Bernstein et al., 2018 (see `sign_sgd`).

  Args:
    beta: $\\beta$, the decay of the momentum $m_t$, in [0, 1].
    accumulator_dtype: dtype in which the momentum is stored (e.g. ``jnp.bfloat16``); ``None`` keeps
      each param's dtype.
  """
  _validate.check(
    "signum", learning_rate=(learning_rate, _validate.FINITE), beta=(beta, _validate.UNIT)
  )
  return chain(
    ema(beta, debias=False, accumulator_dtype=accumulator_dtype),
    scale_by_sign(),
    scale_by_learning_rate(learning_rate),
  )
