"""Runs tests/multidevice in a process of its own, on 8 simulated CPU devices.

The device-count flag must be set before JAX starts, and must not leak into
this process; a hard timeout makes a hang fail this one test, not the suite.
"""

import os
import subprocess
import sys

import pytest

from jaxopt_notes.testing import multiprocess

HERE = os.path.dirname(__file__)


# The suite's own XLA flags (tests/conftest.py) and 8 simulated devices.
EIGHT_DEVICES = multiprocess._with_device_count(os.environ.get("XLA_FLAGS", ""), 8)
SHARDS = 3  # test_sharded_state.py runs every optimizer: split over processes
# The Kronecker files share one process: each process pays ~5 CPU-s of imports.
KRONECKER = "test_kronecker_sharding.py test_kron_sharding.py test_kronecker_meshes.py"


@pytest.mark.parametrize(
  "target,shard",
  [*[("test_sharded_state.py", f"{i}/{SHARDS}") for i in range(SHARDS)], (KRONECKER, "")],
)
def test_sharded_state_on_8_simulated_devices(target, shard):
  env = dict(
    os.environ,
    JAXOPT_NOTES_MULTIDEVICE="1",
    JAX_PLATFORMS="cpu",
    XLA_FLAGS=EIGHT_DEVICES,
    JAXOPT_NOTES_SHARD=shard,
  )
  done = subprocess.run(
    [
      sys.executable,
      "-m",
      "pytest",
      "-q",
      "-p",
      "no:cacheprovider",
      "-p",
      "no:xdist",
      *[os.path.join(HERE, "multidevice", name) for name in target.split()],
    ],
    cwd=os.path.join(HERE, ".."),
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
    check=False,
  )
  assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
  assert " passed" in done.stdout and "failed" not in done.stdout


def test_fsdp_example_trains_with_an_eighth_of_the_state_per_device():
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=EIGHT_DEVICES)
  done = subprocess.run(
    [sys.executable, "sharded_training.py", "--steps", "80"],
    cwd=os.path.join(HERE, "..", "examples"),
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  )
  assert done.returncode == 0, done.stdout + done.stderr[-3000:]
  lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line)
  assert done.stdout.startswith("8 devices")
  assert float(lines["test"].split()[-1]) > 0.85, done.stdout  # "test accuracy 0.9xx"
  assert "(0.125 of it;" in lines["optimizer"], done.stdout
  assert done.stdout.rstrip().endswith("sharded exactly like their params: True")


KRONECKER_MESHES = os.path.join(HERE, "workers", "kronecker_meshes.py")


def test_kronecker_optimizers_on_2_processes_agree_with_one_device():
  """Shampoo, SOAP, PSGD-Kron, KL-Shampoo and PSGD-PRO trained by 2 processes x 2 devices:
  each rank's params after 6 float32 steps agree with one device's to 1e-4 relative, on
  rank-deficient and on full-rank factors (tests/multidevice/test_kronecker_meshes.py
  checks meshes of 1 to 8 devices in one process)."""
  results = multiprocess.launch([KRONECKER_MESHES], 2, 2, timeout=300)
  for r in results:
    assert (r["processes"], r["devices"]) == (2, 4), r
    for name in ("shampoo", "soap", "kron", "kl_shampoo", "psgd_pro"):
      assert max(r[name]) <= 1e-4, (name, r[name])
