"""Plots every schedule of the library, one panel each, into one PNG.

Run: ``python examples/schedule_gallery.py [--out PATH]``
"""

import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np

import jaxopt_notes as jon

STEPS = 200

GALLERY = {
  "constant_schedule(0.8)": jon.constant_schedule(0.8),
  "linear_schedule(1, 0.1, 150, begin 20)": jon.linear_schedule(1.0, 0.1, 150, 20),
  "polynomial_schedule(power 3)": jon.polynomial_schedule(1.0, 0.0, 3.0, 180),
  "exponential_decay(rate 0.5 / 40, staircase)": jon.exponential_decay(
    1.0, 40, 0.5, staircase=True
  ),
  "exponential_decay(rate 0.5 / 40)": jon.exponential_decay(1.0, 40, 0.5),
  "piecewise_constant(x0.5 at 60, x0.2 at 140)": jon.piecewise_constant_schedule(
    1.0, {60: 0.5, 140: 0.2}
  ),
  "piecewise_interpolate(cosine)": jon.piecewise_interpolate_schedule(
    "cosine", 1.0, {60: 0.5, 140: 0.2}
  ),
  "cosine_decay_schedule(alpha 0.1)": jon.cosine_decay_schedule(1.0, 180, alpha=0.1),
  "warmup_cosine_decay(warmup 20)": jon.warmup_cosine_decay_schedule(0.0, 1.0, 20, 200, 0.05),
  "warmup_constant(warmup 30)": jon.warmup_constant_schedule(0.1, 1.0, 30),
  "warmup_exponential_decay": jon.warmup_exponential_decay_schedule(0.0, 1.0, 20, 30, 0.6),
  "sgdr (3 restarts)": jon.sgdr_schedule(
    [
      dict(init_value=0.0, peak_value=p, warmup_steps=5, decay_steps=n)
      for p, n in ((1.0, 50), (0.7, 60), (0.5, 90))
    ]
  ),
  "cosine_onecycle(pct_start 0.3)": jon.cosine_onecycle_schedule(200, 1.0),
  "linear_onecycle": jon.linear_onecycle_schedule(200, 1.0),
  "warmup_inverse_sqrt(warmup 20)": jon.warmup_inverse_sqrt_schedule(1.0, 20),
  "warmup_stable_decay(sqrt decay)": jon.warmup_stable_decay_schedule(
    1.0, 20, 120, 50, decay_type="sqrt"
  ),
  "triangular_cyclic(triangular2)": jon.triangular_cyclic_schedule(0.1, 1.0, 25, "triangular2"),
  "triangular_cyclic(exp_range, 0.99)": jon.triangular_cyclic_schedule(
    0.1, 1.0, 25, "exp_range", 0.99
  ),
  "precond_update_prob (kron)": jon.precond_update_prob_schedule(1.0, 0.05, 0.03, 40),
}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default=os.path.join("demo_output", "schedules.png"))
  args = parser.parse_args(argv)
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  steps = jnp.arange(STEPS, dtype=jnp.int32)
  cols = 3
  rows = -(-len(GALLERY) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(11, 2.1 * rows), sharex=True)
  for ax, (title, schedule) in zip(axes.flat, GALLERY.items()):
    ax.plot(np.asarray(steps), np.asarray(jax.vmap(schedule)(steps)), color="tab:blue")
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_ylim(bottom=0)
  for ax in list(axes.flat)[len(GALLERY) :]:
    ax.axis("off")
  fig.supxlabel("step", fontsize=9)
  fig.tight_layout()
  os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
  fig.savefig(args.out, dpi=90)
  plt.close(fig)
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
