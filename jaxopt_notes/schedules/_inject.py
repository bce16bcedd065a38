"""``inject_hyperparams``: hyperparameters that live in the optimizer state."""

import functools
import inspect
from typing import Any, Callable, Iterable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_notes import _tree
from jaxopt_notes._base import (GradientTransformation, GradientTransformationExtraArgs,
                                with_extra_args_support)


class InjectHyperparamsState(NamedTuple):
  """State of `inject_hyperparams`: the step count, the current hyperparameters, the inner state."""
  count: jax.Array   # int32 steps taken: the step at which schedules are evaluated
  hyperparams: dict  # name -> current value (an array), readable and writable
  inner_state: Any


def _float_dtype(params, requested):
  if requested is not None:
    return requested
  floats = [jnp.asarray(x).dtype for x in jax.tree.leaves(params)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]
  return jnp.result_type(*floats) if floats else jnp.result_type(float)


def _as_hyperparam(value, dtype):
  value = jnp.asarray(value)
  return value.astype(dtype) if jnp.issubdtype(value.dtype, jnp.floating) else value


def inject_hyperparams(inner_factory: Callable[..., GradientTransformation],
                       static_args: str | Iterable[str] = (),
                       hyperparam_dtype: Any = None) -> Callable[..., GradientTransformationExtraArgs]:
  """Wraps an optimizer factory so that its numeric hyperparameters live in the state.

  ``inject_hyperparams(adam)(learning_rate=schedule, b1=0.9)`` builds an
  optimizer whose state is ``InjectHyperparamsState(count, hyperparams,
  inner_state)``. Each numeric argument is kept in ``state.hyperparams`` as an
  array (in the params' widest float dtype unless ``hyperparam_dtype`` says
  otherwise); each callable one is a schedule, evaluated at ``count`` every
  step, and its current value stored there too. A training loop can read them
  for logging and overwrite them between steps
  (``state.hyperparams['learning_rate'] = ...``) without recompiling, and
  ``jax.vmap`` over a state whose hyperparameters are batched sweeps them.
  Booleans, ``None``, strings, masks and the names in ``static_args`` stay
  fixed Python values.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.inject_hyperparams(jon.sgd)(learning_rate=0.1)
    >>> state = opt.init(jnp.zeros(2))
    >>> state.hyperparams['learning_rate'] = jnp.asarray(0.5)
    >>> updates, state = opt.update(jnp.ones(2), state)
    >>> [float(u) for u in updates]
    [-0.5, -0.5]
  """
  static = {static_args} if isinstance(static_args, str) else set(static_args)
  signature = inspect.signature(inner_factory)
  unknown = static - set(signature.parameters)
  if unknown:
    raise ValueError(f"inject_hyperparams: `static_args` names {sorted(unknown)}, which are not "
                     f"arguments of {inner_factory.__name__}")

  @functools.wraps(inner_factory)
  def factory(*args, **kwargs) -> GradientTransformationExtraArgs:
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    schedules, numeric, fixed = {}, {}, {}
    for name, value in bound.arguments.items():
      if name in static or isinstance(value, (bool, str)) or value is None:
        fixed[name] = value
      elif callable(value):
        schedules[name] = value
      elif isinstance(value, (int, float, np.ndarray, jax.Array, np.number)):
        numeric[name] = value
      else:
        fixed[name] = value

    def current(hyperparams, count, dtype):
      values = {k: _as_hyperparam(v, dtype) for k, v in hyperparams.items()}
      values.update({k: _as_hyperparam(f(count), dtype) for k, f in schedules.items()})
      return values

    def init_fn(params):
      dtype = _float_dtype(params, hyperparam_dtype)
      count = _tree.zero_count(params)
      hyperparams = _tree.replicate_like(current(numeric, count, dtype), params)
      inner = inner_factory(**fixed, **hyperparams)
      return InjectHyperparamsState(count=count, hyperparams=hyperparams,
                                    inner_state=inner.init(params))

    def update_fn(updates, state, params=None, **extra_args):
      dtype = _float_dtype(params if params is not None else updates, hyperparam_dtype)
      hyperparams = current(state.hyperparams, state.count, dtype)
      inner = with_extra_args_support(inner_factory(**fixed, **hyperparams))
      updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
      return updates, InjectHyperparamsState(count=_tree.safe_increment(state.count),
                                             hyperparams=hyperparams, inner_state=inner_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)

  return factory
