"""RMSProp (Tieleman & Hinton, 2012) and its centered variant (Graves, 2013).

$$
\\nu_t = \\rho\\,\\nu_{t-1} + (1-\\rho) g_t^2,\\qquad
\\theta_t = \\theta_{t-1} - \\eta\\,\\frac{g_t}{\\sqrt{\\nu_t + \\epsilon_{root}} + \\epsilon}
$$

Centered: $\\mu_t = \\rho\\mu_{t-1} + (1-\\rho) g_t$ and the root is taken
of $\\max(\\nu_t - \\mu_t^2, 0) + \\epsilon_{root}$ (the clamp keeps a
rounding error from turning the variance negative and the step NaN). With ``bias_correction`` the
moments are divided by $1-\\rho^t$. The saddle-point case study (docs: Case studies) uses
$\\rho = 0$ and $\\delta = 10^{-6}$ inside the root:
``rmsprop(0.01, decay=0, eps=0, eps_root=1e-6)``.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule, identity
from jaxopt_notes._combine import chain
from jaxopt_notes.transforms._accumulation import trace
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


class ScaleByRmsState(NamedTuple):
  """State of `scale_by_rms`: the EMA of squared gradients.

  Attributes:
    nu: $\\nu_t$, the moving average of the squared gradient, shaped like params.
  """

  nu: Any  # EMA of squared gradients


@shared_args
class ScaleByRmsWithCountState(NamedTuple):
  """State of `scale_by_rms` with bias correction: the step count and the EMA of g^2.

  Attributes:
    nu: $\\nu_t$, the moving average of the squared gradient, shaped like params.
  """

  count: jax.Array  # int32 steps taken, for bias correction
  nu: Any


class ScaleByRStdDevState(NamedTuple):
  """State of `scale_by_stddev` (centered RMSProp): EMAs of g and g^2.

  Attributes:
    mu: $\\mu_t$, the moving average of the gradient, shaped like params.
    nu: $\\nu_t$, the moving average of the squared gradient, shaped like params.
  """

  mu: Any  # EMA of gradients
  nu: Any  # EMA of squared gradients


@shared_args
class ScaleByRStdDevWithCountState(NamedTuple):
  """State of `scale_by_stddev` with bias correction: the step count and EMAs of g and g^2.

  Attributes:
    mu: $\\mu_t$, the moving average of the gradient, shaped like params.
    nu: $\\nu_t$, the moving average of the squared gradient, shaped like params.
  """

  count: jax.Array
  mu: Any
  nu: Any


def _roots(eps, eps_root, eps_in_sqrt):
  """``eps_in_sqrt=True`` (optax's spelling) moves ``eps`` under the root."""
  return (0.0, eps_root + eps) if eps_in_sqrt else (eps, eps_root)


def _check(owner, decay, eps, eps_root, initial_scale):
  _validate.check(
    owner,
    decay=(decay, _validate.UNIT),
    eps=(eps, _validate.NONNEGATIVE),
    eps_root=(eps_root, _validate.NONNEGATIVE),
    initial_scale=(initial_scale, _validate.NONNEGATIVE),
  )


def _scale_by_rms_family(
  owner: str,
  centered: bool,
  decay,
  eps,
  initial_scale,
  eps_in_sqrt,
  bias_correction,
  eps_root,
  mu_dtype=None,
  nu_dtype=None,
) -> GradientTransformation:
  """RMSProp's scaling, plain or centered, with or without bias correction."""
  _check(owner, decay, eps, eps_root, initial_scale)
  out_eps, in_eps = _roots(eps, eps_root, eps_in_sqrt)

  def init_fn(params):
    fields = dict(nu=_tree.full_like(params, initial_scale, _tree.canonical_dtype(nu_dtype)))
    if centered:
      fields["mu"] = _tree.zeros_like(params, _tree.canonical_dtype(mu_dtype))
    if bias_correction:
      fields["count"] = _placement.zero_count(params)
    return _state_class(centered, bias_correction)(**fields)

  def update_fn(updates, state, params=None):
    del params
    nu = _moments.update_moment_per_elem_norm(updates, state.nu, decay, 2)
    fields = dict(nu=_tree.cast_like(nu, state.nu))
    mu = None
    if centered:
      mu = _moments.update_moment(updates, state.mu, decay, 1)
      fields["mu"] = _tree.cast_like(mu, state.mu)
    if bias_correction:
      count = _numerics.safe_increment(state.count)
      fields["count"] = count
      nu = _moments.bias_correction(nu, decay, count)
      mu = _moments.bias_correction(mu, decay, count) if centered else None
    if centered:  # a variance estimate; rounding can push it just below zero, and
      # an overflowed second moment (inf - inf) stays an infinite variance
      nu = _tree.map(
        lambda n, m: jnp.where(jnp.isinf(n), n, jnp.maximum(jnp.real(n) - _numerics.abs_sq(m), 0)),
        nu,
        mu,
      )
    out = _tree.map(lambda g, n: _numerics.rms_scale(g, n, out_eps, in_eps), updates, nu)
    return _tree.cast_like(out, updates), _state_class(centered, bias_correction)(**fields)

  return GradientTransformation(init_fn, update_fn)


def _state_class(centered: bool, counted: bool):
  if centered:
    return ScaleByRStdDevWithCountState if counted else ScaleByRStdDevState
  return ScaleByRmsWithCountState if counted else ScaleByRmsState


@shared_args
def scale_by_rms(
  decay: jax.typing.ArrayLike = 0.9,
  eps: jax.typing.ArrayLike = 0.0,
  initial_scale: jax.typing.ArrayLike = 0.0,
  eps_in_sqrt: bool = False,
  bias_correction: bool = False,
  eps_root: jax.typing.ArrayLike = 1e-8,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """RMSProp's scaling by the root of the mean square; see `rmsprop`.

  Args:
    decay: decay rate $\\rho$ of the moving average of $g^2$ (and of $g$ when centered), in [0, 1].
    initial_scale: $\\nu_0$, the value the moving average of $g^2$ starts from; >= 0.
    eps_in_sqrt: move ``eps`` under the square root as well (optax's spelling of the same setting).
    bias_correction: divide the moving averages by $1-\\rho^t$ (adds a step count to the state).
  """
  args = (decay, eps, initial_scale, eps_in_sqrt, bias_correction, eps_root)
  return _scale_by_rms_family("scale_by_rms", False, *args, nu_dtype=nu_dtype)


@shared_args
def scale_by_stddev(
  decay: jax.typing.ArrayLike = 0.9,
  eps: jax.typing.ArrayLike = 0.0,
  initial_scale: jax.typing.ArrayLike = 0.0,
  eps_in_sqrt: bool = False,
  bias_correction: bool = False,
  eps_root: jax.typing.ArrayLike = 1e-8,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Centered RMSProp's scaling by the root of the running variance; see `rmsprop`.

  Args:
    decay: decay rate $\\rho$ of the moving average of $g^2$ (and of $g$ when centered), in [0, 1].
    initial_scale: $\\nu_0$, the value the moving average of $g^2$ starts from; >= 0.
    eps_in_sqrt: move ``eps`` under the square root as well (optax's spelling of the same setting).
    bias_correction: divide the moving averages by $1-\\rho^t$ (adds a step count to the state).
  """
  args = (decay, eps, initial_scale, eps_in_sqrt, bias_correction, eps_root)
  return _scale_by_rms_family("scale_by_stddev", True, *args, mu_dtype, nu_dtype)


@shared_args
def rmsprop(
  learning_rate: ScalarOrSchedule,
  decay: jax.typing.ArrayLike = 0.9,
  eps: jax.typing.ArrayLike = 0.0,
  initial_scale: jax.typing.ArrayLike = 0.0,
  eps_in_sqrt: bool = False,
  centered: bool = False,
  momentum: jax.typing.ArrayLike | None = None,
  nesterov: bool = False,
  bias_correction: bool = False,
  eps_root: jax.typing.ArrayLike = 1e-8,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """RMSProp, optionally centered, with optional (Nesterov) momentum on the scaled step.

  The update is in the module docstring. Defaults give optax's ``rmsprop``
  numbers: its ``eps=1e-8`` sits inside the root, which here is ``eps_root``;
  ``eps_in_sqrt=True`` moves our ``eps`` inside as well.

  Args:
    decay: decay rate $\\rho$ of the moving average of $g^2$ (and of $g$ when centered), in [0, 1].
    initial_scale: $\\nu_0$, the value the moving average of $g^2$ starts from; >= 0.
    eps_in_sqrt: move ``eps`` under the square root as well (optax's spelling of the same setting).
    bias_correction: divide the moving averages by $1-\\rho^t$ (adds a step count to the state).
    centered: divide by the root of the running variance $\\nu_t - \\mu_t^2$ instead of the mean
      square (Graves, 2013).
    momentum: decay rate of a momentum (`trace`) applied to the scaled step after the learning rate,
      in [0, 1]; ``None`` for none.
    nesterov: use Nesterov's form of that momentum.
    mu_dtype: dtype in which the first moment (centered) and the momentum are stored; ``None``
      keeps each param's dtype.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.rmsprop(0.01, decay=0.0, eps=0.0, eps_root=0.0)
    >>> updates, _ = opt.update(jnp.array([3.0, -1e-6]), opt.init(jnp.zeros(2)))
    >>> updates   # with decay 0 the step is -lr * sign(g)
    Array([-0.01,  0.01], dtype=float32)

  Reference: Tieleman & Hinton, 2012, Lecture 6.5 of "Neural Networks for
  Machine Learning"; Graves, 2013, "Generating Sequences With Recurrent Neural
  Networks" (centered).
  """
  _validate.check(
    "rmsprop", learning_rate=(learning_rate, _validate.FINITE), momentum=(momentum, _validate.UNIT)
  )
  scaling = (scale_by_stddev if centered else scale_by_rms)(
    decay=decay,
    eps=eps,
    initial_scale=initial_scale,
    eps_in_sqrt=eps_in_sqrt,
    bias_correction=bias_correction,
    eps_root=eps_root,
    nu_dtype=nu_dtype,
    **({"mu_dtype": mu_dtype} if centered else {}),
  )
  return chain(
    scaling,
    scale_by_learning_rate(learning_rate),
    identity()
    if momentum is None
    else trace(decay=momentum, nesterov=nesterov, accumulator_dtype=mu_dtype),
  )
