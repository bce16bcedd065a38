"""Boundary values optax gives a meaning to (no clipping at inf, no decay at 0, ...):
accepted here, and giving optax's numbers over a few steps in float64.

The table is data: one row per (public name, arguments at a boundary), each
boundary taken from optax's docstrings or tests, or from the formula where the
value switches a term off. Values optax's formulas turn into NaN (``b2=1`` in
Adam divides by its zero bias correction) are not listed: they have no meaning.
"""

import math

import chex
import jax
import jax.numpy as jnp
import optax
import pytest

import jaxopt_notes as jon

INF = math.inf
PARAMS = {"w": jnp.array([[0.5, -1.0], [2.0, 0.25]]), "b": jnp.array([0.1, -0.3])}

BOUNDARIES = [
  # clipping thresholds: inf clips nothing, 0 clips everything
  ("clip", dict(max_delta=INF)),
  ("clip", dict(max_delta=0.0)),
  ("clip_by_global_norm", dict(max_norm=INF)),
  ("clip_by_global_norm", dict(max_norm=0.0)),
  ("clip_by_block_rms", dict(threshold=INF)),
  ("adaptive_grad_clip", dict(clipping=INF)),
  ("adaptive_grad_clip", dict(clipping=0.0)),
  # (adafactor rounds its decay to float32 in optax: docs/migrating_from_optax.md)
  ("adafactor", dict(learning_rate=0.1, clipping_threshold=INF), {}, 1e-6),
  # (rprop takes step t on gradient t here: the numbers differ by design)
  ("rprop", dict(learning_rate=0.1, max_step_size=INF), {}, None),
  ("rprop", dict(learning_rate=0.1, min_step_size=0.0), {}, None),
  ("polyak_sgd", dict(max_learning_rate=INF), {"value": 1.0}),
  ("radam", dict(learning_rate=0.1, threshold=INF)),  # never rectified
  # learning rates, decays, weight decays and eps at 0; betas at 0 and 1
  ("sgd", dict(learning_rate=0.0)),
  ("sgd", dict(learning_rate=0.1, momentum=0.0)),
  ("sgd", dict(learning_rate=0.1, momentum=1.0)),
  ("adam", dict(learning_rate=0.0)),
  ("adam", dict(learning_rate=0.1, b1=0.0)),
  ("adam", dict(learning_rate=0.1, b2=0.0)),
  ("adam", dict(learning_rate=0.1, eps=0.0)),
  ("adamw", dict(learning_rate=0.1, weight_decay=0.0)),
  ("add_decayed_weights", dict(weight_decay=0.0)),
  ("ema", dict(decay=0.0)),
  ("ema", dict(decay=1.0, debias=False)),
  ("trace", dict(decay=0.0)),
  ("rmsprop", dict(learning_rate=0.1, decay=0.0)),
  ("rmsprop", dict(learning_rate=0.1, decay=1.0, initial_scale=1.0)),
  ("lion", dict(learning_rate=0.1, b1=0.0, b2=0.0)),
  ("lion", dict(learning_rate=0.1, b1=1.0, b2=1.0)),
  ("adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.0)),
  ("lamb", dict(learning_rate=0.1, weight_decay=0.0)),
  ("lars", dict(learning_rate=0.1, weight_decay=0.0)),
  ("scale", dict(step_size=0.0)),
  ("scale_by_trust_ratio", dict(min_norm=0.0)),
  ("adafactor", dict(learning_rate=0.1, weight_decay_rate=0.0), {}, 1e-6),
  ("novograd", dict(learning_rate=0.1, weight_decay=0.0)),
  ("adamax", dict(learning_rate=0.1, eps=0.0)),
  ("amsgrad", dict(learning_rate=0.1, b2=0.0)),
  ("nadam", dict(learning_rate=0.1, b1=0.0)),
  ("adan", dict(learning_rate=0.1, b1=0.0, b2=0.0, b3=0.0)),
  ("adan", dict(learning_rate=0.1, weight_decay=0.0)),
  ("optimistic_gradient_descent", dict(learning_rate=0.1, alpha=0.0, beta=0.0)),
  ("sign_sgd", dict(learning_rate=0.0)),
]


def _run(opt, extras, steps=3):
  params, state, out = PARAMS, opt.init(PARAMS), []
  update = lambda g, s, p: opt.update(g, s, p, **extras)  # eager: three tiny steps
  for k in range(steps):
    grads = jax.tree.map(lambda p, k=k: jnp.cos(3.0 * p + k) * (k + 1), params)
    updates, state = update(grads, state, params)
    params = jax.tree.map(lambda p, u: p + u, params, updates)
    out.append(params)
  return out


# (name, arguments, extra arguments of update, tolerance against optax: None where
# the numbers differ by design and only acceptance and finite values are checked)
ROWS = [row + ({}, 1e-10)[len(row) - 2 :] for row in BOUNDARIES]


@pytest.mark.parametrize(
  "name, kwargs, extras, rtol",
  ROWS,
  ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in a.items())}" for n, a, *_ in ROWS],
)
def test_boundary_values_are_accepted_and_give_optaxs_numbers(name, kwargs, extras, rtol):
  theirs = _run(getattr(optax, name)(**kwargs), extras)
  ours = _run(getattr(jon, name)(**kwargs), extras)
  chex.assert_tree_all_finite(theirs)
  chex.assert_tree_all_finite(ours)
  for a, b in zip(ours, theirs):
    if rtol is not None:
      chex.assert_trees_all_close(a, b, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize(
  "name, kwargs, argument",
  [
    ("adam", dict(learning_rate=0.1, b1=1.5), "b1"),
    ("adam", dict(learning_rate=math.nan), "learning_rate"),
    ("clip_by_global_norm", dict(max_norm=-1.0), "max_norm"),
    ("clip", dict(max_delta=math.nan), "max_delta"),
    ("ema", dict(decay=-0.1), "decay"),
    ("radam", dict(learning_rate=0.1, threshold=3.0), "threshold"),
  ],
)
def test_nonsense_is_still_refused_by_name(name, kwargs, argument):
  with pytest.raises(ValueError, match=argument):
    getattr(jon, name)(**kwargs)
