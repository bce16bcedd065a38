"""The docs: every public name documented, and the site builds offline with no warning."""

import importlib
import os
import pkgutil
import re
import shutil
import subprocess
import sys

import pytest

import jaxopt_notes as jon
import jaxopt_notes.optimizers as family_pkg
from jaxopt_notes import losses, projections

# Public names: the top level's, and those only reachable as jaxopt_notes.projections.X.
PUBLIC = list(jon.__all__) + [f"projections.{n}" for n in projections.__all__
                              if n not in jon.__all__]

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _public_docstrings():
  """Docstrings as the docs tool reads them (attribute docstrings included)."""
  griffe = pytest.importorskip("griffe")
  package = griffe.load("jaxopt_notes", search_paths=[ROOT])
  return {name: package[name].docstring for name in PUBLIC}


def test_every_public_name_has_a_real_docstring():
  missing = []
  for name, doc in _public_docstrings().items():
    text = "" if doc is None else doc.value.strip()
    short = name.rsplit(".", 1)[-1]
    if not text or text.startswith(f"{short}("):  # empty, or NamedTuple's generated one
      missing.append(name)
  assert missing == []


def test_every_public_name_is_on_the_api_page():
  with open(os.path.join(ROOT, "docs", "api.md")) as f:
    listed = {line.split("jaxopt_notes.", 1)[1].strip() for line in f if line.startswith(":::")}
  assert set(PUBLIC) - listed == set()
  assert listed - set(PUBLIC) == set()


def test_every_loss_is_on_the_losses_page():
  with open(os.path.join(ROOT, "docs", "losses.md")) as f:
    text = f.read()
  listed = re.findall(r"^::: jaxopt_notes\.losses\.(\w+)$", text, re.MULTILINE)
  in_table = re.findall(r"^\| `(\w+)` \|", text, re.MULTILINE)
  assert sorted(listed) == sorted(losses.__all__)
  assert sorted(in_table) == sorted(losses.__all__)


def test_every_optimizer_family_has_a_page_listing_its_public_names():
  pages = {}
  for page in os.listdir(os.path.join(ROOT, "docs", "families")):
    with open(os.path.join(ROOT, "docs", "families", page)) as f:
      text = f.read()
    module = re.search(r"^::: (\S+)$", text, re.MULTILINE).group(1)
    pages[module] = re.findall(r"^ +- (\w+)$", text, re.MULTILINE)
  for info in pkgutil.iter_modules(family_pkg.__path__):
    module = importlib.import_module(f"{family_pkg.__name__}.{info.name}")
    defined = [n for n in jon.__all__ if getattr(getattr(jon, n), "__module__", None) == module.__name__]
    assert sorted(pages.pop(module.__name__, [])) == sorted(defined), module.__name__
  assert pages == {}


def test_docs_site_builds_strictly(tmp_path):
  mkdocs = shutil.which("mkdocs", path=os.path.dirname(sys.executable))
  if mkdocs is None:
    pytest.skip("mkdocs is not installed (pip install -e '.[test]')")
  env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
  done = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
                        check=False, cwd=ROOT, capture_output=True, text=True, timeout=300,
                        env=env)
  assert done.returncode == 0, done.stdout + done.stderr
  site = tmp_path / "site"
  assert (site / "api" / "index.html").stat().st_size > 100_000
  # The maths renders offline: MathJax ships inside the site and every page loads it.
  assert (site / "javascripts" / "mathjax" / "tex-svg.js").stat().st_size > 1_000_000
  adam_page = (site / "families" / "adam" / "index.html").read_text()
  assert "javascripts/mathjax/tex-svg.js" in adam_page and "arithmatex" in adam_page
