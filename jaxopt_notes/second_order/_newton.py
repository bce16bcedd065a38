"""Newton's method, with damping, a gradient fallback, and a Hessian-free (CG) variant.

$$
d_t = (\\nabla^2 f(x_t) + \\lambda I)^{-1} \\nabla f(x_t), \\qquad
x_{t+1} = x_t - \\eta\\, d_t
$$

with $\\lambda \\ge 0$ the (Levenberg-style) ``damping`` and $\\eta = 1$
unless a learning rate or a line search says otherwise. Near a minimizer with
a positive definite Hessian the undamped step converges quadratically, and on
a quadratic it lands on the minimizer at once. Where $H + \\lambda I$ is not
positive definite (a saddle, a concave region) the Newton step need not
descend: it heads for the stationary point, maximum or saddle alike (the study
notes' advice: do not use Newton unmodified on non-convex problems). With
``fallback_to_gradient`` such steps use $d_t = \\nabla f(x_t)$ instead.

`scale_by_newton` forms the dense Hessian of ``value_fn`` over the raveled
params ($n^2$ memory, a Cholesky factorization per step). `scale_by_newton_cg`
solves the same system by conjugate gradients with Hessian-vector products
only (each costs about one gradient), stopping at a relative residual ``tol``
or, when it meets a direction of non-positive curvature, returning the iterate
reached so far (the gradient if that happens at once): the truncated Newton
method.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jax.flatten_util import ravel_pytree

from jaxopt_notes import _numerics, _tree, _validate
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
)
from jaxopt_notes.second_order import _common
from jaxopt_notes._docargs import shared_args


class ScaleByNewtonState(NamedTuple):
  """State of `scale_by_newton`.

  Attributes:
    is_positive_definite: whether $H + \\lambda I$ was positive definite at the last step.
  """

  is_positive_definite: jax.Array  # whether H + damping I was, at the last step


class ScaleByNewtonCGState(NamedTuple):
  """State of `scale_by_newton_cg`.

  Attributes:
    num_hvp: int32 Hessian-vector products taken at the last step.
    negative_curvature: whether CG stopped on a non-positive curvature.
  """

  num_hvp: jax.Array  # Hessian-vector products taken at the last step (int32)
  negative_curvature: jax.Array  # whether CG stopped on a non-positive curvature


def scale_by_newton(
  damping: float = 0.0, fallback_to_gradient: bool = True
) -> GradientTransformationExtraArgs:
  """The Newton direction $(\\nabla^2 f + \\lambda I)^{-1} g$ from a dense Hessian; see `newton`.

  ``update(grads, state, params, *, value_fn, **extras)``.

  Args:
    damping: $\\lambda \\ge 0$, added to the Hessian's diagonal.
    fallback_to_gradient: use the gradient direction where $H + \\lambda I$ is not positive
      definite.
  """
  _validate.check("scale_by_newton", damping=(damping, _validate.NONNEGATIVE))

  def update_fn(updates, state, params=None, *, value_fn=None, value=None, grad=None, **extra_args):
    del state, value, grad
    f = _common.bind_value_fn("scale_by_newton", value_fn, extra_args)
    hessian, _ = _common.dense_hessian(f, params)
    g, unravel = ravel_pytree(updates)
    system = hessian + damping * jnp.eye(g.size, dtype=hessian.dtype)
    factor = jnp.linalg.cholesky(system)
    positive = jnp.all(jnp.isfinite(factor))
    newton_step = jnp.where(positive, jsl.cho_solve((factor, True), g), jnp.linalg.solve(system, g))
    direction = jnp.where(positive | (not fallback_to_gradient), newton_step, g)
    return _tree.cast_like(unravel(direction), updates), ScaleByNewtonState(positive)

  def init_fn(params):
    del params
    return ScaleByNewtonState(jnp.asarray(True))

  return GradientTransformationExtraArgs(init_fn, update_fn)


def _truncated_cg(hvp, g, tol, maxiter):
  """Solves $H d = g$ by CG from $d = 0$, stopping on non-positive curvature.

  Returns ``(d, products taken, stopped on curvature)``.
  """

  def keep_going(c):
    _, r, _, rr, k, stop = c
    return (~stop) & (k < maxiter) & (jnp.sqrt(rr) > tol * _tree.norm(g))

  def body(c):
    d, r, p, rr, k, _ = c
    hp = hvp(p)
    curvature = _tree.vdot(p, hp)
    bad = curvature <= 0
    alpha = _numerics.safe_div(rr, jnp.where(bad, 0.0, curvature))
    d_next = _tree.add_scale(d, alpha, p)
    r_next = _tree.add_scale(r, -alpha, hp)
    rr_next = _tree.vdot(r_next, r_next)
    p_next = _tree.add_scale(r_next, _numerics.safe_div(rr_next, rr), p)
    d_out = _tree.where(bad, _tree.where(k == 0, g, d), d_next)
    return (
      d_out,
      _tree.where(bad, r, r_next),
      _tree.where(bad, p, p_next),
      jnp.where(bad, rr, rr_next),
      k + 1,
      bad,
    )

  zero = _tree.zeros_like(g)
  start = (zero, g, g, _tree.vdot(g, g), jnp.zeros([], jnp.int32), jnp.asarray(False))
  d, _, _, _, k, stop = jax.lax.while_loop(keep_going, body, start)
  return d, k, stop


def scale_by_newton_cg(
  damping: float = 0.0, tol: float = 1e-5, maxiter: int | None = None
) -> GradientTransformationExtraArgs:
  """The Newton direction by conjugate gradients on Hessian-vector products; see `newton_cg`.

  ``update(grads, state, params, *, value_fn, **extras)``.

  Args:
    damping: $\\lambda \\ge 0$, added to the Hessian's diagonal.
    tol: stop CG when $\\|H d - g\\| \\le \\text{tol}\\,\\|g\\|$.
    maxiter: the most CG iterations (Hessian-vector products) per step; ``None``: the number of
      scalars in the params.
  """
  owner = "scale_by_newton_cg"
  _validate.check(owner, damping=(damping, _validate.NONNEGATIVE), tol=(tol, _validate.NONNEGATIVE))
  if maxiter is not None:
    _validate.check_positive_int(owner, "maxiter", maxiter)

  def init_fn(params):
    del params
    return ScaleByNewtonCGState(jnp.zeros([], jnp.int32), jnp.asarray(False))

  def update_fn(updates, state, params=None, *, value_fn=None, value=None, grad=None, **extra_args):
    del state, value, grad
    f = _common.bind_value_fn(owner, value_fn, extra_args)
    hvp = lambda v: _tree.add_scale(  # noqa: E731
      _common.hessian_vector_product(f, params, v), damping, v
    )
    size = sum(jnp.size(x) for x in _tree.leaves(updates))
    direction, count, stopped = _truncated_cg(
      hvp, updates, tol, size if maxiter is None else maxiter
    )
    return _tree.cast_like(direction, updates), ScaleByNewtonCGState(count, stopped)

  return GradientTransformationExtraArgs(init_fn, update_fn)


@shared_args(like=scale_by_newton)
def newton(
  learning_rate: ScalarOrSchedule | None = None,
  damping: float = 0.0,
  fallback_to_gradient: bool = True,
  linesearch: GradientTransformation | None = None,
) -> GradientTransformationExtraArgs:
  """Newton's method with a dense Hessian (module docstring).

  ``update(grads, state, params, *, value_fn, value=None, grad=None, **extras)``;
  extras go to ``value_fn``.

  Args:
    learning_rate: $\\eta$; ``None`` takes the full step ($\\eta = 1$).
    fallback_to_gradient: use the gradient direction where $H + \\lambda I$ is
      not positive definite; ``False`` takes the Newton step regardless.
    linesearch: a line search to scale the direction, e.g.
      ``scale_by_backtracking_linesearch(20)``; ``None`` for none.

  Returns:
    A `GradientTransformationExtraArgs`.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> A = jnp.array([[3.0, 1.0], [1.0, 2.0]]); b = jnp.array([1.0, -1.0])
    >>> f = lambda x: 0.5 * x @ A @ x - b @ x
    >>> opt = jon.newton()
    >>> x = jnp.zeros(2)
    >>> updates, _ = opt.update(jax.grad(f)(x), opt.init(x), x, value_fn=f)
    >>> [round(float(v), 5) for v in x + updates]   # A^{-1} b in one step
    [0.6, -0.8]

  References:
    Nocedal & Wright, 2006, "Numerical Optimization", sections 3.3 and 3.4;
    Levenberg, 1944; d2l.ai, chapter 11.3.3.
  """
  return _common.descend(
    scale_by_newton(damping, fallback_to_gradient), learning_rate, linesearch, "newton"
  )


@shared_args(like=scale_by_newton_cg)
def newton_cg(
  learning_rate: ScalarOrSchedule | None = None,
  damping: float = 0.0,
  tol: float = 1e-5,
  maxiter: int | None = None,
  linesearch: GradientTransformation | None = None,
) -> GradientTransformationExtraArgs:
  """Hessian-free (truncated) Newton: CG on Hessian-vector products (module docstring).

  For params too large for a dense Hessian. Arguments as `newton`, and:

  Args:
    maxiter: the most CG iterations (Hessian-vector products) per step;
      ``None``: the number of scalars in the params.
    learning_rate: $\\eta$; ``None`` takes the full step ($\\eta = 1$).
    linesearch: a line search applied to the direction (see `newton`); ``None`` for none.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> f = lambda x: jnp.sum(jnp.arange(1.0, 4.0) * (x - 1.0) ** 2)
    >>> opt = jon.newton_cg()
    >>> x = jnp.zeros(3)
    >>> updates, state = opt.update(jax.grad(f)(x), opt.init(x), x, value_fn=f)
    >>> [round(float(v), 4) for v in x + updates], int(state[0].num_hvp)
    ([1.0, 1.0, 1.0], 3)

  References:
    Nocedal & Wright, 2006, "Numerical Optimization", algorithm 7.1;
    Martens, 2010, "Deep learning via Hessian-free optimization".
  """
  return _common.descend(
    scale_by_newton_cg(damping, tol, maxiter), learning_rate, linesearch, "newton_cg"
  )
