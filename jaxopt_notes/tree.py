"""Public tree helpers (``jaxopt_notes.tree.norm(grads)``, ...)."""

from jaxopt_notes._tree import (add, add_scale, bias_correction, cast, cast_like,
                                full_like, norm, ones_like, random_like,
                                safe_increment, safe_norm, scale,
                                split_key_like, sub, sum, update_infinity_moment,
                                update_moment, update_moment_per_elem_norm,
                                vdot, where, zeros_like)

__all__ = [
    "add", "add_scale", "bias_correction", "cast", "cast_like", "full_like",
    "norm", "ones_like", "random_like", "safe_increment", "safe_norm", "scale",
    "split_key_like", "sub", "sum", "update_infinity_moment", "update_moment",
    "update_moment_per_elem_norm", "vdot", "where", "zeros_like",
]
