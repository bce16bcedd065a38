"""A small classifier on scikit-learn's bundled digits, trained three ways users train.

The same optimizer, ``chain(clip_by_global_norm(1.0), adamw(warmup_cosine_decay_schedule(...)))``,
drives a Flax linen ``TrainState``, a Flax NNX ``nnx.Optimizer`` and a Haiku
loop; each reports its test accuracy. Offline: the data ships with scikit-learn.

Run: ``python examples/digits_classifier.py [--steps N] [--framework linen|nnx|haiku|all]``
"""

import argparse
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.datasets import load_digits

import jaxopt_notes as jon

HIDDEN = 64
BATCH = 128


def data(seed: int = 0):
  """(x_train, y_train, x_test, y_test): 80/20 split of the 1797 digits, pixels in [0, 1]."""
  digits = load_digits()
  order = np.random.default_rng(seed).permutation(len(digits.target))
  x = (digits.data[order] / 16.0).astype(np.float32)
  y = digits.target[order]
  cut = int(0.8 * len(y))
  return jnp.asarray(x[:cut]), jnp.asarray(y[:cut]), jnp.asarray(x[cut:]), jnp.asarray(y[cut:])


def optimizer(steps: int, peak_lr: float = 3e-3) -> jon.GradientTransformation:
  schedule = jon.warmup_cosine_decay_schedule(0.0, peak_lr, max(steps // 10, 1), steps)
  return jon.chain(jon.clip_by_global_norm(1.0), jon.adamw(schedule, weight_decay=1e-4))


def cross_entropy(logits, labels):
  return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1))


def batches(x, y, steps: int, seed: int = 0):
  rng = np.random.default_rng(seed)
  for _ in range(steps):
    idx = rng.integers(0, len(y), BATCH)
    yield x[idx], y[idx]


def accuracy(logits, labels) -> float:
  return float(jnp.mean(jnp.argmax(logits, -1) == labels))


def train_linen(steps: int) -> float:
  import flax.linen as nn
  from flax.training import train_state

  class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
      return nn.Dense(10)(nn.relu(nn.Dense(HIDDEN)(x)))

  xt, yt, xv, yv = data()
  model = MLP()
  state = train_state.TrainState.create(
    apply_fn=model.apply, params=model.init(jax.random.key(0), xt[:1]), tx=optimizer(steps)
  )

  @jax.jit
  def step(state, x, y):
    grads = jax.grad(lambda p: cross_entropy(state.apply_fn(p, x), y))(state.params)
    return state.apply_gradients(grads=grads)

  for x, y in batches(xt, yt, steps):
    state = step(state, x, y)
  return accuracy(model.apply(state.params, xv), yv)


def train_nnx(steps: int) -> float:
  from flax import nnx

  class MLP(nnx.Module):
    def __init__(self, rngs):
      self.hidden = nnx.Linear(64, HIDDEN, rngs=rngs)
      self.out = nnx.Linear(HIDDEN, 10, rngs=rngs)

    def __call__(self, x):
      return self.out(jax.nn.relu(self.hidden(x)))

  xt, yt, xv, yv = data()
  model = MLP(nnx.Rngs(0))
  opt = nnx.Optimizer(model, optimizer(steps), wrt=nnx.Param)

  @nnx.jit
  def step(model, opt, x, y):
    grads = nnx.grad(lambda m: cross_entropy(m(x), y))(model)
    opt.update(model, grads)

  for x, y in batches(xt, yt, steps):
    step(model, opt, x, y)
  return accuracy(model(xv), yv)


def train_haiku(steps: int) -> float:
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import haiku as hk

  net = hk.without_apply_rng(
    hk.transform(lambda x: hk.Linear(10)(jax.nn.relu(hk.Linear(HIDDEN)(x))))
  )
  xt, yt, xv, yv = data()
  params = net.init(jax.random.key(0), xt[:1])
  opt = optimizer(steps)
  state = opt.init(params)

  @jax.jit
  def step(params, state, x, y):
    grads = jax.grad(lambda p: cross_entropy(net.apply(p, x), y))(params)
    updates, state = opt.update(grads, state, params)
    return jon.apply_updates(params, updates), state

  for x, y in batches(xt, yt, steps):
    params, state = step(params, state, x, y)
  return accuracy(net.apply(params, xv), yv)


TRAINERS = {"linen": train_linen, "nnx": train_nnx, "haiku": train_haiku}


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=600)
  parser.add_argument("--framework", choices=[*TRAINERS, "all"], default="all")
  args = parser.parse_args(argv)
  names = list(TRAINERS) if args.framework == "all" else [args.framework]
  results = {}
  for name in names:
    results[name] = TRAINERS[name](args.steps)
    print(
      f"digits, {name:<5} {args.steps} steps of warmup-cosine AdamW: "
      f"test accuracy {results[name]:.3f}"
    )
  return results


if __name__ == "__main__":
  main()
