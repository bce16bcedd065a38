"""Exact line search on a quadratic, and steepest descent built on it.

For $f(x) = \\tfrac12 x^\\top A x - b^\\top x$ the value along a direction $d$
is a parabola in $\\eta$, minimized at

$$
\\eta^\\star = -\\frac{\\langle \\nabla f(x), d\\rangle}{d^\\top A d}, \\qquad
\\nabla f(x) = A x - b .
$$

$A d$ is computed as a Hessian-vector product of ``value_fn`` at the params, so
no matrix is needed; for a function that is not quadratic the same step is one
Newton step along the line. Steepest descent (Cauchy's method) takes $d = -\\nabla f(x)$
and this step: $x_{t+1} = x_t - \\eta^\\star_t \\nabla f(x_t)$ with
$\\eta^\\star_t = \\|g_t\\|^2 / g_t^\\top A g_t$.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _tree
from jaxopt_notes._base import GradientTransformationExtraArgs
from jaxopt_notes._combine import chain
from jaxopt_notes.second_order import _common
from jaxopt_notes.transforms._scaling import scale


class ScaleByExactLinesearchState(NamedTuple):
  """State of `scale_by_exact_linesearch`.

  Attributes:
    learning_rate: the step size returned last.
    num_linesearch_steps: int32 Hessian-vector products the last search took (1 per step).
  """

  learning_rate: jax.Array  # the step size returned last
  num_linesearch_steps: jax.Array  # Hessian-vector products it took (1 per step; int32)


def scale_by_exact_linesearch() -> GradientTransformationExtraArgs:
  """Scales the updates by the step that minimizes a quadratic along them.

  The formula is in the module docstring. ``update(updates, state, params, *,
  value_fn, grad=None, **extras)``: ``updates`` is the direction, ``grad`` the
  gradient at ``params`` (computed when left out). Where the curvature
  $d^\\top A d$ is not positive (no minimum along the line) the step is 0.

  Returns:
    A `GradientTransformationExtraArgs`.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> f = lambda x: 0.5 * (x[0] ** 2 + 4 * x[1] ** 2)
    >>> opt = jon.chain(jon.scale(-1.0), jon.scale_by_exact_linesearch())
    >>> x = jnp.array([1.0, 1.0]); g = jnp.array([1.0, 4.0])
    >>> updates, state = opt.update(g, opt.init(x), x, value_fn=f)
    >>> round(float(state[-1].learning_rate), 6)   # |g|^2 / g'Ag = 17 / 65
    0.261538

  References:
    Cauchy, 1847, "Méthode générale pour la résolution des systèmes d'équations
    simultanées"; Nocedal & Wright, 2006, "Numerical Optimization", eq. 3.26.
  """
  owner = "scale_by_exact_linesearch"

  def init_fn(params):
    return ScaleByExactLinesearchState(
      jnp.zeros([], _common.value_dtype(params)), jnp.zeros([], jnp.int32)
    )

  def update_fn(updates, state, params=None, *, value_fn=None, grad=None, value=None, **extra_args):
    del value
    f = _common.bind_value_fn(owner, value_fn, extra_args)
    grad = jax.grad(f)(params) if grad is None else grad
    curvature = _tree.inner(updates, _common.hessian_vector_product(f, params, updates))
    step = _numerics.safe_div(
      -_common.slope(grad, updates), jnp.where(curvature > 0, curvature, 0.0)
    )
    step = step.astype(state.learning_rate.dtype)
    return _tree.cast_like(_tree.scale(step, updates), updates), ScaleByExactLinesearchState(
      step, jnp.ones([], jnp.int32)
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)


def steepest_descent() -> GradientTransformationExtraArgs:
  """Steepest descent: the negative gradient with the exact step (module docstring).

  ``update(grads, state, params, value_fn=f)``. Exact on quadratics; on other
  functions the step is a Newton step along the gradient, which can go uphill
  where the function is not convex.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> f = lambda x: 0.5 * (x[0] ** 2 + 4 * x[1] ** 2)
    >>> opt = jon.steepest_descent()
    >>> x = jnp.array([4.0, 1.0]); state = opt.init(x)
    >>> for _ in range(20):
    ...   updates, state = opt.update(jax.grad(f)(x), state, x, value_fn=f)
    ...   x = jon.apply_updates(x, updates)
    >>> float(f(x)) < 1e-6
    True

  References:
    Cauchy, 1847; d2l.ai, chapter 11.3.
  """
  return chain(scale(-1.0), scale_by_exact_linesearch())
