"""Beyond first order: line searches, Newton, L-BFGS, preconditioning, curvature.

Line searches (`scale_by_backtracking_linesearch`, `scale_by_zoom_linesearch`,
`scale_by_exact_linesearch`) and Newton steps need the objective itself: their
``update`` takes ``value_fn`` (and, where useful, ``value`` and ``grad`` at the
params) as keyword extras; any further extras are passed on to ``value_fn``.
They go last in a `chain`, after the transform that makes the direction, and
report in their state the step size they chose and the evaluations it took.

`hvp`, `hessian_diag` and `fisher_diag` (optax's ``second_order`` names) give
the curvature of a loss ``loss(params, inputs, targets)`` directly.
"""

from jaxopt_notes.second_order._backtracking import (
  BacktrackingLinesearchInfo,
  ScaleByBacktrackingLinesearchState,
  scale_by_backtracking_linesearch,
)
from jaxopt_notes.second_order._common import value_and_grad_from_state
from jaxopt_notes.second_order._curvature import fisher_diag, hessian_diag, hvp
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

__all__ = [
  # optax.second_order's curvature helpers
  "fisher_diag",
  "hessian_diag",
  "hvp",
  # line searches, Newton, L-BFGS, preconditioning (also at the top level)
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
]
