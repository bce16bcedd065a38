r"""Connectionist temporal classification (Graves et al., 2006).

A label sequence $l_1 \dots l_L$ is read off a frame-wise path over the classes
and a blank by merging repeats, then dropping blanks. Its probability sums the
paths that read $l$; the forward variables over the blank-separated sequence
$\varnothing\, l_1 \varnothing\, l_2 \dots l_L \varnothing$ give it in $O(TL)$:

$$
\begin{aligned}
\beta_t(n) &= \big[\beta_{t-1}(n) \oplus \lambda_{t-1}(n)\big] + \log y_t(\varnothing), \\
\lambda_t(n) &= \big[\lambda_{t-1}(n) \oplus \beta_{t-1}(n-1)
  \oplus \big(\lambda_{t-1}(n-1) + \log 0\,[l_n = l_{n-1}]\big)\big] + \log y_t(l_n),
\end{aligned}
$$

in log space ($\oplus$ is ``logaddexp``), where $\beta_t(n)$ is the path in the
blank after $n$ labels and $\lambda_t(n)$ the path on label $n$ at frame $t$.
A label equal to the one before needs a blank between the two. The loss is
$-\log p(l) = -[\beta_T(L) \oplus \lambda_T(L)]$. $\log 0$ is the finite
``log_epsilon``, and padded frames leave the variables as they are.
"""

from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes.losses import _common


def _have_read(beta: jnp.ndarray, lam: jnp.ndarray) -> jnp.ndarray:
  r"""$\beta(n) \oplus \lambda(n)$ ($\beta(0)$ alone): the paths that have read $n$ labels."""
  return jnp.concatenate([beta[:, :1], jnp.logaddexp(beta[:, 1:], lam)], axis=1)


def ctc_loss_with_forward_probs(
  logits: Any,
  logit_paddings: Any,
  labels: Any,
  label_paddings: Any,
  *,
  blank_id: int = 0,
  log_epsilon: Any = -1e5,
) -> tuple[jax.Array, jax.Array, jax.Array]:
  r"""CTC loss $-\log p(l \mid x)$, with the forward variables in log space.

  See the module docstring above for the recursion. The returned blank
  variables hold $\beta_t(n)$, $n = 0 \dots N$, except at the last frame, which
  holds the end of the recursion, $\beta_T(n) \oplus \lambda_T(n)$ (the log
  probability of reading the first $n$ labels).

  Args:
    logits: class logits, shape ``(B, T, K)``, blank included.
    logit_paddings: ``(B, T)`` floats, 1 on padded frames, 0 on real ones.
    labels: ``(B, N)`` integer labels, right-padded. A label outside
      ``[0, K)`` has emission log-probability 0.
    label_paddings: ``(B, N)`` floats, 1 on padding, 0 on real labels; the
      number of zeros in a row is that sequence's length.
    blank_id: the class of the blank.
    log_epsilon: a finite stand-in for $\log 0$.

  Returns:
    ``(loss, log_alpha_blank, log_alpha_label)``: the loss per sequence,
    shape ``(B,)``, and the forward variables $\beta$, shape ``(T, B, N + 1)``,
    and $\lambda$, shape ``(T, B, N)``.

  References:
    Graves, Fernández, Gomez and Schmidhuber, Connectionist Temporal
    Classification: Labelling Unsegmented Sequence Data with Recurrent Neural
    Networks, ICML 2006.
  """
  owner = "ctc_loss_with_forward_probs"
  logits = _common.floating(owner, "logits", logits)
  labels = jnp.asarray(labels)
  _common.rank(owner, "logits", logits, 3)
  _common.rank(owner, "labels", labels, 2)
  _common.same_shape(owner, labels=labels, label_paddings=label_paddings)
  _common.same_shape(owner, **{"logits[..., 0]": logits[..., 0], "logit_paddings": logit_paddings})
  batch, frames, classes = logits.shape
  if labels.shape[0] != batch:
    raise ValueError(
      f"{owner}: argument `labels` must have the batch size {batch} of "
      f"`logits`, got shape {labels.shape}"
    )
  num_labels = labels.shape[1]
  log_probs = jax.nn.log_softmax(logits)
  log_zero = jnp.asarray(log_epsilon, log_probs.dtype)

  in_range = (labels >= 0) & (labels < classes)
  index = jnp.broadcast_to(
    jnp.clip(labels, 0, classes - 1)[:, None, :], (batch, frames, num_labels)
  )
  emit = jnp.take_along_axis(log_probs, index, axis=2)
  emit = jnp.where(in_range[:, None, :], emit, 0.0)  # (B, T, N)
  blank = log_probs[:, :, blank_id]  # (B, T)
  # No direct step from label n - 1 to label n when they are equal.
  no_skip = jnp.where(labels[:, 1:] == labels[:, :-1], log_zero, 0.0)  # (B, N - 1)

  def frame(carry, inputs):
    beta, lam = carry  # (B, N + 1), (B, N)
    emit_t, blank_t, padded = inputs
    new_beta = _have_read(beta, lam) + blank_t[:, None]
    into_label = jnp.logaddexp(lam, beta[:, :-1])
    into_label = into_label.at[:, 1:].set(jnp.logaddexp(into_label[:, 1:], lam[:, :-1] + no_skip))
    new_lam = into_label + emit_t
    keep = padded[:, None] > 0
    beta, lam = jnp.where(keep, beta, new_beta), jnp.where(keep, lam, new_lam)
    return (beta, lam), (beta, lam)

  start_beta = jnp.full((batch, num_labels + 1), log_zero).at[:, 0].set(0.0)
  start_lam = jnp.full((batch, num_labels), log_zero)
  inputs = (jnp.moveaxis(emit, 1, 0), blank.T, jnp.asarray(logit_paddings).T)
  (beta_end, lam_end), (betas, lams) = jax.lax.scan(frame, (start_beta, start_lam), inputs)

  read = _have_read(beta_end, lam_end)
  betas = betas.at[-1].set(read)
  lengths = num_labels - jnp.sum(label_paddings, axis=1).astype(jnp.int32)
  loss = -jnp.take_along_axis(read, lengths[:, None], axis=1)[:, 0]
  return loss, betas, lams


def ctc_loss(
  logits: Any,
  logit_paddings: Any,
  labels: Any,
  label_paddings: Any,
  *,
  blank_id: int = 0,
  log_epsilon: Any = -1e5,
) -> jax.Array:
  r"""CTC loss $-\log p(l \mid x)$ per sequence (see `ctc_loss_with_forward_probs`).

  Args:
    logits: class logits, shape ``(B, T, K)``, blank included.
    logit_paddings: ``(B, T)`` floats, 1 on padded frames, 0 on real ones.
    labels: ``(B, N)`` integer labels, right-padded.
    label_paddings: ``(B, N)`` floats, 1 on padding, 0 on real labels.
    blank_id: the class of the blank.
    log_epsilon: a finite stand-in for $\log 0$.

  Returns:
    The loss per sequence, shape ``(B,)``.
  """
  loss, _, _ = ctc_loss_with_forward_probs(
    logits, logit_paddings, labels, label_paddings, blank_id=blank_id, log_epsilon=log_epsilon
  )
  return loss
