"""A language-model race: steps and wall-clock to AdamW's validation loss.

The workload is `lm`'s character-level transformer on the text of Python's own
documentation topics (``pydoc_data``; nothing is downloaded). Every method gets
the same fixed budget of steps, the same initial params and the same batches
(per seed), and a warmup then cosine decay of its learning rate (schedule-free
AdamW keeps its own warmup and no decay). Each method tries a small log-spaced
grid of peak learning rates on seed 0 and keeps the one with the lowest final
validation loss; when that rate is at an edge of the grid the grid is extended
past it (up to ``MAX_EXTENSIONS`` times) and the extension is reported. The
leaders (AdamW, Muon, SOAP, Shampoo, PSGD-Kron and the best few others) then
run two more seeds at their best rate.

The target is AdamW's final validation loss (mean over its seeds), which AdamW
takes its whole budget (steps and training seconds) to reach. For each other
method the race reports its steps and training seconds to reach it
(interpolated linearly between the evaluations, averaged over the seeds that
reach it), against AdamW's, its final
validation loss (mean and sd over seeds), the median and mean step time, the
compile time and the optimizer-state bytes per param.

Every run is cached in a JSON file as it finishes, so an interrupted race
resumes where it stopped and ``--report`` rewrites the table and the plot
without training. A new method is one line in ``RACERS``.

Run: ``python benchmarks/lm_race.py [--quick] [--report] [--only NAME ...]``
"""

import argparse
import dataclasses
import json
import math
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see `lm`
if __name__ == "__main__" and "--quick" in sys.argv:  # before jax is imported
  # the quick mode's runs are tiny: compiling without LLVM's optimisations is 3-4x faster
  os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")
import platform
import statistics
import tempfile
import time
from typing import Any, NamedTuple
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import jaxopt_notes as jon
import lm

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = os.path.join(HERE, "..", "docs")
MD = os.path.join(DOCS, "lm_race.md")  # the table goes between its markers
MARKERS = ("<!-- race table: written by benchmarks/lm_race.py -->", "<!-- end of race table -->")
PNG = os.path.join(DOCS, "images", "lm_race.png")
CACHE = os.path.join(HERE, "..", "docs", "benchmarks", "lm_race_runs.json")


@dataclasses.dataclass(frozen=True)
class Budget:
  """Size of a race: the model, the steps, how often it is validated, the seeds, and
  which methods run (``None``: every one of `RACERS`)."""

  config: lm.Config
  steps: int
  eval_every: int
  grid_points: int
  seeds: int
  methods: tuple | None = None


FULL = Budget(lm.Config(), steps=300, eval_every=10, grid_points=3, seeds=3)
# A check of the machinery (grid, seeds, cache, table, plot) within a minute: compiling a
# method's step is most of its cost, so only AdamW, one orthogonalising and one eigenbasis
# method run (every optimizer's own step is checked by the registry tests).
QUICK = Budget(
  lm.QUICK, steps=24, eval_every=4, grid_points=2, seeds=2, methods=("adamw", "muon", "soap")
)
GRID_FACTOR = math.sqrt(10.0)  # neighbouring learning rates: half a decade apart
MAX_EXTENSIONS = 3
TARGETS = ("muon", "soap", "shampoo", "kron")  # always run on every seed
EXTRA_LEADERS = 3  # and the best this many others


class Hyper(NamedTuple):
  """Traced hyperparameters of a run: the peak learning rate, and AdamW's best one (which
  Muon-style methods use on the leaves they hand to AdamW)."""

  lr: Any
  adam_lr: Any


def cosine(peak, steps):
  """Linear warmup over 5% of the steps, then cosine decay to 0."""
  return jon.warmup_cosine_decay_schedule(0.0, peak, max(steps // 20, 1), steps)


def hidden_only(params):
  """Muon's matrices are the hidden weights; embeddings, unembedding and vectors go to AdamW."""
  return jax.tree.map(
    lambda hidden: jon.MuonDimensionNumbers() if hidden else None, lm.hidden_matrices(params)
  )


def kron_probability(steps):
  """PSGD-Kron's refit probability compressed to the race: every step for the first 5% of
  the steps, then decaying to 0.1 (the library default stays at 1 for 500 steps)."""
  return jon.precond_update_prob_schedule(min_prob=0.1, decay=20.0 / steps, flat_start=steps // 20)


@dataclasses.dataclass(frozen=True)
class Racer:
  """One method: its label, ``make(hyper, steps) -> tx``, the middle of its learning-rate
  grid, and (schedule-free) the point it is validated at."""

  label: str
  make: Callable
  center: float
  eval_params: Callable | None = None


def _muon_like(alias):
  return lambda h, n: alias(
    cosine(h.lr, n),
    adam_learning_rate=cosine(h.adam_lr, n),
    muon_weight_dimension_numbers=hidden_only,
  )


RACERS = {
  "adamw": Racer("AdamW", lambda h, n: jon.adamw(cosine(h.lr, n)), 3e-3),
  "muon": Racer("Muon (AdamW off the hidden matrices)", _muon_like(jon.muon), 3e-2),
  "soap": Racer(
    "SOAP (published numerics)",
    lambda h, n: jon.soap(cosine(h.lr, n), published=True),
    3e-2,
  ),
  "shampoo": Racer(
    "Shampoo (Adam graft, refresh every 20)",
    lambda h, n: jon.shampoo(cosine(h.lr, n), preconditioning_compute_steps=20),
    3e-3,
  ),
  "kron": Racer(
    "PSGD-Kron (layers unmerged, refit p to 0.1, factors start at 10 I)",
    lambda h, n: jon.kron(
      cosine(h.lr, n),
      merge_small_dims=False,
      preconditioner_update_probability=kron_probability(n),
      preconditioner_init_scale=10.0,
    ),
    1e-2,
  ),
  "schedule_free_adamw": Racer(
    "schedule-free AdamW",
    lambda h, n: jon.schedule_free_adamw(h.lr, warmup_steps=max(n // 20, 1)),
    3e-3,
    jon.schedule_free_eval_params,
  ),
  "lion": Racer("Lion", lambda h, n: jon.lion(cosine(h.lr, n)), 3e-4),
  "normuon": Racer("NorMuon", _muon_like(jon.normuon), 1e-2),
  "adamuon": Racer("AdaMuon", _muon_like(jon.adamuon), 1e-2),
  "mars_adamw": Racer("MARS-AdamW", lambda h, n: jon.mars_adamw(cosine(h.lr, n)), 3e-3),
  "adam_atan2": Racer("Adam-atan2", lambda h, n: jon.adam_atan2(cosine(h.lr, n)), 3e-3),
  "stable_adamw": Racer("StableAdamW", lambda h, n: jon.stable_adamw(cosine(h.lr, n)), 3e-3),
  "spam": Racer("SPAM", lambda h, n: jon.spam(cosine(h.lr, n)), 3e-3),
  "dion": Racer(
    "Dion (full rank, AdamW off the hidden matrices)",
    lambda h, n: jon.dion(
      cosine(h.lr, n),
      adam_learning_rate=cosine(h.adam_lr, n),
      muon_weight_dimension_numbers=hidden_only,
    ),
    3e-2,
  ),
  "splus": Racer(
    "SPlus (validated at its average; ema_rate 0.99, nonstandard_constant 0.1)",
    lambda h, n: jon.splus(cosine(h.lr, n), ema_rate=0.99, nonstandard_constant=0.1),
    1e-1,
    lambda state, params: jon.splus_eval_params(state),
  ),
  "kl_shampoo": Racer("KL-Shampoo", lambda h, n: jon.kl_shampoo(cosine(h.lr, n)), 3e-3),
  "kl_soap": Racer("KL-SOAP", lambda h, n: jon.kl_soap(cosine(h.lr, n)), 3e-3),
  "psgd_pro": Racer(
    "PSGD-PRO (refit p to 0.1, as kron)",
    lambda h, n: jon.psgd_pro(
      cosine(h.lr, n), preconditioner_update_probability=kron_probability(n)
    ),
    1e-3,
  ),
}


# ------------------------------------------------------------------ the cache of runs


def _key(name, lr, seed, budget):
  return f"{name}|lr={lr:.4g}|seed={seed}|steps={budget.steps}|{budget.config}"


def load_cache(path):
  if path and os.path.exists(path):
    with open(path) as f:
      return json.load(f)
  return {"runs": {}, "methods": {}}


def save_cache(cache, path):
  if path:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
      json.dump(cache, f, indent=0)
    os.replace(path + ".tmp", path)


# ------------------------------------------------------------------ steps to target


def steps_to_target(curve, target, elapsed=None):
  """First (step, seconds) at which the validation curve reaches ``target``, interpolating
  linearly between evaluations; ``(None, None)`` if it never does.

  ``curve`` is a list of ``(step, loss)``; ``elapsed[i]`` the training seconds at
  ``curve[i]`` (seconds are ``None`` when not given).
  """
  for i, (step, loss) in enumerate(curve):
    if loss <= target:
      if i == 0:
        return step, (elapsed[0] if elapsed else None)
      (s0, l0), s1 = curve[i - 1], step
      frac = (l0 - target) / (l0 - loss)
      at = s0 + frac * (s1 - s0)
      return at, (elapsed[i - 1] + frac * (elapsed[i] - elapsed[i - 1]) if elapsed else None)
  return None, None


# ------------------------------------------------------------------ running


def grid(center, points):
  """``points`` learning rates, log-spaced by ``GRID_FACTOR`` around ``center``."""
  first = -(points - 1) / 2
  return [float(f"{center * GRID_FACTOR ** (first + i):.3g}") for i in range(points)]


class Race:
  """Runs (or reads from the cache) every run one method needs."""

  def __init__(self, budget, cache, cache_path, log=print):
    self.budget, self.cache, self.cache_path, self.log = budget, cache, cache_path, log
    self.trainers = {}

  def _trainer(self, name):
    if name not in self.trainers:
      racer, b = RACERS[name], self.budget
      make = lambda h: racer.make(h, b.steps)  # noqa: E731
      self.trainers[name] = lm.Trainer(
        make,
        Hyper(jnp.float32(1e-3), jnp.float32(1e-3)),
        config=b.config,
        steps=b.steps,
        eval_every=b.eval_every,
        eval_params_fn=racer.eval_params,
      )
      info = self.cache["methods"].setdefault(_key(name, 0, 0, b), {})
      info.setdefault("compile_s", self.trainers[name].compile_s)
    return self.trainers[name]

  def adam_lr(self):
    adamw = self.cache["methods"].get(_key("adamw", 0, 0, self.budget), {})
    return adamw.get("best_lr", RACERS["adamw"].center)

  def run(self, name, lr, seed):
    key = _key(name, lr, seed, self.budget)
    if key not in self.cache["runs"]:
      start = time.perf_counter()
      out = self._trainer(name).run(Hyper(jnp.float32(lr), jnp.float32(self.adam_lr())), seed)
      times = np.cumsum(out["step_times"])
      self.cache["runs"][key] = dict(
        curve=out["curve"],
        elapsed=[0.0] + [float(times[s - 1]) for s, _ in out["curve"][1:]],
        final=out["final_val_loss"],
        step_ms=out["step_ms"],
        mean_step_ms=1e3 * out["train_s"] / self.budget.steps,
        state_bytes=out["state_bytes"],
        params=out["params"],
      )
      save_cache(self.cache, self.cache_path)
      self.log(
        f"{name:>20} lr {lr:<8.3g} seed {seed}: final {out['final_val_loss']:.4f}, "
        f"step {out['step_ms']:.1f} ms (mean {1e3 * out['train_s'] / self.budget.steps:.1f})"
        f", {time.perf_counter() - start:.0f} s"
      )
    return self.cache["runs"][key]

  def tune(self, name):
    """The grid on seed 0, extended past an edge that wins; records the best rate."""
    rates = grid(RACERS[name].center, self.budget.grid_points)
    extended = 0
    while True:
      finals = {lr: self.run(name, lr, 0)["final"] for lr in rates}
      best = min(rates, key=lambda lr: finals[lr] if np.isfinite(finals[lr]) else np.inf)
      if best not in (rates[0], rates[-1]) or extended == MAX_EXTENSIONS:
        break
      step = 1 / GRID_FACTOR if best == rates[0] else GRID_FACTOR
      new = float(f"{best * step:.3g}")
      rates = sorted(rates + [new])
      extended += 1
    info = self.cache["methods"].setdefault(_key(name, 0, 0, self.budget), {})
    info.update(best_lr=best, grid=rates, extended=extended, at_edge=best in (rates[0], rates[-1]))
    save_cache(self.cache, self.cache_path)
    return best


def race(budget, cache_path, names, log=print):
  """Tunes every method and runs the leaders' extra seeds: AdamW and the `TARGETS` first
  (tuned, then seeded), then the others; returns the cache."""
  cache = load_cache(cache_path)
  r = Race(budget, cache, cache_path, log)
  first = [n for n in names if n == "adamw" or n in TARGETS]
  rest = [n for n in names if n not in first]
  best = {}
  for group, leaders in ((first, len(first)), (rest, EXTRA_LEADERS)):
    for name in group:
      best[name] = r.tune(name)
    for name in sorted(group, key=lambda n: r.run(n, best[n], 0)["final"])[:leaders]:
      for seed in range(1, budget.seeds):
        r.run(name, best[name], seed)
  return cache


# ------------------------------------------------------------------ the report


def summarize(cache, budget, names):
  """One row per method the cache has a best rate for (dicts), AdamW's first."""
  rows = []
  for name in names:
    info = cache["methods"].get(_key(name, 0, 0, budget), {})
    if "best_lr" not in info:
      continue
    runs = [
      cache["runs"][k]
      for seed in range(budget.seeds)
      if (k := _key(name, info["best_lr"], seed, budget)) in cache["runs"]
    ]
    finals = [run["final"] for run in runs]
    rows.append(
      dict(
        name=name,
        info=info,
        runs=runs,
        finals=finals,
        mean=statistics.fmean(finals),
        sd=statistics.stdev(finals) if len(finals) > 1 else float("nan"),
        step_ms=statistics.median(run["step_ms"] for run in runs),
        mean_step_ms=statistics.median(run["mean_step_ms"] for run in runs),
        bytes_per_param=runs[0]["state_bytes"] / runs[0]["params"],
      )
    )
  target = next(row["mean"] for row in rows if row["name"] == "adamw")
  for row in rows:
    if row["name"] == "adamw":  # the target is where AdamW ends: its whole budget
      row["reached"], row["steps"] = len(row["runs"]), budget.steps
      row["seconds"] = statistics.fmean(run["elapsed"][-1] for run in row["runs"])
      continue
    hits = [steps_to_target(run["curve"], target, run["elapsed"]) for run in row["runs"]]
    reached = [h for h in hits if h[0] is not None]
    row["reached"] = len(reached)
    row["steps"] = statistics.fmean(h[0] for h in reached) if reached else None
    row["seconds"] = statistics.fmean(h[1] for h in reached) if reached else None
  base = rows[0]
  for row in rows:
    row["step_ratio"] = None if row["steps"] is None else row["steps"] / base["steps"]
    row["time_ratio"] = None if row["seconds"] is None else row["seconds"] / base["seconds"]
  return rows, target


def _fmt(x, spec, none="—"):
  return none if x is None else format(x, spec)


def table(rows, target, budget, seconds):
  c = budget.config
  lines = [
    f"Character-level transformer ({c.layers} layers, d_model {c.d_model}, {c.heads} heads, "
    f"context {c.context}, {rows[0]['runs'][0]['params']:,} params) on Python's "
    f"documentation topics; batches of {c.batch} windows, {budget.steps} steps, validated "
    f"every {budget.eval_every} steps on {c.val_windows} held-out windows. Target: AdamW's "
    f"final validation loss, **{target:.4f}** nats per character (mean over its seeds). "
    f"{platform.machine()} CPU, {os.cpu_count()} cores (shared), jax {jax.__version__}; "
    f"the training runs took {seconds / 60:.0f} min in all.",
    "",
    "Quality: each method at its best learning rate.",
    "",
    "| method | best peak lr (grid tried) | seeds | final val loss | steps to target (x AdamW) |",
    "|---|---|---|---|---|",
  ]
  cost = [
    "",
    "Cost: what reaching the target took, and what a step costs.",
    "",
    "| method | time to target, s (x AdamW) | step ms (median / mean) | compile (s) "
    "| state bytes / param |",
    "|---|---|---|---|---|",
  ]
  for row in rows:
    info, n = row["info"], len(row["finals"])
    grid_text = ", ".join(f"{lr:g}" for lr in info["grid"])
    if info["extended"]:
      grid_text += f"; extended {info['extended']}x"
    if info["at_edge"]:
      grid_text += "; still at the edge"
    sd = "" if n == 1 else f" ± {row['sd']:.4f}"
    missing = "" if row["reached"] in (0, n) else f", {row['reached']}/{n} seeds"
    steps = _fmt(row["steps"], ".0f", "not reached")
    if row["step_ratio"] is not None:
      steps += f" ({row['step_ratio']:.2f}x{missing})"
    seconds = _fmt(row["seconds"], ".1f", "not reached")
    if row["time_ratio"] is not None:
      seconds += f" ({row['time_ratio']:.2f}x)"
    lines.append(
      f"| {RACERS[row['name']].label} (`{row['name']}`) | {info['best_lr']:g} ({grid_text}) "
      f"| {n} | {row['mean']:.4f}{sd} | {steps} |"
    )
    cost.append(
      f"| `{row['name']}` | {seconds} | {row['step_ms']:.1f} / {row['mean_step_ms']:.1f} "
      f"| {info['compile_s']:.0f} | {row['bytes_per_param']:.1f} |"
    )
  lines += cost
  return "\n".join(lines) + "\n"


def plot(rows, target, path):
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(8, 5))
  for row in rows:
    steps, values = zip(*row["runs"][0]["curve"])
    ax.plot(
      steps[1:],
      values[1:],
      lw=1.8 if row["name"] in ("adamw",) + TARGETS else 1.0,
      label=f"{row['name']} (lr {row['info']['best_lr']:g})",
    )
  ax.axhline(target, color="k", ls="--", lw=0.8, label=f"AdamW's final {target:.3f}")
  lo = min(min(v for _, v in row["runs"][0]["curve"]) for row in rows)
  ax.set_ylim(lo - 0.05, lo + 1.2)
  ax.set_xlabel("step")
  ax.set_ylabel("validation loss (nats per character)")
  ax.set_title(
    "character-level transformer on pydoc topics: best lr of each method, seed 0", fontsize=10
  )
  ax.legend(fontsize=7, ncol=2)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=100)
  plt.close(fig)


def write_between_markers(path, text):
  """Puts ``text`` between the `MARKERS` of the page at ``path``, or makes it the whole file
  when the page has none."""
  page = ""
  if os.path.exists(path):
    with open(path) as f:
      page = f.read()
  if MARKERS[0] in page and MARKERS[1] in page:
    head, rest = page.split(MARKERS[0], 1)
    text = head + MARKERS[0] + "\n" + text + MARKERS[1] + rest.split(MARKERS[1], 1)[1]
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w") as f:
    f.write(text)


def report(cache, budget, names, md, png):
  rows, target = summarize(cache, budget, names)
  seconds = sum(
    run["elapsed"][-1]
    for key, run in cache["runs"].items()
    if key.endswith(f"|steps={budget.steps}|{budget.config}")
  )
  text = table(rows, target, budget, seconds)
  missing = [n for n in names if n not in {row["name"] for row in rows}]
  if missing:
    text += (
      "\nNot raced yet (no finished grid in the cache): "
      + ", ".join(f"`{n}`" for n in missing)
      + ".\n"
    )
  write_between_markers(md, text)
  plot(rows, target, png)
  return rows, target, text


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="tiny model, few steps, QUICK.methods")
  parser.add_argument("--report", action="store_true", help="only rewrite table and plot")
  parser.add_argument("--only", nargs="*", help="race only these methods (adamw always)")
  parser.add_argument("--md", default=MD)
  parser.add_argument("--png", default=PNG)
  parser.add_argument(
    "--cache", default=None, help=f"JSON of runs (default {CACHE}; none in --quick mode)"
  )
  args = parser.parse_args(argv)
  budget = QUICK if args.quick else FULL
  cache_path = args.cache if args.cache is not None else (None if args.quick else CACHE)
  names = [n for n in RACERS if hasattr(jon, n) and n in (budget.methods or RACERS)]
  if args.only:
    names = [n for n in names if n == "adamw" or n in args.only]
  if not args.quick:  # a resumed race reuses what it compiled (its compile times are kept)
    cache = os.path.join(tempfile.gettempdir(), "lm_race_jax_cache")
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
  start = time.perf_counter()
  cache = load_cache(cache_path) if args.report else race(budget, cache_path, names)
  rows, target, text = report(cache, budget, names, args.md, args.png)
  print(text)
  print(f"wall time {time.perf_counter() - start:.0f} s")
  return rows, target


if __name__ == "__main__":
  main()
