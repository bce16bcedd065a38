"""Sophia (Liu et al., 2023): momentum over an EMA of the Hessian diagonal, clipped.

With $h$ an estimate of the Hessian diagonal refreshed every $k$ =
``update_interval`` steps,

$$
m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\qquad
u_t = \\operatorname{clip}\\Big(\\frac{m_t / (1-\\beta_1^t)}{\\max(\\gamma h_{t-1}, \\epsilon)},
      \\rho\\Big),
$$

$$
h_t = \\beta_2 h_{t-1} + (1-\\beta_2)\\,\\hat h(\\theta_{t-1})
\\ \\text{ when } (t-1) \\bmod k = 0, \\text{ else } h_t = h_{t-1},\\qquad
\\theta_t = \\theta_{t-1} - \\eta (u_t + \\lambda \\theta_{t-1})
$$

with $\\rho$ = ``clip_threshold`` (``None``: no clipping). Sophia-H estimates
$\\hat h$ with Hutchinson's $r \\odot (\\nabla^2 f\\, r)$ for a Rademacher $r$
(`hutchinson_estimator_diag_hessian`), which needs the objective: pass it to
``update`` as ``obj_fn=lambda params: loss`` (every keyword extra reaches
``hessian_diagonal_fn``). Any transform returning a diagonal estimate can
replace it.

As in optax (and the Levanter code it follows) $m$ is debiased and the step
uses the $h$ of the previous refresh, so the first step, with $h = 0$, is
$\\operatorname{clip}(\\hat m_1/\\epsilon, \\rho)$; the paper's algorithm 3
refreshes $h$ before using it and does not debias $m$.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_notes import _moments, _numerics, _placement, _random, _tree, _validate
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
  with_extra_args_support,
)
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


class HutchinsonState(NamedTuple):
  """State of `hutchinson_estimator_diag_hessian`: the key of the next probe.

  Attributes:
    key: the PRNG key the next probe is drawn from.
  """

  key: jax.Array


def _tangent(x: jax.Array) -> Any:
  """A leaf's Rademacher probe, or the ``float0`` zero tangent of a frozen leaf."""
  if _tree.is_frozen(x):
    return np.zeros(jnp.shape(x), jax.dtypes.float0)
  return x


def hutchinson_estimator_diag_hessian(
  random_seed: jax.Array | None = None,
) -> GradientTransformationExtraArgs:
  """Hutchinson's estimate $r \\odot (\\nabla^2 f(\\theta)\\, r)$ of the Hessian diagonal.

  $r$ has independent $\\pm 1$ entries drawn from the key in the state (split
  once per call), so the estimate is unbiased; ``update`` ignores the incoming
  updates and needs ``params`` and ``obj_fn`` (params -> scalar loss).
  ``random_seed`` is a JAX key (``jax.random.PRNGKey(0)`` when ``None``).

  Args:
    random_seed: the JAX PRNG key of the probes; ``None`` means ``jax.random.PRNGKey(0)``.
  """

  def init_fn(params):
    del params
    return HutchinsonState(key=jax.random.PRNGKey(0) if random_seed is None else random_seed)

  def update_fn(updates, state, params=None, obj_fn=None, **extra_args):
    del updates, extra_args
    if params is None or obj_fn is None:
      raise ValueError("hutchinson_estimator_diag_hessian: update needs `params` and `obj_fn`")
    key, probe_key = jax.random.split(state.key)
    probe = _random.random_like(probe_key, params, jax.random.rademacher)
    hvp = jax.jvp(jax.grad(obj_fn, allow_int=True), (params,), (jax.tree.map(_tangent, probe),))[1]
    return _tree.map(lambda r, h: r * h, probe, hvp), HutchinsonState(key=key)

  return GradientTransformationExtraArgs(init_fn, update_fn)


@shared_args
class SophiaState(NamedTuple):
  """State of `scale_by_sophia`.

  Attributes:
    nu: $h_t$, the moving average of the Hessian-diagonal estimates.
    hessian_fn_state: the state of ``hessian_diagonal_fn``.
  """

  count: jax.Array
  mu: Any  # m_t
  nu: Any  # h_t, the EMA of the Hessian diagonal estimates
  hessian_fn_state: Any


def _check(owner, b1, b2, eps, gamma, clip_threshold, update_interval):
  _validate.check(
    owner,
    b1=(b1, _validate.UNIT),
    b2=(b2, _validate.UNIT),
    eps=(eps, _validate.NONNEGATIVE),
    gamma=(gamma, _validate.NONNEGATIVE),
    clip_threshold=(clip_threshold, _validate.POSITIVE),
  )
  _validate.check_positive_int(owner, "update_interval", update_interval)


@shared_args
def scale_by_sophia(
  b1: Float = 0.965,
  b2: Float = 0.99,
  eps: Float = 1e-8,
  gamma: Float = 0.01,
  clip_threshold: Float | None = 1.0,
  update_interval: Any = 10,
  hessian_diagonal_fn: GradientTransformation = (hutchinson_estimator_diag_hessian()),
  mu_dtype: Any = None,
  verbose: bool = False,
  print_win_rate_every_n_steps: Any = 0,
  *,
  nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
  """Sophia's clipped direction $u_t$; see `sophia`.

  Args:
    b2: $\\beta_2$, the decay of the moving average $h_t$ of the Hessian-diagonal estimates, in
      [0, 1].
    eps: floor of the denominator $\\max(\\gamma h_{t-1}, \\epsilon)$; >= 0.
    gamma: $\\gamma$, the scale of the Hessian diagonal in the denominator; >= 0.
    clip_threshold: $\\rho$: each coordinate of the step is clipped to $[-\\rho, \\rho]$; ``None``
      for no clipping.
    update_interval: $k$, the Hessian diagonal is re-estimated every $k$ steps (a positive int).
    hessian_diagonal_fn: the transform that estimates the diagonal; it receives the params and every
      keyword extra of ``update`` (Hutchinson's estimator by default, which needs ``obj_fn``).
    verbose: print the fraction of unclipped coordinates (the "win rate") during training.
    print_win_rate_every_n_steps: how often, in steps, ``verbose`` prints (a positive int when
      ``verbose``).
    mu_dtype: dtype in which the momentum $m_t$ is stored; ``None`` keeps each param's dtype.
    nu_dtype: the same for the Hessian diagonal's average $h_t$ (keyword-only).
  """
  _check("scale_by_sophia", b1, b2, eps, gamma, clip_threshold, update_interval)
  if verbose:
    _validate.check_positive_int(
      "scale_by_sophia", "print_win_rate_every_n_steps", print_win_rate_every_n_steps
    )
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)
  estimator = with_extra_args_support(hessian_diagonal_fn)

  def init_fn(params):
    _validate.reject_complex(
      "scale_by_sophia", params, "Sophia clips each coordinate's m / h to the real interval [-1, 1]"
    )
    return SophiaState(
      count=_placement.zero_count(params),
      mu=_tree.zeros_like(params, mu_dtype),
      nu=_tree.zeros_like(params, nu_dtype),
      hessian_fn_state=estimator.init(params),
    )

  def update_fn(updates, state, params=None, **extra_args):
    if params is None:
      raise ValueError("scale_by_sophia: update needs the params")
    count = _numerics.safe_increment(state.count)
    mu = _moments.update_moment(updates, state.mu, b1, 1)
    mu_hat = _moments.bias_correction(mu, b1, count)
    out = _tree.map(
      lambda m, h: m / jnp.maximum(gamma * h, eps),
      mu_hat,
      _moments.widened(state.nu, updates, nu_dtype),
    )
    if clip_threshold is not None:
      if verbose:
        kept = _tree.sum(_tree.map(lambda u: jnp.sum(jnp.abs(u) < clip_threshold), out))
        size = sum(jnp.size(x) for x in _tree.leaves(out))
        _numerics.cond(
          count % print_win_rate_every_n_steps == 0,
          lambda: jax.debug.print("Sophia win rate: {}", kept / size),
          lambda: None,
        )
      out = _tree.map(lambda u: jnp.clip(u, -clip_threshold, clip_threshold), out)

    def refresh(hess_state, nu):
      diag, hess_state = estimator.update(updates, hess_state, params, **extra_args)
      return hess_state, _tree.cast_like(_moments.update_moment(diag, nu, b2, 1), nu)

    hess_state, nu = _numerics.cond(
      state.count % update_interval == 0,
      refresh,
      lambda h, n: (h, n),
      state.hessian_fn_state,
      state.nu,
    )
    return _tree.cast_like(out, updates), SophiaState(
      count=count, mu=_tree.cast_like(mu, state.mu), nu=nu, hessian_fn_state=hess_state
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)


@shared_args(like=scale_by_sophia)
def sophia(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.965,
  b2: Float = 0.99,
  eps: Float = 1e-8,
  weight_decay: Float = 1e-4,
  weight_decay_mask: Any = None,
  gamma: Float = 0.01,
  clip_threshold: Float | None = 1.0,
  update_interval: Any = 10,
  hessian_diagonal_fn: GradientTransformation = hutchinson_estimator_diag_hessian(),
  mu_dtype: Any = None,
  verbose: bool = False,
  print_win_rate_every_n_steps: Any = 0,
  *,
  nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
  """Sophia (module docstring); ``weight_decay`` is decoupled, scaled by the learning rate.

  ``verbose`` prints the fraction of unclipped coordinates (the paper's "win
  rate", best kept between 0.1 and 0.5) every ``print_win_rate_every_n_steps``.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> loss = lambda p: jnp.sum(p ** 2)
    >>> opt = jon.sophia(0.1, weight_decay=0.0)
    >>> params = jnp.array([1.0, -3.0])
    >>> state = opt.init(params)
    >>> updates, state = opt.update(jax.grad(loss)(params), state, params, obj_fn=loss)
    >>> [round(float(u), 4) for u in updates]  # h = 0 before the first refresh: a clipped sign step
    [-0.1, 0.1]
    >>> [round(float(h), 4) for h in state[0].nu]   # (1 - b2) * 2, the exact diagonal
    [0.02, 0.02]

  Reference: Liu, Li, Hall, Liang & Ma, 2023, "Sophia: A Scalable Stochastic
  Second-order Optimizer for Language Model Pre-training".
  """
  _validate.check(
    "sophia",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_sophia(
      b1,
      b2,
      eps,
      gamma,
      clip_threshold,
      update_interval,
      hessian_diagonal_fn,
      mu_dtype,
      verbose,
      print_win_rate_every_n_steps,
      nu_dtype=nu_dtype,
    ),
    add_decayed_weights(weight_decay, weight_decay_mask),
    scale_by_learning_rate(learning_rate),
  )
