"""Mechanic: a learned scale for any base optimizer (Cutkosky, Defazio & Mehta, 2023).

`mechanize` runs the base optimizer as it is and learns, by coin betting,
how far along the base's accumulated updates to move from the reference
point $x_{ref}$ (the params at the first ``update``). It keeps $n$ bettors
(``num_betas``) with decays $\\beta_i = 1 - 10^{-i}$, $i = 1..n$, each with a
scale $s_{t,i}$ (all ``s_init`` at first); $S_t = \\sum_i s_{t,i}$ and
$\\|\\cdot\\|$ is the norm of the whole tree. At step $t$, with the base's
update $u_t$ and the gradient $g_t$:

$$
\\Delta_t = \\frac{x_t - x_{ref}}{S_t + \\epsilon},\\qquad
h_t = \\left\\langle \\Delta_t,\\ g_t + \\lambda S_t \\frac{\\|g_t\\|}{\\|x_t\\| + \\epsilon}\\, x_t
\\right\\rangle,
$$

$$
m_t = \\max(\\beta m_{t-1}, |h_t| + \\epsilon),\\quad
v_t = \\beta^2 v_{t-1} + h_t^2,\\quad
r_t = \\beta r_{t-1} - s_t \\operatorname{clip}(h_t, -m_{t-1}, m_{t-1}),
$$

$$
s_{t+1} = \\frac{s_{init}\\, m_t / n + \\max(r_t, 0)}{\\sqrt{v_t} + \\epsilon},\\qquad
x_{t+1} = x_{ref} + S_{t+1} (\\Delta_t + u_t),
$$

per bettor (vectors of length $n$), with the weight decay $\\lambda$ of
Mechanic's own loss. $\\Delta_t$ is recomputed from the params rather than
stored, which saves a copy of them; $r_t$ is kept before the clamp at 0, and
$h_t$ is clipped by the previous $m_{t-1}$, as in the authors' code.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  with_extra_args_support,
)
from jaxopt_notes._docargs import shared_args
from jaxopt_notes._moments import Float


@shared_args
class MechanicState(NamedTuple):
  """State of `mechanize`: the base's state and the bettors (vectors of length ``num_betas``).

  Attributes:
    base_optimizer_state: the state of the base optimizer.
    r: $r_t$, the rewards of the bettors (kept before the clamp at 0).
    m: $m_t$, the running max of $|h|$ per bettor.
    v: $v_t$, the decayed sum of $h^2$ per bettor.
    s: $s_t$, the scales of the bettors; the step uses their sum $S_t$.
    x0: $x_{ref}$, the params at the first update.
  """

  base_optimizer_state: Any
  count: jax.Array  # int32 steps taken
  r: jax.Array  # rewards r_t
  m: jax.Array  # running max m_t of |h|
  v: jax.Array  # decayed sum v_t of h^2
  s: jax.Array  # scales s_t
  x0: Any  # x_ref


def _norm(tree, dtype):
  """The tree's norm in ``dtype``, scaled by its largest entry so that squares cannot overflow."""
  tops = [jnp.max(jnp.abs(x)).astype(dtype) for x in _tree.leaves(tree)]
  if not tops:
    return jnp.zeros([], dtype)
  big = jnp.max(jnp.stack(tops))
  big = jnp.where(big > 0, big, 1)
  return big * _tree.norm(_tree.map(lambda x: _numerics.widen(x, dtype) / big, tree))


def mechanize(
  base_optimizer: GradientTransformation,
  weight_decay: Float = 1e-2,
  eps: Float = 1e-8,
  s_init: Float = 1e-6,
  num_betas: int = 6,
) -> GradientTransformationExtraArgs:
  """Mechanic around ``base_optimizer`` (module docstring); ``update`` needs the params.

  Give the base optimizer a learning rate (or schedule peak) of 1, or any
  constant: Mechanic learns the scale. Extra arguments of ``update`` (such as
  ``value=``) go to the base optimizer.

  Args:
    base_optimizer: the optimizer whose updates Mechanic scales; give it a learning rate of 1 (or
      any constant).
    weight_decay: $\\lambda$, the weight decay of Mechanic's own loss (it pulls the scale down, not
      the params directly); >= 0.
    eps: $\\epsilon$, keeps every denominator positive and $m_t > 0$; >= 0.
    s_init: $s_{init}$, the initial scale of each bettor (the first steps are about this times the
      base's); >= 0.
    num_betas: $n$, the number of bettors, with decays $1 - 10^{-i}$, $i = 1..n$.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.mechanize(jon.adam(1.0))
    >>> x = jnp.array([1.0, -2.0]); state = opt.init(x)
    >>> updates, state = opt.update(2 * x, state, x)
    >>> round(float(jnp.sum(state.s)), 8)   # s_init: the first step is s_init times Adam's
    1e-06

  Reference: Cutkosky, Defazio & Mehta, 2023, "Mechanic: A Learning Rate Tuner".
  """
  _validate.check(
    "mechanize",
    weight_decay=(weight_decay, _validate.NONNEGATIVE),
    eps=(eps, _validate.NONNEGATIVE),
    s_init=(s_init, _validate.NONNEGATIVE),
  )
  _validate.check_positive_int("mechanize", "num_betas", num_betas)
  base = with_extra_args_support(base_optimizer)

  def init_fn(params):
    bettors = lambda value: _placement.replicate_like(  # noqa: E731
      jnp.full([num_betas], value, _tree.scalar_dtype(params)), params
    )
    return MechanicState(
      base_optimizer_state=base.init(params),
      count=_placement.zero_count(params),
      r=bettors(0.0),
      m=bettors(0.0),
      v=bettors(0.0),
      s=bettors(s_init),
      x0=_tree.copy(params),
    )

  def update_fn(updates, state, params=None, **extra_args):
    if params is None:
      raise ValueError("mechanize needs the params: call update(grads, state, params)")
    moves, base_state = base.update(updates, state.base_optimizer_state, params, **extra_args)
    x_ref = _tree.where(state.count == 0, params, state.x0)
    dtype = state.s.dtype
    total = jnp.sum(state.s)
    delta = _tree.map(lambda x, x0: (x - x0) / (total + eps), params, x_ref)
    pull = weight_decay * total * _norm(updates, dtype) / (_norm(params, dtype) + eps)
    h = _tree.inner(_tree.map(lambda g, x: g + pull * x, updates, params), delta).astype(dtype)
    betas = 1 - 0.1 ** jnp.arange(1, num_betas + 1, dtype=dtype)
    m = jnp.maximum(betas * state.m, jnp.abs(h) + eps)
    v = betas**2 * state.v + h**2
    r = betas * state.r - state.s * jnp.clip(h, -state.m, state.m)
    s = (s_init / num_betas * m + jnp.maximum(r, 0)) / (_numerics.safe_sqrt(v) + eps)
    out = _tree.map(lambda x, x0, d, u: x0 + jnp.sum(s) * (d + u) - x, params, x_ref, delta, moves)
    return _tree.cast_like(out, updates), MechanicState(
      base_optimizer_state=base_state,
      count=_numerics.safe_increment(state.count),
      r=r.astype(dtype),
      m=m.astype(dtype),
      v=v.astype(dtype),
      s=s.astype(dtype),
      x0=_tree.cast_like(x_ref, state.x0),
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)
