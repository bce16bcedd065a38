"""The framework examples, in a fast mode: each must actually learn the digits."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))

import digits_classifier  # noqa: E402


@pytest.mark.parametrize("framework", list(digits_classifier.TRAINERS))
def test_digits_classifier_learns_in_every_framework(framework):
  accuracy = digits_classifier.main(["--steps", "150", "--framework", framework])[framework]
  assert accuracy > 0.85  # chance is 0.1


def test_trajectory_pictures_are_written(tmp_path):
  import trajectories

  trajectories.main(["--out", str(tmp_path)])
  for name in ("saddle_escape.png", "d2l_contour.png", "race.png"):
    assert (tmp_path / name).stat().st_size > 20_000, name


def test_every_racer_descends_on_rosenbrock_and_beale():
  import trajectories

  for _, loss, start, steps, *_ in trajectories.SURFACES[:2]:
    for name, make in trajectories.RACERS.items():
      end = trajectories.path(loss, make(), start, steps)[-1]
      assert float(loss(end)) < float(loss(start)), name


def test_constrained_example_penalty_lagrangian_and_projection_reach_the_answer():
  import constrained

  out = constrained.main(["--outer", "4", "--inner", "25"])
  # the penalty's error falls like 1 / mu (ten times per round); the multiplier
  # method's converges at a fixed rho; projection is exact
  assert all(b < a / 5 for a, b in zip(out["penalty"], out["penalty"][1:], strict=False))
  assert out["lagrangian"][-1] < 1e-3 and out["projection"] < 1e-10
  assert abs(out["multiplier"] - float(constrained.MULTIPLIER)) < 1e-2
