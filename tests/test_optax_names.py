"""optax's public surface, namespace by namespace, read from the installed optax.

Two promises are checked: every public name of optax is here under the same
namespace (the only allowed gaps are listed, with reasons, in
docs/migrating_from_optax.md under "Names not provided"), and every callable
both libraries have accepts optax's parameter names with optax's defaults, and
every state class keeps optax's fields (the allowed differences are listed under
"Signature differences" in the same page).
"""

import enum
import importlib
import inspect
import math
import os
import re
import types
import typing
import warnings

import pytest

NAMESPACES = [
  "",
  "contrib",
  "transforms",
  "schedules",
  "projections",
  "tree",
  "tree_utils",
  "losses",
  "second_order",
  "microbatching",
  "perturbations",
  "assignment",
]
# optax's top level also holds these namespaces as attributes; `experimental` has no public names.
SUBPACKAGES = [ns for ns in NAMESPACES if ns]

MIGRATING = os.path.join(os.path.dirname(__file__), "..", "docs", "migrating_from_optax.md")


def _module(root, ns):
  module = importlib.import_module(root + ("." + ns if ns else ""))
  top = importlib.import_module(root)
  # An editable install of another checkout can supply a subpackage this one lacks.
  if not os.path.realpath(module.__file__).startswith(
    os.path.dirname(os.path.realpath(top.__file__))
  ):
    raise ImportError(f"{module.__name__} comes from another checkout: {module.__file__}")
  return module


def _quietly(module, name):
  """``getattr`` that tolerates optax's deprecation warnings (warnings are errors here)."""
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    return getattr(module, name)


def optax_public(ns):
  """optax's public names in ``ns``: its ``__all__`` and every public attribute but modules."""
  module = _module("optax", ns)
  names = set(getattr(module, "__all__", ()))
  names |= {
    n
    for n in dir(module)
    if not n.startswith("_") and not isinstance(getattr(module, n), types.ModuleType)
  }
  if not ns:
    names |= set(SUBPACKAGES)
  return names


def _documented(heading):
  """The ``ns.name`` entries of a section of the migration page (``* `ns.name`: reason``)."""
  with open(MIGRATING) as f:
    text = f.read()
  match = re.search(rf"^## {heading}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
  assert match, f"docs/migrating_from_optax.md has no '## {heading}' section"
  return set(re.findall(r"^\* `([\w.]+)`", match.group(1), re.MULTILINE))


def _qualified(ns, name):
  return f"{ns}.{name}" if ns else name


@pytest.mark.parametrize("ns", NAMESPACES, ids=lambda ns: ns or "top")
def test_every_optax_name_is_here(ns):
  allowed = _documented("Names not provided")
  try:
    ours = _module("jaxopt_notes", ns)
  except ImportError:
    have = set()
  else:
    have = set(dir(ours))
  missing = sorted(
    n for n in optax_public(ns) if n not in have and _qualified(ns, n) not in allowed
  )
  assert missing == [], f"jaxopt_notes{'.' + ns if ns else ''} lacks optax's {missing}"


@pytest.mark.parametrize("ns", NAMESPACES, ids=lambda ns: ns or "top")
def test_each_namespace_declares_all(ns):
  try:
    ours = _module("jaxopt_notes", ns)
  except ImportError:
    pytest.skip(f"jaxopt_notes.{ns} does not exist yet")
  exported = getattr(ours, "__all__", None)
  assert exported is not None
  assert [n for n in exported if not hasattr(ours, n)] == []


# ------------------------------------------------------------------ signatures


def _same_default(a, b):
  if a is b:
    return True
  # A default that is a function, or a transform (a tuple of functions), is built by each
  # library for itself: it cannot be the same object; what it computes is checked by
  # the numerical comparisons with optax (test_optax_oracle.py).
  if callable(a) and callable(b) and not isinstance(a, type):
    return True
  if type(a).__name__ == type(b).__name__ and isinstance(a, tuple) and all(map(callable, a)):
    return True
  if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
    return True
  # An enum member (microbatching's AccumulationType) or a plain object (perturbations'
  # Gumbel noise) is an instance of each library's own class: same class name, same value.
  if isinstance(a, enum.Enum) and isinstance(b, enum.Enum):
    return (type(a).__name__, a.name, a.value) == (type(b).__name__, b.name, b.value)
  if type(a).__name__ == type(b).__name__ and hasattr(a, "__dict__") and hasattr(b, "__dict__"):
    return vars(a) == vars(b)
  try:
    same = a == b
    return bool(same) if isinstance(same, bool) or not hasattr(same, "shape") else False
  except Exception:  # noqa: BLE001 - arrays and exotic objects: fall back to their repr
    return repr(a) == repr(b)


def _is_protocol(obj):
  return isinstance(obj, type) and getattr(obj, "_is_protocol", False)


def _signature_problems(theirs, ours):
  """How ``ours`` fails to accept every call ``theirs`` accepts (an empty list if it does)."""
  try:
    sig_t, sig_o = inspect.signature(theirs), inspect.signature(ours)
  except (TypeError, ValueError):
    return []
  problems = []
  kind = inspect.Parameter
  p_t, p_o = list(sig_t.parameters.values()), list(sig_o.parameters.values())
  positional_o = [
    p.name for p in p_o if p.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)
  ]
  named_o = {p.name: p for p in p_o}
  var_o = {p.kind for p in p_o if p.kind in (kind.VAR_POSITIONAL, kind.VAR_KEYWORD)}
  for i, p in enumerate(
    x for x in p_t if x.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)
  ):
    if i >= len(positional_o) or positional_o[i] != p.name:
      if kind.VAR_POSITIONAL not in var_o:
        problems.append(f"positional {i} is {p.name!r} in optax")
  for p in p_t:
    if p.kind in (kind.VAR_POSITIONAL, kind.VAR_KEYWORD):
      if p.kind not in var_o:
        problems.append(f"no {'*' if p.kind == kind.VAR_POSITIONAL else '**'}{p.name}")
      continue
    mine = named_o.get(p.name)
    if mine is None:
      if kind.VAR_KEYWORD not in var_o:
        problems.append(f"no parameter {p.name!r}")
      continue
    if p.kind != kind.POSITIONAL_ONLY and mine.kind == kind.POSITIONAL_ONLY:
      problems.append(f"{p.name!r} is positional-only here")
    if p.default is not kind.empty and mine.default is kind.empty:
      problems.append(f"{p.name!r} is required here; optax's default is {p.default!r}")
    elif p.default is not kind.empty and not _same_default(p.default, mine.default):
      problems.append(f"{p.name!r} default {mine.default!r}, optax {p.default!r}")
  optax_names = {p.name for p in p_t}
  for p in p_o:
    if p.name not in optax_names and p.kind not in (kind.VAR_POSITIONAL, kind.VAR_KEYWORD):
      if p.default is kind.empty:
        problems.append(f"extra required parameter {p.name!r}")
  return problems


def _pairs():
  for ns in NAMESPACES:
    try:
      ours = _module("jaxopt_notes", ns)
    except ImportError:
      continue
    for name in sorted(optax_public(ns)):
      if name in SUBPACKAGES and not ns or not hasattr(ours, name):
        continue
      yield ns, name, _quietly(_module("optax", ns), name), getattr(ours, name)


def signature_mismatches():
  """``{ns.name: [problem, ...]}`` over every callable and state class both libraries have."""
  found = {}
  for ns, name, theirs, ours in _pairs():
    if hasattr(theirs, "_fields"):
      fields = list(getattr(ours, "_fields", ()))
      if list(theirs._fields) != fields[: len(theirs._fields)]:
        found[_qualified(ns, name)] = [f"fields {fields}, optax {list(theirs._fields)}"]
      continue
    if not callable(theirs) or _is_protocol(theirs) or typing.get_origin(theirs) is not None:
      continue
    problems = _signature_problems(theirs, ours)
    if problems:
      found[_qualified(ns, name)] = problems
  return found


def test_signatures_and_state_fields_match_optax():
  allowed = _documented("Signature differences")
  found = signature_mismatches()
  unexplained = {k: v for k, v in found.items() if k not in allowed}
  assert unexplained == {}
  # An entry in the list that no longer differs is stale.
  assert sorted(k for k in allowed if k not in found) == []


if __name__ == "__main__":  # the per-namespace counts: python tests/test_optax_names.py
  for ns in NAMESPACES:
    try:
      have = set(dir(_module("jaxopt_notes", ns)))
    except ImportError:
      have = set()
    names = optax_public(ns)
    missing = sorted(names - have)
    print(
      f"{ns or 'top'}: optax {len(names)}, ours {len(names) - len(missing)}, "
      f"missing {len(missing)}: {' '.join(missing)}"
    )
  for key, problems in sorted(signature_mismatches().items()):
    print(key, problems)
