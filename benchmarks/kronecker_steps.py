"""Step and compile time of the Kronecker-factored optimizers on a small transformer.

The workload: a character-level transformer (2 layers, d_model 64, 4 heads, a
context of 32 characters, about 118K params, float32) trained on the docstrings
of a few modules of Python's standard library (nothing is downloaded), batches
of 16 windows. For adamw, shampoo, soap and kron at their defaults (learning
rate 1e-3) the script compiles one jitted training step each and reports the
compile time, the median step time and its ratio to adamw's, the training loss
reached, and the number of entries in the Kronecker factors of the state. The
optimizers take turns, a few steps each per round, so that a CPU shared with
other work slows them alike: compare the ratios, not only the times.

Run: ``python benchmarks/kronecker_steps.py [--rounds N] [--steps N] [--only NAME] [--md PATH]``,
or ``--train NAME --steps N`` to train one optimizer, printing one line per step
(the hang test of tests/test_kronecker.py runs that under a watchdog).
"""

import argparse
import collections
import functools
import inspect
import json
import platform
import statistics
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxopt_notes as jon

VOCAB, WIDTH, LAYERS, HEADS, CONTEXT, BATCH = 128, 64, 2, 4, 32, 16
LEARNING_RATE = 1e-3
OPTIMIZERS = {
  "adamw": lambda: jon.adamw(LEARNING_RATE),
  "shampoo": lambda: jon.shampoo(LEARNING_RATE),
  "soap": lambda: jon.soap(LEARNING_RATE),
  "kron": lambda: jon.kron(LEARNING_RATE),
  "kron, merge_small_dims=False": lambda: jon.kron(LEARNING_RATE, merge_small_dims=False),
}


def corpus() -> np.ndarray:
  """The characters (codes below 128) of the docstrings of a few standard modules."""
  texts = []
  for module in (argparse, collections, functools, inspect, json, textwrap):
    texts.append(inspect.getdoc(module) or "")
    for _, member in sorted(vars(module).items()):
      if inspect.isfunction(member) or inspect.isclass(member):
        texts.append(inspect.getdoc(member) or "")
  return np.frombuffer("\n".join(texts).encode("ascii", "replace"), np.uint8).astype(np.int32)


def init_params(key: jax.Array) -> dict:
  """Embeddings, per layer the attention projections and an MLP, and the read-out."""
  keys = iter(jax.random.split(key, 3 + 6 * LAYERS))

  def normal(shape):
    return jax.random.normal(next(keys), shape) / np.sqrt(shape[0])

  layers = [
    {
      "q": normal((WIDTH, WIDTH)),
      "k": normal((WIDTH, WIDTH)),
      "v": normal((WIDTH, WIDTH)),
      "o": normal((WIDTH, WIDTH)),
      "up": normal((WIDTH, 4 * WIDTH)),
      "down": normal((4 * WIDTH, WIDTH)),
      "up_bias": jnp.zeros(4 * WIDTH),
      "norm1": jnp.ones(WIDTH),
      "norm2": jnp.ones(WIDTH),
    }
    for _ in range(LAYERS)
  ]
  return {
    "embed": 0.1 * normal((VOCAB, WIDTH)),
    "position": 0.1 * normal((CONTEXT, WIDTH)),
    "layers": layers,
    "norm": jnp.ones(WIDTH),
    "out": normal((WIDTH, VOCAB)),
  }


def _norm(x, scale):
  return scale * (x - x.mean(-1, keepdims=True)) * jax.lax.rsqrt(x.var(-1, keepdims=True) + 1e-5)


def loss(params: dict, batch: jax.Array) -> jax.Array:
  """Mean cross-entropy of the next character, ``batch`` of shape (B, CONTEXT + 1)."""
  x = params["embed"][batch[:, :-1]] + params["position"]
  causal = jnp.tril(jnp.ones((CONTEXT, CONTEXT), bool))
  for p in params["layers"]:
    h = _norm(x, p["norm1"])
    q, k, v = (jnp.reshape(h @ p[n], h.shape[:2] + (HEADS, -1)) for n in ("q", "k", "v"))
    scores = jnp.einsum("bshd,bthd->bhst", q, k) / np.sqrt(WIDTH // HEADS)
    weights = jax.nn.softmax(jnp.where(causal, scores, -1e9), axis=-1)
    x = x + jnp.einsum("bhst,bthd->bshd", weights, v).reshape(x.shape) @ p["o"]
    x = x + jax.nn.gelu(_norm(x, p["norm2"]) @ p["up"] + p["up_bias"]) @ p["down"]
  logits = _norm(x, params["norm"]) @ params["out"]
  return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), batch[:, 1:, None], -1))


def batches(text: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
  """``count`` batches of random windows, shape (count, BATCH, CONTEXT + 1)."""
  starts = np.random.default_rng(seed).integers(0, len(text) - CONTEXT - 1, (count, BATCH))
  return text[starts[..., None] + np.arange(CONTEXT + 1)]


def factor_entries(state) -> int:
  """Entries of the Kronecker factors in a `kron` state (0 for other optimizers)."""
  found = [
    s
    for s in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, jon.ScaleByKronState))
    if isinstance(s, jon.ScaleByKronState)
  ]
  return sum(q.size for s in found for q in jax.tree.leaves(s.Qs_preconditioners))


class Runner:
  """One optimizer's compiled training step, its state, and the times of its steps."""

  def __init__(self, make, params, batch):
    self.opt = make()
    self.params, self.state = params, self.opt.init(params)

    def step(params, state, batch):
      value, grads = jax.value_and_grad(loss)(params, batch)
      updates, state = self.opt.update(grads, state, params)
      return jon.apply_updates(params, updates), state, value

    start = time.perf_counter()
    self.step = jax.jit(step).lower(self.params, self.state, batch).compile()
    self.compile_s = time.perf_counter() - start
    self.times, self.loss = [], float("nan")

  def run(self, data: np.ndarray) -> None:
    for batch in data:
      start = time.perf_counter()
      self.params, self.state, value = self.step(self.params, self.state, batch)
      value.block_until_ready()
      self.times.append(time.perf_counter() - start)
      self.loss = float(value)


def measure(names=tuple(OPTIMIZERS), rounds: int = 5, steps: int = 10) -> dict:
  """Compiles each optimizer's step, then runs ``rounds`` turns of ``steps`` steps each."""
  text = corpus()
  data = batches(text, rounds * steps + 1)
  params = init_params(jax.random.key(0))
  runners = {n: Runner(OPTIMIZERS[n], params, data[0]) for n in names}
  for r in range(rounds):
    for runner in runners.values():
      runner.run(data[1 + r * steps : 1 + (r + 1) * steps])
  return runners


def render(runners: dict, rounds: int, steps: int) -> str:
  params = init_params(jax.random.key(0))
  size = sum(x.size for x in jax.tree.leaves(params))
  base = statistics.median(runners["adamw"].times) if "adamw" in runners else None
  lines = [
    f"Character-level transformer ({LAYERS} layers, d_model {WIDTH}, {size:,} params, "
    f"batches of {BATCH} x {CONTEXT}), {rounds} x {steps} steps each, on "
    f"{platform.machine()} with {jax.device_count()} {jax.devices()[0].platform} "
    f"device(s), jax {jax.__version__}.",
    "",
    "| optimizer | compile (s) | step (ms) | step / adamw's | factor entries | loss |",
    "|---|---:|---:|---:|---:|---:|",
  ]
  for name, r in runners.items():
    ms = 1e3 * statistics.median(r.times)
    ratio = f"{statistics.median(r.times) / base:.1f}" if base else "-"
    entries = factor_entries(r.state)
    lines.append(
      f"| {name} | {r.compile_s:.1f} | {ms:.1f} | {ratio} | {entries:,} | {r.loss:.2f} |"
      if entries
      else f"| {name} | {r.compile_s:.1f} | {ms:.1f} | {ratio} | - | {r.loss:.2f} |"
    )
  return "\n".join(lines) + "\n"


def train(name: str, steps: int) -> None:
  """Trains one optimizer for ``steps`` jitted steps, printing a JSON line after each."""
  data = batches(corpus(), steps)
  runner = Runner(OPTIMIZERS[name], init_params(jax.random.key(0)), data[0])
  print(
    json.dumps({"compiled_s": runner.compile_s, "factor_entries": factor_entries(runner.state)}),
    flush=True,
  )
  for i in range(steps):
    runner.run(data[i : i + 1])
    print(json.dumps({"step": i + 1, "loss": runner.loss}), flush=True)


def main(argv=None) -> str:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--md", help="also write the table to this file")
  parser.add_argument("--train", choices=sorted(OPTIMIZERS), help="train one optimizer")
  parser.add_argument(
    "--only",
    action="append",
    choices=sorted(OPTIMIZERS),
    help="measure only these (repeatable; default: all)",
  )
  args = parser.parse_args(argv)
  if args.train:
    train(args.train, args.steps)
    return ""
  names = args.only or tuple(OPTIMIZERS)
  table = render(measure(names, args.rounds, args.steps), args.rounds, args.steps)
  print(table)
  if args.md:
    with open(args.md, "w") as f:
      f.write(table)
  return table


if __name__ == "__main__":
  main(sys.argv[1:])
