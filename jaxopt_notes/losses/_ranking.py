r"""Listwise ranking loss: softmax cross-entropy between scores and relevance.

Each list is the last axis; leading axes are a batch of lists, reduced by
``reduce_fn`` (the mean by default).
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes.losses import _common


def ranking_softmax_loss(
  logits: Any,
  labels: Any,
  *,
  where: Any | None = None,
  weights: Any | None = None,
  reduce_fn: Callable[..., Any] | None = jnp.mean,
) -> jax.Array:
  r"""Ranking softmax loss $-\sum_i w_i y_i \log \operatorname{softmax}(s)_i$ per list.

  Items outside ``where`` take no part, neither in the softmax nor in the sum;
  a list with no valid item has loss 0 and is left out of the reduction (a
  mean over no list at all is 0, not NaN).

  Args:
    logits: item scores $s$, shape ``[..., list_size]``.
    labels: relevance labels $y$, of the same shape.
    where: optional boolean mask of the valid items.
    weights: optional item weights $w$, of the same shape.
    reduce_fn: reduction of the per-list losses taking a ``where=`` keyword
      (``jnp.mean``, ``jnp.sum``), or None for no reduction.

  Returns:
    The reduced loss, or the loss per list (shape ``[...]``) if ``reduce_fn``
    is None.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import losses
    >>> scores, relevance = jnp.array([2.0, 1.0, 3.0]), jnp.array([1.0, 0.0, 0.0])
    >>> print(f"{losses.ranking_softmax_loss(scores, relevance):.3f}")
    1.408

  References:
    Cao et al., Learning to Rank: From Pairwise Approach to Listwise Approach,
    ICML 2007.
  """
  logits = _common.floating("ranking_softmax_loss", "logits", logits)
  labels = jnp.asarray(labels).astype(logits.dtype)
  if where is not None:
    labels = jnp.where(where, labels, 0.0)
    logits = jnp.where(where, logits, -jnp.inf)
  if weights is not None:
    labels = labels * weights
  log_p = jax.nn.log_softmax(logits, axis=-1)
  if where is not None:
    log_p = jnp.where(where, log_p, 0.0)
  loss = -jnp.sum(labels * log_p, axis=-1)
  lists = None if where is None else jnp.any(where, axis=-1)
  if reduce_fn is None:
    return loss if lists is None else jnp.where(lists, loss, 0.0)
  reduced = reduce_fn(loss, where=lists)
  if reduce_fn is jnp.mean and lists is not None:
    reduced = jnp.where(jnp.any(lists), reduced, 0.0)
  return reduced
