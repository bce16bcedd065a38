"""What every line search and Newton step shares: calling ``value_fn``, Hessian products.

A line search or a Newton step receives the objective as the extra argument
``value_fn`` of ``update``; further keyword extras of ``update`` are handed to
``value_fn`` (a mini-batch, say), so that ``value_fn(params, **extras)`` is the
objective at ``params``.
"""

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxopt_notes import _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, identity
from jaxopt_notes._combine import chain
from jaxopt_notes.transforms._scaling import scale, scale_by_learning_rate

_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def bind_value_fn(
  owner: str, value_fn: Callable | None, extra_args: dict[str, Any]
) -> Callable[[Any], jax.Array]:
  """``params -> value_fn(params, **extra_args)``, checking every extra is taken."""
  if value_fn is None:
    raise TypeError(f"{owner}: `update` needs the objective as the keyword argument `value_fn`")
  if extra_args:
    parameters = inspect.signature(value_fn).parameters.values()
    if not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters):
      unknown = set(extra_args) - {p.name for p in parameters if p.kind in _KEYWORD}
      if unknown:
        raise TypeError(
          f"{owner}: `value_fn` takes no keyword argument "
          f"{sorted(unknown)}; extras of `update` are passed to it"
        )
  return lambda params: value_fn(params, **extra_args)


def conj_value_and_grad(f: Callable) -> Callable:
  """``jax.value_and_grad(f)`` with the gradient in the optimizers' convention.

  For complex params that is the conjugate of ``jax.grad`` (the direction of
  steepest ascent, what an optimizer is fed); for real params the gradient itself.
  Every gradient a line search takes, computes or keeps follows this convention.
  """

  def wrapped(params, *args, **kwargs):
    value, grad = jax.value_and_grad(f)(params, *args, **kwargs)
    return value, jax.tree.map(lambda g: jnp.conj(g) if jnp.iscomplexobj(g) else g, grad)

  return wrapped


def value_and_grad(
  f: Callable, params: Any, value: Any = None, grad: Any = None
) -> tuple[jax.Array, Any]:
  """``(f(params), grad f(params))``, computing only what the caller did not give.

  A computed gradient follows `conj_value_and_grad`'s convention.
  """
  if value is None or grad is None:
    new_value, new_grad = conj_value_and_grad(f)(params)
    value = new_value if value is None else value
    grad = new_grad if grad is None else grad
  return jnp.asarray(value), grad


def hessian_vector_product(f: Callable, params: Any, vector: Any) -> Any:
  """$\\nabla^2 f(x)\\,v$ by forward-over-reverse differentiation (one gradient's cost)."""
  return jax.jvp(jax.grad(f), (params,), (vector,))[1]


def dense_hessian(f: Callable, params: Any) -> tuple[jax.Array, Callable]:
  """The Hessian of ``f`` over the raveled params, and the function that unravels."""
  flat, unravel = ravel_pytree(params)
  return jax.hessian(lambda z: f(unravel(z)))(flat), unravel


def slope(grad: Any, direction: Any) -> jax.Array:
  """The directional derivative $\\langle \\nabla f, d\\rangle$."""
  return _tree.inner(grad, direction)


def value_dtype(params: Any) -> Any:
  """The real dtype of the objective's value for these params."""
  return jnp.real(jnp.zeros([], jax.tree.leaves(params)[0].dtype)).dtype


def _find_field(state: Any, name: str) -> Any:
  """The first field ``name`` of a NamedTuple met walking ``state`` depth first."""
  if isinstance(state, tuple) and hasattr(state, "_fields"):
    if name in state._fields:
      return getattr(state, name)
  if isinstance(state, (tuple, list)):
    for member in state:
      found = _find_field(member, name)
      if found is not None:
        return found
  if isinstance(state, dict):
    for member in state.values():
      found = _find_field(member, name)
      if found is not None:
        return found
  return None


def value_and_grad_from_state(value_fn: Callable[..., jax.Array]) -> Callable:
  """``jax.value_and_grad(value_fn)`` that reuses what a line search already computed.

  A line search that evaluates the objective at the params it returns keeps the
  value and gradient there in its state (`scale_by_zoom_linesearch`, and
  `scale_by_backtracking_linesearch` with ``store_grad=True``). The returned
  function reads them from the optimizer state (searching nested states for the
  fields ``value`` and ``grad``) and only calls ``value_fn`` when the stored
  value is not finite, which is the case before the first step.

  Args:
    value_fn: the objective ``value_fn(params, *args, **kwargs)``.

  Returns:
    ``f(params, *args, state, **kwargs) -> (value, grad)``.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> f = lambda x: jnp.sum((x - 1.0) ** 2)
    >>> opt = jon.lbfgs()
    >>> x = jnp.zeros(2); state = opt.init(x)
    >>> value_and_grad = jon.value_and_grad_from_state(f)
    >>> for _ in range(2):
    ...   value, grad = value_and_grad(x, state=state)
    ...   updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
    ...   x = jon.apply_updates(x, updates)
    >>> [round(float(v), 4) for v in x]
    [1.0, 1.0]
  """

  def wrapped(params, *args, state, **kwargs):
    value = _find_field(state, "value")
    grad = _find_field(state, "grad")
    if value is None or grad is None:
      raise ValueError(
        "value_and_grad_from_state: the optimizer state keeps no "
        "`value` and `grad`; use a line search that stores them"
      )
    return _numerics.cond(
      jnp.isfinite(value),
      lambda p, a, k: (value, grad),
      lambda p, a, k: conj_value_and_grad(value_fn)(p, *a, **k),
      params,
      args,
      kwargs,
    )

  return wrapped


def descend(
  direction: GradientTransformation,
  learning_rate: Any,
  linesearch: GradientTransformation | None,
  owner: str,
):
  """``direction``, then ``-learning_rate`` (or ``-1`` for ``None``), then the line search."""
  _validate.check(owner, learning_rate=(learning_rate, _validate.FINITE))
  sign = scale(-1.0) if learning_rate is None else scale_by_learning_rate(learning_rate)
  return chain(direction, sign, identity() if linesearch is None else linesearch)
