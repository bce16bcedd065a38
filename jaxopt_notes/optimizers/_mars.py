"""MARS (Yuan et al., 2024): a variance-reduced gradient for any optimizer.

MARS ("make variance reduction shine") corrects each gradient by the change
since the last one, scaled as in STORM, clips the result to norm 1 and hands it
to a preconditioned optimizer:

$$
c_t = g_t + \\gamma\\,\\frac{\\beta_1}{1-\\beta_1}\\,(g_t - g_{t-1}),\\qquad
\\tilde c_t = \\begin{cases} c_t / \\lVert c_t\\rVert_2 & \\lVert c_t\\rVert_2 > 1\\\\
                              c_t & \\text{otherwise}\\end{cases}
$$

(the paper's approximate, one-gradient-per-step MARS). On the first step there
is no earlier gradient and $c_1 = g_1$, as the paper's $x_1 = x_0$ gives.
`mars` wraps any optimizer, which then sees $\\tilde c_t$ in place of $g_t$;
`mars_adamw` is the paper's MARS-AdamW (Algorithm 2):

$$
m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\tilde c_t,\\quad
v_t = \\beta_2 v_{t-1} + (1-\\beta_2)\\tilde c_t^2,\\quad
\\theta_t = \\theta_{t-1} - \\eta\\Big(\\frac{\\hat m_t}{\\sqrt{\\hat v_t} + \\epsilon}
                                        + \\lambda\\theta_{t-1}\\Big)
$$

The paper takes the norm of the whole parameter vector (``per_leaf=False``);
its published code takes it one parameter tensor at a time (``per_leaf=True``).
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
  with_extra_args_support,
)
from jaxopt_notes._docargs import shared_args
from jaxopt_notes._moments import Float
from jaxopt_notes.optimizers._adam import adamw

_BELOW_ONE = _validate.Range(0.0, 1.0, hi_closed=False)


@shared_args
class MarsState(NamedTuple):
  """State of `mars`.

  Attributes:
    prev_grad: the previous gradient $g_{t-1}$.
    inner_state: the wrapped optimizer's state.
  """

  count: jax.Array  # int32 steps taken, saturating
  prev_grad: Any  # the last gradient g_{t-1}
  inner_state: Any  # the wrapped optimizer's state


def _clip_to_unit_norm(c: Any, per_leaf: bool) -> Any:
  if per_leaf:
    return _tree.map(lambda x: x / jnp.maximum(1, jnp.linalg.norm(x.ravel())).astype(x.dtype), c)
  norm = _tree.norm(c, dtype=_tree.scalar_dtype(c))
  return _tree.map(lambda x: x / jnp.maximum(1, norm).astype(x.dtype), c)


def mars(
  inner: GradientTransformation, b1: Float = 0.95, gamma: Float = 0.025, per_leaf: bool = False
) -> GradientTransformationExtraArgs:
  """Wraps ``inner`` so that it sees MARS's corrected, clipped gradient (module docstring).

  Args:
    inner: the optimizer the corrected gradient $\\tilde c_t$ is handed to.
    b1: the $\\beta_1$ of the scale $\\gamma\\beta_1/(1-\\beta_1)$ (that of ``inner``'s momentum).
    gamma: the strength $\\gamma$ of the correction (0: plain clipped gradients).
    per_leaf: whether to clip each leaf to norm 1 (the published code) rather
      than the whole tree (the paper).

  Returns:
    The wrapped optimizer; its state is `MarsState`.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.mars(jon.sgd(1.0), b1=0.5, gamma=1.0)
    >>> state = opt.init(jnp.zeros(2))
    >>> updates, state = opt.update(jnp.array([0.3, 0.2]), state)   # c_1 = g_1
    >>> updates, _ = opt.update(jnp.array([0.4, 0.2]), state)   # g + 1 * (g - g_prev)
    >>> [round(float(u), 4) for u in updates]
    [-0.5, -0.2]

  Reference: Yuan, Liu, Wu, Zhou & Gu, 2024, "MARS: Unleashing the Power of
  Variance Reduction for Training Large Models".
  """
  _validate.check("mars", b1=(b1, _BELOW_ONE), gamma=(gamma, _validate.FINITE))
  inner = with_extra_args_support(inner)

  def init_fn(params):
    return MarsState(
      count=_placement.zero_count(params),
      prev_grad=_tree.zeros_like(params),
      inner_state=inner.init(params),
    )

  def update_fn(updates, state, params=None, **extra_args):
    first = state.count == 0
    scale = gamma * b1 / (1 - b1)
    c = _tree.map(
      lambda g, p: g + (scale * jnp.where(first, 0, g - p)).astype(g.dtype),
      updates,
      state.prev_grad,
    )
    c = _tree.cast_like(c, updates)  # frozen leaves (no previous gradient) as frozen updates
    out, inner_state = inner.update(
      _clip_to_unit_norm(c, per_leaf), state.inner_state, params, **extra_args
    )
    return out, MarsState(
      count=_numerics.safe_increment(state.count),
      prev_grad=_tree.cast_like(updates, state.prev_grad),
      inner_state=inner_state,
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)


@shared_args
def mars_adamw(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.95,
  b2: Float = 0.99,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  weight_decay: Float = 0.0,
  mask: Any = None,
  gamma: Float = 0.025,
  per_leaf: bool = False,
  *,
  nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
  """MARS-AdamW: `adamw` fed MARS's corrected, clipped gradient (module docstring).

  Args:
    b1: the momentum's decay $\\beta_1$ (also in the correction's scale).
    b2: the second moment's decay $\\beta_2$.
    eps: added to $\\sqrt{\\hat v_t}$.
    eps_root: added to $\\hat v_t$ inside the root.
    weight_decay: the decoupled weight decay $\\lambda$.
    gamma: the strength $\\gamma$ of the correction.
    per_leaf: clip each leaf (the published code) rather than the whole tree (the paper).

  Returns:
    The optimizer; its state is `MarsState`.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.mars_adamw(0.1)
    >>> updates, _ = opt.update(jnp.array([3.0, -4.0]), opt.init(jnp.zeros(2)))
    >>> [round(float(u), 4) for u in updates]   # the first step is about -lr * sign(g)
    [-0.1, 0.1]

  Reference: Yuan, Liu, Wu, Zhou & Gu, 2024, "MARS: Unleashing the Power of
  Variance Reduction for Training Large Models".
  """
  return mars(
    adamw(
      learning_rate,
      b1,
      b2,
      eps,
      eps_root,
      mu_dtype,
      weight_decay=weight_decay,
      mask=mask,
      nu_dtype=nu_dtype,
    ),
    b1,
    gamma,
    per_leaf,
  )
