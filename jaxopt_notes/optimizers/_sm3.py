"""SM3 (Anil et al., 2019): AdaGrad with one accumulator per row and per column.

For a leaf with $k \\ge 2$ axes, axis $i$ keeps a vector $\\mu_i$ of its
length. For each entry $j = (j_1, \\dots, j_k)$:

$$
\\nu_t(j) = \\beta_2 \\min_i \\mu_{i,t-1}(j_i) + c\\, g_t(j)^2,\\qquad
\\mu_{i,t}(r) = \\max_{j:\\,j_i = r} \\nu_t(j),
$$

$$
m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\frac{g_t}{\\sqrt{\\nu_t + \\epsilon_{root}} + \\epsilon},
\\qquad \\theta_t = \\theta_{t-1} - \\eta\\, m_t
$$

with $c = 1 - \\beta_2$, or $c = 1$ for the paper's $\\beta_2 = 1$ (a sum, as
in AdaGrad). The min over a cover of the entry's rows and columns bounds
AdaGrad's accumulator from above, at the memory of $\\sum_i n_i$ numbers
instead of $\\prod_i n_i$. Vectors and scalars keep one accumulator of their own
shape (plain AdaGrad). Where $\\nu_t = 0$ the step is 0.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


class ScaleBySM3State(NamedTuple):
  """State of `scale_by_sm3`: the per-axis accumulators and the momentum.

  Attributes:
    mu: per leaf, a list with one accumulator $\\mu_i$ per axis (one accumulator of the leaf's shape
      below 2-D).
    nu: $m_t$, the momentum, shaped like params.
  """

  mu: Any  # per leaf, a list with one accumulator per axis (one of its own shape below 2-D)
  nu: Any  # m_t, the momentum, like the params


def _others(i: int, ndim: int) -> tuple:
  return tuple(a for a in range(ndim) if a != i)


def _accumulators(p) -> list:
  if p.ndim < 2:
    return [_tree.zeros_like(p)]
  return [_tree.zeros_reduced(p, _others(i, p.ndim)) for i in range(p.ndim)]


def _cover_min(accumulators: list, ndim: int):
  """$\\min_i \\mu_i(j_i)$ over every entry ``j`` (the accumulator itself below 2-D)."""
  if ndim < 2:
    return accumulators[0]
  shaped = [jnp.expand_dims(a, _others(i, ndim)) for i, a in enumerate(accumulators)]
  out = shaped[0]
  for a in shaped[1:]:
    out = jnp.minimum(out, a)
  return out


def scale_by_sm3(
  b1: Float = 0.9, b2: Float = 1.0, eps: Float = 0.0, eps_root: Float = 1e-8
) -> GradientTransformation:
  """SM3's direction $m_t$; see `sm3`.

  optax's ``eps`` sits inside the square root: it is our ``eps_root`` (whose
  default is optax's), and our ``eps`` adds outside it.

  Args:
    b1: $\\beta_1$, the decay of the momentum $m_t$, in [0, 1].
    b2: $\\beta_2$, the decay of the accumulators, in [0, 1]; 1 (the paper) sums the squared
      gradients as AdaGrad does.
    eps: added to the denominator outside the square root; >= 0.
    eps_root: added inside the square root (optax's ``eps``); >= 0.
  """
  check_moments("scale_by_sm3", b1, b2, eps, eps_root)

  def init_fn(params):
    treedef, flat = _structure(params)
    mu = [None if p is None or _tree.is_frozen(p) else _accumulators(p) for p in flat]
    return ScaleBySM3State(mu=treedef.unflatten(mu), nu=_tree.zeros_like(params))

  def step(g, accumulators, m):
    if m is None:
      return None, None
    coefficient = jnp.where(jnp.asarray(b2) == 1, 1.0, 1 - b2)
    nu = coefficient * jnp.square(jnp.abs(g)) + b2 * _cover_min(accumulators, g.ndim)
    nu = nu.astype(accumulators[0].dtype)
    direction = jnp.where(nu > 0, _numerics.rms_scale(g, nu, eps, eps_root), 0)
    m = (b1 * m + (1 - b1) * direction).astype(m.dtype)
    if g.ndim < 2:
      return [nu], m
    return [jnp.max(nu, axis=_others(i, g.ndim)) for i in range(g.ndim)], m

  def update_fn(updates, state, params=None):
    del params
    _tree.check_match(updates, state.nu)
    treedef, flat = _structure(updates)
    pairs = [
      step(g, a, m)
      for g, a, m in zip(flat, treedef.flatten_up_to(state.mu), treedef.flatten_up_to(state.nu))
    ]
    mu, nu = (treedef.unflatten([pair[i] for pair in pairs]) for i in (0, 1))
    return _tree.cast_like(nu, updates), ScaleBySM3State(mu=mu, nu=nu)

  return GradientTransformation(init_fn, update_fn)


def _structure(tree: Any) -> tuple:
  """The treedef of ``tree`` (``None`` counted as a leaf) and its leaves."""
  flat, treedef = jax.tree.flatten(tree, is_leaf=_tree.is_none)
  return treedef, flat


@shared_args
def sm3(learning_rate: ScalarOrSchedule, momentum: Float = 0.9) -> GradientTransformation:
  """SM3 (module docstring) with momentum ``momentum`` ($\\beta_1$) and $\\beta_2 = 1$.

  Scalar leaves are handled (as a one-entry AdaGrad), where optax's ``sm3``
  fails on them.

  Args:
    momentum: $\\beta_1$, the decay of the momentum, in [0, 1].

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> params = {'w': jnp.ones((3, 2)), 'b': jnp.ones(2), 's': jnp.array(1.0)}
    >>> opt = jon.sm3(0.1)
    >>> state = opt.init(params)
    >>> [a.shape for a in state[0].mu['w']]  # one number per row and per column
    [(3,), (2,)]
    >>> u, state = opt.update(params, state)

  Reference: Anil, Gupta, Koren & Singer, 2019, "Memory-Efficient Adaptive
  Optimization".
  """
  _validate.check(
    "sm3", learning_rate=(learning_rate, _validate.FINITE), momentum=(momentum, _validate.UNIT)
  )
  return chain(scale_by_sm3(momentum), scale_by_learning_rate(learning_rate))
