"""``inject_hyperparams``: hyperparameters that live in the optimizer state.

`inject_stateful_hyperparams` also takes stateful schedules (`StatefulSchedule`:
``init``, ``update`` and ``__call__`` on a state of their own, which may read the
``update``'s extra arguments); a plain schedule there is wrapped in a
`WrappedSchedule`.
"""

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_notes import _numerics, _placement
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  with_extra_args_support,
)
from jaxopt_notes._docargs import shared_args


@shared_args
class InjectHyperparamsState(NamedTuple):
  """State of `inject_hyperparams`: the step count, the current hyperparameters, the inner state.

  Attributes:
    count: int32 steps taken: the step at which the schedules are evaluated.
    hyperparams: ``{name: value}``, the current hyperparameters as arrays; readable and writable
      between steps.
  """

  count: jax.Array  # int32 steps taken: the step at which schedules are evaluated
  hyperparams: dict  # name -> current value (an array), readable and writable
  inner_state: Any


@runtime_checkable
class StatefulSchedule(Protocol):
  """A schedule with a state of its own: ``init()``, ``update(state, **extra_args)``,
  and ``__call__(state, **extra_args)`` for the current value.

  Args:
    state: the schedule's own state.
    **extra_args: the extra keyword arguments of the optimizer's ``update``.
  """

  def init(self) -> Any:
    """The schedule's first state."""

  def update(self, state: Any, **extra_args: Any) -> Any:
    """The schedule's next state (``extra_args``: the optimizer update's extra keywords)."""

  def __call__(self, state: Any, **extra_args: Any) -> jax.typing.ArrayLike:
    """The value at ``state``."""


class WrappedScheduleState(NamedTuple):
  """State of a `WrappedSchedule`: the step count."""

  count: jax.Array  # int32 steps taken


class WrappedSchedule:
  """A plain schedule (a function of the step count) as a `StatefulSchedule`.

  Args:
    schedule_fn: the schedule, called with the int32 step count.
  """

  def __init__(self, schedule_fn: Callable[[jax.Array], jax.typing.ArrayLike]):
    self.schedule_fn = schedule_fn

  def init(self) -> WrappedScheduleState:
    return WrappedScheduleState(count=jnp.zeros([], jnp.int32))

  def update(self, state: WrappedScheduleState, **extra_args: Any) -> WrappedScheduleState:
    del extra_args
    return WrappedScheduleState(count=_numerics.safe_increment(state.count))

  def __call__(self, state: WrappedScheduleState, **extra_args: Any) -> jax.typing.ArrayLike:
    del extra_args
    return self.schedule_fn(state.count)


@shared_args
class InjectStatefulHyperparamsState(NamedTuple):
  """State of `inject_stateful_hyperparams`: `InjectHyperparamsState`'s fields and the
  schedules' own states.

  Attributes:
    count: int32 steps taken.
    hyperparams: ``{name: value}``, the current hyperparameters as arrays; readable and writable
      between steps.
    hyperparams_states: ``{name: state}``, the state of each hyperparameter's schedule.
  """

  count: jax.Array  # int32 steps taken
  hyperparams: dict  # name -> current value (an array), readable and writable
  hyperparams_states: dict  # name -> the state of that hyperparameter's schedule
  inner_state: Any


def _float_dtype(params, requested):
  if requested is not None:
    return requested
  floats = [
    jnp.asarray(x).dtype
    for x in jax.tree.leaves(params)
    if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)
  ]
  return jnp.result_type(*floats) if floats else jnp.result_type(float)


def _as_hyperparam(value, dtype):
  value = jnp.asarray(value)
  return value.astype(dtype) if jnp.issubdtype(value.dtype, jnp.floating) else value


def inject_hyperparams(
  inner_factory: Callable[..., GradientTransformation],
  static_args: str | Iterable[str] = (),
  hyperparam_dtype: Any = None,
) -> Callable[..., GradientTransformationExtraArgs]:
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
  fixed Python values. An argument given a `StatefulSchedule` makes the
  result `inject_stateful_hyperparams`'s.

  Args:
    inner_factory: the optimizer factory (``jon.adam``, ...).
    static_args: the name, or names, of arguments kept out of the state even
      when callable or numeric.
    hyperparam_dtype: the dtype of the float hyperparameters; by default the
      params' widest float dtype.

  Returns:
    A factory taking ``inner_factory``'s arguments (schedules allowed for the
    numeric ones) and returning a `GradientTransformationExtraArgs`.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.inject_hyperparams(jon.sgd)(learning_rate=0.1)
    >>> state = opt.init(jnp.zeros(2))
    >>> state.hyperparams['learning_rate'] = jnp.asarray(0.5)
    >>> updates, state = opt.update(jnp.ones(2), state)
    >>> [float(u) for u in updates]
    [-0.5, -0.5]
  """
  static, signature = _static_names("inject_hyperparams", inner_factory, static_args)

  @functools.wraps(inner_factory)
  def factory(*args, **kwargs) -> GradientTransformationExtraArgs:
    schedules, numeric, fixed = _split(signature, static, args, kwargs)
    if any(isinstance(f, StatefulSchedule) for f in schedules.values()):
      return inject_stateful_hyperparams(inner_factory, static_args, hyperparam_dtype)(
        *args, **kwargs
      )

    def current(hyperparams, count, dtype):
      values = {k: _as_hyperparam(v, dtype) for k, v in hyperparams.items()}
      values.update({k: _as_hyperparam(f(count), dtype) for k, f in schedules.items()})
      return values

    def init_fn(params):
      dtype = _float_dtype(params, hyperparam_dtype)
      count = _placement.zero_count(params)
      hyperparams = _placement.replicate_like(current(numeric, count, dtype), params)
      inner = inner_factory(**fixed, **hyperparams)
      return InjectHyperparamsState(
        count=count, hyperparams=hyperparams, inner_state=inner.init(params)
      )

    def update_fn(updates, state, params=None, **extra_args):
      dtype = _float_dtype(params if params is not None else updates, hyperparam_dtype)
      hyperparams = current(state.hyperparams, state.count, dtype)
      inner = with_extra_args_support(inner_factory(**fixed, **hyperparams))
      updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
      return updates, InjectHyperparamsState(
        count=_numerics.safe_increment(state.count),
        hyperparams=hyperparams,
        inner_state=inner_state,
      )

    return GradientTransformationExtraArgs(init_fn, update_fn)

  return factory


def _static_names(owner, inner_factory, static_args):
  static = {static_args} if isinstance(static_args, str) else set(static_args)
  signature = inspect.signature(inner_factory)
  unknown = static - set(signature.parameters)
  if unknown:
    raise ValueError(
      f"{owner}: `static_args` names {sorted(unknown)}, which are not "
      f"arguments of {inner_factory.__name__}"
    )
  return static, signature


def _split(signature, static, args, kwargs):
  """The bound arguments as ``(schedules, numeric, fixed)`` dicts of name -> value."""
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
  return schedules, numeric, fixed


def inject_stateful_hyperparams(
  inner_factory: Callable[..., GradientTransformation],
  static_args: str | Iterable[str] = (),
  hyperparam_dtype: Any = None,
) -> Callable[..., GradientTransformationExtraArgs]:
  """`inject_hyperparams` whose schedules may keep a state of their own.

  Each argument given a `StatefulSchedule` is evaluated every step as
  ``schedule(schedule_state, **extra_args)``, and its state advanced by
  ``schedule.update(schedule_state, **extra_args)``, where ``extra_args`` are
  the keyword extras passed to ``update`` (a loss ``value=``, ...); a plain
  schedule becomes a `WrappedSchedule` (a step count of its own). The state is
  ``InjectStatefulHyperparamsState(count, hyperparams, hyperparams_states,
  inner_state)``. optax 0.2.8 deprecates this name, its ``inject_hyperparams``
  having taken the stateful schedules over; here `inject_hyperparams` hands
  over to this function when it is given a stateful schedule, and this name is
  kept without a warning.

  Args:
    inner_factory: as in `inject_hyperparams`.
    static_args: as in `inject_hyperparams`.
    hyperparam_dtype: as in `inject_hyperparams`.

  Returns:
    A factory taking ``inner_factory``'s arguments (plain or stateful schedules
    allowed for the numeric ones) and returning a `GradientTransformationExtraArgs`.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.inject_stateful_hyperparams(jon.sgd)(learning_rate=lambda c: 1.0 / (c + 1))
    >>> state = opt.init(jnp.zeros(1))
    >>> for _ in range(2):
    ...   updates, state = opt.update(jnp.ones(1), state)
    >>> float(updates[0]), int(state.hyperparams_states["learning_rate"].count)
    (-0.5, 2)
  """
  static, signature = _static_names("inject_stateful_hyperparams", inner_factory, static_args)

  @functools.wraps(inner_factory)
  def factory(*args, **kwargs) -> GradientTransformationExtraArgs:
    schedules, numeric, fixed = _split(signature, static, args, kwargs)
    schedules = {
      k: f if isinstance(f, StatefulSchedule) else WrappedSchedule(f) for k, f in schedules.items()
    }

    def init_fn(params):
      dtype = _float_dtype(params, hyperparam_dtype)
      states = _placement.replicate_like({k: f.init() for k, f in schedules.items()}, params)
      hyperparams = {k: _as_hyperparam(v, dtype) for k, v in numeric.items()}
      hyperparams.update({k: _as_hyperparam(f(states[k]), dtype) for k, f in schedules.items()})
      hyperparams = _placement.replicate_like(hyperparams, params)
      inner = inner_factory(**fixed, **hyperparams)
      return InjectStatefulHyperparamsState(
        count=_placement.zero_count(params),
        hyperparams=hyperparams,
        hyperparams_states=states,
        inner_state=inner.init(params),
      )

    def update_fn(updates, state, params=None, **extra_args):
      dtype = _float_dtype(params if params is not None else updates, hyperparam_dtype)
      hyperparams = {k: _as_hyperparam(v, dtype) for k, v in state.hyperparams.items()}
      hyperparams.update(
        {
          k: _as_hyperparam(f(state.hyperparams_states[k], **extra_args), dtype)
          for k, f in schedules.items()
        }
      )
      states = {
        k: f.update(state.hyperparams_states[k], **extra_args) for k, f in schedules.items()
      }
      inner = with_extra_args_support(inner_factory(**fixed, **hyperparams))
      updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
      return updates, InjectStatefulHyperparamsState(
        count=_numerics.safe_increment(state.count),
        hyperparams=hyperparams,
        hyperparams_states=states,
        inner_state=inner_state,
      )

    return GradientTransformationExtraArgs(init_fn, update_fn)

  return factory
