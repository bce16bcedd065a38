r"""Kullback-Leibler divergences between a target and a predicted distribution.

With predicted log-probabilities $\log q$ and targets $p$ over the axis ``axis``,
$\mathrm{KL}(p \| q) = \sum_k p_k (\log p_k - \log q_k)$, with the convention
$0 \log 0 = 0$: a class with target 0 adds nothing, even where its predicted
log-probability is $-\infty$. The generalized divergence
$\sum_k p_k (\log p_k - \log q_k) - p_k + q_k$ (the Bregman divergence of
$x \log x - x$) also compares unnormalized measures.
"""

import warnings
from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes.losses import _common
from jaxopt_notes.losses._common import Axis


def kl_divergence(
  log_predictions: Any, targets: Any, axis: Axis = -1, where: Any = None
) -> jax.Array:
  r"""Kullback-Leibler divergence $\sum_k p_k (\log p_k - \log q_k)$ of targets from predictions.

  Args:
    log_predictions: predicted log-probabilities $\log q$, shape ``[..., dim]``.
    targets: target probabilities $p \ge 0$, of the same shape.
    axis: the axis, or tuple of axes, holding the distribution.
    where: optional boolean mask of the entries to include in the sum.

  Returns:
    The divergence per example: the shape without ``axis``.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import losses
    >>> log_q = jnp.log(jnp.array([0.5, 0.5]))
    >>> print(losses.kl_divergence(log_q, jnp.array([1.0, 0.0])).round(4))
    0.6931

  References:
    Kullback and Leibler, On Information and Sufficiency, Annals of
    Mathematical Statistics, 1951.
  """
  log_predictions = _common.floating("kl_divergence", "log_predictions", log_predictions)
  targets = _common.floating("kl_divergence", "targets", targets)
  absent = targets == 0
  log_targets = jnp.log(jnp.where(absent, 1, targets))
  terms = jnp.where(absent, 0.0, targets * (log_targets - log_predictions))
  return jnp.sum(terms, axis=axis, where=where)


def kl_divergence_with_log_targets(
  log_predictions: Any, log_targets: Any, axis: Axis = -1, where: Any = None
) -> jax.Array:
  r"""Kullback-Leibler divergence with the targets given as log-probabilities.

  $\sum_k e^{\log p_k} (\log p_k - \log q_k)$; a target of $-\infty$ adds nothing.

  Args:
    log_predictions: predicted log-probabilities $\log q$, shape ``[..., dim]``.
    log_targets: target log-probabilities $\log p$, of the same shape.
    axis: the axis, or tuple of axes, holding the distribution.
    where: optional boolean mask of the entries to include in the sum.

  Returns:
    The divergence per example: the shape without ``axis``.
  """
  owner = "kl_divergence_with_log_targets"
  log_predictions = _common.floating(owner, "log_predictions", log_predictions)
  log_targets = _common.floating(owner, "log_targets", log_targets)
  absent = log_targets == -jnp.inf
  safe = jnp.where(absent, 0.0, log_targets)
  terms = jnp.where(absent, 0.0, jnp.exp(safe) * (safe - log_predictions))
  return jnp.sum(terms, axis=axis, where=where)


def generalized_kl_divergence(
  log_predictions: Any, targets: Any, axis: Axis = -1, where: Any = None
) -> jax.Array:
  r"""Generalized KL divergence $\sum_k p_k (\log p_k - \log q_k) - p_k + q_k$.

  The Bregman divergence of $x \log x - x$: defined for unnormalized $p$ and
  $q$, and equal to `kl_divergence` when both sum to 1.

  Args:
    log_predictions: predicted log-measures $\log q$, shape ``[..., dim]``.
    targets: target measures $p \ge 0$, of the same shape.
    axis: as in `kl_divergence`.
    where: as in `kl_divergence`.

  Returns:
    The divergence per example, as `kl_divergence`'s.

  References:
    Bregman, The relaxation method of finding the common point of convex sets,
    USSR Computational Mathematics and Mathematical Physics, 1967.
  """
  kl = kl_divergence(log_predictions, targets, axis=axis, where=where)
  return kl + jnp.sum(jnp.exp(log_predictions) - targets, axis=axis, where=where)


def convex_kl_divergence(
  log_predictions: Any, targets: Any, axis: Axis = -1, where: Any = None
) -> jax.Array:
  r"""Deprecated name of `generalized_kl_divergence` (warns, as optax does).

  $\sum_k p_k (\log p_k - \log q_k) - p_k + q_k$.

  Args:
    log_predictions: as in `generalized_kl_divergence`.
    targets: as in `generalized_kl_divergence`.
    axis: as in `generalized_kl_divergence`.
    where: as in `generalized_kl_divergence`.

  Returns:
    `generalized_kl_divergence` of the arguments.
  """
  warnings.warn(
    "convex_kl_divergence is deprecated; use generalized_kl_divergence",
    DeprecationWarning,
    stacklevel=2,
  )
  return generalized_kl_divergence(log_predictions, targets, axis=axis, where=where)
