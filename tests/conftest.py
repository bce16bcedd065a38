"""Strict numerics for every test: float64 on, so references can be compared at 1e-10."""

import os
import sys

import jax

# The suite compiles thousands of tiny programs that run for microseconds; most of
# their compile time would go to LLVM optimising machine code. Unoptimised code
# computes the same IEEE operations (every comparison here is between runs under
# the same flags, or at a tolerance). Set before JAX starts; subprocesses inherit it.
FAST_COMPILE = "--xla_backend_optimization_level=0"
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE}".strip()

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, os.path.dirname(__file__))

# Tests that need several devices run in their own process (test_sharding.py sets
# the device-count flag there), so the flag never leaks into this one.
collect_ignore = [] if os.environ.get("JAXOPT_NOTES_MULTIDEVICE") else ["multidevice"]
