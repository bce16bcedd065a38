"""Generic building blocks and wrappers, under optax's ``optax.transforms`` names.

Every name here is also exported at the top level of `jaxopt_notes` (except
`ConditionFn`, `unitwise_norm` and `unitwise_clip`, which optax keeps here only).
"""

from jaxopt_notes._combine import chain, named_chain
from jaxopt_notes.transforms._accumulation import EmaState, TraceState, ema, trace
from jaxopt_notes.transforms._adding import AddNoiseState, add_decayed_weights, add_noise
from jaxopt_notes.transforms._clipping import (
  adaptive_grad_clip,
  clip,
  clip_by_block_rms,
  clip_by_global_norm,
  per_example_global_norm_clip,
  per_example_layer_norm_clip,
  unitwise_clip,
  unitwise_norm,
)
from jaxopt_notes.transforms._conditionality import (
  ApplyIfFiniteState,
  ConditionFn,
  ConditionallyMaskState,
  ConditionallyTransformState,
  apply_if_finite,
  conditionally_mask,
  conditionally_transform,
)
from jaxopt_notes.transforms._constraining import (
  NonNegativeParamsState,
  ZeroNansState,
  keep_params_nonnegative,
  zero_nans,
)
from jaxopt_notes.transforms._layouts import flatten
from jaxopt_notes.transforms._masking import MaskedNode, MaskedState, masked
from jaxopt_notes.transforms._monitoring import (
  MonitorState,
  SnapshotState,
  measure_with_ema,
  monitor,
  snapshot,
)
from jaxopt_notes.transforms._multisteps import (
  MultiSteps,
  MultiStepsState,
  ShouldSkipUpdateFunction,
  skip_large_updates,
  skip_not_finite,
)
from jaxopt_notes.transforms._partition import (
  PartitionState,
  freeze,
  partition,
  selective_transform,
)

__all__ = [
  "AddNoiseState",
  "ApplyIfFiniteState",
  "ConditionFn",
  "ConditionallyMaskState",
  "ConditionallyTransformState",
  "EmaState",
  "MaskedNode",
  "MaskedState",
  "MonitorState",
  "MultiSteps",
  "MultiStepsState",
  "NonNegativeParamsState",
  "PartitionState",
  "ShouldSkipUpdateFunction",
  "SnapshotState",
  "TraceState",
  "ZeroNansState",
  "adaptive_grad_clip",
  "add_decayed_weights",
  "add_noise",
  "apply_if_finite",
  "chain",
  "clip",
  "clip_by_block_rms",
  "clip_by_global_norm",
  "conditionally_mask",
  "conditionally_transform",
  "ema",
  "flatten",
  "freeze",
  "keep_params_nonnegative",
  "masked",
  "measure_with_ema",
  "monitor",
  "named_chain",
  "partition",
  "per_example_global_norm_clip",
  "per_example_layer_norm_clip",
  "selective_transform",
  "skip_large_updates",
  "skip_not_finite",
  "snapshot",
  "trace",
  "unitwise_clip",
  "unitwise_norm",
  "zero_nans",
]
