"""Shared properties, run over every optimizer in the registry."""

import functools
import inspect

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_notes as jon
from problems import QUADRATIC_START, quadratic, rosenbrock, run
from registry import ALIASES, REGISTRY, atol_for

ENTRIES = pytest.mark.parametrize("entry", REGISTRY, ids=repr)
PARAMS = {"w": jnp.array([0.5, -1.0, 2.0]), "b": jnp.array(0.3, jnp.float64)}
GRADS = [
  {"w": jnp.array([0.1 * k, -0.2, 0.3 / k]), "b": jnp.array(0.05 * k - 0.2, jnp.float64)}
  for k in range(1, 6)
]


def _rollout(opt, update, params=PARAMS, grads=GRADS, move=True):
  """Feeds the fixed gradient sequence; returns (all updates, final state).

  With ``move=False`` the params stay where they are, so that runs with
  different learning rates see the same params.
  """
  state = opt.init(params)
  outs = []
  for k, g in enumerate(grads):
    u, state = update(g, state, params, value=jnp.asarray(1.0 / (k + 1), jnp.float64))
    params = jon.apply_updates(params, u) if move else params
    outs.append(u)
  return outs, state


def _scanned_rollout(opt, params=PARAMS, grads=GRADS, move=True):
  """`_rollout` as one `jax.lax.scan`, for tests that trace the whole rollout (under jit,
  vmap or grad): the step is traced and compiled once, not once per gradient (a fifth of
  the compile time), and its loss value comes in traced."""
  stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *grads)
  values = jnp.asarray([1.0 / (k + 1) for k in range(len(grads))], jnp.float64)

  def step(carry, inputs):
    params, state = carry
    g, value = inputs
    u, state = opt.update(g, state, params, value=value)
    return (jon.apply_updates(params, u) if move else params, state), u

  (_, state), updates = jax.lax.scan(step, (params, opt.init(params)), (stacked, values))
  return [jax.tree.map(lambda u: u[k], updates) for k in range(len(grads))], state


def test_registry_covers_every_alias():
  assert {entry.factory.__name__ for entry in REGISTRY} == ALIASES
  for name in ALIASES:
    assert name in jon.__all__ and callable(getattr(jon, name))


@ENTRIES
def test_converges_on_quadratic(entry):
  opt = entry.make(entry.schedule(entry.quadratic_lr, entry.quadratic_steps))
  final = run(opt, quadratic, QUADRATIC_START, entry.quadratic_steps)
  assert float(quadratic(final)) < 1e-6, entry.name


@ENTRIES
def test_converges_on_rosenbrock(entry):
  lr = (
    entry.rosenbrock_lr
    if entry.rosenbrock_constant
    else entry.schedule(entry.rosenbrock_lr, entry.rosenbrock_steps)
  )
  loss = lambda p: rosenbrock({"x": p["xy"][0], "y": p["xy"][1]})  # noqa: E731
  final = run(entry.make(lr), loss, {"xy": jnp.array([-1.2, 1.0])}, entry.rosenbrock_steps)
  assert float(loss(final)) < entry.rosenbrock_tol, (entry.name, final)
  np.testing.assert_allclose(final["xy"], [1.0, 1.0], atol=0.1)


@ENTRIES
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32, jnp.float64])
def test_state_is_stable_and_updates_keep_param_dtype_in_one_compiled_step(entry, dtype):
  """5 jitted steps: the state keeps its structure, shapes and dtypes, the updates the
  params' dtype, and the step compiles once (a state that changes dtype or weak type
  would trace it again). The same rollout eagerly: tests/test_variants.py."""
  if dtype == jnp.float16 and not entry.float16_ok:
    pytest.skip("the algorithm's default constants underflow in float16 (registry)")
  params = jax.tree.map(lambda x: x.astype(dtype), PARAMS)
  grads = [jax.tree.map(lambda x: x.astype(dtype), g) for g in GRADS]
  opt = entry.make(0.01)
  chex.clear_trace_counter()

  @jax.jit
  @chex.assert_max_traces(n=1)
  def step(grads, state, params, value):
    return opt.update(grads, state, params, value=value)

  state0 = opt.init(params)
  updates, state = _rollout(opt, step, params, grads)
  for u in updates:
    chex.assert_trees_all_equal_dtypes(u, params)
    chex.assert_tree_all_finite(u)
  chex.assert_trees_all_equal_structs(state0, state)
  chex.assert_trees_all_equal_shapes_and_dtypes(state0, state)


@ENTRIES
def test_schedule_as_learning_rate(entry):
  if not entry.takes_schedules:
    with pytest.raises(TypeError, match=entry.learning_rate_name):
      entry.make(lambda t: jnp.asarray(0.02))
    return
  constant, _ = _rollout(entry.make(0.02), entry.make(0.02).update)
  sched = entry.make(lambda t: jnp.asarray(0.02))
  as_schedule, _ = _rollout(sched, sched.update)
  chex.assert_trees_all_close(constant, as_schedule, rtol=1e-14)
  if not entry.lr_is_last:
    return
  rates = lambda t: 0.01 * (t + 1.0)  # noqa: E731  step t (from 0) gets 0.01 (t + 1)
  opt, unit = entry.make(rates), entry.make(1.0)
  scheduled, _ = _rollout(opt, opt.update, move=False)
  for t, (u_s, u_c) in enumerate(zip(scheduled, _rollout(unit, unit.update, move=False)[0])):
    chex.assert_trees_all_close(u_s, jax.tree.map(lambda u: rates(t) * u, u_c), rtol=1e-12)


# Learning rates of the vmapped lanes besides the default 0.01 (rtol 1e-10 on their runs)
RATES = (0.001, 0.1)


@ENTRIES
def test_learning_rate_and_every_numeric_hyperparameter_can_be_traced(entry):
  """Swept hyperparameters traced at once under vmap equal separate concrete runs.

  Lane 0 has every one at its default and the learning rate at 0.01; the next lanes
  take the learning rate at each of `RATES`, then each swept hyperparameter in turn
  at its registry alternative; one program per optimizer.
  """
  defaults = {"learning_rate": 0.01, **{name: _default_of(entry, name) for name in entry.sweep}}
  lanes = [
    defaults,
    *({**defaults, "learning_rate": lr} for lr in RATES),
    *({**defaults, name: alt} for name, alt in entry.sweep.items()),
  ]

  def make(hyper):
    hyper = dict(hyper)
    return entry.make(hyper.pop("learning_rate"), **hyper)

  stacked = {k: jnp.array([lane[k] for lane in lanes]) for k in defaults}
  swept = jax.jit(jax.vmap(lambda hyper: _scanned_rollout(make(hyper))[0]))(stacked)
  for i, lane in enumerate(lanes):
    rtol, relative, atol = (1e-10, 1e-12, 1e-14) if i <= len(RATES) else (1e-9, 1e-11, 1e-13)
    opt = make(lane)
    want = _rollout(opt, opt.update)[0]
    chex.assert_trees_all_close(
      jax.tree.map(lambda x: x[i], swept),
      want,
      custom_message=str(lane),
      rtol=rtol,
      atol=atol_for(want, relative, atol),
    )


@ENTRIES
def test_concrete_invalid_hyperparameters_are_rejected(entry):
  for name, bad in {entry.learning_rate_name: float("nan"), **entry.invalid}.items():
    kwargs = {} if name == entry.learning_rate_name else {name: bad}
    lr = bad if name == entry.learning_rate_name else 0.01
    with pytest.raises(ValueError, match=name):
      entry.make(lr, **kwargs)


@ENTRIES
def test_counters_saturate_instead_of_wrapping(entry):
  opt = entry.make(0.01)
  state = opt.init(PARAMS)
  top = jnp.iinfo(jnp.int32).max
  is_counter = lambda x: isinstance(x, jax.Array) and x.dtype == jnp.int32 and x.shape == ()
  state = jax.tree.map(lambda x: jnp.asarray(top - 1, jnp.int32) if is_counter(x) else x, state)
  for _ in range(2):
    updates, state = opt.update(GRADS[0], state, PARAMS, value=jnp.asarray(1.0))
  counters = [x for x in jax.tree.leaves(state) if is_counter(x)]
  assert all(int(c) == top for c in counters)
  chex.assert_tree_all_finite(updates)


def _default_of(entry, name):
  if name in entry.kwargs:
    return entry.kwargs[name]
  return inspect.signature(entry.factory).parameters[name].default


@ENTRIES
def test_gradient_flows_through_the_learning_rate_and_every_swept_hyperparameter(entry):
  """d(final loss)/d(hyperparameter) equals a finite difference, for each one.

  Taken at the registry's alternative values, which lie inside the allowed
  ranges (a default such as eps=0 sits on an edge). All of them go in as one
  dict, and the stencil's losses come from the same compiled function (its
  gradients unused), so the check compiles once per optimizer.
  """

  def final_loss(hyper):
    hyper = dict(hyper)
    opt = entry.make(hyper.pop("learning_rate"), **hyper)
    outs, _ = _scanned_rollout(opt, grads=GRADS[:3])  # 3 steps, scanned: one compiled step
    return quadratic(functools.reduce(jon.apply_updates, outs, PARAMS))

  loss_and_grads = jax.jit(jax.value_and_grad(final_loss))
  point = {
    k: jnp.asarray(v, jnp.float64) for k, v in {"learning_rate": 0.01, **entry.sweep}.items()
  }
  _, grads = loss_and_grads(point)
  for name, value in point.items():
    h = 1e-3 * abs(value)  # a fourth-order stencil keeps both error terms small
    at = lambda k: loss_and_grads({**point, name: value + k * h})[0]  # noqa: E731
    numeric = (at(-2) - 8 * at(-1) + 8 * at(1) - at(2)) / (12 * h)
    lr = name == "learning_rate"
    np.testing.assert_allclose(
      grads[name], numeric, rtol=1e-4 if lr else 1e-3, atol=1e-8 if lr else 1e-6, err_msg=name
    )


def _numeric_arguments(entry):
  return {
    name
    for name, p in inspect.signature(entry.factory).parameters.items()
    if name not in (entry.learning_rate_name, *entry.static)
    and not isinstance(p.default, bool)
    and isinstance(p.default, (int, float))
  }


def test_every_numeric_argument_of_every_optimizer_is_swept():
  """Each numeric argument appears in the sweep of at least one registry entry."""
  swept = {}  # per factory: swept in some entry, or static (never traced) in some entry
  for entry in REGISTRY:
    swept.setdefault(entry.factory.__name__, set()).update(entry.sweep, entry.static)
  missing = {
    name: _numeric_arguments(entry) - swept[name]
    for entry in REGISTRY
    for name in [entry.factory.__name__]
  }
  assert {k: v for k, v in missing.items() if v} == {}
