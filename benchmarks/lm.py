"""A small character-level language model for optimizer benchmarks.

The corpus is the text of Python's own documentation topics, shipped with every
CPython as ``pydoc_data.topics.topics`` (about 465 thousand characters, 103
distinct ones; nothing is downloaded). The topics are joined in sorted order;
the first 90% of the characters are the training text, the last 10% the
validation text. The model is a decoder-only transformer written in plain JAX:
token and position embeddings, pre-norm blocks of causal multi-head attention
and a GELU MLP, a final norm and a separate unembedding. Its params are a
pytree of 2-D weight matrices and vectors, so per-matrix methods (Muon,
Shampoo, SOAP, PSGD-Kron) see each weight as a matrix.

Interface (kept stable for other benchmarks to build on):

* `load_corpus() -> (train_ids, val_ids, vocab_size)`;
* `Config` (frozen) and the tinier `QUICK`;
* `init_params(config, key)`, `loss_fn(params, tokens, config)`;
* `hidden_matrices(params)`: a tree of booleans, True on the hidden weight
  matrices (not the embeddings, the unembedding or the vectors);
* `train(tx, *, config, steps, seed, eval_every, ...) -> dict`, and `Trainer`,
  which compiles one step for many learning rates and seeds.

Run: ``python benchmarks/lm.py [--quick] [--steps N]`` trains AdamW once and
prints its validation curve.
"""

import argparse
import dataclasses
import functools
import os
import time
from typing import Any
from collections.abc import Callable

# Before numpy and jax load OpenBLAS: its LAPACK (eigh, QR, triangular solves) otherwise
# starts threads of its own beside XLA's, which on a shared 2-core machine spin-waited a
# 128 x 128 eigh from 4 ms to 250 ms (docs/lm_race.md, "Where the time went").
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxopt_notes as jon  # noqa: E402

TRAIN_FRACTION = 0.9


@dataclasses.dataclass(frozen=True)
class Config:
  """Shape of the model and of its batches.

  Attributes:
    layers: transformer blocks.
    d_model: width of the residual stream (the MLP is 4x wider).
    heads: attention heads (``d_model`` must divide by it).
    context: characters a window predicts from.
    batch: windows per training step.
    val_windows: held-out windows of ``context + 1`` characters, taken
      without overlap from the start of the validation text.
  """

  layers: int = 2
  d_model: int = 32
  heads: int = 2
  context: int = 32
  batch: int = 16
  val_windows: int = 128


QUICK = Config(layers=1, d_model=16, heads=2, context=16, batch=8, val_windows=32)


@functools.lru_cache(maxsize=1)
def _text_and_vocab() -> tuple[str, str]:
  from pydoc_data.topics import topics

  text = "".join(topics[name] for name in sorted(topics))
  return text, "".join(sorted(set(text)))


def load_corpus() -> tuple[np.ndarray, np.ndarray, int]:
  """The training and validation character ids (int32) and the vocabulary size.

  The vocabulary is the sorted set of characters of the whole text; the split is
  fixed (the first ``TRAIN_FRACTION`` of the characters train, the rest validate).
  """
  text, vocab = _text_and_vocab()
  index = {c: i for i, c in enumerate(vocab)}
  ids = np.fromiter((index[c] for c in text), np.int32, len(text))
  cut = int(TRAIN_FRACTION * len(ids))
  return ids[:cut], ids[cut:], len(vocab)


def init_params(config: Config, key: jax.Array, vocab_size: int | None = None) -> dict:
  """Initial params: normal weights scaled by 1/sqrt(fan-in), unit norms, zero biases."""
  if vocab_size is None:
    vocab_size = len(_text_and_vocab()[1])
  if config.d_model % config.heads:
    raise ValueError(f"Config: d_model={config.d_model} must divide by heads={config.heads}")
  d, wide = config.d_model, 4 * config.d_model
  keys = iter(jax.random.split(key, 3 + 6 * config.layers))

  def normal(shape, scale=1.0):
    return scale * jax.random.normal(next(keys), shape, jnp.float32) / np.sqrt(shape[0])

  layers = [
    {
      "q": normal((d, d)),
      "k": normal((d, d)),
      "v": normal((d, d)),
      "o": normal((d, d), 1 / np.sqrt(2 * config.layers)),
      "up": normal((d, wide)),
      "up_bias": jnp.zeros(wide, jnp.float32),
      "down": normal((wide, d), 1 / np.sqrt(2 * config.layers)),
      "norm1": jnp.ones(d, jnp.float32),
      "norm2": jnp.ones(d, jnp.float32),
    }
    for _ in range(config.layers)
  ]
  return {
    "embed": 0.5 * jax.random.normal(next(keys), (vocab_size, d), jnp.float32),
    "position": 0.1 * jax.random.normal(next(keys), (config.context, d), jnp.float32),
    "layers": layers,
    "norm": jnp.ones(d, jnp.float32),
    "unembed": normal((d, vocab_size), 0.5),
  }


def hidden_matrices(params: dict) -> Any:
  """True on the hidden 2-D weights (attention and MLP), False on every other leaf."""
  return {
    name: (
      jax.tree.map(lambda x: x.ndim == 2, value)
      if name == "layers"
      else jax.tree.map(lambda x: False, value)
    )
    for name, value in params.items()
  }


def _norm(x, scale):
  x32 = x.astype(jnp.float32)
  mean = x32.mean(-1, keepdims=True)
  out = (x32 - mean) * jax.lax.rsqrt(x32.var(-1, keepdims=True) + 1e-5)
  return (scale * out).astype(x.dtype)


def loss_fn(params: dict, tokens: jax.Array, config: Config) -> jax.Array:
  """Mean cross-entropy (nats per character) of each next character.

  ``tokens`` has shape ``(batch, context + 1)``: the model reads the first
  ``context`` and predicts the last ``context``. Computes in the params' dtype,
  the norms and the softmax in float32.
  """
  n = tokens.shape[1] - 1
  dtype = params["embed"].dtype
  x = params["embed"][tokens[:, :-1]] + params["position"][:n]
  causal = jnp.tril(jnp.ones((n, n), bool))
  head = config.d_model // config.heads
  for p in params["layers"]:
    h = _norm(x, p["norm1"])
    q, k, v = (jnp.reshape(h @ p[w], h.shape[:2] + (config.heads, head)) for w in "qkv")
    scores = jnp.einsum("bshd,bthd->bhst", q, k).astype(jnp.float32) / np.sqrt(head)
    weights = jax.nn.softmax(jnp.where(causal, scores, -1e30), axis=-1).astype(dtype)
    x = x + jnp.einsum("bhst,bthd->bshd", weights, v).reshape(x.shape) @ p["o"]
    x = x + jax.nn.gelu(_norm(x, p["norm2"]) @ p["up"] + p["up_bias"]) @ p["down"]
  logits = (_norm(x, params["norm"]) @ params["unembed"]).astype(jnp.float32)
  picked = jnp.take_along_axis(jax.nn.log_softmax(logits), tokens[:, 1:, None], -1)
  return -jnp.mean(picked)


def batch_starts(train_size: int, config: Config, steps: int, seed: int) -> np.ndarray:
  """Window starts of every training batch, shape ``(steps, batch)``: fixed by the seed."""
  rng = np.random.default_rng(seed)
  return rng.integers(0, train_size - config.context - 1, (steps, config.batch))


def validation_windows(val_ids: np.ndarray, config: Config) -> np.ndarray:
  """The fixed held-out set: non-overlapping windows from the start of the validation text."""
  width = config.context + 1
  count = min(config.val_windows, len(val_ids) // width)
  return val_ids[: count * width].reshape(count, width)


def state_bytes(state: Any) -> int:
  """Bytes of the array leaves of an optimizer state."""
  return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state) if hasattr(x, "dtype"))


class Trainer:
  """One compiled training step shared by every run of a family of optimizers.

  ``make_tx(hyper)`` builds the optimizer from ``hyper``, a pytree of scalars
  (e.g. the peak learning rate) that the step takes as a traced argument, so
  every learning rate and every seed reuses the one compiled step.

  Args:
    make_tx: ``make_tx(hyper) -> GradientTransformation``.
    example_hyper: a value of ``hyper`` (its shapes and dtypes are compiled for).
    config: model and batch shape.
    steps: training steps of each run.
    eval_every: steps between validation losses (the last step is always evaluated).
    params_dtype: dtype the params are stored and computed in.
    apply_fn: ``apply_fn(params, updates, step_index) -> params``, traced inside
      the jitted step (``step_index`` an int32 scalar); defaults to
      `jaxopt_notes.apply_updates`.
    eval_params_fn: ``eval_params_fn(state, params) -> params`` gives the point
      validated (schedule-free methods: `jaxopt_notes.schedule_free_eval_params`);
      defaults to the params themselves.
  """

  def __init__(
    self,
    make_tx: Callable,
    example_hyper: Any,
    *,
    config: Config,
    steps: int,
    eval_every: int,
    params_dtype: Any = jnp.float32,
    apply_fn: Callable | None = None,
    eval_params_fn: Callable | None = None,
  ):
    if apply_fn is None:
      apply_fn = lambda params, updates, index: jon.apply_updates(params, updates)  # noqa: E731
    if eval_params_fn is None:
      eval_params_fn = lambda state, params: params  # noqa: E731
    self.make_tx, self.config, self.steps, self.eval_every = make_tx, config, steps, eval_every
    self.params_dtype = params_dtype
    train_ids, val_ids, self.vocab = load_corpus()
    self.train_size = len(train_ids)
    # the texts are arguments of the compiled functions, not constants folded into them
    self.train_ids = jnp.asarray(train_ids)
    self.val_windows = jnp.asarray(validation_windows(val_ids, config))

    def step(params, state, text, starts, step_index, hyper):
      tokens = text[starts[step_index][:, None] + jnp.arange(config.context + 1)]
      value, grads = jax.value_and_grad(loss_fn)(params, tokens, config)
      updates, state = make_tx(hyper).update(grads, state, params, value=value)
      return apply_fn(params, updates, step_index), state, value

    def validate(state, params, windows):
      return loss_fn(eval_params_fn(state, params), windows, config)

    params, state = self._init(example_hyper, 0)
    starts = jnp.asarray(batch_starts(self.train_size, config, steps, 0), jnp.int32)
    begin = time.perf_counter()
    self.step = (
      jax.jit(step)
      .lower(params, state, self.train_ids, starts, jnp.int32(0), example_hyper)
      .compile()
    )
    self.validate = jax.jit(validate).lower(state, params, self.val_windows).compile()
    self.compile_s = time.perf_counter() - begin

  def _init(self, hyper, seed):
    params = init_params(self.config, jax.random.key(seed), self.vocab)
    params = jax.tree.map(lambda x: x.astype(self.params_dtype), params)
    return params, self.make_tx(hyper).init(params)

  def run(self, hyper: Any, seed: int) -> dict:
    """One training run; the keys of the dict `train` returns."""
    params, state = self._init(hyper, seed)
    starts = jnp.asarray(batch_starts(self.train_size, self.config, self.steps, seed), jnp.int32)
    first = float(self.validate(state, params, self.val_windows))
    curve, times, value = [(0, first)], [], jnp.nan
    for t in range(self.steps):
      begin = time.perf_counter()
      params, state, value = self.step(params, state, self.train_ids, starts, jnp.int32(t), hyper)
      jax.block_until_ready(params)
      times.append(time.perf_counter() - begin)
      if (t + 1) % self.eval_every == 0 or t + 1 == self.steps:
        curve.append((t + 1, float(self.validate(state, params, self.val_windows))))
    return dict(
      curve=curve,
      final_val_loss=curve[-1][1],
      step_times=times,
      step_ms=1e3 * float(np.median(times[1:] or times)),
      train_s=float(sum(times)),
      compile_s=self.compile_s,
      state_bytes=state_bytes(state),
      params=sum(x.size for x in jax.tree.leaves(params)),
      final_train_loss=float(value),
    )


def train(
  tx: jon.GradientTransformation,
  *,
  config: Config = Config(),
  steps: int = 1000,
  seed: int = 0,
  eval_every: int = 50,
  params_dtype: Any = jnp.float32,
  apply_fn: Callable | None = None,
  eval_params_fn: Callable | None = None,
) -> dict:
  """Trains the model with ``tx`` and returns its validation curve and costs.

  One jitted step (gradient, ``tx.update`` with ``value=`` the batch loss, then
  ``apply_fn``) is compiled ahead and reused for every step; batches and the
  initial params depend only on ``seed``, so every optimizer sees the same ones.
  Validation is on the fixed held-out windows of `validation_windows`.

  Args:
    tx: the optimizer.
    config: model and batch shape.
    steps: training steps.
    seed: picks the initial params and the order of the batches.
    eval_every: steps between validation losses (the last step is always evaluated).
    params_dtype: dtype the params are stored and computed in.
    apply_fn: ``apply_fn(params, updates, step_index) -> params`` (see `Trainer`).
    eval_params_fn: ``eval_params_fn(state, params) -> params`` (see `Trainer`).

  Returns:
    A dict: ``curve`` (list of ``(step, validation loss)``, from step 0),
    ``final_val_loss``, ``step_times`` (seconds of each step, waited for),
    ``step_ms`` (their median, the first left out), ``train_s`` (their sum),
    ``compile_s`` (the step and the validation), ``state_bytes``, ``params``
    (count), ``final_train_loss``.
  """
  trainer = Trainer(
    lambda hyper: tx,
    jnp.float32(0),
    config=config,
    steps=steps,
    eval_every=eval_every,
    params_dtype=params_dtype,
    apply_fn=apply_fn,
    eval_params_fn=eval_params_fn,
  )
  return trainer.run(jnp.float32(0), seed)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="the tiny QUICK config")
  parser.add_argument("--steps", type=int, default=500)
  parser.add_argument("--lr", type=float, default=3e-3)
  args = parser.parse_args(argv)
  config = QUICK if args.quick else Config()
  train_ids, val_ids, vocab = load_corpus()
  print(
    f"corpus: {len(train_ids)} train / {len(val_ids)} validation characters, "
    f"vocabulary {vocab}; {config}"
  )
  schedule = jon.warmup_cosine_decay_schedule(0.0, args.lr, max(args.steps // 20, 1), args.steps)
  out = train(
    jon.adamw(schedule),
    config=config,
    steps=args.steps,
    seed=0,
    eval_every=max(args.steps // 10, 1),
  )
  for step, loss in out["curve"]:
    print(f"step {step:5d}  validation loss {loss:.4f}")
  print(
    f"{out['params']} params; step {out['step_ms']:.2f} ms, compile {out['compile_s']:.1f} s, "
    f"state {out['state_bytes']} bytes"
  )
  return out


if __name__ == "__main__":
  main()
