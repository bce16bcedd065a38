"""Zoom line search: a step meeting the strong Wolfe conditions.

Along the direction $d$ let $\\phi(\\eta) = f(x + \\eta d)$. A step $\\eta$ is
accepted when

$$
\\phi(\\eta) \\le \\phi(0) + c_1 \\eta \\phi'(0) + \\text{tol}
\\quad\\text{and}\\quad |\\phi'(\\eta)| \\le c_2 |\\phi'(0)|
$$

with $c_1$ = ``slope_rtol``, $c_2$ = ``curv_rtol`` (``inf`` drops the
curvature condition). Near a minimizer $f$ can no longer tell apart values
closer than its rounding, and sufficient decrease may fail for every step;
so (Hager & Zhang, 2006) a step whose value is within
$c_3 |\\phi(0)|$ of $\\phi(0)$, $c_3$ = ``approx_dec_rtol``, may meet the
approximate condition on slopes instead,

$$
\\phi(\\eta) \\le \\phi(0) + c_3 |\\phi(0)|
\\quad\\text{and}\\quad \\phi'(\\eta) \\le (2 c_1 - 1)\\, \\phi'(0)
$$

(``approx_dec_rtol=None``: sufficient decrease only). A trial where $f$ is not
finite (NaN, $+\\infty$ or $-\\infty$: outside the function's domain) is never
accepted and bounds the interval from above, so the search shrinks the step
below it. The search first grows
the step by ``increase_factor`` until an interval is known to hold such a step
(the value went up, or the slope turned non-negative), then narrows that
interval by the minimizer of the cubic through both ends' values and slopes
(bisection where the cubic is no help). Each trial evaluates $f$ and
$\\nabla f$ once.

If ``max_linesearch_steps`` trials pass without an acceptable step (the
curvature condition cannot be met, say within ``max_learning_rate``), the
search falls back to the trial of lowest value among those meeting the
sufficient-decrease condition; failing that, to the lowest-value trial if it
decreases $f$; failing that, to a zero step.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _tree, _validate
from jaxopt_notes._base import GradientTransformationExtraArgs
from jaxopt_notes.second_order import _common


class ZoomLinesearchInfo(NamedTuple):
  """What the last zoom search did.

  Attributes:
    num_linesearch_steps: int32 evaluations of ``value_fn`` and its gradient in the last search.
    decrease_error: how far the step misses sufficient decrease (0: it holds).
    curvature_error: how far it misses the curvature condition (0: it holds).
  """

  num_linesearch_steps: jax.Array  # evaluations of value_fn and its gradient (int32)
  decrease_error: jax.Array  # how far the step misses sufficient decrease (0: holds)
  curvature_error: jax.Array  # how far it misses the curvature condition (0: holds)


class ScaleByZoomLinesearchState(NamedTuple):
  """State of `scale_by_zoom_linesearch`.

  Attributes:
    learning_rate: the step size returned last.
    value: $f$ at the new params (``inf`` before the first step).
    grad: the gradient at the new params.
    info: a `ZoomLinesearchInfo` on the last search.
  """

  learning_rate: jax.Array  # the step size returned last
  value: jax.Array  # f at the new params (inf before the first step)
  grad: Any  # gradient at the new params
  info: ZoomLinesearchInfo


class _Point(NamedTuple):
  step: jax.Array
  value: jax.Array
  slope: jax.Array


class _Search(NamedTuple):
  stage: jax.Array  # 0: growing the step, 1: zooming, 2: accepted
  count: jax.Array
  trial: jax.Array  # the next step size to evaluate
  prev: _Point  # growing: the last trial
  lo: _Point  # zooming: the end with the lower value (meets sufficient decrease)
  hi: _Point  # zooming: the other end
  safe: _Point  # lowest value among trials meeting sufficient decrease
  safe_grad: Any
  best: _Point  # lowest value among all trials
  best_grad: Any
  done: _Point  # the accepted step
  done_grad: Any


def _cubic_minimizer(a: _Point, b: _Point, margin: float) -> jax.Array:
  """Minimizer of the cubic matching values and slopes at ``a`` and ``b``, kept
  ``margin`` of the interval away from its ends (the midpoint when it is not defined)."""
  d1 = a.slope + b.slope - 3 * (a.value - b.value) / (a.step - b.step)
  radicand = d1**2 - a.slope * b.slope
  d2 = jnp.sign(b.step - a.step) * jnp.sqrt(jnp.maximum(radicand, 0.0))
  step = b.step - (b.step - a.step) * (b.slope + d2 - d1) / (b.slope - a.slope + 2 * d2)
  low, high = jnp.minimum(a.step, b.step), jnp.maximum(a.step, b.step)
  width = high - low
  inside = (step >= low + margin * width) & (step <= high - margin * width)
  usable = (radicand >= 0) & jnp.isfinite(step) & inside
  return jnp.where(usable, step, 0.5 * (a.step + b.step))


def _select(condition, a: _Point, b: _Point) -> _Point:
  return jax.tree.map(lambda x, y: jnp.where(condition, x, y), a, b)


def scale_by_zoom_linesearch(
  max_linesearch_steps: int,
  max_learning_rate: float | None = None,
  tol: float = 0.0,
  increase_factor: float = 2.0,
  slope_rtol: float = 1e-4,
  curv_rtol: float = 0.9,
  approx_dec_rtol: float | None = 1e-6,
  stepsize_precision: float = 1e-5,
  initial_guess_strategy: str = "keep",
  verbose: bool = False,
) -> GradientTransformationExtraArgs:
  """Scales the updates by a step size meeting the strong Wolfe conditions.

  The math and the fallback are in the module docstring. ``update(updates,
  state, params, *, value, grad, value_fn, **extras)`` as for
  `scale_by_backtracking_linesearch`. The value and gradient at the new params
  stay in the state for `value_and_grad_from_state`.

  Args:
    max_linesearch_steps: the most trials (evaluations of $f$ and $\\nabla f$).
    max_learning_rate: the largest step size tried (``None`` or ``inf``: no bound).
    tol: slack added to the sufficient-decrease condition.
    increase_factor: growth of the step while no interval is known (> 1).
    slope_rtol: $c_1$ of sufficient decrease.
    curv_rtol: $c_2$ of the curvature condition, $c_1 < c_2$ (below 1 for the
      usual guarantees; ``inf`` drops the condition, leaving a search for
      sufficient decrease by interpolation).
    approx_dec_rtol: $c_3$ of the approximate condition above, relative to
      $|f(x)|$; ``None`` keeps sufficient decrease only.
    stepsize_precision: stop zooming once the interval is narrower than this
      (relative to its upper end) and fall back.
    initial_guess_strategy: ``"one"`` starts each search at 1 (right for
      quasi-Newton directions); ``"keep"`` starts at the last step size.
    verbose: print a line when the search falls back.

  Returns:
    A `GradientTransformationExtraArgs`.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
    >>> opt = jon.chain(jon.scale(-1.0), jon.scale_by_zoom_linesearch(10))
    >>> x = jnp.zeros(2); state = opt.init(x)
    >>> updates, state = opt.update(2 * (x - 3.0), state, x, value_fn=f)
    >>> [round(float(u), 4) for u in updates], int(state[-1].info.num_linesearch_steps)
    ([3.0, 3.0], 2)

  References:
    Nocedal & Wright, 2006, "Numerical Optimization", algorithms 3.5 and 3.6
    and equation 3.59; Hager & Zhang, 2006, "Algorithm 851: CG_DESCENT, a
    conjugate gradient method with guaranteed descent", equation 23.
  """
  owner = "scale_by_zoom_linesearch"
  _validate.check_positive_int(owner, "max_linesearch_steps", max_linesearch_steps)
  _validate.check_choice(owner, "initial_guess_strategy", initial_guess_strategy, ("keep", "one"))
  _validate.check(
    owner,
    max_learning_rate=(max_learning_rate, _validate.POSITIVE_OR_INF),
    tol=(tol, _validate.NONNEGATIVE),
    increase_factor=(increase_factor, _ABOVE_ONE),
    slope_rtol=(slope_rtol, _OPEN_UNIT),
    curv_rtol=(curv_rtol, _validate.POSITIVE_OR_INF),
    approx_dec_rtol=(approx_dec_rtol, _validate.NONNEGATIVE),
    stepsize_precision=(stepsize_precision, _validate.NONNEGATIVE),
  )
  if (
    isinstance(slope_rtol, (int, float))
    and isinstance(curv_rtol, (int, float))
    and not slope_rtol < curv_rtol
  ):
    raise ValueError(
      f"{owner}: `slope_rtol`={slope_rtol!r} must be below `curv_rtol`={curv_rtol!r}"
    )
  top = jnp.inf if max_learning_rate is None else max_learning_rate

  def init_fn(params):
    dtype = _common.value_dtype(params)
    inf = jnp.asarray(jnp.inf, dtype)
    return ScaleByZoomLinesearchState(
      learning_rate=jnp.asarray(1.0, dtype),
      value=inf,
      grad=_tree.zeros_like(params),
      info=ZoomLinesearchInfo(jnp.zeros([], jnp.int32), inf, inf),
    )

  def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra_args):
    f = _common.bind_value_fn(owner, value_fn, extra_args)
    value, grad = _common.value_and_grad(f, params, value, grad)
    dtype = state.value.dtype
    value = value.astype(dtype)
    slope0 = _common.slope(grad, updates).astype(dtype)
    origin = _Point(jnp.zeros([], dtype), value, slope0)
    nowhere = _Point(jnp.zeros([], dtype), jnp.asarray(jnp.inf, dtype), jnp.zeros([], dtype))

    def decrease_error(p: _Point):
      error = p.value - value - slope_rtol * p.step * slope0
      if approx_dec_rtol is not None:
        approximate = jnp.maximum(
          p.slope - (2 * slope_rtol - 1) * slope0,
          p.value - value - approx_dec_rtol * jnp.abs(value),
        )
        error = jnp.minimum(error, approximate)
      error = error - tol
      return jnp.where(jnp.isnan(error), jnp.inf, jnp.maximum(error, 0.0))

    def curvature_error(p: _Point):
      allowed = jnp.where(slope0 == 0, 0.0, curv_rtol * jnp.abs(slope0))  # no inf * 0
      return jnp.maximum(jnp.abs(p.slope) - allowed, 0.0)

    def evaluate(step):
      new_value, new_grad = _common.conj_value_and_grad(f)(_tree.add_scale(params, step, updates))
      # outside the domain (NaN, +-inf): never accepted, an upper end of the interval
      new_value = jnp.where(jnp.isfinite(new_value), new_value, jnp.inf).astype(dtype)
      point = _Point(step, new_value, _common.slope(new_grad, updates).astype(dtype))
      return point, _tree.cast_like(new_grad, params)

    def pick(better, new, new_grad, old, old_grad):
      return _select(better, new, old), _tree.where(better, new_grad, old_grad)

    def body(s: _Search) -> _Search:
      p, g = evaluate(s.trial)
      sufficient = decrease_error(p) <= 0
      wolfe = sufficient & (curvature_error(p) <= 0)
      safe, safe_grad = pick(sufficient & (p.value < s.safe.value), p, g, s.safe, s.safe_grad)
      best, best_grad = pick(p.value < s.best.value, p, g, s.best, s.best_grad)
      growing = s.stage == 0
      # Growing (algorithm 3.5): an interval is found when the value rose or
      # the slope turned; otherwise try a longer step.
      rose = ~sufficient | ((s.count > 0) & (p.value >= s.prev.value))
      turned = p.slope >= 0
      at_top = s.trial >= top
      # Zooming (algorithm 3.6): the trial replaces one end.
      replaces_hi = ~sufficient | (p.value >= s.lo.value)
      flips = p.slope * (s.hi.step - s.lo.step) >= 0
      grow_lo, grow_hi = _select(rose, s.prev, p), _select(rose, p, s.prev)
      zoom_lo = _select(replaces_hi, s.lo, p)
      zoom_hi = _select(replaces_hi, p, _select(flips, s.lo, s.hi))
      lo, hi = _select(growing, grow_lo, zoom_lo), _select(growing, grow_hi, zoom_hi)
      accepted = wolfe
      interval_found = jnp.where(growing, rose | turned, True)
      narrow = jnp.abs(hi.step - lo.step) <= stepsize_precision * jnp.maximum(
        jnp.abs(hi.step), jnp.abs(lo.step)
      )
      give_up = jnp.where(growing, at_top & ~(rose | turned), narrow)
      stage = jnp.where(accepted, 2, jnp.where(give_up, 3, jnp.where(interval_found, 1, 0)))
      grown = jnp.minimum(increase_factor * s.trial, top).astype(dtype)
      next_trial = jnp.where(stage == 0, grown, _cubic_minimizer(lo, hi, 0.1)).astype(dtype)
      done, done_grad = pick(accepted, p, g, s.done, s.done_grad)
      return _Search(
        stage=stage.astype(jnp.int32),
        count=s.count + 1,
        trial=next_trial,
        prev=p,
        lo=lo,
        hi=hi,
        safe=safe,
        safe_grad=safe_grad,
        best=best,
        best_grad=best_grad,
        done=done,
        done_grad=done_grad,
      )

    def keep_going(s: _Search):
      return (s.stage < 2) & (s.count < max_linesearch_steps)

    if initial_guess_strategy == "one":
      first = jnp.minimum(jnp.ones([], dtype), top)
    else:
      first = jnp.where(
        state.learning_rate > 0, jnp.minimum(state.learning_rate, top), jnp.minimum(1.0, top)
      )
    zeros = _tree.zeros_like(params)
    search = _Search(
      stage=jnp.zeros([], jnp.int32),
      count=jnp.zeros([], jnp.int32),
      trial=first.astype(dtype),
      prev=origin,
      lo=origin,
      hi=origin,
      safe=nowhere,
      safe_grad=zeros,
      best=nowhere,
      best_grad=zeros,
      done=nowhere,
      done_grad=zeros,
    )
    s = jax.lax.while_loop(keep_going, body, search)
    # The accepted step; else the fallback of the module docstring.
    use_safe = jnp.isfinite(s.safe.value)
    use_best = jnp.isfinite(s.best.value) & (s.best.value < value)
    chosen, chosen_grad = pick(use_safe, s.safe, s.safe_grad, s.best, s.best_grad)
    chosen, chosen_grad = pick(
      use_safe | use_best, chosen, chosen_grad, _Point(jnp.zeros([], dtype), value, slope0), grad
    )
    chosen, chosen_grad = pick(s.stage == 2, s.done, s.done_grad, chosen, chosen_grad)
    if verbose:
      jax.debug.callback(_report_fallback, s.stage != 2, chosen.step)
    info = ZoomLinesearchInfo(
      s.count, decrease_error(chosen).astype(dtype), curvature_error(chosen).astype(dtype)
    )
    out = _tree.cast_like(_tree.scale(chosen.step, updates), updates)
    return out, ScaleByZoomLinesearchState(
      learning_rate=chosen.step,
      value=chosen.value,
      grad=_tree.cast_like(chosen_grad, params),
      info=info,
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)


_OPEN_UNIT = _validate.Range(0.0, 1.0, lo_closed=False, hi_closed=False)
_ABOVE_ONE = _validate.Range(1.0, float("inf"), lo_closed=False, hi_closed=False)


def _report_fallback(fell_back, step):
  if fell_back:
    print(
      f"scale_by_zoom_linesearch: no step met the strong Wolfe conditions; "
      f"falling back to step {step}"
    )
