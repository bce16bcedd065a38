"""Adafactor and SM3: what their factored state costs, and the leaves they do not factor."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_notes as jon


def state_bytes(state) -> int:
  return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state))


def transformer_like(width=64, hidden=256, vocab=1000, layers=4, dtype=jnp.float32):
  """Embeddings, then per layer two matrices, their biases and two layer-norm scales."""
  params = {"embed": jnp.zeros((vocab, width), dtype)}
  for i in range(layers):
    params[f"layer{i}"] = {
      "up": jnp.zeros((width, hidden), dtype),
      "up_b": jnp.zeros(hidden, dtype),
      "down": jnp.zeros((hidden, width), dtype),
      "down_b": jnp.zeros(width, dtype),
      "ln1": jnp.ones(width, dtype),
      "ln2": jnp.ones(width, dtype),
    }
  return params


@pytest.mark.parametrize("n,m", [(256, 128), (128, 512), (1024, 256)])
def test_adafactor_state_of_a_matrix_grows_as_n_plus_m(n, m):
  params = {"w": jnp.zeros((n, m), jnp.float32)}
  state = jon.scale_by_factored_rms().init(params)
  # a row statistic per row, a column statistic per column, one placeholder, one counter
  assert state_bytes(state) == 4 * (n + m + 1 + 1)
  assert {state.v_row["w"].shape, state.v_col["w"].shape} == {(n,), (m,)}
  assert state_bytes(jon.adam(0.1).init(params)) > 2 * 4 * n * m


def test_adafactor_keeps_full_moments_below_min_dim_size_to_factor():
  params = {
    "w": jnp.ones((127, 300)),
    "b": jnp.ones(300),
    "s": jnp.array(1.0),
    "t": jnp.ones((2, 128, 130)),
  }
  state = jon.scale_by_factored_rms().init(params)
  assert state.v["w"].shape == (127, 300) and state.v_row["w"].shape == (1,)
  assert state.v["b"].shape == (300,) and state.v["s"].shape == ()
  # a 3-D leaf factors its two largest axes; the first is a batch axis
  assert state.v_row["t"].shape == (2, 128) and state.v_col["t"].shape == (2, 130)
  assert state.v["t"].shape == (1,)
  unfactored = jon.scale_by_factored_rms(factored=False).init(params)
  assert unfactored.v["t"].shape == (2, 128, 130)


def test_adafactor_unfactored_path_is_rmsprop_with_a_rising_decay():
  """Below the size to factor, the scaling is g / sqrt(v) with v an EMA of g^2 + eps."""
  g = jnp.array([0.3, -2.0, 1e-3])
  tx = jon.scale_by_factored_rms(decay_rate=0.8, epsilon=1e-30)
  state = tx.init(g)
  v = np.zeros(3)
  for t in range(1, 4):
    u, state = tx.update(g * t, state, g)
    beta = 1 - t**-0.8
    v = beta * v + (1 - beta) * (np.asarray(g) * t) ** 2
    np.testing.assert_allclose(u, np.asarray(g) * t / np.sqrt(v), rtol=1e-12)


def test_adafactor_state_bytes_on_a_transformer_like_tree():
  """The figures quoted in the docs (float32 params, 196,864 of them)."""
  params = transformer_like()
  sizes = {
    "params": state_bytes(params),
    "adam": state_bytes(jon.adam(1e-3).init(params)),
    "adafactor": state_bytes(jon.adafactor(1e-3).init(params)),
    "adafactor_64": state_bytes(jon.adafactor(1e-3, min_dim_size_to_factor=64).init(params)),
    "optax_adafactor_64": state_bytes(
      optax.adafactor(1e-3, min_dim_size_to_factor=64).init(params)
    ),
  }
  print(sizes)
  assert sizes["adam"] == 2 * sizes["params"] + 4
  # the default (128) factors no leaf of this narrow model: every matrix has a side of 64
  assert sizes["adafactor"] > sizes["params"]
  # factoring from 64 keeps a few percent of the params' size
  assert sizes["adafactor_64"] < 0.05 * sizes["params"]
  assert sizes["adafactor_64"] == sizes["optax_adafactor_64"]


def test_sm3_state_of_a_matrix_grows_as_n_plus_m_and_scalars_work():
  params = {"w": jnp.zeros((300, 200)), "s": jnp.array(2.0)}
  opt = jon.sm3(0.1)
  state = opt.init(params)
  assert [a.shape for a in state[0].mu["w"]] == [(300,), (200,)]
  assert [a.shape for a in state[0].mu["s"]] == [()]
  updates, state = jax.jit(opt.update)({"w": jnp.ones((300, 200)), "s": jnp.array(0.5)}, state)
  np.testing.assert_allclose(updates["s"], -0.1 * 0.1 * 0.5 / np.sqrt(0.25 + 1e-8), rtol=1e-12)
  theirs = optax.sm3(0.1)
  with pytest.raises(IndexError):  # optax's sm3 fails on the same scalar
    theirs.update({"s": jnp.array(0.5)}, theirs.init({"s": jnp.array(2.0)}))
