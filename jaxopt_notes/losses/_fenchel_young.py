r"""Fenchel-Young losses, and the sparsemax losses built on the simplex.

For a regularized max $\Omega^*(s) = \max_{p} \langle p, s\rangle - \Omega(p)$,
the Fenchel-Young loss of scores $s$ against a target $y$ is
$\ell(s, y) = \Omega^*(s) + \Omega(y) - \langle y, s \rangle \ge 0$; its
gradient is $\nabla \Omega^*(s) - y$. ``logsumexp`` gives the softmax
cross-entropy; $\Omega(p) = \tfrac12 \|p\|^2$ on the simplex gives the sparsemax
loss, whose prediction is the Euclidean projection of $s$ onto the simplex.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes import projections


def make_fenchel_young_loss(max_fun: Callable[..., Any]) -> Callable[..., jax.Array]:
  r"""The Fenchel-Young loss $\Omega^*(s) - \langle y, s \rangle$ of a max function.

  The constant $\Omega(y)$ is left out, so the loss is zero at the optimum
  only up to that constant; the gradient in $s$ is exact. The loss works on
  the last axis, with any leading (batch) axes.

  Args:
    max_fun: the regularized max $\Omega^*$, mapping a vector of scores to a
      scalar (for example ``jax.scipy.special.logsumexp``).

  Returns:
    A function ``loss(scores, targets, *args, **kwargs)`` whose extra arguments
    go to ``max_fun``, returning the loss per example.

  Example:
    >>> import jax.numpy as jnp
    >>> from jax.scipy.special import logsumexp
    >>> from jaxopt_notes import losses
    >>> loss = losses.make_fenchel_young_loss(logsumexp)
    >>> print(loss(jnp.array([0.0, 0.0]), jnp.array([1.0, 0.0])).round(4))
    0.6931

  References:
    Blondel, Martins and Niculae, Learning with Fenchel-Young Losses, JMLR 2020.
  """
  max_last_axis = jnp.vectorize(max_fun, signature="(n)->()")

  def fenchel_young_loss(scores, targets, *args, **kwargs):
    return max_last_axis(scores, *args, **kwargs) - jnp.sum(targets * scores, axis=-1)

  return fenchel_young_loss


def sparsemax_loss(logits: Any, labels: Any) -> jax.Array:
  r"""Binary sparsemax loss: the sparse-plus of the logit pointing away from the label.

  With $z = -x$ for label 1 and $z = x$ for label 0,
  $\ell = 0$ if $z \le -1$, $(z + 1)^2 / 4$ if $|z| < 1$, $z$ if $z \ge 1$:
  zero exactly when the sparse sigmoid of $x$ equals the label.

  Args:
    logits: the logit $x$ of each binary prediction.
    labels: labels in $\{0, 1\}$, broadcastable with ``logits``.

  Returns:
    The loss per element.

  References:
    Blondel, Martins and Niculae, Learning with Fenchel-Young Losses, JMLR
    2020, section 4.4.
  """
  logits = jnp.asarray(logits)
  z = jnp.where(labels, -logits, logits)
  return jnp.where(z <= -1, 0.0, jnp.where(z >= 1, z, (z + 1) ** 2 / 4))


_sparsemax = jnp.vectorize(projections.projection_simplex, signature="(n)->(n)")


def multiclass_sparsemax_loss(scores: Any, labels: Any) -> jax.Array:
  r"""Multiclass sparsemax loss $\langle p, s - s_y \rangle + \tfrac12 (1 - \|p\|^2)$.

  $p$ is the sparsemax of $s$, its Euclidean projection onto the simplex; the
  gradient is $p - e_y$, and the loss is zero exactly when $p = e_y$.

  Args:
    scores: class scores $s$, shape ``[..., num_classes]``.
    labels: integer true classes $y \in [0, K)$, shape ``[...]``.

  Returns:
    The loss per example, shape ``[...]``.

  References:
    Martins and Astudillo, From Softmax to Sparsemax: A Sparse Model of
    Attention and Multi-Label Classification, ICML 2016.
  """
  scores = jnp.asarray(scores)
  labels = jnp.asarray(labels)
  p = _sparsemax(scores)
  true = jnp.take_along_axis(scores, labels[..., None], axis=-1)
  # Classes outside the support add nothing, even with a score of -inf.
  gaps = jnp.where(p > 0, scores - true, 0.0)
  return jnp.sum(p * gaps, axis=-1) + 0.5 * (1 - jnp.sum(p * p, axis=-1))
