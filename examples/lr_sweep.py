"""Sweep 16 learning rates of a Flax model in one compiled program with ``jax.vmap``.

The whole training run (init, ``steps`` full-batch AdamW steps with a
warmup-cosine schedule, the loss curve) is one function of the peak learning
rate; ``jax.vmap`` over a vector of rates runs all of them at once and
``jax.jit`` compiles that once. Any other numeric hyperparameter (or several
at once) sweeps the same way: make it an argument and vmap over it.

Data: scikit-learn's bundled handwritten digits (1797 8x8 images, no download).

Run: ``python examples/lr_sweep.py [--steps N] [--out DIR]``
"""

import argparse
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from sklearn.datasets import load_digits

import jaxopt_notes as jon

RATES = jnp.logspace(-4, 0, 16)
TRACES = {"train": 0}  # how many times the training run was traced (compiled)


class MLP(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dense(10)(nn.relu(nn.Dense(32)(x)))


def digits():
  data = load_digits()
  x = jnp.asarray(data.data / 16.0, jnp.float32)
  return x, jnp.asarray(data.target)


def make_train(steps: int):
  """Returns ``train(peak_lr) -> loss curve``: a pure function, so vmap-able."""
  x, y = digits()
  model = MLP()

  def loss_fn(params):
    logits = model.apply(params, x)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

  def train(peak_lr):
    TRACES["train"] += 1  # runs at trace time only
    schedule = jon.warmup_cosine_decay_schedule(0.0, peak_lr, steps // 10, steps)
    opt = jon.chain(jon.clip_by_global_norm(1.0), jon.adamw(schedule, weight_decay=1e-4))
    params = model.init(jax.random.key(0), x[:1])

    def step(carry, _):
      params, state = carry
      loss, grads = jax.value_and_grad(loss_fn)(params)
      updates, state = opt.update(grads, state, params)
      return (jon.apply_updates(params, updates), state), loss

    _, curve = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return curve

  return train


def sweep(steps: int, rates=RATES):
  """All runs at once: one compilation, curves of shape (len(rates), steps)."""
  return jax.jit(jax.vmap(make_train(steps)))(rates)


def plot(curves, rates, path):
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(7, 4.5))
  colors = plt.cm.viridis(np.linspace(0, 1, len(rates)))
  for curve, lr, c in zip(np.asarray(curves), np.asarray(rates), colors):
    ax.plot(curve, color=c, label=f"{lr:.1e}")
  ax.set(
    yscale="log",
    xlabel="step",
    ylabel="training loss (cross-entropy)",
    title="AdamW + warmup-cosine on digits: 16 peak learning rates, one jit",
  )
  ax.legend(title="peak lr", fontsize=6, ncol=2)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--out", default="demo_output")
  args = parser.parse_args(argv)
  curves = sweep(args.steps)
  best = int(jnp.argmin(curves[:, -1]))
  print(
    f"swept {len(RATES)} learning rates in one compiled program "
    f"(traced {TRACES['train']} time(s)); best peak lr {float(RATES[best]):.2e}, "
    f"final loss {float(curves[best, -1]):.4f}"
  )
  os.makedirs(args.out, exist_ok=True)
  path = os.path.join(args.out, "lr_sweep.png")
  plot(curves, RATES, path)
  print(f"wrote {path}")
  return curves


if __name__ == "__main__":
  main()
