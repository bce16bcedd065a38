"""The names added for optax's surface, compared with optax (a test-only oracle) in float64."""

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_notes as jon

RNG = np.random.default_rng(0)
TREE = {
  "a": jnp.asarray(RNG.normal(size=(3, 2))),
  "b": [jnp.asarray(RNG.normal(size=4)), jnp.asarray(-1.5)],
}
OTHER = jax.tree.map(lambda x: x + 0.25, TREE)
SPD = (lambda m: m @ m.T + 0.5 * jnp.eye(4))(jnp.asarray(RNG.normal(size=(4, 4))))


def _close(ours, theirs, rtol=1e-12, atol=1e-12):
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=rtol, atol=atol), ours, theirs)


# (name, arguments) for functions of optax.tree that compute something
TREE_CASES = [
  ("div", (TREE, OTHER)),
  ("mul", (TREE, OTHER)),
  ("conj", (TREE,)),
  ("real", (TREE,)),
  ("max", (TREE,)),
  ("min", (TREE,)),
  ("size", (TREE,)),
  ("clip", (TREE, -0.5, 0.7)),
  ("clip", (TREE, None, 0.1)),
  ("batch_shape", (TREE, (2, 1))),
  ("allclose", (TREE, OTHER)),
  ("allclose", (TREE, TREE)),
  ("add", (TREE, OTHER, TREE)),
  ("sum", (TREE,)),
  ("vdot", (TREE, OTHER)),
  ("norm", (TREE,)),
  ("norm", (TREE, 1)),
  ("norm", (TREE, "inf")),
  ("norm", (TREE, 1, True)),
  ("norm", (TREE, jnp.inf)),
]


@pytest.mark.parametrize("name,args", TREE_CASES, ids=[c[0] for c in TREE_CASES])
def test_tree_functions_match_optax(name, args):
  _close(getattr(jon.tree, name)(*args), getattr(optax.tree, name)(*args))


def test_tree_sum_associative_reduction_matches():
  _close(jon.tree.sum(TREE, associative_reduction=True), optax.tree.sum(TREE))


@pytest.mark.parametrize("handler", [None, "promote", "highest", "lowest"])
def test_tree_dtype_matches_optax(handler):
  same = {"a": jnp.zeros(2, jnp.float32), "b": jnp.zeros(1, jnp.float32)}
  mixed = {"a": jnp.zeros(2, jnp.float16), "b": jnp.zeros(1, jnp.float32)}
  assert jon.tree.dtype(same, handler) == optax.tree.dtype(same, handler)
  if handler is None:
    with pytest.raises(ValueError, match="mixed_dtype_handler"):
      jon.tree.dtype(mixed)
  else:
    assert jon.tree.dtype(mixed, handler) == optax.tree.dtype(mixed, handler)


def test_unwrap_random_key_data_matches_optax():
  tree = {"k": jax.random.key(3), "x": jnp.ones(2)}
  _close(jon.tree.unwrap_random_key_data(tree), optax.tree.unwrap_random_key_data(tree))


@functools.cache
def _states():
  """(our state, optax's state) of one optimizer after two steps with a scheduled rate."""
  schedule = lambda c: 0.1 / (c + 1)  # noqa: E731
  ours = jon.chain(
    jon.add_noise(0.1, 0.5, key=0), jon.inject_hyperparams(jon.adam)(learning_rate=schedule, b1=0.8)
  )
  theirs = optax.chain(
    optax.add_noise(0.1, 0.5, key=0),
    optax.inject_hyperparams(optax.adam)(learning_rate=schedule, b1=0.8),
  )
  s_o, s_t = ours.init(TREE), theirs.init(TREE)
  for _ in range(2):
    _, s_o = ours.update(TREE, s_o, TREE)
    _, s_t = theirs.update(TREE, s_t, TREE)
  return s_o, s_t


def test_tree_get_reads_the_injected_learning_rate_like_optax():
  ours, theirs = _states()
  is_array = lambda path, value: isinstance(value, jax.Array)  # noqa: E731
  _close(
    jon.tree.get(ours, "learning_rate"), optax.tree.get(theirs, "learning_rate", filtering=is_array)
  )
  # The value used by the last of the two steps, taken at count 1.
  assert float(jon.tree.get(ours, "learning_rate")) == pytest.approx(0.1 / 2, rel=1e-12)
  assert jon.tree.get(ours, "no_such_name", default=7) == 7
  with pytest.raises(KeyError, match="count"):
    jon.tree.get(ours, "count")
  adam_count = lambda path, value: str(path[-1]) == "ScaleByAdamState.count"  # noqa: E731
  assert int(jon.tree.get(ours, "count", filtering=adam_count)) == 2
  assert type(jon.tree.get(ours, "AddNoiseState")).__name__ == "AddNoiseState"


def test_tree_get_all_with_path_gives_optax_paths():
  ours, theirs = _states()
  keystr = jax.tree_util.keystr
  paths = [keystr(p) for p, _ in jon.tree.get_all_with_path(ours, "count")]
  assert paths == [
    "[0]AddNoiseState.count",
    "[1]InjectHyperparamsState.count",
    "[1]InjectHyperparamsState.inner_state[0]ScaleByAdamState.count",
  ]
  theirs_paths = [keystr(p) for p, _ in optax.tree.get_all_with_path(theirs, "mu")]
  assert [keystr(p) for p, _ in jon.tree.get_all_with_path(ours, "mu")] == [
    p.replace("InjectStatefulHyperparamsState", "InjectHyperparamsState") for p in theirs_paths
  ]


def test_tree_set_replaces_values_and_rejects_unknown_names():
  ours, _ = _states()
  new = jon.tree.set(ours, learning_rate=jnp.asarray(0.5))
  assert float(jon.tree.get(new, "learning_rate")) == 0.5
  assert jax.tree.structure(new) == jax.tree.structure(ours)
  only_noise = lambda path, value: "AddNoiseState" in str(path[-1])  # noqa: E731
  new = jon.tree.set(ours, only_noise, count=jnp.asarray(9, jnp.int32))
  assert int(new[0].count) == 9 and int(new[1].count) == 2
  with pytest.raises(KeyError, match="nope"):
    jon.tree.set(ours, nope=1)


def test_tree_set_matches_optax_on_a_flat_state():
  params = jnp.ones(3)
  ours = jon.adam(0.1).init(params)
  theirs = optax.adam(0.1).init(params)
  new_ours = jon.tree.set(ours, mu=jnp.full(3, 2.0))
  new_theirs = optax.tree.set(theirs, mu=jnp.full(3, 2.0))
  _close(tuple(new_ours[0]), tuple(new_theirs[0]))


def test_tree_utils_spellings_and_deprecations():
  assert jon.tree_utils.tree_get is jon.tree.get
  assert jon.tree_utils.tree_norm is jon.tree.norm
  with pytest.warns(DeprecationWarning, match="tree.norm"):
    l1 = jon.tree_utils.tree_l1_norm
  _close(l1(TREE), jon.tree.norm(TREE, ord=1))
  with pytest.raises(AttributeError):
    jon.tree_utils.tree_nothing  # noqa: B018


def test_apply_every_matches_optax():
  ours, theirs = jon.apply_every(3), optax.apply_every(3)
  s_o, s_t = ours.init(TREE), theirs.init(TREE)
  step = jax.jit(ours.update)
  for i in range(7):
    g = jax.tree.map(lambda x, i=i: x * (i + 1), TREE)
    u_o, s_o = step(g, s_o)
    u_t, s_t = theirs.update(g, s_t)
    _close(u_o, u_t)
    _close(s_o.grad_acc, s_t.grad_acc)
    assert int(s_o.count) == int(s_t.count)
  assert type(s_o).__name__ == "ApplyEvery" and s_o._fields == s_t._fields


def test_inject_stateful_hyperparams_matches_optax():
  schedule = lambda c: 0.1 / (c + 1)  # noqa: E731
  ours = jon.inject_stateful_hyperparams(jon.adam)(learning_rate=schedule)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    theirs = optax.inject_stateful_hyperparams(optax.adam)(learning_rate=schedule)
  s_o, s_t = ours.init(TREE), theirs.init(TREE)
  for _ in range(3):
    u_o, s_o = ours.update(TREE, s_o, TREE)
    u_t, s_t = theirs.update(TREE, s_t, TREE)
    _close(u_o, u_t)
  assert s_o._fields == s_t._fields
  _close(s_o.hyperparams, s_t.hyperparams)
  assert int(s_o.hyperparams_states["learning_rate"].count) == 3


class _LossDriven:
  """A stateful schedule halving the rate whenever the loss given to ``update`` rises."""

  def init(self):
    return {"rate": jnp.asarray(1.0), "best": jnp.asarray(jnp.inf)}

  def update(self, state, value=None, **extra):
    del extra
    worse = value > state["best"]
    return {
      "rate": jnp.where(worse, state["rate"] / 2, state["rate"]),
      "best": jnp.minimum(state["best"], value),
    }

  def __call__(self, state, **extra):
    del extra
    return state["rate"]


def test_stateful_schedule_reads_extra_args_and_matches_optax():
  assert isinstance(_LossDriven(), jon.schedules.StatefulSchedule)
  ours = jon.inject_hyperparams(jon.sgd)(learning_rate=_LossDriven())
  theirs = optax.inject_hyperparams(optax.sgd)(learning_rate=_LossDriven())
  s_o, s_t = ours.init(TREE), theirs.init(TREE)
  assert type(s_o).__name__ == "InjectStatefulHyperparamsState"
  for loss in [3.0, 2.0, 2.5, 1.0]:
    u_o, s_o = ours.update(TREE, s_o, TREE, value=jnp.asarray(loss))
    u_t, s_t = theirs.update(TREE, s_t, TREE, value=jnp.asarray(loss))
    _close(u_o, u_t)
  assert float(jon.tree.get(s_o, "rate")) == 0.5


def test_wrapped_schedule():
  wrapped = jon.WrappedSchedule(lambda c: 2.0 * c)
  state = wrapped.update(wrapped.update(wrapped.init()))
  assert float(wrapped(state)) == 4.0


@pytest.mark.parametrize("x", [jnp.zeros(3), jnp.array([3.0, 4.0]), jnp.array([1e-3, 0.0])])
def test_safe_norm_and_rms_match_optax_with_gradients(x):
  both = jax.jit(lambda f, x: (f(x, 0.01), jax.grad(f)(x, 0.01)), static_argnums=0)
  for ours, theirs in [
    (jon.safe_norm, optax.safe_norm),
    (jon.safe_root_mean_squares, optax.safe_root_mean_squares),
  ]:
    _close(both(ours, x), both(theirs, x))


@pytest.mark.parametrize(
  "kwargs", [dict(ord=1), dict(axis=1), dict(axis=1, keepdims=True), dict(ord=jnp.inf, axis=0)]
)
def test_safe_norm_options_match_optax(kwargs):
  x = jnp.asarray([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
  both = jax.jit(
    lambda f, y: (f(y, 0.5, **kwargs), jax.grad(lambda z: jnp.sum(f(z, 0.5, **kwargs)))(y)),
    static_argnums=0,
  )
  _close(both(jon.safe_norm, x), both(optax.safe_norm, x))


def test_safe_increment_saturates():
  top = jnp.asarray(np.iinfo(np.int32).max, jnp.int32)
  assert int(jon.safe_int32_increment(top)) == int(top)
  assert int(jon.safe_increment(jnp.asarray(4, jnp.int32))) == 5


def test_moment_helpers_match_optax():
  for name, last in [
    ("update_moment", 2),
    ("update_moment", 3),
    ("update_moment_per_elem_norm", 2),
    ("update_moment_per_elem_norm", 4),
    ("update_infinity_moment", 1e-3),
  ]:
    _close(
      getattr(jon, name)(TREE, OTHER, 0.9, last), getattr(optax.tree, name)(TREE, OTHER, 0.9, last)
    )
  # An odd order averages |g|^order, the norm's power (optax's averages g^order for real g).
  _close(
    jon.update_moment_per_elem_norm(TREE, OTHER, 0.9, 3),
    jax.tree.map(lambda g, m: 0.1 * np.abs(g) ** 3 + 0.9 * m, TREE, OTHER),
  )
  _close(
    jon.bias_correction(TREE, 0.9, jnp.asarray(3)),
    optax.tree.bias_correction(TREE, 0.9, jnp.asarray(3)),
  )


def test_global_norm_warns_like_optax():
  with pytest.warns(DeprecationWarning, match="tree.norm"):
    value = jon.global_norm(TREE)
  _close(value, jon.tree.norm(TREE))


def test_power_iteration_matches_optax_and_numpy():
  run = jax.jit(lambda f, m: f(m, num_iters=500, error_tolerance=1e-12), static_argnums=0)
  value, vector = run(jon.power_iteration, SPD)
  theirs, their_vector = run(optax.power_iteration, SPD)
  _close(value, theirs)
  _close(vector, their_vector, rtol=1e-9, atol=1e-9)
  _close(value, np.linalg.eigvalsh(np.asarray(SPD))[-1], rtol=1e-10)
  mvp = lambda v: {"x": SPD @ v["x"]}  # noqa: E731
  tree_value, _ = jon.power_iteration(
    mvp, v0={"x": jnp.ones(4)}, error_tolerance=1e-12, num_iters=500
  )
  _close(tree_value, value, rtol=1e-10)
  with pytest.raises(ValueError, match="v0"):
    jon.power_iteration(mvp)


@pytest.mark.parametrize("p", [2, 4])
def test_matrix_inverse_pth_root_matches_optax(p):
  root, error = jax.jit(jon.matrix_inverse_pth_root, static_argnums=1)(SPD, p)
  theirs, their_error = jax.jit(optax.matrix_inverse_pth_root, static_argnums=1)(SPD, p)
  _close(root, theirs, rtol=1e-9, atol=1e-12)
  _close(error, their_error, rtol=1e-6, atol=1e-12)


def test_matrix_inverse_pth_root_any_p_against_numpy():
  w, v = np.linalg.eigh(np.asarray(SPD))
  for p in (1, 3):
    root, _ = jon.matrix_inverse_pth_root(SPD, p, ridge_epsilon=0.0, error_tolerance=1e-12)
    _close(root, (v * w ** (-1.0 / p)) @ v.T, rtol=1e-8, atol=1e-10)
  with pytest.raises(ValueError, match="`p`"):
    jon.matrix_inverse_pth_root(SPD, 0)


def test_nnls_matches_optax():
  a = jnp.asarray(RNG.normal(size=(5, 3)))
  for b in (jnp.asarray(RNG.normal(size=5)), jnp.asarray(RNG.normal(size=(5, 2)))):
    _close(
      jax.jit(jon.nnls, static_argnums=2)(a, b, 200),
      jax.jit(optax.nnls, static_argnums=2)(a, b, 200),
    )
  _close(jon.nnls(a, b, 5, L=100.0), optax.nnls(a, b, 5, L=100.0))
  with pytest.raises(ValueError, match="shape"):
    jon.nnls(a, jnp.ones(4), 10)


def test_multi_normal_matches_optax():
  loc, log_scale = jnp.asarray([0.5, -1.0]), jnp.asarray([0.1, -0.3])
  x = jnp.asarray([[0.2, 0.1], [1.0, -2.0]])

  @functools.partial(jax.jit, static_argnums=0)
  def run(lib, loc, log_scale):
    dist = lib.multi_normal(loc, log_scale)
    return dist.log_prob(x), dist.sample((3,), jax.random.PRNGKey(1)), dist.params, dist.log_scale

  _close(run(jon, loc, log_scale), run(optax, loc, log_scale))


def test_unitwise_norm_and_clip_match_optax():
  @functools.partial(jax.jit, static_argnums=0)
  def run(lib, x):
    g_norm = lib.transforms.unitwise_norm(x)
    return (
      g_norm,
      lib.transforms.unitwise_norm(x, axis=-1),
      lib.transforms.unitwise_clip(g_norm, jnp.full(x.shape, 0.7), x),
    )

  for x in (
    jnp.asarray(RNG.normal(size=(3, 4))),
    jnp.asarray(RNG.normal(size=(2, 2, 3, 4))),
    jnp.asarray(RNG.normal(size=5)),
  ):
    _close(run(jon, x), run(optax, x))
  with pytest.raises(ValueError, match="one shape"):
    jon.transforms.unitwise_clip(jnp.ones(2), jnp.ones(3), jnp.ones(2))


def test_projection_vector_matches_optax():
  _close(
    jon.projections.projection_vector(TREE, OTHER), optax.projections.projection_vector(TREE, OTHER)
  )
  zero = jax.tree.map(jnp.zeros_like, TREE)
  _close(jon.projections.projection_vector(TREE, zero), zero)


def test_masked_masks_compatible_extra_args_like_optax():
  params = {"a": jnp.ones(2), "b": jnp.ones(3)}
  seen = {}

  def inner():
    def update(updates, state, params=None, *, scale_tree):
      seen["keys"] = sorted(k for k, v in scale_tree.items() if not isinstance(v, jon.MaskedNode))
      return updates, state

    return jon.GradientTransformationExtraArgs(lambda p: jon.EmptyState(), update)

  mask = {"a": True, "b": False}
  for flag, expected in [(True, ["a"]), (False, ["a", "b"])]:
    tx = jon.masked(inner(), mask, mask_compatible_extra_args=flag)
    tx.update(params, tx.init(params), params, scale_tree=params)
    assert seen["keys"] == expected
  tx = jon.partition(
    {"x": inner(), "y": jon.identity()}, {"a": "x", "b": "y"}, mask_compatible_extra_args=True
  )
  tx.update(params, tx.init(params), params, scale_tree=params)
  assert seen["keys"] == ["a"]


def test_state_classes_are_optax_s():
  params = jnp.ones(2)
  for ours, state in [
    (jon.clip(1.0), jon.ClipState),
    (jon.scale(2.0), jon.ScaleState),
    (jon.clip_by_global_norm(1.0), jon.ClipByGlobalNormState),
    (jon.adaptive_grad_clip(1.0), jon.AdaptiveGradClipState),
    (jon.add_decayed_weights(0.1), jon.AddDecayedWeightsState),
    (jon.scale_by_trust_ratio(), jon.ScaleByTrustRatioState),
    (jon.keep_params_nonnegative(), jon.NonNegativeParamsState),
  ]:
    assert isinstance(ours.init(params), state)
  tx = jon.multi_transform({"x": jon.sgd(0.1)}, "x")
  assert isinstance(tx.init(params), jon.MultiTransformState)
