r"""Margin losses: hinge and perceptron, binary and multiclass.

Binary, with outputs $f$ and targets $t \in \{-1, 1\}$: the hinge loss
$\max(0, 1 - f t)$ asks for a margin of 1, the perceptron loss $\max(0, -f t)$
only for the right sign. Multiclass, with scores $s$ and the true class $y$:
$\max_k (s_k + [k \ne y]) - s_y$ and $\max_k s_k - s_y$.
"""

from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes.losses import _common


def hinge_loss(predictor_outputs: Any, targets: Any) -> jax.Array:
  r"""Binary hinge loss $\max(0, 1 - f t)$.

  Args:
    predictor_outputs: decision values $f$.
    targets: targets $t \in \{-1, 1\}$, broadcastable with ``predictor_outputs``.

  Returns:
    The loss per element.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import losses
    >>> print(losses.hinge_loss(jnp.array([2.0, 0.5, -1.0]), jnp.array([1.0, 1.0, 1.0])))
    [0.  0.5 2. ]
  """
  return jnp.maximum(0, 1 - predictor_outputs * targets)


def perceptron_loss(predictor_outputs: Any, targets: Any) -> jax.Array:
  r"""Binary perceptron loss $\max(0, -f t)$.

  Args:
    predictor_outputs: decision values $f$.
    targets: targets $t \in \{-1, 1\}$, of ``predictor_outputs``' shape.

  Returns:
    The loss per element.

  References:
    Rosenblatt, The Perceptron, Psychological Review, 1958.
  """
  _common.same_shape("perceptron_loss", predictor_outputs=predictor_outputs, targets=targets)
  return jnp.maximum(0, -predictor_outputs * targets)


def _true_score(scores: jnp.ndarray, labels: Any) -> tuple[jnp.ndarray, jnp.ndarray]:
  """The one-hot of ``labels`` (all zeros for a label outside ``[0, K)``) and $s_y$."""
  one_hot = jax.nn.one_hot(labels, scores.shape[-1], dtype=scores.dtype)
  return one_hot, jnp.sum(scores * one_hot, axis=-1)


def multiclass_hinge_loss(scores: Any, labels: Any) -> jax.Array:
  r"""Multiclass hinge loss $\max_k (s_k + [k \ne y]) - s_y$.

  Zero when the true class beats every other by a margin of 1 (Crammer and
  Singer, 2001).

  Args:
    scores: class scores $s$, shape ``[..., num_classes]``.
    labels: integer true classes $y$, shape ``[...]``.

  Returns:
    The loss per example, shape ``[...]``.
  """
  scores = jnp.asarray(scores)
  one_hot, true = _true_score(scores, labels)
  return jnp.max(scores + 1 - one_hot, axis=-1) - true


def multiclass_perceptron_loss(scores: Any, labels: Any) -> jax.Array:
  r"""Multiclass perceptron loss $\max_k s_k - s_y$.

  Args:
    scores: class scores $s$, shape ``[..., num_classes]``.
    labels: integer true classes $y$, shape ``[...]``.

  Returns:
    The loss per example, shape ``[...]``.

  References:
    Collins, Discriminative Training Methods for Hidden Markov Models, EMNLP 2002.
  """
  scores = jnp.asarray(scores)
  _, true = _true_score(scores, labels)
  return jnp.max(scores, axis=-1) - true
