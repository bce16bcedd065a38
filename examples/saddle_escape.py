"""The saddle-point escape race of the study notes on momentum and adaptive
methods, run with the library.

On the saddle g(x, y) = (x^2 - y^2) / 2, started at (1, 1e-11) just off the
stable manifold, each optimizer is run until y first exceeds 1; fewer steps
means a faster escape. Settings follow the notes: learning rate 0.01; momentum
0.9; AdaGrad with delta = 1e-7 *outside* the square root and no initial
accumulator; RMSProp with decay 0 and delta = 1e-6 *inside* the root; Adam with
its usual defaults.

The notes print "about 1300" steps for AdaGrad (its own formula gives 1264,
consistent with "about") and "about 60" for RMSProp, but its own RMSProp
formula gives 108: with decay 0 the step is 0.01 * y / sqrt(1e-6 + y^2), which
is at most 0.01 once y >> 1e-3, so y needs about 100 steps to climb from 1e-3
to 1. The table shows both; the tests follow the formula.

Run: ``python examples/saddle_escape.py``
"""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import jaxopt_notes as jon  # noqa: E402

START = (1.0, 1e-11)
MAX_STEPS = 10_000

OPTIMIZERS = {
  "SGD": jon.sgd(0.01),
  "Momentum": jon.sgd(0.01, momentum=0.9),
  "AdaGrad": jon.adagrad(0.01, initial_accumulator_value=0.0, eps=1e-7, eps_root=0.0),
  "RMSProp": jon.rmsprop(0.01, decay=0.0, eps=0.0, eps_root=1e-6),
  "Adam": jon.adam(0.01),
}

# What the notes print for each (None: they give no number).
SEED_SAYS = {
  "SGD": "about 2546",
  "Momentum": None,
  "AdaGrad": "about 1300",
  "RMSProp": "about 60",
  "Adam": None,
}


def saddle(params):
  x, y = params["x"], params["y"]
  return (x**2 - y**2) / 2


def escape(opt: jon.GradientTransformation, max_steps: int = MAX_STEPS):
  """Returns (first step with y > 1, or -1 if none within max_steps; the path)."""
  params = {"x": jnp.array(START[0]), "y": jnp.array(START[1])}

  def step(carry, _):
    params, state = carry
    updates, state = opt.update(jax.grad(saddle)(params), state, params)
    params = jon.apply_updates(params, updates)
    return (params, state), params

  _, path = jax.jit(lambda p: jax.lax.scan(step, (p, opt.init(p)), None, length=max_steps))(params)
  above = jnp.nonzero(path["y"] > 1, size=1, fill_value=-1)[0][0]
  first = int(above) + 1 if int(above) >= 0 else -1
  return first, path


def table() -> dict:
  return {name: escape(opt)[0] for name, opt in OPTIMIZERS.items()}


def main() -> dict:
  steps = table()
  print("Saddle g(x, y) = (x^2 - y^2)/2 from (1, 1e-11): first step with y > 1")
  print(f"{'optimizer':<10} {'steps':>6}   the notes say")
  for name, n in steps.items():
    note = SEED_SAYS[name] or "-"
    if name == "RMSProp":
      note += " (its own formula gives the number on the left)"
    print(f"{name:<10} {n:>6}   {note}")
  return steps


if __name__ == "__main__":
  main()
