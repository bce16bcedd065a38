"""Runs one JAX program as N processes on this machine, the way a multi-host job runs.

The launcher starts N copies of a Python script on 127.0.0.1 with a free
port, hands each its rank through the environment, waits with a deadline,
and gathers the JSON result each rank wrote. When any rank fails (non-zero
exit, killed by a signal) the others are killed at once and `WorkerFailed`
names the rank with the tail of its log; past the deadline every rank is
killed. Only the loopback address is ever used.

Inside a worker, `initialize` joins the job (gloo collectives on CPU) and
`report` writes the rank's result.

Command line::

    python -m jaxopt_notes.testing.multiprocess -n 2 --devices 2 script.py [args]
"""

import argparse
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

LOOPBACK = "127.0.0.1"
_DEVICE_COUNT = "xla_force_host_platform_device_count"
_RANK, _COUNT, _ADDRESS, _RESULT = (
  "JAXOPT_NOTES_RANK",
  "JAXOPT_NOTES_NUM_PROCESSES",
  "JAXOPT_NOTES_COORDINATOR",
  "JAXOPT_NOTES_RESULT",
)


class WorkerFailed(RuntimeError):
  """A rank exited with an error, was killed, or the run passed its deadline.

  Attributes:
    rank: the first rank seen failing (``None`` when the deadline passed).
    returncode: its exit status; ``-9`` when it was killed by SIGKILL.
    log_tail: the last lines of its output (stdout and stderr together).
  """

  def __init__(self, message: str, rank: int | None, returncode: int | None, log_tail: str):
    super().__init__(f"{message}\n--- log tail ---\n{log_tail}")
    self.rank, self.returncode, self.log_tail = rank, returncode, log_tail


@dataclasses.dataclass
class _Worker:
  rank: int
  process: subprocess.Popen
  log: str
  result: str


def free_port() -> int:
  """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((LOOPBACK, 0))
    return s.getsockname()[1]


def _tail(path: str, chars: int = 4000) -> str:
  with open(path, errors="replace") as f:
    return f.read()[-chars:]


def _start(rank: int, argv: Sequence[str], env: dict, folder: str) -> _Worker:
  log, result = os.path.join(folder, f"rank{rank}.log"), os.path.join(folder, f"rank{rank}.json")
  env = dict(env, **{_RANK: str(rank), _RESULT: result})
  with open(log, "w") as out:
    process = subprocess.Popen(
      [sys.executable, *argv], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
  return _Worker(rank, process, log, result)


def _kill(workers: Sequence[_Worker]) -> None:
  for w in workers:
    if w.process.poll() is None:
      os.killpg(w.process.pid, signal.SIGKILL)  # the rank and anything it started
  for w in workers:
    w.process.wait()


def launch(
  argv: Sequence[str],
  num_processes: int = 2,
  devices_per_process: int = 2,
  timeout: float = 120.0,
  env: dict | None = None,
) -> list[Any]:
  """Runs ``python *argv`` as ``num_processes`` ranks of one JAX job; returns their results.

  Args:
    argv: the script and its arguments, as given to ``python``.
    num_processes: how many ranks to start.
    devices_per_process: simulated CPU devices per rank
      (``--xla_force_host_platform_device_count``).
    timeout: seconds the whole run may take; past it every rank is killed.
    env: the environment of the ranks (default: this process's), to which the
      rank, the process count, the coordinator address and the CPU settings are
      added; other ``XLA_FLAGS`` in it are kept.

  Returns:
    The value each rank passed to `report`, in rank order (``None`` for a rank
    that reported nothing).

  Raises:
    WorkerFailed: a rank failed (the others are then killed) or the deadline passed.

  Example:
    >>> from jaxopt_notes.testing import multiprocess
    >>> results = multiprocess.launch(["train.py"], num_processes=2)  # doctest: +SKIP
  """
  env = dict(os.environ if env is None else env)
  env.update(
    {
      _COUNT: str(num_processes),
      _ADDRESS: f"{LOOPBACK}:{free_port()}",
      "JAX_PLATFORMS": "cpu",
      "XLA_FLAGS": _with_device_count(env.get("XLA_FLAGS", ""), devices_per_process),
    }
  )
  with tempfile.TemporaryDirectory(prefix="jaxopt_notes_mp_") as folder:
    workers = [_start(rank, argv, env, folder) for rank in range(num_processes)]
    try:
      _wait(workers, time.monotonic() + timeout, timeout)
    finally:
      _kill(workers)
    return [_read(w.result) for w in workers]


def _with_device_count(flags: str, devices: int) -> str:
  """``flags`` (an ``XLA_FLAGS`` value) with its device count, if any, set to ``devices``."""
  kept = [f for f in flags.split() if not f.startswith(f"--{_DEVICE_COUNT}=")]
  return " ".join([*kept, f"--{_DEVICE_COUNT}={devices}"])


def _wait(workers: Sequence[_Worker], deadline: float, timeout: float) -> None:
  running = list(workers)
  while running:
    for w in list(running):
      code = w.process.poll()
      if code is None:
        continue
      running.remove(w)
      if code != 0:
        _kill(workers)
        how = (
          f"was killed by {signal.Signals(-code).name}"
          if code < 0
          else f"exited with status {code}"
        )
        raise WorkerFailed(f"rank {w.rank} {how}", w.rank, code, _tail(w.log))
    if time.monotonic() > deadline:
      _kill(workers)
      ranks = [w.rank for w in running]
      raise WorkerFailed(
        f"ranks {ranks} still running after {timeout:g} s",
        None,
        None,
        "\n".join(f"[rank {w.rank}]\n{_tail(w.log, 1500)}" for w in running),
      )
    time.sleep(0.05)


def _read(path: str) -> Any:
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


# ------------------------------------------------------------- inside a rank


def rank() -> int:
  """This process's rank in the job the launcher started (0 outside of one)."""
  return int(os.environ.get(_RANK, "0"))


def initialize() -> None:
  """Joins the job: gloo collectives on CPU, then ``jax.distributed.initialize``.

  Call it first thing in a worker, before any JAX computation. Outside a
  launched job (no rank in the environment), or once joined, it does nothing,
  so the same script also runs as one plain process.
  """
  if _ADDRESS not in os.environ:
    return
  import jax  # only in a worker: the launcher itself needs no jax

  if jax.distributed.is_initialized():
    return
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(
    coordinator_address=os.environ[_ADDRESS],
    num_processes=int(os.environ[_COUNT]),
    process_id=rank(),
    initialization_timeout=60,
  )


def report(value: Any) -> None:
  """Writes this rank's result (anything ``json`` can write) for `launch` to return.

  Outside a launched job it prints the value instead.
  """
  path = os.environ.get(_RESULT)
  if path is None:
    print(json.dumps(value))
    return
  with open(path + ".tmp", "w") as f:
    json.dump(value, f)
  os.replace(path + ".tmp", path)


def main(argv: Sequence[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description="Run a JAX script as N local processes.")
  parser.add_argument("-n", "--num-processes", type=int, default=2)
  parser.add_argument("--devices", type=int, default=2, help="simulated CPU devices per rank")
  parser.add_argument("--timeout", type=float, default=300.0)
  parser.add_argument("script", nargs=argparse.REMAINDER)
  args = parser.parse_args(argv)
  try:
    results = launch(args.script, args.num_processes, args.devices, args.timeout)
  except WorkerFailed as e:
    print(e, file=sys.stderr)
    sys.exit(1)
  for r, value in enumerate(results):
    print(f"rank {r}: {json.dumps(value)}")


if __name__ == "__main__":
  main()
