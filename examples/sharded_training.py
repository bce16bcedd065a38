"""FSDP-style training on a mesh: params, optimizer state and batch sharded over 8 devices.

Each weight matrix is split along its larger dimension over the mesh axis
``fsdp``; the batch is split over the same axis. The optimizer state is built
by ``opt.init`` (eagerly or under ``jit``) and comes out sharded exactly like
the params, so each device holds 1/8 of the Adam moments. On a machine with one
CPU the 8 devices are simulated (``--xla_force_host_platform_device_count``);
the same code runs unchanged on 8 accelerators.

Run: ``python examples/sharded_training.py [--steps N]``
"""

import os
import sys

if "jax" not in sys.modules:  # simulate 8 devices, unless the caller chose a device count
  os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")

import argparse  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

from digits_classifier import BATCH, accuracy, batches, cross_entropy, data, optimizer  # noqa: E402
from fsdp import fsdp_spec, state_bytes  # noqa: E402

HIDDEN = 256


class MLP(nn.Module):
  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Dense(HIDDEN)(x))
    x = nn.relu(nn.Dense(HIDDEN)(x))
    return nn.Dense(16)(x)[:, :10]  # 16 outputs so that every matrix splits over 8


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=300)
  args = parser.parse_args(argv)

  devices = jax.device_count()
  mesh = jax.make_mesh((devices,), ("fsdp",), axis_types=(jax.sharding.AxisType.Auto,))
  xt, yt, xv, yv = data()
  model = MLP()
  params = model.init(jax.random.key(0), xt[:1])
  shardings = jax.tree.map(lambda x: NamedSharding(mesh, fsdp_spec(x, devices)), params)
  params = jax.device_put(params, shardings)
  opt = optimizer(args.steps)
  opt_state = jax.jit(opt.init)(params)  # sharded like params, no out_shardings needed
  batch_sharding = NamedSharding(mesh, P("fsdp"))

  @jax.jit
  def step(params, opt_state, x, y):
    grads = jax.grad(lambda p: cross_entropy(model.apply(p, x), y))(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    return jax.tree.map(jnp.add, params, updates), opt_state

  assert BATCH % devices == 0
  for x, y in batches(xt, yt, args.steps):
    x, y = jax.device_put((x, y), batch_sharding)
    params, opt_state = step(params, opt_state, x, y)

  total, held = state_bytes(opt_state)
  same = all(
    m.sharding.is_equivalent_to(p.sharding, p.ndim)
    for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(opt_state[1][0].mu), strict=True)
  )
  result = {
    "devices": devices,
    "accuracy": accuracy(model.apply(params, xv), yv),
    "state_bytes": total,
    "state_bytes_per_device": held,
    "moments_sharded_like_params": same,
  }
  print(f"{devices} devices, mesh axis 'fsdp'; {args.steps} steps of warmup-cosine AdamW")
  print(f"test accuracy {result['accuracy']:.3f}")
  print(
    f"optimizer state: {total:,} bytes in all, {held:,} on device 0 "
    f"({held / total:.3f} of it; 1/{devices} = {1 / devices:.3f}, the rest is "
    "small replicated leaves)"
  )
  print(f"Adam moments sharded exactly like their params: {same}")
  return result


if __name__ == "__main__":
  main()
