"""Equality with optax for every name both libraries define (optax is a test-only oracle).

Where the argument spelling differs the mapping is written out: optax's
``adagrad``/``rmsprop`` put ``eps`` inside the square root, which is our
``eps_root``; optax's ``adadelta`` needs an explicit learning rate to descend.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_notes as jon
import references as ref
from test_references import GRADS, LOSSES, PARAMS, _library_updates


def _deprecated(factory, *args, **kwargs):
  """Builds an optax optimizer that warns it is deprecated (warnings are errors here)."""
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    return factory(*args, **kwargs)


# (id, ours, optax's)
PAIRS = [
  ("sgd", jon.sgd(0.1), optax.sgd(0.1)),
  ("sgd_momentum", jon.sgd(0.1, 0.9), optax.sgd(0.1, 0.9)),
  ("sgd_nesterov", jon.sgd(0.1, 0.9, nesterov=True), optax.sgd(0.1, 0.9, nesterov=True)),
  ("noisy_sgd", jon.noisy_sgd(0.1, key=5), optax.noisy_sgd(0.1, key=5)),
  ("adagrad_defaults", jon.adagrad(0.3), optax.adagrad(0.3)),
  ("adagrad", jon.adagrad(0.3, 0.5, eps=0.0, eps_root=1e-3), optax.adagrad(0.3, 0.5, eps=1e-3)),
  ("rmsprop_defaults", jon.rmsprop(0.01), optax.rmsprop(0.01)),
  (
    "rmsprop_centered",
    jon.rmsprop(0.01, 0.8, eps=1e-3, centered=True, momentum=0.5, nesterov=True, eps_root=0.0),
    optax.rmsprop(
      0.01, 0.8, eps=1e-3, eps_in_sqrt=False, centered=True, momentum=0.5, nesterov=True
    ),
  ),
  (
    "rmsprop_bias_correction",
    jon.rmsprop(0.01, 0.8, bias_correction=True),
    optax.rmsprop(0.01, 0.8, bias_correction=True),
  ),
  (
    "rmsprop_eps_in_sqrt",
    jon.rmsprop(0.01, eps=1e-3, eps_in_sqrt=True, eps_root=0.0),
    optax.rmsprop(0.01, eps=1e-3, eps_in_sqrt=True),
  ),
  ("adadelta", jon.adadelta(1.0), optax.adadelta(1.0)),
  (
    "adadelta_wd",
    jon.adadelta(0.5, rho=0.8, weight_decay=0.1, eps_root=1e-4),
    optax.adadelta(0.5, rho=0.8, eps=1e-4, weight_decay=0.1),
  ),
  ("adam", jon.adam(0.01, eps_root=1e-9), optax.adam(0.01, eps_root=1e-9)),
  ("nadam", jon.nadam(0.01), optax.nadam(0.01)),
  ("adamw", jon.adamw(0.01, weight_decay=0.1), optax.adamw(0.01, weight_decay=0.1)),
  ("nadamw", jon.nadamw(0.01), optax.nadamw(0.01)),
  ("amsgrad", jon.amsgrad(0.01, b2=0.9), optax.amsgrad(0.01, b2=0.9)),
  ("adamax", jon.adamax(0.01), optax.adamax(0.01)),
  ("adamaxw", jon.adamaxw(0.01, weight_decay=0.1), optax.adamaxw(0.01, weight_decay=0.1)),
  (
    "yogi_zero_start",
    jon.yogi(0.01, initial_accumulator_value=0.0),
    optax.chain(optax.scale_by_yogi(initial_accumulator_value=0.0), optax.scale(-0.01)),
  ),
  ("adabelief", jon.adabelief(0.01), optax.adabelief(0.01)),
  ("radam", jon.radam(0.01), optax.radam(0.01)),
  ("lion", jon.lion(0.01), optax.lion(0.01)),
  ("lamb", jon.lamb(0.01, weight_decay=0.1), optax.lamb(0.01, weight_decay=0.1)),
  ("lars", jon.lars(0.1, weight_decay=0.01), optax.lars(0.1, weight_decay=0.01)),
  ("muon", jon.muon(0.01), optax.contrib.muon(0.01)),
  (
    "muon_dion_adaptive",
    jon.muon(
      0.01,
      "dion",
      adaptive=True,
      nesterov=False,
      weight_decay=0.1,
      preconditioning="aol",
      adam_learning_rate=0.03,
    ),
    optax.contrib.muon(
      0.01,
      "dion",
      adaptive=True,
      nesterov=False,
      weight_decay=0.1,
      preconditioning="aol",
      adam_learning_rate=0.03,
    ),
  ),
  (
    "muon_schatten_rms",
    jon.muon(0.01, preconditioning="schatten", consistent_rms=0.2),
    optax.contrib.muon(0.01, preconditioning="schatten", consistent_rms=0.2),
  ),
  (
    "muon_spectral",
    jon.muon(0.01, preconditioning="spectral", ns_steps=3),
    optax.contrib.muon(0.01, preconditioning="spectral", ns_steps=3),
  ),
  (
    "muon_stacked",
    jon.muon(0.01, muon_weight_dimension_numbers={"a": None, "b": jon.MuonDimensionNumbers(1, 0)}),
    optax.contrib.muon(
      0.01, muon_weight_dimension_numbers={"a": None, "b": optax.contrib.MuonDimensionNumbers(1, 0)}
    ),
  ),
  (
    "schedule_free_sgd",
    jon.schedule_free_sgd(0.1, b1=0.8, weight_decay=0.1),
    optax.contrib.schedule_free_sgd(0.1, b1=0.8, weight_decay=0.1),
  ),
  (
    "schedule_free_adamw",
    jon.schedule_free_adamw(0.01, weight_decay=0.1, weight_lr_power=1.0),
    optax.contrib.schedule_free_adamw(0.01, weight_decay=0.1, weight_lr_power=1.0),
  ),
  (
    "schedule_free_adam",
    jon.schedule_free(jon.adam(0.01, b1=0.0), 0.01, b1=0.95),
    optax.contrib.schedule_free(optax.adam(0.01, b1=0.0), 0.01, b1=0.95),
  ),
  ("adopt", jon.adopt(0.01), optax.contrib.adopt(0.01)),
  (
    "adopt_nesterov",
    jon.adopt(0.01, b2=0.5, nesterov=True, use_clipping=False),
    optax.contrib.adopt(0.01, b2=0.5, nesterov=True, use_clipping=False),
  ),
  (
    "ademamix",
    jon.ademamix(0.01, weight_decay=0.1),
    optax.contrib.ademamix(0.01, weight_decay=0.1),
  ),
  (
    "ademamix_schedules",
    jon.ademamix(0.01, b3=lambda t: 0.9 + 0.01 * t, alpha=lambda t: 0.5 * t),
    optax.contrib.ademamix(0.01, b3=lambda t: 0.9 + 0.01 * t, alpha=lambda t: 0.5 * t),
  ),
  (
    "simplified_ademamix",
    jon.simplified_ademamix(0.01, alpha=2.0),
    optax.contrib.simplified_ademamix(0.01, alpha=2.0),
  ),
  # building blocks
  ("trace", jon.trace(0.7, nesterov=True), optax.trace(0.7, nesterov=True)),
  ("ema", jon.ema(0.7), optax.ema(0.7)),
  ("clip", jon.clip(0.5), optax.clip(0.5)),
  ("clip_by_global_norm", jon.clip_by_global_norm(1.0), optax.clip_by_global_norm(1.0)),
  ("clip_by_block_rms", jon.clip_by_block_rms(0.3), optax.clip_by_block_rms(0.3)),
  ("scale_by_stddev", jon.scale_by_stddev(eps_root=1e-6), optax.scale_by_stddev(eps=1e-6)),
  (
    "scale_by_trust_ratio",
    jon.scale_by_trust_ratio(trust_coefficient=0.3, eps=1e-3),
    optax.scale_by_trust_ratio(trust_coefficient=0.3, eps=1e-3),
  ),
  (
    "add_decayed_weights_mask",
    jon.add_decayed_weights(0.1, mask={"a": True, "b": False}),
    optax.add_decayed_weights(0.1, mask={"a": True, "b": False}),
  ),
  (
    "scale_by_schedule",
    jon.scale_by_schedule(lambda t: 0.1 / (t + 1)),
    optax.scale_by_schedule(lambda t: 0.1 / (t + 1)),
  ),
  (
    "lion_smooth",
    jon.scale_by_lion(mode="smooth", smooth_beta=2.0),
    optax.scale_by_lion(mode="smooth", smooth_beta=2.0),
  ),
  # games, Polyak steps and learning-rate-free methods (optax's DoG eps is our eps_root)
  (
    "optimistic_gradient_descent",
    jon.optimistic_gradient_descent(0.1, 0.7, 1.3),
    optax.optimistic_gradient_descent(0.1, 0.7, 1.3),
  ),
  (
    "optimistic_adam",
    jon.optimistic_adam(0.01, 0.02, eps_root=1e-9),
    _deprecated(optax.optimistic_adam, 0.01, 0.02, eps_root=1e-9),
  ),
  (
    "optimistic_adam_v2",
    jon.optimistic_adam_v2(0.01, alpha=0.5, beta=2.0),
    optax.optimistic_adam_v2(0.01, alpha=0.5, beta=2.0),
  ),
  ("polyak_sgd", jon.polyak_sgd(0.5, f_min=0.1), optax.polyak_sgd(0.5, f_min=0.1)),
  (
    "polyak_sgd_plus",
    jon.polyak_sgd(5.0, f_min=2.0, eps=0.1, variant="sps+"),
    optax.polyak_sgd(5.0, f_min=2.0, eps=0.1, variant="sps+"),
  ),
  (
    "scale_by_distance_over_gradients",
    jon.scale_by_distance_over_gradients(1e-3, param_dtype=jnp.float64, eps_root=1e-7),
    optax.scale_by_distance_over_gradients(1e-3, eps=1e-7, param_dtype=jnp.float64),
  ),
  ("dog", jon.dog(), optax.contrib.dog()),
  (
    "dog_distance",
    jon.dog(0.5, ("distance", 0.1), weight_decay=0.1, eps_root=1e-6),
    optax.contrib.dog(0.5, ("distance", 0.1), eps=1e-6, weight_decay=0.1),
  ),
  (
    "dog_learning_rate",
    jon.dog(0.5, ("learning_rate", 0.01)),
    optax.contrib.dog(0.5, ("learning_rate", 0.01)),
  ),
  ("cocob", jon.cocob(), optax.contrib.cocob()),
  (
    "cocob_decay",
    jon.cocob(0.5, 10.0, 1e-3, weight_decay=0.1),
    optax.contrib.cocob(0.5, 10.0, 1e-3, weight_decay=0.1),
  ),
  ("momo", jon.momo(), optax.contrib.momo()),
  (
    "momo_adapt_schedule",
    jon.momo(lambda t: 0.3 / (t + 1), 0.8, -0.5, 0.1, True),
    optax.contrib.momo(lambda t: 0.3 / (t + 1), 0.8, -0.5, 0.1, True),
  ),
  ("momo_adam", jon.momo_adam(), optax.contrib.momo_adam()),
  (
    "momo_adam_adapt",
    jon.momo_adam(0.3, 0.8, 0.99, 1e-3, -0.5, 0.1, True),
    optax.contrib.momo_adam(0.3, 0.8, 0.99, 1e-3, -0.5, 0.1, True),
  ),
  ("dowg", jon.dowg(), optax.contrib.dowg()),
  (
    "dowg_start",
    jon.dowg(0.3, 0.01, 1e-3, weight_decay=0.1),
    optax.contrib.dowg(0.3, 0.01, 1e-3, weight_decay=0.1),
  ),
  # factored and sign-based; optax's sm3 `eps` is inside the root: our eps_root
  ("sm3", jon.sm3(0.1), optax.sm3(0.1)),
  (
    "scale_by_sm3",
    jon.scale_by_sm3(0.5, 0.9, eps=0.0, eps_root=1e-4),
    optax.scale_by_sm3(0.5, 0.9, eps=1e-4),
  ),
  ("sign_sgd", jon.sign_sgd(0.1), optax.sign_sgd(0.1)),
  ("signum", jon.signum(0.1, beta=0.7), optax.signum(0.1, beta=0.7)),
  ("fromage", jon.fromage(0.1), optax.fromage(0.1)),
  (
    "fromage_schedule",
    jon.fromage(lambda t: 0.1 / (t + 1)),
    optax.fromage(lambda t: 0.1 / (t + 1)),
  ),
  ("novograd", jon.novograd(0.1, weight_decay=0.1), optax.novograd(0.1, weight_decay=0.1)),
  ("adan", jon.adan(0.01, weight_decay=0.1), optax.adan(0.01, weight_decay=0.1)),
  (
    "scale_by_adan",
    jon.scale_by_adan(b3=0.9, eps_root=1e-6),
    optax.scale_by_adan(b3=0.9, eps_root=1e-6),
  ),
  # optax's default decay schedule is computed in float32: given ours, the numbers agree
  (
    "scale_by_factored_rms",
    jon.scale_by_factored_rms(min_dim_size_to_factor=2, decay_rate=0.7),
    optax.scale_by_factored_rms(
      min_dim_size_to_factor=2,
      decay_rate=0.7,
      decay_rate_fn=jon.optimizers._adafactor.decay_rate_pow,
    ),
  ),
  # transforms wrapped around them
  ("scale_by_sign", jon.scale_by_sign(), optax.scale_by_sign()),
  ("scale_by_param_block_norm", jon.scale_by_param_block_norm(), optax.scale_by_param_block_norm()),
  (
    "scale_by_param_block_rms",
    jon.scale_by_param_block_rms(0.5),
    optax.scale_by_param_block_rms(0.5),
  ),
  (
    "normalize_by_update_norm",
    jon.normalize_by_update_norm(2.0, eps=1e-3),
    optax.normalize_by_update_norm(2.0, eps=1e-3),
  ),
  ("adaptive_grad_clip", jon.adaptive_grad_clip(0.05), optax.adaptive_grad_clip(0.05)),
  (
    "adaptive_grad_clip_axis",
    jon.adaptive_grad_clip(0.1, eps=0.5, axis=0),
    optax.adaptive_grad_clip(0.1, eps=0.5, axis=0),
  ),
  ("dadapt_adamw", jon.dadapt_adamw(), optax.contrib.dadapt_adamw()),
  (
    "dadapt_adamw_schedule_decay",
    jon.dadapt_adamw(lambda t: 0.5 / (t + 1), (0.8, 0.99), 1e-6, 1e-3, 0.1),
    optax.contrib.dadapt_adamw(lambda t: 0.5 / (t + 1), (0.8, 0.99), 1e-6, 1e-3, 0.1),
  ),
  ("prodigy", jon.prodigy(), optax.contrib.prodigy()),
  (
    "prodigy_safeguard_decay",
    jon.prodigy(0.5, (0.8, 0.99), 0.9, 1e-6, 1e-3, 2.0, 0.1, True),
    optax.contrib.prodigy(0.5, (0.8, 0.99), 0.9, 1e-6, 1e-3, 2.0, 0.1, True),
  ),
  ("mechanize_adam", jon.mechanize(jon.adam(1.0)), optax.contrib.mechanize(optax.adam(1.0))),
  (
    "mechanize_momentum",
    jon.mechanize(jon.sgd(0.1, 0.9), 0.1, 1e-6, 1e-4, 3),
    optax.contrib.mechanize(optax.sgd(0.1, 0.9), 0.1, 1e-6, 1e-4, 3),
  ),
]

# optimizer aliases compared above (the note counts them)
OPTIMIZERS_COMPARED = {
  "adabelief",
  "adadelta",
  "adafactor",
  "adagrad",
  "adam",
  "adamax",
  "adamaxw",
  "adamw",
  "adan",
  "ademamix",
  "adopt",
  "amsgrad",
  "cocob",
  "dadapt_adamw",
  "dog",
  "dowg",
  "fromage",
  "lamb",
  "lars",
  "lion",
  "madgrad",
  "mechanize",
  "momo",
  "momo_adam",
  "muon",
  "nadam",
  "nadamw",
  "noisy_sgd",
  "novograd",
  "optimistic_adam",
  "optimistic_adam_v2",
  "optimistic_gradient_descent",
  "polyak_sgd",
  "prodigy",
  "radam",
  "rmsprop",
  "rprop",
  "schedule_free_adamw",
  "schedule_free_sgd",
  "sgd",
  "sign_sgd",
  "signum",
  "simplified_ademamix",
  "sm3",
  "sophia",
  "yogi",
}


@pytest.mark.parametrize("name,ours,theirs", PAIRS, ids=[p[0] for p in PAIRS])
def test_equals_optax(name, ours, theirs):
  expected = _library_updates(theirs)
  for t, (u, e) in enumerate(zip(_library_updates(ours), expected)):
    for leaf in PARAMS:
      np.testing.assert_allclose(
        u[leaf], e[leaf], rtol=1e-12, atol=1e-15, err_msg=f"{name}, step {t + 1}"
      )


def test_madgrad_equals_optax_up_to_its_float32_step_weight():
  """optax takes sqrt(k + 1) of the int32 count, which jax computes in float32 even with
  float64 on (a relative error of about 3e-8 in each weight); ours is float64 and matches
  the numpy reference at 1e-10 (test_references)."""
  ours = _library_updates(jon.madgrad(0.01, weight_decay=0.1))
  theirs = _library_updates(optax.contrib.madgrad(0.01, weight_decay=0.1))
  for t, (u, e) in enumerate(zip(ours, theirs)):
    for leaf in PARAMS:
      np.testing.assert_allclose(u[leaf], e[leaf], rtol=1e-6, err_msg=f"step {t + 1}")


def _coupled_objective(params):
  """A loss whose Hessian is not diagonal, so that Hutchinson's estimate depends on the probe."""
  a, b = params["a"], params["b"]
  return jnp.sum(jnp.tanh(b @ a[:2]) ** 2) + jnp.sum(a**2 * a[::-1]) + jnp.sum(jnp.cos(b * a[2]))


@pytest.mark.parametrize(
  "kwargs",
  [
    dict(),
    dict(
      b1=0.5, b2=0.7, eps=1e-3, weight_decay=0.1, gamma=0.3, clip_threshold=None, update_interval=3
    ),
    dict(gamma=2.0, clip_threshold=0.5, update_interval=1),
  ],
  ids=["defaults", "unclipped_every_3", "clipped_every_step"],
)
def test_sophia_equals_optax_with_the_same_key(kwargs):
  key = jax.random.PRNGKey(11)
  estimator = jon.hutchinson_estimator_diag_hessian(key)
  ours = _library_updates(
    jon.sophia(0.01, hessian_diagonal_fn=estimator, **kwargs), obj_fn=_coupled_objective
  )
  theirs = _library_updates(
    optax.contrib.sophia(
      0.01, hessian_diagonal_fn=optax.contrib.hutchinson_estimator_diag_hessian(key), **kwargs
    ),
    obj_fn=_coupled_objective,
  )
  for t, (u, e) in enumerate(zip(ours, theirs)):
    for leaf in PARAMS:
      np.testing.assert_allclose(u[leaf], e[leaf], rtol=1e-12, atol=1e-15, err_msg=f"step {t + 1}")


def test_sophia_verbose_prints_the_win_rate_every_n_steps(capfd):
  with pytest.raises(ValueError, match="print_win_rate_every_n_steps"):
    jon.sophia(0.1, verbose=True)
  opt = jon.sophia(0.1, gamma=100.0, verbose=True, print_win_rate_every_n_steps=2)
  params = jnp.array([1.0, -3.0])
  state = opt.init(params)
  for _ in range(4):
    _, state = opt.update(2 * params, state, params, obj_fn=lambda p: jnp.sum(p**2))
  jax.effects_barrier()
  assert capfd.readouterr().out.count("win rate") == 2


def test_hutchinson_equals_optax_and_moves_its_key():
  params = jax.tree.map(jnp.asarray, PARAMS)
  ours, theirs = (
    m.hutchinson_estimator_diag_hessian(jax.random.PRNGKey(4)) for m in (jon, optax.contrib)
  )
  s1, s2 = ours.init(params), theirs.init(params)
  for _ in range(3):
    (d1, s1), (d2, s2) = (
      t.update(params, s, params, obj_fn=_coupled_objective) for t, s in ((ours, s1), (theirs, s2))
    )
    for leaf in PARAMS:
      np.testing.assert_allclose(d1[leaf], d2[leaf], rtol=1e-12)
  assert not np.array_equal(jax.random.key_data(s1.key), jax.random.key_data(ours.init(params).key))


def test_acprop_differs_from_optax_only_in_the_momentum_it_centres_on():
  """optax 0.2.8 centres s_t on m_{t-1}; the paper (and we) on m_t. The numpy reference
  with that one change matches optax, and ours matches the paper's form (test_references)."""
  kwargs = dict(b1=0.5, b2=0.8, eps=1e-6, eps_root=1e-8, weight_decay=0.1)
  theirs = _library_updates(optax.contrib.acprop(0.01, **kwargs))
  ours = _library_updates(jon.acprop(0.01, **kwargs))
  for leaf in PARAMS:
    previous = ref.acprop(
      [g[leaf] for g in GRADS], PARAMS[leaf], LOSSES, 0.01, centre_on_previous=True, **kwargs
    )
    for t, (e, r) in enumerate(zip(theirs, previous)):
      np.testing.assert_allclose(e[leaf], r, rtol=1e-12, atol=1e-15, err_msg=f"step {t + 1}")
  np.testing.assert_allclose(ours[0]["a"], theirs[0]["a"], rtol=1e-12)  # s_0 = 0 in both
  assert max(float(jnp.max(jnp.abs(u[k] - e[k]))) for u, e in zip(ours, theirs) for k in PARAMS) > 0


def test_default_yogi_differs_from_optax_only_by_its_first_moment_start():
  """optax starts Yogi's m at initial_accumulator_value; the paper (and we) at zero."""
  ours, theirs = _library_updates(jon.yogi(0.01)), _library_updates(optax.yogi(0.01))
  gap = max(float(jnp.max(jnp.abs(u[k] - e[k]))) for u, e in zip(ours, theirs) for k in PARAMS)
  assert 0 < gap < 1e-3


def test_optax_default_adadelta_ascends_ours_descends():
  loss = lambda p: jnp.sum(p**2)  # noqa: E731
  for opt, sign in ((jon.adadelta(), -1), (optax.adadelta(), 1)):
    p = jnp.array([1.0, -2.0])
    u, _ = opt.update(jax.grad(loss)(p), opt.init(p), p)
    assert float(loss(p + u) - loss(p)) * sign > 0


NEW_STATES = [
  (jon.optimistic_gradient_descent(0.1), optax.optimistic_gradient_descent(0.1)),
  (jon.optimistic_adam(0.1), _deprecated(optax.optimistic_adam, 0.1)),
  (jon.scale_by_distance_over_gradients(), optax.scale_by_distance_over_gradients()),
  (jon.dog(), optax.contrib.dog()),
  (jon.dowg(), optax.contrib.dowg()),
  (jon.cocob(), optax.contrib.cocob()),
  (jon.momo(), optax.contrib.momo()),
  (jon.momo_adam(), optax.contrib.momo_adam()),
  (jon.dadapt_adamw(), optax.contrib.dadapt_adamw()),
  (jon.prodigy(), optax.contrib.prodigy()),
  (jon.mechanize(jon.sgd(0.1, 0.9)), optax.contrib.mechanize(optax.sgd(0.1, 0.9))),
]


@pytest.mark.parametrize(
  "kwargs",
  [
    {},
    {
      "min_dim_size_to_factor": 2,
      "momentum": 0.9,
      "weight_decay_rate": 0.01,
      "clipping_threshold": None,
    },
  ],
)
def test_adafactor_equals_optax_up_to_its_float32_decay_schedule(kwargs):
  """optax rounds the decay 1 - t^-0.8 to float32; the rest is float64 in both."""
  ours = _library_updates(jon.adafactor(0.1, dtype_momentum=jnp.float64, **kwargs))
  theirs = _library_updates(optax.adafactor(0.1, dtype_momentum=jnp.float64, **kwargs))
  for u, e in zip(ours, theirs):
    for leaf in PARAMS:
      np.testing.assert_allclose(u[leaf], e[leaf], rtol=1e-6, atol=1e-9)


def test_rprop_steps_where_optax_lags_one_step_behind():
  """optax's rprop returns the step of the previous gradient (a zero first update),
  except where the sign flips now; ours takes step t on gradient t, as Rprop does."""
  ours, theirs = _library_updates(jon.rprop(0.1)), _library_updates(optax.rprop(0.1))
  for leaf in PARAMS:
    np.testing.assert_array_equal(theirs[0][leaf], 0.0)
    assert np.all(ours[0][leaf] != 0)
    for t in range(len(ours) - 1):
      lagged = np.where(ours[t + 1][leaf] == 0, 0.0, ours[t][leaf])
      np.testing.assert_allclose(theirs[t + 1][leaf], lagged, rtol=1e-12, atol=1e-15)


def test_state_classes_and_fields_match_optax():
  params = jax.tree.map(jnp.asarray, PARAMS)
  for ours, theirs in [
    (
      jon.adafactor(0.1, min_dim_size_to_factor=2, momentum=0.9),
      optax.adafactor(0.1, min_dim_size_to_factor=2, momentum=0.9),
    ),
    (jon.sm3(0.1), optax.sm3(0.1)),
    (jon.rprop(0.1), optax.rprop(0.1)),
    (jon.signum(0.1), optax.signum(0.1)),
    (jon.fromage(0.1), optax.fromage(0.1)),
    (jon.novograd(0.1), optax.novograd(0.1)),
    (jon.adan(0.1), optax.adan(0.1)),
    (jon.snapshot("n", jon.tree.norm), optax.snapshot("n", optax.tree.norm)),
    (jon.measure_with_ema(jon.tree.norm, 0.9), optax.measure_with_ema(optax.tree.norm, 0.9)),
    (
      jon.selective_transform(jon.adam(0.1), freeze_mask={"a": True, "b": False}),
      optax.selective_transform(optax.adam(0.1), freeze_mask={"a": True, "b": False}),
    ),
    (jon.adam(0.1), optax.adam(0.1)),
    (jon.rmsprop(0.1), optax.rmsprop(0.1)),
    (jon.adagrad(0.1), optax.adagrad(0.1)),
    (jon.sgd(0.1, 0.9), optax.sgd(0.1, 0.9)),
    (jon.lion(0.1), optax.lion(0.1)),
    (jon.amsgrad(0.1), optax.amsgrad(0.1)),
    (jon.adabelief(0.1), optax.adabelief(0.1)),
    (jon.adadelta(0.1), optax.adadelta(0.1)),
    (jon.scale_by_muon(), optax.contrib.scale_by_muon()),
    (jon.adopt(0.1), optax.contrib.adopt(0.1)),
    (jon.madgrad(0.1), optax.contrib.madgrad(0.1)),
    (jon.acprop(0.1), optax.contrib.acprop(0.1)),
    (jon.sophia(0.1), optax.contrib.sophia(0.1)),
    (jon.ademamix(0.1), optax.contrib.ademamix(0.1)),
    (jon.simplified_ademamix(0.1), optax.contrib.simplified_ademamix(0.1)),
    (jon.schedule_free_adamw(), optax.contrib.schedule_free_adamw()),
    *NEW_STATES,
  ]:
    a, b = ours.init(params), theirs.init(params)
    names = lambda s: [(type(x).__name__, getattr(x, "_fields", None)) for x in s]  # noqa: E731
    assert names(a) == names(b)
    assert jax.tree.structure(a).num_leaves == jax.tree.structure(b).num_leaves


def test_unused_losses_are_fine():
  assert len(LOSSES) == len(GRADS)


def test_polyak_scaling_multiplies_the_step_as_documented_optax_scales_the_gradient_first():
  """optax chains sgd(scaling) before the Polyak step, so |g|^2 becomes scaling^2 |g|^2."""
  p, g = jnp.array([1.0, -2.0]), jnp.array([0.1, 0.2])
  ours, _ = jon.polyak_sgd(100.0, scaling=0.5).update(g, jon.polyak_sgd().init(p), p, value=1.0)
  gamma = 1.0 / 0.05  # (f - f*) / |g|^2
  np.testing.assert_allclose(ours, -0.5 * gamma * g, rtol=1e-12)
  theirs = optax.polyak_sgd(100.0, scaling=0.5)
  t, _ = theirs.update(g, theirs.init(p), p, value=1.0)
  np.testing.assert_allclose(t, -gamma / 0.5 * g, rtol=1e-12)  # 4 times our step


def test_polyak_small_gradients_still_step_where_optax_stops():
  """optax zeroes the step once |g|^2 + eps < float epsilon; only an exact 0 does here."""
  p, g = jnp.array([1.0]), jnp.array([1e-9])
  ours, _ = jon.polyak_sgd(0.5).update(g, jon.polyak_sgd().init(p), p, value=1.0)
  np.testing.assert_allclose(ours, -0.5 * g, rtol=1e-12)
  theirs = optax.polyak_sgd(0.5)
  assert float(theirs.update(g, theirs.init(p), p, value=1.0)[0][0]) == 0.0
  zero, _ = jon.polyak_sgd(0.5).update(jnp.zeros(1), jon.polyak_sgd().init(p), p, value=1.0)
  assert float(zero[0]) == 0.0


def test_layerwise_dog_keeps_scalar_leaves_scalar():
  """optax keeps its per-leaf sums with shape (1,), so a scalar param gets a (1,) update."""
  p, g = {"s": jnp.asarray(0.5), "v": jnp.ones(2)}, {"s": jnp.asarray(0.3), "v": jnp.ones(2)}
  ours = jon.scale_by_distance_over_gradients()
  u, state = ours.update(g, ours.init(p), p)
  assert u["s"].shape == () and state.grad_sum_of_squares["s"].shape == ()
  theirs = optax.scale_by_distance_over_gradients()
  assert theirs.update(g, theirs.init(p), p)[0]["s"].shape == (1,)


# names whose signature differs on purpose: {name: {argument: why}}
SIGNATURE_DIFFERENCES = {
  "scale_by_sm3": {"eps": "optax's eps is inside the root: our eps_root carries its default"},
  "scale_by_factored_rms": {"decay_rate_fn": "the same 1 - t^-0.8, ours not rounded to float32"},
}
CATALOGUE = [
  "adafactor",
  "scale_by_factored_rms",
  "sm3",
  "scale_by_sm3",
  "sign_sgd",
  "signum",
  "scale_by_sign",
  "rprop",
  "scale_by_rprop",
  "fromage",
  "novograd",
  "scale_by_novograd",
  "adan",
  "scale_by_adan",
  "adaptive_grad_clip",
  "normalize_by_update_norm",
  "scale_by_param_block_norm",
  "scale_by_param_block_rms",
  "scale_gradient",
  "per_example_global_norm_clip",
  "per_example_layer_norm_clip",
  "selective_transform",
  "snapshot",
  "monitor",
  "measure_with_ema",
  "tree_map_params",
  "skip_large_updates",
  "skip_not_finite",
  "freeze",
]


@pytest.mark.parametrize("name", CATALOGUE)
def test_signatures_match_optax(name):
  """Argument names, order, kinds and defaults are optax's (ours may add arguments at the end)."""
  import inspect

  ours = inspect.signature(getattr(jon, name)).parameters
  theirs = inspect.signature(getattr(optax, name)).parameters
  skip = SIGNATURE_DIFFERENCES.get(name, {})
  assert list(ours)[: len(theirs)] == list(theirs)
  for arg, p in theirs.items():
    assert ours[arg].kind == p.kind, arg
    if arg not in skip and p.default is not inspect.Parameter.empty:
      assert ours[arg].default == p.default, arg


@pytest.mark.parametrize(
  "ours,theirs",
  [
    (jon.dadapt_adamw(), optax.contrib.dadapt_adamw()),
    (jon.prodigy(), optax.contrib.prodigy()),
    (jon.prodigy(lambda t: 0.1 * t), optax.contrib.prodigy(lambda t: 0.1 * t)),
  ],
  ids=["dadapt_adamw", "prodigy", "prodigy_warmup_from_zero"],
)
def test_learned_step_stays_finite_where_optax_divides_zero_by_zero(ours, theirs):
  """A zero first gradient (or a schedule at 0) leaves the sum |s|_1 at 0: d keeps its value."""
  p = jnp.array([1.0, -2.0])
  state, their_state = ours.init(p), theirs.init(p)
  for k in range(30):
    g = jnp.zeros(2) if k == 0 else 2 * p  # then the gradient of |p|^2
    u, state = ours.update(g, state, p)
    _, their_state = theirs.update(g, their_state, p)
    p = p + u
  assert float(state.estim_lr) > 1e-6 and np.all(np.isfinite(p))
  assert np.isnan(float(their_state.estim_lr))
