"""MoMo: momentum with a Polyak-type step size from a model of the loss (Schaipp et al., 2023).

Exponential averages, with $\\beta_t = 0$ at the first step and $\\beta$
after, of the loss $f_t$ (fed as ``update(..., value=loss)``), of the
gradient and of $\\langle g_t, x_t\\rangle$:

$$
\\bar f_t = \\beta_t \\bar f_{t-1} + (1-\\beta_t) f_t,\\quad
d_t = \\beta_t d_{t-1} + (1-\\beta_t) g_t,\\quad
\\gamma_t = \\beta_t \\gamma_{t-1} + (1-\\beta_t) \\langle g_t, x_t\\rangle,
$$

$$
\\tau_t = \\min\\left(\\alpha_t,\\ \\frac{\\big((1+\\alpha_t\\lambda)(\\bar f_t - f_* - \\gamma_t)
+ \\langle d_t, x_t\\rangle\\big)_+}{\\|d_t\\|^2}\\right),\\qquad
x_{t+1} = x_t - \\frac{\\alpha_t \\lambda}{1 + \\alpha_t \\lambda}\\, x_t - \\tau_t d_t
$$

with learning rate $\\alpha_t$, weight decay $\\lambda$ and lower bound $f_*$
of the loss (the step is 0 where $\\|d_t\\|^2 = 0$).

* MoMo-Adam (`momo_adam`) uses Adam's moments with $\\beta_1$ throughout:
  $D_t = \\epsilon + \\sqrt{v_t / (1-\\beta_2^t) + \\epsilon_{root}}$ and the norm
  $\\langle d_t, D_t^{-1} d_t\\rangle$; the bound enters as $(1-\\beta_1^t) f_*$,
  the cap as $\\alpha_t / (1-\\beta_1^t)$ and the step is $\\tau_t D_t^{-1} d_t$.
* With ``adapt_lower_bound`` the bound is re-estimated each step from the
  model, never below ``lower_bound`` (the paper's MoMo*).
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformationExtraArgs, ScalarOrSchedule
from jaxopt_notes._moments import Float
from jaxopt_notes.optimizers._polyak import loss_value
from jaxopt_notes._docargs import shared_args


@shared_args
class MomoState(NamedTuple):
  """State of `momo`.

  Attributes:
    exp_avg: $d_t$, the moving average of the gradient.
    barf: $\\bar f_t$, the moving average of the loss.
    gamma: $\\gamma_t$, the moving average of $\\langle g_t, x_t\\rangle$.
    lb: the lower bound $f_*$ in use.
  """

  exp_avg: Any  # d_t
  barf: jax.Array  # f-bar_t
  gamma: jax.Array  # gamma_t
  lb: jax.Array  # the lower bound in use
  count: jax.Array  # int32 steps taken


@shared_args
class MomoAdamState(NamedTuple):
  """State of `momo_adam`: MomoState's fields and Adam's second moment.

  Attributes:
    exp_avg: $d_t$, the moving average of the gradient.
    barf: $\\bar f_t$, the moving average of the loss.
    gamma: $\\gamma_t$, the moving average of $\\langle g_t, x_t\\rangle$.
    lb: the lower bound $f_*$ in use.
    exp_avg_sq: $v_t$, Adam's second moment.
  """

  exp_avg: Any
  exp_avg_sq: Any  # v_t
  barf: jax.Array
  gamma: jax.Array
  lb: jax.Array
  count: jax.Array


def _momo_step(
  alpha, weight_decay, barf, gamma, lb, iprod, sq_norm, lower_bound, bc1, adapt_lower_bound, cap
):
  """$\\tau_t$ and the next lower bound; ``bc1`` is 1 for plain MoMo."""
  shrink = 1 + alpha * weight_decay
  if adapt_lower_bound:
    model = shrink * (barf - gamma) + iprod
    lb = jnp.where(
      model < shrink * bc1 * lb, jnp.maximum(model / (2 * bc1 * shrink), lower_bound), lb
    )
  gap = jnp.maximum(shrink * (barf - bc1 * lb - gamma) + iprod, 0)
  tau = jnp.minimum(cap, _numerics.safe_div(gap, sq_norm))
  if adapt_lower_bound:
    lb = jnp.maximum((barf + iprod - gamma - tau * sq_norm / 2) / bc1, lower_bound)
  return tau, shrink, lb


def _check(owner, learning_rate, lower_bound, weight_decay, **more):
  _validate.check(
    owner,
    learning_rate=(learning_rate, _validate.FINITE),
    lower_bound=(lower_bound, _validate.FINITE),
    weight_decay=(weight_decay, _validate.NONNEGATIVE),
    **more,
  )


def _scalars(params, lower_bound):
  return dict(
    barf=_placement.scalar_like(0.0, params),
    gamma=_placement.scalar_like(0.0, params),
    lb=_placement.scalar_like(lower_bound, params),
    count=_placement.zero_count(params),
  )


def _inputs(owner, params, value, state, learning_rate):
  if params is None:
    raise ValueError(f"{owner} needs the params: call update(grads, state, params, value=loss)")
  f = loss_value(owner, value, state.barf.dtype)
  alpha = learning_rate(state.count) if callable(learning_rate) else learning_rate
  return f, alpha


@shared_args
def momo(
  learning_rate: ScalarOrSchedule = 1.0,
  beta: Float = 0.9,
  lower_bound: Float = 0.0,
  weight_decay: Float = 0.0,
  adapt_lower_bound: bool = False,
  *,
  mu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
  """MoMo (module docstring); ``update`` needs the params and ``value=loss``.

  Args:
    learning_rate: $\\alpha_t$, the cap of the step size $\\tau_t$ (a number or a schedule of the
      step).
    lower_bound: $f_*$, a lower bound of the loss (0 for non-negative losses).
    weight_decay: $\\lambda$; the params shrink by $\\alpha_t\\lambda / (1 + \\alpha_t\\lambda)$
      each step; >= 0.
    adapt_lower_bound: re-estimate the bound each step from the model, never below ``lower_bound``
      (the paper's MoMo*).
    beta: decay rate $\\beta$ of the three moving averages, in [0, 1] (0 at the first step).

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> loss = lambda x: jnp.sum(x ** 2)
    >>> opt = jon.momo()
    >>> x = jnp.array([1.0, -2.0]); state = opt.init(x)
    >>> value, grad = jax.value_and_grad(loss)(x)
    >>> updates, state = opt.update(grad, state, x, value=value)
    >>> [round(float(v), 3) for v in jon.apply_updates(x, updates)]   # a Polyak step
    [0.5, -1.0]

  Reference: Schaipp, Ohana, Eickenberg, Defazio & Gower, 2023, "MoMo:
  Momentum Models for Adaptive Learning Rates".
  """
  _check("momo", learning_rate, lower_bound, weight_decay, beta=(beta, _validate.UNIT))

  def init_fn(params):
    exp_avg = _tree.zeros_like(params, _tree.canonical_dtype(mu_dtype))
    return MomoState(exp_avg=exp_avg, **_scalars(params, lower_bound))

  def update_fn(updates, state, params=None, *, value=None, **extra_args):
    del extra_args
    f, alpha = _inputs("momo", params, value, state, learning_rate)
    b = jnp.where(state.count == 0, 0.0, beta)
    barf = (b * state.barf + (1 - b) * f).astype(state.barf.dtype)
    exp_avg = _moments.update_moment(updates, state.exp_avg, b, 1)
    gamma = (b * state.gamma + (1 - b) * _tree.inner(updates, params)).astype(barf.dtype)
    tau, shrink, lb = _momo_step(
      alpha,
      weight_decay,
      barf,
      gamma,
      state.lb,
      _tree.inner(exp_avg, params),
      _tree.norm(exp_avg, squared=True),
      lower_bound,
      1.0,
      adapt_lower_bound,
      alpha,
    )
    out = _tree.map(lambda d, x: -(alpha * weight_decay) / shrink * x - tau * d, exp_avg, params)
    return _tree.cast_like(out, updates), MomoState(
      exp_avg=_tree.cast_like(exp_avg, state.exp_avg),
      barf=barf,
      gamma=gamma,
      lb=lb.astype(state.lb.dtype),
      count=_numerics.safe_increment(state.count),
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)


@shared_args(like=momo)
def momo_adam(
  learning_rate: ScalarOrSchedule = 1e-2,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  lower_bound: Float = 0.0,
  weight_decay: Float = 0.0,
  adapt_lower_bound: bool = False,
  eps_root: Float = 0.0,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
  """MoMo-Adam (module docstring); ``update`` needs the params and ``value=loss``.

  Args:
    eps: added outside the square root in $D_t$; >= 0.
    eps_root: added inside the square root in $D_t$; >= 0.

  Reference: Schaipp et al., 2023, "MoMo: Momentum Models for Adaptive
  Learning Rates", MoMo-Adam.
  """
  _check(
    "momo_adam",
    learning_rate,
    lower_bound,
    weight_decay,
    b1=(b1, _validate.UNIT),
    b2=(b2, _validate.UNIT),
    eps=(eps, _validate.NONNEGATIVE),
    eps_root=(eps_root, _validate.NONNEGATIVE),
  )

  def init_fn(params):
    return MomoAdamState(
      exp_avg=_tree.zeros_like(params, _tree.canonical_dtype(mu_dtype)),
      exp_avg_sq=_tree.zeros_like(params, _tree.canonical_dtype(nu_dtype)),
      **_scalars(params, lower_bound),
    )

  def update_fn(updates, state, params=None, *, value=None, **extra_args):
    del extra_args
    f, alpha = _inputs("momo_adam", params, value, state, learning_rate)
    count = _numerics.safe_increment(state.count)
    dtype = state.barf.dtype
    barf = (b1 * state.barf + (1 - b1) * f).astype(dtype)
    exp_avg = _moments.update_moment(updates, state.exp_avg, b1, 1)
    exp_avg_sq = _moments.update_moment_per_elem_norm(updates, state.exp_avg_sq, b2, 2)
    bc1 = 1 - jnp.asarray(b1, dtype) ** count
    bc2 = 1 - jnp.asarray(b2, dtype) ** count
    precond = _tree.map(
      lambda d, v: _numerics.rms_scale(d, v / bc2.astype(v.dtype), eps, eps_root),
      exp_avg,
      exp_avg_sq,
    )  # D^{-1} d
    gamma = (b1 * state.gamma + (1 - b1) * _tree.inner(updates, params)).astype(dtype)
    tau, shrink, lb = _momo_step(
      alpha,
      weight_decay,
      barf,
      gamma,
      state.lb,
      _tree.inner(exp_avg, params),
      _tree.inner(exp_avg, precond),
      lower_bound,
      bc1,
      adapt_lower_bound,
      alpha / bc1,
    )
    out = _tree.map(lambda p, x: -(alpha * weight_decay) / shrink * x - tau * p, precond, params)
    return _tree.cast_like(out, updates), MomoAdamState(
      exp_avg=_tree.cast_like(exp_avg, state.exp_avg),
      exp_avg_sq=_tree.cast_like(exp_avg_sq, state.exp_avg_sq),
      barf=barf,
      gamma=gamma,
      lb=lb.astype(state.lb.dtype),
      count=count,
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)
