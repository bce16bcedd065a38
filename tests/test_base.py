"""The core contract: transforms, composition, updates, validation, counters."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_notes as jon
from jaxopt_notes import _validate

TREE = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(0.5, jnp.float64)}


def test_identity_and_set_to_zero():
  u, s = jon.identity().update(TREE, jon.identity().init(TREE))
  chex.assert_trees_all_equal(u, TREE)
  assert s == jon.EmptyState()
  z, _ = jon.set_to_zero().update(TREE, jon.EmptyState())
  chex.assert_trees_all_equal(z, jax.tree.map(jnp.zeros_like, TREE))


def test_stateless_and_stateless_with_tree_map():
  double = jon.stateless(lambda u, p: jax.tree.map(lambda x, y: 2 * x + y, u, p))
  u, _ = double.update(TREE, double.init(TREE), TREE)
  chex.assert_trees_all_close(u, jax.tree.map(lambda x: 3 * x, TREE))
  neg = jon.stateless_with_tree_map(lambda u, p: -u if p is None else -u * p)
  chex.assert_trees_all_close(neg.update(TREE, None)[0], jax.tree.map(jnp.negative, TREE))
  chex.assert_trees_all_close(neg.update(TREE, None, TREE)[0], jax.tree.map(lambda x: -x * x, TREE))


def _recorder(log):
  """A transform that records the extras it was given."""

  def update(updates, state, params=None, **extra):
    log.append(extra)
    return updates, state

  return jon.GradientTransformationExtraArgs(jon.init_empty_state, update)


def test_chain_applies_in_order_and_passes_extras_only_to_those_that_take_them():
  log = []
  tx = jon.chain(jon.scale(2.0), _recorder(log), jon.clip(1.5))
  assert isinstance(tx, jon.GradientTransformationExtraArgs)
  u, state = tx.update(TREE, tx.init(TREE), TREE, value=3.0, other="x")
  chex.assert_trees_all_close(u, {"w": jnp.array([1.5, -1.5]), "b": jnp.array(1.0)})
  assert log == [{"value": 3.0, "other": "x"}]
  assert len(state) == 3


def test_chain_rejects_a_foreign_state():
  with pytest.raises(ValueError, match="member states"):
    jon.chain(jon.scale(1.0), jon.scale(2.0)).update(TREE, (jon.EmptyState(),))


def test_named_chain_keys_the_state_and_rejects_duplicates():
  tx = jon.named_chain(("mom", jon.trace(0.9)), ("lr", jon.scale(-0.1)))
  state = tx.init(TREE)
  assert set(state) == {"mom", "lr"}
  u, state = tx.update(TREE, state)
  chex.assert_trees_all_close(u, jax.tree.map(lambda x: -0.1 * x, TREE))
  chex.assert_trees_all_close(state["mom"].trace, TREE)
  with pytest.raises(ValueError, match="unique"):
    jon.named_chain(("a", jon.identity()), ("a", jon.identity()))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32, jnp.float64])
def test_apply_updates_keeps_each_param_dtype(dtype):
  params = {"p": jnp.ones(3, dtype), "skip": None}
  new = jon.apply_updates(params, {"p": jnp.full(3, 0.5, jnp.float64), "skip": None})
  assert new["p"].dtype == dtype and new["skip"] is None
  np.testing.assert_allclose(np.asarray(new["p"], np.float64), 1.5)


def test_incremental_and_periodic_updates():
  new, old = {"a": jnp.array(4.0)}, {"a": jnp.array(2.0)}
  chex.assert_trees_all_close(jon.incremental_update(new, old, 0.25), {"a": jnp.array(2.5)})
  chex.assert_trees_all_close(jon.periodic_update(new, old, jnp.asarray(6), 3), new)
  chex.assert_trees_all_close(jon.periodic_update(new, old, jnp.asarray(7), 3), old)


def test_scale_by_learning_rate_sign_and_none():
  u, _ = jon.scale_by_learning_rate(0.1).update(TREE, jon.EmptyState())
  chex.assert_trees_all_close(u, jax.tree.map(lambda x: -0.1 * x, TREE))
  u, _ = jon.scale_by_learning_rate(0.1, flip_sign=False).update(TREE, jon.EmptyState())
  chex.assert_trees_all_close(u, jax.tree.map(lambda x: 0.1 * x, TREE))
  assert jon.scale_by_learning_rate(None).update(TREE, None)[0] is TREE


def test_masked_holds_state_only_for_selected_leaves_and_leaves_others_untouched():
  tx = jon.masked(jon.trace(0.5), {"w": True, "b": False})
  state = tx.init(TREE)
  assert [x.shape for x in jax.tree.leaves(state)] == [(2,)]
  u, state = tx.update(TREE, state)
  u, state = tx.update(TREE, state)
  chex.assert_trees_all_close(u["w"], 1.5 * TREE["w"])
  assert u["b"] is TREE["b"]
  by_fn = jon.masked(jon.scale(0.0), lambda p: jax.tree.map(lambda x: x.ndim > 0, p))
  u, _ = by_fn.update(TREE, by_fn.init(TREE))
  chex.assert_trees_all_close(u, {"w": jnp.zeros(2), "b": TREE["b"]})


def test_add_decayed_weights_schedule_and_missing_params():
  tx = jon.add_decayed_weights(lambda t: 0.1 * (t + 1))
  state = tx.init(TREE)
  zeros = jax.tree.map(jnp.zeros_like, TREE)
  u, state = tx.update(zeros, state, TREE)
  u, state = tx.update(zeros, state, TREE)
  chex.assert_trees_all_close(u, jax.tree.map(lambda p: 0.2 * p, TREE))
  with pytest.raises(ValueError, match="needs the params"):
    tx.update(zeros, state)


def test_eve_without_the_loss_says_so():
  opt = jon.eve()
  with pytest.raises(ValueError, match="loss value"):
    opt.update(TREE, opt.init(TREE), TREE)
  with pytest.raises(ValueError, match="scalar loss"):
    opt.update(TREE, opt.init(TREE), TREE, value=jnp.ones(2))


def test_eve_ratio_is_clipped_and_guarded():
  from jaxopt_notes.optimizers._eve import relative_change

  assert float(relative_change(2.0, 1.0, 0.0, 10.0)) == 1.0
  assert float(relative_change(100.0, 1.0, 0.0, 10.0)) == 10.0  # clipped above
  assert float(relative_change(1.0, 1.0, 0.0, 10.0)) == pytest.approx(0.1)  # no change
  assert float(relative_change(0.0, 1.0, 0.0, 10.0)) == 10.0  # at f_star
  assert np.isfinite(float(jax.grad(relative_change)(0.0, 0.0, 0.0, 10.0)))


@pytest.mark.parametrize(
  "make,arg,value,allowed",
  [
    (lambda v: jon.adam(0.1, b1=v), "b1", 1.5, "[0, 1]"),
    (lambda v: jon.adam(0.1, eps=v), "eps", -1e-8, "[0, inf)"),
    (lambda v: jon.sgd(v), "learning_rate", float("inf"), "(-inf, inf)"),
    (lambda v: jon.rmsprop(0.1, decay=v), "decay", -0.5, "[0, 1]"),
    (lambda v: jon.clip_by_global_norm(v), "max_norm", -1.0, "[0, inf]"),
    (lambda v: jon.eve(c=v), "c", 0.5, "[1, inf)"),
    (lambda v: jon.adam(0.1, b2=v), "b2", np.array([0.9, 1.2]), "[0, 1]"),
  ],
)
def test_validation_names_the_argument_its_value_and_range(make, arg, value, allowed):
  with pytest.raises(ValueError) as err:
    make(value)
  message = str(err.value)
  assert f"`{arg}`" in message and allowed in message
  if not np.isnan(np.sum(value)) and np.ndim(value) == 0:
    assert repr(value) in message


def test_nan_learning_rate_is_named():
  with pytest.raises(ValueError, match="`learning_rate` is NaN"):
    jon.adam(float("nan"))


def test_non_numeric_hyperparameter_is_a_type_error():
  with pytest.raises(TypeError, match="`b1`"):
    jon.adam(0.1, b1="0.9")


def test_traced_hyperparameters_are_never_rejected():
  # Inside jit the (here invalid) values are tracers: validation lets them pass.
  @jax.jit
  def build_and_step(b1, lr):
    opt = jon.adam(lr, b1=b1)
    return opt.update(TREE, opt.init(TREE))[0]

  chex.assert_tree_all_finite(build_and_step(0.9, 0.1))
  build_and_step(1.5, float("nan"))  # no error at build time


def test_choice_and_count_checks():
  with pytest.raises(ValueError, match="`mode`"):
    jon.scale_by_lion(mode="soft")
  with pytest.raises(ValueError, match="positive integer"):
    _validate.check_positive_int("f", "k", 0)
  _validate.check_positive_int("f", "k", 3)


def test_safe_increment_saturates_for_ints_and_floats():
  top = jnp.iinfo(jnp.int32).max
  assert int(jon.tree.safe_increment(jnp.asarray(top, jnp.int32))) == top
  assert int(jon.tree.safe_increment(jnp.asarray(5, jnp.int32))) == 6
  big = jnp.finfo(jnp.float32).max
  assert float(jon.tree.safe_increment(jnp.asarray(big, jnp.float32))) == float(big)


def test_tree_helpers():
  t = {"a": jnp.array([3.0]), "b": jnp.array([4.0]), "skip": None}
  assert float(jon.tree.norm(t)) == 5.0
  assert float(jon.tree.norm(t, squared=True)) == 25.0
  assert float(jon.tree.vdot(t, t)) == 25.0
  assert float(jon.tree.sum(t)) == 7.0
  z = jon.tree.zeros_like(t, dtype=jnp.bfloat16)
  assert z["a"].dtype == jnp.bfloat16 and z["skip"] is None
  chex.assert_trees_all_close(jon.tree.add_scale(t, 2.0, t)["a"], jnp.array([9.0]))
  np.testing.assert_allclose(jon.tree.bias_correction({"m": jnp.array(0.1)}, 0.9, 1)["m"], 1.0)
  assert float(jon.tree.safe_norm(jnp.zeros(3), 1e-3)) == 1e-3
  assert np.isfinite(jax.grad(lambda x: jon.tree.safe_norm(x, 0.0))(jnp.zeros(3))).all()


def test_low_precision_bias_correction_does_not_divide_by_zero():
  # 1 - 0.999 rounds to 0 in bfloat16; the factor is computed in float32 first.
  opt = jon.adam(0.1)
  p = {"w": jnp.ones(2, jnp.bfloat16)}
  u, _ = opt.update({"w": jnp.full(2, 0.5, jnp.bfloat16)}, opt.init(p))
  assert u["w"].dtype == jnp.bfloat16
  np.testing.assert_allclose(np.asarray(u["w"], np.float32), -0.1, rtol=1e-2)


def test_mu_dtype_stores_the_first_moment_in_bfloat16():
  opt = jon.adam(0.1, mu_dtype=jnp.bfloat16)
  p = {"w": jnp.ones(4, jnp.float32)}
  state = opt.init(p)
  _, state2 = opt.update({"w": jnp.ones(4, jnp.float32)}, state)
  for s in (state, state2):
    assert s[0].mu["w"].dtype == jnp.bfloat16 and s[0].nu["w"].dtype == jnp.float32


def test_non_finite_gradients_are_never_hidden():
  nan = {"w": jnp.array([jnp.nan, 1.0])}
  for opt in (jon.adam(0.1), jon.adagrad(0.1), jon.rmsprop(0.1), jon.adadelta(), jon.yogi(0.1)):
    u, _ = opt.update(nan, opt.init(nan), nan)
    assert bool(jnp.isnan(u["w"][0])), opt


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_stochastic_rounding_of_apply_updates_is_unbiased(dtype):
  """The mean over many keys is the exact sum, within 5 standard errors of the mean (a
  rounding to nearest misses by up to half a gap, hundreds of standard errors)."""
  wide = jnp.float32 if dtype != jnp.float32 else jnp.float64
  params = jnp.asarray([1.0, -1.0, 3.0, 1e-3, -250.0, 0.0, 1.0, 2.0**-20], dtype)
  updates = jnp.asarray([1e-4, 3e-5, -1e-3, 1e-7, 0.7, 1e-6, 0.0, -3e-7], wide)
  n = 4000
  keys = jax.random.split(jax.random.key(7), n)
  out = jax.jit(jax.vmap(lambda k: jon.apply_updates(params, updates, key=k)))(keys)
  assert out.dtype == dtype
  exact = np.asarray(params, np.float64) + np.asarray(updates, np.float64)
  out = np.asarray(out.astype(jnp.float64))
  down = np.asarray(jnp.asarray(exact, wide).astype(dtype).astype(jnp.float64))
  up = np.asarray(
    jnp.nextafter(
      jnp.asarray(down, dtype), jnp.asarray(np.where(exact > down, np.inf, -np.inf), dtype)
    ).astype(jnp.float64)
  )
  assert np.all((out == down) | (out == up))  # one of the two neighbours
  gap = np.abs(up - down)
  err = np.abs(out.mean(axis=0) - exact)
  assert np.all(err <= 5 * gap / (2 * np.sqrt(n)) + 1e-300), (err, gap)
  assert np.any(out[:, 0] != out[0, 0])  # it does round at random


def test_apply_updates_without_key_or_with_a_wide_param_is_unchanged():
  params = {
    "a": jnp.asarray([1.0, 2.0, jnp.nan, jnp.inf], jnp.bfloat16),
    "b": jnp.asarray([1.0, 2.0], jnp.float32),
    "c": None,
  }
  updates = {
    "a": jnp.asarray([1e-3, -1e-3, 1.0, 1.0], jnp.float32),
    "b": jnp.asarray([1e-9, 0.5], jnp.float32),
    "c": None,
  }
  plain = jon.apply_updates(params, updates)
  chex.assert_trees_all_equal(plain["a"], (params["a"] + updates["a"]).astype(jnp.bfloat16))
  keyed = jon.apply_updates(params, updates, key=jax.random.key(0))
  chex.assert_trees_all_equal(keyed["b"], plain["b"])  # float32 params: nothing to round
  assert keyed["c"] is None
  assert jnp.isnan(keyed["a"][2]) and keyed["a"][3] == jnp.inf  # non-finite kept


def test_stochastic_rounding_adds_bfloat16_updates_in_float32():
  """bfloat16 params and updates: the sum is taken in float32 before it is rounded."""
  p, u = jnp.ones(2000, jnp.bfloat16), jnp.full(2000, 2e-3, jnp.bfloat16)
  assert jnp.all(jon.apply_updates(p, u) == 1)
  moved = jon.apply_updates(p, u, key=jax.random.key(3)).astype(jnp.float32)
  assert abs(float(moved.mean()) - 1 - float(u[0])) < 5 * 2**-7 / (2 * np.sqrt(2000))
