"""GaLore and DP-SGD (jaxopt_notes.contrib) against optax and against their definitions."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_notes as jon

RNG = np.random.default_rng(7)
PARAMS = {
  "w": RNG.normal(size=(6, 4)),
  "v": RNG.normal(size=(3, 5)),
  "b": RNG.normal(size=4),
  "k": RNG.normal(size=(2, 3, 4)),
}


def _loss(p):
  return (
    jnp.sum(jnp.sin(p["w"]) ** 2)
    + 0.3 * jnp.sum(p["v"] ** 2)
    + jnp.sum(p["b"] ** 2)
    + jnp.sum(jnp.cos(p["k"]))
  )


def _run(opt, params, steps=7):
  state = opt.init(params)
  step = jax.jit(opt.update)
  for _ in range(steps):
    updates, state = step(jax.grad(_loss)(params), state, params)
    params = jax.tree.map(jnp.add, params, updates)
  return params, state


# (id, our kwargs, optax's kwargs); optax computes the SVD in float32, so the comparison
# runs in float32 (ours keeps float64 gradients in float64: tests/test_references.py)
GALORE_CASES = [
  ("low_rank", dict(rank=2, update_proj_gap=3), None),
  (
    "decay_masked",
    dict(
      rank=2,
      update_proj_gap=3,
      weight_decay=0.1,
      mask={"w": True, "v": False, "b": True, "k": False},
    ),
    None,
  ),
  (
    "lion_inside",
    dict(rank=3, base_optimizer=jon.scale_by_lion()),
    dict(rank=3, base_optimizer=optax.scale_by_lion()),
  ),
  ("wide_and_scaled", dict(rank=1, update_proj_gap=2, scale=0.25), None),
  (
    "three_axes",
    dict(
      rank=2,
      update_proj_gap=2,
      weight_dimension_numbers=lambda p: {
        "w": None,
        "v": jon.contrib.GaLoreDimensionNumbers(1, 0),
        "b": None,
        "k": jon.contrib.GaLoreDimensionNumbers((0, 2), 1),
      },
    ),
    dict(
      rank=2,
      update_proj_gap=2,
      weight_dimension_numbers=lambda p: {
        "w": None,
        "v": optax.contrib.GaLoreDimensionNumbers(1, 0),
        "b": None,
        "k": optax.contrib.GaLoreDimensionNumbers((0, 2), 1),
      },
    ),
  ),
]


@pytest.mark.parametrize(
  "ours,theirs", [c[1:] for c in GALORE_CASES], ids=[c[0] for c in GALORE_CASES]
)
def test_galore_equals_optax(ours, theirs):
  params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), PARAMS)
  got, state = _run(jon.contrib.galore(0.1, **ours), params)
  want, _ = _run(optax.contrib.galore(0.1, **(ours if theirs is None else theirs)), params)
  for path, g in jax.tree_util.tree_leaves_with_path(got):
    w = want
    for key in path:
      w = w[key.key]
    np.testing.assert_allclose(g, w, rtol=2e-6, atol=2e-6, err_msg=jax.tree_util.keystr(path))
  specs = ours.get("weight_dimension_numbers")
  if specs is None:
    assert state[0].projector["w"].shape == (6, min(ours["rank"], 4))
  else:
    assert state[0].projector["k"].shape == (8, 2)  # rows of (0, 2): 2 * 4


def test_galore_keeps_adam_moments_in_the_projected_shape_and_projects_onto_the_gradient():
  opt = jon.contrib.scale_by_galore(rank=2)
  params = jax.tree.map(jnp.asarray, PARAMS)
  state = opt.init(params)
  assert state.base_optimizer_state.mu["w"].shape == (2, 4)  # rows >= cols: P^T G
  assert state.base_optimizer_state.mu["v"].shape == (3, 2)  # rows < cols: G P
  assert state.base_optimizer_state.mu["k"].shape == (2, 3, 4)  # three axes: not projected
  grads = jax.grad(_loss)(params)
  _, state = opt.update(grads, state)
  p = state.projector["w"]
  np.testing.assert_allclose(p.T @ p, np.eye(2), atol=1e-12)
  # the projector spans the gradient's two leading left singular vectors
  u = np.linalg.svd(np.asarray(grads["w"]))[0][:, :2]
  np.testing.assert_allclose(p @ p.T, u @ u.T, atol=1e-10)


def test_galore_on_complex_params_projects_with_the_conjugate_transpose():
  """A rank-r projection of a complex matrix: P P^H is the projector onto the range of the
  leading left singular vectors, and the update lies in that range."""
  z = jnp.asarray(RNG.normal(size=(5, 3)) + 1j * RNG.normal(size=(5, 3)))
  opt = jon.contrib.scale_by_galore(rank=2, base_optimizer=jon.identity())
  updates, state = opt.update(z, opt.init(z))
  p = state.projector
  np.testing.assert_allclose(p.conj().T @ p, np.eye(2), atol=1e-12)
  np.testing.assert_allclose(updates, p @ (p.conj().T @ z), atol=1e-12)
  u, s, vh = np.linalg.svd(np.asarray(z), full_matrices=False)
  np.testing.assert_allclose(updates, (u[:, :2] * s[:2]) @ vh[:2], atol=1e-12)


def test_galore_rejects_bad_arguments_and_names_them():
  with pytest.raises(ValueError, match="rank"):
    jon.contrib.galore(0.1, rank=0)
  with pytest.raises(TypeError, match="rank"):
    jon.contrib.galore(0.1, rank=2.5)
  with pytest.raises(ValueError, match="update_proj_gap"):
    jon.contrib.galore(0.1, update_proj_gap=0)
  opt = jon.contrib.galore(0.1, weight_dimension_numbers=jon.contrib.GaLoreDimensionNumbers(0, 0))
  with pytest.raises(ValueError, match="disjoint|each named once"):
    opt.init({"w": jnp.ones((3, 2))})


def _per_example():
  return {"w": jnp.asarray(RNG.normal(size=(5, 3))), "b": jnp.asarray(RNG.normal(size=(5,)))}


@pytest.mark.parametrize("momentum,nesterov", [(None, False), (0.9, False), (0.9, True)])
def test_dpsgd_equals_optax(momentum, nesterov):
  grads = _per_example()
  ours = jon.contrib.dpsgd(0.1, 1.0, 0.5, seed=3, momentum=momentum, nesterov=nesterov)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # optax's `seed` spelling
    theirs = optax.contrib.dpsgd(0.1, 1.0, 0.5, seed=3, momentum=momentum, nesterov=nesterov)
  params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
  so, st = ours.init(params), theirs.init(params)
  step = jax.jit(ours.update)
  for t in range(3):
    uo, so = step(grads, so)
    ut, st = theirs.update(grads, st)
    for k in grads:
      np.testing.assert_allclose(uo[k], ut[k], rtol=1e-12, atol=1e-15, err_msg=f"{k}, step {t}")


def test_dp_aggregate_without_noise_is_the_mean_of_the_clipped_examples():
  grads = _per_example()
  flat = np.concatenate([np.asarray(grads["b"])[:, None], np.asarray(grads["w"])], axis=1)
  norms = np.linalg.norm(flat, axis=1)
  expected = (flat * np.minimum(1.0, 0.7 / norms)[:, None]).mean(axis=0)
  opt = jon.contrib.differentially_private_aggregate(0.7, 0.0, key=jax.random.key(1))
  out, _ = opt.update(grads, opt.init(None))
  np.testing.assert_allclose(np.concatenate([[out["b"]], out["w"]]), expected, rtol=1e-12)


def test_dp_aggregate_noise_has_the_promised_scale():
  """Zero gradients: the output is noise / B, of standard deviation sigma * C / B."""
  grads = {"w": jnp.zeros((4, 20000))}
  opt = jon.contrib.differentially_private_aggregate(2.0, 1.5, key=0)
  out, state = opt.update(grads, opt.init(None))
  assert abs(float(jnp.std(out["w"])) / (2.0 * 1.5 / 4) - 1) < 0.03
  again, _ = opt.update(grads, state)
  assert not np.allclose(out["w"], again["w"])  # the key advances


def test_dp_aggregate_takes_one_of_key_and_seed():
  with pytest.raises(ValueError, match="key.*seed"):
    jon.contrib.differentially_private_aggregate(1.0, 1.0, key=1, seed=2)
  with pytest.raises(ValueError, match="l2_norm_clip"):
    jon.contrib.differentially_private_aggregate(-1.0, 1.0)
