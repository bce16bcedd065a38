"""Checkpoints: every state is a pytree of arrays with named fields, round-trips through
flax.serialization and numpy ``savez``, and training resumed from it continues bitwise."""

import io

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import serialization

import jaxopt_notes as jon
from registry import REGISTRY
from test_conformance import PARAMS

WRAPPERS = {
  "masked": lambda: jon.masked(jon.adam(0.1), {"w": True, "b": False}),
  "partition": lambda: jon.partition(
    {"a": jon.adam(0.1), "b": jon.sgd(0.1, 0.9)}, {"w": "a", "b": "b"}
  ),
  "apply_if_finite": lambda: jon.apply_if_finite(jon.rmsprop(0.1), 3),
  "multisteps": lambda: jon.MultiSteps(jon.adamw(0.1), 2).gradient_transformation(),
  "inject_hyperparams": lambda: jon.inject_hyperparams(jon.adamw)(
    learning_rate=jon.warmup_cosine_decay_schedule(0.0, 0.1, 2, 10)
  ),
  "conditionally_mask": lambda: jon.conditionally_mask(jon.lion(0.01), lambda s: s % 2 == 0),
  "average_params": lambda: jon.chain(jon.sgd(0.1, momentum=0.9), jon.average_params(0.1)),
  "flatten": lambda: jon.flatten(jon.adagrad(0.1)),
  "pack_leaves": lambda: jon.pack_leaves(jon.adam(0.1), max_group_leaves=1),
  "reduce_on_plateau": lambda: jon.chain(
    jon.adam(0.1), jon.reduce_on_plateau(patience=1, accumulation_size=2)
  ),
}
OPTIMIZERS = {e.name: (lambda e=e: e.make(0.05)) for e in REGISTRY} | WRAPPERS
NAMES = pytest.mark.parametrize("name", list(OPTIMIZERS))


def _loss(params):
  return jnp.sum((params["w"] - 1.5) ** 2 * jnp.arange(1.0, 4.0)) + jnp.cosh(params["b"])


def _stepper(opt):
  @jax.jit
  def step(params, state):
    loss, grads = jax.value_and_grad(_loss)(params)
    updates, state = opt.update(grads, state, params, value=loss)
    return jon.apply_updates(params, updates), state

  return step


def _train(step, params, state, steps):
  for _ in range(steps):
    params, state = step(params, state)
  return params, state


def _is_key(x):
  return jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _bits(tree):
  """Random keys as their raw bits; every other leaf as it is."""
  return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _unbits(template, tree):
  return jax.tree.map(lambda t, x: jax.random.wrap_key_data(x) if _is_key(t) else x, template, tree)


def _assert_bitwise_equal(a, b):
  chex.assert_trees_all_equal_structs(a, b)
  chex.assert_trees_all_equal_shapes_and_dtypes(_bits(a), _bits(b))
  chex.assert_trees_all_equal(_bits(a), _bits(b))


@NAMES
def test_state_is_a_tree_of_arrays_with_named_fields(name):
  state = OPTIMIZERS[name]().init(PARAMS)
  for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
    where = jax.tree_util.keystr(path)
    assert isinstance(leaf, jax.Array), where
    assert any(isinstance(k, jax.tree_util.GetAttrKey) for k in path), where


def _flax_round_trip(state, template):
  return _unbits(
    template, serialization.from_bytes(_bits(template), serialization.to_bytes(_bits(state)))
  )


def _savez_round_trip(state, template):
  buffer = io.BytesIO()
  np.savez(buffer, *[np.asarray(x) for x in jax.tree.leaves(_bits(state))])
  buffer.seek(0)
  with np.load(buffer) as saved:
    leaves = [jnp.asarray(saved[f"arr_{i}"]) for i in range(len(saved.files))]
  return _unbits(template, jax.tree.unflatten(jax.tree.structure(template), leaves))


ROUND_TRIPS = {"flax_bytes": _flax_round_trip, "numpy_savez": _savez_round_trip}


@NAMES
def test_resumed_training_continues_bitwise(name):
  """Through each of `ROUND_TRIPS` the state comes back bitwise, and 3 steps from it end
  bitwise where the run that never stopped does. One jitted step serves every run (a
  compilation costs far more than the steps); a failing round trip is named, and does not
  keep the other from being checked."""
  opt = OPTIMIZERS[name]()
  step = _stepper(opt)
  params, state = _train(step, PARAMS, opt.init(PARAMS), 3)
  straight = _train(step, params, state, 3)
  failed = {}
  for via, restore in ROUND_TRIPS.items():
    try:
      restored = restore(state, opt.init(PARAMS))
      _assert_bitwise_equal(restored, state)
      resumed = _train(step, jax.tree.map(jnp.copy, params), restored, 3)
      _assert_bitwise_equal(resumed, straight)
    except AssertionError as e:
      failed[via] = str(e)
  assert not failed, failed
