r"""Cross-entropy losses: softmax over classes, sigmoid per element, label smoothing.

For logits $x$ and target probabilities $y$ over the classes,

$$
\ell(x, y) = -\sum_k y_k \log \operatorname{softmax}(x)_k
           = -\sum_k y_k \Big(x_k - \log \sum_j e^{x_j}\Big),
$$

computed with a max-shifted log-sum-exp, so large logits neither overflow nor
lose digits. The sigmoid losses treat every element as its own two-class
problem, with $\log \sigma(x)$ and $\log(1 - \sigma(x)) = \log \sigma(-x)$ both
taken from ``jax.nn.log_sigmoid``.
"""

from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from jaxopt_notes.losses import _common
from jaxopt_notes.losses._common import Axis


def softmax_cross_entropy(
  logits: Any, labels: Any, axis: Axis = -1, where: Any = None
) -> jax.Array:
  r"""Cross-entropy between target distributions and the softmax of logits.

  $\ell = -\sum_k y_k \log \operatorname{softmax}(x)_k$ over the class axis
  ``axis``; with ``where``, the classes outside the mask take no part, neither
  in the softmax nor in the sum. A logit of $-\infty$ with label 0 gives NaN
  (as $0 \cdot (-\infty)$); `safe_softmax_cross_entropy` gives 0 there.

  Args:
    logits: unnormalized log-probabilities $x$, shape ``[..., num_classes]``.
    labels: target probabilities $y$ (one-hot or smoothed), broadcastable to
      ``logits``.
    axis: the class axis, or a tuple of axes.
    where: optional boolean mask of the classes to include, of the shape of
      ``logits`` or of ``logits`` without the class axes.

  Returns:
    The loss per example: ``logits``' shape without ``axis``.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import losses
    >>> logits = jnp.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> labels = jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> print(losses.softmax_cross_entropy(logits, labels).round(4))
    [0.2395 1.0986]
  """
  logits = _common.floating("softmax_cross_entropy", "logits", logits)
  where = _common.mask_like(where, logits, axis)
  log_p = jax.nn.log_softmax(logits, axis=axis, where=where)
  return -jnp.sum(labels * log_p, axis=axis, where=where)


def _classes_last(x: jnp.ndarray, axes: tuple[int, ...]) -> jnp.ndarray:
  """Moves ``axes`` to the end (in the order given) and flattens them into one."""
  batch = tuple(a for a in range(x.ndim) if a not in axes)
  x = jnp.transpose(x, batch + axes)
  return x.reshape(x.shape[: len(batch)] + (-1,))


def softmax_cross_entropy_with_integer_labels(
  logits: Any, labels: Any, axis: Axis = -1, where: Any = None
) -> jax.Array:
  r"""Softmax cross-entropy with the target class given as an integer.

  $\ell = \log \sum_k e^{x_k} - x_y$, which equals `softmax_cross_entropy`
  with one-hot labels without building them. With a tuple ``axis``, a label
  is a flat (row-major) index into the slice of those axes. As with
  ``jnp.take_along_axis``, a label in $[-K, 0)$ counts from the end and a
  label outside $[-K, K)$ gives NaN.

  Args:
    logits: unnormalized log-probabilities $x$, shape ``[..., num_classes]``.
    labels: integer classes $y$, ``logits``' shape without ``axis``.
    axis: the class axis, or a tuple of axes.
    where: optional boolean mask of the classes to include in the
      normalizer, of the shape of ``logits`` or of ``logits`` without the class
      axes; an example with no class included has loss 0.

  Returns:
    The loss per example, of ``labels``' shape.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import losses
    >>> logits = jnp.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> loss = losses.softmax_cross_entropy_with_integer_labels(logits, jnp.array([0, 1]))
    >>> print(loss.round(4))
    [0.2395 1.0986]
  """
  owner = "softmax_cross_entropy_with_integer_labels"
  logits = _common.floating(owner, "logits", logits)
  labels = _common.integer(owner, "labels", labels)
  where = _common.mask_like(where, logits, axis)
  axes = _common.normalize_axes(owner, axis, logits.ndim)
  if isinstance(axis, tuple):
    logits = _classes_last(logits, axes)
    where = None if where is None else _classes_last(where, axes)
    class_axis = logits.ndim - 1
  else:
    class_axis = axes[0]
  picked = jnp.take_along_axis(logits, jnp.expand_dims(labels, class_axis), axis=class_axis)
  loss = logsumexp(logits, axis=class_axis, where=where) - jnp.squeeze(picked, class_axis)
  if where is not None:
    loss = jnp.where(jnp.any(where, axis=class_axis), loss, 0.0)
  return loss


def safe_softmax_cross_entropy(logits: Any, labels: Any) -> jax.Array:
  r"""Softmax cross-entropy with $0 \log 0 = 0$, so $-\infty$ logits are allowed.

  $\ell = -\sum_{k:\, y_k \ne 0} y_k \log \operatorname{softmax}(x)_k$ over the
  last axis: classes with label 0 add nothing even where their logit is
  $-\infty$ (a masked vocabulary), and the gradient stays finite there.

  Args:
    logits: unnormalized log-probabilities $x$, shape ``[..., num_classes]``.
    labels: target probabilities $y$, broadcastable to ``logits``.

  Returns:
    The loss per example, shape ``[...]``.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import losses
    >>> logits = jnp.array([0.0, 0.0, -jnp.inf])
    >>> loss = losses.safe_softmax_cross_entropy(logits, jnp.array([1.0, 0.0, 0.0]))
    >>> print(loss.round(4))
    0.6931
  """
  logits = _common.floating("safe_softmax_cross_entropy", "logits", logits)
  log_p = jax.nn.log_softmax(logits, axis=-1)
  counted = labels != 0
  return -jnp.sum(labels * jnp.where(counted, log_p, 0.0), axis=-1)


def poly_loss_cross_entropy(
  logits: Any, labels: Any, *, epsilon: Any = 2.0, axis: Axis = -1, where: Any = None
) -> jax.Array:
  r"""PolyLoss: cross-entropy plus $\epsilon$ times the first polynomial term.

  $\ell = \text{CE}(x, y) + \epsilon \sum_k y_k \big(1 - \operatorname{softmax}(x)_k\big)$
  (Leng et al. 2022, Poly-1). $\epsilon = 0$ gives the cross-entropy.

  Args:
    logits: unnormalized log-probabilities $x$, shape ``[..., num_classes]``.
    labels: target probabilities $y$ (floats), broadcastable to ``logits``.
    epsilon: weight $\epsilon$ of the term $1 - p_t$ (2 for ImageNet in the
      paper, -1 for detection).
    axis: the class axis, or a tuple of axes.
    where: optional boolean mask of the classes to include, of ``logits``'
      shape.

  Returns:
    The loss per example: ``logits``' shape without ``axis``.

  References:
    Leng et al., PolyLoss: A Polynomial Expansion Perspective of
    Classification Loss Functions, ICLR 2022.
  """
  owner = "poly_loss_cross_entropy"
  logits = _common.floating(owner, "logits", logits)
  labels = _common.floating(owner, "labels", labels)
  p = jax.nn.softmax(logits, axis=axis, where=where)
  first_term = jnp.sum(labels * (1 - p), axis=axis, where=where)
  return softmax_cross_entropy(logits, labels, axis=axis, where=where) + epsilon * first_term


def sigmoid_binary_cross_entropy(logits: Any, labels: Any) -> jax.Array:
  r"""Binary cross-entropy of each element, from logits.

  $\ell = -y \log \sigma(x) - (1 - y) \log \sigma(-x)$ element-wise, with
  $\sigma$ the logistic function: independent yes/no predictions (multi-label
  classification), or soft targets $y \in [0, 1]$.

  Args:
    logits: the logit $x$ of each binary prediction.
    labels: targets $y$ in $\{0, 1\}$ or probabilities in $[0, 1]$,
      broadcastable with ``logits``; cast to ``logits``' dtype.

  Returns:
    The loss per element, of the broadcast shape.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import losses
    >>> loss = losses.sigmoid_binary_cross_entropy(jnp.array([0.0, 2.0]), jnp.array([1.0, 0.0]))
    >>> print(loss.round(4))
    [0.6931 2.1269]
  """
  logits = _common.floating("sigmoid_binary_cross_entropy", "logits", logits)
  labels = jnp.asarray(labels).astype(logits.dtype)
  return -labels * jax.nn.log_sigmoid(logits) - (1 - labels) * jax.nn.log_sigmoid(-logits)


def sigmoid_focal_loss(
  logits: Any, labels: Any, *, alpha: Any | None = None, gamma: Any = 2.0
) -> jax.Array:
  r"""Focal loss: binary cross-entropy scaled down on confident predictions.

  $\ell = \alpha_t (1 - p_t)^\gamma \, \text{BCE}(x, y)$ with $p = \sigma(x)$,
  $1 - p_t = (1 - y) p + y (1 - p)$ and $\alpha_t = \alpha y + (1 - \alpha)(1 - y)$
  ($\alpha_t = 1$ when ``alpha`` is None). $(1 - p_t)^\gamma$ is computed as
  $\exp(\gamma \log(1 - p_t))$ from the log-sigmoids, so it stays accurate for
  large logits and $\gamma < 1$.

  Args:
    logits: the logit $x$ of each binary prediction.
    labels: targets $y$ in $\{0, 1\}$ or probabilities in $[0, 1]$,
      broadcastable with ``logits``.
    alpha: optional weight $\alpha \in (0, 1)$ of the positive class.
    gamma: focusing exponent $\gamma \ge 0$; 0 gives the cross-entropy.

  Returns:
    The loss per element, of the broadcast shape.

  References:
    Lin et al., Focal Loss for Dense Object Detection, ICCV 2017.
  """
  logits = _common.floating("sigmoid_focal_loss", "logits", logits)
  labels = jnp.asarray(labels).astype(logits.dtype)
  log_p, log_not_p = jax.nn.log_sigmoid(logits), jax.nn.log_sigmoid(-logits)
  # log(1 - p_t) = log((1 - y) p + y (1 - p)), summed in log space.
  log_miss = logsumexp(jnp.stack([log_p, log_not_p]), axis=0, b=jnp.stack([1 - labels, labels]))
  loss = jnp.exp(gamma * log_miss) * sigmoid_binary_cross_entropy(logits, labels)
  if alpha is None:
    return loss
  return (alpha * labels + (1 - alpha) * (1 - labels)) * loss


def smooth_labels(labels: Any, alpha: Any, *, axis: Axis = -1, where: Any = None) -> jax.Array:
  r"""Label smoothing: mixes the targets with the uniform distribution.

  $\tilde y = (1 - \alpha) y + \alpha / K$ with $K$ the number of classes along
  ``axis`` (with ``where``, the number of classes in the mask).

  Args:
    labels: one-hot (or any) target probabilities $y$, floats.
    alpha: smoothing weight $\alpha \in [0, 1]$.
    axis: the class axis, or a tuple of axes.
    where: optional boolean mask of the classes that count in $K$.

  Returns:
    The smoothed labels, of ``labels``' shape.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import losses
    >>> print(losses.smooth_labels(jnp.array([1.0, 0.0, 0.0, 0.0]), 0.2))
    [0.85 0.05 0.05 0.05]

  References:
    Müller, Kornblith and Hinton, When Does Label Smoothing Help?, NeurIPS 2019.
  """
  labels = _common.floating("smooth_labels", "labels", labels)
  if where is None:
    classes = jnp.size(labels, axis)
  else:
    classes = jnp.sum(where, axis=axis, keepdims=True).astype(labels.dtype)
  return (1 - alpha) * labels + alpha / classes
