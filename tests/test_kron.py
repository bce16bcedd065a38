"""PSGD-Kron: the default layout keeps factors within the dims they precondition, complex
params converge, and the default optimizer trains a small transformer under jit without
stalling (run in its own process under a watchdog)."""

import json
import os
import queue
import subprocess
import sys
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_notes as jon

ROOT = os.path.join(os.path.dirname(__file__), "..")


@pytest.mark.parametrize(
  "shape, sides",
  [
    ((64, 64), [64, 64]),  # a matrix is never merged
    ((64, 256), [64, 256]),
    ((3, 3, 16, 32), [9, 16, 32]),  # a conv kernel: 3 x 3 = 9 <= 32 merges
    ((2, 4, 8), [8, 8]),
    ((4096,), [4096]),  # a vector: one diagonal factor
    ((1024, 4), [512, 4]),  # blocks of block_size
  ],
)
def test_default_layout_has_no_factor_longer_than_the_longest_dim(shape, sides):
  state = jon.kron(1e-3).init({"w": jnp.zeros(shape)})[0]
  factors = state.Qs_preconditioners["w"]
  assert [q.shape[1] for q in factors] == sides
  assert all(q.shape[1] <= max(shape) for q in factors)
  # merging small dims as asked, above the tensor's largest, changes nothing
  wide = jon.kron(1e-3, target_merged_dim_size=1 << 20).init({"w": jnp.zeros(shape)})[0]
  assert [q.shape for q in wide.Qs_preconditioners["w"]] == [q.shape for q in factors]


def test_complex_least_squares_converges():
  """min |z - t|^2 over complex z, gradients conjugated after jax.grad as in optax
  (jax.grad of a real loss gives the conjugate of the steepest-ascent direction)."""
  rng = np.random.default_rng(0)
  target = {
    "m": jnp.asarray(rng.normal(size=(6, 5)) + 1j * rng.normal(size=(6, 5))),
    "v": jnp.asarray(rng.normal(size=4) + 1j * rng.normal(size=4)),
  }

  def loss(z):
    return sum(jnp.sum(jnp.abs(z[k] - target[k]) ** 2) for k in z)

  opt = jon.kron(jon.cosine_decay_schedule(0.1, 300), preconditioner_update_probability=1.0)
  z = jax.tree.map(jnp.zeros_like, target)
  state = opt.init(z)
  assert all(q.dtype == jnp.complex128 for q in jax.tree.leaves(state[0].Qs_preconditioners))

  @jax.jit
  def step(z, state):
    grads = jax.tree.map(jnp.conj, jax.grad(loss)(z))
    updates, state = opt.update(grads, state, z)
    return jon.apply_updates(z, updates), state

  start = float(loss(z))
  for _ in range(300):
    z, state = step(z, state)
  assert float(loss(z)) < 1e-5 * start, (start, float(loss(z)))


def _cpu_seconds(pid: int) -> float:
  """User + system CPU time of a process and all its threads (Linux), else 0."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      fields = f.read().rsplit(")", 1)[1].split()
  except OSError:
    return 0.0
  return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_watched(command, env, stall_s: float = 60.0, limit_s: float = 900.0) -> list:
  """Runs ``command``, returning its output lines; fails on a stall or past ``limit_s``.

  A stall: for ``stall_s`` seconds the process printed nothing and used (almost)
  no CPU, as when all its threads wait on a lock. A busy but slow process (a
  CPU shared with other work) is not a stall.
  """
  proc = subprocess.Popen(
    command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
  )
  lines: queue.Queue = queue.Queue()
  reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
  reader.start()
  out, start = [], time.monotonic()
  mark, mark_cpu = start, _cpu_seconds(proc.pid)
  try:
    while proc.poll() is None:
      time.sleep(0.5)
      now, cpu = time.monotonic(), _cpu_seconds(proc.pid)
      while not lines.empty():
        out.append(lines.get())
        mark = now
      if cpu - mark_cpu > 0.02 * stall_s:
        mark, mark_cpu = now, cpu
      if now - mark > stall_s:
        pytest.fail(
          f"stalled: no output and {cpu - mark_cpu:.2f} s of CPU in the last "
          f"{now - mark:.0f} s; output so far:\n{''.join(out)}"
        )
      if now - start > limit_s:
        pytest.fail(f"still running after {limit_s} s; output so far:\n{''.join(out)}")
  finally:
    if proc.poll() is None:
      proc.kill()
    proc.wait()
    reader.join(timeout=10)
    proc.stdout.close()
  while not lines.empty():
    out.append(lines.get())
  assert proc.returncode == 0, "".join(out)
  return out


def train_watched(package_root: str, steps: int = 24) -> list:
  """The default `kron` training the benchmark's small transformer, in its own process."""
  env = dict(os.environ, PYTHONPATH=package_root, JAX_PLATFORMS="cpu")
  env.pop("JAX_ENABLE_X64", None)
  lines = run_watched(
    [
      sys.executable,
      os.path.join(ROOT, "benchmarks", "kronecker_steps.py"),
      "--train",
      "kron",
      "--steps",
      str(steps),
    ],
    env,
  )
  return [json.loads(line) for line in lines if line.startswith("{")]


def test_default_kron_trains_a_small_transformer_under_jit_without_stalling():
  records = train_watched(os.path.abspath(ROOT))
  losses = [r["loss"] for r in records if "step" in r]
  assert len(losses) == 24 and losses[-1] < losses[0], records
  assert records[0]["factor_entries"] < 10 * 118_000, records[0]  # was 6.6M merged
