"""Griffe extension: the docs show the argument texts `jaxopt_notes._docargs` fills in.

Griffe reads docstrings from the source, where a function decorated with ``@shared_args``
describes only its own arguments; the shared ones are added when the module is imported.
For each such function or NamedTuple this extension imports the object and uses the
docstring ``help()`` shows. List it before ``DocstringMaths`` so the maths fixes apply to
the shared texts too.
"""

import importlib
import inspect
import os
import sys

import griffe

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _live(obj):
  """The imported object behind a module-level griffe function or class, else None."""
  if not obj.parent or not obj.parent.is_module:
    return None
  if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # this checkout, not an installed copy
  module = importlib.import_module(obj.parent.path)
  if not os.path.abspath(module.__file__).startswith(ROOT + os.sep):
    raise RuntimeError(f"{obj.parent.path} was imported from {module.__file__}, not {ROOT}")
  return getattr(module, obj.name, None)


class SharedArgs(griffe.Extension):
  """Replaces the source docstring of each ``@shared_args`` object by its completed one."""

  def _complete(self, obj):
    if not any("shared_args" in str(d.value) for d in obj.decorators or ()):
      return
    live = _live(obj)
    if live is None or not getattr(live, "__shared_args__", False):
      return
    text = inspect.getdoc(live)
    if obj.docstring is None:
      obj.docstring = griffe.Docstring(text, parent=obj)
    else:
      obj.docstring.value = text

  def on_function_instance(self, *, func, **kwargs):  # noqa: ARG002 (griffe passes more)
    self._complete(func)

  def on_class_instance(self, *, cls, **kwargs):  # noqa: ARG002
    self._complete(cls)
