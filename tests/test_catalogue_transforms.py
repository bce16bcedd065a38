"""The transforms users wrap around optimizers: each against optax and against its definition."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_notes as jon

RNG = np.random.default_rng(3)
PARAMS = {
  "w": jnp.asarray(RNG.normal(size=(4, 3))),
  "b": jnp.asarray(RNG.normal(size=3)),
  "conv": jnp.asarray(RNG.normal(size=(2, 2, 3, 5))),
}
GRADS = jax.tree.map(lambda p: jnp.asarray(RNG.normal(size=p.shape)) * 3.0, PARAMS)
BATCH = jax.tree.map(lambda p: jnp.asarray(RNG.normal(size=(6, *p.shape))), PARAMS)


def _same(ours, theirs, rtol=1e-12):
  chex.assert_trees_all_close(ours, theirs, rtol=rtol, atol=1e-15)


@pytest.mark.parametrize(
  "make",
  [
    lambda m: m.adaptive_grad_clip(0.1),
    lambda m: m.adaptive_grad_clip(0.5, eps=2.0, axis=0),
    lambda m: m.normalize_by_update_norm(0.5),
    lambda m: m.scale_by_param_block_norm(1e-3),
    lambda m: m.scale_by_param_block_rms(0.7),
  ],
)
def test_stateless_transforms_equal_optax(make):
  ours, theirs = make(jon), make(optax)
  _same(
    ours.update(GRADS, ours.init(PARAMS), PARAMS)[0],
    theirs.update(GRADS, theirs.init(PARAMS), PARAMS)[0],
  )


def test_adaptive_grad_clip_clips_each_unit_to_a_fraction_of_its_params():
  clipping, eps = 0.2, 1e-3
  tx = jon.adaptive_grad_clip(clipping, eps)
  out, _ = tx.update(GRADS, tx.init(PARAMS), PARAMS)
  w, g = np.asarray(PARAMS["w"]), np.asarray(GRADS["w"])
  for j in range(w.shape[1]):  # (in, out): a unit is a column
    bound = clipping * max(np.linalg.norm(w[:, j]), eps)
    expected = (
      g[:, j] if np.linalg.norm(g[:, j]) < bound else g[:, j] * bound / np.linalg.norm(g[:, j])
    )
    np.testing.assert_allclose(out["w"][:, j], expected, rtol=1e-12)
  assert np.linalg.norm(out["b"]) <= clipping * np.linalg.norm(PARAMS["b"]) * (1 + 1e-12)


def test_transforms_that_read_params_say_so():
  for tx in (
    jon.adaptive_grad_clip(0.1),
    jon.scale_by_param_block_rms(),
    jon.scale_by_param_block_norm(),
  ):
    with pytest.raises(ValueError, match="params"):
      tx.update(GRADS, tx.init(PARAMS))


@pytest.mark.parametrize(
  "make,bad",
  [
    (lambda v: jon.adaptive_grad_clip(v), -1.0),
    (lambda v: jon.adaptive_grad_clip(0.1, eps=v), -1.0),
    (lambda v: jon.normalize_by_update_norm(eps=v), -1.0),
    (lambda v: jon.scale_by_param_block_rms(v), float("nan")),
  ],
)
def test_invalid_concrete_hyperparameters_are_rejected(make, bad):
  with pytest.raises(ValueError, match="argument"):
    make(bad)


@pytest.mark.parametrize(
  "make",
  [
    lambda v: jon.adaptive_grad_clip(v),
    lambda v: jon.normalize_by_update_norm(v),
    lambda v: jon.scale_by_param_block_rms(v),
    lambda v: jon.scale_by_param_block_norm(v),
  ],
)
def test_hyperparameters_trace_under_jit_and_vmap(make):
  values = jnp.array([0.05, 0.5, 3.0])

  def run(v):
    tx = make(v)
    return tx.update(GRADS, tx.init(PARAMS), PARAMS)[0]

  swept = jax.jit(jax.vmap(run))(values)
  for i, v in enumerate(values):
    _same(jax.tree.map(lambda x: x[i], swept), run(float(v)))


@pytest.mark.parametrize(
  "tx",
  [
    jon.adaptive_grad_clip(0.1),
    jon.normalize_by_update_norm(),
    jon.scale_by_param_block_rms(),
    jon.scale_by_param_block_norm(),
  ],
  ids=["agc", "normalize", "block_rms", "block_norm"],
)
def test_dtypes_are_kept(tx):
  for dtype in (jnp.bfloat16, jnp.float16, jnp.float32):
    params, grads = (jax.tree.map(lambda x: x.astype(dtype), t) for t in (PARAMS, GRADS))
    out, _ = jax.jit(tx.update)(grads, tx.init(params), params)
    chex.assert_trees_all_equal_dtypes(out, params)
    chex.assert_tree_all_finite(out)


@pytest.mark.parametrize("clip", [0.5, 3.0, 100.0])
def test_per_example_global_norm_clip(clip):
  ours, n_ours = jon.per_example_global_norm_clip(BATCH, clip)
  theirs, n_theirs = optax.per_example_global_norm_clip(BATCH, clip)
  _same(ours, theirs)
  assert int(n_ours) == int(n_theirs)
  norms = [
    np.sqrt(sum(np.sum(np.asarray(x[b]) ** 2) for x in jax.tree.leaves(BATCH))) for b in range(6)
  ]
  expected = {
    k: sum(np.asarray(v[b]) * min(1.0, clip / norms[b]) for b in range(6)) for k, v in BATCH.items()
  }
  _same(ours, expected, rtol=1e-10)
  assert int(n_ours) == sum(n > clip for n in norms)


def test_per_example_clip_of_a_zero_gradient_is_finite():
  zeros = jax.tree.map(jnp.zeros_like, BATCH)
  out, n = jon.per_example_global_norm_clip(zeros, 1.0)
  chex.assert_tree_all_finite(out)
  assert int(n) == 0


def _dp_sgd_sum(grads, clip):
  """DP-SGD's clipped sum in numpy: each example's whole gradient scaled to norm <= clip."""
  leaves = [np.asarray(x, np.float64) for x in jax.tree.leaves(grads)]
  norms = [np.sqrt(sum(np.sum(x[b] ** 2) for x in leaves)) for b in range(len(leaves[0]))]
  factors = [min(1.0, clip / n) if n > 0 else 1.0 for n in norms]
  sums = [sum(f * x[b] for b, f in enumerate(factors)) for x in leaves]
  return jax.tree.unflatten(jax.tree.structure(grads), sums), sum(f < 1 for f in factors)


@pytest.mark.parametrize("clip", [0.0, 1.0, 1.25, 5.0, float("inf")])
def test_per_example_clip_counts_integer_leaves_in_the_norm(clip):
  # optax's own example (integer gradients) and a tree mixing integer and float
  # leaves: every entry of an example's gradient counts in its norm.
  for grads in (
    [jnp.array([[0, 0, 0], [0, 3, 4], [4, 0, 3], [3, 4, 0]])],
    {"w": jnp.array([[0.6, 0.8], [0.3, 0.4]]), "n": jnp.array([[1], [2]])},
  ):
    ours, n_ours = jon.per_example_global_norm_clip(grads, clip)
    theirs, n_theirs = optax.per_example_global_norm_clip(grads, clip)
    expected, n_expected = _dp_sgd_sum(grads, clip)
    _same(ours, expected, rtol=1e-6)
    _same(ours, theirs, rtol=1e-6)
    assert int(n_ours) == int(n_theirs) == n_expected


@pytest.mark.parametrize("uniform", [True, False])
def test_per_example_layer_norm_clip_equals_optax(uniform):
  ours = jon.per_example_layer_norm_clip(BATCH, 2.0, uniform=uniform)
  theirs = optax.per_example_layer_norm_clip(BATCH, 2.0, uniform=uniform)
  _same(ours[0], theirs[0])
  assert jax.tree.map(int, ours[1]) == jax.tree.map(int, theirs[1])


def test_per_example_clips_want_a_batch_axis():
  with pytest.raises(ValueError, match="batch"):
    jon.per_example_global_norm_clip({"s": jnp.array(1.0)}, 1.0)


def test_scale_gradient_scales_only_the_backward_pass():
  def loss(p, s, lib):
    return jnp.sum(lib.scale_gradient(p, s) ** 2)

  p = jnp.array([1.0, -2.0])
  for s in (0.0, 1.0, 0.3, -2.0):
    assert float(loss(p, s, jon)) == float(loss(p, s, optax))
    _same(jax.grad(loss)(p, s, jon), jax.grad(loss)(p, s, optax))
    _same(jax.grad(loss)(p, s, jon), s * 2 * p)
  traced = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0, None)), static_argnums=2)
  _same(traced(p, jnp.array([0.5, 2.0]), jon), jnp.stack([p, 4 * p]))


def test_selective_transform_equals_optax_and_keeps_no_state_for_frozen_leaves():
  mask = {"w": True, "b": False, "conv": False}
  ours = jon.selective_transform(jon.adam(0.1), freeze_mask=mask)
  theirs = optax.selective_transform(optax.adam(0.1), freeze_mask=mask)
  s1, s2 = ours.init(PARAMS), theirs.init(PARAMS)
  for _ in range(3):
    u1, s1 = ours.update(GRADS, s1, PARAMS)
    u2, s2 = theirs.update(GRADS, s2, PARAMS)
    _same(u1, u2)
  np.testing.assert_array_equal(u1["w"], 0.0)
  assert not isinstance(s1.inner_states["train"].inner_state[0].mu["w"], jax.Array)


def test_freeze_equals_optax():
  mask = {"w": True, "b": False, "conv": True}
  ours, theirs = jon.freeze(mask), optax.freeze(mask)
  _same(ours.update(GRADS, ours.init(PARAMS))[0], theirs.update(GRADS, theirs.init(PARAMS))[0])


@pytest.mark.parametrize("norm_sq", ["below", "equal", "above"])
def test_skip_large_updates_equals_optax_at_the_boundary(norm_sq):
  sq = float(optax.tree.norm(GRADS, squared=True))
  bound = {"below": sq * 2, "equal": sq, "above": sq / 2}[norm_sq]
  ours = jon.skip_large_updates(GRADS, 0, None, bound)
  theirs = optax.skip_large_updates(GRADS, 0, None, bound)
  assert bool(ours[0]) == bool(theirs[0])
  _same(ours[1], theirs[1])


def test_skip_not_finite_equals_optax():
  bad = dict(GRADS, b=jnp.array([jnp.nan, 1.0, jnp.inf]))
  for grads in (GRADS, bad):
    ours, theirs = jon.skip_not_finite(grads, 0, None), optax.skip_not_finite(grads, 0, None)
    assert bool(ours[0]) == bool(theirs[0])
    assert int(ours[1]["num_not_finite"]) == int(theirs[1]["num_not_finite"])


def test_snapshot_monitor_and_measure_with_ema_equal_optax():
  def build(lib):
    return lib.chain(
      lib.snapshot("grad_norm", lib.tree.norm),
      lib.clip_by_global_norm(1.0),
      lib.monitor(
        {"clipped_norm": lib.tree.norm, "smooth": lib.measure_with_ema(lib.tree.norm, 0.8)}
      ),
      lib.sgd(0.1),
    )

  ours, theirs = build(jon), build(optax)
  s1, s2 = ours.init(PARAMS), theirs.init(PARAMS)
  for k in range(3):
    g = jax.tree.map(lambda x: x * (k + 1), GRADS)
    u1, s1 = jax.jit(ours.update)(g, s1, PARAMS)
    u2, s2 = theirs.update(g, s2, PARAMS)
    _same(u1, u2)
    _same(s1[0].measurement, s2[0].measurement)
    _same(s1[2].measurements, s2[2].measurements)
  grad_norm = float(s1[0].measurement["grad_norm"])
  np.testing.assert_allclose(grad_norm, 3 * float(jon.tree.norm(GRADS)), rtol=1e-12)
  np.testing.assert_allclose(s1[2].measurements["clipped_norm"], 1.0, rtol=1e-12)
  # debiased EMA of a constant (clipped to 1) is that constant
  np.testing.assert_allclose(s1[2].measurements["smooth"], 1.0, rtol=1e-12)


def test_monitor_passes_extra_arguments_and_keeps_one_trace():
  seen = []

  def measure(updates, state, params=None, **extra):
    seen.append(sorted(extra))
    return extra.get("value", jnp.zeros([])), state

  tx = jon.monitor(
    {"loss": jon.GradientTransformationExtraArgs(lambda p: jon.EmptyState(), measure)}
  )
  state = tx.init(PARAMS)
  chex.clear_trace_counter()

  @jax.jit
  @chex.assert_max_traces(n=1)
  def step(grads, state, value):
    return tx.update(grads, state, PARAMS, value=value)

  for v in (1.0, 0.5):
    out, state = step(GRADS, state, value=jnp.asarray(v, jnp.float64))
  assert float(state.measurements["loss"]) == 0.5
  _same(out, GRADS)
  assert seen[-1] == ["value"]


@pytest.mark.parametrize(
  "make",
  [lambda m: m.adam(0.1), lambda m: m.sgd(0.1, 0.9), lambda m: m.chain(m.clip(1.0), m.adamw(0.1))],
)
def test_tree_map_params_equals_optax(make):
  specs = {"w": "rows", "b": None, "conv": "channels"}
  ours, theirs = make(jon), make(optax)
  a = jon.tree_map_params(
    ours,
    lambda _, spec: spec,
    ours.init(PARAMS),
    specs,
    transform_non_params=lambda _: "replicated",
  )
  b = optax.tree_map_params(
    theirs,
    lambda _, spec: spec,
    theirs.init(PARAMS),
    specs,
    transform_non_params=lambda _: "replicated",
  )
  assert jax.tree.leaves(a, is_leaf=lambda x: x is None) == jax.tree.leaves(
    b, is_leaf=lambda x: x is None
  )
  halves = jon.tree_map_params(ours, lambda x: x.astype(jnp.bfloat16), ours.init(PARAMS))
  for leaf in jax.tree.leaves(halves):
    assert leaf.dtype == (jnp.int32 if leaf.ndim == 0 else jnp.bfloat16)


def test_monitor_state_keeps_one_structure_where_optax_starts_empty():
  """Our init measures the params, so init and step states match (one trace of a
  jitted step); optax starts with no measurements. Classes and fields agree."""
  ours, theirs = jon.monitor({"n": jon.tree.norm}), optax.monitor({"n": optax.tree.norm})
  s0, t0 = ours.init(PARAMS), theirs.init(PARAMS)
  s1, t1 = ours.update(GRADS, s0, PARAMS)[1], theirs.update(GRADS, t0, PARAMS)[1]
  chex.assert_trees_all_equal_shapes_and_dtypes(s0, s1)
  assert t0.measurements == {} and type(s0).__name__ == type(t0).__name__
  assert s0._fields == t0._fields
  _same(s1.measurements, t1.measurements)
