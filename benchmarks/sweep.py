"""A 16-value learning-rate sweep as one vmapped program against 16 sequential jitted runs.

Measures, in one process: how many times the sweep is traced (compiled), its
compile and run time, and the same for the sequential alternative (one jitted
run, called once per rate). Writes a markdown table to
``docs/benchmarks/sweep.md``.

Run: ``python benchmarks/sweep.py [--steps N] [--repeats R]``
"""

import argparse
import os
import platform
import statistics
import sys
import time

import jax

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))

import lr_sweep  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "docs", "benchmarks", "sweep.md")


def _timed(fn):
  start = time.perf_counter()
  jax.block_until_ready(fn())
  return time.perf_counter() - start


def measure(steps: int, repeats: int) -> dict:
  rates = lr_sweep.RATES
  lr_sweep.TRACES["train"] = 0
  swept = jax.jit(jax.vmap(lr_sweep.make_train(steps)))
  compile_sweep = _timed(lambda: swept.lower(rates).compile())
  compiled_sweep = swept.lower(rates).compile()
  sweep_traces = lr_sweep.TRACES["train"]

  lr_sweep.TRACES["train"] = 0
  single = jax.jit(lr_sweep.make_train(steps))
  compile_single = _timed(lambda: single.lower(rates[0]).compile())
  compiled_single = single.lower(rates[0]).compile()

  run_sweep, run_seq = [], []
  for _ in range(repeats):  # interleaved, so drift hits both alike
    run_sweep.append(_timed(lambda: compiled_sweep(rates)))
    run_seq.append(_timed(lambda: [compiled_single(lr) for lr in rates]))
  return dict(
    steps=steps,
    rates=len(rates),
    sweep_traces=sweep_traces,
    compile_sweep=compile_sweep,
    compile_single=compile_single,
    run_sweep=statistics.median(run_sweep),
    run_seq=statistics.median(run_seq),
  )


def table(r: dict) -> str:
  seq_total = r["compile_single"] + r["run_seq"]
  sweep_total = r["compile_sweep"] + r["run_sweep"]
  rows = [
    ("compilations", f"{r['sweep_traces']}", "1 (reused 16 times)"),
    ("compile time (s)", f"{r['compile_sweep']:.2f}", f"{r['compile_single']:.2f}"),
    ("run time (s)", f"{r['run_sweep']:.3f}", f"{r['run_seq']:.3f}"),
    ("total (s)", f"{sweep_total:.2f}", f"{seq_total:.2f}"),
  ]
  lines = [
    f"Sweep of {r['rates']} peak learning rates, {r['steps']} full-batch AdamW steps each "
    f"(MLP 64-32-10 on digits), {platform.machine()} CPU, {os.cpu_count()} cores, "
    f"jax {jax.__version__}, device {jax.devices()[0].platform}.",
    "",
    "| | vmapped sweep (one jit) | 16 sequential runs of one jitted function |",
    "|---|---|---|",
    *[f"| {a} | {b} | {c} |" for a, b, c in rows],
    "",
    f"Run time ratio, sweep / sequential: **{r['run_sweep'] / r['run_seq']:.2f}**; "
    f"total ratio including compilation: **{sweep_total / seq_total:.2f}**.",
  ]
  return "\n".join(lines) + "\n"


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--out", default=OUT)
  args = parser.parse_args(argv)
  text = table(measure(args.steps, args.repeats))
  print(text)
  os.makedirs(os.path.dirname(args.out), exist_ok=True)
  with open(args.out, "w") as f:
    f.write("# Benchmark: a vmapped learning-rate sweep\n\n" + text)


if __name__ == "__main__":
  main()
