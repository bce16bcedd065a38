"""Shampoo, SOAP, PSGD-Kron, KL-Shampoo and PSGD-PRO give one device's params on meshes of
2, 4 and 8 simulated devices, to 1e-4 relative after 6 float32 steps, on rank-deficient and
on full-rank Kronecker factors (run in its own process by test_sharding.py; the
problem and the training are in tests/workers/kronecker_meshes.py, which
test_sharding.py also runs as 2 processes x 2 devices).

Another mesh only reorders the sums of the gradients and of the factors, a
change of about float32's epsilon; the optimizers' numerics (docs/kronecker.md)
keep what they compute from amplifying it.
"""

import importlib.util
import os

import jax
import pytest
from jax.sharding import AxisType

_SPEC = importlib.util.spec_from_file_location(
  "kronecker_meshes",
  os.path.join(os.path.dirname(__file__), "..", "workers", "kronecker_meshes.py"),
)
problem = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(problem)

AGREEMENT = 1e-4  # relative to the largest entry of each param


@pytest.mark.parametrize("name", list(problem.OPTIMIZERS))
def test_params_after_6_steps_agree_across_meshes_of_1_to_8_devices(name):
  meshes = {
    n: jax.make_mesh((n,), ("d",), devices=jax.devices()[:n], axis_types=(AxisType.Auto,))
    for n in (1, 2, 4, 8)
  }
  alone = problem.train(name, meshes.pop(1))
  seen = {n: problem.disagreement(problem.train(name, mesh), alone) for n, mesh in meshes.items()}
  print(name, seen)
  assert all(max(d) <= AGREEMENT for d in seen.values()), (name, seen)
