"""benchmarks/optax_compare.py: its memory figures asserted, its variants checked to agree.

Timings are only measured there, never asserted.
"""

import os
import sys

import chex
import jax

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

import optax_compare  # noqa: E402


def test_state_bytes_are_the_minimum_and_a_donated_step_copies_no_params():
  rows = {row[0]: row[1:] for row in optax_compare.memory_rows(quick=True)}
  counter = 4  # one int32 step count
  for name, (
    ours,
    theirs,
    minimum,
    live,
    temp,
    packed,
    packed_live,
    packed_temp,
    params,
  ) in rows.items():
    assert ours == theirs == packed, name  # pack_leaves: the same bytes in other buffers
    assert minimum <= ours <= minimum + counter, name
    if "bfloat16" not in name:
      # params + grads + state; XLA may leave a few tiny outputs unaliased, but nothing
      # near another copy of the params lives in the step
      assert 2 * params + ours <= live < 2 * params + ours + params // 50, name
      assert temp < 1024, name
    # pack_leaves gathers the small leaves' gradients (here every leaf is small) into its
    # buffers and slices the updates out: temporaries of at most two copies of them
    assert packed_temp <= 2 * params + 1024 and packed_live <= live + packed_temp, name
  adam, half = rows["adam"][0], rows["adam, mu_dtype=bfloat16"][0]
  assert adam - half == rows["adam"][-1] // 2  # bfloat16 first moment: half its bytes
  assert rows["sgd"][0] == 0


def test_training_step_variants_compute_the_same_params():
  """The benchmark's training-step variants are one algorithm: equal params after 2 steps."""
  params, _ = optax_compare.many_heads(quick=True)
  # sgd momentum: scale-sensitive, unlike adam; each variant compiled once
  runners, unpack = optax_compare.training_runners("sgd momentum", quick=True, budget_s=0)
  for runner in runners.values():
    runner.run(1)  # one warm step and one timed
  finals = {name: r.params for name, r in runners.items()}
  finals["flat params"] = unpack(finals["flat params"])
  moved = sum(
    float(abs(a - b).max())
    for a, b in zip(jax.tree.leaves(finals["ours"]), jax.tree.leaves(params))
  )
  assert moved > 0
  for name, final in finals.items():
    chex.assert_trees_all_close(final, finals["optax"], rtol=1e-5, atol=1e-6, custom_message=name)
