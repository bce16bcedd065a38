"""The d2l chapter-11 experiments that the study notes on schedules summarise, run with the library.

Two quadratics, f1 = x1^2 + 2 x2^2 and f2 = 0.1 x1^2 + 2 x2^2, from (-5, -2),
20 full-gradient steps each, with d2l's settings:

* gradient descent on f1 (lr 0.1) and on f2 (lr 0.4, and 0.6, where x2 diverges);
* momentum on f2: d2l's ``v <- beta v + g; x <- x - lr v`` is ``sgd(lr, momentum=beta)``;
* AdaGrad on f2: d2l adds 1e-6 *inside* the root and starts the sum at 0;
* RMSProp on f2: gamma 0.9, 1e-6 inside the root.

Run: ``python examples/d2l_chapter11.py``
"""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import jaxopt_notes as jon  # noqa: E402

START = (-5.0, -2.0)
STEPS = 20


def f1(x):
  return x[0] ** 2 + 2 * x[1] ** 2


def f2(x):
  return 0.1 * x[0] ** 2 + 2 * x[1] ** 2


def _adagrad(lr):
  return jon.adagrad(lr, initial_accumulator_value=0.0, eps=0.0, eps_root=1e-6)


# name -> (objective, optimizer)
RUNS = {
  "gd f1 lr=0.1": (f1, jon.sgd(0.1)),
  "gd f2 lr=0.4": (f2, jon.sgd(0.4)),
  "gd f2 lr=0.6": (f2, jon.sgd(0.6)),
  "momentum f2 lr=0.6 beta=0.5": (f2, jon.sgd(0.6, momentum=0.5)),
  "momentum f2 lr=0.6 beta=0.25": (f2, jon.sgd(0.6, momentum=0.25)),
  "adagrad f2 lr=0.4": (f2, _adagrad(0.4)),
  "adagrad f2 lr=2": (f2, _adagrad(2.0)),
  "rmsprop f2 lr=0.4 gamma=0.9": (f2, jon.rmsprop(0.4, decay=0.9, eps=0.0, eps_root=1e-6)),
}


def trajectory(f, opt, steps: int = STEPS) -> jax.Array:
  """The (steps + 1) x 2 path, start included."""

  def step(carry, _):
    x, state = carry
    updates, state = opt.update(jax.grad(f)(x), state, x)
    x = jon.apply_updates(x, updates)
    return (x, state), x

  x0 = jnp.array(START)
  _, path = jax.lax.scan(step, (x0, opt.init(x0)), None, length=steps)
  return jnp.concatenate([x0[None], path])


def main() -> dict:
  finals = {}
  print(f"d2l chapter 11: {STEPS} steps from {START}")
  for name, (f, opt) in RUNS.items():
    x = trajectory(f, opt)[-1]
    finals[name] = x
    print(f"{name:<30} x1: {float(x[0]):f}, x2: {float(x[1]):f}")
  return finals


if __name__ == "__main__":
  main()
