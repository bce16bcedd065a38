"""Ours against optax, in one process: step time, compile time, state bytes, peak memory.

For adam, sgd with momentum, rmsprop and adagrad on three pytree shapes (one
big leaf, a transformer-like tree, many tiny leaves), each step is
``update`` + ``apply_updates`` under ``jax.jit`` with params and state donated.
Ours, ours under ``pack_leaves`` (the many-leaf fast path) and optax are
compiled and timed interleaved (round-robin, so drift hits all alike), next to
a roofline: our optimizer on one flat buffer holding the same number of
elements. Also: optimizer-state bytes against the algorithm's
minimum, the bytes of a donated step (no copy of the params), and the
16-value vmap sweep of benchmarks/sweep.py. Writes the tables to
``docs/benchmarks/optax.md``.

Run: ``python benchmarks/optax_compare.py [--quick] [--rounds R] [--out FILE]``
"""

import argparse
import os
import platform
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import optax

import jaxopt_notes as jon

sys.path.insert(0, os.path.dirname(__file__))
import sweep  # noqa: E402  (benchmarks/sweep.py: the vmapped learning-rate sweep)

OUT = os.path.join(os.path.dirname(__file__), "..", "docs", "benchmarks", "optax.md")


def transformer_like(width: int, layers: int, vocab: int) -> dict:
  """~80 leaves for 6 layers: embeddings, per layer attention, MLP, norms and biases."""
  tree = {"embed": (vocab, width), "unembed": (width, vocab), "final_norm": (width,)}
  for i in range(layers):
    tree |= {
      f"l{i}_qkv": (width, 3 * width),
      f"l{i}_qkv_b": (3 * width,),
      f"l{i}_out": (width, width),
      f"l{i}_out_b": (width,),
      f"l{i}_mlp_in": (width, 4 * width),
      f"l{i}_mlp_in_b": (4 * width,),
      f"l{i}_mlp_out": (4 * width, width),
      f"l{i}_mlp_out_b": (width,),
      f"l{i}_norm1": (width,),
      f"l{i}_norm1_b": (width,),
      f"l{i}_norm2": (width,),
      f"l{i}_norm2_b": (width,),
    }
  return tree


def shapes(quick: bool) -> dict:
  if quick:
    return {
      "one big leaf": {"w": (256, 256)},
      "transformer-like": transformer_like(32, 2, 256),
      "many tiny leaves": {f"p{i:04d}": (100,) for i in range(100)},
    }
  return {
    "one big leaf": {"w": (4096, 4096)},
    "transformer-like": transformer_like(512, 6, 8192),
    "many tiny leaves": {f"p{i:04d}": (1000,) for i in range(2000)},
  }


OPTIMIZERS = {
  "adam": (lambda: jon.adam(1e-3), lambda: optax.adam(1e-3)),
  "sgd momentum": (lambda: jon.sgd(1e-3, momentum=0.9), lambda: optax.sgd(1e-3, momentum=0.9)),
  "rmsprop": (lambda: jon.rmsprop(1e-3), lambda: optax.rmsprop(1e-3)),
  "adagrad": (lambda: jon.adagrad(1e-3), lambda: optax.adagrad(1e-3)),
}
# The least state each algorithm needs, in copies of the params.
MINIMUM_COPIES = {"adam": 2, "sgd momentum": 1, "rmsprop": 1, "adagrad": 1, "sgd": 0}


def make_params(layout: dict) -> dict:
  keys = jax.random.split(jax.random.key(0), len(layout))
  return {
    name: 0.02 * jax.random.normal(k, shape, jnp.float32)
    for k, (name, shape) in zip(keys, sorted(layout.items()), strict=True)
  }


def compiled_step(opt, params, budget_s: float = 3.0, loss=None):
  """(compiled donated step, its compile seconds, its memory stats).

  The step is ``(params, state, grads) -> (params, state)``, or with a
  ``loss`` a training step ``(params, state) -> (params, state)`` that takes
  the gradient of ``loss`` itself. Compile seconds (tracing included) are the
  least of up to 3 compilations, each of a fresh function so that no cache
  answers; a compilation that takes ``budget_s`` or more is measured once.
  """
  state = opt.init(params)
  times = []
  while not times or (len(times) < 3 and sum(times) < budget_s):

    def step(params, state, *grads):
      grads = jax.grad(loss)(params) if loss is not None else grads[0]
      updates, state = opt.update(grads, state, params)
      return jon.apply_updates(params, updates), state

    start = time.perf_counter()
    args = (params, state) if loss is not None else (params, state, params)
    compiled = jax.jit(step, donate_argnums=(0, 1)).lower(*args).compile()
    times.append(time.perf_counter() - start)
  return compiled, min(times), compiled.memory_analysis()


class Runner:
  """Holds one variant's compiled step and its live (donated) buffers."""

  def __init__(self, opt, params, loss=None, budget_s: float = 3.0):
    self.step, self.compile_s, self.memory = compiled_step(opt, params, budget_s, loss)
    self.params = jax.tree.map(jnp.copy, params)
    self.state = opt.init(self.params)
    # a training step takes its own gradient; an optimizer step is handed one
    self.grads = () if loss is not None else (jax.tree.map(lambda x: 0.1 * x + 1e-3, params),)
    self.times = []

  def run(self, steps: int) -> None:
    self.params, self.state = self.step(self.params, self.state, *self.grads)  # warm
    jax.block_until_ready(self.params)
    for _ in range(steps):
      start = time.perf_counter()
      self.params, self.state = self.step(self.params, self.state, *self.grads)
      jax.block_until_ready((self.params, self.state))
      self.times.append(time.perf_counter() - start)

  @property
  def ms(self) -> float:
    return 1e3 * statistics.median(self.times)


def state_bytes(state) -> int:
  return sum(x.nbytes for x in jax.tree.leaves(state))


def step_bytes(memory) -> int:
  """Bytes live in a donated step: inputs, plus outputs not aliased to them, plus temporaries."""
  return (
    memory.argument_size_in_bytes
    + memory.output_size_in_bytes
    - memory.alias_size_in_bytes
    + memory.temp_size_in_bytes
  )


def interleave(runners: dict, rounds: int, steps: int) -> None:
  order = list(runners.values())
  for _ in range(rounds):  # round-robin, rotating who goes first: drift hits all alike
    for runner in order:
      runner.run(steps)
    order = order[1:] + order[:1]


def report(label: str, runners: dict) -> None:
  print(
    f"{label:30s} "
    + "  ".join(f"{k} {r.ms:8.3f} ms / {r.compile_s:6.2f} s" for k, r in runners.items()),
    flush=True,
  )


def measure(quick: bool, rounds: int, steps: int) -> dict:
  results = {}
  for shape_name, layout in shapes(quick).items():
    params = make_params(layout)
    n = sum(x.size for x in jax.tree.leaves(params))
    flat = {"flat": jnp.zeros((n,), jnp.float32)}
    for opt_name, (ours, theirs) in OPTIMIZERS.items():
      runners = {
        "ours": Runner(ours(), params),
        "optax": Runner(theirs(), params),
        "packed": Runner(jon.pack_leaves(ours()), params),
        "roofline": Runner(ours(), flat),
      }
      interleave(runners, rounds, steps)
      results[(shape_name, opt_name)] = {
        "leaves": len(params),
        "elements": n,
        **{k: r for k, r in runners.items()},
      }
      report(f"{shape_name} {opt_name}", runners)
  return results


def heads_shape(quick: bool) -> tuple:
  """(heads, width) of `many_heads`."""
  return (10, 100) if quick else (1000, 1000)


def many_heads(quick: bool) -> tuple:
  """A model with as many leaves as the tiny-leaf tree: heads tanh(x * s_i + b_i).

  Returns (params, loss). Every head is small and separate: with the params a
  tree, the forward and backward passes, like the optimizer, run a few kernels
  per leaf.
  """
  heads, width = heads_shape(quick)
  keys = jax.random.split(jax.random.key(1), 2 * heads + 1)
  params = {
    f"h{i:04d}": {
      "s": 0.1 * jax.random.normal(keys[2 * i], (width,)),
      "b": 0.1 * jax.random.normal(keys[2 * i + 1], (width,)),
    }
    for i in range(heads)
  }
  x = jax.random.normal(keys[-1], (width,))

  def loss(params):
    return sum(jnp.mean(jnp.tanh(x * head["s"] + head["b"]) ** 2) for head in params.values())

  return params, loss


def training_runners(opt_name: str, quick: bool, budget_s: float = 3.0) -> tuple:
  """(runners, unpack): whole training steps (gradient, update, apply) on `many_heads`.

  Next to the params as a tree (optax, ours, ours under pack_leaves): the
  params held packed by `pack_params` (one vector, as they are all float32),
  the loss unpacking them, the optimizer stepping one leaf. ``unpack`` turns
  that runner's params back into the tree.
  """
  params, loss = many_heads(quick)
  vector, unpack = jon.pack_params(params)
  ours, theirs = OPTIMIZERS[opt_name]
  runners = {
    "ours": Runner(ours(), params, loss, budget_s),
    "optax": Runner(theirs(), params, loss, budget_s),
    "packed": Runner(jon.pack_leaves(ours()), params, loss, budget_s),
    "flat params": Runner(ours(), vector, lambda v: loss(unpack(v)), budget_s),
  }
  return runners, unpack


def measure_training(quick: bool, rounds: int, steps: int) -> dict:
  results = {}
  for opt_name in ("adam", "sgd momentum"):
    runners, _ = training_runners(opt_name, quick)
    interleave(runners, rounds, steps)
    results[opt_name] = runners
    report(f"training step {opt_name}", runners)
  return results


def memory_rows(quick: bool) -> list:
  params = make_params(shapes(quick)["transformer-like"])
  n_bytes = sum(x.nbytes for x in jax.tree.leaves(params))
  variants = {name: (ours, theirs) for name, (ours, theirs) in OPTIMIZERS.items()}
  variants["sgd"] = (lambda: jon.sgd(1e-3), lambda: optax.sgd(1e-3))
  variants["adam, mu_dtype=bfloat16"] = (
    lambda: jon.adam(1e-3, mu_dtype=jnp.bfloat16),
    lambda: optax.adam(1e-3, mu_dtype=jnp.bfloat16),
  )
  rows = []
  for name, (ours, theirs) in variants.items():
    ours_opt, theirs_opt = ours(), theirs()
    packed_opt = jon.pack_leaves(ours())
    ours_state, theirs_state = ours_opt.init(params), theirs_opt.init(params)
    minimum = (1.5 if "bfloat16" in name else MINIMUM_COPIES[name]) * n_bytes
    _, _, memory = compiled_step(ours_opt, params, budget_s=0)
    _, _, packed_memory = compiled_step(packed_opt, params, budget_s=0)
    rows.append(
      (
        name,
        state_bytes(ours_state),
        state_bytes(theirs_state),
        int(minimum),
        step_bytes(memory),
        memory.temp_size_in_bytes,
        state_bytes(packed_opt.init(params)),
        step_bytes(packed_memory),
        packed_memory.temp_size_in_bytes,
        n_bytes,
      )
    )
  return rows


def render(results: dict, memory: list, quick: bool) -> str:
  lines = [
    f"Measured with `python benchmarks/optax_compare.py{' --quick' if quick else ''}` "
    f"on {platform.machine()} {jax.devices()[0].platform.upper()}, {os.cpu_count()} cores, "
    f"jax {jax.__version__}, optax {optax.__version__}; float32, jitted step "
    "(update + apply_updates) with params and state donated, median step time, "
    "interleaved rounds; compile time (tracing included) is the least of up to 3 "
    "compilations of a fresh function (one where a compilation takes 3 s or more). "
    "Ratios below 1 favour ours.",
    "",
    "| shape | optimizer | ours ms | optax ms | roofline ms | step ours/optax "
    "| step ours/roofline | compile ours s | compile optax s | compile ours/optax |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ]
  for (shape, opt), r in results.items():
    ours, theirs, roof = r["ours"], r["optax"], r["roofline"]
    lines.append(
      f"| {shape} ({r['leaves']} leaves, {r['elements'] / 1e6:.1f}M) | {opt} | {ours.ms:.3f} "
      f"| {theirs.ms:.3f} | {roof.ms:.3f} | **{ours.ms / theirs.ms:.2f}** "
      f"| {ours.ms / roof.ms:.2f} | {ours.compile_s:.2f} | {theirs.compile_s:.2f} "
      f"| **{ours.compile_s / theirs.compile_s:.2f}** |"
    )
  lines += [
    "",
    "The many-leaf fast path, `pack_leaves(ours)` (leaves of at most 16,384 elements "
    "raveled into buffers of up to 16 leaves; larger leaves as they are), against optax; "
    "speedup = optax ms / packed ms:",
    "",
    "| shape | optimizer | packed ms | optax ms | step packed/optax | speedup "
    "| compile packed s | compile packed/optax |",
    "|---|---|---|---|---|---|---|---|",
  ]
  for (shape, opt), r in results.items():
    packed, theirs = r["packed"], r["optax"]
    lines.append(
      f"| {shape} | {opt} | {packed.ms:.3f} | {theirs.ms:.3f} "
      f"| **{packed.ms / theirs.ms:.2f}** | {theirs.ms / packed.ms:.2f}x "
      f"| {packed.compile_s:.2f} | **{packed.compile_s / theirs.compile_s:.2f}** |"
    )
  lines += [
    "",
    "Optimizer-state bytes on the transformer-like tree (params: "
    f"{memory[0][-1]:,} bytes), and the bytes live in one donated step (params, state, "
    "grads and temporaries; the step holds no copy of the params when temporaries are ~0):",
    "",
    "| optimizer | ours state | optax state | minimum | donated step, live bytes "
    "| temporaries | packed state | packed step, live bytes | packed temporaries |",
    "|---|---|---|---|---|---|---|---|---|",
  ]
  for name, ours_b, theirs_b, minimum, live, temp, packed_b, packed_live, packed_temp, _ in memory:
    lines.append(
      f"| {name} | {ours_b:,} | {theirs_b:,} | {minimum:,} | {live:,} | {temp:,} "
      f"| {packed_b:,} | {packed_live:,} | {packed_temp:,} |"
    )
  lines += ["", "(State bytes above the minimum are the int32 step counters, 4 bytes each.)"]
  return "\n".join(lines) + "\n"


def render_training(training: dict, quick: bool) -> str:
  heads, width = heads_shape(quick)
  lines = [
    "",
    "## Whole training steps on a many-leaf model",
    "",
    f"Gradient, update and apply in one donated jitted step on {heads} heads "
    f"`tanh(x * s_i + b_i)` ({2 * heads} leaves of {width:,} elements); "
    '"flat params" holds the params as one vector (`pack_params`) that the loss '
    "unpacks, so the optimizer steps one leaf. "
    "Speedup = optax ms / variant ms.",
    "",
    "| optimizer | variant | step ms | speedup over optax | compile s | compile / optax |",
    "|---|---|---|---|---|---|",
  ]
  for opt_name, runners in training.items():
    theirs = runners["optax"]
    for name, r in runners.items():
      lines.append(
        f"| {opt_name} | {name} | {r.ms:.3f} | {theirs.ms / r.ms:.2f}x "
        f"| {r.compile_s:.2f} | {r.compile_s / theirs.compile_s:.2f} |"
      )
  return "\n".join(lines) + "\n"


def main(argv=None) -> tuple:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="tiny shapes (a smoke test)")
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
  parser.add_argument("--out", default=OUT)
  args = parser.parse_args(argv)
  results = measure(args.quick, args.rounds, args.steps)
  training = measure_training(args.quick, args.rounds, args.steps)
  memory = memory_rows(args.quick)
  swept = sweep.table(sweep.measure(steps=20 if args.quick else 300, repeats=args.rounds))
  text = (
    render(results, memory, args.quick)
    + render_training(training, args.quick)
    + "\n## A 16-value vmap sweep\n\n"
    + swept
  )
  print(text)
  if args.out:
    with open(args.out, "w") as f:
      f.write("# Benchmark: ours against optax\n\n" + text)
  return results, training, memory


if __name__ == "__main__":
  main()
