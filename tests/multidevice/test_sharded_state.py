"""Sharded state on 8 simulated CPU devices (run in its own process by test_sharding.py).

Every moment leaf of an optimizer state is sharded like its param, whether
``init`` runs eagerly or under ``jit``; step counters are replicated; a jitted
training step on a 4x2 mesh keeps every sharding and equals the single-device run.
"""

import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxopt_notes as jon
from registry import EXPLICIT_AXES_UPDATE_UNSUPPORTED, REGISTRY

assert jax.device_count() == 8, "run with XLA_FLAGS=--xla_force_host_platform_device_count=8"

SPECS = {"w": P("data", "model"), "b": P("model"), "s": P()}
SHAPES = {"w": (8, 4), "b": (4,), "s": ()}
MESH_KINDS = {"auto": AxisType.Auto, "explicit": AxisType.Explicit}


def _mesh(kind):
  return jax.make_mesh((4, 2), ("data", "model"), axis_types=(MESH_KINDS[kind],) * 2)


def _params(mesh=None):
  values = {k: jnp.linspace(-1.0, 1.0, int(np.prod(s))).reshape(s) for k, s in SHAPES.items()}
  if mesh is None:
    return values
  return {k: jax.device_put(v, NamedSharding(mesh, SPECS[k])) for k, v in values.items()}


def _loss(params, x):
  h = jnp.tanh(x @ params["w"] + params["b"])
  return jnp.mean((h - 0.5) ** 2) + params["s"] ** 2


def _batch(mesh=None):
  # Of full rank (a cos(i + j) pattern has rank 2), so that a Kronecker factor of
  # w's gradients has full rank unless its side is the longer one (Entry.sharded_kwargs).
  x = jnp.asarray(np.random.default_rng(0).normal(size=(16, 8)))
  return x if mesh is None else jax.device_put(x, NamedSharding(mesh, P("data")))


WRAPPED = {
  "masked": lambda: jon.masked(jon.adam(0.1), lambda p: {k: k != "s" for k in p}),
  "multisteps": lambda: jon.MultiSteps(jon.adamw(0.1), 2).gradient_transformation(),
  "apply_if_finite": lambda: jon.apply_if_finite(jon.rmsprop(0.1), 3),
  "inject_hyperparams": lambda: jon.inject_hyperparams(jon.adamw)(learning_rate=0.1),
  "average_params": lambda: jon.chain(jon.sgd(0.1, momentum=0.9), jon.average_params(0.1)),
  "partition": lambda: jon.partition(
    {"a": jon.adam(0.1), "b": jon.lion(0.01)}, {"w": "a", "b": "b", "s": "a"}
  ),
}
PARAM_SHAPED = {e.name: e.param_shaped_state for e in REGISTRY}
OPTIMIZERS = {e.name: (lambda e=e, **kw: e.make(0.05, **kw)) for e in REGISTRY} | WRAPPED
# JAXOPT_NOTES_SHARD="i/n" runs every n-th optimizer from the i-th (tests/test_sharding.py
# starts n such processes, so that the suite's workers share them)
_SHARD = os.environ.get("JAXOPT_NOTES_SHARD")
NAMES = list(OPTIMIZERS)
if _SHARD:
  _i, _n = map(int, _SHARD.split("/"))
  NAMES = NAMES[_i::_n]
SHARDED_KWARGS = {e.name: e.sharded_kwargs for e in REGISTRY}


def _param_of(path):
  """The param a state leaf belongs to: the last dict key on its path, if it is one."""
  keys = [k.key for k in path if isinstance(k, jax.tree_util.DictKey)]
  return keys[-1] if keys and keys[-1] in SHAPES else None


def _check_state_sharding(state, params, mesh):
  moments = 0
  for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
    name = _param_of(path)
    where = jax.tree_util.keystr(path)
    if name is not None and leaf.shape == SHAPES[name]:
      assert leaf.sharding.is_equivalent_to(params[name].sharding, leaf.ndim), (
        where,
        leaf.sharding,
        params[name].sharding,
      )
      moments += 1
    elif leaf.ndim == 0:  # counters and other scalars: on every device of the mesh
      assert leaf.sharding.is_fully_replicated, (where, leaf.sharding)
      assert leaf.sharding.device_set == set(mesh.devices.flat), (where, leaf.sharding)
  return moments


@pytest.mark.parametrize("kind", list(MESH_KINDS))
@pytest.mark.parametrize("name", NAMES)
def test_state_is_sharded_like_params_eagerly_and_under_jit(name, kind):
  mesh = _mesh(kind)
  opt = OPTIMIZERS[name]()
  params = _params(mesh)
  states = [opt.init(params)]  # eagerly, with no mesh context
  with jax.set_mesh(mesh):
    states += [opt.init(params), jax.jit(opt.init)(params)]
  for state in states:
    moments = _check_state_sharding(state, params, mesh)
    assert moments >= (2 if PARAM_SHAPED.get(name, True) else 0), moments


def _train(opt, params, x, steps=3):
  state = opt.init(params)

  @jax.jit
  def step(params, state, x):
    loss, grads = jax.value_and_grad(_loss)(params, x)
    updates, state = opt.update(grads, state, params, value=loss)
    return jon.apply_updates(params, updates), state

  for _ in range(steps):
    params, state = step(params, state, x)
  return params, state


@pytest.mark.parametrize("name", NAMES)
def test_jitted_step_on_a_4x2_mesh_keeps_shardings_and_equals_one_device(name):
  mesh = _mesh("auto")
  opt = OPTIMIZERS[name](**SHARDED_KWARGS.get(name, {}))
  with jax.set_mesh(mesh):
    params = _params(mesh)
    state0 = opt.init(params)
    new_params, state = _train(opt, params, _batch(mesh))
  for k, p in new_params.items():
    assert p.sharding.is_equivalent_to(params[k].sharding, p.ndim), (k, p.sharding)
  for before, after in zip(jax.tree.leaves(state0), jax.tree.leaves(state)):
    assert after.sharding.is_equivalent_to(before.sharding, after.ndim), (
      before.sharding,
      after.sharding,
    )
  alone_params, alone_state = _train(opt, _params(), _batch())
  # The same maths; only the order of the loss's reductions may differ.
  chex.assert_trees_all_close(new_params, alone_params, rtol=1e-12, atol=1e-14)
  chex.assert_trees_all_close(_numbers(state), _numbers(alone_state), rtol=1e-10, atol=1e-14)


def _numbers(tree):
  """Random keys as their raw bits, so that they compare like the other leaves."""
  return jax.tree.map(
    lambda x: jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x, tree
  )


@pytest.mark.parametrize("kind", list(MESH_KINDS))
def test_abstract_state_places_each_leaf_where_a_plain_jitted_update_leaves_it(kind):
  """The restore target is the live state's placement: after one step of a plain
  ``jax.jit`` (no ``out_shardings``, no mesh context) every state leaf lies on the
  sharding `jaxopt_notes.abstract_state` gives, so a restored state runs the same
  program as the one that never stopped. This shard's optimizers step together,
  in one trace, and one ``abstract_state`` traces all their ``init``."""
  mesh = _mesh(kind)
  params = _params(mesh)
  opts = {
    name: OPTIMIZERS[name]()
    for name in NAMES
    if kind == "auto" or name not in EXPLICIT_AXES_UPDATE_UNSUPPORTED
  }
  target = jon.abstract_state(
    jon.GradientTransformation(lambda p: {name: opt.init(p) for name, opt in opts.items()}, None),
    params,
  )

  @jax.jit
  def step(params, states):
    # Elementwise gradients keep their params' shardings with Explicit axes too.
    grads = jax.tree.map(lambda p: jnp.cos(3 * p) + 0.1 * p, params)
    loss = sum(jnp.sum(g * g) for g in jax.tree.leaves(grads))
    return {
      name: opt.update(grads, states[name], params, value=loss)[1] for name, opt in opts.items()
    }

  stepped = step(params, {name: opt.init(params) for name, opt in opts.items()})
  chex.assert_trees_all_equal_structs(stepped, target)
  wrong = [
    (jax.tree_util.keystr(path), x.sharding.spec, t.sharding.spec)
    for (path, x), t in zip(
      jax.tree_util.tree_flatten_with_path(stepped)[0], jax.tree.leaves(target), strict=True
    )
    if not t.sharding.is_equivalent_to(x.sharding, x.ndim)
  ]
  assert not wrong, wrong


def test_low_bit_state_is_sharded_like_its_params_and_steps_as_on_one_device():
  """Blocks of 2 along w's last axis (2 a device on "model"): codes and scales are split
  over the mesh as w is, and a jitted step keeps them there and equals one device's."""
  mesh = _mesh("auto")
  opt = jon.low_bit_state(jon.adam(0.05), bits=8, block_size=2, min_size=4)
  with jax.set_mesh(mesh):
    params = _params(mesh)
    state0 = opt.init(params)
    new_params, state = _train(opt, params, _batch(mesh))
  mu = state.inner_state[0].mu["w"]
  assert mu.codes.shape == (8, 2, 2)
  assert mu.codes.sharding.is_equivalent_to(NamedSharding(mesh, P("data", "model")), 3)
  assert mu.scale.sharding.is_equivalent_to(NamedSharding(mesh, P("data", "model")), 2)
  for before, after in zip(jax.tree.leaves(state0), jax.tree.leaves(state)):
    assert after.sharding.is_equivalent_to(before.sharding, after.ndim)
  alone_params, alone_state = _train(opt, _params(), _batch())
  chex.assert_trees_all_close(new_params, alone_params, rtol=1e-6, atol=1e-9)
