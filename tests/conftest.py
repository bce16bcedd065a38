"""Strict numerics for every test: float64 on, so references can be compared at 1e-10."""

import os
import sys

import jax

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, os.path.dirname(__file__))
