"""The showcase run by ``make demo``: case studies, a classifier, a sweep, and plots.

Writes its plots to ``demo_output/``.
"""

import time

import d2l_chapter11
import digits_classifier
import lr_sweep
import saddle_escape
import schedule_gallery
import trajectories

OUT = "demo_output"


def main() -> None:
  start = time.perf_counter()
  saddle_escape.main()
  print()
  d2l_chapter11.main()
  print()
  digits_classifier.main(["--framework", "linen"])
  print()
  lr_sweep.main(["--steps", "150", "--out", OUT])
  schedule_gallery.main(["--out", f"{OUT}/schedules.png"])
  trajectories.main(["--out", OUT])
  print(f"\ndemo finished in {time.perf_counter() - start:.0f} s; plots are in {OUT}/")


if __name__ == "__main__":
  main()
