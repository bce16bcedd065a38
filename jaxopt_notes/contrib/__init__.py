"""The names optax keeps under ``optax.contrib``, for code that imports them from there.

Every name here is also exported at the top level of `jaxopt_notes`; this module
only lets ``import optax.contrib as c`` become ``import jaxopt_notes.contrib as c``.
"""

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
from jaxopt_notes.optimizers._cocob import COCOBState, cocob, scale_by_cocob
from jaxopt_notes.optimizers._dadapt import DAdaptAdamWState, ProdigyState, dadapt_adamw, prodigy
from jaxopt_notes.optimizers._dog import DoGState, DoWGState, dog, dowg
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
from jaxopt_notes.optimizers._madgrad import MadgradState, madgrad, scale_by_madgrad
from jaxopt_notes.optimizers._mechanic import MechanicState, mechanize
from jaxopt_notes.optimizers._momo import MomoAdamState, MomoState, momo, momo_adam
from jaxopt_notes.optimizers._muon import MuonDimensionNumbers, MuonState, muon, scale_by_muon
from jaxopt_notes.optimizers._sam import NormalizeState, SAMState, normalize, sam
from jaxopt_notes.optimizers._sophia import (
  HutchinsonState,
  SophiaState,
  hutchinson_estimator_diag_hessian,
  sophia,
)
from jaxopt_notes.optimizers._schedule_free import (
  ScheduleFreeState,
  schedule_free,
  schedule_free_adamw,
  schedule_free_eval_params,
  schedule_free_sgd,
)
from jaxopt_notes.schedules._plateau import ReduceLROnPlateauState, reduce_on_plateau
from jaxopt_notes.transforms._complex import SplitRealAndImaginaryState, split_real_and_imaginary

__all__ = [
  "COCOBState",
  "DAdaptAdamWState",
  "DoGState",
  "DoWGState",
  "MadgradState",
  "MechanicState",
  "MomoAdamState",
  "MomoState",
  "MuonDimensionNumbers",
  "MuonState",
  "ProdigyState",
  "ReduceLROnPlateauState",
  "ScaleByAdemamixState",
  "ScaleBySimplifiedAdEMAMixState",
  "ScheduleFreeState",
  "ademamix",
  "adopt",
  "cocob",
  "dadapt_adamw",
  "dog",
  "dowg",
  "madgrad",
  "mechanize",
  "momo",
  "momo_adam",
  "muon",
  "prodigy",
  "reduce_on_plateau",
  "scale_by_ademamix",
  "scale_by_adopt",
  "scale_by_cocob",
  "scale_by_madgrad",
  "scale_by_muon",
  "scale_by_simplified_ademamix",
  "schedule_free",
  "schedule_free_adamw",
  "schedule_free_eval_params",
  "schedule_free_sgd",
  "simplified_ademamix",
  "DifferentiallyPrivateAggregateState",
  "GaLoreDimensionNumbers",
  "GaLoreState",
  "differentially_private_aggregate",
  "dpsgd",
  "galore",
  "scale_by_galore",
  "acprop",
  "scale_by_acprop",
  "HutchinsonState",
  "SophiaState",
  "hutchinson_estimator_diag_hessian",
  "sophia",
  "NormalizeState",
  "SAMState",
  "normalize",
  "sam",
  "SplitRealAndImaginaryState",
  "split_real_and_imaginary",
]
