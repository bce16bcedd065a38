"""Property tests (hypothesis): extreme gradients, and the algebra of transforms.

Each example runs eagerly on a tiny random pytree (compiling one program per
random structure would cost more than the maths); one test compares jit with
eager. Example counts are bounded so that the suite stays fast on 2 cores.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxopt_notes as jon
from registry import REGISTRY

BOUNDED = settings(
  max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
# Per optimizer of the registry (68 of them), fewer: each example runs 3 eager steps on a
# new random structure and dtype, and every added entry pays for each of its examples
# (the suite's largest per-entry cost at 5).
PER_OPTIMIZER = settings(BOUNDED, max_examples=3)
SHAPES = st.sampled_from([(), (3,), (2, 2)])
EXTREMES = (0.0, 1e-30, 1e30)  # and ordinary values in between
# float16 cannot hold 1e30: its huge gradient is the largest that leaves room for
# momentum to accumulate (a trace of 0.9 reaches 10 g).
HEADROOM = 1 / 16


structures = st.lists(SHAPES, min_size=1, max_size=3)


@st.composite
def leaf_values(draw, shape, dtype, extreme):
  """With ``extreme``, one of the extreme magnitudes (within the dtype's range)
  with a random sign per element; else ordinary floats."""
  size = int(np.prod(shape))
  if extreme:
    magnitude = min(
      draw(st.sampled_from(EXTREMES + (1.0,))), HEADROOM * float(jnp.finfo(dtype).max)
    )
    values = magnitude * np.array(
      draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=size, max_size=size))
    )
  else:
    values = draw(st.lists(st.floats(-10, 10), min_size=size, max_size=size))
  return jnp.asarray(np.reshape(values, shape), dtype)


@st.composite
def trees(draw, dtype=jnp.float32, extreme=True, shapes=None):
  """A dict of leaves of the given (else random) shapes."""
  shapes = draw(structures) if shapes is None else shapes
  return {f"leaf{i}": draw(leaf_values(s, dtype, extreme)) for i, s in enumerate(shapes)}


def _like(tree, values):
  """A tree of ``tree``'s structure whose leaves are ``values`` (recycled), per leaf."""
  leaves, treedef = jax.tree.flatten(tree)
  return jax.tree.unflatten(
    treedef, [jnp.full(x.shape, v, x.dtype) for x, v in zip(leaves, values * len(leaves))]
  )


@st.composite
def hyperparameters(draw, entry):
  """Each swept hyperparameter at its default or its registry alternative."""
  chosen = {k: v for k, v in entry.sweep.items() if draw(st.booleans())}
  return draw(st.sampled_from([1e-3, 0.1, 1.0])), chosen


def _dtypes(entry):
  return [jnp.float16] * entry.float16_ok + [jnp.bfloat16, jnp.float32]


@pytest.mark.parametrize("entry", REGISTRY, ids=repr)
@PER_OPTIMIZER
@given(data=st.data())
def test_updates_stay_finite_for_extreme_gradients(entry, data):
  dtype = data.draw(st.sampled_from(_dtypes(entry)), label="dtype")
  shapes = data.draw(structures, label="shapes")
  grads = [data.draw(trees(dtype, shapes=shapes), label=f"grads{k}") for k in range(3)]
  structure = grads[0]
  lr, kwargs = data.draw(hyperparameters(entry), label="hyperparameters")
  opt = entry.make(lr, **kwargs)
  params = _like(structure, [0.5, -1.5, 2.0])
  state = opt.init(params)
  for g in grads:
    updates, state = opt.update(g, state, params, value=jnp.asarray(1.0, dtype))
    for leaf in jax.tree.leaves(updates):
      assert leaf.dtype == dtype
      assert bool(jnp.all(jnp.isfinite(leaf))), (g, updates)


POOL = {
  "scale": lambda v: jon.scale(v),
  "trace": lambda v: jon.trace(decay=abs(v) % 1),
  "clip": lambda v: jon.clip(abs(v) + 0.1),
  "adam": lambda v: jon.scale_by_adam(b1=abs(v) % 1),
  "rms": lambda v: jon.scale_by_rms(decay=abs(v) % 1),
  "decay": lambda v: jon.add_decayed_weights(abs(v)),
}
transforms = st.builds(
  lambda name, v: POOL[name](v), st.sampled_from(sorted(POOL)), st.floats(-2, 2, allow_nan=False)
)


def _run(opt, grads, params):
  state = opt.init(params)
  outs = []
  for g in grads:
    u, state = opt.update(g, state, params)
    outs.append(u)
  return outs


@BOUNDED
@given(a=transforms, b=transforms, c=transforms, tree=trees(jnp.float64, extreme=False))
def test_chain_is_associative_and_identity_is_its_unit(a, b, c, tree):
  grads = [tree, jax.tree.map(lambda x: -2 * x + 1, tree)]
  params = jax.tree.map(lambda x: x / 3, tree)
  flat = _run(jon.chain(a, b, c), grads, params)
  chex.assert_trees_all_close(
    _run(jon.chain(jon.chain(a, b), c), grads, params), flat, rtol=0, atol=0
  )
  chex.assert_trees_all_close(
    _run(jon.chain(a, jon.chain(b, c)), grads, params), flat, rtol=0, atol=0
  )
  alone = _run(a, grads, params)
  for with_unit in (jon.chain(jon.identity(), a), jon.chain(a, jon.identity())):
    chex.assert_trees_all_close(_run(with_unit, grads, params), alone, rtol=0, atol=0)


@BOUNDED
@given(a=st.floats(-1e3, 1e3), b=st.floats(-1e3, 1e3), tree=trees(jnp.float64, extreme=False))
def test_scale_then_scale_is_scale_of_the_product(a, b, tree):
  twice = _run(jon.chain(jon.scale(a), jon.scale(b)), [tree], None)
  once = _run(jon.scale(a * b), [tree], None)
  chex.assert_trees_all_close(twice, once, rtol=1e-15, atol=0)  # a few roundings apart


@pytest.mark.slow
@settings(
  max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(data=st.data())
def test_jit_equals_eager(data):
  entry = data.draw(st.sampled_from(REGISTRY), label="optimizer")
  lr, kwargs = data.draw(hyperparameters(entry), label="hyperparameters")
  tree = data.draw(trees(jnp.float64, extreme=False), label="grads")
  grads = [tree, jax.tree.map(lambda x: 0.5 - x, tree)]
  opt = entry.make(lr, **kwargs)
  params = _like(tree, [0.5, -1.5, 2.0])
  update = functools.partial(opt.update, value=jnp.asarray(1.0))
  eager = _run(opt._replace(update=update), grads, params)
  jitted = _run(opt._replace(update=jax.jit(update)), grads, params)
  # atol: a few ulps of the params (0.5 to 2), for updates computed as a difference of
  # param-sized numbers (schedule-free's new y minus y), which XLA may round differently
  chex.assert_trees_all_close(jitted, eager, rtol=1e-13, atol=1e-15)
