"""Clipping: elementwise, by global norm, by per-leaf RMS, unit-wise, per example."""

import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes import _tree, _validate
from jaxopt_notes._base import EmptyState, GradientTransformation, init_empty_state
from jaxopt_notes.transforms._adding import NO_PARAMS

ClipState = EmptyState
"""State of `clip` (it keeps none): `EmptyState`, under optax's name."""
ClipByGlobalNormState = EmptyState
"""State of `clip_by_global_norm` (it keeps none): `EmptyState`, under optax's name."""
AdaptiveGradClipState = EmptyState
"""State of `adaptive_grad_clip` (it keeps none): `EmptyState`, under optax's name."""


def clip(max_delta: jax.typing.ArrayLike) -> GradientTransformation:
  """Clips each element of the updates to ``[-max_delta, max_delta]``.

  Args:
    max_delta: the largest absolute value of an element; >= 0 (``inf`` for no clipping).
  """
  _validate.check("clip", max_delta=(max_delta, _validate.NONNEGATIVE_OR_INF))

  def update_fn(updates, state, params=None):
    del params
    return _tree.map(lambda u: jnp.clip(u, -max_delta, max_delta).astype(u.dtype), updates), state

  return GradientTransformation(init_empty_state, update_fn)


def clip_by_global_norm(max_norm: jax.typing.ArrayLike) -> GradientTransformation:
  """Rescales all updates together so that their global l2 norm is at most ``max_norm``.

  $$
  u \\leftarrow u \\cdot \\min(1, \\text{max\\_norm} / \\|u\\|_2)
  $$

  Args:
    max_norm: the largest global l2 norm of all the updates together; >= 0 (``inf`` for no
      clipping).
  """
  _validate.check("clip_by_global_norm", max_norm=(max_norm, _validate.NONNEGATIVE_OR_INF))

  def update_fn(updates, state, params=None):
    del params
    g_norm = _tree.norm(updates)
    keep = g_norm < max_norm
    # Divide first, then multiply, so a huge norm cannot overflow the product.
    updates = _tree.map(
      lambda u: jnp.where(keep, u, (u / g_norm.astype(u.dtype)) * max_norm).astype(u.dtype), updates
    )
    return updates, state

  return GradientTransformation(init_empty_state, update_fn)


def clip_by_block_rms(threshold: jax.typing.ArrayLike) -> GradientTransformation:
  """Rescales each leaf whose root-mean-square exceeds ``threshold`` down to it.

  Args:
    threshold: the largest RMS of a leaf; > 0.
  """
  _validate.check("clip_by_block_rms", threshold=(threshold, _validate.POSITIVE_OR_INF))

  def update_fn(updates, state, params=None):
    del params

    def one(u):
      sq = jnp.mean(jnp.square(jnp.abs(u)))
      over = sq > jnp.square(threshold)  # the root only where it is taken: a zero
      rms = jnp.sqrt(jnp.where(over, sq, 1))  # update keeps a finite gradient
      return (u / jnp.where(over, rms / threshold, 1)).astype(u.dtype)

    return _tree.map(one, updates), state

  return GradientTransformation(init_empty_state, update_fn)


def unitwise_norm(x: jax.typing.ArrayLike, axis: int | tuple[int, ...] | None = None) -> jax.Array:
  """The l2 norm of each unit of ``x`` (an output neuron or filter), broadcast to ``x``'s shape.

  Reduced over ``axis`` when given; otherwise a scalar or vector is one unit,
  a matrix (in, out) or a multi-head (heads, in, out) kernel reduces over its
  first axis, a convolution kernel (H, W, I, O) or (D, H, W, I, O) over all
  axes but the last.

  Args:
    x: an array.
    axis: the axis or axes to reduce over; ``None`` picks them from the rank as above.

  Returns:
    An array of ``x``'s shape holding, at each element, the norm of its unit.
  """
  x = jnp.asarray(x)
  if axis is None:
    if jnp.squeeze(x).ndim <= 1:
      axis = tuple(range(x.ndim))
    elif x.ndim in (2, 3):
      axis = (0,)
    elif x.ndim in (4, 5):
      axis = tuple(range(x.ndim - 1))
    else:
      raise ValueError(
        f"unitwise_norm: no default unit for a leaf of shape {x.shape}; "
        "pass `axis` to name the axes to reduce over"
      )
  sq = jnp.sum(jnp.square(jnp.abs(x)), axis=axis, keepdims=True)
  return jnp.broadcast_to(jnp.sqrt(sq), x.shape)


def unitwise_clip(
  g_norm: jax.typing.ArrayLike,
  max_norm: jax.typing.ArrayLike,
  grad: jax.typing.ArrayLike,
  div_eps: jax.typing.ArrayLike = 1e-6,
) -> jax.Array:
  """Rescales ``grad`` to norm ``max_norm`` where its unit norm ``g_norm`` exceeds it.

  $g \\leftarrow g \\cdot \\text{max\\_norm} / \\max(\\text{g\\_norm}, \\text{div\\_eps})$ where
  ``g_norm >= max_norm``; ``grad`` unchanged elsewhere.

  Args:
    g_norm: the norm of each element's unit (from `unitwise_norm`), shaped like ``grad``.
    max_norm: the largest norm allowed, shaped like ``grad``.
    grad: the update to clip.
    div_eps: the floor of the denominator, so that a zero norm never divides.

  Returns:
    The clipped update, shaped like ``grad``.
  """
  shapes = {jnp.shape(g_norm), jnp.shape(max_norm), jnp.shape(grad)}
  if len(shapes) != 1:
    raise ValueError(
      f"unitwise_clip: `g_norm`, `max_norm` and `grad` must have one shape; got "
      f"{jnp.shape(g_norm)}, {jnp.shape(max_norm)}, {jnp.shape(grad)}"
    )
  clipped = grad * (max_norm / jnp.maximum(g_norm, div_eps))
  return jnp.where(g_norm < max_norm, grad, clipped)


def adaptive_grad_clip(
  clipping: jax.typing.ArrayLike, eps: jax.typing.ArrayLike = 1e-3, axis: int | tuple | None = None
) -> GradientTransformation:
  """Adaptive gradient clipping (Brock et al., 2021): unit-wise, relative to the params.

  For each unit $i$ (see below), with $W_i$ its params and $G_i$ its update:

  $$
  G_i \\leftarrow \\begin{cases}
  \\lambda \\dfrac{\\max(\\|W_i\\|, \\epsilon)}{\\|G_i\\|} G_i &
  \\|G_i\\| > \\lambda \\max(\\|W_i\\|, \\epsilon)\\\\
  G_i & \\text{otherwise}\\end{cases}
  $$

  with $\\lambda$ = ``clipping``. A unit is a whole scalar or vector, a column
  of a matrix (``(in, out)`` layout) or of a multi-head kernel, or an output
  filter of a 2-D or 3-D convolution kernel; ``axis`` names the axes to reduce
  over instead. Needs the params.

  Args:
    clipping: $\\lambda$, the largest ratio of a unit's update norm to its param norm; >= 0.
    eps: $\\epsilon$, the floor of a unit's param norm, so that zero-initialised params can move; >=
      0.
    axis: the axis or axes that a unit's norm reduces over; ``None`` picks them from the rank (see
      `unitwise_norm`).

  Reference: Brock, De, Smith & Simonyan, 2021, "High-Performance Large-Scale
  Image Recognition Without Normalization".
  """
  _validate.check(
    "adaptive_grad_clip",
    clipping=(clipping, _validate.NONNEGATIVE_OR_INF),
    eps=(eps, _validate.NONNEGATIVE),
  )

  def one(u, p):
    max_norm = clipping * jnp.maximum(unitwise_norm(p, axis), eps)
    return unitwise_clip(unitwise_norm(u, axis), max_norm, u).astype(u.dtype)

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError(f"adaptive_grad_clip {NO_PARAMS}")
    return _tree.map(one, updates, params), state

  return GradientTransformation(init_empty_state, update_fn)


def _batched(owner: str, grads: Any) -> None:
  if not all(jnp.ndim(g) >= 1 for g in jax.tree.leaves(grads)):
    raise ValueError(
      f"{owner}: expects per-example gradients with the batch on axis 0 of "
      f"every leaf; got shapes {jax.tree.map(jnp.shape, grads)}"
    )


def _inexact(g: Any) -> jax.Array:
  """``g`` as a float array: an integer per-example gradient is data to clip, not frozen."""
  g = jnp.asarray(g)
  return g if jnp.issubdtype(g.dtype, jnp.inexact) else g.astype(jnp.result_type(float))


def per_example_global_norm_clip(grads: Any, l2_norm_clip: jax.typing.ArrayLike):
  """Clips each example's gradient to global norm ``l2_norm_clip``, then sums them.

  ``grads`` holds per-example gradients, the batch on axis 0 of every leaf.
  With $g^{(b)}$ the gradient of example $b$ (all leaves together):

  $$
  \\sum_b g^{(b)} \\min\\left(1, \\frac{C}{\\|g^{(b)}\\|_2}\\right)
  $$

  (a zero gradient counts as unclipped). Every leaf counts in the norm and is
  clipped, integer leaves too (their sums come back as floats); unlike an
  optimizer's update, nothing here is a frozen parameter. Returns the clipped
  sum (no batch axis) and the number of examples that were clipped, as in
  DP-SGD. Not a transform: it runs before one, on per-example gradients.

  Args:
    grads: per-example gradients, the batch on axis 0 of every leaf.
    l2_norm_clip: $C$, the largest norm of an example's gradient (all leaves together).

  Reference: Abadi et al., 2016, "Deep Learning with Differential Privacy".
  """
  _batched("per_example_global_norm_clip", grads)
  _validate.check(
    "per_example_global_norm_clip", l2_norm_clip=(l2_norm_clip, _validate.NONNEGATIVE_OR_INF)
  )
  grads = jax.tree.map(_inexact, grads)
  norms = jax.vmap(_tree.norm)(grads)
  factors = jnp.where(norms > l2_norm_clip, l2_norm_clip / jnp.where(norms > 0, norms, 1), 1.0)
  clipped = jax.tree.map(lambda g: jnp.tensordot(factors.astype(g.dtype), g, axes=1), grads)
  return clipped, jnp.sum(factors < 1)


def per_example_layer_norm_clip(
  grads: Any, global_l2_norm_clip: jax.typing.ArrayLike, uniform: bool = True
):
  """Clips each example's gradient leaf by leaf (layer by layer), then sums them.

  Each leaf $l$ gets its own bound $C_l$, chosen so that
  $\\sum_l C_l^2 = C^2$ (``global_l2_norm_clip``): $C_l = C/\\sqrt{L}$ for
  $L$ leaves (``uniform``), or $C\\sqrt{n_l / n}$ by the leaf's share of the
  parameters. Returns a tree of clipped sums and a tree of how many examples
  each leaf clipped (see `per_example_global_norm_clip`).

  Args:
    grads: per-example gradients, the batch on axis 0 of every leaf.
    global_l2_norm_clip: $C$, the bound whose square the leaves' bounds $C_l^2$ sum to.
    uniform: give every leaf the same bound $C/\\sqrt{L}$; False shares $C^2$ out by the leaves'
      sizes.

  Reference: McMahan, Ramage, Talwar & Zhang, 2018, "Learning Differentially
  Private Recurrent Language Models".
  """
  _batched("per_example_layer_norm_clip", grads)
  leaves, treedef = jax.tree.flatten(grads)
  sizes = [math.prod(jnp.shape(g)[1:]) for g in leaves]
  bounds = [
    global_l2_norm_clip * ((1 / len(leaves)) if uniform else (n / sum(sizes))) ** 0.5 for n in sizes
  ]
  pairs = [per_example_global_norm_clip(g, c) for g, c in zip(leaves, bounds)]
  return (treedef.unflatten([p[0] for p in pairs]), treedef.unflatten([p[1] for p in pairs]))
