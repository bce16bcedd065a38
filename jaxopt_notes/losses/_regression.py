r"""Regression losses on errors $e = \hat y - y$, and cosine similarity.

Element-wise: the squared error $e^2$ ($|e|^2$ for complex inputs), half of it
(`l2_loss`), Huber's loss (quadratic near 0, linear beyond $\delta$) and
$\log\cosh e$. ``targets=None`` means targets of zero.
"""

import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes.losses import _common
from jaxopt_notes.losses._common import Axis


def _errors(owner: str, predictions: Any, targets: Any, complex_ok: bool = False) -> jnp.ndarray:
  """$e = \\hat y - y$, with the dtype and shape checks of the element-wise losses."""
  predictions = jnp.asarray(predictions)
  if not (complex_ok and jnp.iscomplexobj(predictions)):
    predictions = _common.floating(owner, "predictions", predictions)
  if targets is None:
    return predictions
  _common.same_shape(owner, predictions=predictions, targets=targets)
  return predictions - targets


def squared_error(predictions: Any, targets: Any | None = None) -> jax.Array:
  r"""Squared error $(\hat y - y)^2$ of each element ($|\hat y - y|^2$ if complex).

  Its mean is the mean squared error.

  Args:
    predictions: predictions $\hat y$, real or complex.
    targets: targets $y$ of ``predictions``' shape, or None for zeros.

  Returns:
    The loss per element, of ``predictions``' shape (real for complex input).

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import losses
    >>> print(losses.squared_error(jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0])))
    [1. 4.]
  """
  e = _errors("squared_error", predictions, targets, complex_ok=True)
  if jnp.iscomplexobj(e):
    return jnp.real(e) ** 2 + jnp.imag(e) ** 2
  return e**2


def l2_loss(predictions: Any, targets: Any | None = None) -> jax.Array:
  r"""Half the squared error, $\tfrac12 (\hat y - y)^2$ ($\tfrac12 |\hat y - y|^2$ if complex).

  Args:
    predictions: predictions $\hat y$, real or complex.
    targets: targets $y$ of ``predictions``' shape, or None for zeros.

  Returns:
    The loss per element, of ``predictions``' shape.
  """
  return 0.5 * squared_error(predictions, targets)


def huber_loss(predictions: Any, targets: Any | None = None, *, delta: Any = 1.0) -> jax.Array:
  r"""Huber loss: $\tfrac12 e^2$ for $|e| \le \delta$, $\delta (|e| - \tfrac12 \delta)$ beyond.

  Its gradient is the error clipped to $[-\delta, \delta]$.

  Args:
    predictions: predictions $\hat y$.
    targets: targets $y$, broadcastable with ``predictions``, or None for zeros.
    delta: the error $\delta > 0$ where the loss turns from quadratic to linear.

  Returns:
    The loss per element.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import losses
    >>> print(losses.huber_loss(jnp.array([0.5, -3.0])))
    [0.125 2.5  ]

  References:
    Huber, Robust Estimation of a Location Parameter, Annals of Mathematical
    Statistics, 1964.
  """
  predictions = _common.floating("huber_loss", "predictions", predictions)
  e = predictions if targets is None else predictions - targets
  size = jnp.abs(e)
  return jnp.where(size <= delta, 0.5 * e**2, delta * (size - 0.5 * delta))


def log_cosh(predictions: Any, targets: Any | None = None) -> jax.Array:
  r"""Log-cosh loss $\log\cosh(e) = |e| + \log(1 + e^{-2|e|}) - \log 2$.

  About $\tfrac12 e^2$ near 0 and $|e| - \log 2$ far from it, twice
  differentiable; the second form never overflows.

  Args:
    predictions: predictions $\hat y$.
    targets: targets $y$, broadcastable with ``predictions``, or None for zeros.

  Returns:
    The loss per element.

  References:
    Chen et al., Log Hyperbolic Cosine Loss Improves Variational Auto-Encoder,
    2019.
  """
  predictions = _common.floating("log_cosh", "predictions", predictions)
  size = jnp.abs(predictions if targets is None else predictions - targets)
  return size + jnp.log1p(jnp.exp(-2 * size)) - math.log(2)


def cosine_similarity(
  predictions: Any, targets: Any, *, epsilon: Any = 0.0, axis: Axis = -1, where: Any = None
) -> jax.Array:
  r"""Cosine of the angle between vectors, $\langle a, b\rangle / (\|a\| \|b\|)$.

  Each squared norm is first raised to at least $\epsilon$:
  $\langle a, b\rangle / \sqrt{\max(\|a\|^2, \epsilon) \max(\|b\|^2, \epsilon)}$.

  Args:
    predictions: vectors $a$, shape ``[..., dim]``.
    targets: vectors $b$, of the same shape.
    epsilon: lower bound $\epsilon \ge 0$ of each squared norm (0 gives NaN for
      a zero vector).
    axis: the axis, or tuple of axes, holding the vectors.
    where: optional boolean mask of the entries to include.

  Returns:
    The similarity per vector: the shape without ``axis``.
  """
  a = _common.floating("cosine_similarity", "predictions", predictions)
  b = _common.floating("cosine_similarity", "targets", targets)

  def norm(x):
    return jnp.sqrt(jnp.maximum(jnp.sum(x * x, axis=axis, where=where), epsilon))

  return jnp.sum(a * b, axis=axis, where=where) / (norm(a) * norm(b))


def cosine_distance(
  predictions: Any, targets: Any, *, epsilon: Any = 0.0, axis: Axis = -1, where: Any = None
) -> jax.Array:
  r"""Cosine distance $1 - \cos(a, b)$, in $[0, 2]$.

  Args:
    predictions: vectors $a$, shape ``[..., dim]``.
    targets: vectors $b$, of the same shape.
    epsilon: lower bound of each squared norm (see `cosine_similarity`).
    axis: the axis, or tuple of axes, holding the vectors.
    where: optional boolean mask of the entries to include.

  Returns:
    The distance per vector: the shape without ``axis``.
  """
  return 1 - cosine_similarity(predictions, targets, epsilon=epsilon, axis=axis, where=where)
