"""The vmap learning-rate sweep example, in a fast mode: one trace, equal to separate runs."""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))

import lr_sweep  # noqa: E402


def test_sweep_compiles_once_and_equals_separate_runs(tmp_path):
  lr_sweep.TRACES["train"] = 0
  rates = jnp.array([1e-3, 1e-2, 1e-1, 3e-1])
  curves = lr_sweep.sweep(steps=12, rates=rates)
  assert lr_sweep.TRACES["train"] == 1
  assert curves.shape == (4, 12)
  train = jax.jit(lr_sweep.make_train(12))
  for i, lr in enumerate(rates):
    np.testing.assert_allclose(curves[i], train(lr), rtol=2e-5, atol=1e-6)
  assert float(curves[-1, -1]) < float(curves[0, -1])  # a larger rate learns faster here


def test_sweep_example_runs_end_to_end_and_plots(tmp_path):
  curves = lr_sweep.main(["--steps", "8", "--out", str(tmp_path)])
  assert curves.shape == (16, 8)
  assert os.path.getsize(tmp_path / "lr_sweep.png") > 10_000


def test_schedule_gallery_plots_every_schedule(tmp_path):
  import schedule_gallery
  import jaxopt_notes as jon

  path = tmp_path / "schedules.png"
  schedule_gallery.main(["--out", str(path)])
  assert path.stat().st_size > 20_000
  public = {n for n in jon.__all__ if n.endswith("_schedule") and not n.startswith("scale_by")}
  public.add("exponential_decay")
  shown = {title.split("(")[0].split(" ")[0] for title in schedule_gallery.GALLERY}
  shown = {
    n if n.endswith("_schedule") or n == "exponential_decay" else n + "_schedule" for n in shown
  }
  assert public <= shown
