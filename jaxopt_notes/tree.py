"""Public tree helpers (``jaxopt_notes.tree.norm(grads)``, ...): optax's ``optax.tree``.

Leafwise algebra (`add`, `sub`, `mul`, `div`, `scale`, `add_scale`, `where`,
`clip`, `conj`, `real`), reductions (`sum`, `vdot`, `norm`, `max`, `min`,
`size`), building and casting (`zeros_like`, `ones_like`, `full_like`,
`batch_shape`, `cast`, `cast_like`, `dtype`), randomness (`split_key_like`,
`random_like`, `unwrap_random_key_data`), moment updates, and access to an
optimizer state by name (`get`, `set`, `get_all_with_path`, `map_params`).
"""

from jaxopt_notes._checkpointing import tree_map_params as map_params
from jaxopt_notes._moments import (
  bias_correction,
  update_infinity_moment,
  update_moment,
  update_moment_per_elem_norm,
)
from jaxopt_notes._numerics import safe_increment, safe_norm
from jaxopt_notes._random import random_like, split_key_like
from jaxopt_notes._tree import (
  add,
  add_scale,
  cast,
  cast_like,
  full_like,
  mul,
  norm,
  ones_like,
  scale,
  sub,
  sum,
  vdot,
  where,
  zeros_like,
)
from jaxopt_notes._tree_ops import (
  allclose,
  batch_shape,
  clip,
  conj,
  div,
  dtype,
  max,
  min,
  real,
  size,
  unwrap_random_key_data,
)
from jaxopt_notes._tree_search import get, get_all_with_path, set

__all__ = [
  "add",
  "add_scale",
  "allclose",
  "batch_shape",
  "bias_correction",
  "cast",
  "cast_like",
  "clip",
  "conj",
  "div",
  "dtype",
  "full_like",
  "get",
  "get_all_with_path",
  "map_params",
  "max",
  "min",
  "mul",
  "norm",
  "ones_like",
  "random_like",
  "real",
  "safe_increment",
  "safe_norm",
  "scale",
  "set",
  "size",
  "split_key_like",
  "sub",
  "sum",
  "unwrap_random_key_data",
  "update_infinity_moment",
  "update_moment",
  "update_moment_per_elem_norm",
  "vdot",
  "where",
  "zeros_like",
]
