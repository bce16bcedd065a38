"""SPAM (Huang et al., 2025): Adam with momentum resets and spike-aware clipping.

Adam, with three changes against gradient spikes. Every $\\Delta T$ steps both
moments are reset to zero (step $t$ with $t \\bmod \\Delta T = 0$ starts from
$m = v = 0$), so a spike is forgotten. An element whose gradient is a spike
for its second moment is clipped back to the threshold:

$$
g_t \\leftarrow \\operatorname{sign}(g_t)\\sqrt{\\theta\\, v_{t-1}}
\\quad\\text{where}\\quad g_t^2 > \\theta\\, v_{t-1},
$$

and after each reset the step is warmed up again along a cosine over $N$
steps:

$$
m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\quad
v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,\\qquad
\\theta_t = \\theta_{t-1} - \\eta\\Big(w_t\\,\\frac{m_t / (1-\\beta_1^t)}
                                   {\\sqrt{v_t / (1-\\beta_2^t)} + \\epsilon}
                                   + \\lambda\\theta_{t-1}\\Big),
$$

$w_t = \\tfrac12(1 - \\cos(\\pi k / N))$ for $k = t \\bmod \\Delta T < N$ after
the first reset, else 1. The debiasing counts all steps, not those since the
reset (as in the paper). Right after a reset $v_{t-1}$ is zero and would clip
every gradient to zero; as in the authors' code, clipping waits
``clip_delay`` steps after the start and after each reset, and here an
element is never clipped while its $v_{t-1}$ is still zero.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments, init_moments
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


@shared_args
class ScaleBySpamState(NamedTuple):
  """State of `scale_by_spam`."""

  count: jax.Array  # int32 steps taken, saturating
  mu: Any  # first moment m_t (zeroed every reset_interval steps)
  nu: Any  # second moment v_t (zeroed with it)


def _check_counts(owner: str, **counts: Any) -> None:
  for name, value in counts.items():
    if isinstance(value, jax.core.Tracer):
      continue
    if isinstance(value, bool) or int(value) != value or value < 0:
      raise ValueError(f"{owner}: argument `{name}`={value!r} must be a non-negative integer")


@shared_args
def scale_by_spam(
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-6,
  threshold: Float = 5000.0,
  reset_interval: int = 500,
  warmup_steps: int = 150,
  clip_delay: int = 20,
  mu_dtype: Any = None,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """SPAM's warmed-up Adam direction $w_t \\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon)$; see `spam`.

  Args:
    eps: added to $\\sqrt{\\hat v_t}$.
    threshold: the spike threshold $\\theta$ on $g_t^2 / v_{t-1}$.
    reset_interval: the steps $\\Delta T$ between momentum resets.
    warmup_steps: the steps $N$ of the cosine warmup after each reset (0: none).
    clip_delay: the steps after the start and after each reset without clipping.

  Returns:
    The transform; its state is `ScaleBySpamState`.
  """
  owner = "scale_by_spam"
  check_moments(owner, b1, b2, eps, threshold=(threshold, _validate.NONNEGATIVE))
  _validate.check_positive_int(owner, "reset_interval", reset_interval)
  _check_counts(owner, warmup_steps=warmup_steps, clip_delay=clip_delay)
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    return init_moments(ScaleBySpamState, params, mu_dtype, nu_dtype)

  def update_fn(updates, state, params=None):
    del params
    count = _numerics.safe_increment(state.count)
    k = count % reset_interval
    reset = k == 0
    mu = _tree.map(lambda m: jnp.where(reset, 0, m).astype(m.dtype), state.mu)
    nu = _moments.widened(state.nu, updates, nu_dtype)
    nu = _tree.map(lambda v: jnp.where(reset, 0, v).astype(v.dtype), nu)
    clip = (count >= clip_delay) & (k >= clip_delay)

    def despike(g, v):
      seen = v > 0  # sqrt's gradient at v = 0 is infinite: take it where v > 0 only
      bound = jnp.sqrt(threshold * jnp.where(seen, v, 1)).astype(g.dtype)
      spike = clip & seen & (jnp.abs(g) ** 2 > threshold * v)
      return jnp.where(spike, jnp.sign(g) * bound, g)

    grads = _tree.map(despike, updates, nu)
    mu = _moments.update_moment(grads, mu, b1, 1)
    nu = _moments.update_moment_per_elem_norm(grads, nu, b2, 2)
    mu_hat = _moments.bias_correction(mu, b1, count)
    nu_hat = _moments.bias_correction(nu, b2, count)
    if warmup_steps:
      ramp = 0.5 * (1 - jnp.cos(jnp.pi * k / warmup_steps))
      warm = jnp.where((count >= reset_interval) & (k < warmup_steps), ramp, 1.0)
    else:
      warm = 1.0
    out = _tree.map(lambda m, v: warm * _numerics.rms_scale(m, v, eps, 0.0), mu_hat, nu_hat)
    return _tree.cast_like(out, updates), ScaleBySpamState(
      count=count, mu=_tree.cast_like(mu, state.mu), nu=_tree.cast_like(nu, state.nu)
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_spam)
def spam(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-6,
  threshold: Float = 5000.0,
  reset_interval: int = 500,
  warmup_steps: int = 150,
  clip_delay: int = 20,
  mu_dtype: Any = None,
  weight_decay: Float = 0.0,
  mask: Any = None,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """SPAM: Adam with momentum resets, spike clipping and warmups (module docstring).

  Args:
    weight_decay: the decoupled weight decay $\\lambda$ (not warmed up).

  Returns:
    The optimizer.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.spam(0.1, reset_interval=2, warmup_steps=2, clip_delay=0)
    >>> state = opt.init(jnp.zeros(1))
    >>> steps = []
    >>> for _ in range(4):   # step 2 resets the moments; its step is warmed up from 0
    ...   updates, state = opt.update(jnp.array([1.0]), state)
    ...   steps.append(round(abs(float(updates[0])), 4))
    >>> steps
    [0.1, 0.0, 0.0429, 0.0]

  Reference: Huang et al., 2025, "SPAM: Spike-Aware Adam with Momentum Reset
  for Stable LLM Training".
  """
  _validate.check(
    "spam",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_spam(
      b1, b2, eps, threshold, reset_interval, warmup_steps, clip_delay, mu_dtype, nu_dtype=nu_dtype
    ),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )
