"""An AlgoPerf-style race: steps and wall-clock to a target validation loss on digits.

One small workload (an MLP 64-64-10 on scikit-learn's bundled digits, minibatches
of 128, float32), a fixed budget of steps, and every optimizer the library has
among adamw and nadamw (warmup then cosine decay, the AlgoPerf baseline), sgd
with Nesterov momentum, schedule-free AdamW, muon, shampoo, soap and kron. Each
gets the same five peak learning rates and keeps its best (fewest steps to the
target, else the lowest final loss); the scheduled ones share one warmup-cosine
schedule. All runs see the same initial params and the same batches. Reports
steps and training wall-clock (compilation and evaluation excluded) to the
target validation loss, and the median step time against adamw's.

Writes a markdown table to ``docs/benchmarks/race.md`` and the validation-loss
curves to ``docs/images/race_digits.png``.

Run: ``python benchmarks/race.py [--quick] [--md PATH] [--png PATH]``
"""

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.datasets import load_digits

import jaxopt_notes as jon

HERE = os.path.dirname(__file__)
MD = os.path.join(HERE, "..", "docs", "benchmarks", "race.md")
PNG = os.path.join(HERE, "..", "docs", "images", "race_digits.png")
HIDDEN, BATCH, EVAL_EVERY = 64, 128, 10
STEPS, QUICK_STEPS = 600, 40
RATES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # the same five configurations for everyone
QUICK_RATES = (3e-3, 3e-2)
TARGET = 0.04  # validation cross-entropy; chance is 2.30
WEIGHT_DECAY = 1e-4


def warmup_cosine(peak, steps):
  return jon.warmup_cosine_decay_schedule(0.0, peak, max(steps // 20, 1), steps)


# name -> how to build it from a (traced) peak learning rate and the step budget
RACERS = {
  "adamw": lambda lr, n: jon.adamw(warmup_cosine(lr, n), weight_decay=WEIGHT_DECAY),
  "nadamw": lambda lr, n: jon.nadamw(warmup_cosine(lr, n), weight_decay=WEIGHT_DECAY),
  "sgd": lambda lr, n: jon.sgd(warmup_cosine(lr, n), momentum=0.9, nesterov=True),
  "schedule_free_adamw": lambda lr, n: jon.schedule_free_adamw(
    lr, warmup_steps=max(n // 20, 1), weight_decay=WEIGHT_DECAY
  ),
  "muon": lambda lr, n: jon.muon(warmup_cosine(lr, n)),
  "shampoo": lambda lr, n: jon.shampoo(warmup_cosine(lr, n)),
  "soap": lambda lr, n: jon.soap(warmup_cosine(lr, n)),
  # the layers keep their own Kronecker structure: with the default merging (target
  # 4096) each 64x64 layer would become one 4096-long dim, eight 512-blocks of
  # full-matrix preconditioner, which is not what a net this small is about
  "kron": lambda lr, n: jon.kron(
    warmup_cosine(lr, n), weight_decay=WEIGHT_DECAY, merge_small_dims=False
  ),
}
LABELS = {
  "adamw": "AdamW, warmup-cosine",
  "nadamw": "NAdamW, warmup-cosine",
  "sgd": "SGD + Nesterov, warmup-cosine",
  "schedule_free_adamw": "schedule-free AdamW",
  "muon": "Muon, warmup-cosine",
  "shampoo": "Shampoo, warmup-cosine",
  "soap": "SOAP, warmup-cosine",
  "kron": "PSGD-Kron, warmup-cosine",
}


def data(seed=0):
  """(x_train, y_train, x_val, y_val): an 80/20 split of the 1797 digits, pixels in [0, 1]."""
  digits = load_digits()
  order = np.random.default_rng(seed).permutation(len(digits.target))
  x = (digits.data[order] / 16.0).astype(np.float32)
  y = digits.target[order].astype(np.int32)
  cut = int(0.8 * len(y))
  return jnp.asarray(x[:cut]), jnp.asarray(y[:cut]), jnp.asarray(x[cut:]), jnp.asarray(y[cut:])


def init_params(seed=0):
  k1, k2 = jax.random.split(jax.random.key(seed))
  glorot = jax.nn.initializers.glorot_normal()
  return {
    "w1": glorot(k1, (64, HIDDEN), jnp.float32),
    "b1": jnp.zeros(HIDDEN, jnp.float32),
    "w2": glorot(k2, (HIDDEN, 10), jnp.float32),
    "b2": jnp.zeros(10, jnp.float32),
  }


def loss_fn(params, x, y):
  logits = jax.nn.relu(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]
  return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


def eval_params(name, state, params):
  """The params a method is evaluated at (schedule-free: its averaged iterate)."""
  if name.startswith("schedule_free") and hasattr(jon, "schedule_free_eval_params"):
    return jon.schedule_free_eval_params(state, params)
  return params


def race_one(name, steps, rates, batches, split):
  """Every rate for one optimizer: one compilation (the rate is traced)."""
  xt, yt, xv, yv = split
  make = RACERS[name]

  def step(params, state, idx, lr):
    value, grads = jax.value_and_grad(loss_fn)(params, xt[idx], yt[idx])
    updates, state = make(lr, steps).update(grads, state, params, value=value)
    return jon.apply_updates(params, updates), state

  val = jax.jit(lambda state, params: loss_fn(eval_params(name, state, params), xv, yv))
  params0 = init_params()
  state0 = make(jnp.float32(rates[0]), steps).init(params0)
  start = time.perf_counter()
  compiled = jax.jit(step).lower(params0, state0, batches[0], jnp.float32(rates[0])).compile()
  compile_s = time.perf_counter() - start
  runs = []
  for lr in rates:
    params, state = params0, make(jnp.float32(lr), steps).init(params0)
    curve, times = [(0, float(val(state, params)))], []
    for t in range(steps):
      start = time.perf_counter()
      params, state = compiled(params, state, batches[t], jnp.float32(lr))
      jax.block_until_ready(params)
      times.append(time.perf_counter() - start)
      if (t + 1) % EVAL_EVERY == 0 or t + 1 == steps:
        curve.append((t + 1, float(val(state, params))))
    hit = next((s for s, v in curve if v <= TARGET), None)
    runs.append(
      dict(
        lr=lr,
        curve=curve,
        times=times,
        hit=hit,
        hit_s=None if hit is None else sum(times[:hit]),
        final=curve[-1][1],
      )
    )
  best = min(runs, key=lambda r: (r["hit"] is None, r["hit"] or 0, r["hit_s"] or 0, r["final"]))
  step_ms = 1e3 * statistics.median(t for r in runs for t in r["times"][1:])
  return dict(
    name=name,
    best=best,
    step_ms=step_ms,
    compile_s=compile_s,
    finals={r["lr"]: r["final"] for r in runs},
  )


def table(results, steps, rates, seconds):
  base = next((r["step_ms"] for r in results if r["name"] == "adamw"), None)
  lines = [
    "# Benchmark: an optimizer race on digits",
    "",
    f"MLP 64-{HIDDEN}-10 on scikit-learn's digits (1437 train / 360 validation), minibatch "
    f"{BATCH}, {steps} steps, float32; target validation cross-entropy **{TARGET}**, "
    f"checked every {EVAL_EVERY} steps. Each optimizer tries the peak learning rates "
    f"{', '.join(f'{r:g}' for r in rates)} and keeps the best; a warmup of 5% of the "
    "budget, then cosine decay to 0, for all but schedule-free AdamW (its own warmup of "
    f"5%). Weight decay {WEIGHT_DECAY:g} where the method takes it. "
    f"{platform.machine()} CPU, {os.cpu_count()} cores, jax {jax.__version__}; "
    f"the whole race took {seconds:.0f} s.",
    "",
    "| optimizer | best peak lr | steps to target | time to target (s) | final val loss "
    "| step time (ms) | vs AdamW | compile (s) |",
    "|---|---|---|---|---|---|---|---|",
  ]
  for r in results:
    b = r["best"]
    hit = "not reached" if b["hit"] is None else str(b["hit"])
    hit_s = "—" if b["hit_s"] is None else f"{b['hit_s']:.2f}"
    ratio = "—" if base is None else f"{r['step_ms'] / base:.2f}"
    lines.append(
      f"| {LABELS[r['name']]} (`{r['name']}`) | {b['lr']:g} | {hit} | {hit_s} "
      f"| {b['final']:.4f} | {r['step_ms']:.2f} | {ratio} | {r['compile_s']:.1f} |"
    )
  lines += [
    "",
    "Steps and time to target are those of the best learning rate; the step time is the "
    "median over all its runs (the first, compiled-ahead step left out). Time to target "
    "counts training steps only, one dispatched step at a time, each waited for.",
    "",
    "Final validation loss by peak learning rate:",
    "",
    "| optimizer | " + " | ".join(f"{lr:g}" for lr in rates) + " |",
    "|---|" + "---|" * len(rates),
  ]
  for r in results:
    lines.append(
      f"| `{r['name']}` | "
      + " | ".join(
        "diverged" if not np.isfinite(r["finals"][lr]) else f"{r['finals'][lr]:.3f}" for lr in rates
      )
      + " |"
    )
  lines += ["", "![validation loss of each optimizer's best run](../images/race_digits.png)", ""]
  return "\n".join(lines)


def plot(results, path):
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(7.5, 4.5))
  for r in results:
    steps, values = zip(*r["best"]["curve"])
    ax.plot(steps, values, lw=1.4, label=f"{r['name']} (lr {r['best']['lr']:g})")
  ax.axhline(TARGET, color="k", ls="--", lw=0.8, label=f"target {TARGET}")
  ax.set_yscale("log")
  ax.set_xlabel("step")
  ax.set_ylabel("validation cross-entropy")
  ax.set_title("digits MLP: each optimizer's best learning rate", fontsize=10)
  ax.legend(fontsize=8)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=100)
  plt.close(fig)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="a few steps, two rates")
  parser.add_argument("--md", default=MD)
  parser.add_argument("--png", default=PNG)
  args = parser.parse_args(argv)
  steps, rates = (QUICK_STEPS, QUICK_RATES) if args.quick else (STEPS, RATES)
  split = data()
  rng = np.random.default_rng(0)
  batches = jnp.asarray(rng.integers(0, len(split[1]), (steps, BATCH)), jnp.int32)
  names = [n for n in RACERS if hasattr(jon, n)]
  start = time.perf_counter()
  results = [race_one(n, steps, rates, batches, split) for n in names]
  text = table(results, steps, rates, time.perf_counter() - start)
  print(text)
  os.makedirs(os.path.dirname(os.path.abspath(args.md)), exist_ok=True)
  with open(args.md, "w") as f:
    f.write(text)
  plot(results, args.png)
  return results


if __name__ == "__main__":
  main()
