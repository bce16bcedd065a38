"""Training across processes: 2 processes x 2 CPU devices, params and state on one global mesh.

Each test starts its JAX jobs through the launcher (jaxopt_notes.testing.multiprocess),
each rank its own process with a hard deadline, so a hung collective fails one
test. The script is examples/multihost_training.py, the one docs/multihost.md runs.
"""

import os

import orbax.checkpoint as ocp
import pytest

from jaxopt_notes.testing import multiprocess

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "multihost_training.py")
STEPS = 12
# The step counters each state holds after 12 steps (MultiSteps steps its inner
# optimizer every 2nd call).
COUNTERS = {
  "adam": {"[0].count": 12},
  "adamw_injected": {".count": 12, ".inner_state[0].count": 12},
  "multisteps": {".mini_step": 0, ".gradient_step": 6, ".inner_opt_state[0].count": 6},
  "apply_if_finite": {".inner_state[0].count": 12, ".notfinite_count": 0},
  "shampoo": {"[0].count": 12},
  "soap": {"[0].count": 12},  # its first call only starts the factors, but counts
}
# The share of the state a process holds: half, plus the replicated scalars. Kronecker
# factors are spread over every device too (whole blocks, else rows), however their
# params are split.
SHARE = 0.52
DEADLINE = 150  # seconds per job; a few times what a job takes on 2 busy cores


# Both tests read the uninterrupted 2-process run: one group, one xdist worker.
pytestmark = pytest.mark.xdist_group("multihost")


def _run(*args, processes=2, devices=2):
  return multiprocess.launch(
    [EXAMPLE, "--steps", str(STEPS), *args], processes, devices, timeout=DEADLINE
  )


@pytest.fixture(scope="module")
def two():
  """Every optimizer trained by 2 processes x 2 devices, never stopped."""
  return _run()


def test_two_processes_train_exactly_like_one_with_half_the_state_each(two):
  (one,) = _run(processes=1, devices=4)
  assert [r["processes"] for r in two + [one]] == [2, 2, 1]
  assert {r["devices"] for r in two + [one]} == {4}
  for name, counters in COUNTERS.items():
    ranks = [r["results"][name] for r in two]
    alone = one["results"][name]
    for seen in ranks:
      # The same program on the same 4-device mesh: the same reductions in the
      # same order, so the results are bitwise equal.
      assert seen["params"] == alone["params"], name
      assert seen["state"] == alone["state"], name
      # Every process's own copy of the counters and hyperparameters agrees.
      assert seen["scalars"] == alone["scalars"], name
      assert seen["scalars_on_every_device"], name
      total, held = seen["state_bytes"], seen["process_state_bytes"]
      assert total == alone["state_bytes"] == alone["process_state_bytes"], name
      assert total / 2 <= held < SHARE * total, (name, held, total)
      assert seen["process_state_fraction"] == round(held / total, 4), name
    assert counters.items() <= ranks[0]["scalars"].items(), (name, ranks[0]["scalars"])
  hyper = two[0]["results"]["adamw_injected"]["scalars"]
  assert hyper[".hyperparams['weight_decay']"] == pytest.approx(1e-2)
  assert 0 < hyper[".hyperparams['learning_rate']"] < 3e-2  # the schedule moved it


def test_a_run_killed_mid_save_resumes_from_the_last_complete_checkpoint(two, tmp_path):
  args = ["--optimizers", "adamw_injected", "--every", "3"]
  folder = tmp_path / "run"
  with pytest.raises(multiprocess.WorkerFailed, match="rank 1 was killed by SIGKILL") as killed:
    _run(*args, "--ckpt", str(folder), "--kill-at", "9")
  assert killed.value.rank == 1 and killed.value.returncode == -9

  # The kill came while step 9 was being written: its folder is still the
  # temporary one, and Orbax lists only the finalised steps.
  saved = folder / "adamw_injected"
  assert any(p.name.startswith("9.") and "tmp" in p.name for p in saved.iterdir()), sorted(
    p.name for p in saved.iterdir()
  )
  with ocp.CheckpointManager(saved, options=ocp.CheckpointManagerOptions(read_only=True)) as m:
    assert m.all_steps() == [3, 6] and m.latest_step() == 6

  resumed = _run(*args, "--ckpt", str(folder))
  (uninterrupted,) = {str(r["results"]["adamw_injected"]["params"]) for r in two}
  for r in resumed:
    result = r["results"]["adamw_injected"]
    assert result["resumed_from"] == 6
    assert str(result["params"]) == uninterrupted  # exactly the params of the run never stopped
    assert result["scalars"][".count"] == STEPS
