"""Bad input: errors that name the path, and frozen (integer, boolean) params."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_notes as jon
from registry import REGISTRY
from test_conformance import GRADS, PARAMS, _rollout

ENTRIES = pytest.mark.parametrize("entry", REGISTRY, ids=repr)
FROZEN = {"n": jnp.array([3, 4], jnp.int32), "flag": jnp.array(True)}
FULL_PARAMS = {**PARAMS, **FROZEN}


def _with_frozen(grads):
  """Integer and boolean gradients as a user might pass them (values are ignored)."""
  return {**grads, "n": jnp.array([7, -1], jnp.int32), "flag": jnp.array(True)}


def _wrap_all(opt):
  return {
    "bare": opt,
    "masked": jon.masked(opt, lambda p: jax.tree.map(lambda _: True, p)),
    "partition": jon.partition({"all": opt}, lambda p: jax.tree.map(lambda _: "all", p)),
    "apply_if_finite": jon.apply_if_finite(opt, 3),
    "multisteps": jon.MultiSteps(opt, 2).gradient_transformation(),
    "conditionally_transform": jon.conditionally_transform(opt, lambda step: step >= 1),
    "average_params": jon.chain(opt, jon.average_params(0.1)),
    "flatten": jon.flatten(opt),
    "pack_leaves": jon.pack_leaves(opt),
    "chain_with_clip": jon.chain(jon.clip_by_global_norm(1.0), opt),
  }


def _assert_frozen_leaves_untouched(opt):
  """No state for frozen leaves; the trained leaves see exactly what they would alone."""
  state_full = opt.init(FULL_PARAMS)
  state_float = opt.init(PARAMS)
  chex.assert_trees_all_equal_shapes_and_dtypes(
    jax.tree.leaves(state_full), jax.tree.leaves(state_float)
  )
  update = jax.jit(opt.update)
  outs_full, _ = _rollout(opt, update, FULL_PARAMS, [_with_frozen(g) for g in GRADS])
  outs_float, _ = _rollout(opt, update, PARAMS, GRADS)
  for full, alone in zip(outs_full, outs_float):
    chex.assert_trees_all_close({k: full[k] for k in PARAMS}, alone, rtol=1e-12, atol=1e-15)
    for name, param in FROZEN.items():
      assert full[name].dtype == param.dtype
      np.testing.assert_array_equal(full[name], jnp.zeros_like(param))
      np.testing.assert_array_equal(jon.apply_updates(FULL_PARAMS, full)[name], param)


@ENTRIES
def test_frozen_params_get_no_update_and_no_state(entry):
  _assert_frozen_leaves_untouched(entry.make(0.05))


@pytest.mark.parametrize("wrapper", list(_wrap_all(jon.sgd(0.1))))
def test_frozen_params_inside_every_wrapper(wrapper):
  _assert_frozen_leaves_untouched(_wrap_all(jon.adamw(0.05, weight_decay=0.1))[wrapper])


def test_float0_gradients_from_jax_grad_leave_the_param_as_it_is():
  def loss(params):
    return jnp.sum(params["w"] ** 2) * params["n"][0] + params["b"]

  opt = jon.adam(0.1)
  grads = jax.grad(loss, allow_int=True)(FULL_PARAMS)
  assert grads["n"].dtype == jax.dtypes.float0
  updates, _ = jax.jit(opt.update)(grads, opt.init(FULL_PARAMS))
  assert updates["n"].dtype == jax.dtypes.float0
  new = jon.apply_updates(FULL_PARAMS, updates)
  np.testing.assert_array_equal(new["n"], FULL_PARAMS["n"])
  assert new["n"].dtype == jnp.int32
  assert not np.allclose(new["w"], FULL_PARAMS["w"])


def _bad_grads(good):
  """Each way of getting the updates wrong, with the message that must name it."""
  return {
    "an extra leaf": ({**good, "extra": jnp.ones(2)}, r"unexpected leaves \['extra'\]"),
    "a missing leaf": ({k: v for k, v in good.items() if k != "b"}, r"missing leaves \['b'\]"),
    "another shape": (
      {**good, "w": jnp.ones(4)},
      r"\['w'\] have shape \(4,\).*expected shape \(3,\)",
    ),
    "an integer leaf": (
      {**good, "w": jnp.ones(3, jnp.int32)},
      r"\['w'\] have shape \(3,\) and dtype int32.*float",
    ),
  }


CASES = list(_bad_grads(GRADS[0]))


@ENTRIES
@pytest.mark.parametrize("case", CASES)
def test_mismatched_updates_name_the_path(entry, case):
  grads, message = _bad_grads(GRADS[0])[case]
  opt = entry.make(0.05)
  with pytest.raises(ValueError, match=message):  # in update, or else in apply_updates
    updates, _ = opt.update(grads, opt.init(PARAMS), PARAMS, value=jnp.asarray(1.0))
    jon.apply_updates(PARAMS, updates)


@pytest.mark.parametrize("wrapper", [w for w in _wrap_all(jon.sgd(0.1)) if w != "flatten"])
@pytest.mark.parametrize("case", CASES)
def test_mismatched_updates_name_the_path_through_wrappers(wrapper, case):
  grads, message = _bad_grads(_with_frozen(GRADS[0]))[case]
  opt = _wrap_all(jon.adam(0.05))[wrapper]
  with pytest.raises(ValueError, match=message):
    jax.jit(opt.update)(grads, opt.init(FULL_PARAMS), FULL_PARAMS)
