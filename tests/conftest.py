"""Strict numerics for every test: float64 on, so references can be compared at 1e-10."""

import os
import subprocess
import sys

# LAPACK calls (eigh, qr, cholesky: jax's CPU kernels and numpy's) go to OpenBLAS, whose
# threads (one per core) spin beside XLA's pool and the other test workers: on 2 busy
# cores a 128 x 128 eigh took 245 ms instead of 4. Set before numpy or jax loads; the
# suite's workers and subprocesses inherit it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax  # noqa: E402

# The suite compiles thousands of tiny programs that run for microseconds; most of
# their compile time would go to optimising machine code: LLVM's passes, and the
# CPU backend's newer fusion emitters (its classic ones compile about twice as
# fast). Both settings compute the same IEEE operations (every comparison here is
# between runs under the same flags, or at a tolerance). XLA aborts on a flag it
# does not know, so each is first tried in a throwaway process (the flags are
# set before JAX starts, and inherited by the suite's workers and subprocesses).
FAST_COMPILE = ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false")


def _known(flag):
  probe = subprocess.run(
    [sys.executable, "-c", "import jax; jax.devices()"],
    env=dict(os.environ, XLA_FLAGS=flag, JAX_PLATFORMS="cpu"),
    capture_output=True,
    timeout=120,
    check=False,
  )
  return probe.returncode == 0


_flags = os.environ.get("XLA_FLAGS", "")
_missing = [flag for flag in FAST_COMPILE if flag.split("=")[0] not in _flags]
if _missing:
  _chosen = _missing if _known(" ".join(_missing)) else [f for f in _missing if _known(f)]
  os.environ["XLA_FLAGS"] = " ".join([_flags, *_chosen]).strip()

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, os.path.dirname(__file__))

# Tests that need several devices run in their own process (test_sharding.py sets
# the device-count flag there), so the flag never leaks into this one.
collect_ignore = [] if os.environ.get("JAXOPT_NOTES_MULTIDEVICE") else ["multidevice"]
