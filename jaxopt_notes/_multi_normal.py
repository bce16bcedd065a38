"""A diagonal Gaussian parameterised by its mean and log standard deviation (``multi_normal``)."""

from collections.abc import Sequence

import jax
import jax.numpy as jnp


class MultiNormalDiagFromLogScale:
  """Independent normals of mean ``loc`` and standard deviation ``exp(log_scale)``.

  Args:
    loc: the means.
    log_scale: the logs of the standard deviations (broadcast against ``loc``).
  """

  def __init__(self, loc: jax.typing.ArrayLike, log_scale: jax.typing.ArrayLike):
    self._mean = jnp.asarray(loc)
    self._log_scale = jnp.asarray(log_scale)
    self._scale = jnp.exp(self._log_scale)
    self._param_shape = jax.lax.broadcast_shapes(self._mean.shape, self._scale.shape)

  def sample(self, shape: Sequence[int], key: jax.Array) -> jax.Array:
    """Samples of shape ``(*shape, *param_shape)``."""
    noise = jax.random.normal(key, (*tuple(shape), *self._param_shape))
    return noise * self._scale + self._mean

  def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
    """The log density of ``x``, summed over the parameter axes."""
    z = (jnp.asarray(x) - self._mean) / self._scale
    per_element = -0.5 * jnp.square(z) - self._log_scale - 0.5 * jnp.log(2 * jnp.pi)
    return jnp.sum(per_element, axis=tuple(range(-len(self._param_shape), 0)))

  @property
  def log_scale(self) -> jax.Array:
    return self._log_scale

  @property
  def params(self) -> Sequence[jax.Array]:
    return [self._mean, self._log_scale]


def multi_normal(
  loc: jax.typing.ArrayLike, log_scale: jax.typing.ArrayLike
) -> MultiNormalDiagFromLogScale:
  """A diagonal Gaussian of mean ``loc`` and standard deviation ``exp(log_scale)``.

  $\\log p(x) = \\sum_i -\\tfrac12 z_i^2 - \\sigma_i - \\tfrac12\\log 2\\pi$ with
  $z_i = (x_i - \\mu_i) e^{-\\sigma_i}$, $\\mu$ = ``loc``, $\\sigma$ = ``log_scale``.

  Args:
    loc: the means.
    log_scale: the logs of the standard deviations.

  Returns:
    An object with ``sample(shape, key)``, ``log_prob(x)``, ``log_scale`` and
    ``params`` (``[loc, log_scale]``).
  """
  return MultiNormalDiagFromLogScale(loc=loc, log_scale=log_scale)
