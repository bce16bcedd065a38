"""The package reads as one library: no module reaches another module's private names.

A name with a leading underscore is private to the module that defines it. A helper that
other modules need gets a public name in a (private) module whose name says what it holds,
e.g. ``_tree.map``, never ``_tree._map``. Private modules themselves (``_tree``, ``_numerics``,
``optimizers._adam``) may be imported anywhere inside the package.
"""

import ast
import pathlib
import sys

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "jaxopt_notes"
ROOT = PACKAGE.parent


def _private(name: str) -> bool:
  return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_path(dotted: str) -> pathlib.Path | None:
  """The file or package of a module of the package (``jaxopt_notes.x.y``), else None."""
  parts = dotted.split(".")
  if parts[0] != PACKAGE.name:
    return None
  base = ROOT.joinpath(*parts)
  if (base / "__init__.py").is_file():
    return base / "__init__.py"
  if base.with_suffix(".py").is_file():
    return base.with_suffix(".py")
  return None


def _dotted_name(path: pathlib.Path) -> str:
  parts = list(path.relative_to(ROOT).with_suffix("").parts)
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, path: pathlib.Path) -> str:
  """The absolute module an ``ImportFrom`` reads from."""
  if not node.level:
    return node.module or ""
  package = _dotted_name(path).split(".")
  if path.name != "__init__.py":
    package = package[:-1]
  package = package[: len(package) - node.level + 1]
  return ".".join(package + ([node.module] if node.module else []))


def reach_ins(path: pathlib.Path) -> list[str]:
  """``file:line: what`` for each private name of another package module used in ``path``."""
  tree = ast.parse(path.read_text(), filename=str(path))
  where = path.relative_to(ROOT)
  found = []
  modules = {}  # local name -> dotted name of an imported package module
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        if _module_path(alias.name):
          modules[alias.asname or alias.name.split(".")[0]] = (
            alias.name if alias.asname else alias.name.split(".")[0]
          )
    elif isinstance(node, ast.ImportFrom):
      source = _absolute(node, path)
      if not _module_path(source):
        continue
      for alias in node.names:
        if _module_path(f"{source}.{alias.name}"):  # a submodule, private or not
          modules[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif _private(alias.name):
          found.append(f"{where}:{node.lineno}: from {source} import {alias.name}")
  for node in ast.walk(tree):
    if not isinstance(node, ast.Attribute) or not _private(node.attr):
      continue
    chain = []
    base = node
    while isinstance(base, ast.Attribute):
      chain.append(base.attr)
      base = base.value
    if not isinstance(base, ast.Name) or base.id not in modules:
      continue
    dotted = modules[base.id]
    for attr in reversed(chain):  # walk down submodules to the first non-module name
      if _module_path(f"{dotted}.{attr}"):
        dotted = f"{dotted}.{attr}"
        continue
      if _private(attr) and dotted != _dotted_name(path):
        found.append(f"{where}:{node.lineno}: {dotted}.{attr}")
      break
  return found


def test_no_private_reach_ins():
  found = sorted({hit for path in sorted(PACKAGE.rglob("*.py")) for hit in reach_ins(path)})
  assert not found, (
    "private names used outside their module (give the helper a public name "
    "in a module named for what it holds):\n" + "\n".join(found)
  )


def test_the_check_sees_a_reach_in(tmp_path, monkeypatch):
  """The scanner flags both forms, and passes imports of private modules and public names."""
  package = tmp_path / PACKAGE.name
  (package / "sub").mkdir(parents=True)
  (package / "__init__.py").write_text("")
  (package / "sub" / "__init__.py").write_text("")
  (package / "_helpers.py").write_text("def _hidden(): pass\ndef shown(): pass\n")
  bad = package / "sub" / "_user.py"
  bad.write_text(
    "from .. import _helpers\n"
    "from .._helpers import _hidden, shown\n"
    "import jaxopt_notes._helpers as h\n"
    "a = _helpers._hidden, _helpers.shown, h._hidden, _helpers.__name__\n"
  )
  monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
  monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
  assert reach_ins(bad) == [
    "jaxopt_notes/sub/_user.py:2: from jaxopt_notes._helpers import _hidden",
    "jaxopt_notes/sub/_user.py:4: jaxopt_notes._helpers._hidden",
    "jaxopt_notes/sub/_user.py:4: jaxopt_notes._helpers._hidden",
  ]
