"""The language-model race (benchmarks/lm_race.py): its bookkeeping, and its quick mode run
in a process of its own."""

import json
import math
import os
import subprocess
import sys

import jax
import pytest

import jaxopt_notes as jon

ROOT = os.path.join(os.path.dirname(__file__), "..")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import lm  # noqa: E402
import lm_race  # noqa: E402


def test_steps_to_target_interpolates_between_evaluations():
  curve = [(0, 5.0), (10, 3.0), (20, 2.0), (30, 1.5)]
  elapsed = [0.0, 1.0, 3.0, 4.0]
  assert lm_race.steps_to_target(curve, 2.5, elapsed) == (15.0, 2.0)
  assert lm_race.steps_to_target(curve, 2.0, elapsed) == (20.0, 3.0)
  assert lm_race.steps_to_target(curve, 6.0, elapsed) == (0, 0.0)
  assert lm_race.steps_to_target(curve, 1.0, elapsed) == (None, None)
  # the first crossing counts, not a later one
  assert lm_race.steps_to_target([(0, 5.0), (10, 1.0), (20, 4.0), (30, 0.5)], 2.0)[0] == 7.5


class _FakeRace(lm_race.Race):
  """Runs replaced by a bowl in log learning rate with its bottom at ``bottom``."""

  def __init__(self, bottom):
    super().__init__(lm_race.QUICK, {"runs": {}, "methods": {}}, None, log=lambda *a: None)
    self.bottom, self.asked = bottom, []

  def run(self, name, lr, seed):
    self.asked.append(lr)
    return {"final": (math.log(lr) - math.log(self.bottom)) ** 2}


def test_grid_is_extended_past_a_winning_edge_and_reports_it():
  center = lm_race.RACERS["adamw"].center
  inside = _FakeRace(bottom=center / lm_race.GRID_FACTOR**0.5)  # the grid's lower point
  inside.tune("adamw")
  info = next(iter(inside.cache["methods"].values()))
  assert info["extended"] == 1 and not info["at_edge"], info  # one more point below settles it
  far = _FakeRace(bottom=100.0)
  best = far.tune("adamw")
  info = next(iter(far.cache["methods"].values()))
  assert info["extended"] == lm_race.MAX_EXTENSIONS and info["at_edge"], info
  assert best == max(info["grid"]) and len(info["grid"]) == 2 + lm_race.MAX_EXTENSIONS
  ratios = [b / a for a, b in zip(info["grid"], info["grid"][1:])]
  assert all(abs(r - lm_race.GRID_FACTOR) < 0.01 for r in ratios), ratios  # log-spaced


def test_corpus_and_model_shapes():
  train_ids, val_ids, vocab = lm.load_corpus()
  assert vocab == 103 and len(train_ids) + len(val_ids) > 400_000
  assert max(train_ids.max(), val_ids.max()) < vocab
  params = lm.init_params(lm.QUICK, jax.random.key(0))
  assert all(x.ndim in (1, 2) for x in jax.tree.leaves(params))
  hidden = lm.hidden_matrices(params)
  assert not hidden["embed"] and not hidden["unembed"] and not hidden["position"]
  assert hidden["layers"][0]["q"] and not hidden["layers"][0]["norm1"]


@pytest.mark.slow  # 3 compiled steps: well under a minute on the loaded 2-core machine
def test_quick_race_has_its_methods_and_every_loss_falls(tmp_path):
  md, png, cache = tmp_path / "lm.md", tmp_path / "lm.png", tmp_path / "runs.json"
  done = subprocess.run(
    [
      sys.executable,
      os.path.join(ROOT, "benchmarks", "lm_race.py"),
      "--quick",
      "--md",
      str(md),
      "--png",
      str(png),
      "--cache",
      str(cache),
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=900,
    check=False,
    env=dict(os.environ, JAX_PLATFORMS="cpu"),
  )
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  present = [name for name in lm_race.QUICK.methods if hasattr(jon, name)]
  assert {"adamw", "muon", "soap"} <= set(present)
  rows = {
    line.split("(`", 1)[1].split("`", 1)[0]: line.split(" | ")
    for line in md.read_text().splitlines()
    if line.startswith("| ") and "(`" in line
  }
  assert sorted(rows) == sorted(present)
  # AdamW's steps to its own loss, against itself
  assert rows["adamw"][4].strip().endswith("(1.00x) |"), rows["adamw"]
  runs = json.loads(cache.read_text())["runs"]
  assert {key.split("|")[0] for key in runs} == set(present)
  for name in present:  # every method learns: its best run ends well below where it began
    drops = [
      run["curve"][0][1] - run["final"] for key, run in runs.items() if key.startswith(name + "|")
    ]
    assert max(drops) > 0.3, (name, drops)
  assert png.stat().st_size > 10_000
