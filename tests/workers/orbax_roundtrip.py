"""One rank of the Orbax round trip of every optimizer (run by tests/test_orbax.py).

``save DIR``: on this job's mesh every optimizer trains 2 steps; params and
states are saved (``CheckpointManager`` + ``StandardSave``); training goes on
2 steps (the run that never stopped); the saved step is restored onto the same
mesh (``StandardRestore`` of `jaxopt_notes.abstract_state`) and trains the same
2 steps, with the same plain ``jax.jit`` step (no ``out_shardings``). ``restore DIR [i/n]``:
restores the saved step onto this job's mesh,
whatever its devices and processes, and trains the same 2 steps (the i-th of n
shares of the optimizers, when given). All optimizers step in one jitted
function and share one checkpoint. Every state lives on the shardings
`jaxopt_notes.abstract_state` gives, from ``init`` to the restored copy, and the
plain jitted step returns it there (reported as ``drifted`` when not), so each job
compiles its step once.
Reports the values as host lists (whole arrays) for the test to compare.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "..", "examples"), os.path.join(HERE, "..")]

import jax  # noqa: E402
import orbax.checkpoint as ocp  # noqa: E402

import multihost_training as mt  # noqa: E402  (joins the job when launched)
import jaxopt_notes as jon  # noqa: E402
from jaxopt_notes.testing import multiprocess  # noqa: E402
from registry import REGISTRY  # noqa: E402

SAVED_AT, MORE = 2, 2
OPTIMIZERS = {e.name: e.make(0.02) for e in REGISTRY} | {
  name: make(SAVED_AT + MORE)
  for name, make in mt.OPTIMIZERS.items()
  if name not in {e.name for e in REGISTRY}
}
STEPS = {name: mt.train_step(opt) for name, opt in OPTIMIZERS.items()}


def step_all(runs, x, y):
  """One step of every optimizer; ``runs`` maps a name to its (params, state)."""
  return {name: STEPS[name](*run, x, y) for name, run in runs.items()}


def _train(step, runs, steps, mesh, data):
  for t in steps:
    runs = step(runs, *mt.batch(t, mesh, *data))
  return runs


def _start(params):
  """Every run at step 0: ``{name: (params, state)}``."""
  return {name: (params, opt.init(params)) for name, opt in OPTIMIZERS.items()}


def _target(params):
  """The restore target of every run: `_start`'s tree of ShapeDtypeStructs.

  The params are their own target; one `jaxopt_notes.abstract_state` call, of a
  transformation whose state is every optimizer's, traces all the ``init`` at once.
  """
  states = jon.abstract_state(
    jon.GradientTransformation(lambda p: {name: s for name, (_, s) in _start(p).items()}, None),
    params,
  )
  abstract = jax.tree.map(
    lambda p: jax.ShapeDtypeStruct(p.shape, p.dtype, sharding=p.sharding), params
  )
  return {name: (abstract, state) for name, state in states.items()}


def _shardings(tree):
  return jax.tree.map(lambda x: x.sharding, tree)


# A plain jit, as users write it: no out_shardings. Each state comes back on the
# shardings of `jaxopt_notes.abstract_state` all the same (`_drifted` checks it).
_step = jax.jit(step_all)


def _drifted(runs, target):
  """Names of the runs with a leaf not on the sharding ``target`` gives it."""
  return sorted(
    name
    for name, run in runs.items()
    if not all(
      t.sharding.is_equivalent_to(x.sharding, x.ndim)
      for x, t in zip(jax.tree.leaves(run), jax.tree.leaves(target[name]), strict=True)
    )
  )


def _checkpointed(runs):
  """``{name: (params, state)}`` as the checkpoint holds it."""
  return {name: {"params": p, "opt_state": s} for name, (p, s) in runs.items()}


def _restore(folder, target):
  with ocp.CheckpointManager(folder) as mngr:
    restored = mngr.restore(SAVED_AT, args=ocp.args.StandardRestore(_checkpointed(target)))
  return {name: (r["params"], r["opt_state"]) for name, r in restored.items()}


def _dict_keys(path):
  """The dict keys of a key path, when it ends in one (else None)."""
  if not path or not isinstance(path[-1], jax.tree_util.DictKey):
    return None
  return tuple(k.key for k in path if isinstance(k, jax.tree_util.DictKey))


def _placed_like_params(runs, mesh):
  """Names of the runs whose moments are not sharded like their params, or whose
  other leaves are not on every device of ``mesh``.

  A moment is a state leaf at a param's own path with that param's shape; any
  other leaf (a counter, a factored row or column statistic, even one that
  happens to have another param's shape) must be on every device.
  """
  wrong = []
  for name, (params, state) in runs.items():
    by_path = {_dict_keys(path): p for path, p in jax.tree_util.tree_flatten_with_path(params)[0]}
    for path, x in jax.tree_util.tree_flatten_with_path(state)[0]:
      keys = _dict_keys(path)
      param = next((p for k, p in by_path.items() if keys and keys[-len(k) :] == k), None)
      if param is not None and param.shape == x.shape and x.ndim:
        placed = x.sharding.is_equivalent_to(param.sharding, x.ndim)
      else:
        placed = x.sharding.device_set == set(mesh.devices.flat)
      if not placed:
        wrong.append(name)
        break
  return wrong


def save(folder, mesh, data):
  params = mt.init_params(mesh)
  target = _target(params)
  runs = jax.jit(_start, out_shardings=_shardings(target))(params)
  runs = _train(_step, runs, range(SAVED_AT), mesh, data)
  with ocp.CheckpointManager(folder) as mngr:
    mngr.save(SAVED_AT, args=ocp.args.StandardSave(_checkpointed(runs)))
    mngr.wait_until_finished()
  restored = _restore(folder, target)
  more = range(SAVED_AT, SAVED_AT + MORE)
  final = _train(_step, runs, more, mesh, data)
  return {
    "saved": mt.to_host(runs),
    "restored": mt.to_host(restored),
    "final": mt.to_host(final),
    "resumed": mt.to_host(_train(_step, restored, more, mesh, data)),
    "misplaced": _placed_like_params(restored, mesh),
    "drifted": _drifted(final, target),
  }


def restore(folder, mesh, data, part="0/1"):
  """Restores every run; resumes those of ``part`` (``"i/n"``: every n-th name from
  the i-th), so that n jobs can share the compilation."""
  i, n = map(int, part.split("/"))
  target = _target(mt.init_params(mesh))
  restored = _restore(folder, target)
  names = sorted(restored)[i::n]
  restored, target = ({k: tree[k] for k in names} for tree in (restored, target))
  resumed = _train(_step, restored, range(SAVED_AT, SAVED_AT + MORE), mesh, data)
  return {
    "restored": mt.to_host(restored),
    "resumed": mt.to_host(resumed),
    "misplaced": _placed_like_params(restored, mesh),
    "drifted": _drifted(resumed, target),
  }


def main():
  phase, folder, *part = sys.argv[1], os.path.abspath(sys.argv[2]), *sys.argv[3:]
  result = {"save": save, "restore": restore}[phase](folder, mt.global_mesh(), mt.data(), *part)
  multiprocess.report({"processes": jax.process_count(), "devices": jax.device_count(), **result})


if __name__ == "__main__":
  main()
