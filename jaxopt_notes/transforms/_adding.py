"""Adding to the updates: decoupled weight decay, annealed gradient noise."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _random, _tree, _validate
from jaxopt_notes._base import EmptyState, GradientTransformation, ScalarOrSchedule
from jaxopt_notes.transforms._masking import masked
from jaxopt_notes._docargs import shared_args

NO_PARAMS = "needs the params: call update(updates, state, params)"

AddDecayedWeightsState = EmptyState
"""State of `add_decayed_weights` with a constant decay: `EmptyState`, under optax's name."""


@shared_args
class WeightDecaySchedule(NamedTuple):
  """State of `add_decayed_weights` with a scheduled decay: the step count."""

  count: jax.Array  # int32 steps taken, for a scheduled weight decay


@shared_args
def add_decayed_weights(
  weight_decay: ScalarOrSchedule = 0.0, mask: Any = None
) -> GradientTransformation:
  """Adds ``weight_decay * params`` to the updates (decoupled weight decay).

  ``weight_decay`` may be a schedule of the step count; ``mask`` (a tree of
  booleans or a callable of the params) limits the decay to selected leaves.
  """
  _validate.check("add_decayed_weights", weight_decay=(weight_decay, _validate.FINITE))
  scheduled = callable(weight_decay)

  def init_fn(params):
    return WeightDecaySchedule(count=_placement.zero_count(params)) if scheduled else EmptyState()

  def update_fn(updates, state, params=None):
    if isinstance(weight_decay, (int, float)) and weight_decay == 0:
      return updates, state  # nothing to add: no params needed
    if params is None:
      raise ValueError(f"add_decayed_weights {NO_PARAMS}")
    if scheduled:
      rate = weight_decay(state.count)
      state = WeightDecaySchedule(count=_numerics.safe_increment(state.count))
    else:
      rate = weight_decay
    updates = _tree.map(lambda u, p: (u + rate * p).astype(u.dtype), updates, params)
    return updates, state

  tx = GradientTransformation(init_fn, update_fn)
  return tx if mask is None else masked(tx, mask)


@shared_args
class AddNoiseState(NamedTuple):
  """State of `add_noise`: the step count and the PRNG key of the next draw.

  Attributes:
    rng_key: the PRNG key the next step splits.
  """

  count: jax.Array  # int32 steps taken
  rng_key: jax.Array  # the key the next step splits


def as_key(key: Any) -> jax.Array:
  """A typed PRNG key from a key (typed or raw ``uint32`` bits) or an integer seed."""
  if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    return key
  return jax.random.key(key)


def add_noise(
  eta: jax.typing.ArrayLike = 0.01,
  gamma: jax.typing.ArrayLike = 0.55,
  key: Any = None,
  seed: Any = None,
) -> GradientTransformation:
  """Adds annealed Gaussian noise (Neelakantan et al., 2015).

  $$
  u_t \\leftarrow u_t + \\mathcal N(0, \\eta / t^{\\gamma}),\\quad t = 1, 2, \\dots
  $$

  ``key`` is a PRNG key or an integer seed (``seed`` is accepted as an older
  spelling of the same); the key lives in the state, so runs are reproducible.

  Args:
    eta: $\\eta$, the variance of the noise at the first step; >= 0.
    gamma: $\\gamma$, the decay exponent: the variance at step $t$ (from 1) is $\\eta / t^\\gamma$;
      >= 0.
    key: a PRNG key or an integer seed for the noise (kept in the state, so runs are reproducible);
      ``None`` with no ``seed`` means seed 0.
    seed: an older spelling of an integer ``key``; give at most one of the two.
  """
  _validate.check(
    "add_noise", eta=(eta, _validate.NONNEGATIVE), gamma=(gamma, _validate.NONNEGATIVE)
  )
  if key is not None and seed is not None:
    raise ValueError("add_noise: give `key` or `seed`, not both")
  key = seed if key is None else key
  key = 0 if key is None else key

  def init_fn(params):
    return AddNoiseState(
      count=_placement.zero_count(params), rng_key=_placement.replicate_like(as_key(key), params)
    )

  def update_fn(updates, state, params=None):
    del params
    count = _numerics.safe_increment(state.count)
    std = jnp.sqrt(eta / count**gamma)
    rng_key, sample_key = jax.random.split(state.rng_key)
    noise = _random.random_like(sample_key, updates)
    updates = _tree.map(lambda u, n: (u + std * n).astype(u.dtype), updates, noise)
    return updates, AddNoiseState(count=count, rng_key=rng_key)

  return GradientTransformation(init_fn, update_fn)
