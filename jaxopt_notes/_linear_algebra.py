"""Linear algebra optax exports at its top level: power iteration, inverse p-th roots, NNLS."""

import warnings
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxopt_notes import _tree


def global_norm(updates: Any) -> jax.Array:
  """The l2 norm of all leaves together; deprecated (as in optax) for `tree.norm`.

  Args:
    updates: a tree of arrays.

  Returns:
    A scalar.
  """
  warnings.warn(
    "jaxopt_notes.global_norm is deprecated (as in optax): use jaxopt_notes.tree.norm",
    DeprecationWarning,
    stacklevel=2,
  )
  return _tree.norm(updates)


def _unit(tree: Any) -> Any:
  return _tree.scale(1.0 / _tree.norm(tree), tree)


def power_iteration(
  matrix: Any,
  *,
  v0: Any = None,
  num_iters: Any = 100,
  error_tolerance: Any = 1e-6,
  precision: lax.Precision = lax.Precision.HIGHEST,
  key: Any = None,
) -> tuple:
  """The dominant eigenvalue of a matrix and its eigenvector, by power iteration.

  From a unit vector $v_0$, repeat $z = M v$, $\\lambda = v^\\top z$,
  $v = z / \\|z\\|$ until $\\|z - \\lambda v\\| / |\\lambda|$ falls below
  ``error_tolerance`` or ``num_iters`` steps are done.

  Args:
    matrix: a square matrix, or a function computing the product of a matrix
      with a vector (a tree; then ``v0`` is required and gives its structure).
    v0: the starting vector; by default uniform in $[-1, 1]$ drawn with ``key``.
    num_iters: the largest number of steps.
    error_tolerance: the relative residual at which to stop.
    precision: the precision of the matrix products (for an array ``matrix``).
    key: the random key for the default ``v0``; ``jax.random.PRNGKey(0)`` if ``None``.

  Returns:
    ``(eigenvalue, eigenvector)``, the eigenvector of unit norm.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> value, vector = jon.power_iteration(jnp.diag(jnp.array([1.0, 3.0])))
    >>> round(float(value), 4)
    3.0
  """
  if callable(matrix):
    if v0 is None:
      raise ValueError("power_iteration: `v0` is required when `matrix` is a function")
    product = matrix
  else:
    matrix = jnp.asarray(matrix)
    product = lambda v: jnp.matmul(matrix, v, precision=precision)  # noqa: E731
    if v0 is None:
      key = jax.random.PRNGKey(0) if key is None else key
      v0 = jax.random.uniform(key, matrix.shape[-1:], matrix.dtype, -1.0, 1.0)

  def keep_going(carry):
    v, z, value, i = carry
    residual = _tree.norm(_tree.sub(z, _tree.scale(value, v)))
    return (jnp.abs(residual / value) >= error_tolerance) & (i < num_iters)

  def step(carry):
    _, z, _, i = carry
    v = _unit(z)
    z = product(v)
    return v, z, _tree.vdot(v, z), i + 1

  v0 = _unit(v0)
  _, z, value, _ = lax.while_loop(
    keep_going, step, (v0, product(v0), jnp.asarray(0.0), jnp.asarray(0))
  )
  return value, _unit(z)


def _matrix_power(m: jax.Array, p: int, precision: lax.Precision) -> jax.Array:
  """``m**p`` for a positive int ``p``, by repeated squaring."""
  result, base = None, m
  while p:
    if p & 1:
      result = base if result is None else jnp.matmul(result, base, precision=precision)
    p >>= 1
    if p:
      base = jnp.matmul(base, base, precision=precision)
  return result


def matrix_inverse_pth_root(
  matrix: Any,
  p: Any,
  num_iters: Any = 100,
  ridge_epsilon: Any = 1e-6,
  error_tolerance: Any = 1e-6,
  precision: lax.Precision = lax.Precision.HIGHEST,
) -> tuple:
  """$(A + \\epsilon I)^{-1/p}$ of a symmetric positive semi-definite matrix, by coupled Newton.

  With $\\epsilon$ = ``ridge_epsilon`` times $A$'s largest eigenvalue (from
  `power_iteration`), $A_\\epsilon = A + \\epsilon I$ and
  $z = (1 + p) / (2 \\|A_\\epsilon\\|_F)$, start from $M_0 = z A_\\epsilon$,
  $H_0 = z^{1/p} I$ and repeat

  $$T = \\tfrac{(p + 1) I - M}{p},\\quad M \\leftarrow T^p M,\\quad H \\leftarrow H T$$

  while $\\max|M - I|$ exceeds ``error_tolerance`` and keeps falling (a step
  that raises it by 20% or more is undone); then $H \\approx A_\\epsilon^{-1/p}$.

  Args:
    matrix: the symmetric positive semi-definite matrix, square.
    p: the root, a positive Python int (optax's own computes $T^p$ correctly
      only for $p$ in 1, 2, 4, 8; here any works).
    num_iters: the largest number of Newton steps.
    ridge_epsilon: the ridge, relative to the largest eigenvalue.
    error_tolerance: the $\\max|M - I|$ at which to stop.
    precision: the precision of the matrix products.

  Returns:
    ``(root, error)``: the inverse p-th root, and the final $\\max|M - I|$.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> root, _ = jon.matrix_inverse_pth_root(jnp.diag(jnp.array([4.0, 16.0])), 2,
    ...                                       ridge_epsilon=0.0)
    >>> [round(float(x), 3) for x in jnp.diag(root)]
    [0.5, 0.25]

  Reference: Higham, "Functions of Matrices: Theory and Computation", 2008, eq. 7.18.
  """
  if isinstance(p, bool) or int(p) != p or p < 1:
    raise ValueError(f"matrix_inverse_pth_root: `p`={p!r} must be a positive integer")
  p = int(p)
  matrix = jnp.asarray(matrix)
  n = matrix.shape[0]
  largest, _ = power_iteration(matrix, num_iters=100, error_tolerance=1e-6, precision=precision)
  ridge = ridge_epsilon * jnp.maximum(largest, 1e-16)
  if n == 1:
    return (matrix + ridge) ** (-1.0 / p), jnp.asarray(0.0, matrix.dtype)
  eye = jnp.eye(n, dtype=matrix.dtype)
  damped = matrix + ridge * eye
  z = (1 + p) / (2 * jnp.linalg.norm(damped))
  m0 = damped * z
  h0 = eye * z ** (1.0 / p)

  def keep_going(carry):
    i, _, _, _, error, improving = carry
    return (i < num_iters) & (error > error_tolerance) & improving

  def step(carry):
    i, m, h, _, error, _ = carry
    t = ((p + 1) * eye - m) / p
    m_next = jnp.matmul(_matrix_power(t, p, precision), m, precision=precision)
    new_error = jnp.max(jnp.abs(m_next - eye))
    return (
      i + 1,
      m_next,
      jnp.matmul(h, t, precision=precision),
      h,
      new_error,
      new_error < error * 1.2,
    )

  start = (0, m0, h0, h0, jnp.max(jnp.abs(m0 - eye)), jnp.asarray(True))
  _, m, h, h_before, _, improving = lax.while_loop(keep_going, step, start)
  root = jnp.where(improving, h, h_before).astype(matrix.dtype)
  return root, jnp.max(jnp.abs(m - eye))


def nnls(
  A: jax.Array,
  b: jax.Array,
  iters: int,
  unroll: int | bool = 1,  # noqa: N803
  L: Any = None,
) -> jax.Array:  # noqa: N803 - optax's names
  """Non-negative least squares $\\min_{x \\ge 0} \\|A x - b\\|_2$, by fast projected gradient.

  With $Q = A^\\top A$, $q = A^\\top b$ and $L$ a bound on $Q$'s largest
  eigenvalue, from $x = y = 0$, $c = 0$ repeat

  $$c' = \\tfrac{1 + \\sqrt{1 + 4c^2}}{2},\\quad x' = \\max(y - (Q y - q) / L, 0),\\quad
  y = x' + \\tfrac{c - 1}{c'} (x' - x).$$

  Args:
    A: the matrix, shape ``(M, N)``.
    b: the target, shape ``(M,)`` or ``(M, K)`` (``K`` problems at once).
    iters: the number of steps.
    unroll: passed to ``lax.scan``.
    L: a bound on the largest eigenvalue of $A^\\top A$; by default the smaller
      of its Frobenius and 1-norms.

  Returns:
    $x$, shape ``(N,)`` or ``(N, K)``.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> x = jon.nnls(jnp.array([[1.0, 2.0], [3.0, 4.0]]), jnp.array([5.0, 6.0]), 1000)
    >>> [round(float(v), 2) for v in x]
    [0.0, 1.7]

  Reference: Polyak, "Projected gradient method for non-negative least square", 2015.
  """
  A, b = jnp.asarray(A), jnp.asarray(b)  # noqa: N806
  if A.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != A.shape[0]:
    raise ValueError(
      f"nnls: expected `A` of shape (M, N) and `b` of shape (M,) or (M, K); "
      f"got {A.shape} and {b.shape}"
    )
  Q, q = A.T @ A, A.T @ b  # noqa: N806
  if L is None:
    L = jnp.minimum(jnp.linalg.norm(Q, "fro"), jnp.linalg.norm(Q, 1) if Q.size else 0)  # noqa: N806
  L = jnp.where(L == 0, 1, L)  # noqa: N806

  def step(carry, _):
    x, y, c = carry
    c_next = (1 + jnp.sqrt(1 + 4 * c**2)) / 2
    x_next = jnp.maximum(y - (Q @ y - q) / L, 0)
    return (x_next, x_next + (c - 1) / c_next * (x_next - x), c_next), None

  x0 = jnp.zeros(A.shape[-1:] + b.shape[1:], b.dtype)
  (x, _, _), _ = lax.scan(step, (x0, x0, jnp.asarray(0.0, b.dtype)), length=iters, unroll=unroll)
  return x
