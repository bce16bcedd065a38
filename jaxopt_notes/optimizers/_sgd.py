"""Gradient descent: plain, with momentum (heavy ball or Nesterov), and with noise.

$$
v_t = \\beta v_{t-1} + g_t,\\qquad \\theta_t = \\theta_{t-1} - \\eta v_t
$$

(Nesterov: $\\theta_t = \\theta_{t-1} - \\eta (g_t + \\beta v_t)$). Seed
000 writes the same recursion as $v_t = \\alpha v_{t-1} - \\eta g_t,
\\theta_t = \\theta_{t-1} + v_t$, which is this one with $v$ scaled by
$-\\eta$.
"""

from typing import Any

import jax

from jaxopt_notes import _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule, identity
from jaxopt_notes._combine import chain
from jaxopt_notes.transforms._accumulation import trace
from jaxopt_notes.transforms._adding import add_noise
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


@shared_args
def sgd(
  learning_rate: ScalarOrSchedule,
  momentum: jax.typing.ArrayLike | None = None,
  nesterov: bool = False,
  accumulator_dtype: Any = None,
) -> GradientTransformation:
  """Stochastic gradient descent, with optional (Nesterov) momentum.

  See the module docstring for the update; ``momentum=None`` keeps no state.

  Args:
    momentum: $\\beta$, the decay of the momentum $v_t = \\beta v_{t-1} + g_t$, in [0, 1]; ``None``
      keeps no momentum (and no state).
    nesterov: step with $g_t + \\beta v_t$ (Nesterov) instead of $v_t$ (heavy ball).
    accumulator_dtype: dtype in which the momentum $v_t$ is stored; ``None`` keeps each param's
      dtype.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.sgd(0.1, momentum=0.9)
    >>> params = jnp.array([1.0, -2.0])
    >>> state = opt.init(params)
    >>> updates, state = opt.update(2 * params, state)   # grad of |x|^2
    >>> jon.apply_updates(params, updates)
    Array([ 0.8, -1.6], dtype=float32)

  References: Polyak, 1964; Sutskever et al., 2013.
  """
  _validate.check(
    "sgd", learning_rate=(learning_rate, _validate.FINITE), momentum=(momentum, _validate.UNIT)
  )
  return chain(
    identity()
    if momentum is None
    else trace(decay=momentum, nesterov=nesterov, accumulator_dtype=accumulator_dtype),
    scale_by_learning_rate(learning_rate),
  )


@shared_args(like=add_noise)
def noisy_sgd(
  learning_rate: ScalarOrSchedule,
  eta: jax.typing.ArrayLike = 0.01,
  gamma: jax.typing.ArrayLike = 0.55,
  key: Any = None,
  seed: Any = None,
) -> GradientTransformation:
  """SGD on gradients with annealed Gaussian noise of variance ``eta / t**gamma``.

  See `jaxopt_notes.add_noise`. Reference: Neelakantan et al., 2015,
  "Adding Gradient Noise Improves Learning for Very Deep Networks".
  """
  _validate.check("noisy_sgd", learning_rate=(learning_rate, _validate.FINITE))
  return chain(add_noise(eta, gamma, key=key, seed=seed), scale_by_learning_rate(learning_rate))
