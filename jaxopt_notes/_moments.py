"""The pieces every moment-based optimizer shares: exponential moving averages of the
gradient and of its powers, their bias correction, and the Adam-like state and checks.

Families import these from here (not from `jaxopt_notes.optimizers._adam`), so
each family file holds only its own maths.
"""

from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate

Float = jax.typing.ArrayLike


def update_moment(updates: Any, moments: Any, decay: Any, order: int) -> Any:
  """Exponential moving average of ``g**order``: ``(1 - decay) g^order + decay m``.

  Args:
    updates: the incoming updates (gradients), a tree.
    moments: the moments so far, a tree like ``updates``.
    decay: the decay rate of the average.
    order: the power of the gradient averaged (1: mean, 2: second moment).

  Returns:
    The new moments.
  """
  return _tree.map(lambda g, m: (1 - decay) * g**order + decay * m, updates, moments)


def update_moment_per_elem_norm(updates: Any, moments: Any, decay: Any, order: int) -> Any:
  """Like `update_moment` with ``|g|**order`` (equal for real ``g``, even order).

  For complex ``g`` the moment is real-valued (``|g|^2 = g conj(g)``, not ``g^2``);
  it keeps the dtype of ``moments``.

  Args:
    updates: the incoming updates (gradients), a tree.
    moments: the moments so far, a tree like ``updates``.
    decay: the decay rate of the average.
    order: the power of ``|g|`` averaged.

  Returns:
    The new moments.
  """

  def one(g, m):
    if order % 2 == 0 and not jnp.iscomplexobj(g):  # |g|^order == g^order, one op fewer
      return (1 - decay) * g**order + decay * m
    if order == 2:
      return (1 - decay) * _numerics.abs_sq(g) + decay * m
    return (1 - decay) * jnp.abs(g) ** order + decay * m

  return _tree.map(one, updates, moments)


def update_infinity_moment(updates: Any, moments: Any, decay: Any, eps: Any) -> Any:
  """Adamax's weighted infinity norm: ``max(|g| + eps, decay * u)``.

  Args:
    updates: the incoming updates (gradients), a tree.
    moments: the moments so far, a tree like ``updates``.
    decay: the decay rate of the average.
    eps: added to ``|g|``.

  Returns:
    The new moments.
  """
  return _tree.map(lambda g, u: jnp.maximum(jnp.abs(g) + eps, decay * u), updates, moments)


def bias_correction(moment: Any, decay: Any, count: jax.Array) -> Any:
  """Divides an EMA started at zero by ``1 - decay**count``.

  The factor is computed in at least float32 and then cast to each leaf's
  dtype, so low-precision moments are not divided by a rounded-to-zero factor.

  Args:
    moment: the moving average, a tree.
    decay: its decay rate.
    count: the number of steps averaged so far (from 1).

  Returns:
    The corrected average.
  """
  factor = 1 - jnp.asarray(decay) ** count
  return _tree.map(lambda t: t / factor.astype(t.dtype), moment)


def check_moments(owner: str, b1=None, b2=None, eps=None, eps_root=None, **more) -> None:
  """The checks every Adam-like constructor shares."""
  _validate.check(
    owner,
    b1=(b1, _validate.UNIT),
    b2=(b2, _validate.UNIT),
    eps=(eps, _validate.NONNEGATIVE),
    eps_root=(eps_root, _validate.NONNEGATIVE),
    **more,
  )


def widened(moments: Any, like: Any, dtype: Any) -> Any:
  """``moments`` ready to compute with: as stored when their dtype argument ``dtype`` is
  ``None`` (the numbers of the wide state, bit for bit), else upcast to the wider of their
  dtype and ``like``'s (a moment kept in ``jnp.bfloat16`` is read in the gradient's dtype)."""
  if dtype is None:
    return moments
  return _tree.map(lambda m, g: m.astype(jnp.promote_types(m.dtype, g.dtype)), moments, like)


def init_moments(state_class: type, params: Any, mu_dtype: Any = None, nu_dtype: Any = None) -> Any:
  """A zero ``state_class(count, mu, nu)``: the state of Adam and of its kin."""
  return state_class(
    count=_placement.zero_count(params),
    mu=_tree.zeros_like(params, dtype=mu_dtype),
    nu=_tree.zeros_like(params, dtype=nu_dtype),
  )


def debiased_first_moment(
  mu: Any, updates: Any, b1: Float, count: jax.Array, nesterov: bool
) -> Any:
  """$\\hat m_t$, or NAdam's look-ahead version when ``nesterov``."""
  if not nesterov:
    return bias_correction(mu, b1, count)
  ahead = bias_correction(mu, b1, _numerics.safe_increment(count))
  now = bias_correction(updates, b1, count)
  return _tree.map(lambda m, g: b1 * m + (1 - b1) * g, ahead, now)
