"""8- and 4-bit optimizer state: the blockwise quantizer and the `low_bit_state` wrapper."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_notes as jon
from jaxopt_notes.transforms._low_bit import _MAPS
from registry import REGISTRY

BITS = pytest.mark.parametrize("bits", [8, 4])


def _bound(bits, signed):
  """(relative error bound where the map is a float, below that the linear step, both as
  fractions of the value and of the block's scale)."""
  fmt = _MAPS[bits, signed]
  return (
    2.0 ** -(fmt.mantissa + 1),
    2.0 ** (1 - fmt.octaves),
    2.0 ** (1 - fmt.octaves - fmt.mantissa),
  )


def _wide_range(seed, shape, signed, decades=(-12, 3)):
  rng = np.random.default_rng(seed)
  x = 10.0 ** rng.uniform(*decades, size=shape)
  return x * rng.choice([-1.0, 1.0], size=shape) if signed else x


def _check_block(x, q, bits, dtype=jnp.float64):
  """Each element of one block (float64 numpy) against the bound of the module docstring,
  plus the rounding of the result to ``dtype``."""
  finite = np.isfinite(x)
  scale = np.max(np.abs(x[finite]), initial=0.0)
  signed = bool(np.any(x[finite] < 0))
  rel, floor, step = _bound(bits, signed)
  eps = float(jnp.finfo(dtype).eps)
  a = np.abs(x[finite])
  err = np.abs(q[finite] - x[finite])
  above = a >= floor * scale
  np.testing.assert_array_less(err[above], (rel + eps) * a[above] * (1 + 1e-5) + 1e-300)
  if signed:  # linear steps below: rounded to the nearer
    assert np.all(err[~above] <= (step / 2 + eps) * scale * (1 + 1e-5))
  else:  # the same, but a positive value is never rounded to zero
    assert np.all(err[~above] <= (step + eps) * scale * (1 + 1e-5))
    assert np.all(q[finite][a > 0] > 0)
  assert np.all(q[finite][a == 0] == 0)
  assert np.all(np.isnan(q[~finite]))


@BITS
@pytest.mark.parametrize("signed", [True, False])
def test_every_code_reads_back_as_its_level(bits, signed):
  """Each code against the levels that define the map (numpy, float64): linear steps
  ``c 2**(1 - F - m)`` below ``2**m``, then ``2**((c >> m) - F) (1 + (c mod 2**m) / 2**m)``,
  the signed map's top bit a sign, and the last code NaN."""
  fmt = _MAPS[bits, signed]
  mag = np.arange(2 ** (bits - 1) if signed else 2**bits)
  m, f = fmt.mantissa, fmt.octaves
  levels = np.where(
    mag < 2**m,
    mag * 2.0 ** (1 - f - m),
    2.0 ** ((mag >> m) - f) * (1 + (mag & (2**m - 1)) / 2**m),
  )
  expected = np.concatenate([levels, -levels]) if signed else levels
  expected[-1] = np.nan
  codes = np.arange(2**bits, dtype=np.uint8)
  if bits == 4:
    codes = codes[0::2] | (codes[1::2] << 4)
  q = jon.QuantizedArray(
    codes=jnp.asarray(codes)[None], scale=jnp.ones(1, jnp.float64), signed=jnp.array([signed])
  )
  np.testing.assert_array_equal(jon.dequantize_blockwise(q, (2**bits,), bits), expected)


@BITS
@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64, jnp.bfloat16])
def test_round_trip_error_is_bounded_in_every_block(bits, signed, dtype):
  block = 16
  x = _wide_range(bits + signed, (3, 5 * block - 3), signed)  # a padded last block
  x[0, :block] = 0.0  # an all-zero block
  x[1, 3] = 0.0
  x = np.asarray(jnp.asarray(x, dtype).astype(jnp.float64))  # representable in dtype
  q = jon.quantize_blockwise(jnp.asarray(x, dtype), bits, block)
  assert q.codes.dtype == jnp.uint8 and q.scale.dtype == dtype
  # 77 is no multiple of 16: the rows merge into one, in blocks of 16 and a padded one
  assert q.codes.shape == (15, block if bits == 8 else block // 2)
  back = jon.dequantize_blockwise(q, x.shape, bits)
  assert back.dtype == dtype and back.shape == x.shape
  back = np.asarray(back.astype(jnp.float64))
  padded = np.pad(x.ravel(), (0, 9)).reshape(15, block)
  back = np.pad(back.ravel(), (0, 9)).reshape(15, block)
  for i in range(15):
    _check_block(padded[i], back[i], bits, dtype)
  assert np.all(back[0] == 0)


def test_blocks_run_along_the_last_axis_when_it_holds_whole_blocks():
  q = jon.quantize_blockwise(jnp.ones((4, 3, 32)), 4, 16)
  assert q.codes.shape == (4, 3, 2, 8) and q.scale.shape == (4, 3, 2)
  q = jon.quantize_blockwise(jnp.ones((4, 8, 2)), 8, 16)  # rows of 8 x 2 = 16
  assert q.codes.shape == (4, 1, 16)


@BITS
def test_huge_and_tiny_values(bits):
  x = jnp.array([1e300, -3e299, 1e-300, 5e-310, 2.0, -1e-200, 0.0, 1e-320])
  back = jon.dequantize_blockwise(jon.quantize_blockwise(x, bits, 4), x.shape, bits)
  for i in range(2):
    _check_block(np.asarray(x[4 * i : 4 * i + 4]), np.asarray(back[4 * i : 4 * i + 4]), bits)
  assert np.all(np.isfinite(back))
  # float32 near its largest value: the scale stays finite
  big = jnp.array([3e38, -1e38, 1.0, 0.0], jnp.float32)
  back = jon.dequantize_blockwise(jon.quantize_blockwise(big, bits, 4), big.shape, bits)
  assert back[0] == big[0] and np.all(np.isfinite(back))


@BITS
def test_non_finite_values_are_neither_hidden_nor_spread(bits):
  x = _wide_range(0, (4, 8), True, (-3, 0))
  x[0, 2], x[1, 5], x[2, 0], x[2, 7] = np.nan, np.inf, -np.inf, np.nan
  q = jon.quantize_blockwise(jnp.asarray(x), bits, 8)
  back = np.asarray(jon.dequantize_blockwise(q, x.shape, bits))
  np.testing.assert_array_equal(np.isnan(back), ~np.isfinite(x))
  for i in range(4):
    _check_block(x[i], back[i], bits)
  # the finite values of a block with a NaN come back as in the same block without it
  clean = x.copy()
  clean[~np.isfinite(x)] = 0.0
  same = np.asarray(
    jon.dequantize_blockwise(jon.quantize_blockwise(jnp.asarray(clean), bits, 8), x.shape, bits)
  )
  np.testing.assert_array_equal(back[np.isfinite(x)], same[np.isfinite(x)])


@BITS
def test_stochastic_rounding_is_unbiased(bits):
  """Each draw lands on one of the two levels around the element, and the mean over
  seeds is the element."""
  fmt = _MAPS[bits, False]
  x = 2.0 ** np.random.default_rng(bits).uniform(1 - fmt.octaves, 0, (1, 64))
  x[0, 0] = 1.0
  quantize = jax.jit(jax.vmap(lambda seed: jon.quantize_blockwise(jnp.asarray(x), bits, 64, seed)))
  draws = np.asarray(
    jax.vmap(lambda q: jon.dequantize_blockwise(q, x.shape, bits))(quantize(jnp.arange(512)))
  )[:, 0]
  rel = 2.0 * _bound(bits, False)[0]  # one level
  assert np.all(np.abs(draws - x) <= rel * x * (1 + 1e-6))
  nearest = np.asarray(
    jon.dequantize_blockwise(jon.quantize_blockwise(jnp.asarray(x), bits, 64), x.shape, bits)
  )
  assert np.mean(np.abs(nearest - x) / x) > 0.2 * rel / 2  # rounding to nearest errs...
  mean = np.mean(draws, axis=0)
  assert np.all(np.abs(mean - x) <= 4 * rel / np.sqrt(512) * x)  # ...the mean of draws does not
  assert abs(np.mean((mean - x) / x)) < 0.3 * rel / np.sqrt(512)


def test_bad_arguments_are_named():
  with pytest.raises(ValueError, match="bits"):
    jon.low_bit_state(jon.adam(0.1), bits=2)
  with pytest.raises(ValueError, match="block_size"):
    jon.low_bit_state(jon.adam(0.1), bits=4, block_size=7)
  with pytest.raises(ValueError, match="min_size"):
    jon.low_bit_state(jon.adam(0.1), min_size=-1)
  with pytest.raises(ValueError, match="real float"):
    jon.quantize_blockwise(jnp.arange(4))


# The wrapper around every registry optimizer: tiny float32 params, blocks of 4, leaves
# of 8 elements and more quantized.
PARAMS = {
  "w": jnp.linspace(-1.0, 1.0, 24, dtype=jnp.float32).reshape(3, 8),
  "b": jnp.linspace(0.5, -0.5, 8, dtype=jnp.float32),
  "s": jnp.array(0.3, jnp.float32),
}


def _loss(params):
  x = jnp.cos(jnp.arange(16.0, dtype=jnp.float32)).reshape(2, 8)
  h = jnp.tanh(params["w"] @ x.T)
  return jnp.sum((h - 0.3) ** 2) + jnp.sum(params["b"] ** 2) + params["s"] ** 2


def _wrapped(entry, bits):
  return jon.low_bit_state(entry.make(0.01), bits=bits, block_size=4, min_size=8)


def _step(opt):
  def step(params, state):
    loss, grads = jax.value_and_grad(_loss)(params)
    updates, state = opt.update(grads, state, params, value=loss)
    return jon.apply_updates(params, updates), state

  return step


def _shapes(tree):
  return jax.tree.map(lambda x: (x.shape, x.dtype), tree)


@pytest.mark.parametrize("entry", REGISTRY, ids=repr)
def test_every_optimizer_keeps_its_low_bit_state_shapes(entry):
  """Traced only (no compile): the wrapped state's leaves keep their shapes and dtypes."""
  bits = 4 if len(entry.name) % 2 else 8  # both widths, half the traces
  opt = _wrapped(entry, bits)
  state = opt.init(PARAMS)
  quantized = [
    x
    for x in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, jon.QuantizedArray))
    if isinstance(x, jon.QuantizedArray)
  ]
  assert bool(quantized) == entry.param_shaped_state
  step = _step(opt)
  after = jax.eval_shape(step, PARAMS, state)
  assert _shapes(after) == _shapes((PARAMS, state))
  assert _shapes(jax.eval_shape(step, *after)) == _shapes((PARAMS, state))


# the main optimizers run, jitted, for a few steps
RUN = ["adamw", "lion", "adafactor_momentum", "soap"]


@pytest.mark.parametrize("name", RUN)
def test_low_bit_state_runs_finite(name):
  entry = {e.name: e for e in REGISTRY}[name]
  opt = _wrapped(entry, 4 if name in ("adamw", "soap") else 8)
  state = opt.init(PARAMS)
  step = jax.jit(_step(opt))
  params = PARAMS
  for _ in range(3):
    params, state = step(params, state)
  for leaf in jax.tree.leaves((params, state)):
    if jnp.issubdtype(leaf.dtype, jnp.floating):
      assert jnp.all(jnp.isfinite(leaf)), name
  assert _loss(params) < _loss(PARAMS)


def test_jit_equals_eager():
  opt = _wrapped({e.name: e for e in REGISTRY}["adam"], 8)
  step = _step(opt)
  state = opt.init(PARAMS)
  eager = step(PARAMS, state)
  eager = step(*eager)
  jitted = jax.jit(step)
  out = jitted(*jitted(PARAMS, state))
  chex.assert_trees_all_close(eager, out, rtol=1e-6, atol=1e-7)


def _quadratic_run(opt, steps):
  """Loss of ``opt`` after ``steps`` on a quadratic whose curvatures span four decades."""
  curvature = jnp.asarray(10.0 ** np.linspace(-3, 1, 512), jnp.float32)
  loss = lambda p: 0.5 * jnp.sum(curvature * (p - 1.0) ** 2)

  def body(carry, _):
    p, s = carry
    u, s = opt.update(jax.grad(loss)(p), s, p)
    return (jon.apply_updates(p, u), s), None

  p = jnp.zeros(512, jnp.float32)
  return float(loss(jax.jit(lambda p: jax.lax.scan(body, (p, opt.init(p)), length=steps)[0][0])(p)))


@BITS
def test_adam_with_low_bit_state_follows_adam(bits):
  """Adam with its moments in 8 (4) bits converges as Adam does, on a quadratic whose
  gradients span four decades in one block."""
  full = _quadratic_run(jon.adam(1e-2), 150)
  low = _quadratic_run(jon.low_bit_state(jon.adam(1e-2), bits=bits, min_size=1), 150)
  assert full < 0.01 * 274.3
  assert low < (1.15 if bits == 8 else 1.3) * full, (full, low)


@pytest.mark.parametrize("stochastic", [True, False])
def test_second_moment_follows_a_drifting_exact_one(stochastic):
  """Adam's second moment in 8 bits against the exact one, its gradients' scales drifting
  up or down by up to e^2 over 300 steps: rounded to nearest, the increments of 0.1% a
  step are lost and the stored moment lags (25% too high on average); rounded
  stochastically, it follows."""
  n, steps = 512, 300
  rng = np.random.default_rng(0)
  sigma = jnp.asarray(10 ** rng.uniform(-2, 0, n), jnp.float32)
  drift = jnp.asarray(rng.uniform(-2, 2, n), jnp.float32)
  exact = jon.scale_by_adam()
  low = jon.low_bit_state(jon.scale_by_adam(), bits=8, min_size=1, stochastic=stochastic)

  def body(carry, t):
    g = (
      sigma
      * jnp.exp(drift * t / steps)
      * jax.random.normal(jax.random.fold_in(jax.random.key(0), t), (n,))
    )
    return (exact.update(g, carry[0])[1], low.update(g, carry[1])[1]), None

  x = jnp.zeros(n)
  run = jax.jit(lambda: jax.lax.scan(body, (exact.init(x), low.init(x)), jnp.arange(steps))[0])
  full, quantized = run()
  log_ratio = np.log(
    np.asarray(jon.dequantize_blockwise(quantized.inner_state.nu, (n,), 8) / full.nu)
  )
  if stochastic:
    assert abs(np.mean(log_ratio)) < 0.05 and np.mean(np.abs(log_ratio)) < 0.2
  else:
    assert np.mean(log_ratio) > 0.15


@pytest.mark.parametrize("via", ["flax", "orbax"])
def test_state_round_trips_bitwise(via, tmp_path):
  opt = jon.low_bit_state(jon.adamw(0.01), bits=4, block_size=4, min_size=8)
  step = jax.jit(_step(opt))
  params, state = step(PARAMS, opt.init(PARAMS))
  template = opt.init(PARAMS)
  if via == "flax":
    from flax import serialization

    restored = serialization.from_bytes(template, serialization.to_bytes(state))
  else:
    ocp = pytest.importorskip("orbax.checkpoint")
    with ocp.StandardCheckpointer() as saver:
      saver.save(tmp_path / "state", state)
    with ocp.StandardCheckpointer() as loader:
      restored = loader.restore(tmp_path / "state", template)
  chex.assert_trees_all_equal_structs(restored, state)
  chex.assert_trees_all_equal_shapes_and_dtypes(restored, state)
  chex.assert_trees_all_equal(restored, state)
  chex.assert_trees_all_equal(step(params, restored), step(params, state))


def test_vmap_over_stacked_params_equals_each_run():
  opt = jon.low_bit_state(jon.adam(0.01), bits=8, block_size=4, min_size=8)

  def run(params):
    return _step(opt)(params, opt.init(params))

  stacked = jax.tree.map(lambda x: jnp.stack([x, 2 * x]), PARAMS)
  both = jax.jit(jax.vmap(run))(stacked)
  second = jax.jit(run)(jax.tree.map(lambda x: 2 * x, PARAMS))
  chex.assert_trees_all_close(jax.tree.map(lambda x: x[1], both), second, rtol=1e-6)


def test_bfloat16_moments_are_updated_in_float32():
  """With bfloat16 params Adam's second moment grows by about (1 - b2) g**2 a step, below
  half a unit in bfloat16's last place long before it reaches g**2: updated in bfloat16 it
  stalls (at 0.5 here); the state keeps float32 scales and the moment reaches 1 - b2**t."""
  params = jnp.zeros((16, 256), jnp.bfloat16)
  opt = jon.low_bit_state(jon.adam(1e-3), bits=8)
  grads = jnp.ones_like(params)

  def body(state, _):
    return opt.update(grads, state, params)[1], None

  state = jax.jit(lambda s: jax.lax.scan(body, s, None, length=1000)[0])(opt.init(params))
  nu = state.inner_state[0].nu
  assert nu.scale.dtype == jnp.float32
  v = jon.dequantize_blockwise(nu, params.shape, 8)
  np.testing.assert_allclose(np.asarray(v), 1 - 0.999**1000, rtol=1e-3)
