"""Layer-wise trust ratios: LARS (You et al., 2017) and LAMB (You et al., 2020).

For each leaf (layer) the incoming direction $u$ is rescaled by

$$
r = \\text{trust\\_coefficient}\\cdot\\frac{\\|\\theta\\|}{\\|u\\| + \\epsilon}
$$

(``r = 1`` where either norm is zero). LARS: weight decay, trust ratio,
learning rate, then heavy-ball momentum. LAMB: Adam's direction plus weight
decay, then the trust ratio and the learning rate.
"""

from typing import Any

import jax.numpy as jnp

from jaxopt_notes import _numerics, _tree, _validate
from jaxopt_notes._base import (
  EmptyState,
  GradientTransformation,
  ScalarOrSchedule,
  init_empty_state,
)
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float
from jaxopt_notes.optimizers._adam import scale_by_adam
from jaxopt_notes.transforms._accumulation import trace
from jaxopt_notes.transforms._adding import NO_PARAMS, add_decayed_weights
from jaxopt_notes.transforms._masking import masked
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args

ScaleByTrustRatioState = EmptyState
"""State of `scale_by_trust_ratio` (it keeps none): `EmptyState`, under optax's name."""


def scale_by_trust_ratio(
  min_norm: Float = 0.0, trust_coefficient: Float = 1.0, eps: Float = 0.0
) -> GradientTransformation:
  """Rescales each leaf by its trust ratio (module docstring).

  Args:
    min_norm: norms below this count as this value; >= 0.
    trust_coefficient: multiplies the trust ratio $\\|\\theta\\| / (\\|u\\| + \\epsilon)$; >= 0.
    eps: added to the norm of the direction in the trust ratio; >= 0.
  """
  _validate.check(
    "scale_by_trust_ratio",
    min_norm=(min_norm, _validate.NONNEGATIVE),
    trust_coefficient=(trust_coefficient, _validate.NONNEGATIVE),
    eps=(eps, _validate.NONNEGATIVE),
  )

  def one(u, p):
    p_norm = _numerics.safe_norm(p, min_norm)
    u_norm = _numerics.safe_norm(u, min_norm)
    # u / ||u|| first: the ratio alone can overflow a low precision (a tiny ||u||);
    # the zero test is on the denominator as stored (a subnormal min_norm flushes to 0)
    den = (u_norm + eps).astype(u.dtype)
    degenerate = (p_norm == 0) | (den < jnp.finfo(den.dtype).tiny)
    unit = u / jnp.where(degenerate, 1, den)
    return jnp.where(degenerate, u, unit * (trust_coefficient * p_norm).astype(u.dtype)).astype(
      u.dtype
    )

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError(f"scale_by_trust_ratio {NO_PARAMS}")
    return _tree.map(one, updates, params), state

  return GradientTransformation(init_empty_state, update_fn)


@shared_args
def lars(
  learning_rate: ScalarOrSchedule,
  weight_decay: Float = 0.0,
  weight_decay_mask: Any = True,
  trust_coefficient: Float = 0.001,
  eps: Float = 0.0,
  trust_ratio_mask: Any = True,
  momentum: Float = 0.9,
  nesterov: bool = False,
  *,
  accumulator_dtype: Any = None,
) -> GradientTransformation:
  """LARS (module docstring). Reference: You, Gitman & Ginsburg, 2017, "Large
  Batch Training of Convolutional Networks".

  Args:
    weight_decay: coefficient of ``weight_decay * params``, added to the gradient before the trust
      ratio; 0 turns it off.
    weight_decay_mask: which params are decayed: a tree of booleans (or a prefix, or a function of
      the params returning one); True decays every leaf.
    trust_coefficient: multiplies the trust ratio $\\|\\theta\\| / (\\|u\\| + \\epsilon)$; >= 0.
    eps: added to the norm of the direction in the trust ratio; >= 0.
    trust_ratio_mask: which params get the trust ratio, as ``weight_decay_mask``; the others keep
      their direction.
    momentum: decay of the heavy-ball momentum applied after the learning rate, in [0, 1].
    nesterov: use Nesterov's form of that momentum.
  """
  _validate.check(
    "lars",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
    momentum=(momentum, _validate.UNIT),
  )
  return chain(
    add_decayed_weights(weight_decay, mask=weight_decay_mask),
    masked(scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps), trust_ratio_mask),
    scale_by_learning_rate(learning_rate),
    trace(decay=momentum, nesterov=nesterov, accumulator_dtype=accumulator_dtype),
  )


@shared_args
def lamb(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-6,
  eps_root: Float = 0.0,
  weight_decay: Float = 0.0,
  mask: Any = None,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """LAMB (module docstring). Reference: You et al., 2020, "Large Batch
  Optimization for Deep Learning: Training BERT in 76 minutes".

  Args:
    weight_decay: coefficient of ``weight_decay * params``, added to Adam's direction before the
      trust ratio; 0 turns it off.
  """
  _validate.check(
    "lamb",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nu_dtype=nu_dtype),
    add_decayed_weights(weight_decay=weight_decay, mask=mask),
    scale_by_trust_ratio(),
    scale_by_learning_rate(learning_rate),
  )
