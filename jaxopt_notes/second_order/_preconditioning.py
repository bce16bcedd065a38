"""Preconditioned gradient descent with a fixed, user-supplied preconditioner.

$$
x_{t+1} = x_t - \\eta\\, P\\, \\nabla f(x_t)
$$

$P$ approximates the inverse Hessian: with $P = (\\nabla^2 f)^{-1}$ on a
quadratic and $\\eta = 1$ one step reaches the minimum. $P$ may be

* a pytree shaped like the params: the diagonal of $P$, applied leafwise
  ($P g$ = ``p * g``); a scalar leaf scales its whole leaf;
* a matrix of shape $(n, n)$, $n$ the number of scalars in the params: dense
  $P$ over the raveled params (leaves in `jax.tree.leaves` order);
* a function ``updates -> updates`` (a linear operator).
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxopt_notes import _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule, stateless
from jaxopt_notes._combine import chain
from jaxopt_notes.transforms._scaling import scale_by_learning_rate


def _apply(preconditioner: Any, updates: Any) -> Any:
  if callable(preconditioner):
    return preconditioner(updates)
  structure = jax.tree.structure(updates)
  if jax.tree.structure(preconditioner) == structure and all(
    jnp.ndim(p) == 0 or jnp.shape(p) == jnp.shape(u)
    for p, u in zip(jax.tree.leaves(preconditioner), jax.tree.leaves(updates), strict=True)
  ):
    return _tree.map(lambda u, p: (p * u).astype(u.dtype), updates, preconditioner, broadcast=True)
  flat, unravel = ravel_pytree(updates)
  matrix = jnp.asarray(preconditioner)
  if matrix.shape != (flat.size, flat.size):
    raise ValueError(
      "scale_by_preconditioner: the preconditioner must be a tree shaped "
      f"like the updates, a ({flat.size}, {flat.size}) matrix or a "
      f"function; got shape {matrix.shape}"
    )
  return _tree.cast_like(unravel(matrix @ flat), updates)


def scale_by_preconditioner(preconditioner: Any | Callable[[Any], Any]) -> GradientTransformation:
  """Multiplies the updates by a fixed preconditioner $P$; see `preconditioned_sgd`.

  Args:
    preconditioner: a diagonal (tree like the params), a dense $(n, n)$ matrix
      over the raveled params, or a function ``updates -> updates``.

  Returns:
    A stateless `GradientTransformation` returning $P g$.
  """
  return stateless(lambda updates, params: _apply(preconditioner, updates))


def preconditioned_sgd(
  learning_rate: ScalarOrSchedule, preconditioner: Any
) -> GradientTransformation:
  """Preconditioned gradient descent $x_{t+1} = x_t - \\eta P \\nabla f(x_t)$ (module docstring).

  Args:
    learning_rate: $\\eta$, a number or a schedule.
    preconditioner: $P$, as in `scale_by_preconditioner`.

  Returns:
    A `GradientTransformation`.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> # f = x^2/2 + 50 y^2: the diagonal inverse Hessian solves it in one step
    >>> opt = jon.preconditioned_sgd(1.0, jnp.array([1.0, 0.01]))
    >>> x = jnp.array([3.0, -2.0]); g = jnp.array([3.0, -200.0])
    >>> updates, _ = opt.update(g, opt.init(x))
    >>> [float(v) for v in x + updates]
    [0.0, 0.0]

  References:
    d2l.ai, chapter 11.3.3 (preconditioning); Nocedal & Wright, 2006,
    "Numerical Optimization", section 5.1.
  """
  _validate.check("preconditioned_sgd", learning_rate=(learning_rate, _validate.FINITE))
  return chain(scale_by_preconditioner(preconditioner), scale_by_learning_rate(learning_rate))
