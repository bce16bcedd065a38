"""Adam-atan2 (Everett et al., 2024) and StableAdamW (Wortsman et al., 2023): Adam made safe.

**Adam-atan2** replaces Adam's quotient and its $\\epsilon$ by a bounded angle:

$$
u_t = a \\operatorname{atan2}\\big(\\hat m_t,\\; b\\sqrt{\\hat v_t}\\big),\\qquad
\\theta_t = \\theta_{t-1} - \\eta\\,(u_t + \\lambda\\theta_{t-1})
$$

with Adam's debiased moments $\\hat m_t, \\hat v_t$. Where $|\\hat m_t| \\ll
b\\sqrt{\\hat v_t}$ this is $\\frac{a}{b}$ times Adam's step; it never exceeds
$a\\pi/2$, is 0 where no gradient was seen, and does not change when the
gradients are scaled (no $\\epsilon$ breaks the invariance). For a complex
param the angle is taken of the modulus, along the phase of $\\hat m_t$:
$a\\,\\frac{\\hat m_t}{|\\hat m_t|}\\operatorname{atan2}(|\\hat m_t|, b\\sqrt{\\hat v_t})$,
which for a real param is the formula above ($\\operatorname{atan2}$ is odd in
its first argument).

**StableAdamW** is AdamW whose learning rate is cut, tensor by tensor, when the
current gradient is large for its second moment:

$$
r_t = \\sqrt{\\operatorname{mean}\\Big(\\frac{g_t^2}{\\max(\\hat v_t, \\epsilon^2)}\\Big)},\\qquad
\\theta_t = \\theta_{t-1} - \\frac{\\eta}{\\max(1, r_t)}
  \\Big(\\frac{\\hat m_t}{\\sqrt{\\hat v_t} + \\epsilon} + \\lambda\\theta_{t-1}\\Big)
$$

(the mean over the elements of each leaf), AdaFactor's update clipping
applied to the learning rate.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments, debiased_first_moment, init_moments
from jaxopt_notes.optimizers._adam import ScaleByAdamState
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


@shared_args
def scale_by_adam_atan2(
  b1: Float = 0.9,
  b2: Float = 0.999,
  a: Float = 1.27,
  b: Float = 1.0,
  mu_dtype: Any = None,
  nesterov: bool = False,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Adam-atan2's direction $a \\operatorname{atan2}(\\hat m_t, b\\sqrt{\\hat v_t})$ (`adam_atan2`).

  Args:
    a: the scale $a$ of the angle.
    b: the factor $b$ of $\\sqrt{\\hat v_t}$.
    nesterov: whether to use NAdam's look-ahead first moment.

  Returns:
    The transform; its state is `ScaleByAdamState`.
  """
  check_moments(
    "scale_by_adam_atan2", b1, b2, a=(a, _validate.FINITE), b=(b, _validate.NONNEGATIVE)
  )
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    return init_moments(ScaleByAdamState, params, mu_dtype, nu_dtype)

  def update_fn(updates, state, params=None):
    del params
    mu = _moments.update_moment(updates, state.mu, b1, 1)
    nu = _moments.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    count = _numerics.safe_increment(state.count)
    mu_hat = debiased_first_moment(mu, updates, b1, count, nesterov)
    nu_hat = _moments.bias_correction(nu, b2, count)

    def angle(m, v):
      if not jnp.iscomplexobj(m):
        return a * jnp.arctan2(m, b * jnp.sqrt(v))
      # complex: the angle of the modulus, along the phase of m (atan2 is odd in m)
      r = jnp.abs(m)
      phase = jnp.where(r > 0, m / jnp.where(r > 0, r, 1), 0)
      return a * phase * jnp.arctan2(r, b * jnp.sqrt(jnp.real(v)))

    out = _tree.map(angle, mu_hat, nu_hat)
    return _tree.cast_like(out, updates), ScaleByAdamState(
      count=count, mu=_tree.cast_like(mu, state.mu), nu=_tree.cast_like(nu, state.nu)
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_adam_atan2)
def adam_atan2(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  a: Float = 1.27,
  b: Float = 1.0,
  mu_dtype: Any = None,
  weight_decay: Float = 0.0,
  mask: Any = None,
  nesterov: bool = False,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Adam-atan2: Adam with $\\operatorname{atan2}$ in place of the quotient (module docstring).

  Args:
    a: the scale $a$ of the angle (1.27, as common implementations use).
    weight_decay: the decoupled weight decay $\\lambda$.

  Returns:
    The optimizer.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.adam_atan2(0.1)
    >>> updates, _ = opt.update(jnp.array([3.0, -4e-3]), opt.init(jnp.zeros(2)))
    >>> [round(float(u), 4) for u in updates]   # -lr a pi / 4 for any size of gradient
    [-0.0997, 0.0997]

  Reference: Everett et al., 2024, "Scaling Exponents Across Parameterizations
  and Optimizers".
  """
  _validate.check(
    "adam_atan2",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_adam_atan2(b1, b2, a, b, mu_dtype, nesterov, nu_dtype=nu_dtype),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )


@shared_args
class ScaleByStableAdamWState(NamedTuple):
  """State of `scale_by_stable_adamw`.

  Attributes:
    decay_state: the state of the weight decay (a step count for a scheduled decay).
  """

  count: jax.Array  # int32 steps taken, saturating
  mu: Any  # first moment m_t
  nu: Any  # second moment v_t
  decay_state: Any  # the state of the weight decay (a step count for a scheduled decay)


def _clip_factor(g: jax.Array, v_hat: jax.Array, eps: Any) -> jax.Array:
  """$1 / \\max(1, \\sqrt{\\operatorname{mean}(g^2 / \\max(\\hat v, \\epsilon^2))})$."""
  wide = jnp.promote_types(g.dtype, jnp.float32)  # g^2 and eps^2 fall outside float16's range
  g, v_hat = g.astype(wide), v_hat.astype(wide)
  # |g| / sqrt(v) before squaring: g^2 and v overflow together for huge gradients
  ratio = _numerics.safe_div(jnp.abs(g), jnp.sqrt(jnp.maximum(v_hat, jnp.asarray(eps, wide) ** 2)))
  rms = jnp.sqrt(jnp.mean(ratio**2)) if ratio.size else jnp.zeros([], ratio.dtype)
  return 1 / jnp.maximum(1, rms)


@shared_args
def scale_by_stable_adamw(
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  mu_dtype: Any = None,
  weight_decay: ScalarOrSchedule = 0.0,
  mask: Any = None,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """StableAdamW's step, weight decay included, before the learning rate; see `stable_adamw`.

  Args:
    eps: added to $\\sqrt{\\hat v_t}$; $\\epsilon^2$ floors $\\hat v_t$ in $r_t$.
    weight_decay: the decoupled weight decay $\\lambda$ (a number or a schedule).

  Returns:
    The transform; its state is `ScaleByStableAdamWState`.
  """
  check_moments("scale_by_stable_adamw", b1, b2, eps)
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)
  decay = add_decayed_weights(weight_decay, mask)

  def init_fn(params):
    first = init_moments(ScaleByAdamState, params, mu_dtype, nu_dtype)
    return ScaleByStableAdamWState(
      count=first.count, mu=first.mu, nu=first.nu, decay_state=decay.init(params)
    )

  def update_fn(updates, state, params=None):
    mu = _moments.update_moment(updates, state.mu, b1, 1)
    nu = _moments.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    count = _numerics.safe_increment(state.count)
    mu_hat = _moments.bias_correction(mu, b1, count)
    nu_hat = _moments.bias_correction(nu, b2, count)
    out = _tree.map(lambda m, v: _numerics.rms_scale(m, v, eps, 0.0), mu_hat, nu_hat)
    out, decay_state = decay.update(_tree.cast_like(out, updates), state.decay_state, params)
    out = _tree.map(lambda u, g, v: u * _clip_factor(g, v, eps), out, updates, nu_hat)
    return _tree.cast_like(out, updates), ScaleByStableAdamWState(
      count=count,
      mu=_tree.cast_like(mu, state.mu),
      nu=_tree.cast_like(nu, state.nu),
      decay_state=decay_state,
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_stable_adamw)
def stable_adamw(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  mu_dtype: Any = None,
  weight_decay: ScalarOrSchedule = 1e-4,
  mask: Any = None,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """StableAdamW: AdamW with its learning rate clipped per leaf (module docstring).

  Args:
    weight_decay: the decoupled weight decay $\\lambda$, clipped with the step.

  Returns:
    The optimizer.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.stable_adamw(0.1, weight_decay=0.0)
    >>> state = opt.init(jnp.zeros(2))
    >>> _, state = opt.update(jnp.array([1.0, 1.0]), state)
    >>> updates, _ = opt.update(jnp.array([1.0, 100.0]), state)   # a spike in the leaf
    >>> [round(float(u), 4) for u in updates]   # AdamW's [-0.1, -0.0751], times 0.82
    [-0.0817, -0.0613]

  Reference: Wortsman et al., 2023, "Stable and low-precision training for
  large-scale vision-language models".
  """
  _validate.check("stable_adamw", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    scale_by_stable_adamw(b1, b2, eps, mu_dtype, weight_decay, mask, nu_dtype=nu_dtype),
    scale_by_learning_rate(learning_rate),
  )
