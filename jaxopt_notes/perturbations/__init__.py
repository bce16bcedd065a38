"""Differentiable approximations of any function by random input perturbations.

As ``optax.perturbations``: `make_perturbed_fun` turns ``f`` into a Monte Carlo
estimate of $\\mathbb{E}_z f(x + \\sigma z)$ whose derivatives (of any order,
by JAX's autodiff) estimate those of the smoothed function, from values of
``f`` alone; `Gumbel` and `Normal` are the noises.
"""

from jaxopt_notes.perturbations._perturbed import Gumbel, Normal, make_perturbed_fun

__all__ = ["Gumbel", "Normal", "make_perturbed_fun"]
