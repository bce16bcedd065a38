"""Every optimizer against its plain-numpy reference, several steps, float64, rtol 1e-10."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_notes as jon
import references as ref

STEPS = 8  # RAdam's rectification starts at step 6 with b2 = 0.999
RNG = np.random.default_rng(0)
PARAMS = {"a": RNG.normal(size=3), "b": RNG.normal(size=(2, 2))}
GRADS = [
  {k: RNG.normal(size=v.shape) * 10.0 ** RNG.integers(-3, 2) for k, v in PARAMS.items()}
  for _ in range(STEPS)
]
LOSSES = [3.0, 2.5, 2.6, 1.9, 1.2, 1.1, 1.15, 0.7]


def _dion_start(param, rank, key=0):
  """The random right factor Dion starts from (the library's, for one matrix leaf)."""
  if np.ndim(param) != 2:
    return None
  return np.asarray(jon.scale_by_dion(rank, key=key).init(jnp.asarray(param)).q[0])


# (id, library optimizer, numpy reference with its arguments)
CASES = [
  ("sgd", jon.sgd(0.1), lambda g, p, f: ref.sgd(g, p, f, 0.1)),
  ("sgd_momentum", jon.sgd(0.1, momentum=0.9), lambda g, p, f: ref.sgd(g, p, f, 0.1, momentum=0.9)),
  (
    "sgd_nesterov",
    jon.sgd(0.1, momentum=0.8, nesterov=True),
    lambda g, p, f: ref.sgd(g, p, f, 0.1, momentum=0.8, nesterov=True),
  ),
  ("adagrad", jon.adagrad(0.3), lambda g, p, f: ref.adagrad(g, p, f, 0.3)),
  (
    "adagrad_delta_outside",
    jon.adagrad(0.3, initial_accumulator_value=0.0, eps=1e-7, eps_root=0.0),
    lambda g, p, f: ref.adagrad(g, p, f, 0.3, 0.0, eps=1e-7, eps_root=0.0),
  ),
  ("rmsprop", jon.rmsprop(0.01), lambda g, p, f: ref.rmsprop(g, p, f, 0.01)),
  (
    "rmsprop_centered_bias",
    jon.rmsprop(0.01, decay=0.8, eps=1e-3, centered=True, bias_correction=True, initial_scale=0.5),
    lambda g, p, f: ref.rmsprop(
      g, p, f, 0.01, decay=0.8, eps=1e-3, centered=True, bias_correction=True, initial_scale=0.5
    ),
  ),
  (
    "rmsprop_nesterov",
    jon.rmsprop(0.01, momentum=0.7, nesterov=True, eps=1e-4, eps_root=0.0),
    lambda g, p, f: ref.rmsprop(g, p, f, 0.01, momentum=0.7, nesterov=True, eps=1e-4, eps_root=0.0),
  ),
  (
    "rmsprop_eps_in_sqrt",
    jon.rmsprop(0.01, eps=1e-4, eps_in_sqrt=True, eps_root=1e-6),
    lambda g, p, f: ref.rmsprop(g, p, f, 0.01, eps=0.0, eps_root=1e-4 + 1e-6),
  ),
  ("adadelta", jon.adadelta(), lambda g, p, f: ref.adadelta(g, p, f)),
  (
    "adadelta_decay",
    jon.adadelta(0.5, rho=0.8, eps=1e-5, weight_decay=0.1),
    lambda g, p, f: ref.adadelta(g, p, f, 0.5, rho=0.8, eps=1e-5, weight_decay=0.1),
  ),
  ("adam", jon.adam(0.01, eps_root=1e-9), lambda g, p, f: ref.adam(g, p, f, 0.01, eps_root=1e-9)),
  ("nadam", jon.nadam(0.01), lambda g, p, f: ref.adam(g, p, f, 0.01, nesterov=True)),
  (
    "adamw",
    jon.adamw(0.01, weight_decay=0.1),
    lambda g, p, f: ref.adam(g, p, f, 0.01, weight_decay=0.1),
  ),
  (
    "nadamw",
    jon.nadamw(0.01, b1=0.8, weight_decay=0.1),
    lambda g, p, f: ref.adam(g, p, f, 0.01, b1=0.8, weight_decay=0.1, nesterov=True),
  ),
  ("amsgrad", jon.amsgrad(0.01, b2=0.9), lambda g, p, f: ref.amsgrad(g, p, f, 0.01, b2=0.9)),
  ("adamax", jon.adamax(0.01), lambda g, p, f: ref.adamax(g, p, f, 0.01)),
  (
    "adamaxw",
    jon.adamaxw(0.01, weight_decay=0.1),
    lambda g, p, f: ref.adamax(g, p, f, 0.01, weight_decay=0.1),
  ),
  ("yogi", jon.yogi(0.01), lambda g, p, f: ref.yogi(g, p, f, 0.01)),
  ("adabelief", jon.adabelief(0.01), lambda g, p, f: ref.adabelief(g, p, f, 0.01)),
  (
    "adabelief_nesterov",
    jon.adabelief(0.01, nesterov=True, eps=1e-8),
    lambda g, p, f: ref.adabelief(g, p, f, 0.01, nesterov=True, eps=1e-8),
  ),
  ("radam", jon.radam(0.01), lambda g, p, f: ref.radam(g, p, f, 0.01)),
  ("lion", jon.lion(0.01), lambda g, p, f: ref.lion(g, p, f, 0.01)),
  (
    "lamb",
    jon.lamb(0.01, weight_decay=0.1),
    lambda g, p, f: ref.lamb(g, p, f, 0.01, weight_decay=0.1),
  ),
  (
    "lars",
    jon.lars(0.1, weight_decay=0.01, trust_coefficient=0.5),
    lambda g, p, f: ref.lars(g, p, f, 0.1, weight_decay=0.01, trust_coefficient=0.5),
  ),
  (
    "lars_nesterov",
    jon.lars(0.1, nesterov=True, momentum=0.5),
    lambda g, p, f: ref.lars(g, p, f, 0.1, nesterov=True, momentum=0.5),
  ),
  ("eve", jon.eve(0.01), lambda g, p, f: ref.eve(g, p, f, 0.01)),
  (
    "eve_tight_clip",
    jon.eve(0.01, b3=0.5, c=1.5, f_star=-0.5),
    lambda g, p, f: ref.eve(g, p, f, 0.01, b3=0.5, c=1.5, f_star=-0.5),
  ),
  (
    "optimistic_gradient_descent",
    jon.optimistic_gradient_descent(0.1, alpha=0.7, beta=1.3),
    lambda g, p, f: ref.optimistic_gradient_descent(g, p, f, 0.1, 0.7, 1.3),
  ),
  (
    "optimistic_adam",
    jon.optimistic_adam(0.01, eps_root=1e-9),
    lambda g, p, f: ref.optimistic_adam(g, p, f, 0.01, eps_root=1e-9),
  ),
  (
    "optimistic_adam_plain_moments",
    jon.optimistic_adam(0.01, 0.03, b1=0.8, nesterov=False),
    lambda g, p, f: ref.optimistic_adam(g, p, f, 0.01, 0.03, b1=0.8, nesterov=False),
  ),
  (
    "optimistic_adam_v2",
    jon.optimistic_adam_v2(0.01, alpha=0.5, beta=2.0),
    lambda g, p, f: ref.optimistic_adam(g, p, f, 0.01 * 0.5, 0.01 * 2.0),
  ),
  (
    "scale_by_distance_over_gradients",
    jon.chain(
      jon.scale_by_distance_over_gradients(1e-3, param_dtype=jnp.float64, global_scale=2.0),
      jon.scale(-0.5),
    ),
    lambda g, p, f: ref.layerwise_dog(g, p, f, 0.5, reps_rel=1e-3, global_scale=2.0),
  ),
  ("cocob", jon.cocob(), lambda g, p, f: ref.cocob(g, p, f)),
  (
    "cocob_decay",
    jon.cocob(0.5, 10.0, 1e-3, weight_decay=0.1),
    lambda g, p, f: ref.cocob(g, p, f, 0.5, 10.0, 1e-3, 0.1),
  ),
  # factored and sign-based ("b" is a 2 x 2 matrix: factored below min_dim_size_to_factor=2)
  ("adafactor", jon.adafactor(0.1), lambda g, p, f: ref.adafactor(g, p, f, 0.1)),
  (
    "adafactor_factored",
    jon.adafactor(0.1, min_dim_size_to_factor=2, clipping_threshold=0.5),
    lambda g, p, f: ref.adafactor(g, p, f, 0.1, min_dim_size_to_factor=2, clipping_threshold=0.5),
  ),
  (
    "adafactor_momentum_decay",
    jon.adafactor(
      0.1,
      min_dim_size_to_factor=2,
      decay_rate=0.6,
      multiply_by_parameter_scale=False,
      clipping_threshold=None,
      momentum=0.8,
      dtype_momentum=jnp.float64,
      weight_decay_rate=0.01,
      eps=1e-3,
    ),
    lambda g, p, f: ref.adafactor(
      g,
      p,
      f,
      0.1,
      2,
      decay_rate=0.6,
      multiply_by_parameter_scale=False,
      clipping_threshold=None,
      momentum=0.8,
      weight_decay_rate=0.01,
      eps=1e-3,
    ),
  ),
  ("sm3", jon.sm3(0.1), lambda g, p, f: ref.sm3(g, p, f, 0.1)),
  ("sm3_momentum", jon.sm3(0.1, momentum=0.5), lambda g, p, f: ref.sm3(g, p, f, 0.1, 0.5)),
  ("sign_sgd", jon.sign_sgd(0.1), lambda g, p, f: ref.sign_sgd(g, p, f, 0.1)),
  ("signum", jon.signum(0.1, beta=0.7), lambda g, p, f: ref.signum(g, p, f, 0.1, beta=0.7)),
  ("rprop", jon.rprop(0.1), lambda g, p, f: ref.rprop(g, p, f, 0.1)),
  (
    "rprop_bounds",
    jon.rprop(0.1, eta_minus=0.2, eta_plus=2.0, min_step_size=0.05, max_step_size=0.3),
    lambda g, p, f: ref.rprop(g, p, f, 0.1, 0.2, 2.0, 0.05, 0.3),
  ),
  ("fromage", jon.fromage(0.1), lambda g, p, f: ref.fromage(g, p, f, 0.1)),
  ("novograd", jon.novograd(0.1), lambda g, p, f: ref.novograd(g, p, f, 0.1)),
  (
    "novograd_decay",
    jon.novograd(0.1, b1=0.8, b2=0.5, eps=1e-3, eps_root=1e-4, weight_decay=0.1),
    lambda g, p, f: ref.novograd(g, p, f, 0.1, 0.8, 0.5, 1e-3, 1e-4, 0.1),
  ),
  ("adan", jon.adan(0.01), lambda g, p, f: ref.adan(g, p, f, 0.01)),
  (
    "adan_decay",
    jon.adan(0.01, b1=0.9, weight_decay=0.1, eps_root=0.0),
    lambda g, p, f: ref.adan(g, p, f, 0.01, b1=0.9, eps_root=0.0, weight_decay=0.1),
  ),
  ("muon", jon.muon(0.01), lambda g, p, f: ref.muon(g, p, f, 0.01)),
  (
    "galore",
    jon.contrib.galore(0.01, rank=1, update_proj_gap=3, scale=0.5, weight_decay=0.1),
    lambda g, p, f: ref.galore(
      g, p, f, 0.01, rank=1, update_proj_gap=3, scale=0.5, weight_decay=0.1
    ),
  ),
  ("galore_full_rank", jon.contrib.galore(0.01), lambda g, p, f: ref.galore(g, p, f, 0.01)),
  (
    "muon_plain_momentum",
    jon.muon(
      0.01, beta=0.8, nesterov=False, weight_decay=0.1, adam_weight_decay=0.2, adam_eps_root=1e-9
    ),
    lambda g, p, f: ref.muon(
      g,
      p,
      f,
      0.01,
      beta=0.8,
      nesterov=False,
      weight_decay=0.1,
      adam_weight_decay=0.2,
      adam_eps_root=1e-9,
    ),
  ),
  ("normuon", jon.normuon(0.01), lambda g, p, f: ref.normuon(g, p, f, 0.01)),
  (
    "normuon_published_scale",
    jon.normuon(0.01, b1=0.8, b2=0.9, nesterov=False, rescale="norm", weight_decay=0.1),
    lambda g, p, f: ref.normuon(
      g, p, f, 0.01, b1=0.8, b2=0.9, nesterov=False, rescale="norm", weight_decay=0.1
    ),
  ),
  ("adamuon", jon.adamuon(0.01), lambda g, p, f: ref.adamuon(g, p, f, 0.01)),
  (
    "adamuon_published_momentum",
    jon.adamuon(0.01, b1=0.8, b2=0.9, nesterov=False, sign_momentum=False, weight_decay=0.1),
    lambda g, p, f: ref.adamuon(
      g, p, f, 0.01, b1=0.8, b2=0.9, nesterov=False, sign_momentum=False, weight_decay=0.1
    ),
  ),
  ("adam_atan2", jon.adam_atan2(0.01), lambda g, p, f: ref.adam_atan2(g, p, f, 0.01)),
  (
    "dion",
    jon.dion(0.01, rank=1, weight_decay=0.1),
    lambda g, p, f: ref.dion(g, p, f, 0.01, _dion_start(p, 1), weight_decay=0.1),
  ),
  (
    "adam_atan2_scaled",
    jon.adam_atan2(0.01, b1=0.8, b2=0.9, a=2.0, b=0.5, weight_decay=0.1),
    lambda g, p, f: ref.adam_atan2(g, p, f, 0.01, 0.8, 0.9, 2.0, 0.5, 0.1),
  ),
  ("stable_adamw", jon.stable_adamw(0.01), lambda g, p, f: ref.stable_adamw(g, p, f, 0.01)),
  (
    "stable_adamw_decay",
    jon.stable_adamw(0.01, b1=0.5, b2=0.8, eps=1e-3, weight_decay=0.1),
    lambda g, p, f: ref.stable_adamw(g, p, f, 0.01, 0.5, 0.8, 1e-3, 0.1),
  ),
  ("spam", jon.spam(0.01), lambda g, p, f: ref.spam(g, p, f, 0.01)),
  (
    "spam_resets_and_spikes",
    jon.spam(
      0.01, b2=0.9, threshold=2.0, reset_interval=3, warmup_steps=2, clip_delay=1, weight_decay=0.1
    ),
    lambda g, p, f: ref.spam(
      g,
      p,
      f,
      0.01,
      b2=0.9,
      threshold=2.0,
      reset_interval=3,
      warmup_steps=2,
      clip_delay=1,
      weight_decay=0.1,
    ),
  ),
  (
    "schedule_free_sgd",
    jon.schedule_free_sgd(0.1),
    lambda g, p, f: ref.schedule_free(g, p, f, 0.1),
  ),
  (
    "schedule_free_sgd_warmup",
    jon.schedule_free_sgd(0.1, warmup_steps=5, b1=0.8, weight_decay=0.1, weight_lr_power=1.5),
    lambda g, p, f: ref.schedule_free(
      g, p, f, 0.1, b1=0.8, warmup_steps=5, weight_decay=0.1, weight_lr_power=1.5
    ),
  ),
  (
    "schedule_free_adamw",
    jon.schedule_free_adamw(0.01, warmup_steps=3, weight_decay=0.1),
    lambda g, p, f: ref.schedule_free(
      g, p, f, 0.01, warmup_steps=3, adam_b2=0.999, weight_decay=0.1
    ),
  ),
  ("laprop", jon.laprop(0.01), lambda g, p, f: ref.laprop(g, p, f, 0.01)),
  (
    "laprop_decoupled",
    jon.laprop(0.01, b1=0.95, b2=0.9, eps=1e-8, eps_root=1e-9, weight_decay=0.1),
    lambda g, p, f: ref.laprop(
      g, p, f, 0.01, b1=0.95, b2=0.9, eps=1e-8, eps_root=1e-9, weight_decay=0.1
    ),
  ),
  ("adopt", jon.adopt(0.01), lambda g, p, f: ref.adopt(g, p, f, 0.01)),
  (
    "adopt_unclipped",
    jon.adopt(0.01, b1=0.8, b2=0.5, eps=1e-3, use_clipping=False),
    lambda g, p, f: ref.adopt(g, p, f, 0.01, b1=0.8, b2=0.5, eps=1e-3, clip=False),
  ),
  (
    "ademamix",
    jon.ademamix(0.01, b3=0.99, weight_decay=0.1),
    lambda g, p, f: ref.ademamix(g, p, f, 0.01, b3=0.99, weight_decay=0.1),
  ),
  (
    "simplified_ademamix",
    jon.simplified_ademamix(0.01, alpha=2.0, eps_root=1e-9),
    lambda g, p, f: ref.simplified_ademamix(g, p, f, 0.01, alpha=2.0, eps_root=1e-9),
  ),
  ("madgrad", jon.madgrad(0.01), lambda g, p, f: ref.madgrad(g, p, f, 0.01)),
  (
    "madgrad_decay",
    jon.madgrad(0.05, momentum=0.5, weight_decay=0.1, eps=1e-4),
    lambda g, p, f: ref.madgrad(g, p, f, 0.05, momentum=0.5, weight_decay=0.1, eps=1e-4),
  ),
  (
    "shampoo",
    jon.shampoo(0.05, start_preconditioning_step=2),
    lambda g, p, f: ref.shampoo(g, p, f, 0.05, start=2),
  ),
  ("soap", jon.soap(0.05), lambda g, p, f: ref.soap(g, p, f, 0.05)),
  ("splus", jon.splus(0.1), lambda g, p, f: ref.splus(g, p, f, 0.1)),
  (
    "splus_refresh_every_3",
    jon.splus(0.1, b1=0.5, b2=0.9, inverse_every=3, weight_decay=0.1, nonstandard_constant=0.01),
    lambda g, p, f: ref.splus(
      g, p, f, 0.1, b1=0.5, b2=0.9, inverse_every=3, weight_decay=0.1, nonstandard_constant=0.01
    ),
  ),
  (
    "kl_shampoo",
    jon.kl_shampoo(0.01, precondition_frequency=3),
    lambda g, p, f: ref.kl(g, p, f, 0.01, frequency=3),
  ),
  (
    "kl_soap",
    jon.kl_soap(0.01, precondition_frequency=3),
    lambda g, p, f: ref.kl(g, p, f, 0.01, soap=True, frequency=3),
  ),
  ("acprop", jon.acprop(0.01), lambda g, p, f: ref.acprop(g, p, f, 0.01)),
  (
    "acprop_decay",
    jon.acprop(0.01, b1=0.5, b2=0.8, eps=1e-6, eps_root=1e-8, weight_decay=0.1),
    lambda g, p, f: ref.acprop(
      g, p, f, 0.01, b1=0.5, b2=0.8, eps=1e-6, eps_root=1e-8, weight_decay=0.1
    ),
  ),
]

# References over the whole tree (global norms): (id, optimizer, reference(grads, params, losses))
TREE_CASES = [
  (
    "polyak_sgd",
    jon.polyak_sgd(0.5, f_min=0.1),
    lambda g, p, f: ref.polyak_sgd(g, p, f, 0.5, f_min=0.1),
  ),
  (
    "polyak_sgd_scaled_plus",
    jon.polyak_sgd(50.0, 0.3, f_min=1.0, eps=1e-3, variant="sps+"),
    lambda g, p, f: ref.polyak_sgd(g, p, f, 50.0, 0.3, 1.0, 1e-3, "sps+"),
  ),
  ("dog", jon.dog(), lambda g, p, f: ref.dog(g, p, f)),
  (
    "dog_distance_decay",
    jon.dog(0.5, ("distance", 0.1), weight_decay=0.1),
    lambda g, p, f: ref.dog(g, p, f, 0.5, ("distance", 0.1), weight_decay=0.1),
  ),
  (
    "dog_learning_rate",
    jon.dog(0.5, ("learning_rate", 0.01)),
    lambda g, p, f: ref.dog(g, p, f, 0.5, ("learning_rate", 0.01)),
  ),
  ("momo", jon.momo(0.5), lambda g, p, f: ref.momo(g, p, f, 0.5)),
  (
    "momo_adapt",
    jon.momo(0.3, 0.8, -0.5, 0.1, True),
    lambda g, p, f: ref.momo(g, p, f, 0.3, 0.8, -0.5, 0.1, True),
  ),
  ("momo_adam", jon.momo_adam(), lambda g, p, f: ref.momo(g, p, f, 1e-2, adam=(0.999, 1e-8))),
  (
    "momo_adam_adapt",
    jon.momo_adam(0.3, 0.8, 0.99, 1e-3, -0.5, 0.1, True),
    lambda g, p, f: ref.momo(g, p, f, 0.3, 0.8, -0.5, 0.1, True, adam=(0.99, 1e-3)),
  ),
  ("dowg", jon.dowg(), lambda g, p, f: ref.dowg(g, p, f)),
  ("dowg_start", jon.dowg(0.3, 0.01, 1e-3), lambda g, p, f: ref.dowg(g, p, f, 0.3, 0.01, 1e-3)),
  ("dadapt_adamw", jon.dadapt_adamw(), lambda g, p, f: ref.dadapt_adamw(g, p, f)),
  (
    "dadapt_adamw_decay",
    jon.dadapt_adamw(0.5, (0.8, 0.99), 1e-6, 1e-3, 0.1, eps_root=1e-9),
    lambda g, p, f: ref.dadapt_adamw(g, p, f, 0.5, (0.8, 0.99), 1e-6, 1e-3, 0.1, 1e-9),
  ),
  ("prodigy", jon.prodigy(), lambda g, p, f: ref.prodigy(g, p, f)),
  (
    "prodigy_safeguard_decay",
    jon.prodigy(0.5, (0.8, 0.99), 0.9, 1e-6, 1e-3, 2.0, 0.1, True, 1e-9),
    lambda g, p, f: ref.prodigy(g, p, f, 0.5, (0.8, 0.99), 0.9, 1e-6, 1e-3, 2.0, 0.1, True, 1e-9),
  ),
  (
    "mars_adamw",
    jon.mars_adamw(0.01, weight_decay=0.1),
    lambda g, p, f: ref.mars(g, p, f, lambda *a: ref.adam(*a, 0.01, 0.95, 0.99, weight_decay=0.1)),
  ),
  (
    "mars_sgd_per_leaf",
    jon.mars(jon.sgd(0.1, momentum=0.9), b1=0.9, gamma=0.5, per_leaf=True),
    lambda g, p, f: ref.mars(
      g, p, f, lambda *a: ref.sgd(*a, 0.1, momentum=0.9), b1=0.9, gamma=0.5, per_leaf=True
    ),
  ),
  ("mechanize", jon.mechanize(jon.sgd(0.1)), lambda g, p, f: ref.mechanize(g, p, f)),
  (
    "mechanize_momentum",
    jon.mechanize(jon.sgd(0.05, 0.9), 0.1, 1e-6, 1e-4, 3),
    lambda g, p, f: ref.mechanize(g, p, f, 0.05, 0.9, 0.1, 1e-6, 1e-4, 3),
  ),
]

# Optimizers whose references need more than a case above (a key, probes, noise):
# each has its own test below.
OWN_TESTS = {"kron", "noisy_sgd", "sophia", "psgd_pro"}


def _library_updates(opt, obj_fn=None):
  """Runs any (init, update) pair, ours or optax's, over the shared gradient sequence
  (with ``obj_fn``, the objective a Hessian estimator differentiates, when given)."""
  params = jax.tree.map(jnp.asarray, PARAMS)
  state = opt.init(params)
  takes_extras = type(opt).__name__ == "GradientTransformationExtraArgs"
  step = jax.jit(opt.update if obj_fn is None else functools.partial(opt.update, obj_fn=obj_fn))
  outs = []
  for g, f in zip(GRADS, LOSSES):
    extras = {"value": jnp.asarray(f)} if takes_extras else {}
    u, state = step(jax.tree.map(jnp.asarray, g), state, params, **extras)
    params = jon.apply_updates(params, u)
    outs.append(u)
  return outs


@pytest.mark.parametrize("name,opt,reference", CASES, ids=[c[0] for c in CASES])
def test_matches_numpy_reference(name, opt, reference):
  ours = _library_updates(opt)
  for leaf in PARAMS:
    expected = reference([g[leaf] for g in GRADS], PARAMS[leaf], LOSSES)
    for t, (u, e) in enumerate(zip(ours, expected)):
      np.testing.assert_allclose(
        u[leaf], e, rtol=1e-10, atol=1e-15, err_msg=f"{name}, leaf {leaf}, step {t + 1}"
      )


@pytest.mark.parametrize("name,opt,reference", TREE_CASES, ids=[c[0] for c in TREE_CASES])
def test_matches_numpy_tree_reference(name, opt, reference):
  ours = _library_updates(opt)
  expected = reference(GRADS, PARAMS, LOSSES)
  for t, (u, e) in enumerate(zip(ours, expected)):
    for leaf in PARAMS:
      np.testing.assert_allclose(
        u[leaf], e[leaf], rtol=1e-10, atol=1e-15, err_msg=f"{name}, leaf {leaf}, step {t + 1}"
      )


def test_noisy_sgd_matches_reference_with_documented_noise():
  """The noise of step t is drawn from the key schedule documented in ``add_noise``."""
  eta, gamma, lr = 0.3, 0.55, 0.1
  ours = _library_updates(jon.noisy_sgd(lr, eta=eta, gamma=gamma, key=7))
  key = jax.random.key(7)
  noise = []
  for _ in range(STEPS):
    key, sample = jax.random.split(key)
    keys = dict(zip(sorted(PARAMS), jax.random.split(sample, len(PARAMS))))
    noise.append(
      {k: np.asarray(jax.random.normal(keys[k], PARAMS[k].shape, jnp.float64)) for k in PARAMS}
    )
  for leaf in PARAMS:
    expected = ref.noisy_sgd(
      [g[leaf] for g in GRADS], PARAMS[leaf], LOSSES, lr, eta, gamma, [n[leaf] for n in noise]
    )
    for u, e in zip(ours, expected):
      np.testing.assert_allclose(u[leaf], e, rtol=1e-10, atol=1e-15)


def test_every_public_optimizer_has_a_reference():
  from registry import ALIASES

  ids = {case[0] for case in CASES + TREE_CASES}
  covered = {name for name in ALIASES if any(i == name or i.startswith(f"{name}_") for i in ids)}
  assert covered | OWN_TESTS == ALIASES


KRON_PARAMS = {
  "blocked": RNG.normal(size=(5, 3)),
  "one_diag": RNG.normal(size=(4, 6)),
  "vector": RNG.normal(size=3),
  "scalar": RNG.normal(size=()),
}
KRON_GRADS = [
  {k: RNG.normal(size=v.shape) * 10.0 ** RNG.integers(-2, 2) for k, v in KRON_PARAMS.items()}
  for _ in range(STEPS)
]
KRON_PROBES = [{k: RNG.normal(size=v.shape) for k, v in KRON_PARAMS.items()} for _ in range(STEPS)]
KRON_FITS = [True, True, False, True, False, False, True, True]


def _kron_updates(transform, lr, wd):
  """The updates of ``transform``, decoupled weight decay and the learning rate, jitted,
  over the Kronecker gradient sequence."""
  opt = jon.chain(transform, jon.add_decayed_weights(wd), jon.scale_by_learning_rate(lr))
  params = jax.tree.map(jnp.asarray, KRON_PARAMS)
  state, step = opt.init(params), jax.jit(opt.update)
  ours = []
  for g in KRON_GRADS:
    u, state = step(jax.tree.map(jnp.asarray, g), state, params)
    params = jon.apply_updates(params, u)
    ours.append(u)
  return ours


@pytest.mark.parametrize("momentum_into", [True, False])
def test_kron_matches_numpy_reference_with_given_probes(momentum_into):
  """PSGD-Kron with blocks, a diagonal dim, 1-D and scalar leaves, skipped fits.

  The library's randomness goes through an internal hook, ``draw(key, count,
  like)``: here it hands over a fixed uniform per step (0 fits, 0.9 does not, at
  probability 0.5) and the probe vectors the numpy reference also sees.
  """
  import inspect
  from jaxopt_notes.kronecker import _kron

  lr, wd = 0.05, 0.1
  options = {name: p.default for name, p in inspect.signature(jon.scale_by_kron).parameters.items()}
  options.update(
    b1=0.8,
    preconditioner_lr=0.3,
    preconditioner_init_scale=2.0,
    preconditioner_update_probability=0.5,
    block_size=2,
    max_size_triangular=5,
    merge_small_dims=False,
    momentum_into_precond_update=momentum_into,
  )
  uniforms = jnp.asarray([0.0 if fit else 0.9 for fit in KRON_FITS])
  probes = {k: jnp.stack([p[k] for p in KRON_PROBES]) for k in KRON_PARAMS}

  def draw(key, count, like):
    del key
    return uniforms[count], {k: probes[k][count].astype(like[k].dtype) for k in like}

  ours = _kron_updates(_kron._scale_by_kron(_kron._Settings(**options), draw), lr, wd)
  for leaf in KRON_PARAMS:
    expected = ref.kron(
      [g[leaf] for g in KRON_GRADS],
      KRON_PARAMS[leaf],
      LOSSES,
      lr,
      [p[leaf] for p in KRON_PROBES],
      KRON_FITS,
      b1=0.8,
      precond_lr=0.3,
      init_scale=2.0,
      block_size=2,
      max_size_triangular=5,
      weight_decay=wd,
      momentum_into_precond_update=momentum_into,
    )
    for t, (u, e) in enumerate(zip(ours, expected)):
      np.testing.assert_allclose(
        u[leaf], e, rtol=1e-10, atol=1e-15, err_msg=f"kron, leaf {leaf}, step {t + 1}"
      )


PRO_PROBABILITIES = [1.0, 0.6, 0.3, 0.9, 0.2, 0.5, 1.0, 0.4]  # refits at steps 1, 4, 5, 7


@pytest.mark.parametrize(
  "options",
  [
    dict(momentum_into_precond_update=True),
    # a fit step large enough for the Procrustes step to reach its bound (1/8; 1/2 published)
    dict(momentum_into_precond_update=False, published=True, preconditioner_lr=3.0),
    dict(preconditioner_lr=3.0),
  ],
  ids=["defaults", "published_raw_gradient", "bound_reached"],
)
def test_psgd_pro_matches_numpy_reference_with_given_probes(options):
  """PSGD-PRO with dense and diagonal factors, 1-D and scalar leaves and steps that do not
  refit: the probability schedule picks the steps by its running sum, the probes come in
  through the internal hook ``probe(key, count, like)``."""
  import inspect
  from jaxopt_notes.kronecker import _psgd_pro

  lr, wd = 0.05, 0.1
  settings = {k: p.default for k, p in inspect.signature(jon.scale_by_psgd_pro).parameters.items()}
  settings.update(
    b1=0.8,
    preconditioner_lr=0.3,
    preconditioner_init_scale=2.0,
    lower_bound_beta=0.7,
    dampening=1e-3,
    max_size_triangular=5,
    preconditioner_update_probability=lambda t: jnp.asarray(PRO_PROBABILITIES)[t - 1],
  )
  settings.update(options)
  sums = np.cumsum([0.0] + PRO_PROBABILITIES)
  fits = [bool(np.floor(b) > np.floor(a)) for a, b in zip(sums[:-1], sums[1:])]
  probes = {k: jnp.stack([p[k] for p in KRON_PROBES]) for k in KRON_PARAMS}

  def probe(key, count, like):
    del key
    return {k: probes[k][count].astype(like[k].dtype) for k in like}

  ours = _kron_updates(_psgd_pro._scale_by_psgd_pro(_psgd_pro._Settings(**settings), probe), lr, wd)
  for leaf in KRON_PARAMS:
    expected = ref.psgd_pro(
      [g[leaf] for g in KRON_GRADS],
      KRON_PARAMS[leaf],
      LOSSES,
      lr,
      [p[leaf] for p in KRON_PROBES],
      fits,
      b1=0.8,
      precond_lr=settings["preconditioner_lr"],
      init_scale=2.0,
      lower_bound_beta=0.7,
      dampening=1e-3,
      max_size_triangular=5,
      weight_decay=wd,
      momentum_into_precond_update=settings["momentum_into_precond_update"],
      published=settings["published"],
    )
    for t, (u, e) in enumerate(zip(ours, expected)):
      np.testing.assert_allclose(
        u[leaf], e, rtol=1e-10, atol=1e-15, err_msg=f"psgd_pro, leaf {leaf}, step {t + 1}"
      )


def separable_objective(params):
  """sum(c p^2 / 2 + p^4 / 12): a Hessian that is diagonal, c + p^2, so that Hutchinson's
  estimate is exact for every probe."""
  return sum(jnp.sum(SEPARABLE_C * p**2 / 2 + p**4 / 12) for p in jax.tree.leaves(params))


SEPARABLE_C = 0.5


@pytest.mark.parametrize(
  "kwargs",
  [
    dict(),
    dict(
      b1=0.5, b2=0.7, eps=1e-3, weight_decay=0.1, gamma=0.3, clip_threshold=None, update_interval=3
    ),
    dict(
      b1=0.8,
      gamma=2.0,
      clip_threshold=0.5,
      update_interval=1,
      hessian_diagonal_fn=jon.hutchinson_estimator_diag_hessian(jax.random.PRNGKey(3)),
    ),
  ],
  ids=["defaults", "unclipped_every_3", "clipped_every_step"],
)
def test_sophia_matches_reference(kwargs):
  ours = _library_updates(jon.sophia(0.01, **kwargs), obj_fn=separable_objective)
  kwargs.pop("hessian_diagonal_fn", None)
  for leaf in PARAMS:
    expected = ref.sophia(
      [g[leaf] for g in GRADS], PARAMS[leaf], LOSSES, 0.01, lambda p: SEPARABLE_C + p**2, **kwargs
    )
    for t, (u, e) in enumerate(zip(ours, expected)):
      np.testing.assert_allclose(
        u[leaf], e, rtol=1e-10, atol=1e-15, err_msg=f"leaf {leaf}, step {t + 1}"
      )


DION_PARAMS = {
  "tall": RNG.normal(size=(5, 3)),
  "wide": RNG.normal(size=(3, 6)),
  "vector": RNG.normal(size=3),
}
DION_GRADS = [{k: RNG.normal(size=v.shape) for k, v in DION_PARAMS.items()} for _ in range(4)]


@pytest.mark.parametrize(
  "rank,kwargs", [(2, {}), (0.5, {"mu": 0.8, "weight_decay": 0.1}), (1.0, {"nesterov": False})]
)
def test_dion_matches_numpy_reference_on_tall_and_wide_matrices(rank, kwargs):
  opt = jon.dion(0.01, rank=rank, key=3, **kwargs)
  params, state, ours = {k: jnp.asarray(v) for k, v in DION_PARAMS.items()}, None, []
  state = opt.init(params)
  step = jax.jit(opt.update)
  for g in DION_GRADS:
    u, state = step(jax.tree.map(jnp.asarray, g), state, params)
    params = jon.apply_updates(params, u)
    ours.append(u)
  # the factors the library drew, leaf by leaf (the same key folds in each leaf's number)
  starts = (
    jon.scale_by_dion(rank, key=3)
    .init({k: jnp.asarray(v) for k, v in DION_PARAMS.items() if v.ndim == 2})
    .q
  )
  for leaf, param in DION_PARAMS.items():
    q0 = np.asarray(starts[leaf][0]) if param.ndim == 2 else None
    expected = ref.dion([g[leaf] for g in DION_GRADS], param, LOSSES, 0.01, q0, **kwargs)
    for t, (u, e) in enumerate(zip(ours, expected)):
      np.testing.assert_allclose(
        u[leaf], e, rtol=1e-10, atol=1e-15, err_msg=f"{leaf}, step {t + 1}"
      )
