"""Muon: the singular values the Newton-Schulz coefficients promise, and the leaves Adam keeps."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_notes as jon
from jaxopt_notes.optimizers import _muon

COEFFS = (3.4445, -4.7750, 2.0315)


def _quintic(s, steps=5):
  for _ in range(steps):
    s = COEFFS[0] * s + COEFFS[1] * s**3 + COEFFS[2] * s**5
  return s


def test_quintic_map_keeps_every_unit_scaled_singular_value_in_its_band():
  """f^5 maps [0.01, 1] into [0.68, 1.14]: the band the coefficients are chosen for."""
  image = _quintic(np.linspace(0.01, 1.0, 100_001))
  assert 0.68 < image.min() < 0.69 and 1.13 < image.max() < 1.14


@pytest.mark.parametrize("shape", [(256, 128), (128, 256)])
def test_orthogonalised_update_has_its_singular_values_in_the_band(shape):
  g = jnp.asarray(np.random.default_rng(0).normal(size=shape))
  opt = jon.scale_by_muon(nesterov=False)  # one step: the debiased momentum is g itself
  out, _ = opt.update(g, opt.init(g))
  before = np.linalg.svd(np.asarray(g), compute_uv=False)
  after = np.linalg.svd(np.asarray(out), compute_uv=False)
  assert after.min() >= 0.68 and after.max() <= 1.14
  # the iteration acts on each singular value alone: s -> f^5(s / ||g||_F)
  expected = np.sort(_quintic(before / (np.linalg.norm(before) + 1e-8)))
  np.testing.assert_allclose(np.sort(after), expected, rtol=1e-9)
  # and keeps the singular vectors: out = U f(S) V^T
  u, _, vt = np.linalg.svd(np.asarray(g), full_matrices=False)
  np.testing.assert_allclose(
    out, u @ np.diag(_quintic(before / np.linalg.norm(before))) @ vt, atol=1e-9
  )


def _steps(opt, params, grads):
  state, outs = opt.init(params), []
  for g in grads:
    u, state = jax.jit(opt.update)(g, state, params)
    params = jon.apply_updates(params, u)
    outs.append(u)
  return outs


RNG = np.random.default_rng(1)
PARAMS = {
  "w": jnp.asarray(RNG.normal(size=(6, 4))),
  "b": jnp.asarray(RNG.normal(size=4)),
  "s": jnp.asarray(0.5),
}
GRADS = [jax.tree.map(lambda x: jnp.asarray(RNG.normal(size=x.shape)), PARAMS) for _ in range(4)]


@pytest.mark.parametrize("nesterov", [True, False])
def test_non_matrix_leaves_follow_adamw_exactly(nesterov):
  ours = _steps(
    jon.muon(0.01, adam_b1=0.8, adam_weight_decay=0.1, nesterov=nesterov), PARAMS, GRADS
  )
  adam = _steps(
    jon.adamw(0.01, b1=0.8, weight_decay=0.1, nesterov=nesterov),
    {k: PARAMS[k] for k in "bs"},
    [{k: g[k] for k in "bs"} for g in GRADS],
  )
  for u, e in zip(ours, adam):
    chex.assert_trees_all_equal({k: u[k] for k in "bs"}, e)


def test_stacked_weights_are_orthogonalised_matrix_by_matrix():
  stacked = jnp.asarray(RNG.normal(size=(3, 5, 4)))  # three 5 x 4 layers
  spec = jon.MuonDimensionNumbers(reduction_axis=1, output_axis=2)
  opt = jon.scale_by_muon(weight_dimension_numbers=spec)
  out, _ = opt.update(stacked, opt.init(stacked))
  alone = jon.scale_by_muon()
  for i in range(3):
    one, _ = alone.update(stacked[i], alone.init(stacked[i]))
    np.testing.assert_allclose(out[i], one, rtol=1e-12)


def test_a_conv_kernel_is_one_matrix_of_its_input_axes_by_its_output_axis():
  kernel = jnp.asarray(RNG.normal(size=(3, 3, 2, 5)))  # h, w, in, out
  spec = jon.MuonDimensionNumbers(reduction_axis=(0, 1, 2), output_axis=3)
  opt = jon.scale_by_muon(weight_dimension_numbers=spec)
  out, _ = opt.update(kernel, opt.init(kernel))
  flat = jon.scale_by_muon()
  expected, _ = flat.update(kernel.reshape(18, 5), flat.init(kernel.reshape(18, 5)))
  np.testing.assert_allclose(out.reshape(18, 5), expected, rtol=1e-12)


def test_explicit_dimension_numbers_send_none_leaves_to_adamw():
  specs = {"w": jon.MuonDimensionNumbers(), "b": None, "s": None}
  explicit = _steps(jon.muon(0.01, muon_weight_dimension_numbers=specs), PARAMS, GRADS)
  chex.assert_trees_all_close(explicit, _steps(jon.muon(0.01), PARAMS, GRADS), rtol=1e-14)


def test_a_vector_can_be_a_one_row_matrix():
  """optax asks for rank >= 2; an empty reduction axis makes a vector a 1 x n matrix."""
  v = {"b": PARAMS["b"]}
  spec = {"b": jon.MuonDimensionNumbers(reduction_axis=(), output_axis=0)}
  opt = jon.muon(1.0, nesterov=False, muon_weight_dimension_numbers=spec)
  u, _ = opt.update({"b": GRADS[0]["b"]}, opt.init(v), v)
  g = np.asarray(GRADS[0]["b"])
  # a 1 x n matrix has one singular value, 1 after scaling: f^5(1) times the unit direction,
  # then the width factor sqrt(n / 1)
  expected = -_quintic(np.linalg.norm(g) / (np.linalg.norm(g) + 1e-8)) * g / np.linalg.norm(g)
  np.testing.assert_allclose(u["b"], 2.0 * expected, rtol=1e-10)


def test_traced_step_count_gives_the_concrete_ones():
  g = jnp.asarray(RNG.normal(size=(4, 6)))

  def run(steps):
    opt = jon.scale_by_muon(ns_steps=steps)
    return opt.update(g, opt.init(g))[0]

  swept = jax.jit(jax.vmap(run))(jnp.array([5, 2]))
  for i, steps in enumerate((5, 2)):
    np.testing.assert_allclose(swept[i], run(steps), rtol=1e-12)


def test_a_coefficient_table_runs_one_row_per_step():
  g = jnp.asarray(RNG.normal(size=(4, 6)))
  table = ((3.0, -3.2, 1.2), (2.0, -1.5, 0.5), (1.5, -0.5, 0.0))
  opt = jon.scale_by_muon(ns_coeffs=table, nesterov=False)
  out, _ = opt.update(g, opt.init(g))
  x = np.asarray(g) / (np.linalg.norm(g) + 1e-8)
  for a, b, c in table:
    gram = x @ x.T
    x = a * x + (b * gram + c * gram @ gram) @ x
  np.testing.assert_allclose(out, x, rtol=1e-10)


@pytest.mark.parametrize(
  "kwargs,name",
  [
    ({"beta": 1.5}, "beta"),
    ({"ns_steps": 0}, "ns_steps"),
    ({"preconditioning": "qr"}, "preconditioning"),
    ({"ns_coeffs": (1.0, 2.0)}, "ns_coeffs"),
    ({"ns_coeffs": "fast"}, "ns_coeffs"),
    ({"adam_b2": 2.0}, "adam_b2"),
    ({"consistent_rms": -1.0}, "consistent_rms"),
  ],
)
def test_invalid_arguments_are_named(kwargs, name):
  with pytest.raises(ValueError, match=name):
    jon.muon(0.1, **kwargs)


# --- Newton-Schulz presets: Polar Express (Amsel, Persson, Musco & Gower, 2025) ---


def _compose(table, x):
  for a, b, c in table:
    x = a * x + b * x**3 + c * x**5
  return x


@pytest.mark.parametrize(
  "name,kwargs",
  [
    ("polar_express", {}),
    ("polar_express_published", {"cushion": 0.02407327424182761, "safe_bounds": False}),
  ],
)
def test_polar_express_presets_are_the_construction(name, kwargs):
  table = jon.polar_express_coefficients(5, **kwargs)
  np.testing.assert_allclose(_muon._PRESETS[name], table, rtol=1e-14)


def test_the_published_construction_gives_the_authors_table():
  """The first five rows of the table printed in the paper (its Implementation 1), before the
  1.01 safety its code applies to each."""
  printed = np.array(
    [
      (8.28721201814563, -23.595886519098837, 17.300387312530933),
      (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
      (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
      (3.3184196573706015, -2.488488024314874, 0.51004894012372),
      (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
    ]
  )
  ours = jon.polar_express_coefficients(
    5, cushion=_muon.PUBLISHED_CUSHION, safety=1.0, safe_bounds=False
  )
  np.testing.assert_allclose(ours, printed, rtol=1e-12)
  np.testing.assert_allclose(
    _muon._PRESETS["polar_express_published"],
    printed / np.array([1.01, 1.01**3, 1.01**5]),
    rtol=1e-12,
  )


@pytest.mark.parametrize("lower,upper", [(0.1, 1.0), (0.3, 1.7), (1e-3, 1.0)])
def test_minimax_quintic_equioscillates_and_no_nearby_quintic_does_better(lower, upper):
  coeffs = np.array(_muon.minimax_quintic(lower, upper))
  x = np.linspace(lower, upper, 20_001)
  err = 1 - _compose([coeffs], x)
  worst = np.abs(err).max()
  # 1 - p reaches +E, -E, +E, -E: at both ends and at two interior extremes
  assert err[0] == pytest.approx(worst, rel=1e-9) and err[-1] == pytest.approx(-worst, rel=1e-9)
  assert err.min() == pytest.approx(-worst, rel=1e-6) and err.max() == pytest.approx(worst)
  rng = np.random.default_rng(0)
  for _ in range(20):
    other = coeffs * (1 + 1e-4 * rng.normal(size=3))
    assert np.abs(1 - _compose([other], x)).max() > worst


def test_polar_express_brings_singular_values_closer_to_one_than_the_standard_steps():
  s = np.geomspace(1e-3, 1.0, 2001)
  standard = np.abs(1 - _compose([COEFFS] * 5, s)).max()
  for name in ("polar_express", "polar_express_published"):
    assert np.abs(1 - _compose(_muon._PRESETS[name], s)).max() < 0.5 * standard
  # and so does the optimizer: a 12 x 8 momentum whose singular values span [1e-3, 1]
  u, _ = np.linalg.qr(RNG.normal(size=(12, 8)))
  v, _ = np.linalg.qr(RNG.normal(size=(8, 8)))
  s = np.geomspace(1e-3, 1.0, 8)
  g = jnp.asarray(u @ np.diag(s) @ v.T)
  opt = jon.scale_by_muon(ns_coeffs="polar_express", nesterov=False, preconditioning="spectral")
  out = np.linalg.svd(np.asarray(opt.update(g, opt.init(g))[0]), compute_uv=False)
  expected = _compose(_muon._PRESETS["polar_express"], s / (1 + 1e-8))
  np.testing.assert_allclose(np.sort(out), np.sort(expected), rtol=1e-9)
  assert np.abs(1 - out).max() < 0.5 * np.abs(1 - _compose([COEFFS] * 5, s)).max()


@pytest.mark.parametrize("make", [jon.scale_by_muon, jon.scale_by_normuon, jon.scale_by_adamuon])
def test_every_preset_reaches_every_muon(make):
  g = jnp.asarray(RNG.normal(size=(4, 3)))
  by_name = make(ns_coeffs="polar_express")
  table = make(ns_coeffs=np.asarray(_muon._PRESETS["polar_express"]))
  np.testing.assert_array_equal(
    by_name.update(g, by_name.init(g))[0], table.update(g, table.init(g))[0]
  )


# --- conv kernels: (h, w, in, out) leaves ---


def test_conv_rules_match_hand_reshaped_matrices_and_are_orthogonal():
  """'flatten' is Muon on the (h w in) x out matrix, 'per_tap' Muon on each tap's in x out."""
  kernel = {"k": jnp.asarray(RNG.normal(size=(2, 2, 3, 4)))}
  grads = {"k": jnp.asarray(RNG.normal(size=(2, 2, 3, 4)))}
  flat = jon.muon(0.1, muon_weight_dimension_numbers=jon.muon_conv_dimension_numbers())
  out = flat.update(grads, flat.init(kernel), kernel)[0]["k"]
  by_hand = jon.muon(0.1)  # 2-D Muon, shape factor sqrt(max(1, 4 / 12)) = 1
  matrix = {"k": grads["k"].reshape(12, 4)}
  expected = by_hand.update(matrix, by_hand.init(matrix), matrix)[0]["k"]
  np.testing.assert_allclose(out.reshape(12, 4), expected, rtol=1e-12)
  s = np.linalg.svd(np.asarray(out.reshape(12, 4)) / 0.1, compute_uv=False)
  assert s.min() >= 0.68 and s.max() <= 1.14  # the Newton-Schulz band: orthogonal columns

  taps = jon.muon(0.1, muon_weight_dimension_numbers=jon.muon_conv_dimension_numbers("per_tap"))
  out = taps.update(grads, taps.init(kernel), kernel)[0]["k"]
  one = {"k": grads["k"][0, 1]}
  tap = by_hand.update(one, by_hand.init(one), one)[0]["k"]  # sqrt(max(1, 4 / 3)) applied
  np.testing.assert_allclose(out[0, 1], tap, rtol=1e-12)


def test_conv_rule_is_named_when_unknown():
  with pytest.raises(ValueError, match="rule"):
    jon.muon_conv_dimension_numbers("per_channel")


def test_a_flax_conv_net_trains_with_muon_on_its_kernels():
  nn = pytest.importorskip("flax.linen")

  class Net(nn.Module):
    @nn.compact
    def __call__(self, x):
      x = nn.relu(nn.Conv(4, (3, 3), param_dtype=jnp.float64)(x))
      return nn.Dense(1, param_dtype=jnp.float64)(x.mean(axis=(1, 2)))

  rng = np.random.default_rng(7)  # its own draws: the loss ratio below is this problem's
  x = jnp.asarray(rng.normal(size=(8, 5, 5, 2)))
  y = jnp.asarray(rng.normal(size=(8, 1)))
  net = Net()
  params = net.init(jax.random.PRNGKey(0), x)
  specs = jon.muon_conv_dimension_numbers()(params)
  assert specs["params"]["Conv_0"]["kernel"].reduction_axis == (0, 1, 2)
  assert specs["params"]["Conv_0"]["bias"] is None
  opt = jon.muon(0.02, muon_weight_dimension_numbers=jon.muon_conv_dimension_numbers())
  loss = lambda p: jnp.mean((net.apply(p, x) - y) ** 2)  # noqa: E731

  @jax.jit
  def step(p, state):
    value, g = jax.value_and_grad(loss)(p)
    u, state = opt.update(g, state, p)
    return jon.apply_updates(p, u), state, value, u

  state, values = opt.init(params), []
  for _ in range(10):
    params, state, value, u = step(params, state)
    values.append(float(value))
  assert values[-1] < 0.8 * values[0]
