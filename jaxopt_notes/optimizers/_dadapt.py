"""D-Adaptation (Defazio & Mishchenko, 2023) and Prodigy (Mishchenko & Defazio, 2023).

AdamW whose learning rate is learned: an estimate $d_t$ of the distance to
the solution, started at ``estim_lr0`` and only ever raised, multiplies the
schedule $\\gamma_t$ (``learning_rate``, 1 by default). Both use, at step $t$,

$$
\\lambda_t = d_t\\, \\gamma_t\\, \\frac{\\sqrt{1-\\beta_2^t}}{1-\\beta_1^t},\\qquad
d_{t+1} = \\max\\left(d_t,\\ c\\, \\frac{r_t}{\\|s_t\\|_1}\\right),\\qquad
x_{t+1} = x_t - \\Delta_t - w \\lambda_t x_t,
$$

with weight decay $w$, and differ in the sums $r_t$ (a scalar) and $s_t$
(shaped like the params) and in the step $\\Delta_t$:

* D-Adapted AdamW (`dadapt_adamw`), with $\\rho = \\sqrt{\\beta_2}$ and
  $c = 1 / (1 - \\rho)$:

  $$
  r_t = \\rho\\, r_{t-1} + (1-\\rho)\\, \\lambda_t
        \\left\\langle g_t,
        \\frac{s_{t-1}}{\\sqrt{v_{t-1} + \\epsilon_{root}} + \\epsilon}\\right\\rangle,\\quad
  s_t = \\rho\\, s_{t-1} + (1-\\rho)\\, \\lambda_t g_t,
  $$

  $m_t = \\beta_1 m_{t-1} + (1-\\beta_1) \\lambda_t g_t$,
  $v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2$,
  $\\Delta_t = m_t / (\\sqrt{v_t + \\epsilon_{root}} + \\epsilon)$.
* Prodigy (`prodigy`) weights recent gradients more, measures the distance
  from the start $x_0$, and puts $d$ into Adam's moments; with
  $\\beta_3$ (``beta3``, $\\sqrt{\\beta_2}$ when None), $d_0$ = ``estim_lr0`` and
  $c$ = ``estim_lr_coef``:

  $$
  r_t = \\beta_3 r_{t-1} + \\frac{d_t}{d_0} \\lambda_t \\langle g_t, x_0 - x_t\\rangle,\\quad
  s_t = \\beta_3 s_{t-1} + \\frac{d_t}{d_0} \\lambda_t g_t,
  $$

  $m_t = \\beta_1 m_{t-1} + (1-\\beta_1) d_t g_t$,
  $v_t = \\beta_2 v_{t-1} + (1-\\beta_2) d_t^2 g_t^2$,
  $\\Delta_t = \\lambda_t m_t / (\\sqrt{v_t + \\epsilon_{root}} + d_{t+1} \\epsilon)$.
  With ``safeguard_warmup`` the sum $s_t$ takes $d_t$ in place of
  $\\lambda_t$, so a warm-up schedule starting near 0 cannot inflate $d$.

Where $\\|s_t\\|_1 = 0$ (a zero gradient, or a schedule at 0, so far) $d$ keeps
its value. The learned scalars are kept in at least float32.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformationExtraArgs, ScalarOrSchedule
from jaxopt_notes._docargs import shared_args
from jaxopt_notes._moments import Float


@shared_args
class DAdaptAdamWState(NamedTuple):
  """State of `dadapt_adamw`.

  Attributes:
    exp_avg: $m_t$, the first moment.
    exp_avg_sq: $v_t$, the second moment.
    grad_sum: $s_t$, the weighted sum of gradients, shaped like params.
    estim_lr: $d_t$, the distance estimate (a scalar, at least float32).
    numerator_weighted: $r_t$, the scalar weighted sum (a scalar).
  """

  exp_avg: Any  # m_t
  exp_avg_sq: Any  # v_t
  grad_sum: Any  # s_t
  estim_lr: jax.Array  # d_t
  numerator_weighted: jax.Array  # r_t
  count: jax.Array  # int32 steps taken


@shared_args(like=DAdaptAdamWState)
class ProdigyState(NamedTuple):
  """State of `prodigy`: DAdaptAdamWState's fields and the start $x_0$.

  Attributes:
    params0: $x_0$, the params at initialisation.
  """

  exp_avg: Any
  exp_avg_sq: Any
  grad_sum: Any
  params0: Any  # x_0
  estim_lr: jax.Array
  numerator_weighted: jax.Array
  count: jax.Array


def _check(owner, learning_rate, betas, eps, estim_lr0, weight_decay, eps_root, **more):
  b1, b2 = betas
  for beta in (b1, b2):
    _validate.check(owner, betas=(beta, _validate.UNIT))
  _validate.check(
    owner,
    learning_rate=(learning_rate, _validate.FINITE),
    eps=(eps, _validate.NONNEGATIVE),
    estim_lr0=(estim_lr0, _validate.POSITIVE),
    weight_decay=(weight_decay, _validate.NONNEGATIVE),
    eps_root=(eps_root, _validate.NONNEGATIVE),
    **more,
  )


def _init(params, estim_lr0, mu_dtype, nu_dtype):
  """The moments and sums shaped like the params, and the scalars."""
  return dict(
    exp_avg=_tree.zeros_like(params, _tree.canonical_dtype(mu_dtype)),
    exp_avg_sq=_tree.zeros_like(params, _tree.canonical_dtype(nu_dtype)),
    grad_sum=_tree.zeros_like(params),
    estim_lr=_placement.scalar_like(estim_lr0, params),
    numerator_weighted=_placement.scalar_like(0.0, params),
    count=_placement.zero_count(params),
  )


def _step_size(owner, updates, state, params, learning_rate, betas):
  """$\\lambda_t$ and the incremented count (after checking the incoming updates)."""
  if params is None:
    raise ValueError(f"{owner} needs the params: call update(grads, state, params)")
  _tree.check_match(updates, state.exp_avg, params)
  b1, b2 = betas
  count = _numerics.safe_increment(state.count)
  gamma = learning_rate(state.count) if callable(learning_rate) else learning_rate
  d = state.estim_lr
  t = count.astype(d.dtype)
  return (d * gamma * jnp.sqrt(1 - b2**t) / (1 - b1**t)).astype(d.dtype), count


def _raised(d, coef, numerator, grad_sum):
  """$\\max(d, c\\, r / \\|s\\|_1)$; $d$ itself where $\\|s\\|_1 = 0$ (no 0/0)."""
  l1 = _tree.sum(_tree.map(jnp.abs, grad_sum)).astype(d.dtype)
  return jnp.maximum(d, (coef * _numerics.safe_div(numerator, l1)).astype(d.dtype))


def _decayed(step, params, weight_decay, lam):
  """$-\\Delta_t - w \\lambda_t x_t$."""
  return _tree.map(lambda s, x: -s - weight_decay * lam * x, step, params)


def _state(cls, old, **new):
  """The next state, each leaf cast to the dtype it had."""
  return cls(**{k: _tree.cast_like(v, getattr(old, k)) for k, v in new.items()})


@shared_args
def dadapt_adamw(
  learning_rate: ScalarOrSchedule = 1.0,
  betas: tuple = (0.9, 0.999),
  eps: Float = 1e-8,
  estim_lr0: Float = 1e-6,
  weight_decay: Float = 0.0,
  eps_root: Float = 0.0,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
  """D-Adapted AdamW (module docstring); ``update`` needs the params.

  Args:
    learning_rate: the schedule $\\gamma_t$ multiplying the learned $d_t$ (a number or a schedule of
      the step); 1 by default.
    betas: $(\\beta_1, \\beta_2)$, the decay rates of Adam's two moments, each in [0, 1].
    estim_lr0: $d_0$, the initial distance estimate; > 0. $d$ only grows from there.
    weight_decay: $w$, decoupled weight decay: the step subtracts $w \\lambda_t x_t$ (scaled by the
      learned step size $\\lambda_t$); >= 0.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.dadapt_adamw()
    >>> x = jnp.array([1.0, -2.0]); state = opt.init(x)
    >>> for _ in range(3):
    ...   updates, state = opt.update(2 * x, state, x)
    ...   x = jon.apply_updates(x, updates)
    >>> bool(state.estim_lr > 1e-6)   # the distance estimate has grown
    True

  Reference: Defazio & Mishchenko, 2023, "Learning-Rate-Free Learning by
  D-Adaptation", D-Adapted Adam.
  """
  _check("dadapt_adamw", learning_rate, betas, eps, estim_lr0, weight_decay, eps_root)
  b1, b2 = betas

  def init_fn(params):
    return DAdaptAdamWState(**_init(params, estim_lr0, mu_dtype, nu_dtype))

  def update_fn(updates, state, params=None, **extra_args):
    del extra_args
    lam, count = _step_size("dadapt_adamw", updates, state, params, learning_rate, betas)
    rho = jnp.sqrt(jnp.asarray(b2, lam.dtype))
    weighted = _tree.map(
      lambda s, v: _numerics.rms_scale(s, v, eps, eps_root),
      state.grad_sum,
      _moments.widened(state.exp_avg_sq, updates, nu_dtype),
    )
    numerator = rho * state.numerator_weighted + (1 - rho) * lam * _tree.inner(updates, weighted)
    exp_avg = _moments.update_moment(_tree.scale(lam, updates), state.exp_avg, b1, 1)
    exp_avg_sq = _moments.update_moment_per_elem_norm(updates, state.exp_avg_sq, b2, 2)
    grad_sum = _tree.map(lambda g, s: rho * s + (1 - rho) * lam * g, updates, state.grad_sum)
    d = _raised(state.estim_lr, 1 / (1 - rho), numerator, grad_sum)
    step = _tree.map(lambda m, v: _numerics.rms_scale(m, v, eps, eps_root), exp_avg, exp_avg_sq)
    return _tree.cast_like(_decayed(step, params, weight_decay, lam), updates), _state(
      DAdaptAdamWState,
      state,
      exp_avg=exp_avg,
      exp_avg_sq=exp_avg_sq,
      grad_sum=grad_sum,
      estim_lr=d,
      numerator_weighted=numerator,
      count=count,
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)


@shared_args(like=dadapt_adamw)
def prodigy(
  learning_rate: ScalarOrSchedule = 1.0,
  betas: tuple = (0.9, 0.999),
  beta3: Float | None = None,
  eps: Float = 1e-8,
  estim_lr0: Float = 1e-6,
  estim_lr_coef: Float = 1.0,
  weight_decay: Float = 0.0,
  safeguard_warmup: bool = False,
  eps_root: Float = 0.0,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
  """Prodigy (module docstring); ``update`` needs the params.

  Args:
    beta3: $\\beta_3$, the decay of the sums $r_t$ and $s_t$, in [0, 1]; ``None`` uses
      $\\sqrt{\\beta_2}$.
    estim_lr_coef: $c$, the factor on the estimate $r_t / \\|s_t\\|_1$; >= 0.
    safeguard_warmup: use $d_t$ in place of $\\lambda_t$ in $s_t$, so that a warm-up schedule
      starting near 0 cannot inflate $d$.
    eps: added, times $d_{t+1}$, to the denominator outside the square root; >= 0.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.prodigy()
    >>> x = jnp.array([1.0, -2.0]); state = opt.init(x)
    >>> for _ in range(30):
    ...   updates, state = opt.update(2 * x, state, x)
    ...   x = jon.apply_updates(x, updates)
    >>> bool(state.estim_lr > 1e-6)   # the distance estimate has grown
    True

  Reference: Mishchenko & Defazio, 2023, "Prodigy: An Expeditiously Adaptive
  Parameter-Free Learner".
  """
  _check(
    "prodigy",
    learning_rate,
    betas,
    eps,
    estim_lr0,
    weight_decay,
    eps_root,
    beta3=(beta3, _validate.UNIT),
    estim_lr_coef=(estim_lr_coef, _validate.NONNEGATIVE),
  )
  b1, b2 = betas

  def init_fn(params):
    return ProdigyState(params0=_tree.copy(params), **_init(params, estim_lr0, mu_dtype, nu_dtype))

  def update_fn(updates, state, params=None, **extra_args):
    del extra_args
    lam, count = _step_size("prodigy", updates, state, params, learning_rate, betas)
    d = state.estim_lr
    b3 = jnp.sqrt(jnp.asarray(b2, d.dtype)) if beta3 is None else beta3
    weight = d / estim_lr0 * (d if safeguard_warmup else lam)
    numerator = b3 * state.numerator_weighted + d / estim_lr0 * lam * _tree.inner(
      updates, _tree.sub(state.params0, params)
    )
    grad_sum = _tree.map(lambda g, s: b3 * s + weight * g, updates, state.grad_sum)
    exp_avg = _moments.update_moment(_tree.scale(d, updates), state.exp_avg, b1, 1)
    exp_avg_sq = _moments.update_moment_per_elem_norm(
      _tree.scale(d, updates), state.exp_avg_sq, b2, 2
    )
    new_d = _raised(d, estim_lr_coef, numerator, grad_sum)
    step = _tree.map(
      lambda m, v: lam * _numerics.rms_scale(m, v, new_d * eps, eps_root), exp_avg, exp_avg_sq
    )
    return _tree.cast_like(_decayed(step, params, weight_decay, lam), updates), _state(
      ProdigyState,
      state,
      exp_avg=exp_avg,
      exp_avg_sq=exp_avg_sq,
      grad_sum=grad_sum,
      params0=state.params0,
      estim_lr=new_d,
      numerator_weighted=numerator,
      count=count,
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)
