"""Loss functions, with the names, arguments and numbers of ``optax.losses``.

Each takes arrays and returns the loss per example (or per element), to be
reduced by the caller (``.mean()``); they are plain functions of arrays, so
``jax.grad``, ``jax.jit`` and ``jax.vmap`` apply directly.
"""

from jaxopt_notes.losses._cross_entropy import (
  poly_loss_cross_entropy,
  safe_softmax_cross_entropy,
  sigmoid_binary_cross_entropy,
  sigmoid_focal_loss,
  smooth_labels,
  softmax_cross_entropy,
  softmax_cross_entropy_with_integer_labels,
)
from jaxopt_notes.losses._ctc import ctc_loss, ctc_loss_with_forward_probs
from jaxopt_notes.losses._divergence import (
  convex_kl_divergence,
  generalized_kl_divergence,
  kl_divergence,
  kl_divergence_with_log_targets,
)
from jaxopt_notes.losses._fenchel_young import (
  make_fenchel_young_loss,
  multiclass_sparsemax_loss,
  sparsemax_loss,
)
from jaxopt_notes.losses._margin import (
  hinge_loss,
  multiclass_hinge_loss,
  multiclass_perceptron_loss,
  perceptron_loss,
)
from jaxopt_notes.losses._ranking import ranking_softmax_loss
from jaxopt_notes.losses._regression import (
  cosine_distance,
  cosine_similarity,
  huber_loss,
  l2_loss,
  log_cosh,
  squared_error,
)
from jaxopt_notes.losses._segmentation import (
  binary_dice_loss,
  dice_loss,
  multiclass_generalized_dice_loss,
)
from jaxopt_notes.losses._self_supervised import ntxent, triplet_margin_loss

__all__ = [
  "binary_dice_loss",
  "convex_kl_divergence",
  "cosine_distance",
  "cosine_similarity",
  "ctc_loss",
  "ctc_loss_with_forward_probs",
  "dice_loss",
  "generalized_kl_divergence",
  "hinge_loss",
  "huber_loss",
  "kl_divergence",
  "kl_divergence_with_log_targets",
  "l2_loss",
  "log_cosh",
  "make_fenchel_young_loss",
  "multiclass_generalized_dice_loss",
  "multiclass_hinge_loss",
  "multiclass_perceptron_loss",
  "multiclass_sparsemax_loss",
  "ntxent",
  "perceptron_loss",
  "poly_loss_cross_entropy",
  "ranking_softmax_loss",
  "safe_softmax_cross_entropy",
  "sigmoid_binary_cross_entropy",
  "sigmoid_focal_loss",
  "smooth_labels",
  "softmax_cross_entropy",
  "softmax_cross_entropy_with_integer_labels",
  "sparsemax_loss",
  "squared_error",
  "triplet_margin_loss",
]
