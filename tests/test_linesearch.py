"""Line searches: Armijo and strong Wolfe at every accepted step, evaluation counts,
fallbacks, and the exact step on a quadratic against its closed form."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_notes as jon
from problems import rosenbrock

ROSEN_START = {"x": jnp.array(-1.2), "y": jnp.array(1.0)}


def _counted(f):
  """``f`` plus a counter of its evaluations at run time (inside loops and jit)."""
  calls = []

  def wrapped(params):
    jax.debug.callback(lambda: calls.append(1))
    return f(params)

  return wrapped, calls


def _descent_steps(opt, f, params, steps):
  """``steps`` jitted steps; returns [(params, grad, updates, state)] before each move."""

  @jax.jit
  def step(params, state):
    value, grad = jax.value_and_grad(f)(params)
    updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=f)
    return updates, state, grad

  state, out = opt.init(params), []
  for _ in range(steps):
    updates, state, grad = step(params, state)
    out.append((params, grad, updates, state))
    params = jon.apply_updates(params, updates)
  return out


def test_backtracking_meets_armijo_at_every_accepted_step():
  c1 = 0.3
  opt = jon.chain(
    jon.scale(-1.0),
    jon.scale_by_backtracking_linesearch(
      40, slope_rtol=c1, decrease_factor=0.5, max_learning_rate=1.0
    ),
  )
  trace = _descent_steps(opt, rosenbrock, ROSEN_START, 60)
  for params, grad, updates, state in trace:
    search = state[-1]
    new_value = rosenbrock(jon.apply_updates(params, updates))
    armijo = rosenbrock(params) + c1 * jon.tree.vdot(grad, updates)
    assert float(new_value) <= float(armijo)
    assert float(search.info.decrease_error) == 0.0 and float(search.learning_rate) > 0
    np.testing.assert_allclose(search.value, new_value, rtol=1e-14)
    direction = jon.tree.scale(-search.learning_rate, grad)
    np.testing.assert_allclose(jax.tree.leaves(updates), jax.tree.leaves(direction), rtol=1e-14)
  assert float(rosenbrock(trace[-1][0])) < float(rosenbrock(ROSEN_START)) / 4


def test_backtracking_reports_the_step_and_its_evaluations():
  f, calls = _counted(lambda x: jnp.sum(x**2))
  opt = jon.scale_by_backtracking_linesearch(
    30, decrease_factor=0.5, increase_factor=1.0, max_learning_rate=8.0
  )
  x = jnp.array([1.0, -2.0])
  value = f(x)
  calls.clear()
  updates, state = opt.update(-2 * x, opt.init(x), x, value=value, grad=2 * x, value_fn=f)
  # f(x - 2 eta x) = (1 - 2 eta)^2 f(x); Armijo with c1 = 1e-4 first holds at eta = 0.5
  assert float(state.learning_rate) == 0.5
  assert int(state.info.num_linesearch_steps) == len(calls) == 5  # 8, 4, 2, 1, 0.5
  np.testing.assert_allclose(updates, -x)


def test_backtracking_gives_up_after_max_steps_and_zero_steps_on_nan():
  x = jnp.array([1.0])
  opt = jon.scale_by_backtracking_linesearch(4, decrease_factor=0.5)
  f = lambda x: jnp.sum(x**2)  # noqa: E731
  # an ascent direction never meets Armijo: the smallest trial is returned, flagged
  updates, state = opt.update(2 * x, opt.init(x), x, value_fn=f)
  assert int(state.info.num_linesearch_steps) == 5 and float(state.info.decrease_error) > 0
  assert float(state.learning_rate) == 0.0625  # 1 shrunk four times
  # after a failure the next search starts at max_learning_rate again, not at the tiny step
  updates, state = opt.update(-2 * x, state, x, value_fn=f)
  assert float(state.learning_rate) == 0.5 and int(state.info.num_linesearch_steps) == 2
  # NaN at every trial: a zero step, and the next search starts at max_learning_rate again
  log = lambda x: jnp.sum(jnp.log(x))  # noqa: E731
  updates, state = opt.update(jnp.array([-100.0]), opt.init(x), x, value_fn=log)
  assert float(updates[0]) == 0.0 and float(state.learning_rate) == 0.0
  updates, state = opt.update(jnp.array([-0.1]), state, x, value_fn=log)
  assert float(state.learning_rate) == 1.0


def test_backtracking_equals_optax_on_its_defaults():
  # (where a search fails the two differ on purpose: optax starts the next
  # search from the failed, tiny step and can never grow out of it)
  ours = jon.chain(jon.scale(-1.0), jon.scale_by_backtracking_linesearch(40))
  theirs = optax.chain(optax.scale(-1.0), optax.scale_by_backtracking_linesearch(40))
  f = lambda p: rosenbrock({"x": p[0], "y": p[1]})  # noqa: E731
  x = y = jnp.array([-1.2, 1.0])
  s_ours, s_theirs = ours.init(x), theirs.init(y)
  for _ in range(10):
    g = jax.grad(f)(x)
    u, s_ours = ours.update(g, s_ours, x, value=f(x), grad=g, value_fn=f)
    h = jax.grad(f)(y)
    v, s_theirs = theirs.update(h, s_theirs, y, value=f(y), grad=h, value_fn=f)
    x, y = x + u, y + v
    np.testing.assert_allclose(x, y, rtol=1e-12)
    assert float(s_ours[-1].info.decrease_error) == 0


def _against_optax(ours, theirs, f, x, steps):
  """``steps`` jitted steps of both chains from ``x``: our trajectory, states, optax's."""

  def stepper(opt):
    @jax.jit
    def step(x, state):
      value, grad = jax.value_and_grad(f)(x)
      updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
      return x + updates, state

    return step

  ours_step, theirs_step = stepper(ours), stepper(theirs)
  s_ours, s_theirs, y, trace = ours.init(x), theirs.init(x), x, []
  for _ in range(steps):
    x, s_ours = ours_step(x, s_ours)
    y, s_theirs = theirs_step(y, s_theirs)
    trace.append((x, s_ours[-1], y, s_theirs[-1]))
  return trace


def test_backtracking_increase_factor_inf_restarts_every_search_at_the_maximum():
  # optax: increase_factor=inf "amounts to start with max_learning_rate at each round"
  f = lambda p: rosenbrock({"x": p[0], "y": p[1]})  # noqa: E731
  make = lambda m: m.chain(
    m.scale(-1.0),
    m.scale_by_backtracking_linesearch(  # noqa: E731
      40, decrease_factor=0.5, increase_factor=math.inf, max_learning_rate=0.25
    ),
  )
  for x, ours, y, theirs in _against_optax(make(jon), make(optax), f, jnp.array([-1.2, 1.0]), 8):
    np.testing.assert_allclose(x, y, rtol=1e-12)
    assert float(ours.learning_rate) == float(theirs.learning_rate)
    # each search tried 0.25, 0.125, ... down to the step it took
    tried = int(ours.info.num_linesearch_steps)
    assert float(ours.learning_rate) == 0.25 * 0.5 ** (tried - 1)
    assert float(ours.info.decrease_error) == 0


def test_backtracking_slope_rtol_zero_asks_for_plain_decrease():
  f = lambda p: rosenbrock({"x": p[0], "y": p[1]})  # noqa: E731
  make = lambda m: m.chain(
    m.scale(-1.0),
    m.scale_by_backtracking_linesearch(  # noqa: E731
      40, slope_rtol=0.0, decrease_factor=0.5, increase_factor=1.0
    ),
  )
  previous = jnp.array([-1.2, 1.0])
  for x, ours, y, theirs in _against_optax(make(jon), make(optax), f, previous, 8):
    np.testing.assert_allclose(x, y, rtol=1e-12)
    np.testing.assert_allclose(ours.value, theirs.value, rtol=1e-12)
    assert float(f(x)) <= float(f(previous))
    # the step before (twice as long) did not decrease f at all, or none was tried before
    step, d = float(ours.learning_rate), (x - previous) / float(ours.learning_rate)
    assert int(ours.info.num_linesearch_steps) == 1 or float(f(previous + 2 * step * d)) > float(
      f(previous)
    )
    previous = x


@pytest.mark.parametrize("approx_dec_rtol", [1e-6, None])
def test_zoom_approximate_wolfe_accepts_steps_rounding_hides_as_optax(approx_dec_rtol):
  # Near the minimizer of 1e8 + |x - 1|^2 every value rounds to 1e8: no step
  # shows sufficient decrease, but the slope shows the minimizer (at 0.5).
  f = lambda x: 1e8 + jnp.sum((x - 1.0) ** 2)  # noqa: E731
  x = 1.0 + 1e-5 * jnp.array([1.0, -2.0])
  results = []
  for lib in (jon, optax):
    opt = lib.scale_by_zoom_linesearch(10, approx_dec_rtol=approx_dec_rtol)
    g = jax.grad(f)(x)
    updates, state = opt.update(-g, opt.init(x), x, value=f(x), grad=g, value_fn=f)
    results.append((updates, state))
  (ours, s_ours), (theirs, s_theirs) = results
  if approx_dec_rtol is None:  # sufficient decrease never holds: no step is taken
    assert float(s_ours.learning_rate) == 0 and int(s_ours.info.num_linesearch_steps) == 10
    return
  # (our cubic and optax's quadratic interpolation differ in the last digits)
  np.testing.assert_allclose([s_ours.learning_rate, s_theirs.learning_rate], 0.5, rtol=1e-10)
  np.testing.assert_allclose(ours, theirs, rtol=1e-10)
  np.testing.assert_allclose(x + ours, [1.0, 1.0], rtol=1e-15)
  assert float(s_ours.info.decrease_error) == float(s_theirs.info.decrease_error) == 0
  assert int(s_ours.info.num_linesearch_steps) == int(s_theirs.info.num_linesearch_steps) == 2


def test_zoom_shrinks_below_steps_where_the_objective_is_not_finite():
  # log(1 - 2 eta) is NaN past eta = 0.5 and -inf at it: the search must come
  # back below 0.5, to a finite value, rather than give up with a zero step.
  f = lambda x: jnp.sum(jnp.log(x))  # noqa: E731
  x = jnp.array([1.0])
  opt = jon.scale_by_zoom_linesearch(15)
  for direction in (-2.0, -1.5):
    d = jnp.array([direction])
    updates, state = opt.update(d, opt.init(x), x, value_fn=f)
    step = float(state.learning_rate)
    assert 0 < step < -1 / direction and np.isfinite(float(state.value))
    assert float(state.value) < float(f(x)) and float(state.info.decrease_error) == 0
    np.testing.assert_allclose(state.value, f(x + updates), rtol=1e-14)
  # where optax's search ends at a finite value (NaN past 2/3), the same step
  theirs = optax.scale_by_zoom_linesearch(15)
  _, s_theirs = theirs.update(d, theirs.init(x), x, value=f(x), grad=jax.grad(f)(x), value_fn=f)
  assert float(state.learning_rate) == float(s_theirs.learning_rate)
  np.testing.assert_allclose(state.value, s_theirs.value, rtol=1e-14)


def test_zoom_meets_strong_wolfe_at_every_accepted_step():
  c1, c2 = 1e-4, 0.9
  opt = jon.lbfgs()
  trace = _descent_steps(opt, rosenbrock, ROSEN_START, 25)
  for params, grad, updates, state in trace:
    search = state[-1]
    new = jon.apply_updates(params, updates)
    new_value, new_grad = jax.value_and_grad(rosenbrock)(new)
    step = float(search.learning_rate)
    assert step > 0 and float(search.info.decrease_error) == 0
    assert float(search.info.curvature_error) == 0
    direction = jon.tree.scale(1 / step, updates)
    slope0 = float(jon.tree.vdot(grad, direction))
    assert slope0 < 0
    assert float(new_value) <= float(rosenbrock(params)) + c1 * step * slope0
    assert abs(float(jon.tree.vdot(new_grad, direction))) <= c2 * abs(slope0) + 1e-12
    # the value and gradient at the new params are kept for the next step
    np.testing.assert_allclose(search.value, new_value, rtol=1e-13)
    np.testing.assert_allclose(
      jax.tree.leaves(search.grad), jax.tree.leaves(new_grad), rtol=1e-10, atol=1e-12
    )


def test_zoom_reports_the_step_and_its_evaluations():
  f, calls = _counted(lambda x: jnp.sum((x - 3.0) ** 2))
  opt = jon.scale_by_zoom_linesearch(10)
  x = jnp.zeros(2)
  value, grad = jax.value_and_grad(f)(x)
  calls.clear()
  updates, state = opt.update(-grad, opt.init(x), x, value=value, grad=grad, value_fn=f)
  # step 1 overshoots to the mirror point (no decrease); the cubic then hits 0.5
  assert float(state.learning_rate) == 0.5
  assert int(state.info.num_linesearch_steps) == len(calls) == 2
  np.testing.assert_allclose(updates, [3.0, 3.0])


def test_zoom_falls_back_when_the_curvature_condition_cannot_be_met():
  # A linear objective never flattens: within max_learning_rate the longest
  # step has the lowest value and meets sufficient decrease, so it is taken.
  f = lambda x: -jnp.sum(x)  # noqa: E731
  opt = jon.scale_by_zoom_linesearch(10, max_learning_rate=4.0)
  x = jnp.zeros(2)
  updates, state = opt.update(jnp.ones(2), opt.init(x), x, value_fn=f)
  np.testing.assert_allclose(updates, [4.0, 4.0])
  assert float(state.info.decrease_error) == 0 and float(state.info.curvature_error) > 0
  assert int(state.info.num_linesearch_steps) == 3  # 1, 2, 4
  # With no trial decreasing f at all (an ascent direction), the step is zero.
  updates, state = opt.update(-jnp.ones(2), opt.init(x), x, value_fn=f)
  np.testing.assert_allclose(updates, [0.0, 0.0])
  assert int(state.info.num_linesearch_steps) == 10


def test_value_and_grad_from_state_reuses_the_search_and_matches_fresh_gradients():
  f, calls = _counted(lambda p: rosenbrock(p))
  opt = jon.lbfgs()
  value_and_grad = jon.value_and_grad_from_state(f)
  params, state = ROSEN_START, opt.init(ROSEN_START)
  reference = [p for p, *_ in _descent_steps(opt, rosenbrock, ROSEN_START, 8)]
  calls.clear()
  for k in range(8):
    np.testing.assert_allclose(jax.tree.leaves(params), jax.tree.leaves(reference[k]), rtol=1e-12)
    value, grad = value_and_grad(params, state=state)
    updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=f)
    params = jon.apply_updates(params, updates)
  searched = int(sum(1 for _ in calls))
  # one evaluation before the first step; all the others are the searches' own
  assert searched > 8 and searched == 1 + sum(
    int(s[-1].info.num_linesearch_steps)
    for *_, s in _descent_steps(opt, rosenbrock, ROSEN_START, 8)
  )
  with pytest.raises(ValueError, match="value"):
    jon.value_and_grad_from_state(f)(params, state=jon.sgd(0.1).init(params))


def test_extras_of_update_reach_value_fn_and_unknown_ones_are_refused():
  def f(w, data):
    return jnp.sum((w - data) ** 2)

  opt = jon.scale_by_backtracking_linesearch(10)
  w, data = jnp.zeros(2), jnp.array([1.0, 2.0])
  updates, _ = opt.update(2 * (data - w), opt.init(w), w, value_fn=f, data=data)
  assert float(f(w + updates, data)) < float(f(w, data))
  with pytest.raises(TypeError, match="batch"):
    opt.update(-w, opt.init(w), w, value_fn=f, data=data, batch=1)
  with pytest.raises(TypeError, match="value_fn"):
    opt.update(-w, opt.init(w), w)


def _quadratic(seed, n=4):
  rng = np.random.default_rng(seed)
  m = rng.normal(size=(n, n))
  a = m @ m.T + 0.5 * np.eye(n)
  b = rng.normal(size=n)
  return a, b, lambda x: 0.5 * x @ jnp.asarray(a) @ x - jnp.asarray(b) @ x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_steepest_descent_takes_the_closed_form_exact_step(seed):
  a, b, f = _quadratic(seed)
  opt = jon.steepest_descent()
  step = jax.jit(lambda x, s: opt.update(jax.grad(f)(x), s, x, value_fn=f))
  x, state = jnp.zeros(4), opt.init(jnp.zeros(4))
  ref = np.zeros(4)
  for _ in range(12):
    g = a @ ref - b
    eta = (g @ g) / (g @ a @ g)
    ref = ref - eta * g
    updates, state = step(x, state)
    x = x + updates
    np.testing.assert_allclose(state[-1].learning_rate, eta, rtol=1e-12)
    np.testing.assert_allclose(x, ref, rtol=1e-10, atol=1e-12)
  assert int(state[-1].num_linesearch_steps) == 1


def test_exact_step_minimizes_along_any_direction():
  a, b, f = _quadratic(5)
  x, d = jnp.array([0.3, -1.0, 2.0, 0.5]), jnp.array([1.0, 0.5, -0.2, 0.1])
  opt = jon.scale_by_exact_linesearch()
  updates, state = opt.update(d, opt.init(x), x, value_fn=f)
  eta = float(state.learning_rate)
  line = lambda t: float(f(x + t * d))  # noqa: E731
  g = a @ np.asarray(x) - b
  np.testing.assert_allclose(
    eta, -(g @ np.asarray(d)) / (np.asarray(d) @ a @ np.asarray(d)), rtol=1e-12
  )
  assert line(eta) < min(line(eta * 0.99), line(eta * 1.01))


def test_line_searches_run_under_vmap_over_starting_points():
  opt = jon.chain(jon.scale(-1.0), jon.scale_by_zoom_linesearch(15))
  f = lambda p: rosenbrock({"x": p[0], "y": p[1]})  # noqa: E731

  def one(x):
    g = jax.grad(f)(x)
    updates, state = opt.update(g, opt.init(x), x, value_fn=f)
    return updates, state[-1].learning_rate

  starts = jnp.array([[-1.2, 1.0], [0.0, 0.0], [2.0, 2.0]])
  batched = jax.jit(jax.vmap(one))(starts)
  for k in range(3):
    single = one(starts[k])
    np.testing.assert_allclose(batched[0][k], single[0], rtol=1e-12)
    np.testing.assert_allclose(batched[1][k], single[1], rtol=1e-12)


@pytest.mark.parametrize(
  "make, argument",
  [
    (
      functools.partial(jon.scale_by_backtracking_linesearch, 10, decrease_factor=1.5),
      "decrease_factor",
    ),
    (functools.partial(jon.scale_by_backtracking_linesearch, 0), "max_backtracking_steps"),
    (functools.partial(jon.scale_by_zoom_linesearch, 10, curv_rtol=0.0), "curv_rtol"),
    (
      functools.partial(jon.scale_by_zoom_linesearch, 10, slope_rtol=0.5, curv_rtol=0.4),
      "slope_rtol",
    ),
    (
      functools.partial(jon.scale_by_zoom_linesearch, 10, initial_guess_strategy="max"),
      "initial_guess_strategy",
    ),
    (
      functools.partial(jon.scale_by_zoom_linesearch, 10, max_learning_rate=-1.0),
      "max_learning_rate",
    ),
  ],
)
def test_bad_hyperparameters_are_refused_by_name(make, argument):
  with pytest.raises(ValueError, match=argument):
    make()


def test_zoom_curv_rtol_inf_drops_the_curvature_condition_as_optax():
  # optax: "the curvature criterion can be avoided by setting curv_rtol=jnp.inf"
  f = lambda x: jnp.sum((x - 3.0) ** 2)  # noqa: E731
  x = jnp.zeros(2)
  d = -0.01 * jax.grad(f)(x)  # a short direction: the first step is far from flat
  steps = {}
  for lib in (jon, optax):
    for curv_rtol in (0.9, math.inf):
      opt = lib.scale_by_zoom_linesearch(10, curv_rtol=curv_rtol)
      _, state = opt.update(d, opt.init(x), x, value=f(x), grad=jax.grad(f)(x), value_fn=f)
      steps[lib.__name__, curv_rtol] = (
        float(state.learning_rate),
        int(state.info.num_linesearch_steps),
      )
  assert steps["jaxopt_notes", math.inf] == steps["optax", math.inf] == (1.0, 1)
  assert steps["jaxopt_notes", 0.9][1] > 1  # the curvature condition made it go on
