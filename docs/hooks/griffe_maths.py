"""Griffe extension: docstring maths written for LaTeX readers, made to render on the site.

Docstrings are read in two places, ``help()`` and the docs. Two habits that read well in
the first come out wrong in Python-Markdown + MathJax, so the docs build adjusts them:

* display maths (``$$``) inside a list item indented by two spaces, as Google style
  indents continuation lines: Python-Markdown nests blocks only at four, so the ``$$``
  block fell out of the list as raw text. Such items are re-indented to four spaces.
* ``\\text{a\\_b}``: MathJax's ``\\text`` shows its content verbatim, backslash included;
  an underscore needs no escape there.
"""

import re

import griffe

_ITEM = re.compile(r"[*-] ")
_TEXT = re.compile(r"\\text(?:tt|rm|sf|it|bf|up|md|normal)?\{[^{}]*\}")


def _items(lines):
  """Splits lines into runs: (is_list_item, lines) — an item runs to its next unindented line."""
  runs = []
  for line in lines:
    starts_item = bool(_ITEM.match(line))
    indented = not line.strip() or line.startswith(" ")
    if starts_item or not (runs and runs[-1][0] and indented):
      runs.append((starts_item, []))
    runs[-1][1].append(line)
  return runs


def four_space_display_maths(text: str) -> str:
  """Re-indents list items that hold a ``$$`` block from two spaces to four."""
  out = []
  for is_item, lines in _items(text.split("\n")):
    if is_item and any(re.match(r" {1,3}\$\$", line) for line in lines[1:]):
      lines = [lines[0]] + [("  " + line) if line.startswith("  ") else line for line in lines[1:]]
      if lines[-1].strip():
        lines.append("")  # the next item starts after a blank line, not inside this one
    out.extend(lines)
  return "\n".join(out)


def plain_text_underscores(text: str) -> str:
  """``\\text{a\\_b}`` -> ``\\text{a_b}``."""
  return _TEXT.sub(lambda m: m.group(0).replace("\\_", "_"), text)


class DocstringMaths(griffe.Extension):
  """Applies both adjustments to every docstring the docs load."""

  def on_object(self, *, obj, **kwargs):  # noqa: ARG002 (griffe passes more)
    if obj.docstring is not None:
      obj.docstring.value = plain_text_underscores(four_space_display_maths(obj.docstring.value))
