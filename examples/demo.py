"""The showcase run by ``make demo``: the seeds' case studies, computed by the library."""

import d2l_chapter11
import saddle_escape


def main() -> None:
  saddle_escape.main()
  print()
  d2l_chapter11.main()


if __name__ == "__main__":
  main()
