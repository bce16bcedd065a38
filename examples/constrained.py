"""A constrained problem three ways: quadratic penalty, augmented Lagrangian, projection.

    minimize   f(x) = (x0 - 2)^2 + (x1 - 1)^2
    subject to c(x) = x0^2 + x1^2 - 1 <= 0      (the unit disc)

The answer is the point of the disc nearest (2, 1): x* = (2, 1) / sqrt(5), with
Lagrange multiplier lambda* = sqrt(5) - 1 (from grad f + lambda grad c = 0).

* Penalty: minimize f + (mu / 2) max(0, c)^2 for growing mu; each minimizer
  lies outside the disc, at a distance of order 1 / mu.
* Augmented Lagrangian (method of multipliers): minimize
  f + (max(0, lam + rho c)^2 - lam^2) / (2 rho), then lam <- max(0, lam + rho c);
  exact for a fixed rho, and lam converges to the multiplier.
* Projection: projected gradient descent with `projections.projection_l2_ball`.

Each inner problem is solved by L-BFGS. Run: python examples/constrained.py
"""

import argparse
import functools

import jax
import jax.numpy as jnp

import jaxopt_notes as jon
from jaxopt_notes import projections

jax.config.update("jax_enable_x64", True)

TARGET = jnp.array([2.0, 1.0])
SOLUTION = TARGET / jnp.linalg.norm(TARGET)
MULTIPLIER = jnp.sqrt(5.0) - 1.0


def objective(x):
  return jnp.sum((x - TARGET) ** 2)


def constraint(x):
  return jnp.sum(x**2) - 1.0


def minimize(f, x, steps):
  """``steps`` L-BFGS steps on ``f`` from ``x``, in one compiled loop."""
  opt = jon.lbfgs()

  def step(carry, _):
    x, state = carry
    value, grad = jax.value_and_grad(f)(x)
    updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
    return (x + updates, state), None

  (x, _), _ = jax.lax.scan(step, (x, opt.init(x)), None, length=steps)
  return x


@functools.partial(jax.jit, static_argnames="steps")
def penalty_step(x, mu, steps):
  return minimize(
    lambda z: objective(z) + 0.5 * mu * jnp.maximum(constraint(z), 0.0) ** 2, x, steps
  )


@functools.partial(jax.jit, static_argnames="steps")
def lagrangian_step(x, lam, rho, steps):
  def augmented(z):
    return objective(z) + (jnp.maximum(lam + rho * constraint(z), 0.0) ** 2 - lam**2) / (2 * rho)

  x = minimize(augmented, x, steps)
  return x, jnp.maximum(lam + rho * constraint(x), 0.0)


@functools.partial(jax.jit, static_argnames="steps")
def projected_descent(x, steps):
  opt = jon.projected(jon.sgd(0.25), projections.projection_l2_ball)

  def step(carry, _):
    x, state = carry
    updates, state = opt.update(jax.grad(objective)(x), state, x)
    return (x + updates, state), None

  (x, _), _ = jax.lax.scan(step, (x, opt.init(x)), None, length=steps)
  return x


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--outer", type=int, default=6, help="penalty / multiplier rounds")
  parser.add_argument("--inner", type=int, default=30, help="L-BFGS steps per round")
  args = parser.parse_args(argv)
  start = jnp.zeros(2)
  error = lambda x: float(jnp.linalg.norm(x - SOLUTION))  # noqa: E731
  print(f"solution {SOLUTION.tolist()}, multiplier {float(MULTIPLIER):.6f}")

  x, mu, penalty = start, 1.0, []
  for _ in range(args.outer):
    x = penalty_step(x, mu, args.inner)
    penalty.append(error(x))
    print(
      f"penalty      mu={mu:8.0f}  |x - x*|={penalty[-1]:.2e}  c(x)={float(constraint(x)):+.2e}"
    )
    mu *= 10.0

  x, lam, lagrangian = start, jnp.zeros([]), []
  for _ in range(args.outer):
    x, lam = lagrangian_step(x, lam, 10.0, args.inner)
    lagrangian.append(error(x))
    print(f"lagrangian   lam={float(lam):.6f}  |x - x*|={lagrangian[-1]:.2e}")

  x = projected_descent(start, 20 * args.inner)
  print(f"projection   |x - x*|={error(x):.2e}")
  return {
    "penalty": penalty,
    "lagrangian": lagrangian,
    "multiplier": float(lam),
    "projection": error(x),
  }


if __name__ == "__main__":
  main()
