"""Euclidean projections onto convex sets (and two spheres), and `projected`.

Every projection takes a pytree and returns the nearest point of the set, a
pytree of the same structure and dtypes; argument names follow
``optax.projections``. `projected` turns any optimizer into a projected one.
"""

from jaxopt_notes.projections._balls import (
  projection_l1_ball,
  projection_l1_sphere,
  projection_l2_ball,
  projection_l2_sphere,
  projection_simplex,
)
from jaxopt_notes.projections._boxes import (
  projection_box,
  projection_halfspace,
  projection_hypercube,
  projection_hyperplane,
  projection_linf_ball,
  projection_non_negative,
  projection_vector,
)
from jaxopt_notes.projections._projected import projected

__all__ = [
  "projected",
  "projection_box",
  "projection_halfspace",
  "projection_hypercube",
  "projection_hyperplane",
  "projection_l1_ball",
  "projection_l1_sphere",
  "projection_l2_ball",
  "projection_l2_sphere",
  "projection_linf_ball",
  "projection_non_negative",
  "projection_simplex",
  "projection_vector",
]
