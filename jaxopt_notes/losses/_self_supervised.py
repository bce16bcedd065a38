r"""Contrastive losses on embeddings: NT-Xent and the triplet margin loss."""

from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from jaxopt_notes.losses import _common
from jaxopt_notes.losses._regression import cosine_similarity


def ntxent(embeddings: Any, labels: Any, temperature: Any = 0.07) -> jax.Array:
  r"""Normalized temperature-scaled cross-entropy (NT-Xent, SimCLR).

  With $s_{ij} = \cos(z_i, z_j) / \tau$, for every positive pair $(i, j)$
  (same label, $i \ne j$) the loss
  $-\log \big(e^{s_{ij}} / (e^{s_{ij}} + \sum_{k:\, y_k \ne y_i} e^{s_{ik}})\big)$,
  averaged over the positive pairs.

  Args:
    embeddings: embeddings $z$, shape ``[batch, dim]``.
    labels: integer group of each embedding, shape ``[batch]``; equal labels
      mark positive pairs.
    temperature: temperature $\tau > 0$.

  Returns:
    The mean loss over positive pairs, a scalar.

  References:
    Chen, Kornblith, Norouzi and Hinton, A Simple Framework for Contrastive
    Learning of Visual Representations, ICML 2020.
  """
  embeddings = _common.floating("ntxent", "embeddings", embeddings)
  labels = jnp.asarray(labels)
  if labels.shape[:1] != embeddings.shape[:1]:
    raise ValueError(
      f"ntxent: `labels` and `embeddings` must have the same leading "
      f"dimension, got shapes {labels.shape} and {embeddings.shape}"
    )
  eps = jnp.finfo(embeddings.dtype).eps
  sim = cosine_similarity(embeddings[None, :, :], embeddings[:, None, :], epsilon=eps)
  sim = sim / temperature
  same = labels[:, None] == labels[None, :]
  positive = same & ~jnp.eye(same.shape[0], dtype=bool)
  negatives = logsumexp(jnp.where(same, -jnp.inf, sim), axis=1, keepdims=True)
  log_prob = sim - jnp.logaddexp(negatives, sim)
  return -jnp.sum(jnp.where(positive, log_prob, 0.0)) / jnp.sum(positive)


def triplet_margin_loss(
  anchors: Any,
  positives: Any,
  negatives: Any,
  axis: int = -1,
  norm_degree: Any = 2,
  margin: Any = 1.0,
  eps: Any = 1e-6,
) -> jax.Array:
  r"""Triplet margin loss $\max(0,\ d(a, p) - d(a, n) + m)$.

  $d(x, y) = (\sum_i |x_i - y_i|^q + \epsilon)^{1/q}$, the $q$-norm distance
  along ``axis``, smoothed by $\epsilon$.

  Args:
    anchors: anchor embeddings $a$, shape ``[batch, dim]``.
    positives: embeddings $p$ similar to the anchors, of the same shape.
    negatives: embeddings $n$ dissimilar to the anchors, of the same shape.
    axis: the embedding axis.
    norm_degree: the degree $q$ of the distance.
    margin: the margin $m$ by which $d(a, n)$ should exceed $d(a, p)$.
    eps: $\epsilon$, which keeps the distance differentiable at 0.

  Returns:
    The loss per triplet: the shape without ``axis``.

  References:
    Balntas, Riba, Ponsa and Mikolajczyk, Learning Local Feature Descriptors
    with Triplets and Shallow Convolutional Neural Networks, BMVC 2016.
  """
  owner = "triplet_margin_loss"
  anchors = _common.floating(owner, "anchors", anchors)
  positives = _common.floating(owner, "positives", positives)
  negatives = _common.floating(owner, "negatives", negatives)

  def distance(x, y):
    return (jnp.sum(jnp.abs(x - y) ** norm_degree, axis=axis) + eps) ** (1 / norm_degree)

  return jnp.maximum(distance(anchors, positives) - distance(anchors, negatives) + margin, 0)
