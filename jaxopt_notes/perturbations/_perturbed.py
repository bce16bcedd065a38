r"""Smoothing a function by random perturbations of its input, with gradients of the smoothing.

For a function $f$, a noise distribution $\mu$ with density $p$ and a scale
$\sigma$, the smoothed function is

$$f_\sigma(x) = \mathbb{E}_{z \sim \mu}\big[f(x + \sigma z)\big].$$

Writing $y = x + \sigma z$, $f_\sigma(x) = \int f(y)\, p\big((y - x)/\sigma\big)
\,dy / \sigma^d$, so its derivatives fall on the density, not on $f$:

$$\nabla f_\sigma(x) = -\frac{1}{\sigma}\,
\mathbb{E}_z\big[f(x + \sigma z)\, \nabla \log p(z)\big],$$

which needs only values of $f$, even one that is piecewise constant (an
argmax, a ranking, a solver's output).
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes import _random, _validate


class _StandardNoise:
  """A standard (unit-scale) noise: ``sample`` draws it, ``log_prob`` scores it."""

  _draw: Callable[..., jax.Array]
  _log_density: Callable[[jax.Array], jax.Array]

  def sample(
    self, key: jax.Array, sample_shape: tuple[int, ...] = (), dtype: Any = float
  ) -> jax.Array:
    """Draws independent numbers from this distribution.

    Args:
      key: the PRNG key.
      sample_shape: the shape of the array drawn.
      dtype: its floating-point dtype.

    Returns:
      An array of shape ``sample_shape`` and dtype ``dtype``.
    """
    return self._draw(key, sample_shape, dtype)

  def log_prob(self, inputs: jax.Array) -> jax.Array:
    """The log-density at each entry, up to an additive constant.

    Args:
      inputs: the points $z$.

    Returns:
      An array shaped like ``inputs``.
    """
    return self._log_density(inputs)


class Normal(_StandardNoise):
  r"""The standard normal distribution, as a noise for `make_perturbed_fun`.

  ``sample(key, sample_shape=(), dtype=float)`` draws it; ``log_prob(z)`` is
  $\log p(z) = -z^2 / 2$ (up to a constant), so the gradient estimate weights
  each sample by $z$.
  """

  _draw = staticmethod(jax.random.normal)
  _log_density = staticmethod(lambda z: -0.5 * jnp.square(z))


class Gumbel(_StandardNoise):
  r"""The standard Gumbel distribution, as a noise for `make_perturbed_fun`.

  ``sample(key, sample_shape=(), dtype=float)`` draws it; ``log_prob(z)`` is
  $\log p(z) = -z - e^{-z}$. Adding Gumbel noise to scores and taking the
  argmax samples from their softmax (the Gumbel-max trick).
  """

  _draw = staticmethod(jax.random.gumbel)
  _log_density = staticmethod(lambda z: -z - jnp.exp(-z))


def _score_weight(log_prob: jax.Array) -> jax.Array:
  """1 in value, with derivative ``d log_prob``: ``exp(l - stop_gradient(l))`` (DiCE)."""
  return jnp.exp(log_prob - jax.lax.stop_gradient(log_prob))


def make_perturbed_fun(
  fun: Callable[[Any], Any],
  num_samples: int = 1000,
  sigma: Any = 0.1,
  noise: Any = Gumbel(),
  use_baseline: bool = True,
) -> Callable[[jax.Array, Any], Any]:
  r"""A Monte Carlo estimate of a smoothed function, differentiable to any order.

  The returned function draws $z_1, \dots, z_N$ from ``noise`` and returns

  $$\hat f_\sigma(x) = \frac1N \sum_{k=1}^N \Big(w_k\, f(y_k)
  + (1 - w_k)\, b\Big),\qquad y_k = x + \sigma z_k,\quad
  w_k = e^{\ell_k - \bot(\ell_k)},\quad \ell_k = \log p\big((\bot(y_k) - x)/\sigma\big)$$

  where $\bot$ stops gradients, so $w_k = 1$ in value and the value is the
  plain average of $f(y_k)$, while ``jax.grad`` (and higher derivatives) of it
  are unbiased estimates of those of
  $f_\sigma(x) = \mathbb{E}_z f(x + \sigma z)$ by the score function
  (REINFORCE) estimator. $f$ is only evaluated, never differentiated. The
  baseline $b = f(x)$ (when ``use_baseline``) changes no expectation but
  lowers the variance of the derivatives.

  Args:
    fun: $f$, from a pytree of float arrays to a pytree of arrays.
    num_samples: $N$, the number of perturbations averaged.
    sigma: $\sigma$, the scale of the perturbation (nonzero).
    noise: the distribution of $z$: an object with ``sample(key, shape,
      dtype)`` and ``log_prob(z)``, such as `Gumbel` (the default) or `Normal`.
    use_baseline: subtract $f(x)$ inside the estimate of the derivatives.

  Returns:
    A function ``(key, x) -> estimate`` with the output structure of ``fun``;
    the same ``key`` gives the same perturbations.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxopt_notes.perturbations import Normal, make_perturbed_fun
    >>> f = lambda x: jnp.sum(jnp.maximum(x, 0.0))
    >>> smooth = make_perturbed_fun(f, num_samples=20_000, sigma=0.5, noise=Normal())
    >>> g = jax.grad(smooth, argnums=1)(jax.random.key(0), jnp.zeros(2))
    >>> bool(jnp.all(jnp.abs(g - 0.5) < 0.05))  # the derivative of E relu(x + z/2) at 0
    True

  References:
    Berthet et al., 2020, `Learning with Differentiable Perturbed Optimizers
    <https://arxiv.org/abs/2002.08676>`_; Foerster et al., 2018, `DiCE: The
    Infinitely Differentiable Monte Carlo Estimator
    <https://arxiv.org/abs/1802.05098>`_.
  """
  _validate.check_positive_int("make_perturbed_fun", "num_samples", num_samples)
  _validate.check("make_perturbed_fun", sigma=(sigma, _validate.FINITE))
  if (
    not isinstance(sigma, jax.core.Tracer)
    and not callable(sigma)
    and bool(jnp.any(jnp.asarray(sigma) == 0))
  ):
    raise ValueError("make_perturbed_fun: argument `sigma` must be nonzero; got 0")
  if not (callable(getattr(noise, "sample", None)) and callable(getattr(noise, "log_prob", None))):
    raise TypeError(
      "make_perturbed_fun: argument `noise` must have methods `sample(key, "
      f"shape, dtype)` and `log_prob(z)`, like Gumbel() or Normal(); got {noise!r}"
    )

  def one_sample(key, x, baseline):
    z = _random.random_like(key, x, sampler=noise.sample)
    y = jax.lax.stop_gradient(jax.tree.map(lambda xi, zi: xi + sigma * zi, x, z))
    z = jax.tree.map(lambda xi, yi: (yi - xi) / sigma, x, y)  # z again, carrying d/dx
    weight = _score_weight(
      sum(jnp.sum(lp) for lp in jax.tree.leaves(jax.tree.map(noise.log_prob, z)))
    )
    # Plain tree maps: `fun` may return integers (a one-hot argmax, say).
    if baseline is None:
      return jax.tree.map(lambda v: weight * v, fun(y))
    return jax.tree.map(lambda v, b: weight * v + (1 - weight) * b, fun(y), baseline)

  def perturbed(key: jax.Array, x: Any) -> Any:
    baseline = fun(jax.lax.stop_gradient(x)) if use_baseline else None
    keys = jax.random.split(key, num_samples)
    values = jax.vmap(one_sample, in_axes=(0, None, None))(keys, x, baseline)
    return jax.tree.map(lambda v: jnp.mean(v, axis=0), values)

  return perturbed
