"""Projections onto the simplex and onto $\\ell_1$ and $\\ell_2$ balls and spheres.

All act on the whole pytree as one vector $x$ (every leaf together), with
radius (or total) $s$ = ``scale``:

* simplex $\\{y \\ge 0, \\sum_i y_i = s\\}$: $y = \\max(x - \\theta, 0)$ with the
  threshold $\\theta$ making the sum $s$, found by sorting (Held, Wolfe &
  Crowder, 1974; Duchi et al., 2008);
* $\\ell_1$ sphere $\\|y\\|_1 = s$: $y = \\operatorname{sign}(x) \\odot
  P_{\\text{simplex}}(|x|)$ (the sign of a zero taken as $+$, so that the
  result is on the sphere even from the origin);
* $\\ell_1$ ball $\\|y\\|_1 \\le s$: $x$ inside, the $\\ell_1$ sphere's
  projection outside;
* $\\ell_2$ ball $\\|y\\|_2 \\le s$: $x \\min(1, s/\\|x\\|_2)$;
* $\\ell_2$ sphere $\\|y\\|_2 = s$: $s\\, x / \\|x\\|_2$ (from the origin, where
  every point of the sphere is nearest, $s$ times the first unit vector).

The spheres are not convex, so their projections are a nearest point, not
necessarily the only one.
"""

from typing import Any

import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxopt_notes import _numerics, _tree
from jaxopt_notes._docargs import shared_args


def _on_flat(tree: Any, f) -> Any:
  """Applies ``f`` to all leaves raveled into one vector; same tree and dtypes out."""
  flat, unravel = ravel_pytree(tree)
  return _tree.cast_like(unravel(f(flat)), tree)


def _simplex(v: jnp.ndarray, scale: Any) -> jnp.ndarray:
  u = jnp.sort(v)[::-1]
  excess = jnp.cumsum(u) - scale
  k = jnp.arange(1, v.size + 1, dtype=v.dtype)
  support = jnp.sum(u - excess / k > 0)  # the number of positive entries
  theta = excess[support - 1] / support.astype(v.dtype)
  return jnp.maximum(v - theta, 0)


def _signs(v: jnp.ndarray) -> jnp.ndarray:
  return jnp.where(v < 0, -1, 1).astype(v.dtype)


@shared_args
def projection_simplex(tree: Any, scale: Any = 1) -> Any:
  """Projection onto the simplex $\\{y \\ge 0, \\sum y = s\\}$ (module docstring).

  Args:
    scale: $s$, the sum of the projection's entries; > 0.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import projections
    >>> projections.projection_simplex(jnp.array([0.5, 1.5, -1.0])).tolist()
    [0.0, 1.0, 0.0]
  """
  return _on_flat(tree, lambda v: _simplex(v, scale))


@shared_args
def projection_l1_sphere(tree: Any, scale: Any = 1) -> Any:
  """Projection onto the $\\ell_1$ sphere $\\|y\\|_1 = s$ (module docstring).

  Args:
    scale: $s$, the radius; > 0.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import projections
    >>> [round(float(v), 4) for v in projections.projection_l1_sphere(jnp.array([0.1, -0.2]))]
    [0.45, -0.55]
  """
  return _on_flat(tree, lambda v: _signs(v) * _simplex(jnp.abs(v), scale))


@shared_args
def projection_l1_ball(tree: Any, scale: Any = 1) -> Any:
  """Projection onto the $\\ell_1$ ball $\\|y\\|_1 \\le s$ (module docstring).

  Args:
    scale: $s$, the radius; > 0.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import projections
    >>> projections.projection_l1_ball(jnp.array([2.0, 0.5])).tolist()
    [1.0, 0.0]
  """

  def project(v):
    inside = jnp.sum(jnp.abs(v)) <= scale
    return jnp.where(inside, v, _signs(v) * _simplex(jnp.abs(v), scale))

  return _on_flat(tree, project)


@shared_args
def projection_l2_ball(tree: Any, scale: Any = 1) -> Any:
  """Projection onto the $\\ell_2$ ball $\\|y\\|_2 \\le s$ (module docstring).

  Args:
    scale: $s$, the radius; >= 0.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import projections
    >>> projections.projection_l2_ball({'a': jnp.array([3.0]), 'b': jnp.array(4.0)})
    {'a': Array([0.6], dtype=float32), 'b': Array(0.8, dtype=float32)}
  """

  def project(v):
    norm = _numerics.safe_sqrt(jnp.real(jnp.vdot(v, v)))  # no 0/0 in its gradient at 0
    return jnp.where(norm <= scale, v, v * _numerics.safe_div(scale, norm))

  return _on_flat(tree, project)


@shared_args
def projection_l2_sphere(tree: Any, scale: Any = 1) -> Any:
  """Projection onto the $\\ell_2$ sphere $\\|y\\|_2 = s$ (module docstring).

  Args:
    scale: $s$, the radius; >= 0. The zero vector goes to $(s, 0, \\dots)$.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import projections
    >>> projections.projection_l2_sphere(jnp.array([0.0, 0.5]), 2.0).tolist()
    [0.0, 2.0]
  """

  def project(v):
    norm = jnp.linalg.norm(v)
    first = jnp.zeros_like(v).at[0].set(scale)
    return jnp.where(norm > 0, v * _numerics.safe_div(scale, norm), first)

  return _on_flat(tree, project)
