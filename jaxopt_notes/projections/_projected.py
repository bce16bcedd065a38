"""Projected gradient methods: any optimizer, with its iterates kept in a set $C$.

$$
u_t = \\text{inner}(g_t), \\qquad x_{t+1} = P_C(x_t + u_t), \\qquad
\\text{so the update returned is } P_C(x_t + u_t) - x_t .
$$

With plain gradient descent and a convex $C$ this is the projected gradient
method, which converges at the rate of gradient descent on the unconstrained
problem (Bertsekas, 1999, section 2.3).
"""

from collections.abc import Callable
from typing import Any

from jaxopt_notes import _tree
from jaxopt_notes._base import GradientTransformationExtraArgs, with_extra_args_support


def projected(inner: Any, projection: Callable[[Any], Any]) -> GradientTransformationExtraArgs:
  """Makes ``inner`` a projected optimizer: ``params + updates`` lies in the set.

  The math is in the module docstring. The state is ``inner``'s; keyword
  extras of ``update`` reach ``inner``. The start should lie in the set (the
  first step projects it there if not).

  Args:
    inner: a `GradientTransformation` whose updates are added to the params.
    projection: ``params -> params``, the projection $P_C$, e.g.
      ``functools.partial(projections.projection_box, lower=0.0, upper=1.0)``.

  Returns:
    A `GradientTransformationExtraArgs` whose ``update`` needs ``params``.

  Examples:
    >>> import functools, jax.numpy as jnp, jaxopt_notes as jon
    >>> from jaxopt_notes import projections
    >>> opt = jon.projected(jon.sgd(0.5), projections.projection_non_negative)
    >>> x = jnp.array([1.0, 1.0])
    >>> updates, _ = opt.update(jnp.array([4.0, -2.0]), opt.init(x), x)
    >>> (x + updates).tolist()
    [0.0, 2.0]

  References:
    Goldstein, 1964, "Convex programming in Hilbert space"; Levitin & Polyak,
    1966; d2l.ai, chapter 11.2.3.
  """
  inner = with_extra_args_support(inner)

  def update_fn(updates, state, params=None, **extra_args):
    if params is None:
      raise ValueError("projected: `update` needs the current `params`")
    updates, state = inner.update(updates, state, params, **extra_args)
    target = projection(_tree.add(params, updates))
    return _tree.cast_like(_tree.sub(target, params), updates), state

  return GradientTransformationExtraArgs(inner.init, update_fn)
