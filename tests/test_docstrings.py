"""Every parameter of every public callable has an ``Args:`` entry in its docstring.

"Public callable": a function or class named in the ``__all__`` of ``jaxopt_notes`` or of one
of its subpackages, as ``help()`` shows it (``inspect.getdoc``, so the shared argument texts
filled in by ``jaxopt_notes._docargs`` count). A class's parameters are its constructor's; a
NamedTuple (the optimizer states) lists its fields under ``Attributes:`` instead (a dataclass
under either), and a Protocol the arguments of the call it describes.

Run as a script (``PYTHONPATH=$PWD python tests/test_docstrings.py``) to print, per namespace,
how many callables document every parameter.
"""

import dataclasses
import enum
import importlib
import inspect
import re

from jaxopt_notes._docargs import SHARED, shared_args

NAMESPACES = (
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
  "kronecker",
  "optimizers",
  "testing",
)


_SECTION = re.compile(r"^(\w[\w ]*):\s*$")
_ENTRY = re.compile(r"^(\*{0,2}\w+)(?: \([^)]*\))?:(?:\s|$)")


def namespaces():
  """``{dotted name: module}`` for the public namespaces that declare ``__all__``."""
  out = {}
  for name in NAMESPACES:
    module = importlib.import_module("jaxopt_notes" + ("." + name if name else ""))
    if hasattr(module, "__all__"):
      out[name or "jaxopt_notes"] = module
  return out


def _is_namedtuple(obj):
  return isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")


def _has_fields(obj):
  """A NamedTuple or a dataclass: its parameters are fields, listed under ``Attributes:``."""
  return _is_namedtuple(obj) or (isinstance(obj, type) and dataclasses.is_dataclass(obj))


def _is_protocol(obj):
  return isinstance(obj, type) and getattr(obj, "_is_protocol", False)


def parameters(obj):
  """The names an ``Args:`` (or, for a NamedTuple, ``Attributes:``) section must list: a
  Protocol's are those of the call it describes (it is never constructed)."""
  if _is_namedtuple(obj):
    return list(obj._fields)
  try:
    sig = inspect.signature(obj.__call__ if _is_protocol(obj) else obj)
  except (TypeError, ValueError):
    return []
  names = []
  for p in list(sig.parameters.values())[1 if _is_protocol(obj) else 0 :]:
    if p.kind is p.VAR_POSITIONAL:
      names.append("*" + p.name)
    elif p.kind is p.VAR_KEYWORD:
      names.append("**" + p.name)
    else:
      names.append(p.name)
  return names


def documented(doc, section):
  """The entry names of ``section`` ("Args", "Attributes") in a cleaned docstring."""
  names, inside, indent = [], False, None
  for line in (doc or "").splitlines():
    if not line.strip():
      continue
    if not line.startswith(" "):
      match = _SECTION.match(line)
      inside = bool(match) and match.group(1) in (section, section.rstrip("s"))
      indent = None
      continue
    if inside:
      stripped = line.lstrip(" ")
      width = len(line) - len(stripped)
      indent = width if indent is None else indent
      if width == indent:
        entry = _ENTRY.match(stripped)
        if entry:
          names.append(entry.group(1))
  return names


def _counted(obj):
  """Functions and classes of this package. Left out: names of other packages (type aliases
  such as ``OptState = typing.Any``) and Enums (called only to look a member up by value)."""
  if not (inspect.isfunction(obj) or isinstance(obj, type)):
    return False
  if not getattr(obj, "__module__", "").startswith("jaxopt_notes"):
    return False
  return not (isinstance(obj, type) and issubclass(obj, enum.Enum))


def callables():
  """``[(namespace, public name, object)]`` for every public callable that takes parameters."""
  out = []
  for ns, module in namespaces().items():
    for name in module.__all__:
      obj = getattr(module, name)
      if _counted(obj) and parameters(obj):
        out.append((ns, name, obj))
  return out


def problems(obj):
  """``(missing, unknown)``: parameters without an entry, and entries naming no parameter."""
  section = "Attributes" if _is_namedtuple(obj) else "Args"
  want = parameters(obj)
  have = documented(inspect.getdoc(obj), section)
  if _has_fields(obj) and not _is_namedtuple(obj):  # a dataclass: fields or arguments
    have += documented(inspect.getdoc(obj), "Attributes")
  if _is_protocol(obj):  # its call may be documented on ``__call__``
    have += documented(inspect.getdoc(obj.__call__), section)
  bare = {w.lstrip("*") for w in want}
  missing = [w for w in want if w not in have and w.lstrip("*") not in have]
  unknown = [h for h in have if h.lstrip("*") not in bare]
  return missing, unknown


def _label(ns, name):
  return name if ns == "jaxopt_notes" else f"{ns}.{name}"


def _first_labels():
  """One label per distinct object: the first public name it has."""
  seen = {}
  for ns, name, obj in callables():
    seen.setdefault(id(obj), (_label(ns, name), obj))
  return list(seen.values())


def test_every_parameter_of_every_public_callable_has_an_args_entry():
  offenders = {}
  for label, obj in _first_labels():
    missing, _ = problems(obj)
    if missing:
      offenders[label] = missing
  assert offenders == {}, f"{len(offenders)} public callables lack Args entries: {offenders}"


def test_no_args_entry_names_a_parameter_that_does_not_exist():
  unknown = {label: problems(obj)[1] for label, obj in _first_labels()}
  assert {k: v for k, v in unknown.items() if v} == {}


def test_a_missing_and_an_unknown_entry_are_found():
  def f(a, b, *rest, **kw):
    """Summary.

    Args:
      a: one.
      c: no such parameter.
      **kw: extras.
    """

  assert problems(f) == (["b", "*rest"], ["c"])


def test_shared_texts_fill_in_what_a_docstring_leaves_out():
  def g(learning_rate, eps, mine):
    """Summary.

    Args:
      mine: mine.
      eps: my own eps.

    Returns:
      Nothing.
    """

  doc = inspect.getdoc(shared_args(g))
  assert documented(doc, "Args") == ["learning_rate", "eps", "mine"]  # signature order
  assert " ".join(SHARED["learning_rate"].split()[:6]) in " ".join(doc.split())
  assert "my own eps" in doc and doc.index("Args:") < doc.index("Returns:")

  @shared_args(like=g)
  def h(eps, mine, mask):
    """Summary."""

  doc = inspect.getdoc(h)
  assert documented(doc, "Args") == ["eps", "mine", "mask"]
  assert "my own eps" in doc and "mine: mine." in doc and "decayed" in doc


def counts():
  """``{namespace: (callables documenting every parameter, callables)}``."""
  out = {}
  for ns, _, obj in callables():
    full, total = out.get(ns, (0, 0))
    out[ns] = (full + (not problems(obj)[0]), total + 1)
  return out


if __name__ == "__main__":
  table = counts()
  for ns, (full, total) in table.items():
    print(f"{ns:<24} {full:>4} / {total:<4}")
  labels = _first_labels()
  full = sum(not problems(obj)[0] for _, obj in labels)
  print(f"{'distinct objects':<24} {full:>4} / {len(labels):<4}")
  print("remaining:", len(labels) - full)
