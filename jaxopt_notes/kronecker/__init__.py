"""Kronecker-factored preconditioners: Shampoo, SOAP, PSGD-Kron, PSGD-PRO, SPlus,
KL-Shampoo, KL-SOAP.

Shampoo and SOAP keep, for each axis of a tensor, a factor that collects the Gram matrix
of the gradient unfolded along that axis (`_factors`); Shampoo multiplies the
gradient by inverse roots of the factors, SOAP runs Adam in their eigenbasis;
PSGD-Kron fits triangular factors by a whitening criterion (`_kron`), PSGD-PRO
dense ones by the Procrustes rule (`_psgd_pro`; both on `_psgd`); SPlus takes the sign
of the momentum in the factors' eigenbasis (`_splus`); KL-Shampoo and
KL-SOAP fit the factors by KL minimisation, each whitened by the others (`_kl`).
"""

from jaxopt_notes.kronecker._kl import (
  ScaleByKlShampooState,
  ScaleByKlSoapState,
  kl_shampoo,
  kl_soap,
  scale_by_kl_shampoo,
  scale_by_kl_soap,
)
from jaxopt_notes.kronecker._kron import (
  ScaleByKronState,
  kron,
  precond_update_prob_schedule,
  scale_by_kron,
)
from jaxopt_notes.kronecker._psgd_pro import ScaleByPsgdProState, psgd_pro, scale_by_psgd_pro
from jaxopt_notes.kronecker._shampoo import ScaleByShampooState, scale_by_shampoo, shampoo
from jaxopt_notes.kronecker._soap import ScaleBySoapState, scale_by_soap, soap
from jaxopt_notes.kronecker._splus import (
  ScaleBySplusState,
  scale_by_shape,
  scale_by_splus,
  splus,
  splus_eval_params,
)

__all__ = [
  "ScaleByKronState",
  "ScaleByShampooState",
  "ScaleBySoapState",
  "kron",
  "precond_update_prob_schedule",
  "scale_by_kron",
  "scale_by_shampoo",
  "scale_by_soap",
  "shampoo",
  "soap",
  "ScaleBySplusState",
  "scale_by_shape",
  "scale_by_splus",
  "splus",
  "splus_eval_params",
  "ScaleByKlShampooState",
  "ScaleByKlSoapState",
  "kl_shampoo",
  "kl_soap",
  "scale_by_kl_shampoo",
  "scale_by_kl_soap",
  "ScaleByPsgdProState",
  "psgd_pro",
  "scale_by_psgd_pro",
]
