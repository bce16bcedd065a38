"""Complex params: every optimizer of the registry solves a complex least-squares problem.

Gradients are fed as optax asks: the conjugate of ``jax.grad`` (for a real loss of
complex ``z``, ``jax.grad`` gives ``df/dx - i df/dy``; its conjugate is the direction
of steepest ascent). Where optax has a function of the same name that is right on
complex params, its run must equal ours step by step; where an algorithm has no
complex meaning, its init must refuse complex params, naming the leaf.
"""

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_notes as jon
from problems import rosenbrock_nd
from registry import REGISTRY, wrapping

ENTRIES = pytest.mark.parametrize("entry", REGISTRY, ids=repr)

# 0.5 * sum_i c_i |z_i - t_i|^2: the weights of the shared quadratic (problems.quadratic), so
# that each entry's quadratic_lr and quadratic_steps fit; the start is 0.5 to 1.7 away.
WEIGHTS = {"w": jnp.array([1.0, 4.0, 0.25]), "b": jnp.array(3.0)}
TARGET = {"w": jnp.array([1.0 + 1.0j, -1.0 + 0.5j, 0.5 - 1.0j]), "b": jnp.array(0.3 - 0.7j)}
START = {"w": jnp.array([0.0 + 0.0j, -2.0 + 1.5j, 0.5 - 0.5j]), "b": jnp.array(1.5 + 0.5j)}


# A complex coordinate is one coordinate (|g|^2, Re <x, y>, z / |z|), so turning the whole
# problem by a phase turns every iterate by it; g^2 for |g|^2 turns twice as fast.
ONE, TURN = jnp.asarray(1.0 + 0.0j), jnp.exp(jnp.asarray(0.7j))


def least_squares(z, target=TARGET):
  return 0.5 * sum(jnp.sum(WEIGHTS[k] * jnp.abs(z[k] - target[k]) ** 2) for k in z)


def conj_grad(loss, params):
  value, grad = jax.value_and_grad(loss)(params)
  return value, jax.tree.map(jnp.conj, grad)


def _turn(phase, tree):
  return jax.tree.map(lambda x: phase * x, tree)


@functools.partial(jax.jit, static_argnames=("opt", "steps"))
def _trajectory(opt, steps, phase):
  """Every iterate of ``steps`` steps on `least_squares` from `START`, in one compiled scan,
  with start and target turned by the unit complex ``phase`` (traced: no second compile)."""
  loss = functools.partial(least_squares, target=_turn(phase, TARGET))

  def step(carry, _):
    params, state = carry
    value, grad = conj_grad(loss, params)
    updates, state = opt.update(grad, state, params, value=value)
    params = optax.apply_updates(params, updates)
    return (params, state), params

  start = _turn(phase, START)
  _, iterates = jax.lax.scan(step, (start, opt.init(start)), None, length=steps)
  return iterates


def _optax_twin(entry, learning_rate):
  """optax's function of the entry's name with the same arguments (None where optax has none)."""
  name = entry.factory.__name__
  factory = getattr(optax, name, None) or getattr(optax.contrib, name, None)
  if factory is None:
    return None
  base = getattr(entry.factory, "base", None)
  if base is not None:  # a wrapper of one of ours: wrap optax's function of the same name
    factory = wrapping(factory, getattr(optax, base.__name__))
  with warnings.catch_warnings():  # optax deprecates some names it still has
    warnings.simplefilter("ignore", DeprecationWarning)
    return entry.make(learning_rate, factory=factory)


@ENTRIES
def test_converges_on_complex_least_squares_as_optax_does(entry):
  if entry.complex_refused:
    with pytest.raises(ValueError, match=r"the param at \['b'\] is complex"):  # the first
      entry.make(0.1).init(START)
    return
  lr = entry.schedule(entry.quadratic_lr, entry.quadratic_steps)
  opt = entry.make(lr)
  ours = _trajectory(opt, entry.quadratic_steps, ONE)
  final = jax.tree.map(lambda x: x[-1], ours)
  assert float(least_squares(final)) < entry.complex_tol, (entry.name, final)
  if entry.phase_equivariant:
    _assert_same_run(
      _turn(TURN, ours), _trajectory(opt, entry.quadratic_steps, TURN), entry.complex_tol
    )
  twin = None if entry.optax_complex_differs else _optax_twin(entry, lr)
  if twin is not None:
    _assert_same_run(ours, _trajectory(twin, entry.quadratic_steps, ONE), entry.complex_tol)


def _assert_same_run(ours, theirs, tol=1e-6):
  """Equal first steps in float64 (the same maths), and the same minimizer in the end, to
  the precision of a loss below ``tol`` (where the steps shrink to the rounding of a
  normalized direction, runs drift apart)."""
  for k in range(3):
    chex_close(
      jax.tree.map(lambda x: x[k], ours),
      jax.tree.map(lambda x: x[k], theirs),
      rtol=1e-10,
      atol=1e-12,
    )
  last = lambda tree: jax.tree.map(lambda x: x[-1], tree)  # noqa: E731
  chex_close(last(ours), last(theirs), rtol=0, atol=tol**0.5)


def test_yogi_from_a_zero_start_equals_optax_on_complex_params():
  # the registry's yogi differs from optax's alias in its documented start (registry)
  ours = jon.yogi(0.3, initial_accumulator_value=0.0)
  theirs = optax.chain(optax.scale_by_yogi(initial_accumulator_value=0.0), optax.scale(-0.3))
  _assert_same_run(_trajectory(ours, 500, ONE), _trajectory(theirs, 500, ONE))


def chex_close(a, b, **tolerances):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tolerances)


def test_second_moments_are_real_and_the_refusal_names_the_leaf():
  # adam's nu holds |g|^2 (real), not g^2 (complex) ...
  opt = jon.adam(0.1)
  _, state = jax.jit(opt.update)(
    jax.tree.map(lambda x: 1j * jnp.ones_like(x), START), opt.init(START), START
  )
  nu = state[0].nu["w"]
  np.testing.assert_array_equal(np.imag(nu), 0)
  assert np.all(np.real(nu) > 0)
  # ... and a refusal names the path of the first complex leaf
  with pytest.raises(ValueError, match=r"scale_by_rprop: the param at \['b'\]\[1\] is complex"):
    jon.rprop(0.1).init({"a": jnp.ones(2), "b": (jnp.ones(1), jnp.ones(1, complex))})


# optax's complex Rosenbrock (its lbfgs tests): Rosenbrock over the real and imaginary parts
def complex_rosenbrock(z):
  return rosenbrock_nd(jnp.concatenate([jnp.real(z), jnp.imag(z)]))


def _lbfgs_solve(lib, linesearch):
  opt = lib.lbfgs(linesearch=linesearch)

  @jax.jit
  def solve(z):
    def keep_going(carry):
      _, _, k, grad = carry
      return (jnp.linalg.norm(grad) >= 1e-5) & (k < 200)

    def step(carry):
      z, state, k, _ = carry
      value, grad = conj_grad(complex_rosenbrock, z)
      updates, state = opt.update(
        grad, state, z, value=value, grad=grad, value_fn=complex_rosenbrock
      )
      return lib.apply_updates(z, updates), state, k + 1, grad

    start = (z, opt.init(z), 0, jnp.ones_like(z))
    return jax.lax.while_loop(keep_going, step, start)[0]

  return solve(jnp.zeros(5, complex))


@pytest.mark.parametrize("linesearch", ["zoom", "backtracking"])
def test_lbfgs_solves_the_complex_rosenbrock_as_optax_does(linesearch):
  def search(lib):
    if linesearch == "zoom":
      return lib.scale_by_zoom_linesearch(20, initial_guess_strategy="one")
    return lib.scale_by_backtracking_linesearch(20)

  ours = _lbfgs_solve(jon, search(jon))
  np.testing.assert_allclose(ours, np.full(5, 1 + 1j), atol=1e-5)
  np.testing.assert_allclose(ours, _lbfgs_solve(optax, search(optax)), atol=1e-5)


def test_line_searches_keep_gradients_in_the_updates_convention():
  # the gradient a line search keeps (for value_and_grad_from_state) is conj(jax.grad)
  z = jnp.array([0.5 + 0.5j, -0.2j])
  f = lambda z: jnp.sum(jnp.abs(z - 1j) ** 2)  # noqa: E731
  _, grad = conj_grad(f, z)
  for search in (
    jon.scale_by_zoom_linesearch(20),
    jon.scale_by_backtracking_linesearch(20, store_grad=True),
  ):
    update = jax.jit(functools.partial(search.update, value_fn=f))
    _, state = update(jax.tree.map(jnp.negative, grad), search.init(z), z, value=f(z), grad=grad)
    moved = z - state.learning_rate * grad
    np.testing.assert_allclose(state.grad, conj_grad(f, moved)[1], rtol=1e-12)


@pytest.mark.parametrize("inner", ["adam", "sign_sgd"])
def test_split_real_and_imaginary_equals_optax(inner):
  params = {"z": jnp.array([1.0 + 2.0j, -0.5j]), "x": jnp.array([0.3, -1.0])}
  ours = jon.contrib.split_real_and_imaginary(getattr(jon, inner)(0.1))
  theirs = optax.contrib.split_real_and_imaginary(getattr(optax, inner)(0.1))
  s_ours, s_theirs = ours.init(params), theirs.init(params)
  assert type(s_ours).__name__ == type(s_theirs).__name__ == "SplitRealAndImaginaryState"
  assert s_ours._fields == s_theirs._fields == ("inner_state",)
  for k in range(3):
    grads = {"z": (k + 1.0) * params["z"] - 0.7j, "x": (k + 1.0) * params["x"] - 0.7}
    u_ours, s_ours = ours.update(grads, s_ours, params)
    u_theirs, s_theirs = theirs.update(grads, s_theirs, params)
    chex_close(u_ours, u_theirs, rtol=1e-12)
    assert jax.tree.map(lambda x: x.dtype, u_ours) == jax.tree.map(lambda x: x.dtype, params)
    params = jon.apply_updates(params, u_ours)
  chex_close(s_ours, s_theirs, rtol=1e-12)
