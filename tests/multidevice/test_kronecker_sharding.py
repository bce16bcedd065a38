"""Shampoo's and SOAP's factors spread over a 4x2 mesh of 8 simulated devices (Auto
and Explicit axes): per-device state bytes fall as 1/n on 2, 4 and 8 devices (PSGD-Kron's
too), so do the blocks whose roots each device takes, and the sharded step equals one
device's."""

import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxopt_notes as jon

SPEC = P("data", "model")
EPS = float(jnp.finfo(jnp.float64).eps)
MIN_GAP = 1e-4  # smallest eigengap of a factor, relative to its largest eigenvalue
# (optimizer, expected spec of each factor of a (16, 16) param sharded (data, model),
#  absolute tolerance on the params after 4 steps against one device)
CASES = {
  # Inverse roots are smooth in the statistics: only the order of the Gram
  # matrices' sums differs, as for a diagonal method.
  "shampoo_blocked": (
    lambda: jon.shampoo(0.05, block_size=4, start_preconditioning_step=1),
    [P("data", "model", None, None)] * 2,
    1e-10,
  ),
  "shampoo_whole": (
    lambda: jon.shampoo(0.05, start_preconditioning_step=1),
    [P(None, None, ("data", "model"), None)] * 2,
    1e-10,
  ),
  # SOAP runs Adam coordinate-wise in the eigenbasis, so its step moves with the
  # eigenvectors, which a rounding difference of the statistics moves by about
  # EPS / gap (Davis-Kahan); the gaps are checked to be >= MIN_GAP below, which
  # bounds that by 2e-12 per refresh; 1e-9 leaves room for the Adam ratio over
  # 4 steps. (A factor with a repeated eigenvalue has no defined basis within
  # its eigenspace, and rounding alone then changes SOAP's step by 1e-2.)
  "soap": (
    lambda: jon.soap(0.05, precondition_frequency=2),
    [P(("data", "model"), None)] * 2,
    1e3 * EPS / MIN_GAP,
  ),
}
KINDS = {"auto": AxisType.Auto, "explicit": AxisType.Explicit}


def _loss(w, x):
  return jnp.mean((jnp.tanh(x @ w) - 0.3) ** 2)


def _data():
  """A square param and a batch of full rank: full-rank factors with distinct eigenvalues."""
  rng = np.random.default_rng(0)
  return jnp.asarray(rng.normal(size=(16, 16))), jnp.asarray(rng.normal(size=(32, 16)))


def _stepper(opt):
  @jax.jit
  def step(w, state, x):
    g = jax.grad(_loss)(w, x)
    u, state = opt.update(g, state, w)
    return jon.apply_updates(w, u), state

  return step


def _train(opt, w, x, steps=4, step=None):
  """``opt``'s params, state and statistics after ``steps`` steps on ``x``; ``step`` (of
  `_stepper`), when given, is reused rather than compiled again."""
  step = step or _stepper(opt)
  state, stats = opt.init(w), []
  for _ in range(steps):
    w, state = step(w, state, x)
    stats += list(state[0].stats)
  return w, state, stats


def _factors(state):
  inner = state[0]
  return list(inner.stats) + list(inner.preconds if hasattr(inner, "preconds") else inner.bases)


def _relative_gap(s):
  w = np.linalg.eigvalsh(np.asarray(s).reshape((-1,) + s.shape[-2:]))
  return float(np.min(np.diff(w, axis=-1) / w[:, -1:]))


def _signs_fixed(state):
  """SOAP's state with each eigenvector's sign chosen so that its largest entry is
  positive, and the first moment flipped with it: the step does not depend on signs."""
  inner = state[0]
  if not hasattr(inner, "bases"):
    return state
  bases, mu = [], np.asarray(inner.mu)
  for i, q in enumerate(map(np.asarray, inner.bases)):
    top = np.take_along_axis(q, np.argmax(np.abs(q), axis=0)[None], axis=0)[0]
    sign = np.where(top < 0, -1.0, 1.0)
    bases.append(q * sign)
    mu = mu * sign.reshape([-1 if j == i else 1 for j in range(mu.ndim)])
  return (inner._replace(bases=tuple(bases), mu=mu),) + tuple(state[1:])


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("name", list(CASES))
def test_factors_follow_the_param_and_the_step_equals_one_device(name, kind):
  make, specs, atol = CASES[name]
  mesh = jax.make_mesh((4, 2), ("data", "model"), axis_types=(KINDS[kind],) * 2)
  w_host, x = _data()
  with jax.set_mesh(mesh):
    w = jax.device_put(w_host, NamedSharding(mesh, SPEC))
    opt = make()
    state0 = opt.init(w)
    for f, spec in zip(_factors(state0), specs * 2):
      assert f.sharding.is_equivalent_to(NamedSharding(mesh, spec), f.ndim), (f.sharding, spec)
    per_device = sum(leaf.addressable_shards[0].data.nbytes for leaf in jax.tree.leaves(state0))
    total = sum(leaf.nbytes for leaf in jax.tree.leaves(state0))
    assert per_device < total / 3, (per_device, total)
    new_w, state, _ = _train(opt, w, jax.device_put(x, NamedSharding(mesh, P())))
  for before, after in zip(jax.tree.leaves(state0), jax.tree.leaves(state)):
    assert after.sharding.is_equivalent_to(before.sharding, after.ndim), (
      before.sharding,
      after.sharding,
    )
  alone_w, alone_state, stats = _train(make(), w_host, x)
  assert min(_relative_gap(s) for s in stats) >= MIN_GAP  # what the tolerance assumes
  chex.assert_trees_all_close(new_w, alone_w, rtol=0, atol=atol)
  host = lambda tree: _signs_fixed(jax.device_get(tree))  # noqa: E731
  chex.assert_trees_all_close(host(state), host(alone_state), rtol=1e-6, atol=100 * atol)
  assert not np.allclose(new_w, w_host)


def test_a_repeated_eigenvalue_leaves_only_published_soaps_step_undefined():
  """With a rank-2 batch the factors have a 14-fold zero eigenvalue, and data
  perturbed by 1e-15 moves published SOAP's params by far more than rounding,
  on one device; SOAP's default numerics and Shampoo's roots stay put."""
  w, _ = _data()
  x = jnp.cos(jnp.arange(32 * 16, dtype=jnp.float64)).reshape(32, 16)  # rank 2
  nudged = x + 1e-15 * jnp.asarray(np.random.default_rng(1).normal(size=x.shape))
  published = lambda: jon.soap(0.05, precondition_frequency=2, published=True)  # noqa: E731
  for name, make, bound in (
    ("published soap", published, None),
    ("soap", CASES["soap"][0], 1e-10),
    ("shampoo", CASES["shampoo_whole"][0], 1e-10),
  ):
    opt = make()
    step = _stepper(opt)  # one compilation for both batches
    change = float(
      jnp.max(jnp.abs(_train(opt, w, x, step=step)[0] - _train(opt, w, nudged, step=step)[0]))
    )
    assert change > 1e-5 if bound is None else change < bound, (name, change)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("name", list(CASES))
def test_abstract_state_and_jitted_init_place_factors_as_eager_init(name, kind):
  """A checkpoint's restore target (and, with Explicit axes, ``jit(init)``) puts
  every factor where an eager ``init`` does: a restored state then runs the
  same program as the one that never stopped."""
  make, specs, _ = CASES[name]
  mesh = jax.make_mesh((4, 2), ("data", "model"), axis_types=(KINDS[kind],) * 2)
  params = {
    "w": jax.device_put(_data()[0], NamedSharding(mesh, SPEC)),
    "b": jax.device_put(jnp.zeros(16), NamedSharding(mesh, P("model"))),
  }
  opt = make()
  state = opt.init(params)
  targets = [jon.abstract_state(opt, params)]
  targets += [
    jon.abstract_state(
      opt,
      jax.tree.map(  # abstract params
        lambda p: jax.ShapeDtypeStruct(p.shape, p.dtype, sharding=p.sharding), params
      ),
    )
  ]
  if kind == "explicit":  # with Auto axes a trace cannot see the params' shardings
    with jax.set_mesh(mesh):
      targets.append(jax.jit(opt.init)(params))
  leaves = jax.tree_util.tree_flatten_with_path(state)[0]
  assert sum(x.ndim >= 2 and not x.sharding.is_fully_replicated for _, x in leaves) >= 4
  for target in targets:
    chex.assert_trees_all_equal_structs(state, target)
    for (path, x), t in zip(leaves, jax.tree.leaves(target), strict=True):
      where = jax.tree_util.keystr(path)
      assert (x.shape, x.dtype) == (t.shape, t.dtype), where
      assert t.sharding.is_equivalent_to(x.sharding, x.ndim), (where, x.sharding, t.sharding)


# A small model FSDP-sharded over one mesh axis: each weight split along one of its axes.
FSDP_SHAPES = {"w1": (32, 64), "w2": (64, 32), "b": (64,)}
FSDP_SPECS = {"w1": P(None, "fsdp"), "w2": P("fsdp", None), "b": P("fsdp")}
SPREAD = {
  "shampoo": lambda: jon.shampoo(0.05, start_preconditioning_step=1),
  # grids of 4 x 8 and 8 x 4 blocks: a grid axis divisible by 2, 4 and 8 devices
  "shampoo_blocked": lambda: jon.shampoo(0.05, block_size=8, start_preconditioning_step=1),
  "soap": lambda: jon.soap(0.05, precondition_frequency=2),
  "kron": lambda: jon.kron(0.05, key=1),
}


def _fsdp_params(n):
  mesh = jax.make_mesh((n,), ("fsdp",), devices=jax.devices()[:n], axis_types=(AxisType.Auto,))
  return {
    k: jax.device_put(
      jnp.sin(jnp.arange(np.prod(s), dtype=jnp.float64)).reshape(s),
      NamedSharding(mesh, FSDP_SPECS[k]),
    )
    for k, s in FSDP_SHAPES.items()
  }


def _device_fraction(state):
  """The largest share of the state's bytes that one device holds."""
  held, total = {}, 0
  for leaf in jax.tree.leaves(state):
    if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      continue
    total += leaf.nbytes
    for shard in leaf.addressable_shards:
      held[shard.device] = held.get(shard.device, 0) + shard.data.nbytes
  return max(held.values()) / total


def _eigh_batch(hlo):
  """How many matrices one device decomposes in a compiled program (its eigh calls)."""
  found = re.findall(r"= \(f\d+\[([\d,]+)\].*custom_call_target=\"lapack_\w+yevd", hlo)
  return sum(int(np.prod([int(d) for d in dims.split(",")[:-2]] or [1])) for dims in found)


@pytest.mark.parametrize("name", list(SPREAD))
def test_state_per_device_falls_as_one_over_n_after_init_and_a_jitted_step(name):
  """On 2, 4 and 8 devices each holds at most 1.1/n of the whole state, factors
  included, straight from ``init``; on 8, also after a plain jitted step (which
  leaves every leaf where ``init`` put it: test_sharded_state.py), and with
  blocks each device takes the roots of only 1/8 of them."""
  opt = SPREAD[name]()
  for n in (2, 4, 8):
    params = _fsdp_params(n)
    state = opt.init(params)
    assert _device_fraction(state) <= 1.1 / n, (n, _device_fraction(state))
  step = jax.jit(opt.update).lower(jax.tree.map(jnp.cos, params), state, params).compile()
  _, stepped = step(jax.tree.map(jnp.cos, params), state, params)
  assert _device_fraction(stepped) <= 1.1 / 8, _device_fraction(stepped)
  if name == "shampoo_blocked":  # 2 weights x 32 blocks x 2 factors, over 8 devices
    assert _eigh_batch(step.as_text()) == 2 * 32 * 2 // 8, _eigh_batch(step.as_text())
