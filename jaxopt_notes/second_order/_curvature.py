r"""Curvature of a loss ``loss(params, inputs, targets)``: Hessian-vector products and diagonals.

These are optax's ``second_order`` helpers, with its names, argument order and
return layout. Each takes the loss (called as ``loss(params, inputs, targets)``
and returning a scalar), the params $\theta$ (a pytree) and the ``inputs`` $x$
and ``targets`` $y$ passed on to the loss. The diagonals come back as flat
vectors of length $n$, the number of scalars in the params, in the order of
``jax.flatten_util.ravel_pytree(params)``; `hvp` returns a pytree shaped like
the params.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxopt_notes.second_order._common import hessian_vector_product

LossFn = Callable[[Any, Any, Any], jax.Array]


def _flat_vector(owner: str, v: Any, params: Any) -> jax.Array:
  """``v`` as a flat vector over the raveled params, checking its size."""
  flat, _ = ravel_pytree(params)
  if jax.tree.structure(v) == jax.tree.structure(params) and jax.tree.leaves(params):
    v = ravel_pytree(v)[0]
  v = jnp.asarray(v)
  if v.shape != flat.shape:
    raise ValueError(
      f"{owner}: argument `v` must be a flat vector of shape {flat.shape} "
      "(one entry per scalar of `params`, in `ravel_pytree` order) or a "
      f"pytree shaped like `params`; got shape {v.shape}"
    )
  return v


def hvp(loss: LossFn, v: Any, params: Any, inputs: Any, targets: Any) -> Any:
  r"""The Hessian of ``loss`` at the params times a vector, without forming the Hessian.

  $$\nabla^2_\theta\, \ell(\theta; x, y)\; v$$

  computed by differentiating the gradient along $v$ (forward over reverse),
  at about the cost of two gradients.

  Args:
    loss: $\ell$, as ``loss(params, inputs, targets)`` (see the module notes).
    v: the vector: a flat array with one entry per scalar of ``params`` (in
      ``ravel_pytree`` order), or a pytree shaped like ``params``.
    params: $\theta$, where the Hessian is taken.
    inputs: $x$, passed to ``loss``.
    targets: $y$, passed to ``loss``.

  Returns:
    $\nabla^2 \ell\, v$ as a pytree with the structure, shapes and dtypes of
    ``params``.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import second_order
    >>> loss = lambda w, x, y: jnp.sum((x @ w - y) ** 2)
    >>> x, y = jnp.array([[1.0, 0.0], [1.0, 2.0]]), jnp.zeros(2)
    >>> second_order.hvp(loss, jnp.array([1.0, 0.0]), jnp.ones(2), x, y)  # 2 X^T X v
    Array([4., 4.], dtype=float32)
  """
  _, unravel = ravel_pytree(params)
  direction = unravel(_flat_vector("hvp", v, params))
  return hessian_vector_product(lambda p: loss(p, inputs, targets), params, direction)


def hessian_diag(loss: LossFn, params: Any, inputs: Any, targets: Any) -> jax.Array:
  r"""The diagonal of the Hessian of ``loss`` at the params, as a flat vector.

  $$d_i = e_i^\top\, \nabla^2_\theta\, \ell(\theta; x, y)\; e_i, \qquad i = 1, \dots, n$$

  exactly, by one Hessian-vector product per coordinate $e_i$ (batched with
  ``vmap``), so it costs about $n$ gradients and $n^2$ memory: meant for small
  models. For a cheap unbiased estimate on large ones see
  `hutchinson_estimator_diag_hessian`.

  Args:
    loss: $\ell$, as ``loss(params, inputs, targets)`` (see the module notes).
    params: $\theta$, where the Hessian is taken.
    inputs: $x$, passed to ``loss``.
    targets: $y$, passed to ``loss``.

  Returns:
    The diagonal $d$, a flat vector over the raveled params.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import second_order
    >>> loss = lambda w, x, y: jnp.sum((x @ w - y) ** 2)
    >>> x, y = jnp.array([[1.0, 0.0], [1.0, 2.0]]), jnp.zeros(2)
    >>> second_order.hessian_diag(loss, jnp.ones(2), x, y)  # diag(2 X^T X)
    Array([4., 8.], dtype=float32)
  """
  flat, unravel = ravel_pytree(params)
  f = lambda p: loss(p, inputs, targets)
  column = lambda e: ravel_pytree(hessian_vector_product(f, params, unravel(e)))[0]
  return jnp.diagonal(jax.vmap(column)(jnp.eye(flat.size, dtype=flat.dtype)))


def fisher_diag(
  negative_log_likelihood: LossFn, params: Any, inputs: Any, targets: Any
) -> jax.Array:
  r"""The squared gradient of a negative log-likelihood: the observed Fisher diagonal.

  $$F_{ii} = \big(\partial_{\theta_i}\, \mathcal{L}(\theta; x, y)\big)^2$$

  for the whole of ``inputs`` and ``targets`` at once. On one example this is
  the diagonal of the empirical Fisher information; on a batch it is the square
  of the batch gradient (not the mean of per-example squares; for that, use
  `jaxopt_notes.microbatching.micro_grad` with ``transform_fn=jnp.square`` and
  ``accumulator=AccumulationType.MEAN``).

  Args:
    negative_log_likelihood: $\mathcal{L}$, the loss of the module notes.
    params: $\theta$, where the gradient is taken.
    inputs: $x$, the whole batch (or one example).
    targets: $y$, matching ``inputs``.

  Returns:
    $F$'s diagonal, a flat vector over the raveled params.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes import second_order
    >>> nll = lambda w, x, y: 0.5 * jnp.sum((x @ w - y) ** 2)
    >>> second_order.fisher_diag(nll, jnp.zeros(2), jnp.array([[1.0, 2.0]]),
    ...                          jnp.array([3.0]))
    Array([ 9., 36.], dtype=float32)
  """
  grad = jax.grad(negative_log_likelihood)(params, inputs, targets)
  return jnp.square(ravel_pytree(grad)[0])
