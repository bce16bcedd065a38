"""Optimizer paths as pictures: the saddle race, d2l's ill-conditioned bowl, classic surfaces.

Writes ``saddle_escape.png``, ``d2l_contour.png`` and ``race.png``.

Run: ``python examples/trajectories.py [--out DIR]``
"""

import argparse
import os

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import d2l_chapter11  # noqa: E402
import jaxopt_notes as jon  # noqa: E402
import saddle_escape  # noqa: E402


def path(loss, opt, start, steps):
  """The (steps + 1) x 2 path of ``opt`` on ``loss`` over a 2-vector."""

  def step(carry, _):
    x, state = carry
    updates, state = opt.update(jax.grad(loss)(x), state, x)
    x = jon.apply_updates(x, updates)
    return (x, state), x

  x0 = jnp.asarray(start, jnp.float64)
  _, xs = jax.jit(lambda x: jax.lax.scan(step, (x, opt.init(x)), None, length=steps))(x0)
  return np.concatenate([np.asarray(x0)[None], np.asarray(xs)])


def _contour(ax, loss, xlim, ylim, levels):
  xs, ys = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 300))
  zs = np.asarray(jax.vmap(jax.vmap(lambda a, b: loss(jnp.stack([a, b]))))(xs, ys))
  ax.contour(xs, ys, zs, levels=levels, colors="0.75", linewidths=0.7)
  ax.set(xlim=xlim, ylim=ylim)


def saddle_plot(plt, out):
  steps = saddle_escape.table()
  fig, ax = plt.subplots(figsize=(7, 4.2))
  for name, opt in saddle_escape.OPTIMIZERS.items():
    _, p = saddle_escape.escape(opt, max_steps=3000)
    ax.plot(np.abs(np.asarray(p["y"])), label=f"{name}: y > 1 at step {steps[name]}")
  ax.axhline(1.0, color="k", lw=0.8, ls="--")
  ax.set(
    yscale="log",
    ylim=(1e-12, 1e3),
    xlabel="step",
    ylabel="|y|",
    title="Escaping the saddle (x^2 - y^2)/2 from (1, 1e-11)",
  )
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(os.path.join(out, "saddle_escape.png"), dpi=110)
  plt.close(fig)


D2L_CONTOUR = {
  "gradient descent (lr 0.4)": jon.sgd(0.4),
  "momentum (lr 0.6, beta 0.5)": jon.sgd(0.6, momentum=0.5),
  "AdaGrad (lr 0.4)": d2l_chapter11.RUNS["adagrad f2 lr=0.4"][1],
  "RMSProp (lr 0.4, gamma 0.9)": d2l_chapter11.RUNS["rmsprop f2 lr=0.4 gamma=0.9"][1],
  "Adadelta (rho 0.9, no lr)": jon.adadelta(rho=0.9, eps_root=1e-5),
  "Adam (lr 0.5)": jon.adam(0.5),
}


def d2l_plot(plt, out):
  fig, axes = plt.subplots(2, 3, figsize=(11, 6), sharex=True, sharey=True)
  for ax, (name, opt) in zip(axes.flat, D2L_CONTOUR.items()):
    _contour(ax, d2l_chapter11.f2, (-5.5, 1.5), (-3.0, 3.0), 12)
    p = path(d2l_chapter11.f2, opt, d2l_chapter11.START, d2l_chapter11.STEPS)
    ax.plot(p[:, 0], p[:, 1], "-o", ms=3, color="tab:orange")
    ax.set_title(name, fontsize=9)
  fig.suptitle("f = 0.1 x1^2 + 2 x2^2 from (-5, -2), 20 steps (d2l chapter 11)")
  fig.tight_layout()
  fig.savefig(os.path.join(out, "d2l_contour.png"), dpi=100)
  plt.close(fig)


def rosenbrock(x):
  return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def beale(x):
  a, b = x[0], x[1]
  return (1.5 - a + a * b) ** 2 + (2.25 - a + a * b**2) ** 2 + (2.625 - a + a * b**3) ** 2


def saddle(x):
  return (x[0] ** 2 - x[1] ** 2) / 2


SURFACES = [  # (title, loss, start, steps, xlim, ylim, levels)
  ("Rosenbrock", rosenbrock, (-1.5, 2.0), 800, (-2, 2), (-1, 3), np.logspace(-1, 3.5, 15)),
  ("Beale", beale, (1.0, 1.4), 800, (-1, 4), (-1, 2), np.logspace(-1, 2.5, 15)),
  ("saddle", saddle, (1.0, 1e-3), 150, (-1.2, 1.2), (-1.2, 1.2), 15),
]

RACERS = {
  "SGD": lambda: jon.sgd(1e-3),
  "momentum": lambda: jon.sgd(1e-3, momentum=0.9),
  "AdaGrad": lambda: jon.adagrad(0.3),
  "RMSProp": lambda: jon.rmsprop(0.01),
  "Adam": lambda: jon.adam(0.05),
  "AdaBelief": lambda: jon.adabelief(0.05),
}


def race_plot(plt, out):
  fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))
  for ax, (title, loss, start, steps, xlim, ylim, levels) in zip(axes, SURFACES):
    _contour(ax, loss, xlim, ylim, levels)
    for name, make in RACERS.items():
      p = path(loss, make(), start, steps)
      p = p[np.all(np.isfinite(p), axis=1)]
      ax.plot(p[:, 0], p[:, 1], lw=1.2, label=name)
    ax.plot(*start, "k*", ms=9)
    ax.set_title(f"{title}: {steps} steps from {start}", fontsize=9)
  axes[0].legend(fontsize=8, loc="lower left")
  fig.tight_layout()
  fig.savefig(os.path.join(out, "race.png"), dpi=100)
  plt.close(fig)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default="demo_output")
  args = parser.parse_args(argv)
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  os.makedirs(args.out, exist_ok=True)
  saddle_plot(plt, args.out)
  d2l_plot(plt, args.out)
  race_plot(plt, args.out)
  for name in ("saddle_escape.png", "d2l_contour.png", "race.png"):
    print(f"wrote {os.path.join(args.out, name)}")


if __name__ == "__main__":
  main()
