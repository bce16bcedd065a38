"""Orbax checkpoints of every optimizer's state: sharded, across processes, onto another mesh.

The round trip runs in tests/workers/orbax_roundtrip.py: first as 2 processes x
2 CPU devices (save, restore on the same mesh, resume), then as 1 process x 2
devices (restore the same checkpoint resharded, resume). Each job runs in its
own processes under a hard deadline.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_notes as jon
from jaxopt_notes.testing import multiprocess
from registry import REGISTRY
from test_conformance import PARAMS

WORKER = __file__.replace("test_orbax.py", "workers/orbax_roundtrip.py")
# On another mesh the loss's matmuls are partitioned differently and may round
# differently: after 2 float32 steps, results agree to a few ulps.
OTHER_MESH = {"rtol": 1e-5, "atol": 1e-6}
# Where an algorithm turns rounding into a different step (registry data, with the reason)
OTHER_MESH_OF = {e.name: e.other_mesh_tolerance for e in REGISTRY if e.other_mesh_tolerance}
DEADLINE = 300  # seconds per job; a few times what one takes on 2 busy cores


@pytest.mark.parametrize("entry", REGISTRY, ids=repr)
def test_abstract_state_matches_what_init_builds(entry):
  opt = entry.make(0.1)
  state = opt.init(PARAMS)
  target = jon.abstract_state(opt, PARAMS)
  chex.assert_trees_all_equal_structs(state, target)
  for x, t in zip(jax.tree.leaves(state), jax.tree.leaves(target), strict=True):
    assert isinstance(t, jax.ShapeDtypeStruct)
    assert (x.shape, x.dtype) == (t.shape, t.dtype)
    assert x.sharding.is_equivalent_to(t.sharding, x.ndim)


def test_abstract_state_takes_abstract_params():
  abstract = jax.eval_shape(lambda: PARAMS)
  target = jon.abstract_state(jon.adam(0.1), abstract)
  assert target[0].mu["w"].shape == PARAMS["w"].shape
  assert target[0].count.dtype == jnp.int32


def _numbers(tree):
  """Every number of a reported tree (nested lists and dicts), flat, in order."""
  return np.asarray(jax.tree.leaves(tree), dtype=float)


def test_every_state_round_trips_through_orbax_and_resumes_on_another_mesh(tmp_path):
  folder = str(tmp_path / "ckpt")
  saving = multiprocess.launch([WORKER, "save", folder], 2, 2, timeout=DEADLINE)
  # One one-process job restores it and resumes every optimizer (two jobs sharing the
  # work each paid the imports, the restore and the restore target again).
  (moved,) = multiprocess.launch([WORKER, "restore", folder], 1, 2, timeout=DEADLINE)
  assert saving[0] == saving[1]  # both processes saw the same whole arrays
  (two,) = saving[:1]
  assert (two["processes"], two["devices"], moved["processes"], moved["devices"]) == (2, 4, 1, 2)
  names = {e.name for e in REGISTRY} | {"adamw_injected", "multisteps", "apply_if_finite"}
  assert set(two["saved"]) == set(moved["restored"]) == names
  assert two["misplaced"] == moved["misplaced"] == []  # moments like params, the rest replicated
  # A plain jitted step leaves every state where abstract_state places it.
  assert two["drifted"] == moved["drifted"] == []
  for name in sorted(names):
    # Same mesh: the restored state is the saved one, and training resumed from
    # it with a plain jitted step is bitwise the training that never stopped.
    assert two["restored"][name] == two["saved"][name], name
    assert two["resumed"][name] == two["final"][name], name
    # Two processes and 4 devices to one process and 2: resharding moves the
    # bytes and changes none; training then agrees within OTHER_MESH.
    assert moved["restored"][name] == two["saved"][name], name
    np.testing.assert_allclose(
      _numbers(moved["resumed"][name]),
      _numbers(two["final"][name]),
      **OTHER_MESH_OF.get(name, OTHER_MESH),
      err_msg=name,
    )
    assert moved["resumed"][name] != moved["restored"][name], name  # it did train
