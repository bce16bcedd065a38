"""jaxopt_notes: functional optimizer transforms for JAX.

Every algorithm is a pure ``(init, update)`` pair over pytrees, composable with
`chain`. This module is the one-hop map of the library.
"""

from jaxopt_notes import assignment, microbatching, perturbations, second_order
from jaxopt_notes import contrib, projections, schedules, transforms, tree, tree_utils
from jaxopt_notes._base import (
  EmptyState,
  GradientTransformation,
  GradientTransformationExtraArgs,
  OptState,
  Params,
  PyTree,
  ScalarOrSchedule,
  Schedule,
  TransformInitFn,
  TransformUpdateExtraArgsFn,
  TransformUpdateFn,
  Updates,
  apply_updates,
  identity,
  incremental_update,
  init_empty_state,
  periodic_update,
  set_to_zero,
  stateless,
  stateless_with_tree_map,
  with_extra_args_support,
)
from jaxopt_notes._checkpointing import abstract_state, tree_map_params
from jaxopt_notes._combine import chain, named_chain
from jaxopt_notes import losses
from jaxopt_notes.losses import (
  convex_kl_divergence,
  cosine_distance,
  cosine_similarity,
  ctc_loss,
  ctc_loss_with_forward_probs,
  generalized_kl_divergence,
  hinge_loss,
  huber_loss,
  kl_divergence,
  l2_loss,
  log_cosh,
  ntxent,
  safe_softmax_cross_entropy,
  sigmoid_binary_cross_entropy,
  sigmoid_focal_loss,
  smooth_labels,
  softmax_cross_entropy,
  softmax_cross_entropy_with_integer_labels,
  squared_error,
)
from jaxopt_notes._linear_algebra import global_norm, matrix_inverse_pth_root, nnls, power_iteration
from jaxopt_notes._multi_normal import multi_normal
from jaxopt_notes._moments import (
  bias_correction,
  update_infinity_moment,
  update_moment,
  update_moment_per_elem_norm,
)
from jaxopt_notes._numerics import safe_increment, safe_norm
from jaxopt_notes._numerics import safe_increment as safe_int32_increment
from jaxopt_notes._numerics import safe_rms as safe_root_mean_squares
from jaxopt_notes.kronecker import (
  ScaleByKronState,
  ScaleByShampooState,
  ScaleBySoapState,
  kron,
  precond_update_prob_schedule,
  scale_by_kron,
  scale_by_shampoo,
  scale_by_soap,
  shampoo,
  soap,
)
from jaxopt_notes.kronecker import (
  ScaleByKlShampooState,
  ScaleByKlSoapState,
  kl_shampoo,
  kl_soap,
  scale_by_kl_shampoo,
  scale_by_kl_soap,
)
from jaxopt_notes.kronecker import (
  ScaleBySplusState,
  scale_by_shape,
  scale_by_splus,
  splus,
  splus_eval_params,
)
from jaxopt_notes.kronecker import ScaleByPsgdProState, psgd_pro, scale_by_psgd_pro
from jaxopt_notes.microbatching import microbatch
from jaxopt_notes.optimizers._adadelta import ScaleByAdaDeltaState, adadelta, scale_by_adadelta
from jaxopt_notes.optimizers._adafactor import FactoredState, adafactor, scale_by_factored_rms
from jaxopt_notes.optimizers._adagrad import (
  ScaleByRssState,
  adagrad,
  scale_by_adagrad,
  scale_by_rss,
)
from jaxopt_notes.optimizers._adam import (
  ScaleByAdamState,
  ScaleByAmsgradState,
  adam,
  adamax,
  adamaxw,
  adamw,
  amsgrad,
  nadam,
  nadamw,
  scale_by_adam,
  scale_by_adamax,
  scale_by_amsgrad,
)
from jaxopt_notes.optimizers._adan import ScaleByAdanState, adan, scale_by_adan
from jaxopt_notes.optimizers._ademamix import (
  ScaleByAdemamixState,
  ScaleBySimplifiedAdEMAMixState,
  ademamix,
  scale_by_ademamix,
  scale_by_simplified_ademamix,
  simplified_ademamix,
)
from jaxopt_notes.optimizers._acprop import acprop, scale_by_acprop
from jaxopt_notes.optimizers._adopt import adopt, scale_by_adopt
from jaxopt_notes.optimizers._belief import ScaleByBeliefState, adabelief, scale_by_belief
from jaxopt_notes.optimizers._cocob import COCOBState, cocob, scale_by_cocob
from jaxopt_notes.optimizers._dog import (
  DoGState,
  DoWGState,
  ScaleByDistanceOverGradientsState,
  dog,
  dowg,
  scale_by_distance_over_gradients,
  scale_by_dog,
  scale_by_dowg,
)
from jaxopt_notes.optimizers._dpsgd import (
  DifferentiallyPrivateAggregateState,
  differentially_private_aggregate,
  dpsgd,
)
from jaxopt_notes.optimizers._galore import (
  GaLoreDimensionNumbers,
  GaLoreState,
  galore,
  scale_by_galore,
)
from jaxopt_notes.optimizers._dadapt import DAdaptAdamWState, ProdigyState, dadapt_adamw, prodigy
from jaxopt_notes.optimizers._eve import ScaleByEveState, eve, scale_by_eve
from jaxopt_notes.optimizers._fromage import fromage
from jaxopt_notes.optimizers._lion import ScaleByLionState, lion, scale_by_lion
from jaxopt_notes.optimizers._mechanic import MechanicState, mechanize
from jaxopt_notes.optimizers._momo import MomoAdamState, MomoState, momo, momo_adam
from jaxopt_notes.optimizers._optimistic import (
  ScaleByOptimisticGradientState,
  optimistic_adam,
  optimistic_adam_v2,
  optimistic_gradient_descent,
  scale_by_optimistic_gradient,
)
from jaxopt_notes.optimizers._polyak import polyak_sgd, scale_by_polyak
from jaxopt_notes.optimizers._novograd import ScaleByNovogradState, novograd, scale_by_novograd
from jaxopt_notes.optimizers._laprop import ScaleByLaPropState, laprop, scale_by_laprop
from jaxopt_notes.optimizers._madgrad import MadgradState, madgrad, scale_by_madgrad
from jaxopt_notes.optimizers._muon import (
  MuonDimensionNumbers,
  MuonState,
  muon,
  muon_conv_dimension_numbers,
  polar_express_coefficients,
  scale_by_muon,
)
from jaxopt_notes.optimizers._adamuon import ScaleByAdaMuonState, adamuon, scale_by_adamuon
from jaxopt_notes.optimizers._mars import MarsState, mars, mars_adamw
from jaxopt_notes.optimizers._normuon import ScaleByNorMuonState, normuon, scale_by_normuon
from jaxopt_notes.optimizers._dion import ScaleByDionState, dion, scale_by_dion
from jaxopt_notes.optimizers._stable_adam import (
  ScaleByStableAdamWState,
  adam_atan2,
  scale_by_adam_atan2,
  scale_by_stable_adamw,
  stable_adamw,
)
from jaxopt_notes.optimizers._spam import ScaleBySpamState, scale_by_spam, spam
from jaxopt_notes.optimizers._radam import radam, scale_by_radam
from jaxopt_notes.optimizers._rmsprop import (
  ScaleByRmsState,
  ScaleByRmsWithCountState,
  ScaleByRStdDevState,
  ScaleByRStdDevWithCountState,
  rmsprop,
  scale_by_rms,
  scale_by_stddev,
)
from jaxopt_notes.optimizers._rprop import ScaleByRpropState, rprop, scale_by_rprop
from jaxopt_notes.optimizers._sam import NormalizeState, SAMState, normalize, sam
from jaxopt_notes.optimizers._sophia import (
  HutchinsonState,
  SophiaState,
  hutchinson_estimator_diag_hessian,
  scale_by_sophia,
  sophia,
)
from jaxopt_notes.optimizers._schedule_free import (
  ScheduleFreeState,
  schedule_free,
  schedule_free_adamw,
  schedule_free_eval_params,
  schedule_free_sgd,
)
from jaxopt_notes.optimizers._sgd import noisy_sgd, sgd
from jaxopt_notes.optimizers._sign import scale_by_sign, sign_sgd, signum
from jaxopt_notes.optimizers._sm3 import ScaleBySM3State, scale_by_sm3, sm3
from jaxopt_notes.optimizers._trust import ScaleByTrustRatioState, lamb, lars, scale_by_trust_ratio
from jaxopt_notes.optimizers._yogi import scale_by_yogi, yogi
from jaxopt_notes.schedules._decay import (
  constant_schedule,
  cosine_decay_schedule,
  exponential_decay,
  linear_schedule,
  polynomial_schedule,
)
from jaxopt_notes.schedules._inject import (
  InjectHyperparamsState,
  InjectStatefulHyperparamsState,
  WrappedSchedule,
  inject_hyperparams,
  inject_stateful_hyperparams,
)
from jaxopt_notes.schedules._piecewise import (
  cosine_onecycle_schedule,
  join_schedules,
  linear_onecycle_schedule,
  piecewise_constant_schedule,
  piecewise_interpolate_schedule,
  sgdr_schedule,
  warmup_constant_schedule,
  warmup_cosine_decay_schedule,
  warmup_exponential_decay_schedule,
)
from jaxopt_notes.schedules._plateau import ReduceLROnPlateauState, reduce_on_plateau
from jaxopt_notes.schedules._practice import (
  triangular_cyclic_schedule,
  warmup_inverse_sqrt_schedule,
  warmup_stable_decay_schedule,
)
from jaxopt_notes.projections._projected import projected
from jaxopt_notes.second_order._backtracking import (
  BacktrackingLinesearchInfo,
  ScaleByBacktrackingLinesearchState,
  scale_by_backtracking_linesearch,
)
from jaxopt_notes.second_order._common import value_and_grad_from_state
from jaxopt_notes.second_order._exact import (
  ScaleByExactLinesearchState,
  scale_by_exact_linesearch,
  steepest_descent,
)
from jaxopt_notes.second_order._lbfgs import ScaleByLBFGSState, lbfgs, scale_by_lbfgs
from jaxopt_notes.second_order._newton import (
  ScaleByNewtonCGState,
  ScaleByNewtonState,
  newton,
  newton_cg,
  scale_by_newton,
  scale_by_newton_cg,
)
from jaxopt_notes.second_order._preconditioning import preconditioned_sgd, scale_by_preconditioner
from jaxopt_notes.second_order._zoom import (
  ScaleByZoomLinesearchState,
  ZoomLinesearchInfo,
  scale_by_zoom_linesearch,
)
from jaxopt_notes.transforms._accumulation import EmaState, TraceState, ema, trace
from jaxopt_notes.transforms._adding import (
  AddDecayedWeightsState,
  AddNoiseState,
  WeightDecaySchedule,
  add_decayed_weights,
  add_noise,
)
from jaxopt_notes.transforms._averaging import AverageParamsState, average_params, averaged_params
from jaxopt_notes.transforms._conditionality import (
  ApplyIfFiniteState,
  ConditionallyMaskState,
  ConditionallyTransformState,
  apply_if_finite,
  conditionally_mask,
  conditionally_transform,
)
from jaxopt_notes.transforms._complex import SplitRealAndImaginaryState, split_real_and_imaginary
from jaxopt_notes.transforms._constraining import (
  NonNegativeParamsState,
  ZeroNansState,
  centralize,
  keep_params_nonnegative,
  zero_nans,
)
from jaxopt_notes.transforms._layouts import PackedLeaves, flatten, pack_leaves, pack_params
from jaxopt_notes.transforms._low_bit import (
  LowBitState,
  QuantizedArray,
  dequantize_blockwise,
  low_bit_state,
  quantize_blockwise,
)
from jaxopt_notes.transforms._lookahead import LookaheadParams, LookaheadState, lookahead
from jaxopt_notes.transforms._monitoring import (
  MonitorState,
  SnapshotState,
  measure_with_ema,
  monitor,
  snapshot,
)
from jaxopt_notes.transforms._multisteps import (
  ApplyEvery,
  MultiSteps,
  MultiStepsState,
  ShouldSkipUpdateFunction,
  apply_every,
  skip_large_updates,
  skip_not_finite,
)
from jaxopt_notes.transforms._partition import (
  MultiTransformState,
  PartitionState,
  freeze,
  multi_transform,
  partition,
  selective_transform,
)
from jaxopt_notes.transforms._cautious import CautiousState, cautious
from jaxopt_notes.transforms._clipping import (
  AdaptiveGradClipState,
  ClipByGlobalNormState,
  ClipState,
  adaptive_grad_clip,
  clip,
  clip_by_block_rms,
  clip_by_global_norm,
  per_example_global_norm_clip,
  per_example_layer_norm_clip,
)
from jaxopt_notes.transforms._masking import MaskedNode, MaskedState, MaskOrFn, masked
from jaxopt_notes.transforms._scaling import (
  ScaleByScheduleState,
  ScaleState,
  normalize_by_update_norm,
  scale,
  scale_by_learning_rate,
  scale_by_param_block_norm,
  scale_by_param_block_rms,
  scale_by_schedule,
  scale_gradient,
)

__version__ = "0.1.0"

__all__ = [
  # contract and types
  "EmptyState",
  "GradientTransformation",
  "GradientTransformationExtraArgs",
  "OptState",
  "Params",
  "PyTree",
  "ScalarOrSchedule",
  "Schedule",
  "TransformInitFn",
  "TransformUpdateExtraArgsFn",
  "TransformUpdateFn",
  "Updates",
  "abstract_state",
  "apply_updates",
  "chain",
  "contrib",
  "identity",
  "incremental_update",
  "init_empty_state",
  "named_chain",
  "periodic_update",
  "set_to_zero",
  "stateless",
  "stateless_with_tree_map",
  "tree",
  "tree_map_params",
  "with_extra_args_support",
  # building blocks
  "AddNoiseState",
  "EmaState",
  "MaskedNode",
  "MaskedState",
  "ScaleByScheduleState",
  "TraceState",
  "WeightDecaySchedule",
  "add_decayed_weights",
  "add_noise",
  "clip",
  "clip_by_block_rms",
  "clip_by_global_norm",
  "ema",
  "masked",
  "scale",
  "scale_by_learning_rate",
  "scale_by_schedule",
  "trace",
  "adaptive_grad_clip",
  "normalize_by_update_norm",
  "per_example_global_norm_clip",
  "per_example_layer_norm_clip",
  "scale_by_param_block_norm",
  "scale_by_param_block_rms",
  "scale_gradient",
  # wrappers
  "ApplyIfFiniteState",
  "AverageParamsState",
  "ConditionallyMaskState",
  "ConditionallyTransformState",
  "LookaheadParams",
  "LookaheadState",
  "MultiSteps",
  "MultiStepsState",
  "PackedLeaves",
  "PartitionState",
  "ZeroNansState",
  "apply_if_finite",
  "average_params",
  "averaged_params",
  "centralize",
  "conditionally_mask",
  "conditionally_transform",
  "flatten",
  "freeze",
  "keep_params_nonnegative",
  "lookahead",
  "multi_transform",
  "pack_leaves",
  "pack_params",
  "partition",
  "skip_large_updates",
  "skip_not_finite",
  "zero_nans",
  "MonitorState",
  "SnapshotState",
  "measure_with_ema",
  "monitor",
  "selective_transform",
  "snapshot",
  "SplitRealAndImaginaryState",
  "split_real_and_imaginary",
  "LowBitState",
  "QuantizedArray",
  "dequantize_blockwise",
  "low_bit_state",
  "quantize_blockwise",
  # optimizer families
  "ScaleByAdaDeltaState",
  "ScaleByAdamState",
  "ScaleByAmsgradState",
  "ScaleByBeliefState",
  "ScaleByEveState",
  "ScaleByLionState",
  "ScaleByRStdDevState",
  "ScaleByRStdDevWithCountState",
  "ScaleByRmsState",
  "ScaleByRmsWithCountState",
  "ScaleByRssState",
  "adabelief",
  "adadelta",
  "adagrad",
  "adam",
  "adamax",
  "adamaxw",
  "adamw",
  "amsgrad",
  "eve",
  "lamb",
  "lars",
  "lion",
  "nadam",
  "nadamw",
  "noisy_sgd",
  "radam",
  "rmsprop",
  "sgd",
  "yogi",
  "scale_by_adadelta",
  "scale_by_adagrad",
  "scale_by_adam",
  "scale_by_adamax",
  "scale_by_amsgrad",
  "scale_by_belief",
  "scale_by_eve",
  "scale_by_lion",
  "scale_by_radam",
  "scale_by_rms",
  "scale_by_rss",
  "scale_by_stddev",
  "scale_by_trust_ratio",
  "scale_by_yogi",
  # factored and sign-based
  "FactoredState",
  "ScaleByAdanState",
  "ScaleByNovogradState",
  "ScaleByRpropState",
  "ScaleBySM3State",
  "adafactor",
  "adan",
  "fromage",
  "novograd",
  "rprop",
  "sign_sgd",
  "signum",
  "sm3",
  "scale_by_adan",
  "scale_by_factored_rms",
  "scale_by_novograd",
  "scale_by_rprop",
  "scale_by_sign",
  "scale_by_sm3",
  # the rest of the catalogue
  "MuonDimensionNumbers",
  "MuonState",
  "muon",
  "scale_by_muon",
  "polar_express_coefficients",
  "muon_conv_dimension_numbers",
  "ScaleByDionState",
  "dion",
  "scale_by_dion",
  "ScaleByNorMuonState",
  "normuon",
  "scale_by_normuon",
  "ScaleByAdaMuonState",
  "adamuon",
  "scale_by_adamuon",
  "MarsState",
  "mars",
  "mars_adamw",
  "ScaleByStableAdamWState",
  "adam_atan2",
  "scale_by_adam_atan2",
  "scale_by_stable_adamw",
  "stable_adamw",
  "ScaleBySpamState",
  "scale_by_spam",
  "spam",
  "ScheduleFreeState",
  "schedule_free",
  "schedule_free_adamw",
  "schedule_free_eval_params",
  "schedule_free_sgd",
  "ScaleByLaPropState",
  "laprop",
  "scale_by_laprop",
  "CautiousState",
  "cautious",
  "adopt",
  "scale_by_adopt",
  "ScaleByAdemamixState",
  "ScaleBySimplifiedAdEMAMixState",
  "ademamix",
  "scale_by_ademamix",
  "scale_by_simplified_ademamix",
  "simplified_ademamix",
  "MadgradState",
  "madgrad",
  "scale_by_madgrad",
  "GaLoreDimensionNumbers",
  "GaLoreState",
  "galore",
  "scale_by_galore",
  "DifferentiallyPrivateAggregateState",
  "differentially_private_aggregate",
  "dpsgd",
  # Kronecker-factored preconditioners
  "ScaleByShampooState",
  "ScaleBySoapState",
  "scale_by_shampoo",
  "scale_by_soap",
  "shampoo",
  "soap",
  "ScaleByKlShampooState",
  "ScaleByKlSoapState",
  "kl_shampoo",
  "kl_soap",
  "scale_by_kl_shampoo",
  "scale_by_kl_soap",
  "ScaleByPsgdProState",
  "psgd_pro",
  "scale_by_psgd_pro",
  "ScaleBySplusState",
  "scale_by_shape",
  "scale_by_splus",
  "splus",
  "splus_eval_params",
  "acprop",
  "scale_by_acprop",
  "HutchinsonState",
  "SophiaState",
  "hutchinson_estimator_diag_hessian",
  "scale_by_sophia",
  "sophia",
  "NormalizeState",
  "SAMState",
  "normalize",
  "sam",
  # beyond first order: line searches, Newton, L-BFGS, preconditioning
  "BacktrackingLinesearchInfo",
  "ScaleByBacktrackingLinesearchState",
  "ScaleByExactLinesearchState",
  "ScaleByLBFGSState",
  "ScaleByNewtonCGState",
  "ScaleByNewtonState",
  "ScaleByZoomLinesearchState",
  "ZoomLinesearchInfo",
  "lbfgs",
  "newton",
  "newton_cg",
  "preconditioned_sgd",
  "scale_by_backtracking_linesearch",
  "scale_by_exact_linesearch",
  "scale_by_lbfgs",
  "scale_by_newton",
  "scale_by_newton_cg",
  "scale_by_preconditioner",
  "scale_by_zoom_linesearch",
  "steepest_descent",
  "value_and_grad_from_state",
  # games, Polyak steps and learning-rate-free methods
  "COCOBState",
  "DoGState",
  "DoWGState",
  "ScaleByDistanceOverGradientsState",
  "cocob",
  "scale_by_cocob",
  "MomoAdamState",
  "MomoState",
  "momo",
  "momo_adam",
  "ScaleByOptimisticGradientState",
  "dog",
  "dowg",
  "optimistic_adam",
  "optimistic_adam_v2",
  "optimistic_gradient_descent",
  "polyak_sgd",
  "scale_by_distance_over_gradients",
  "scale_by_dog",
  "scale_by_dowg",
  "scale_by_optimistic_gradient",
  "scale_by_polyak",
  "DAdaptAdamWState",
  "MechanicState",
  "ProdigyState",
  "dadapt_adamw",
  "mechanize",
  "prodigy",
  # Kronecker-factored preconditioners
  "ScaleByKronState",
  "kron",
  "precond_update_prob_schedule",
  "scale_by_kron",
  # constraints by projection (the projections themselves: jaxopt_notes.projections)
  "projected",
  "projections",
  # losses (optax's top-level ones; all of them: jaxopt_notes.losses)
  "convex_kl_divergence",
  "cosine_distance",
  "cosine_similarity",
  "ctc_loss",
  "ctc_loss_with_forward_probs",
  "generalized_kl_divergence",
  "hinge_loss",
  "huber_loss",
  "kl_divergence",
  "l2_loss",
  "log_cosh",
  "losses",
  "ntxent",
  "safe_softmax_cross_entropy",
  "sigmoid_binary_cross_entropy",
  "sigmoid_focal_loss",
  "smooth_labels",
  "softmax_cross_entropy",
  "softmax_cross_entropy_with_integer_labels",
  "squared_error",
  # schedules and injected hyperparameters
  "InjectHyperparamsState",
  "ReduceLROnPlateauState",
  "constant_schedule",
  "cosine_decay_schedule",
  "cosine_onecycle_schedule",
  "exponential_decay",
  "inject_hyperparams",
  "join_schedules",
  "linear_onecycle_schedule",
  "linear_schedule",
  "piecewise_constant_schedule",
  "piecewise_interpolate_schedule",
  "polynomial_schedule",
  "reduce_on_plateau",
  "sgdr_schedule",
  "triangular_cyclic_schedule",
  "warmup_constant_schedule",
  "warmup_cosine_decay_schedule",
  "warmup_exponential_decay_schedule",
  "warmup_inverse_sqrt_schedule",
  "warmup_stable_decay_schedule",
  # optax's other namespaces: assignment, microbatching (and microbatch), perturbations,
  # second_order (whose line searches, Newton and L-BFGS are also above)
  "assignment",
  "microbatch",
  "microbatching",
  "perturbations",
  "second_order",
  # the rest of optax's top level: namespaces, states of stateless transforms, numerics
  "schedules",
  "transforms",
  "tree_utils",
  "AdaptiveGradClipState",
  "AddDecayedWeightsState",
  "ApplyEvery",
  "ClipByGlobalNormState",
  "ClipState",
  "InjectStatefulHyperparamsState",
  "MaskOrFn",
  "MultiTransformState",
  "NonNegativeParamsState",
  "ScaleByTrustRatioState",
  "ScaleState",
  "ShouldSkipUpdateFunction",
  "WrappedSchedule",
  "apply_every",
  "bias_correction",
  "global_norm",
  "inject_stateful_hyperparams",
  "matrix_inverse_pth_root",
  "multi_normal",
  "nnls",
  "power_iteration",
  "safe_increment",
  "safe_int32_increment",
  "safe_norm",
  "safe_root_mean_squares",
  "update_infinity_moment",
  "update_moment",
  "update_moment_per_elem_norm",
]
