"""Test problems shared by every solver test, and one jitted training loop."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

import jaxopt_notes as jon


def quadratic(params):
  """A badly scaled bowl over a two-leaf tree (a vector and a scalar); minimum 0 at 0."""
  w, b = params["w"], params["b"]
  return 0.5 * (jnp.sum(jnp.array([1.0, 4.0, 0.25], w.dtype) * w**2) + 3.0 * b**2)


QUADRATIC_START = {"w": jnp.array([1.0, -2.0, 0.5]), "b": jnp.array(1.5)}


def rosenbrock(params):
  """Rosenbrock's valley over two scalar leaves; minimum 0 at (1, 1)."""
  x, y = params["x"], params["y"]
  return (1 - x) ** 2 + 100 * (y - x**2) ** 2


ROSENBROCK_START = {"x": jnp.array(-1.2), "y": jnp.array(1.0)}


def distance(params, target):
  return jnp.sqrt(
    sum(jnp.sum((p - t) ** 2) for p, t in zip(jax.tree.leaves(params), jax.tree.leaves(target)))
  )


@functools.partial(jax.jit, static_argnames=("loss", "opt", "steps"))
def run(opt, loss, params, steps):
  """Runs ``steps`` optimizer steps in one compiled scan; returns the final params."""

  def step(carry, _):
    params, state = carry
    value, grads = jax.value_and_grad(loss)(params)
    updates, state = opt.update(grads, state, params, value=value)
    return (jon.apply_updates(params, updates), state), None

  (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
  return params


def trajectory(opt, loss, params, steps, update=None):
  """Eager-friendly loop returning every intermediate (params, updates, state)."""
  update = update or opt.update
  state = opt.init(params)
  out = []
  for _ in range(steps):
    value, grads = jax.value_and_grad(loss)(params)
    updates, state = update(grads, state, params, value=value)
    params = jon.apply_updates(params, updates)
    out.append((params, updates, state))
  return out


# Classic problems over one vector, for the second-order solvers and scipy.optimize.
def rosenbrock_nd(x):
  """Rosenbrock's function in n dimensions; minimum 0 at (1, ..., 1)."""
  return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def beale(x):
  """Beale's function; minimum 0 at (3, 0.5)."""
  a, b = x[0], x[1]
  return (1.5 - a + a * b) ** 2 + (2.25 - a + a * b**2) ** 2 + (2.625 - a + a * b**3) ** 2


def booth(x):
  """Booth's function, a quadratic; minimum 0 at (1, 3)."""
  return (x[0] + 2 * x[1] - 7) ** 2 + (2 * x[0] + x[1] - 5) ** 2


def logistic_ridge(w):
  """l2-regularized logistic regression on fixed data: strongly convex, smooth."""
  z = jnp.asarray(_LOGISTIC_X, w.dtype) @ w
  return jnp.mean(jnp.logaddexp(0.0, -jnp.asarray(_LOGISTIC_Y, w.dtype) * z)) + 0.05 * w @ w


_rng = np.random.default_rng(7)
_LOGISTIC_X = _rng.normal(size=(40, 3))
_LOGISTIC_Y = np.sign(_LOGISTIC_X @ np.array([1.5, -2.0, 0.5]) + 0.8 * _rng.normal(size=40))

# name -> (function, start, minimizer)
CLASSICS = {
  "rosenbrock": (rosenbrock_nd, [-1.2, 1.0], [1.0, 1.0]),
  "rosenbrock_5d": (rosenbrock_nd, [-1.2, 1.0, -1.2, 1.0, -1.2], [1.0] * 5),
  "beale": (beale, [1.0, 1.0], [3.0, 0.5]),
  "booth": (booth, [0.0, 0.0], [1.0, 3.0]),
}
