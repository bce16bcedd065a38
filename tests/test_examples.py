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
