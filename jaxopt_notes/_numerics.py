"""Numerics of single arrays: safe divisions, roots and norms, complex moduli, counters.

Each guards one operation against the values that would break it (a zero
denominator, a subnormal step, an overflowing counter, a complex dtype asked
for as a real one), so optimizers can call them without branching.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def safe_increment(count: jax.Array) -> jax.Array:
  """``count + 1``, saturating at the dtype's maximum instead of wrapping.

  Args:
    count: an integer or float counter.

  Returns:
    The incremented counter, of ``count``'s dtype.
  """
  count = jnp.asarray(count)
  top = (
    jnp.iinfo(count.dtype).max
    if jnp.issubdtype(count.dtype, jnp.integer)
    else jnp.finfo(count.dtype).max
  )
  top = jnp.asarray(top, count.dtype)
  return jnp.where(count < top, count + jnp.asarray(1, count.dtype), top)


def abs_sq(x: jax.Array) -> jax.Array:
  """``|x|^2`` as a real array: ``x * x`` for real ``x``, ``re^2 + im^2`` for complex."""
  if jnp.iscomplexobj(x):
    return jnp.square(jnp.real(x)) + jnp.square(jnp.imag(x))
  return x * x


def complex_if(x: Any, dtype: Any) -> Any:
  """``dtype``, or its complex counterpart where ``x`` is complex and ``dtype`` a real float.

  The dtype a copy or statistic of ``x`` is kept in when asked for ``dtype``
  (``mu_dtype``, ``accumulator_dtype``, a norm's ``dtype``): a real dtype would
  drop the imaginary part of a complex param's state.
  """
  if dtype is not None and jnp.iscomplexobj(x) and jnp.issubdtype(jnp.dtype(dtype), jnp.floating):
    return jnp.result_type(dtype, jnp.complex64)
  return dtype


def widen(x: jax.Array, dtype: Any) -> jax.Array:
  """``x`` cast to the float ``dtype``, or to its complex counterpart for complex ``x``."""
  return jnp.asarray(x, complex_if(x, dtype))


def safe_norm(
  x: jax.Array,
  min_norm: Any,
  ord: Any = None,  # noqa: A002 - optax's name
  axis: Any = None,
  keepdims: bool = False,
) -> jax.Array:
  """``max(||x||, min_norm)`` with a gradient that stays finite where the norm is small.

  The norm is ``jnp.linalg.norm(x, ord, axis)``; where it is at most
  ``min_norm`` the result is ``min_norm`` and the gradient 0 (a plain maximum
  would give a NaN gradient at ``x = 0``).

  Args:
    x: an array.
    min_norm: the lower bound of the result.
    ord: the order of the norm, as in ``jnp.linalg.norm``.
    axis: the axis or axes to reduce over, as in ``jnp.linalg.norm``.
    keepdims: whether the reduced axes stay, with size 1.

  Returns:
    The bounded norm.
  """
  if ord is None and axis is None and not keepdims:  # one reduction, the common case
    sq = jnp.sum(abs_sq(x))
    small = sq <= jnp.square(min_norm)
    return jnp.where(small, min_norm, jnp.sqrt(jnp.where(small, 1.0, sq)))
  small = jnp.linalg.norm(x, ord=ord, axis=axis, keepdims=True) <= min_norm
  masked = jnp.linalg.norm(
    jnp.where(small, jnp.ones_like(x), x), ord=ord, axis=axis, keepdims=keepdims
  )
  if not keepdims:
    small = jnp.squeeze(small, axis=axis)
  return jnp.where(small, min_norm, masked)


def safe_rms(x: jax.Array, min_rms: Any) -> jax.Array:
  """``max(rms(x), min_rms)`` with a gradient that stays finite at ``x = 0``.

  Args:
    x: an array.
    min_rms: the lower bound of the result.

  Returns:
    The bounded root mean square of ``x``'s elements.
  """
  sq = jnp.mean(abs_sq(x))
  small = sq <= jnp.square(min_rms)
  return jnp.where(small, min_rms, jnp.sqrt(jnp.where(small, 1.0, sq)))


def safe_sqrt(x: jax.Array) -> jax.Array:
  """``sqrt(x)`` for ``x >= 0`` whose gradient at ``x = 0`` is 0 rather than infinite."""
  positive = x > 0
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1)), 0)


def safe_div(num: jax.Array, den: jax.Array) -> jax.Array:
  """``num / den``, and 0 where ``den`` is 0, with finite gradients there.

  A subnormal ``den`` counts as 0: CPUs flush such inputs to zero, so the
  division would give NaN (a ``min_norm`` of 1e-6 is subnormal in float16).
  A NaN or Inf in the denominator still propagates, so a non-finite gradient
  is never hidden.
  """
  den = jnp.asarray(den)
  tiny = jnp.finfo(den.dtype).tiny if jnp.issubdtype(den.dtype, jnp.inexact) else 1
  zero = jnp.abs(den) < tiny
  return jnp.where(zero, 0, num / jnp.where(zero, 1, den))


def rms_scale(g: jax.Array, second_moment: jax.Array, eps: Any, eps_root: Any) -> jax.Array:
  """The adaptive step ``g / (sqrt(v + eps_root) + eps)`` shared by every method.

  ``eps`` is added outside the square root, ``eps_root`` inside it. Where the
  denominator is zero (both constants 0 and no gradient seen yet) the step is 0.
  Concrete constants are folded at trace time: no ``+ 0`` for a zero constant,
  and no zero guard when ``eps``, or ``eps_root`` with ``eps >= 0``, is a
  normal positive number in the step's dtype: ``v`` is a second moment, never
  negative, so the denominator cannot vanish. A complex ``v`` (a moment kept in
  complex params' dtype) holds real values: its real part is used.
  """
  if jnp.iscomplexobj(second_moment):
    second_moment = jnp.real(second_moment)
  if not (is_concrete(eps_root) and eps_root == 0):
    second_moment = second_moment + eps_root
  den = jnp.sqrt(second_moment)
  if not (is_concrete(eps) and eps == 0):
    den = den + eps
  if _is_normal(eps, den.dtype) or (
    _is_normal(eps_root, den.dtype) and is_concrete(eps) and eps >= 0
  ):
    return g / den  # v >= 0, so a normal eps or eps_root keeps den normal and positive
  return safe_div(g, den)


def _is_normal(x: Any, dtype: Any) -> bool:
  """A concrete number that is positive and normal in ``dtype``.

  1e-8 is 0 in float16, and 1e-6 a subnormal that the CPU flushes to 0.
  """
  dtype = jnp.finfo(dtype).dtype  # the real dtype of a complex one
  return is_concrete(x) and np.asarray(x, dtype) >= jnp.finfo(dtype).tiny


def is_concrete(x: Any) -> bool:
  """A Python number (not an array, not traced): safe to branch on at trace time."""
  return isinstance(x, (int, float)) and not isinstance(x, bool)


def cond(pred: Any, true_fn: Any, false_fn: Any, *operands: Any) -> Any:
  """``jax.lax.cond``, taking only the chosen branch when ``pred`` is concrete.

  An eager ``lax.cond`` compiles both branches at every call (its branches are new
  closures each time, so no compiled program is reused); run eagerly, the branch
  taken is executed op by op, as under ``jax.disable_jit``. Traced predicates
  (inside ``jit``, ``vmap``, ``grad``) go to ``lax.cond`` unchanged.

  Args:
    pred: a boolean scalar.
    true_fn: called on ``operands`` when ``pred`` is true.
    false_fn: called on ``operands`` otherwise.
    *operands: the branches' arguments.

  Returns:
    The chosen branch's result.
  """
  if isinstance(pred, jax.core.Tracer):
    return jax.lax.cond(pred, true_fn, false_fn, *operands)
  return true_fn(*operands) if bool(pred) else false_fn(*operands)


def switch(index: Any, branches: Any, *operands: Any) -> Any:
  """``jax.lax.switch``, taking only the chosen branch when ``index`` is concrete
  (see `cond`); the index is clamped into range, as ``lax.switch`` does.

  Args:
    index: an integer scalar.
    branches: a sequence of callables.
    *operands: the branches' arguments.

  Returns:
    The chosen branch's result.
  """
  if isinstance(index, jax.core.Tracer):
    return jax.lax.switch(index, branches, *operands)
  return branches[min(max(int(index), 0), len(branches) - 1)](*operands)
