"""Strict numerics for every test: float64 on, so references can be compared at 1e-10."""

import os
import sys

import jax

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, os.path.dirname(__file__))

# Tests that need several devices run in their own process (test_sharding.py sets
# the device-count flag there), so the flag never leaks into this one.
collect_ignore = [] if os.environ.get("JAXOPT_NOTES_MULTIDEVICE") else ["multidevice"]
