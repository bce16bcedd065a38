"""Shampoo, SOAP, PSGD-Kron, KL-Shampoo and PSGD-PRO on several meshes: params after 6
float32 steps.

One problem, shared by tests/multidevice/test_kronecker_meshes.py (meshes of 1,
2, 4 and 8 simulated devices in one process) and by this file run as a worker
of 2 processes x 2 devices (tests/test_sharding.py): ``w`` (64, 8) and ``v``
(8, 16) have rank-deficient Kronecker factors (a gradient of ``w`` has rank at
most 8, so its 64 x 64 factor has a null space of dimension 56 after one step),
``a`` and ``b`` (8, 8) full-rank ones. Every param is sharded on its first axis.
"""

import numpy as np

from jaxopt_notes.testing import multiprocess

if __name__ == "__main__":
  multiprocess.initialize()  # before any JAX computation

import jax  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import jaxopt_notes as jon  # noqa: E402

SHAPES = {"w": (64, 8), "v": (8, 16), "a": (8, 8), "b": (8, 8)}
RANK_DEFICIENT, FULL_RANK = ("w", "v"), ("a", "b")
STEPS = 6
OPTIMIZERS = {
  "shampoo": lambda: jon.shampoo(0.01),
  "soap": lambda: jon.soap(0.01),
  "kron": lambda: jon.kron(0.01),
  "kl_shampoo": lambda: jon.kl_shampoo(0.01),
  "psgd_pro": lambda: jon.psgd_pro(0.01),
}


def host_params():
  rng = np.random.default_rng(0)
  return {k: (rng.normal(size=s) / np.sqrt(s[0])).astype(np.float32) for k, s in SHAPES.items()}


def _loss(p, x, y):
  deficient = jnp.tanh(x @ p["w"]) @ p["v"]
  full = jnp.tanh(x[:, :8] @ p["a"]) @ p["b"]
  return jnp.mean((deficient - 0.3) ** 2) + jnp.mean((full - y) ** 2)


def _data():
  x = np.random.default_rng(1).normal(size=(32, 64)).astype(np.float32)
  y = np.random.default_rng(2).normal(size=(32, 8)).astype(np.float32)
  return jnp.asarray(x), jnp.asarray(y)


def train(name, mesh=None):
  """``name``'s params after `STEPS` jitted steps: on ``mesh`` (sharded on each
  param's first axis) or, without one, on the default device. Host arrays."""
  params = host_params()
  x, y = _data()
  if mesh is not None:

    def put(v, spec):
      return jax.make_array_from_callback(
        v.shape, NamedSharding(mesh, spec), lambda index: v[index]
      )

    params = {k: put(v, P("d")) for k, v in params.items()}
    x, y = put(np.asarray(x), P()), put(np.asarray(y), P())
  opt = OPTIMIZERS[name]()

  @jax.jit
  def step(p, state):
    updates, state = opt.update(jax.grad(_loss)(p, x, y), state, p)
    return jon.apply_updates(p, updates), state

  state = opt.init(params)
  for _ in range(STEPS):
    params, state = step(params, state)
  if mesh is not None:  # every process gathers the whole params
    params = multihost_utils.process_allgather(params, tiled=True)
  return {k: np.asarray(v) for k, v in params.items()}


def disagreement(got, alone):
  """``(rank-deficient, full-rank)``: the largest difference of a param, relative
  to its largest entry on one device."""
  rel = {k: float(np.max(np.abs(got[k] - alone[k])) / np.max(np.abs(alone[k]))) for k in got}
  return max(rel[k] for k in RANK_DEFICIENT), max(rel[k] for k in FULL_RANK)


def _alone():
  """Every optimizer's params trained on one device: by process 0 alone, which hands them
  to the others (each process training the same one-device runs paid their compilations
  again)."""
  if jax.process_index() == 0:
    with jax.default_device(jax.local_devices()[0]):
      alone = {name: train(name) for name in OPTIMIZERS}
  else:
    alone = {name: {k: np.zeros(s, np.float32) for k, s in SHAPES.items()} for name in OPTIMIZERS}
  return jax.tree.map(np.asarray, multihost_utils.broadcast_one_to_all(alone))


def main():
  mesh = jax.make_mesh((jax.device_count(),), ("d",), axis_types=(jax.sharding.AxisType.Auto,))
  alone = _alone()
  multiprocess.report(
    {
      "processes": jax.process_count(),
      "devices": jax.device_count(),
      **{name: disagreement(train(name, mesh), alone[name]) for name in OPTIMIZERS},
    }
  )


if __name__ == "__main__":
  main()
