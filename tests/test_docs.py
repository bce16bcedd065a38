"""The docs: every public name documented, and the site builds offline with no warning."""

import html.parser
import importlib
import inspect
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
from registry import ALIASES

# Public names: the top level's, and those only reachable as jaxopt_notes.projections.X.
PUBLIC = list(jon.__all__) + [
  f"projections.{n}" for n in projections.__all__ if n not in jon.__all__
]

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
    defined = [
      n for n in jon.__all__ if getattr(getattr(jon, n), "__module__", None) == module.__name__
    ]
    assert sorted(pages.pop(module.__name__, [])) == sorted(defined), module.__name__
  assert pages == {}


def _read(*path):
  with open(os.path.join(ROOT, *path)) as f:
    return f.read()


def _section(text, heading):
  """The text under a markdown heading, up to the next heading of the same level."""
  level = heading.split(" ", 1)[0]
  start = text.index(heading + "\n")
  end = text.find(f"\n{level} ", start + len(heading))
  return text[start:] if end < 0 else text[start:end]


def _optimizer_aliases():
  """The registry's aliases and every public function that builds an optimizer from a
  ``learning_rate`` (building blocks ``scale_by_*`` aside)."""
  built = {
    name
    for name in jon.__all__
    if inspect.isfunction(getattr(jon, name))
    and not name.startswith("scale_by_")
    and "learning_rate" in inspect.signature(getattr(jon, name)).parameters
  }
  return ALIASES | built


def test_optimizer_overview_has_a_row_for_every_optimizer():
  rows = {}  # name -> the module cell of its row
  for line in _read("docs", "optimizers.md").splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if line.startswith("| `") and len(cells) >= 2:
      for name in re.findall(r"`(\w+)`", cells[0]):
        rows[name] = cells[1].strip("`")
  assert sorted(_optimizer_aliases() - set(rows)) == []
  for name, module in rows.items():  # the module column names the file that defines it
    defined = getattr(jon, name).__module__.removeprefix("jaxopt_notes.")
    assert module in (defined, defined.removeprefix("optimizers.")), (name, module, defined)


def test_readme_mentions_every_public_name():
  said = set(
    re.findall(r"`(?:jaxopt_notes\.)?(\w+)", _section(_read("README.md"), "## What is in it"))
  )
  assert [n for n in jon.__all__ if n not in said] == []


def test_readme_layout_names_every_subpackage_and_script():
  layout = _section(_read("README.md"), "## Layout")
  package = os.path.join(ROOT, "jaxopt_notes")
  for name in sorted(os.listdir(package)):
    if os.path.exists(os.path.join(package, name, "__init__.py")):
      assert f"`{name}/`" in layout, name
  for folder in ("examples", "benchmarks"):
    for script in sorted(os.listdir(os.path.join(ROOT, folder))):
      if script.endswith(".py"):
        assert f"`{script}`" in layout, script


def _optax_names():
  """Every name optax defines at its top level or in any public namespace."""
  optax = pytest.importorskip("optax")
  names = set(dir(optax))
  for info in pkgutil.walk_packages(optax.__path__, "optax."):
    if any(part.startswith("_") or "test" in part for part in info.name.split(".")[1:]):
      continue
    try:
      names |= set(dir(importlib.import_module(info.name)))
    except ImportError:  # a namespace needing an optional dependency
      continue
  return names


def test_migration_guide_lists_every_addition():
  added = [n for n in jon.__all__ if n not in _optax_names()]
  said = set(re.findall(r"`(\w+)", _section(_read("docs", "migrating_from_optax.md"), "## Added")))
  assert [n for n in added if n not in said] == []


def test_examples_gallery_lists_every_script():
  page = _read("docs", "examples.md")
  for folder in ("examples", "benchmarks"):
    for script in sorted(os.listdir(os.path.join(ROOT, folder))):
      if script.endswith(".py"):
        assert f"`{script}`" in page or f"`{folder}/{script}`" in page, script
  for image in re.findall(r"\]\((images/[\w.]+)\)", page):
    assert os.path.exists(os.path.join(ROOT, "docs", image)), image


def test_pages_name_their_sources():
  """The study notes are named by subject ("the study notes on momentum"), never by their
  internal numbers ("seed 003"), which no reader can look up: in the docs, the README, and
  the docstrings and examples the site and the demo show."""
  pages = [("README.md",)] + [
    (top, *os.path.relpath(os.path.join(d, f), os.path.join(ROOT, top)).split(os.sep))
    for top, ending in (("docs", ".md"), ("jaxopt_notes", ".py"), ("examples", ".py"))
    for d, _, files in os.walk(os.path.join(ROOT, top))
    for f in files
    if f.endswith(ending)
  ]
  jargon = {
    os.path.join(*page): re.findall(r"(?i)\bseeds?(?: \d{3}\b|'s?)|the seed says", _read(*page))
    for page in pages
  }
  assert {page: found for page, found in jargon.items() if found} == {}


def test_getting_started_runs(tmp_path):
  """The page's python blocks, in order, as one script in a fresh process (float32, as users
  run it)."""
  pytest.importorskip("flax")
  blocks = re.findall(
    r"^```python\n(.*?)^```", _read("docs", "getting_started.md"), re.DOTALL | re.MULTILINE
  )
  assert len(blocks) >= 4
  script = tmp_path / "getting_started.py"
  script.write_text("\n\n".join(blocks))
  env = dict(os.environ, PYTHONPATH=os.path.abspath(ROOT), JAX_PLATFORMS="cpu")
  env.pop("JAX_ENABLE_X64", None)
  done = subprocess.run(
    [sys.executable, str(script)],
    check=False,
    cwd=tmp_path,
    capture_output=True,
    text=True,
    timeout=300,
    env=env,
  )
  assert done.returncode == 0, done.stdout + done.stderr
  assert "loss" in done.stdout


class _Text(html.parser.HTMLParser):
  """A page's text, split into the maths MathJax typesets (inside ``arithmatex`` elements)
  and the prose around it; code, scripts and styles left out."""

  SKIP = {"script", "style", "code", "pre", "textarea"}
  VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
  }

  def __init__(self):
    super().__init__(convert_charrefs=True)
    self.open, self.prose, self.maths = [], [], []

  def handle_starttag(self, tag, attrs):
    if tag not in self.VOID:
      self.open.append((tag, "arithmatex" in (dict(attrs).get("class") or "").split()))

  def handle_endtag(self, tag):
    while self.open and self.open.pop()[0] != tag:
      pass

  def handle_data(self, data):
    if not any(tag in self.SKIP for tag, _ in self.open):
      in_maths = any(maths for _, maths in self.open)
      (self.maths if in_maths else self.prose).append(data)


def maths_problems(page_html):
  """What a reader would see as broken maths: dollars left as text, ``\\_`` shown literally."""
  text = _Text()
  text.feed(page_html)
  prose = "".join(text.prose)
  problems = [
    f"raw maths: {prose[max(0, m.start() - 40) : m.end() + 40]!r}"
    for m in re.finditer(r"\$+", prose)
  ]
  texts = re.findall(r"\\text[a-z]*\{[^{}]*\}", "".join(text.maths))
  problems += [f"backslash shown: {t}" for t in texts if "\\_" in t]
  return problems


def test_maths_problems_are_found():
  ok = '<p>a <span class="arithmatex">\\(\\text{a_b}\\)</span> <code>$x</code></p>'
  assert maths_problems(ok) == []
  assert len(maths_problems("<p>$$\nr = 1\n$$</p>")) == 2
  assert len(maths_problems("<p>with $r = $ <code>c</code></p>")) == 2
  assert len(maths_problems('<span class="arithmatex">\\(\\text{a\\_b}\\)</span>')) == 1


def test_docs_site_builds_strictly(tmp_path):
  mkdocs = shutil.which("mkdocs", path=os.path.dirname(sys.executable))
  if mkdocs is None:
    pytest.skip("mkdocs is not installed (pip install -e '.[test]')")
  env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
  done = subprocess.run(
    [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
    check=False,
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
    env=env,
  )
  assert done.returncode == 0, done.stdout + done.stderr
  site = tmp_path / "site"
  assert (site / "api" / "index.html").stat().st_size > 100_000
  # The maths renders offline: MathJax ships inside the site and every page loads it.
  assert (site / "javascripts" / "mathjax" / "tex-svg.js").stat().st_size > 1_000_000
  adam_page = (site / "families" / "adam" / "index.html").read_text()
  assert "javascripts/mathjax/tex-svg.js" in adam_page and "arithmatex" in adam_page
  # The argument texts jaxopt_notes._docargs fills in at import reach the pages too.
  assert "dtype in which the first moment (momentum) is stored" in adam_page
  # Every page's maths reaches MathJax: no dollars left as text, no "\\_" shown.
  problems = {
    str(page.relative_to(site)): maths_problems(page.read_text())
    for page in site.rglob("index.html")
  }
  assert {page: found for page, found in problems.items() if found} == {}
  # Findable: a sitemap of every page, and the source linked from the home page.
  sitemap = (site / "sitemap.xml").read_text()
  assert sitemap.count("<loc>") >= len(problems) - 1 and "<loc>https://" in sitemap
  assert "https://github.com/jaxopt-notes/jaxopt_notes" in (site / "index.html").read_text()
