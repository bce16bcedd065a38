"""Backtracking line search: shrink the step until Armijo's sufficient decrease holds.

Given the params $x$, the incoming direction $d$ (the updates) and the slope
$s = \\langle \\nabla f(x), d\\rangle$, the search tries
$\\eta_0 = \\min(\\text{increase\\_factor}\\cdot\\eta_{prev},\\ \\text{max\\_learning\\_rate})$,
then $\\eta_{i+1} = \\text{decrease\\_factor}\\cdot\\eta_i$, and stops at the first
$\\eta$ with

$$
f(x + \\eta d) \\le f(x) + \\text{slope\\_rtol}\\cdot\\eta\\, s
  + \\text{atol} + \\text{rtol}\\,|f(x)|
$$

(Armijo's condition), returning the updates $\\eta d$. ``slope_rtol=0`` asks
for plain decrease, $f(x + \\eta d) \\le f(x)$ (plus the slack), and
``increase_factor=inf`` starts every search at ``max_learning_rate``.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _tree, _validate
from jaxopt_notes._base import GradientTransformationExtraArgs
from jaxopt_notes.second_order import _common


class BacktrackingLinesearchInfo(NamedTuple):
  """What the last backtracking search did.

  Attributes:
    num_linesearch_steps: int32 evaluations of ``value_fn`` in the last search.
    decrease_error: how far the returned step misses Armijo's condition (0: it holds).
  """

  num_linesearch_steps: jax.Array  # evaluations of value_fn (int32)
  decrease_error: jax.Array  # how far the returned step misses Armijo (0: it holds)


class ScaleByBacktrackingLinesearchState(NamedTuple):
  """State of `scale_by_backtracking_linesearch`.

  Attributes:
    learning_rate: the step size returned last (0 after a non-finite search).
    value: $f$ at the new params (``inf`` before the first step).
    grad: the gradient at the new params with ``store_grad``, else ``None``.
    info: a `BacktrackingLinesearchInfo` on the last search.
  """

  learning_rate: jax.Array  # the step size returned last (0 after a non-finite search)
  value: jax.Array  # f at the new params (inf before the first step)
  grad: Any  # gradient at the new params with store_grad, else None
  info: BacktrackingLinesearchInfo


def _decrease_error(step, new_value, value, slope, slope_rtol, atol, rtol):
  """$f(x+\\eta d) - f(x) - c\\,\\eta\\,s - \\text{atol} - \\text{rtol}|f(x)|$, at least 0.

  Infinite for NaN.
  """
  error = new_value - value - slope_rtol * step * slope - atol - rtol * jnp.abs(value)
  return jnp.where(jnp.isnan(error), jnp.inf, jnp.maximum(error, 0.0))


def scale_by_backtracking_linesearch(
  max_backtracking_steps: int,
  slope_rtol: float = 1e-4,
  decrease_factor: float = 0.8,
  increase_factor: float = 1.5,
  max_learning_rate: float = 1.0,
  atol: float = 0.0,
  rtol: float = 0.0,
  store_grad: bool = False,
  verbose: bool = False,
) -> GradientTransformationExtraArgs:
  """Scales the updates by a step size meeting Armijo's sufficient-decrease condition.

  The math is in the module docstring. ``update(updates, state, params, *,
  value, grad, value_fn, **extras)`` takes the direction as ``updates`` (already
  signed to descend, e.g. after ``scale(-1.0)``), the objective ``value_fn`` and
  its ``value`` and ``grad`` at ``params`` (computed when left out); further
  extras go to ``value_fn``.

  Args:
    max_backtracking_steps: the most times a step is shrunk, so at most one more
      step size is tried (evaluations of ``value_fn``).
    slope_rtol: Armijo's constant $c_1 \\in [0, 1)$; 0 accepts any step that
      does not increase $f$ (beyond ``atol`` and ``rtol``).
    decrease_factor: the factor in $(0, 1)$ shrinking a rejected step.
    increase_factor: the first trial is the last step times this factor, so that
      a step size that grew too small can recover; ``1.0`` keeps it, ``inf``
      starts every search at ``max_learning_rate``. After a failed search the
      next starts again at ``max_learning_rate``.
    max_learning_rate: the largest step size tried.
    atol: absolute slack added to the right-hand side.
    rtol: slack relative to $|f(x)|$ added to the right-hand side.
    store_grad: also keep the gradient at the new params in the state, for
      `value_and_grad_from_state` (one extra gradient evaluation per step).
    verbose: print a line when the search fails.

  Returns:
    A `GradientTransformationExtraArgs`. When no trial meets the condition the
    smallest one tried is returned (``info.decrease_error > 0`` tells), or a
    zero step when the objective was not finite there.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> f = lambda x: jnp.sum(x ** 2)
    >>> opt = jon.chain(jon.sgd(1.0), jon.scale_by_backtracking_linesearch(20))
    >>> x = jnp.array([1.0, -2.0]); state = opt.init(x)
    >>> updates, state = opt.update(2 * x, state, x, value=f(x), grad=2 * x, value_fn=f)
    >>> round(float(state[-1].learning_rate), 4), int(state[-1].info.num_linesearch_steps)
    (0.8, 2)

  References:
    Armijo, 1966, "Minimization of functions having Lipschitz continuous first
    partial derivatives"; Nocedal & Wright, 2006, "Numerical Optimization",
    algorithm 3.1.
  """
  owner = "scale_by_backtracking_linesearch"
  _validate.check_positive_int(owner, "max_backtracking_steps", max_backtracking_steps)
  _validate.check(
    owner,
    slope_rtol=(slope_rtol, _RIGHT_OPEN_UNIT),
    decrease_factor=(decrease_factor, _OPEN_UNIT),
    increase_factor=(increase_factor, _validate.AT_LEAST_ONE_OR_INF),
    max_learning_rate=(max_learning_rate, _validate.POSITIVE),
    atol=(atol, _validate.NONNEGATIVE),
    rtol=(rtol, _validate.NONNEGATIVE),
  )

  def init_fn(params):
    dtype = _common.value_dtype(params)
    return ScaleByBacktrackingLinesearchState(
      learning_rate=jnp.asarray(max_learning_rate, dtype),
      value=jnp.asarray(jnp.inf, dtype),
      grad=_tree.zeros_like(params) if store_grad else None,
      info=BacktrackingLinesearchInfo(jnp.zeros([], jnp.int32), jnp.asarray(jnp.inf, dtype)),
    )

  def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra_args):
    f = _common.bind_value_fn(owner, value_fn, extra_args)
    value, grad = _common.value_and_grad(f, params, value, grad)
    dtype = state.value.dtype
    slope = _common.slope(grad, updates)
    previous = state.learning_rate
    succeeded = (previous > 0) & (state.info.decrease_error <= 0)
    first = jnp.where(
      succeeded, jnp.minimum(increase_factor * previous, max_learning_rate), max_learning_rate
    ).astype(dtype)

    def trial(step):
      new_value = f(_tree.add_scale(params, step, updates)).astype(dtype)
      return new_value, _decrease_error(
        step, new_value, value, slope, slope_rtol, atol, rtol
      ).astype(dtype)

    def keep_going(carry):
      _, _, error, count = carry
      return (error > 0) & (count <= max_backtracking_steps)

    def shrink(carry):
      step, _, _, count = carry
      step = (step * decrease_factor).astype(dtype)
      return (step, *trial(step), count + 1)

    carry = (first, *trial(first), jnp.ones([], jnp.int32))
    step, new_value, error, count = jax.lax.while_loop(keep_going, shrink, carry)
    step = jnp.where(jnp.isinf(error), jnp.zeros_like(step), step)
    new_value = jnp.where(jnp.isinf(error), value, new_value).astype(dtype)
    if verbose:
      jax.debug.callback(_report_failure, error > 0, step, error)
    new_grad = None
    if store_grad:
      new_grad = _tree.cast_like(
        _common.conj_value_and_grad(f)(_tree.add_scale(params, step, updates))[1], params
      )
    out = _tree.cast_like(_tree.scale(step, updates), updates)
    return out, ScaleByBacktrackingLinesearchState(
      learning_rate=step,
      value=new_value,
      grad=new_grad,
      info=BacktrackingLinesearchInfo(count, error),
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)


_OPEN_UNIT = _validate.Range(0.0, 1.0, lo_closed=False, hi_closed=False)
_RIGHT_OPEN_UNIT = _validate.Range(0.0, 1.0, hi_closed=False)


def _report_failure(failed, step, error):
  if failed:
    print(
      f"scale_by_backtracking_linesearch: no step met Armijo's condition; "
      f"returning step {step} (decrease error {error})"
    )
