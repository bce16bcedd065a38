"""optax's older ``tree_*`` spellings of `jaxopt_notes.tree` (``optax.tree_utils``).

``tree_utils.tree_add`` is ``tree.add``, and so on for every name, plus
`NamedTupleKey`, the path entry of `tree.get_all_with_path`. optax 0.2.8 keeps
these without a warning, and so do we; the five names optax has deprecated
(``tree_scalar_mul``, ``tree_add_scalar_mul``, ``tree_l1_norm``,
``tree_l2_norm``, ``tree_linf_norm``) still work, with a ``DeprecationWarning``
naming the replacement, as in optax.
"""

import functools
import warnings

from jaxopt_notes._checkpointing import tree_map_params
from jaxopt_notes._tree import add as tree_add
from jaxopt_notes._tree import add_scale as tree_add_scale
from jaxopt_notes._moments import bias_correction as tree_bias_correction
from jaxopt_notes._tree import cast as tree_cast
from jaxopt_notes._tree import cast_like as tree_cast_like
from jaxopt_notes._tree import full_like as tree_full_like
from jaxopt_notes._tree import mul as tree_mul
from jaxopt_notes._tree import norm as tree_norm
from jaxopt_notes._tree import ones_like as tree_ones_like
from jaxopt_notes._random import random_like as tree_random_like
from jaxopt_notes._tree import scale as tree_scale
from jaxopt_notes._random import split_key_like as tree_split_key_like
from jaxopt_notes._tree import sub as tree_sub
from jaxopt_notes._tree import sum as tree_sum
from jaxopt_notes._moments import update_infinity_moment as tree_update_infinity_moment
from jaxopt_notes._moments import update_moment as tree_update_moment
from jaxopt_notes._moments import update_moment_per_elem_norm as tree_update_moment_per_elem_norm
from jaxopt_notes._tree import vdot as tree_vdot
from jaxopt_notes._tree import where as tree_where
from jaxopt_notes._tree import zeros_like as tree_zeros_like
from jaxopt_notes._tree_ops import allclose as tree_allclose
from jaxopt_notes._tree_ops import batch_shape as tree_batch_shape
from jaxopt_notes._tree_ops import clip as tree_clip
from jaxopt_notes._tree_ops import conj as tree_conj
from jaxopt_notes._tree_ops import div as tree_div
from jaxopt_notes._tree_ops import dtype as tree_dtype
from jaxopt_notes._tree_ops import max as tree_max
from jaxopt_notes._tree_ops import min as tree_min
from jaxopt_notes._tree_ops import real as tree_real
from jaxopt_notes._tree_ops import size as tree_size
from jaxopt_notes._tree_ops import unwrap_random_key_data as tree_unwrap_random_key_data
from jaxopt_notes._tree_search import NamedTupleKey
from jaxopt_notes._tree_search import get as tree_get
from jaxopt_notes._tree_search import get_all_with_path as tree_get_all_with_path
from jaxopt_notes._tree_search import set as tree_set

__all__ = [
  "NamedTupleKey",
  "tree_add",
  "tree_add_scale",
  "tree_allclose",
  "tree_batch_shape",
  "tree_bias_correction",
  "tree_cast",
  "tree_cast_like",
  "tree_clip",
  "tree_conj",
  "tree_div",
  "tree_dtype",
  "tree_full_like",
  "tree_get",
  "tree_get_all_with_path",
  "tree_map_params",
  "tree_max",
  "tree_min",
  "tree_mul",
  "tree_norm",
  "tree_ones_like",
  "tree_random_like",
  "tree_real",
  "tree_scale",
  "tree_set",
  "tree_size",
  "tree_split_key_like",
  "tree_sub",
  "tree_sum",
  "tree_unwrap_random_key_data",
  "tree_update_infinity_moment",
  "tree_update_moment",
  "tree_update_moment_per_elem_norm",
  "tree_vdot",
  "tree_where",
  "tree_zeros_like",
]

# name -> (replacement, the function it stands for)
_DEPRECATED = {
  "tree_scalar_mul": ("tree.scale", tree_scale),
  "tree_add_scalar_mul": ("tree.add_scale", tree_add_scale),
  "tree_l1_norm": ("tree.norm(..., ord=1)", functools.partial(tree_norm, ord=1)),
  "tree_l2_norm": ("tree.norm", functools.partial(tree_norm, ord=2)),
  "tree_linf_norm": ("tree.norm(..., ord='inf')", functools.partial(tree_norm, ord="inf")),
}


def __getattr__(name: str):
  if name in _DEPRECATED:
    replacement, value = _DEPRECATED[name]
    warnings.warn(
      f"jaxopt_notes.tree_utils.{name} is deprecated (as in optax): use jaxopt_notes.{replacement}",
      DeprecationWarning,
      stacklevel=2,
    )
    return value
  raise AttributeError(f"module 'jaxopt_notes.tree_utils' has no attribute {name!r}")
