"""Low-bit optimizer states and bfloat16 params: memory, step time and quality.

Writes the results between the markers of docs/low_bit.md and the loss plot
docs/images/low_bit_loss.png:

* bytes of optimizer state a param for adam, adamw, lion, adafactor, muon and soap
  with float32 moments, bfloat16 moments, `low_bit_state` 8-bit and 4-bit, on a
  GPT-2-small-like tree (abstract: nothing is allocated);
* bytes of params and state a param for the combinations users run;
* the time of a jitted step of ``low_bit_state(adam)`` against plain adam on a
  smaller transformer-like tree, interleaved repeats in one process, median;
* validation loss of the language model of benchmarks/lm.py after the same steps
  and learning rate, over seeds: float32 AdamW, 8-bit and 4-bit AdamW, bfloat16
  params with and without stochastic rounding (`apply_updates` with a key), and
  the share of nonzero updates that plain bfloat16 rounding loses.

Run: ``nice -n 10 python benchmarks/low_bit.py`` (``--quick`` for a smoke run that
writes nothing, ``--times-only`` to measure and rewrite the step-time table alone).
"""

import argparse
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import jaxopt_notes as jon  # noqa: E402
import lm  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
PAGE = os.path.join(ROOT, "docs", "low_bit.md")
PLOT = os.path.join(ROOT, "docs", "images", "low_bit_loss.png")
BEGIN, END = "<!-- low_bit.py results -->", "<!-- end of low_bit.py results -->"
TIMES_BEGIN, TIMES_END = "<!-- low_bit.py step times -->", "<!-- end of low_bit.py step times -->"
BF16 = jnp.bfloat16


def transformer_tree(d: int, layers: int, vocab: int, dtype=jnp.float32) -> dict:
  """Abstract params shaped like a decoder-only transformer."""
  s = lambda *shape: jax.ShapeDtypeStruct(shape, dtype)  # noqa: E731
  block = {
    "qkv": s(d, 3 * d),
    "o": s(d, d),
    "up": s(d, 4 * d),
    "down": s(4 * d, d),
    "up_bias": s(4 * d),
    "norm1": s(d),
    "norm2": s(d),
  }
  return {
    "embed": s(vocab, d),
    "layers": [dict(block) for _ in range(layers)],
    "norm": s(d),
    "unembed": s(d, vocab),
  }


def _bytes(tree) -> int:
  return sum(x.size * jnp.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree))


def _count(tree) -> int:
  return sum(x.size for x in jax.tree.leaves(tree))


# optimizer -> (float32 moments, bfloat16 moments or None where it has no such argument)
OPTIMIZERS = {
  "adam": (lambda: jon.adam(1e-3), lambda: jon.adam(1e-3, mu_dtype=BF16, nu_dtype=BF16)),
  "adamw": (lambda: jon.adamw(1e-3), lambda: jon.adamw(1e-3, mu_dtype=BF16, nu_dtype=BF16)),
  "lion": (lambda: jon.lion(1e-4), lambda: jon.lion(1e-4, mu_dtype=BF16)),
  "adafactor": (lambda: jon.adafactor(1e-3), None),
  "muon": (lambda: jon.muon(1e-3), lambda: jon.muon(1e-3, mu_dtype=BF16, nu_dtype=BF16)),
  "soap": (lambda: jon.soap(1e-3), lambda: jon.soap(1e-3, mu_dtype=BF16, nu_dtype=BF16)),
}


def memory_rows(params) -> list:
  n = _count(params)
  rows = []
  for name, (full, half) in OPTIMIZERS.items():
    per = lambda tx: _bytes(jax.eval_shape(tx.init, params)) / n  # noqa: E731
    rows.append(
      (
        name,
        per(full()),
        None if half is None else per(half()),
        per(jon.low_bit_state(full(), bits=8)),
        per(jon.low_bit_state(full(), bits=4)),
      )
    )
  return rows


def combination_rows(params32) -> list:
  params16 = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, BF16), params32)
  n = _count(params32)
  f32 = jnp.float32
  combos = [
    ("float32 params, AdamW", params32, jon.adamw(1e-3)),
    (
      "bfloat16 params, AdamW with float32 moments",
      params16,
      jon.adamw(1e-3, mu_dtype=f32, nu_dtype=f32),
    ),
    ("bfloat16 params, AdamW with bfloat16 moments", params16, jon.adamw(1e-3)),
    ("float32 params, 8-bit AdamW", params32, jon.low_bit_state(jon.adamw(1e-3), bits=8)),
    (
      "bfloat16 params, 8-bit AdamW, stochastic rounding",
      params16,
      jon.low_bit_state(jon.adamw(1e-3), bits=8),
    ),
    (
      "bfloat16 params, 4-bit AdamW, stochastic rounding",
      params16,
      jon.low_bit_state(jon.adamw(1e-3), bits=4),
    ),
  ]
  return [(name, (_bytes(p) + _bytes(jax.eval_shape(tx.init, p))) / n) for name, p, tx in combos]


def step_times(d: int, layers: int, vocab: int, repeats: int, seed: int = 0) -> dict:
  """Median ms of a jitted update-and-apply step, the variants interleaved."""
  shapes = transformer_tree(d, layers, vocab)
  keys = iter(jax.random.split(jax.random.key(seed), 2 * len(jax.tree.leaves(shapes))))
  params = jax.tree.map(lambda s: 0.02 * jax.random.normal(next(keys), s.shape), shapes)
  grads = jax.tree.map(lambda s: 1e-3 * jax.random.normal(next(keys), s.shape), shapes)
  runs = {}
  for name, tx in {
    "adam": jon.adam(1e-3),
    "low_bit_state(adam), 8 bits": jon.low_bit_state(jon.adam(1e-3), bits=8),
    "low_bit_state(adam), 8 bits, rounded to nearest": jon.low_bit_state(
      jon.adam(1e-3), bits=8, stochastic=False
    ),
    "low_bit_state(adam), 4 bits": jon.low_bit_state(jon.adam(1e-3), bits=4),
  }.items():

    def step(params, state, grads, tx=tx):
      updates, state = tx.update(grads, state, params)
      return jon.apply_updates(params, updates), state

    # the gradients come in as an argument, as from a backward pass (closed over, they
    # would be constants of the program)
    compiled = jax.jit(step, donate_argnums=(0, 1))
    p, s = jax.tree.map(jnp.copy, params), tx.init(params)
    p, s = compiled(p, s, grads)
    jax.block_until_ready(p)
    runs[name] = [compiled, p, s, []]
  for _ in range(repeats):
    for run in runs.values():
      begin = time.perf_counter()
      run[1], run[2] = run[0](run[1], run[2], grads)
      jax.block_until_ready(run[1])
      run[3].append(time.perf_counter() - begin)
  return {name: 1e3 * statistics.median(run[3]) for name, run in runs.items()}


def _rounded(params, updates, step_index):
  return jon.apply_updates(
    params, updates, key=jax.random.fold_in(jax.random.key(1234), step_index)
  )


def quality_variants(lr_schedule):
  f32 = jnp.float32
  adamw = lambda **kw: jon.adamw(lr_schedule, weight_decay=0.01, **kw)  # noqa: E731
  small = 256  # the model's matrices are small: quantize every leaf of 256 elements or more
  return {
    "float32 AdamW": dict(tx=adamw()),
    "8-bit AdamW": dict(tx=jon.low_bit_state(adamw(), bits=8, min_size=small)),
    "4-bit AdamW": dict(tx=jon.low_bit_state(adamw(), bits=4, min_size=small)),
    "8-bit AdamW, rounded to nearest": dict(
      tx=jon.low_bit_state(adamw(), bits=8, min_size=small, stochastic=False)
    ),
    "bfloat16 params, stochastic rounding": dict(
      tx=adamw(mu_dtype=f32, nu_dtype=f32), params_dtype=BF16, apply_fn=_rounded
    ),
    "bfloat16 params, round to nearest": dict(
      tx=adamw(mu_dtype=f32, nu_dtype=f32), params_dtype=BF16
    ),
    "bfloat16 params, 8-bit AdamW, stochastic rounding": dict(
      tx=jon.low_bit_state(adamw(), bits=8, min_size=small), params_dtype=BF16, apply_fn=_rounded
    ),
  }


def lost_updates(lr_schedule, config, steps: int, seed: int = 0) -> float:
  """Share of nonzero updates that leave their bfloat16 param unchanged when rounded
  to nearest, over a plain bfloat16 run."""
  train_ids, _, vocab = lm.load_corpus()
  params = jax.tree.map(
    lambda x: x.astype(BF16), lm.init_params(config, jax.random.key(seed), vocab)
  )
  tx = jon.adamw(lr_schedule, weight_decay=0.01, mu_dtype=jnp.float32, nu_dtype=jnp.float32)
  starts = jnp.asarray(lm.batch_starts(len(train_ids), config, steps, seed), jnp.int32)
  data, offsets = jnp.asarray(train_ids), jnp.arange(config.context + 1)

  @jax.jit
  def run(params):
    def body(carry, start):
      params, state = carry
      grads = jax.grad(lm.loss_fn)(params, data[start[:, None] + offsets], config)
      updates, state = tx.update(grads, state, params)
      new = jon.apply_updates(params, updates)
      moved = sum(jnp.sum(u != 0) for u in jax.tree.leaves(updates))
      lost = sum(
        jnp.sum((u != 0) & (n == p))
        for u, n, p in zip(jax.tree.leaves(updates), jax.tree.leaves(new), jax.tree.leaves(params))
      )
      return (new, state), (lost, moved)

    lost, moved = jax.lax.scan(body, (params, tx.init(params)), starts)[1]
    return jnp.sum(lost) / jnp.sum(moved)

  return float(run(params))


def state_errors(lr_schedule, config, steps: int, seed: int = 0) -> dict:
  """How far quantized AdamW states drift from the exact one on the same gradients.

  One float32 AdamW run; beside it, each variant of `STATE_VARIANTS` keeps its own
  quantized state, updated with the run's gradients at the run's params, so that
  only the quantization (and what it accumulates over the steps) differs. Returns,
  per variant, the mean over the last tenth of the steps of: the mean of
  ``log(nu_quantized / nu)`` over the elements of the quantized leaves (its bias),
  the mean of its absolute value, ``|mu_quantized - mu| / |mu|`` (norms over the
  same leaves), and the cosine and the ratio of norms of the updates to the exact
  run's.
  """
  small = 256
  adamw = lambda: jon.adamw(lr_schedule, weight_decay=0.01)  # noqa: E731
  variants = {
    f"{bits}-bit, {name}": jon.low_bit_state(adamw(), bits=bits, min_size=small, stochastic=st)
    for bits in (8, 4)
    for name, st in (("stochastic rounding", True), ("rounded to nearest", False))
  }
  exact = adamw()
  train_ids, _, vocab = lm.load_corpus()
  params = lm.init_params(config, jax.random.key(seed), vocab)
  starts = jnp.asarray(lm.batch_starts(len(train_ids), config, steps, seed), jnp.int32)
  data, offsets = jnp.asarray(train_ids), jnp.arange(config.context + 1)
  template = jax.eval_shape(exact.init, params)
  big = lambda tree: [x.ravel() for x in jax.tree.leaves(tree) if x.size >= small]  # noqa: E731

  def measure(ue, uq, se, sq, bits):
    sq = jax.tree.map(
      lambda t, s: (
        jon.dequantize_blockwise(s, t.shape, bits) if isinstance(s, jon.QuantizedArray) else s
      ),
      template,
      sq.inner_state,
      is_leaf=lambda x: isinstance(x, jon.QuantizedArray),
    )
    (ve,), (vq,) = [jnp.concatenate(big(s[0].nu))[None] for s in (se, sq)]
    (me,), (mq,) = [jnp.concatenate(big(s[0].mu))[None] for s in (se, sq)]
    log_ratio = jnp.log(jnp.maximum(vq, 1e-30) / jnp.maximum(ve, 1e-30))
    fe, fq = (jnp.concatenate([x.ravel() for x in jax.tree.leaves(u)]) for u in (ue, uq))
    norm = jnp.linalg.norm
    return jnp.stack(
      [
        jnp.mean(log_ratio),
        jnp.mean(jnp.abs(log_ratio)),
        norm(mq - me) / norm(me),
        fe @ fq / (norm(fe) * norm(fq) + 1e-30),
        norm(fq) / (norm(fe) + 1e-30),
      ]
    )

  @jax.jit
  def run(params):
    def body(carry, start):
      p, se, states = carry
      g = jax.grad(lm.loss_fn)(p, data[start[:, None] + offsets], config)
      ue, se = exact.update(g, se, p)
      rows, new = [], []
      for (name, tx), sq in zip(variants.items(), states):
        uq, sq = tx.update(g, sq, p)
        rows.append(measure(ue, uq, se, sq, int(name[0])))
        new.append(sq)
      return (jon.apply_updates(p, ue), se, new), jnp.stack(rows)

    init = (params, exact.init(params), [tx.init(params) for tx in variants.values()])
    return jax.lax.scan(body, init, starts)[1]

  tail = np.asarray(run(params))[-max(steps // 10, 1) :].mean(axis=0)
  return {name: tuple(float(v) for v in row) for name, row in zip(variants, tail)}


def quality(schedule, steps: int, seeds: int, config) -> tuple[dict, dict, float]:
  finals, curves = {}, {}
  for name, spec in quality_variants(schedule).items():
    trainer = lm.Trainer(
      lambda hyper, tx=spec["tx"]: tx,
      jnp.float32(0),
      config=config,
      steps=steps,
      eval_every=max(steps // 20, 1),
      params_dtype=spec.get("params_dtype", jnp.float32),
      apply_fn=spec.get("apply_fn"),
    )
    outs = [trainer.run(jnp.float32(0), seed) for seed in range(seeds)]
    finals[name] = [o["final_val_loss"] for o in outs]
    curves[name] = outs[0]["curve"]
    print(f"{name}: {finals[name]}", flush=True)
  return finals, curves, lost_updates(schedule, config, steps)


def _plot(curves: dict) -> None:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(7, 4.2))
  for name, curve in curves.items():
    steps, losses = zip(*curve[1:])
    ax.plot(steps, losses, label=name, lw=1.4)
  ax.set_xlabel("step")
  ax.set_ylabel("validation loss (nats / character)")
  ax.set_ylim(top=min(4.0, ax.get_ylim()[1]))
  ax.legend(fontsize=8)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(PLOT, dpi=110)


def _table(header, rows) -> str:
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(rows_i) + " |" for rows_i in rows]
  return "\n".join(lines)


def times_text(times, timed_tree) -> str:
  d, layers, vocab = timed_tree
  return "\n".join(
    [
      "Step time of a jitted update and `apply_updates`, gradients passed in, params and "
      f"state donated (median of interleaved repeats, CPU, {os.cpu_count()} cores; d_model {d}, "
      f"{layers} blocks, vocabulary {vocab}):",
      "",
      _table(
        ["optimizer", "ms a step", "ratio to adam"],
        [(n, f"{t:.2f}", f"{t / times['adam']:.2f}") for n, t in times.items()],
      ),
    ]
  )


def _write(begin: str, end: str, text: str) -> None:
  """Puts ``text`` between the markers ``begin`` and ``end`` of the docs page."""
  with open(PAGE) as f:
    page = f.read()
  start, stop = page.index(begin) + len(begin), page.index(end)
  with open(PAGE, "w") as f:
    f.write(page[:start] + "\n" + text + "\n" + page[stop:])


def report(
  mem, combos, times, timed_tree, finals, lost, errors, config, steps, seeds, lr, tree
) -> str:
  f = lambda x: "n/a" if x is None else f"{x:.2f}"  # noqa: E731
  parts = [
    f"Optimizer state, bytes a param ({tree}):",
    "",
    _table(
      ["optimizer", "float32 moments", "bfloat16 moments", "8-bit", "4-bit"],
      [(f"`{n}`", *map(f, r)) for n, *r in mem],
    ),
    "",
    "Params and optimizer state, bytes a param (the same tree):",
    "",
    _table(["combination", "bytes a param"], [(n, f(b)) for n, b in combos]),
    "",
    TIMES_BEGIN,
    times_text(times, timed_tree),
    TIMES_END,
  ]
  base = np.mean(finals["float32 AdamW"])
  rows = []
  for name, losses in finals.items():
    ref = base if "stochastic" not in name and "nearest" not in name else base
    rows.append(
      (
        name,
        " / ".join(f"{x:.4f}" for x in losses),
        f"{np.mean(losses):.4f}",
        f"{100 * (np.mean(losses) / ref - 1):+.2f}%",
      )
    )
  parts += [
    "",
    f"Validation loss of the language model of `benchmarks/lm.py` ({config}), "
    f"{steps} steps of AdamW (weight decay 0.01, warmup and cosine decay from "
    f"{lr}), seeds 0 to {seeds - 1}; 8- and 4-bit states quantize every leaf of 256 "
    "elements or more:",
    "",
    _table(["variant", "final loss per seed", "mean", "vs float32 AdamW"], rows),
    "",
    f"Plain bfloat16 params (round to nearest) lose {100 * lost:.1f}% of their nonzero "
    "updates: below half a unit in the last place of their param, they leave it "
    "unchanged.",
    "",
    "![Validation loss](images/low_bit_loss.png)",
    "",
    "How far the quantized state drifts from the exact one on the same gradients "
    f"(seed 0: the float32 run's gradients at its params feed each quantized state too; "
    f"means over the last {max(steps // 10, 1)} steps; nu and mu over the quantized "
    "leaves):",
    "",
    _table(
      [
        "AdamW state",
        "mean log(nu_q / nu)",
        "mean abs log(nu_q / nu)",
        "abs(mu_q - mu) / abs(mu)",
        "cosine of updates",
        "norm of updates / exact",
      ],
      [
        (name, *(f"{v:+.3f}" if i == 0 else f"{v:.3f}" for i, v in enumerate(row)))
        for name, row in errors.items()
      ],
    ),
  ]
  return "\n".join(parts)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="a tiny smoke run; writes nothing")
  parser.add_argument(
    "--times-only", action="store_true", help="measure and rewrite only the step-time table"
  )
  parser.add_argument("--steps", type=int, default=1000)
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--lr", type=float, default=3e-3)
  parser.add_argument("--repeats", type=int, default=30)
  args = parser.parse_args(argv)
  if args.quick:
    args.steps, args.seeds, args.repeats = 20, 1, 3
  timed_tree = (64, 1, 512) if args.quick else (256, 4, 4096)
  if args.times_only:
    text = times_text(step_times(*timed_tree, args.repeats), timed_tree)
    print(text)
    if not args.quick:
      _write(TIMES_BEGIN, TIMES_END, text)
    return
  tree_args = (768, 12, 50257)
  tree = "GPT-2-small-like: d_model 768, 12 blocks, vocabulary 50257"
  params = transformer_tree(*tree_args)
  mem, combos = memory_rows(params), combination_rows(params)
  for row in mem + combos:
    print(row, flush=True)
  times = step_times(*timed_tree, args.repeats)
  print(times, flush=True)
  config = lm.QUICK if args.quick else lm.Config()
  schedule = jon.warmup_cosine_decay_schedule(0.0, args.lr, max(args.steps // 20, 1), args.steps)
  errors = state_errors(schedule, config, args.steps)
  print(errors, flush=True)
  finals, curves, lost = quality(schedule, args.steps, args.seeds, config)
  text = report(
    mem,
    combos,
    times,
    timed_tree,
    finals,
    lost,
    errors,
    config,
    args.steps,
    args.seeds,
    args.lr,
    tree,
  )
  print(text)
  if args.quick:
    return
  _plot(curves)
  _write(BEGIN, END, text)


if __name__ == "__main__":
  main()
