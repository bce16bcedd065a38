"""The multi-process launcher: results in rank order, a failed rank named, a hang bounded.

The ranks here are plain Python (no JAX job), so these tests take seconds.
"""

import os
import time

import pytest

from jaxopt_notes.testing import multiprocess

REPORT = (
  "import os, sys; from jaxopt_notes.testing import multiprocess as mp; "
  "mp.report({'rank': mp.rank(), 'of': os.environ['JAXOPT_NOTES_NUM_PROCESSES'], "
  "'coordinator': os.environ['JAXOPT_NOTES_COORDINATOR'], "
  "'xla': os.environ['XLA_FLAGS']})"
)


def test_each_rank_reports_in_rank_order_on_the_loopback():
  # The caller's own XLA flags reach the ranks; only the device count is replaced.
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8 --xla_dump_to=x")
  results = multiprocess.launch(
    ["-c", REPORT], num_processes=3, devices_per_process=2, timeout=60, env=env
  )
  assert [r["rank"] for r in results] == [0, 1, 2]
  assert {r["of"] for r in results} == {"3"}
  (address,) = {r["coordinator"] for r in results}
  host, port = address.split(":")
  assert host == "127.0.0.1" and 0 < int(port) < 65536
  assert {r["xla"] for r in results} == {"--xla_dump_to=x --xla_force_host_platform_device_count=2"}


def test_a_failing_rank_is_named_with_its_log_and_the_others_are_killed():
  script = (
    "import sys, time; from jaxopt_notes.testing import multiprocess as mp\n"
    "if mp.rank() == 1: print('rank one gives up'); sys.exit(3)\n"
    "time.sleep(120)"
  )
  start = time.monotonic()
  with pytest.raises(multiprocess.WorkerFailed) as failed:
    multiprocess.launch(["-c", script], num_processes=2, timeout=100)
  assert time.monotonic() - start < 30  # rank 0 was killed, not waited for
  assert failed.value.rank == 1 and failed.value.returncode == 3
  assert "rank one gives up" in failed.value.log_tail
  assert "rank 1 exited with status 3" in str(failed.value)


def test_a_rank_killed_by_a_signal_is_noticed():
  script = (
    "import os, signal, time; from jaxopt_notes.testing import multiprocess as mp\n"
    "if mp.rank() == 0: os.kill(os.getpid(), signal.SIGKILL)\n"
    "time.sleep(120)"
  )
  with pytest.raises(multiprocess.WorkerFailed, match="rank 0 was killed by SIGKILL") as failed:
    multiprocess.launch(["-c", script], num_processes=2, timeout=100)
  assert failed.value.returncode == -9


def test_a_hung_job_is_killed_at_its_deadline():
  start = time.monotonic()
  with pytest.raises(multiprocess.WorkerFailed, match=r"ranks \[0, 1\] still running after 3 s"):
    multiprocess.launch(["-c", "import time; time.sleep(120)"], num_processes=2, timeout=3)
  assert time.monotonic() - start < 20


def test_the_free_port_is_on_the_loopback_and_bindable():
  import socket

  with socket.socket() as s:
    s.bind((multiprocess.LOOPBACK, multiprocess.free_port()))
