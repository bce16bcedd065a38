r"""Dice (and Tversky) losses for segmentation.

Per class $c$, with predicted probabilities $p$ and targets $t$ summed over the
spatial axes: $I_c = \sum_i p_{ic} t_{ic}$, $P_c = \sum_i p_{ic}$,
$T_c = \sum_i t_{ic}$, and

$$
\ell_c = 1 - \frac{I_c + s}{I_c + \alpha (P_c - I_c) + \beta (T_c - I_c) + s},
$$

the soft Dice loss for $\alpha = \beta = \tfrac12$ and the Tversky loss
otherwise ($\alpha$ weighs false positives, $\beta$ false negatives).
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_notes import _validate
from jaxopt_notes.losses import _common

_REDUCTIONS = ("mean", "sum", "none")


def dice_loss(
  predictions: Any,
  targets: Any,
  *,
  class_weights: Any | None = None,
  smooth: Any = 1.0,
  alpha: Any = 0.5,
  beta: Any = 0.5,
  apply_softmax: bool = True,
  reduction: str = "mean",
  ignore_background: bool = False,
  axis: Any | None = None,
) -> jax.Array:
  r"""Soft Dice / Tversky loss per class, reduced over the classes.

  $\ell_c$ of the module docstring, times ``class_weights``. Predictions are
  logits turned into probabilities by a softmax over the last axis (a sigmoid
  when that axis has size 1), unless ``apply_softmax`` is False.

  Args:
    predictions: logits (or probabilities), shape ``[..., num_classes]``;
      binary inputs may also be ``[...]`` or ``[..., 1]``.
    targets: one-hot (or binary) targets, of ``predictions``' shape (a
      missing trailing class axis of size 1 is added).
    class_weights: optional weights of shape ``[num_classes]``.
    smooth: the smoothing term $s$ of numerator and denominator.
    alpha: weight $\alpha$ of the false positives.
    beta: weight $\beta$ of the false negatives.
    apply_softmax: whether ``predictions`` are logits; if False they must be
      probabilities summing to 1 over the last axis (checked when concrete).
    reduction: ``"mean"`` or ``"sum"`` over the classes, or ``"none"``.
    ignore_background: leave out class 0 (when there is more than one class).
    axis: the axes summed over; by default every axis but the first (batch)
      and the last (classes).

  Returns:
    The loss per example (shape ``[...]`` without the summed axes), or per
    example and class with ``reduction="none"``.

  References:
    Milletari, Navab and Ahmadi, V-Net: Fully Convolutional Neural Networks for
    Volumetric Medical Image Segmentation, 3DV 2016. Salehi, Erdogmus and
    Gholipour, Tversky Loss Function for Image Segmentation, 2017.
  """
  owner = "dice_loss"
  _validate.check_choice(owner, "reduction", reduction, _REDUCTIONS)
  predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
  if predictions.ndim == targets.ndim - 1:
    predictions = predictions[..., None]
  if targets.ndim == predictions.ndim - 1:
    targets = targets[..., None]
  _common.same_shape(owner, predictions=predictions, targets=targets)
  if apply_softmax:
    probs = (
      jax.nn.sigmoid(predictions)
      if predictions.shape[-1] == 1
      else jax.nn.softmax(predictions, axis=-1)
    )
  else:
    probs = predictions
    if not isinstance(probs, jax.core.Tracer):
      sums = np.asarray(jnp.sum(probs, axis=-1))
      if not np.allclose(sums, 1.0, rtol=1e-5):
        raise ValueError(
          f"{owner}: with apply_softmax=False, `predictions` must sum to 1 "
          f"over the last axis, got sums in [{sums.min()}, {sums.max()}]"
        )
  if axis is None:
    axis = tuple(range(1, probs.ndim - 1))
  overlap = jnp.sum(probs * targets, axis=axis)
  predicted = jnp.sum(probs, axis=axis)
  actual = jnp.sum(targets, axis=axis)
  denominator = overlap + alpha * (predicted - overlap) + beta * (actual - overlap) + smooth
  loss = 1 - (overlap + smooth) / denominator
  if class_weights is not None:
    _common.rank(owner, "class_weights", class_weights, 1)
    loss = loss * class_weights
  if ignore_background and probs.shape[-1] > 1:
    loss = loss[..., 1:]
  if reduction == "mean":
    return jnp.mean(loss, axis=-1)
  if reduction == "sum":
    return jnp.sum(loss, axis=-1)
  return loss


def multiclass_generalized_dice_loss(
  predictions: Any,
  targets: Any,
  *,
  smooth: Any = 1.0,
  apply_softmax: bool = True,
  ignore_background: bool = False,
) -> jax.Array:
  r"""Generalized Dice loss: Dice weighted by inverse squared class frequency.

  $w_c \propto 1 / (F_c^2 + 10^{-7})$ with $F_c$ the number of target pixels of
  class $c$ over the whole batch, scaled so that $\sum_c w_c = K$; the result
  is the mean of $w_c \ell_c$ over examples and classes.

  Args:
    predictions: logits (or probabilities), shape ``[..., num_classes]``.
    targets: one-hot targets, of the same shape.
    smooth: the smoothing term $s$ (see `dice_loss`).
    apply_softmax: whether ``predictions`` are logits.
    ignore_background: leave out class 0.

  Returns:
    The loss, a scalar.

  References:
    Sudre et al., Generalised Dice Overlap as a Deep Learning Loss Function for
    Highly Unbalanced Segmentations, 2017.
  """
  _common.same_shape("multiclass_generalized_dice_loss", predictions=predictions, targets=targets)
  targets = jnp.asarray(targets)
  frequency = jnp.sum(targets, axis=tuple(range(targets.ndim - 1)))
  weights = 1 / (frequency**2 + 1e-7)
  weights = weights * (weights.shape[0] / jnp.sum(weights))
  per_class = dice_loss(
    predictions,
    targets,
    class_weights=weights,
    smooth=smooth,
    apply_softmax=apply_softmax,
    reduction="none",
    ignore_background=ignore_background,
  )
  return jnp.mean(per_class)


def binary_dice_loss(
  predictions: Any, targets: Any, *, smooth: Any = 1.0, apply_sigmoid: bool = True
) -> jax.Array:
  r"""Dice loss of a single foreground class, from logits through a sigmoid.

  $1 - (2 I + 2 s) / (P + T + 2 s)$ per example (the Dice case of
  `dice_loss`).

  Args:
    predictions: logits (or probabilities), shape ``[...]`` or ``[..., 1]``.
    targets: binary targets, of the same shape.
    smooth: the smoothing term $s$.
    apply_sigmoid: whether ``predictions`` are logits.

  Returns:
    The loss per example.
  """
  predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
  if predictions.ndim == targets.ndim and predictions.shape[-1] != 1:
    predictions, targets = predictions[..., None], targets[..., None]
  return dice_loss(predictions, targets, smooth=smooth, apply_softmax=apply_sigmoid)
