"""Dion: the rank rule, the error feedback that keeps the residual, and restarts from zero."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_notes as jon

RNG = np.random.default_rng(4)
G = jnp.asarray(RNG.normal(size=(5, 3)))


@pytest.mark.parametrize("rank,columns", [(10, 3), (0.5, 2), (0.1, 1)])
def test_rank_is_a_fraction_of_the_shorter_side_or_a_number_of_columns(rank, columns):
  opt = jon.scale_by_dion(rank, mu=0.9)
  state = opt.init(G)
  assert state.q.shape == (1, 3, columns)
  update, _ = opt.update(G, state)
  assert np.linalg.matrix_rank(np.asarray(update), tol=1e-10) == columns


def test_full_rank_error_feedback_keeps_mu_times_the_momentum():
  """With r = min(m, n), P P^T B = B: the step takes all of B and M_1 = B - (1 - mu) B."""
  opt = jon.scale_by_dion(1.0, mu=0.9)
  update, state = opt.update(G, opt.init(G))
  np.testing.assert_allclose(state.mu, 0.9 * G, rtol=1e-12, atol=1e-14)
  # and the step is an orthonormal P times unit columns Q^T, times sqrt(fan_out / fan_in)
  s = np.linalg.svd(np.asarray(update) / np.sqrt(3 / 5), compute_uv=False)
  assert s.max() > 0.5 and np.isfinite(s).all()


def test_low_rank_residual_stays_in_the_momentum():
  """Rank 1: what the step leaves out of B is kept whole, what it used decays by mu."""
  opt = jon.scale_by_dion(1, mu=0.5)
  _, state = opt.update(G, opt.init(G))
  left = np.asarray(G) - np.asarray(state.mu)  # (1 - mu) P R^T, a rank-1 matrix
  assert np.linalg.matrix_rank(left, tol=1e-10) == 1
  u, s, _ = np.linalg.svd(np.asarray(G))
  assert np.linalg.norm(left) < 0.5 * s[0] * (1 + 1e-12)  # (1 - mu) of B's projection


def test_a_zero_gradient_gives_a_zero_step_and_the_iteration_restarts():
  opt = jon.scale_by_dion(2, mu=0.9)
  state = opt.init(G)
  step = jax.jit(opt.update)
  update, state = step(jnp.zeros_like(G), state)
  assert not np.asarray(update).any() and np.isfinite(np.asarray(state.q)).all()
  update, state = step(G, state)
  assert np.linalg.matrix_rank(np.asarray(update), tol=1e-10) == 2


@pytest.mark.parametrize("rank", [0, -1, 1.5, True, "half"])
def test_bad_rank_is_named(rank):
  with pytest.raises(ValueError, match="rank"):
    jon.dion(0.1, rank=rank)


def test_a_momentum_of_lower_rank_than_r_steps_only_along_its_own_directions():
  """A float32 gradient of rank 2 at rank 3 (a softmax layer's gradient loses a rank): the
  QR's third column is rounding noise, and must not become a unit column of the step."""
  u, v = RNG.normal(size=(5, 2)), RNG.normal(size=(2, 3))
  g = jnp.asarray(u @ v, jnp.float32)
  opt = jon.scale_by_dion(1.0, mu=0.9)
  update, state = opt.update(g, opt.init(g))
  s = np.linalg.svd(np.asarray(update, np.float64), compute_uv=False)
  assert s[1] > 0.1 and s[2] < 1e-5 * s[0]
  np.testing.assert_allclose(state.mu, 0.9 * g, rtol=1e-4, atol=1e-5)
