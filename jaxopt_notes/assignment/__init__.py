"""The linear assignment problem (as ``optax.assignment``): pair rows with columns at least cost.

`hungarian_algorithm` and `base_hungarian_algorithm` take an $n \\times m$ cost
matrix and return the row and column indices of an optimal assignment of
$\\min(n, m)$ pairs; both are jittable and vmappable.
"""

from jaxopt_notes.assignment._hungarian import base_hungarian_algorithm, hungarian_algorithm

__all__ = ["base_hungarian_algorithm", "hungarian_algorithm"]
