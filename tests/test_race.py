"""The AlgoPerf-style race (benchmarks/race.py) in its quick mode, in a process of its own."""

import os
import subprocess
import sys

import jaxopt_notes as jon

ROOT = os.path.join(os.path.dirname(__file__), "..")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import race  # noqa: E402


def test_quick_race_writes_a_row_per_available_optimizer_and_a_plot(tmp_path):
  md, png = tmp_path / "race.md", tmp_path / "race.png"
  done = subprocess.run(
    [
      sys.executable,
      os.path.join(ROOT, "benchmarks", "race.py"),
      "--quick",
      "--md",
      str(md),
      "--png",
      str(png),
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=900,
    check=False,
    env=dict(os.environ, JAX_PLATFORMS="cpu"),
  )
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  text = md.read_text()
  present = [name for name in race.RACERS if hasattr(jon, name)]
  assert {"adamw", "nadamw", "sgd", "kron"} <= set(present)
  rows = {
    line.split("(`", 1)[1].split("`", 1)[0]: line.split(" | ")
    for line in text.splitlines()
    if line.startswith("| ") and "(`" in line
  }
  assert sorted(rows) == sorted(present)
  for name, cells in rows.items():
    final = float(cells[4])
    assert final < 2.2, (name, final)  # below chance (ln 10 = 2.30): every racer learns
  assert rows["adamw"][6].strip() == "1.00"  # per-step time against AdamW's own
  assert png.stat().st_size > 10_000
