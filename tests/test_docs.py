"""The docs: every public name documented, and the site builds offline with no warning."""

import os
import shutil
import subprocess
import sys

import pytest

import jaxopt_notes as jon

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _public_docstrings():
  """Docstrings as the docs tool reads them (attribute docstrings included)."""
  griffe = pytest.importorskip("griffe")
  package = griffe.load("jaxopt_notes", search_paths=[ROOT])
  return {name: package[name].docstring for name in jon.__all__}


def test_every_public_name_has_a_real_docstring():
  missing = []
  for name, doc in _public_docstrings().items():
    text = "" if doc is None else doc.value.strip()
    if not text or text.startswith(f"{name}("):  # empty, or NamedTuple's generated one
      missing.append(name)
  assert missing == []


def test_every_public_name_is_on_the_api_page():
  with open(os.path.join(ROOT, "docs", "api.md")) as f:
    listed = {line.split("jaxopt_notes.", 1)[1].strip() for line in f if line.startswith(":::")}
  assert set(jon.__all__) - listed == set()
  assert listed - set(jon.__all__) == set()


def test_docs_site_builds_strictly(tmp_path):
  mkdocs = shutil.which("mkdocs", path=os.path.dirname(sys.executable))
  if mkdocs is None:
    pytest.skip("mkdocs is not installed (pip install -e '.[test]')")
  env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
  done = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
                        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
  assert done.returncode == 0, done.stdout + done.stderr
  assert (tmp_path / "site" / "api" / "index.html").stat().st_size > 100_000
