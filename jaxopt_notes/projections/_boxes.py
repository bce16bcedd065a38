"""Projections onto sets described coordinate by coordinate, and onto flat sets.

Each function maps a pytree $x$ to $\\operatorname{argmin}_{y \\in C} \\|y - x\\|_2$
(distance over all leaves together), a pytree of the same structure.

| set $C$ | projection |
|---|---|
| non-negative orthant $y \\ge 0$ | $\\max(x, 0)$ |
| box $l \\le y \\le u$ | $\\min(\\max(x, l), u)$ |
| hypercube $0 \\le y \\le s$ | the box with $l = 0, u = s$ |
| $\\ell_\\infty$ ball $\\|y\\|_\\infty \\le s$ | the box with $l = -s, u = s$ |
| hyperplane $\\langle a, y\\rangle = b$ | $x - \\frac{\\langle a, x\\rangle - b}{\\|a\\|^2}\\, a$ |
| halfspace $\\langle a, y\\rangle \\le b$ | $x - \\frac{\\max(\\langle a, x\\rangle - b,\\ 0)}{\\|a\\|^2}\\, a$ |
"""  # noqa: E501 - a table row cannot be wrapped

from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _tree
from jaxopt_notes._docargs import shared_args


def _broadcast(bound: Any, tree: Any) -> Any:
  """A scalar bound for every leaf, or a tree of bounds as given."""
  if jax.tree.structure(bound) == jax.tree.structure(tree):
    return bound
  return jax.tree.map(lambda _: bound, tree)


@shared_args
def projection_non_negative(tree: Any) -> Any:
  """Projection onto the non-negative orthant, $\\max(x, 0)$ leafwise.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import projections
    >>> projections.projection_non_negative(jnp.array([-1.0, 2.0])).tolist()
    [0.0, 2.0]
  """
  return _tree.map(lambda x: jnp.maximum(x, 0).astype(jnp.asarray(x).dtype), tree)


def projection_box(tree: Any, lower: Any, upper: Any) -> Any:
  """Projection onto the box $l \\le y \\le u$, a leafwise clip.

  Args:
    tree: the point $x$.
    lower: the lower bound: a scalar, or a tree shaped like ``tree``.
    upper: the upper bound, likewise.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import projections
    >>> projections.projection_box(jnp.array([-3.0, 0.5, 9.0]), -1.0, 1.0).tolist()
    [-1.0, 0.5, 1.0]
  """
  return _tree.map(
    lambda x, lo, hi: jnp.clip(x, lo, hi).astype(jnp.asarray(x).dtype),
    tree,
    _broadcast(lower, tree),
    _broadcast(upper, tree),
    broadcast=True,
  )


@shared_args
def projection_hypercube(tree: Any, scale: Any = 1) -> Any:
  """Projection onto the hypercube $0 \\le y \\le s$ (``scale``), a box.

  Args:
    scale: $s$, the upper bound of every entry; >= 0.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import projections
    >>> projections.projection_hypercube(jnp.array([-3.0, 0.5, 9.0]), 2.0).tolist()
    [0.0, 0.5, 2.0]
  """
  return projection_box(tree, 0, scale)


@shared_args
def projection_linf_ball(tree: Any, scale: Any = 1) -> Any:
  """Projection onto the $\\ell_\\infty$ ball $\\|y\\|_\\infty \\le s$ (``scale``), a box.

  Args:
    scale: $s$, the radius; >= 0.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import projections
    >>> projections.projection_linf_ball(jnp.array([-3.0, 0.5]), 2.0).tolist()
    [-2.0, 0.5]
  """
  return projection_box(tree, -scale, scale)


def _along_normal(x: Any, a: Any, b: Any, keep: Any) -> Any:
  """$x - c\\,a$ with $c = (\\langle a, x\\rangle - b)/\\|a\\|^2$, clipped by ``keep(c)``."""
  c = keep(_numerics.safe_div(_tree.vdot(a, x) - b, _tree.vdot(a, a)))
  return _tree.cast_like(_tree.add_scale(x, -c, a), x)


def projection_hyperplane(x: Any, a: Any, b: Any) -> Any:
  """Projection onto the hyperplane $\\langle a, y\\rangle = b$.

  Args:
    x: the point, a pytree.
    a: the normal, a pytree like ``x`` (not all zero).
    b: the offset, a scalar.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import projections
    >>> x, a = jnp.array([2.0, 2.0]), jnp.array([1.0, 1.0])
    >>> projections.projection_hyperplane(x, a, 2.0).tolist()
    [1.0, 1.0]
  """
  return _along_normal(x, a, b, lambda c: c)


def projection_vector(x: Any, a: Any) -> Any:
  """Projection onto the line spanned by ``a``: $\\frac{\\langle x, a\\rangle}{\\|a\\|^2}\\,a$.

  Args:
    x: the point, a pytree.
    a: the direction, a pytree like ``x``. If it is all zero the result is all zero.

  Returns:
    The projection, a pytree like ``x``.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import projections
    >>> projections.projection_vector(jnp.array([2.0, 0.0]), jnp.array([1.0, 1.0])).tolist()
    [1.0, 1.0]
  """
  return _tree.cast_like(_tree.scale(_numerics.safe_div(_tree.vdot(x, a), _tree.vdot(a, a)), a), x)


def projection_halfspace(x: Any, a: Any, b: Any) -> Any:
  """Projection onto the halfspace $\\langle a, y\\rangle \\le b$; arguments as
  `projection_hyperplane`.

  Args:
    x: the point, a pytree.
    a: the normal, a pytree like ``x`` (not all zero).
    b: the offset, a scalar.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import projections
    >>> a = jnp.array([1.0, 1.0])
    >>> projections.projection_halfspace(jnp.array([2.0, 2.0]), a, 2.0).tolist()
    [1.0, 1.0]
    >>> projections.projection_halfspace(jnp.array([0.5, 0.0]), a, 2.0).tolist()
    [0.5, 0.0]
  """
  return _along_normal(x, a, b, lambda c: jnp.maximum(c, 0))
