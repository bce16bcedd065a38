"""Watching a run: measurements of the updates kept in the optimizer state.

Each transform here passes the updates through unchanged and stores what it
measured in its state, where a training loop can read (and log) it after the
step, also under ``jit``.
"""

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  stateless,
  with_extra_args_support,
)
from jaxopt_notes._combine import chain
from jaxopt_notes.transforms._accumulation import ema


class SnapshotState(NamedTuple):
  """State of `snapshot`: the last measurement, under its name.

  Attributes:
    measurement: ``{measure_name: measure(updates)}``, the last measurement.
  """

  measurement: dict  # {measure_name: measure(updates)}


def snapshot(measure_name: str, measure: Callable[[Any], Any]) -> GradientTransformation:
  """Stores ``measure(updates)`` in the state as ``{measure_name: value}``.

  ``init`` stores ``measure(params)``, so the state has its final shape from
  the start. Place it in a `chain` where the quantity is wanted (before
  clipping, after the optimizer, ...).

  Args:
    measure_name: the key the measurement is stored under.
    measure: ``measure(updates) -> value``, any pytree of arrays.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.chain(jon.snapshot('grad_norm', jon.tree.norm), jon.sgd(0.1))
    >>> _, state = opt.update(jnp.array([3.0, 4.0]), opt.init(jnp.zeros(2)))
    >>> float(state[0].measurement['grad_norm'])
    5.0
  """

  def init_fn(params):
    return SnapshotState({measure_name: measure(params)})

  def update_fn(updates, state, params=None):
    del state, params
    return updates, SnapshotState({measure_name: measure(updates)})

  return GradientTransformation(init_fn, update_fn)


class MonitorState(NamedTuple):
  """State of `monitor`: the last measurements and each measure's own state.

  Attributes:
    measurements: ``{name: value}``, the last measurements.
    measure_states: the state of each measure, in the order given.
  """

  measurements: dict  # {name: value}, empty before the first step
  measure_states: tuple  # the state of each measure, in the order given


def monitor(measures: Mapping[str, Any]) -> GradientTransformationExtraArgs:
  """Takes several measurements of the updates at once.

  ``measures`` maps a name to either a function ``updates -> value`` or a
  transform whose *output updates* are the measurement (so a stateful
  measurement, such as a moving average, is a transform, e.g. `measure_with_ema`).
  The updates pass through unchanged; ``state.measurements[name]`` holds the
  last value. Extra keyword arguments of ``update`` reach every measure.

  ``init`` fills the measurements with zeros of the shapes a step will give
  (measuring the params), so the state keeps one structure and a jitted step
  traces once; where a measure cannot run on the params without the step's
  extra arguments, the measurements start empty, as in optax.

  Args:
    measures: maps a name to a function ``updates -> value`` or to a transform whose output updates
      are the measurement.
  """
  names = tuple(measures)
  as_tx = {
    n: with_extra_args_support(
      m if isinstance(m, GradientTransformation) else stateless(lambda u, _, f=m: f(u))
    )
    for n, m in measures.items()
  }

  def init_fn(params):
    states = tuple(as_tx[n].init(params) for n in names)
    return MonitorState(_first_measurements(as_tx, names, states, params), states)

  def update_fn(updates, state, params=None, **extra_args):
    values, states = {}, []
    for n, inner in zip(names, state.measure_states):
      values[n], new = as_tx[n].update(updates, inner, params, **extra_args)
      states.append(new)
    return updates, MonitorState(values, tuple(states))

  return GradientTransformationExtraArgs(init_fn, update_fn)


def _first_measurements(as_tx: dict, names: tuple, states: tuple, params: Any) -> dict:
  """Zeros shaped like what each measure returns for updates shaped like ``params``."""

  def measure_all(params, states):
    return {n: as_tx[n].update(params, s, params)[0] for n, s in zip(names, states)}

  try:
    shapes = jax.eval_shape(measure_all, params, states)
  except (TypeError, KeyError, ValueError):  # a measure needing extra arguments
    return {}
  return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def measure_with_ema(
  measure: Callable[[Any], Any],
  decay: jax.typing.ArrayLike,
  debias: bool = True,
  accumulator_dtype: Any = None,
) -> GradientTransformation:
  """A transform whose output is the moving average of ``measure(updates)``.

  Meant as a measure of `monitor` (its output replaces the updates), to
  follow a noisy quantity such as the gradient norm smoothly:

  $$
  a_t = \\beta a_{t-1} + (1-\\beta)\\,\\text{measure}(u_t)
  $$

  debiased by $1-\\beta^t$ when ``debias`` (see `ema`). The average is shaped
  like ``measure(params)``.

  Args:
    measure: ``measure(updates) -> value``, the quantity averaged.
    decay: $\\beta$, the decay of the moving average, in [0, 1].
    debias: divide by $1 - \\beta^t$ (see `ema`).
    accumulator_dtype: dtype in which the average is stored; ``None`` keeps the measurement's dtype.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> tx = jon.monitor({'smooth_norm': jon.measure_with_ema(jon.tree.norm, 0.9)})
    >>> state = tx.init(jnp.zeros(2))
    >>> _, state = tx.update(jnp.array([3.0, 4.0]), state)
    >>> round(float(state.measurements['smooth_norm']), 4)
    5.0
  """
  average = ema(decay, debias, accumulator_dtype)
  of_measurement = GradientTransformation(
    lambda params: average.init(measure(params)), average.update
  )
  return chain(stateless(lambda updates, _: measure(updates)), of_measurement)
