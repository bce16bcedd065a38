"""PSGD-Kron on 8 simulated CPU devices: factors spread over the mesh.

Run in its own process by test_sharding.py. With params on a mesh, every factor is
spread over it (the stack of blocks, else the rows); the state bytes each device
holds fall as 1/n, and a jitted sharded step equals the single-device one.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxopt_notes as jon

SPECS = {"w": P("fsdp", None), "v": P(None, "fsdp"), "b": P("fsdp")}
SHAPES = {"w": (64, 32), "v": (32, 64), "b": (64,)}


def _opt():
  return jon.kron(
    0.01, block_size=32, merge_small_dims=False, preconditioner_update_probability=0.8, key=3
  )


def _params(mesh=None):
  values = {
    k: jnp.sin(jnp.arange(int(np.prod(s)), dtype=jnp.float64)).reshape(s) for k, s in SHAPES.items()
  }
  if mesh is None:
    return values
  return {k: jax.device_put(v, NamedSharding(mesh, SPECS[k])) for k, v in values.items()}


def _mesh(n):
  return jax.make_mesh((n,), ("fsdp",), devices=jax.devices()[:n], axis_types=(AxisType.Auto,))


def _bytes_per_device(state):
  held = {}
  for leaf in jax.tree.leaves(state):
    if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      continue
    for shard in leaf.addressable_shards:
      held[shard.device] = held.get(shard.device, 0) + shard.data.nbytes
  return max(held.values())


def test_factors_follow_the_param_dims_and_state_bytes_fall_with_devices():
  per_device = []
  for n in (1, 2, 4, 8):
    mesh = _mesh(n)
    state = _opt().init(_params(mesh))[0]
    qw, qv = state.Qs_preconditioners["w"], state.Qs_preconditioners["v"]
    assert qw[0].shape == (2, 32, 32) and qv[1].shape == (2, 32, 32)  # dims cut into 2 blocks
    # Every factor spread over the mesh, whichever dim of its param is split: the
    # stack of 2 blocks on 2 devices, else the rows (jaxopt_notes.kronecker._factors).
    spread = P("fsdp", None, None) if n == 2 else P(None, "fsdp", None)
    for q in qw + qv:
      assert q.sharding.is_equivalent_to(NamedSharding(mesh, spread), 3), (n, q.sharding)
    b = state.Qs_preconditioners["b"][0]
    assert b.sharding.is_equivalent_to(NamedSharding(mesh, P(None, "fsdp")), 2), b.sharding
    per_device.append(_bytes_per_device(state))
  assert all(b < a for a, b in zip(per_device, per_device[1:])), per_device
  assert per_device[-1] <= 1.1 / 8 * per_device[0], per_device


def _train(params, steps=4):
  opt = _opt()
  state = opt.init(params)

  @jax.jit
  def step(params, state):
    grads = jax.grad(lambda p: sum(jnp.sum(jnp.cos(x) * x**2) for x in p.values()))(params)
    updates, state = opt.update(grads, state, params)
    return jon.apply_updates(params, updates), state

  for _ in range(steps):
    params, state = step(params, state)
  return params, state


def test_sharded_steps_equal_one_device_and_keep_the_factor_shardings():
  mesh = _mesh(8)
  with jax.set_mesh(mesh):
    params = _params(mesh)
    before = _opt().init(params)
    sharded, state = _train(params)
  for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(state)):
    assert b.sharding.is_equivalent_to(a.sharding, b.ndim), (a.sharding, b.sharding)
  alone, alone_state = _train(_params())
  chex.assert_trees_all_close(sharded, alone, rtol=1e-10, atol=1e-13)
  chex.assert_trees_all_close(
    state[0].Qs_preconditioners, alone_state[0].Qs_preconditioners, rtol=1e-10, atol=1e-13
  )
