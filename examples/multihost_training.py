"""Multi-process FSDP training with Orbax checkpoints, resumed with nothing lost after a kill.

Every process runs this same script under ``jax.distributed``; params and
optimizer state are sharded over one global mesh of all the processes'
devices, so each process holds only its part of the state. With ``--ckpt`` the
run saves params and state with an Orbax ``CheckpointManager`` every
``--every`` steps; started again on the same folder, it resumes from the last
complete checkpoint and ends on exactly the params of a run that never stopped.

On one machine, 2 processes x 2 simulated CPU devices (gloo collectives):

    python -m jaxopt_notes.testing.multiprocess -n 2 --devices 2 \\
        examples/multihost_training.py --ckpt /tmp/run

On real hosts, run the script once per host; ``initialize`` below is then
``jax.distributed.initialize()`` (see docs/multihost.md).
"""

import argparse
import functools
import os
import signal

from jaxopt_notes.testing import multiprocess

multiprocess.initialize()  # before any JAX computation; nothing outside a launched job

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import orbax.checkpoint as ocp  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import jaxopt_notes as jon  # noqa: E402
from fsdp import fsdp_shardings, process_bytes, shard  # noqa: E402

LR = 3e-2
OPTIMIZERS = {
  "adam": lambda steps: jon.adam(LR),
  "adamw_injected": lambda steps: jon.inject_hyperparams(jon.adamw)(
    learning_rate=jon.warmup_cosine_decay_schedule(0.0, LR, 2, steps), weight_decay=1e-2
  ),
  "multisteps": lambda steps: jon.MultiSteps(jon.adam(LR), 2).gradient_transformation(),
  "apply_if_finite": lambda steps: jon.apply_if_finite(jon.adam(LR), 3),
  "shampoo": lambda steps: jon.shampoo(LR, start_preconditioning_step=1),
  "soap": lambda steps: jon.soap(LR, precondition_frequency=2),
}
ROWS, FEATURES, CLASSES, BATCH = 64, 8, 4, 16


class MLP(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dense(CLASSES)(jnp.tanh(nn.Dense(16)(x)))


def data():
  """A fixed synthetic task: 64 points, labels from a random linear teacher."""
  kx, kt = jax.random.split(jax.random.key(0))
  x = jax.random.normal(kx, (ROWS, FEATURES))
  return x, jnp.argmax(x @ jax.random.normal(kt, (FEATURES, CLASSES)), axis=1)


def global_mesh():
  """One mesh axis, ``fsdp``, over every device of every process."""
  return jax.make_mesh((jax.device_count(),), ("fsdp",), axis_types=(jax.sharding.AxisType.Auto,))


def batch(step, mesh, x, y):
  """The batch of a step: a pure function of the step, so a resumed run sees the same data."""
  rows = slice(BATCH * (step % (ROWS // BATCH)), BATCH * (step % (ROWS // BATCH) + 1))
  return shard((x[rows], y[rows]), (NamedSharding(mesh, P("fsdp")),) * 2)


def init_params(mesh):
  """The model's initial params, FSDP-sharded on ``mesh``."""
  x, _ = data()
  params = MLP().init(jax.random.key(1), x[:1])
  return shard(params, fsdp_shardings(params, mesh))


def train_step(opt):
  """One step of ``opt`` on a batch: ``(params, state, x, y) -> (params, state)`` (not jitted)."""

  def step(params, state, x, y):
    def loss(p):
      logits = MLP().apply(p, x)
      return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    value, grads = jax.value_and_grad(loss)(params)
    updates, state = opt.update(grads, state, params, value=value)
    return jon.apply_updates(params, updates), state

  return step


def setup(opt, mesh):
  """(params, state, jitted step): params FSDP-sharded on ``mesh``, state built by ``init``."""
  params = init_params(mesh)
  return params, opt.init(params), jax.jit(train_step(opt))


def manager(path, every):
  """Keeps the last two complete checkpoints; half-written ones are cleared on start."""
  options = ocp.CheckpointManagerOptions(
    save_interval_steps=every, max_to_keep=2, cleanup_tmp_directories=True
  )
  return ocp.CheckpointManager(os.path.abspath(path), options=options)


def restore(mngr, step, opt, params):
  """Params and state of a saved step, placed straight onto the shardings of ``params``."""
  target = {
    "params": jax.tree.map(
      lambda p: jax.ShapeDtypeStruct(p.shape, p.dtype, sharding=p.sharding), params
    ),
    "opt_state": jon.abstract_state(opt, params),
  }
  restored = mngr.restore(step, args=ocp.args.StandardRestore(target))
  return restored["params"], restored["opt_state"]


def to_host(tree):
  """Every leaf as a nested list of the whole (global) array, the same on every process.

  One jitted copy onto every device gathers all the leaves at once; each process
  then reads its own local copy.
  """
  tree = jax.tree.map(
    lambda x: jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x, tree
  )
  return jax.tree.map(lambda a: a.addressable_data(0).tolist(), _gather(global_mesh())(tree))


@functools.cache
def _gather(mesh):
  return jax.jit(lambda tree: tree, out_shardings=NamedSharding(mesh, P()))


def local_scalars(state):
  """This process's own copy of each scalar of the state (counters, hyperparameters)."""
  out = {}
  for path, x in jax.tree_util.tree_flatten_with_path(state)[0]:
    if x.ndim == 0 and not jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
      copies = {jax.device_get(s.data).item() for s in x.addressable_shards}
      assert len(copies) == 1, (path, copies)  # every local device holds the same value
      out[jax.tree_util.keystr(path)] = copies.pop()
  return out


def train(name, steps, ckpt=None, every=3, kill_at=None):
  """Trains ``OPTIMIZERS[name]`` for ``steps`` steps; returns what this process saw."""
  mesh = global_mesh()
  opt = OPTIMIZERS[name](steps)
  params, state, step = setup(opt, mesh)
  x, y = data()
  mngr = manager(os.path.join(ckpt, name), every) if ckpt else None
  start = (mngr.latest_step() or 0) if mngr else 0
  if start:
    params, state = restore(mngr, start, opt, params)
  for t in range(start, steps):
    params, state = step(params, state, *batch(t, mesh, x, y))
    if mngr:
      mngr.save(t + 1, args=ocp.args.StandardSave({"params": params, "opt_state": state}))
      if kill_at == t + 1 and jax.process_index() == 1:
        os.kill(os.getpid(), signal.SIGKILL)  # mid-run, with that save still being written
  if mngr:
    mngr.wait_until_finished()
    mngr.close()
  replicated = all(
    x.sharding.device_set == set(mesh.devices.flat) for x in jax.tree.leaves(state) if x.ndim == 0
  )
  total, held = sum(x.nbytes for x in jax.tree.leaves(state)), process_bytes(state)
  return {
    "resumed_from": start,
    "params": to_host(params),
    "state": to_host(state),
    "scalars": local_scalars(state),
    "scalars_on_every_device": replicated,
    "state_bytes": total,
    "process_state_bytes": held,
    "process_state_fraction": round(held / total, 4),
  }


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
  parser.add_argument("--steps", type=int, default=12)
  parser.add_argument("--ckpt", help="checkpoint folder (shared by all processes)")
  parser.add_argument("--every", type=int, default=3, help="steps between checkpoints")
  parser.add_argument("--kill-at", type=int, help="process 1 kills itself after this step")
  args = parser.parse_args(argv)
  results = {
    name: train(name, args.steps, args.ckpt, args.every, args.kill_at)
    for name in args.optimizers.split(",")
  }
  multiprocess.report(
    {"processes": jax.process_count(), "devices": jax.device_count(), "results": results}
  )


if __name__ == "__main__":
  main()
