"""Wrappers: hand-worked sequences, optax as an oracle, and every optimizer inside every wrapper."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_notes as jon
from registry import REGISTRY, atol_for
from test_conformance import GRADS, PARAMS, _rollout, _scanned_rollout

NAN_GRADS = {"w": jnp.array([jnp.nan, 1.0, 0.0]), "b": jnp.array(0.1, jnp.float64)}


# ------------------------------------------------- every optimizer in every wrapper

# Each wrapper, configured so that it must give exactly the bare optimizer's updates.
# (partition with one group runs its optimizer through masked with an all-True mask;
# average_params, chained after an optimizer, never reads its state: its own tests are below.)
WRAPPERS = {
  "partition_one_group": lambda opt: jon.partition(
    {"all": opt}, jax.tree.map(lambda _: "all", PARAMS)
  ),
  "apply_if_finite": lambda opt: jon.apply_if_finite(opt, 3),
  "multisteps_k1": lambda opt: jon.MultiSteps(opt, 1).gradient_transformation(),
  "conditionally_transform_always": lambda opt: jon.conditionally_transform(
    opt, lambda step: step >= 0
  ),
  "flatten": jon.flatten,
  "pack_leaves": jon.pack_leaves,
}


@pytest.mark.parametrize("entry", REGISTRY, ids=repr)
def test_every_optimizer_inside_every_wrapper(entry):
  """Same updates as the bare optimizer in each wrapper, under jit and vmap, with a stable state.

  The bare optimizer and all its wrappers run 3 scanned steps in one jitted program,
  vmapped over two learning rates, so each optimizer compiles once.
  """
  wrappers = dict(WRAPPERS, bare=lambda opt: opt)
  if "noisy" in entry.name or entry.per_leaf:
    # Noise is drawn per leaf, so a flat vector gets other samples; a per-leaf
    # update (registry) reads whole leaves, and one flat leaf is another algorithm.
    del wrappers["flatten"], wrappers["pack_leaves"]

  def run(lr):
    runs = {}
    for name, wrap in wrappers.items():
      opt = wrap(entry.make(lr))
      outs, state = _scanned_rollout(opt, grads=GRADS[:3])
      runs[name] = outs, opt.init(PARAMS), state
    return runs

  runs = jax.jit(jax.vmap(run))(jnp.array([0.01, 0.03]))
  expected = runs.pop("bare")[0]
  atol = atol_for(expected, 1e-13, 1e-15)
  for name, (got, state0, state) in runs.items():
    chex.assert_trees_all_close(got, expected, rtol=1e-12, atol=atol, custom_message=name)
    chex.assert_trees_all_equal_shapes_and_dtypes(state0, state, custom_message=name)


# ------------------------------------------------------------- partition / freeze


def test_partition_uses_each_groups_transform_and_holds_no_state_for_others():
  opt = jon.partition(
    {"mom": jon.sgd(0.1, momentum=0.9), "frozen": jon.set_to_zero()}, {"w": "mom", "b": "frozen"}
  )
  state = opt.init(PARAMS)
  traces = [x.shape for x in jax.tree.leaves(state.inner_states["mom"])]
  assert traces == [(3,)]  # momentum kept for "w" only
  u, state = opt.update(GRADS[0], state)
  u, state = opt.update(GRADS[1], state)
  np.testing.assert_allclose(u["w"], -0.1 * (GRADS[1]["w"] + 0.9 * GRADS[0]["w"]))
  assert float(u["b"]) == 0.0


def test_partition_with_a_label_function_and_a_missing_label():
  labels = lambda p: jax.tree.map(lambda x: "matrix" if x.ndim else "scalar", p)  # noqa: E731
  opt = jon.multi_transform({"matrix": jon.sgd(1.0), "scalar": jon.sgd(0.5)}, labels)
  u, _ = opt.update(GRADS[0], opt.init(PARAMS))
  np.testing.assert_allclose(u["w"], -GRADS[0]["w"])
  np.testing.assert_allclose(u["b"], -0.5 * GRADS[0]["b"])
  with pytest.raises(ValueError, match="no transform"):
    jon.partition({"matrix": jon.sgd(1.0)}, labels).init(PARAMS)


def test_partition_equals_optax():
  labels = {"w": "a", "b": "b"}
  ours = jon.partition({"a": jon.adam(0.1), "b": jon.sgd(0.2, 0.5)}, labels)
  theirs = optax.partition({"a": optax.adam(0.1), "b": optax.sgd(0.2, 0.5)}, labels)
  chex.assert_trees_all_close(
    _rollout(ours, ours.update)[0],
    _rollout(theirs, lambda g, s, p, value: theirs.update(g, s, p))[0],
    rtol=1e-12,
  )


def test_freeze_zeroes_and_keeps_no_state():
  opt = jon.chain(jon.freeze({"w": False, "b": True}), jon.sgd(0.1))
  u, state = opt.update(GRADS[0], opt.init(PARAMS))
  assert float(u["b"]) == 0.0
  np.testing.assert_allclose(u["w"], -0.1 * GRADS[0]["w"])
  assert jax.tree.leaves(state[0]) == []


# ------------------------------------------------------------ apply_if_finite


def test_apply_if_finite_loses_nothing_on_a_nan_step():
  opt = jon.apply_if_finite(jon.adam(0.1), max_consecutive_errors=2)
  state = opt.init(PARAMS)
  _, state = opt.update(GRADS[0], state, PARAMS)
  before = state
  u, state = jax.jit(opt.update)(NAN_GRADS, state, PARAMS)
  params = jon.apply_updates(PARAMS, u)
  chex.assert_trees_all_equal(params, PARAMS)  # bitwise
  chex.assert_trees_all_equal(state.inner_state, before.inner_state)  # bitwise
  assert int(state.notfinite_count) == 1 and int(state.total_notfinite) == 1
  assert not bool(state.last_finite)
  u, state = opt.update(GRADS[1], state, PARAMS)  # a finite step resets the run
  expected, _ = jon.adam(0.1).update(GRADS[1], before.inner_state, PARAMS)
  chex.assert_trees_all_close(u, expected, rtol=1e-15)  # compiled vs op-by-op rounding
  assert int(state.notfinite_count) == 0 and int(state.total_notfinite) == 1


def test_apply_if_finite_applies_after_too_many_in_a_row():
  opt = jon.apply_if_finite(jon.sgd(1.0), max_consecutive_errors=2)
  state = opt.init(PARAMS)
  applied = []
  for _ in range(4):
    u, state = opt.update(NAN_GRADS, state)
    applied.append(bool(jnp.any(u["w"] != 0)))
  assert applied == [False, False, True, True]
  assert int(state.total_notfinite) == 4


def test_apply_if_finite_equals_optax():
  seq = [GRADS[0], NAN_GRADS, GRADS[1], NAN_GRADS, NAN_GRADS, NAN_GRADS, GRADS[2]]
  ours, theirs = jon.apply_if_finite(jon.adam(0.1), 1), optax.apply_if_finite(optax.adam(0.1), 1)
  so, st = ours.init(PARAMS), theirs.init(PARAMS)
  for g in seq:
    uo, so = ours.update(g, so, PARAMS)
    ut, st = theirs.update(g, st, PARAMS)
    chex.assert_trees_all_close(uo, ut, rtol=1e-12)
    assert int(so.total_notfinite) == int(st.total_notfinite)


def test_zero_nans():
  tx = jon.zero_nans()
  u, state = tx.update(NAN_GRADS, tx.init(PARAMS))
  np.testing.assert_array_equal(u["w"], [0.0, 1.0, 0.0])
  assert bool(state.found_nan["w"]) and not bool(state.found_nan["b"])


# ----------------------------------------------------------------- MultiSteps


def _batch_loss(params, x, y):
  return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)


def test_multisteps_equals_one_step_on_the_concatenated_batch():
  rng = np.random.default_rng(1)
  x, y = jnp.asarray(rng.normal(size=(12, 3))), jnp.asarray(rng.normal(size=12))
  big = jon.sgd(0.1)
  u_big, _ = big.update(jax.grad(_batch_loss)(PARAMS, x, y), big.init(PARAMS))
  ms = jon.MultiSteps(jon.sgd(0.1), every_k_schedule=3)
  state = ms.init(PARAMS)
  for i in range(3):
    u, state = ms.update(
      jax.grad(_batch_loss)(PARAMS, x[4 * i : 4 * i + 4], y[4 * i : 4 * i + 4]), state, PARAMS
    )
    assert bool(ms.has_updated(state)) == (i == 2)
  chex.assert_trees_all_close(u, u_big, rtol=1e-12)
  assert int(state.gradient_step) == 1 and int(state.mini_step) == 0


def test_multisteps_with_a_schedule_of_k_and_sums():
  ms = jon.MultiSteps(jon.sgd(1.0), every_k_schedule=lambda step: step + 1, use_grad_mean=False)
  state = ms.init(PARAMS)
  emitted = []
  grads = GRADS + GRADS[:1]  # six mini-steps
  for g in grads:
    u, state = ms.update(g, state)
    emitted.append(bool(ms.has_updated(state)))
  assert emitted == [True, False, True, False, False, True]  # windows of 1, 2, 3
  np.testing.assert_allclose(u["w"], -(grads[3]["w"] + grads[4]["w"] + grads[5]["w"]))


def test_multisteps_accumulates_low_precision_grads_in_float32():
  p = {"w": jnp.ones(3, jnp.bfloat16)}
  ms = jon.MultiSteps(jon.sgd(1.0), 4)
  state = ms.init(p)
  assert state.acc_grads["w"].dtype == jnp.float32
  for _ in range(4):
    u, state = ms.update({"w": jnp.full(3, 0.1, jnp.bfloat16)}, state, p)
  assert u["w"].dtype == jnp.bfloat16 and state.acc_grads["w"].dtype == jnp.float32


def test_multisteps_skip_not_finite_drops_the_mini_step():
  ms = jon.MultiSteps(jon.sgd(1.0), 2, should_skip_update_fn=jon.skip_not_finite)
  state = ms.init(PARAMS)
  _, state = ms.update(GRADS[0], state)
  u, state = ms.update(NAN_GRADS, state)
  assert int(state.mini_step) == 1 and int(state.skip_state["num_not_finite"]) == 1
  u, state = ms.update(GRADS[1], state)
  np.testing.assert_allclose(u["w"], -(GRADS[0]["w"] + GRADS[1]["w"]) / 2)


def test_multisteps_equals_optax_and_passes_extras():
  ours = jon.MultiSteps(jon.eve(0.1), 2)
  state = ours.init(PARAMS)
  for k, g in enumerate(GRADS):
    u, state = ours.update(g, state, PARAMS, value=jnp.asarray(1.0 / (k + 1)))
  assert int(state.inner_opt_state[0].count) == 2
  ours = jon.MultiSteps(jon.adam(0.1), 2)
  theirs = optax.MultiSteps(optax.adam(0.1), 2, accumulator_dtype=jnp.float64)
  so, st = ours.init(PARAMS), theirs.init(PARAMS)
  for g in GRADS:
    uo, so = ours.update(g, so, PARAMS)
    ut, st = theirs.update(g, st, PARAMS)
    chex.assert_trees_all_close(uo, ut, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------ lookahead


def test_lookahead_hand_worked_and_equals_optax():
  opt = jon.lookahead(jon.sgd(1.0), sync_period=2, slow_step_size=0.5)
  params = jon.LookaheadParams.init_synced({"x": jnp.array(0.0)})
  state = opt.init(params)
  grads = [1.0, 1.0, 2.0, 2.0]
  seen = []
  for g in grads:
    u, state = opt.update({"x": jnp.array(g)}, state, params)
    params = jon.apply_updates(params, u)
    seen.append((float(params.fast["x"]), float(params.slow["x"])))
  # fast: -1, -2 -> sync: slow = 0 + 0.5 (-2 - 0) = -1, fast = -1; then -3, -5 -> slow -3
  assert seen == [(-1.0, 0.0), (-1.0, -1.0), (-3.0, -1.0), (-3.0, -3.0)]
  theirs = optax.lookahead(optax.adam(0.1), 3, 0.3)
  ours = jon.lookahead(jon.adam(0.1), 3, 0.3)
  po, pt = jon.LookaheadParams.init_synced(PARAMS), optax.LookaheadParams.init_synced(PARAMS)
  so, st = ours.init(po), theirs.init(pt)
  for g in GRADS:
    uo, so = ours.update(g, so, po)
    ut, st = theirs.update(g, st, pt)
    po, pt = jon.apply_updates(po, uo), optax.apply_updates(pt, ut)
    chex.assert_trees_all_close(tuple(po), tuple(pt), rtol=1e-12, atol=1e-15)


def test_lookahead_update_rejects_plain_params():
  opt = jon.lookahead(jon.sgd(0.1), 2, 0.5)
  with pytest.raises(TypeError, match="LookaheadParams"):
    opt.update(GRADS[0], opt.init(PARAMS), PARAMS)


# ------------------------------------------------------------ parameter averages


@pytest.mark.parametrize("rate,start", [(None, 0), (0.3, 0), (None, 2), (0.3, 2)])
def test_average_params_equals_the_numpy_formula(rate, start):
  opt = jon.chain(jon.adam(0.1), jon.average_params(rate, start_step=start))
  state = opt.init(PARAMS)
  params, history = PARAMS, []
  for g in GRADS:
    u, state = opt.update(g, state, params)
    params = jon.apply_updates(params, u)
    history.append(params)
  expected = {}
  for leaf in PARAMS:
    thetas = [np.asarray(h[leaf]) for h in history][start:]
    if rate is None:
      r = np.mean(thetas, axis=0)
    else:
      r = thetas[0]
      for th in thetas[1:]:
        r = (1 - rate) * r + rate * th
    expected[leaf] = r
  chex.assert_trees_all_close(jon.averaged_params(state), expected, rtol=1e-12)
  assert int(state[1].num_averaged) == len(GRADS) - start


def test_average_params_before_its_start_follows_the_params_and_needs_them():
  opt = jon.average_params(start_step=10)
  state = opt.init(PARAMS)
  u = jax.tree.map(jnp.ones_like, PARAMS)
  _, state = opt.update(u, state, PARAMS)
  chex.assert_trees_all_close(jon.averaged_params(state), jon.apply_updates(PARAMS, u))
  with pytest.raises(ValueError, match="needs the params"):
    opt.update(u, state)
  with pytest.raises(ValueError, match="no average_params"):
    jon.averaged_params(jon.adam(0.1).init(PARAMS))


# ----------------------------------------- flatten, conditional, small constraints


def test_flatten_keeps_one_flat_state():
  opt = jon.flatten(jon.adam(0.1))
  state = opt.init(PARAMS)
  assert state[0].mu.shape == (4,)
  u, _ = opt.update(GRADS[0], state)
  chex.assert_trees_all_close(u, jon.adam(0.1).update(GRADS[0], jon.adam(0.1).init(PARAMS))[0])


# Leaves of two float dtypes, a scalar, a frozen integer leaf, and one leaf above the
# packing threshold: with max_leaf_size=20 and max_group_leaves=2 the float64 leaves
# a, b share a buffer, c and s another, h (float32) has its own, and big passes through.
MIXED = {
  "a": jnp.linspace(-1.0, 1.0, 12).reshape(3, 4),
  "b": jnp.arange(5.0),
  "big": jnp.linspace(0.0, 1.0, 40).reshape(8, 5),
  "c": jnp.array([0.5, -0.25]),
  "h": jnp.array([1.0, -2.0], jnp.float32),
  "n": jnp.array([3, 4]),
  "s": jnp.array(2.0),
}


def _mixed_grads(k):
  grads = {name: jnp.cos(x * (k + 1)) for name, x in MIXED.items() if name != "n"}
  return {**grads, "n": np.zeros((2,), jax.dtypes.float0)}


@pytest.mark.parametrize(
  "make",
  [
    lambda: jon.adam(0.1),
    lambda: jon.sgd(0.1, momentum=0.9),
    lambda: jon.rmsprop(0.1),
    lambda: jon.adagrad(0.1),
    lambda: jon.chain(jon.clip_by_global_norm(0.5), jon.lion(0.1)),
  ],
  ids=["adam", "sgd_momentum", "rmsprop", "adagrad", "clip_then_lion"],
)
def test_pack_leaves_packs_small_leaves_and_matches_the_bare_optimizer(make):
  packed, bare = jon.pack_leaves(make(), max_leaf_size=20, max_group_leaves=2), make()
  layout = jax.tree.map(jnp.shape, packed.init(MIXED), is_leaf=lambda x: x is None)
  trees = [
    x
    for x in jax.tree.leaves(layout, is_leaf=lambda x: isinstance(x, jon.PackedLeaves))
    if isinstance(x, jon.PackedLeaves)
  ]
  assert trees and all(t == jon.PackedLeaves(((17,), (3,), (2,)), ((8, 5),)) for t in trees)
  # no state bytes beyond the bare optimizer's
  assert sum(x.nbytes for x in jax.tree.leaves(packed.init(MIXED))) == sum(
    x.nbytes for x in jax.tree.leaves(bare.init(MIXED))
  )

  def run(lr_scale):
    outs = {}
    for name, opt in (("packed", packed), ("bare", bare)):
      state, params, got = opt.init(MIXED), MIXED, []
      for k in range(3):
        # h's gradient comes in float64 (times the traced scale): packed by its param's dtype
        grads = jax.tree.map(
          lambda g: g * lr_scale if g.dtype != jax.dtypes.float0 else g, _mixed_grads(k)
        )
        updates, state = opt.update(grads, state, params)
        params = jon.apply_updates(params, updates)
        got.append(updates)
      outs[name] = got
    return outs

  outs = jax.jit(jax.vmap(run))(jnp.array([1.0, 0.5]))
  for got, want in zip(outs["packed"], outs["bare"], strict=True):
    chex.assert_trees_all_equal_shapes_and_dtypes(got, want)
    assert got["h"].dtype == jnp.float64
    # the same arithmetic on other buffers: XLA may round a fused op differently (an ulp)
    got, want = dict(got), dict(want)
    assert got.pop("n").dtype == want.pop("n").dtype == jax.dtypes.float0
    chex.assert_trees_all_close(got, want, rtol=1e-15, atol=1e-15)


def _mixed_loss(params):
  floats = [v for k, v in sorted(params.items()) if k != "n"]
  return sum(jnp.sum(jnp.sin(x * (i + 1)) ** 2) for i, x in enumerate(floats))


def test_pack_params_round_trips_and_trains_like_the_tree():
  packed, unpack = jon.pack_params(MIXED)
  assert [(x.shape, x.dtype) for x in packed.buffers] == [((60,), jnp.float64), ((2,), jnp.float32)]
  chex.assert_trees_all_equal(unpack(packed), MIXED)  # bitwise, dtypes and the int leaf
  chex.assert_trees_all_equal_shapes_and_dtypes(unpack(packed), MIXED)
  stacked = jax.tree.map(lambda x: jnp.stack([x, x + 1]), packed)  # a batch of two
  chex.assert_trees_all_equal(
    jax.vmap(unpack)(stacked), jax.tree.map(lambda x: jnp.stack([x, x + 1]), MIXED)
  )
  makes = {
    "adam": lambda: jon.adam(0.1),
    "sgd_momentum": lambda: jon.sgd(0.1, momentum=0.9),
    "rmsprop": lambda: jon.rmsprop(0.1),
    "clip_then_lion": lambda: jon.chain(jon.clip_by_global_norm(0.5), jon.lion(0.1)),
  }

  @jax.jit
  def run(packed):
    outs = {}
    for name, make in makes.items():
      finals = []
      for params, loss in ((MIXED, _mixed_loss), (packed, lambda q: _mixed_loss(unpack(q)))):
        opt = make()
        state = opt.init(params)
        for _ in range(3):
          grads = jax.grad(loss, allow_int=True)(params)
          updates, state = opt.update(grads, state, params)
          params = jon.apply_updates(params, updates)
        finals.append(params)
      outs[name] = finals
    return outs

  for name, (tree, packed_final) in run(packed).items():
    got = unpack(packed_final)
    chex.assert_trees_all_equal_shapes_and_dtypes(got, tree, custom_message=name)
    np.testing.assert_array_equal(got["n"], MIXED["n"])
    assert float(jnp.max(jnp.abs(got["a"] - MIXED["a"]))) > 0, name
    for key in got:  # XLA fuses the packed arithmetic differently: a few ulps apart
      rtol = 1e-13 if got[key].dtype == jnp.float64 else 1e-6
      np.testing.assert_allclose(got[key], tree[key], rtol=rtol, atol=0, err_msg=name + key)


def test_pack_leaves_rejects_a_bad_layout_and_names_a_mismatched_leaf():
  for kwargs in (
    {"max_leaf_size": -1},
    {"max_group_leaves": 0},
    {"max_leaf_size": 1.5},
    {"max_group_leaves": True},
  ):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"pack_leaves: argument `{name}`"):
      jon.pack_leaves(jon.sgd(0.1), **kwargs)
  opt = jon.pack_leaves(jon.adam(0.1))
  bad = {**_mixed_grads(0), "c": jnp.ones(3)}
  with pytest.raises(ValueError, match=r"\['c'\] have shape \(3,\)"):
    opt.update(bad, opt.init(MIXED), MIXED)


def test_conditionally_transform_and_mask():
  every_other = lambda step: step % 2 == 0  # noqa: E731
  for make, otherwise in (
    (jon.conditionally_transform, lambda g: g),
    (jon.conditionally_mask, lambda g: 0 * g),
  ):
    opt = make(jon.sgd(0.5, momentum=0.5), every_other)
    state = opt.init(PARAMS)
    for k, g in enumerate(GRADS[:4]):
      u, state = opt.update(g, state)
      if k % 2:
        chex.assert_trees_all_close(u, jax.tree.map(otherwise, g))
    np.testing.assert_allclose(state.inner_state[0].trace["w"], GRADS[2]["w"] + 0.5 * GRADS[0]["w"])
    assert int(state.step) == 4


def test_keep_params_nonnegative_and_centralize():
  params = {"p": jnp.array([1.0, 0.5, 2.0])}
  u, _ = jon.keep_params_nonnegative().update(
    {"p": jnp.array([-2.0, 0.2, -1.0])}, jon.EmptyState(), params
  )
  np.testing.assert_allclose(u["p"], [-1.0, 0.2, -1.0])
  m = jnp.arange(6.0).reshape(2, 3)
  u, _ = jon.centralize().update({"m": m, "v": jnp.arange(3.0)}, jon.EmptyState())
  np.testing.assert_allclose(u["m"], m - m.mean(axis=1, keepdims=True))
  np.testing.assert_allclose(u["v"], jnp.arange(3.0))
  ours, _ = jon.centralize().update({"m": m}, jon.EmptyState())
  theirs, _ = optax.centralize().update({"m": m}, optax.EmptyState())
  chex.assert_trees_all_close(ours, theirs)


def test_wrappers_pass_the_loss_to_eve():
  for wrap in (
    lambda o: jon.masked(o, {"w": True, "b": True}),
    jon.flatten,
    jon.pack_leaves,
    lambda o: jon.apply_if_finite(o, 1),
    lambda o: jon.conditionally_transform(o, lambda s: True),
    lambda o: jon.partition({"x": o}, {"w": "x", "b": "x"}),
  ):
    opt = wrap(jon.eve(0.1))
    with pytest.raises(ValueError, match="loss value"):
      opt.update(GRADS[0], opt.init(PARAMS), PARAMS)
    u, _ = opt.update(GRADS[0], opt.init(PARAMS), PARAMS, value=jnp.asarray(2.0))
    chex.assert_tree_all_finite(u)


# ------------------------------------------------------------------ cautious


@pytest.mark.parametrize("entry", REGISTRY, ids=repr)
def test_cautious_keeps_the_downhill_components_of_every_optimizer(entry):
  """Same inner states as the bare optimizer (params held still); the applied update is the
  bare one where it opposes the gradient, divided by the fraction kept per leaf, else 0."""
  bare, wrapped = entry.make(0.03), jon.cautious(entry.make(0.03))
  expected, bare_state = _rollout(bare, jax.jit(bare.update), move=False)
  got, state = _rollout(wrapped, jax.jit(wrapped.update), move=False)
  raw = lambda tree: jax.tree.map(  # noqa: E731  PRNG keys as their bits
    lambda x: jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x, tree
  )
  chex.assert_trees_all_close(raw(state.inner_state), raw(bare_state), rtol=1e-14)
  atol = atol_for(expected, 1e-13, 1e-15)
  for u, e, g in zip(got, expected, GRADS):
    for k in PARAMS:
      keep = np.asarray(e[k]) * np.asarray(g[k]) < 0
      fraction = keep.mean()
      want = np.where(keep, np.asarray(e[k]) / fraction, 0.0) if fraction else np.zeros_like(keep)
      np.testing.assert_allclose(u[k], want, rtol=1e-12, atol=atol, err_msg=f"{entry.name} {k}")


def test_cautious_sgd_is_sgd_and_a_climbing_leaf_gets_zero():
  opt = jon.cautious(jon.sgd(0.1))
  g = {"w": jnp.array([1.0, -2.0, 0.5]), "b": jnp.array(0.0, jnp.float64)}
  u, _ = opt.update(g, opt.init(PARAMS))
  np.testing.assert_allclose(u["w"], -0.1 * g["w"])  # plain SGD always points downhill
  assert float(u["b"]) == 0.0  # no component kept: zero, not 0/0
