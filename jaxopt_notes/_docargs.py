"""Argument texts shared by many public callables, written once.

A docstring's ``Args:`` section lists what is particular to its function; the decorator
`shared_args` adds an entry for every other parameter that has a text in `SHARED`, in the
order of the signature (for a NamedTuple: its fields, under ``Attributes:``). An entry
written in the docstring wins over the shared text, so a function whose argument means
something else just describes it. ``@shared_args(like=scale_by_x)`` first borrows the
entries of another documented callable with the same arguments (an alias from its
``scale_by_x``). The function itself is returned unchanged; only its ``__doc__`` is
completed, which ``help()``, IDEs and ``inspect.getdoc`` show, and the docs site reads
through docs/hooks/griffe_shared_args.py. Use::

  from jaxopt_notes._docargs import shared_args

  @shared_args
  def scale_by_x(b1=0.9, eps=1e-8, my_knob=1.0):
    \"\"\"One-line summary.

    Args:
      my_knob: what only this optimizer has.
    \"\"\"

  @shared_args(like=scale_by_x)
  def x(learning_rate, b1=0.9, eps=1e-8, my_knob=1.0):
    \"\"\"One-line summary (``learning_rate``, ``b1`` and ``eps`` from `SHARED`).\"\"\"
"""

import dataclasses
import inspect
import re
import textwrap
import types

_BETA = (
  "decay rate of the exponential moving average of the {what}, in [0, 1]; its "
  "memory is about ``1 / (1 - {name})`` steps."
)

SHARED = types.MappingProxyType(
  {
    # ---- optimizer hyperparameters
    "learning_rate": (
      "the step size $\\eta$: a number, a traced array or a schedule ``step -> rate`` "
      "(steps count from 0). The update is the direction times ``-learning_rate``."
    ),
    "b1": _BETA.format(what="gradient (the first moment $m_t$, momentum)", name="b1"),
    "b2": _BETA.format(what="squared gradient (the second moment $v_t$)", name="b2"),
    "eps": ("added to the denominator *outside* the square root, ``g / (sqrt(v) + eps)``; >= 0."),
    "eps_root": (
      "added to the denominator *inside* the square root, "
      "``g / sqrt(v + eps_root)``; >= 0. With ``eps`` it gives either convention "
      "found in papers; a positive value keeps the derivative of the update "
      "finite where ``v`` is zero (meta-learning)."
    ),
    "weight_decay": (
      "coefficient $\\lambda$ of decoupled weight decay: ``weight_decay * params`` is added "
      "to the direction before it is scaled by the learning rate, so each step also "
      "subtracts ``learning_rate * weight_decay * params``; 0 turns it off."
    ),
    "mask": (
      "which params are decayed: a tree of booleans with the params' structure (or a "
      "prefix of it), or a function of the params returning one; True means decayed. "
      "``None`` decays every leaf."
    ),
    "weight_decay_mask": (
      "which params are decayed: a tree of booleans with the params' "
      "structure (or a prefix of it), or a function of the params "
      "returning one; ``None`` decays every leaf."
    ),
    "mu_dtype": (
      "dtype in which the first moment (momentum) is stored, e.g. "
      "``jnp.bfloat16`` to halve its memory; ``None`` keeps each param's dtype. "
      "The update keeps the gradient's dtype either way."
    ),
    "nu_dtype": (
      "dtype in which the second moment is stored (keyword-only, after optax's "
      "arguments), e.g. ``jnp.bfloat16``; ``None`` keeps each param's dtype. For "
      "8-bit or 4-bit moments wrap the optimizer in `low_bit_state`."
    ),
    "factors_dtype": (
      "dtype in which Adafactor's second-moment statistics (the row and column factors, "
      "and the full moments of leaves not factored) are stored (keyword-only, after optax's "
      "arguments), e.g. ``jnp.bfloat16``; ``None`` keeps each param's dtype (float32 for "
      "float16 params). They are computed in at least float32 either way."
    ),
    "accumulator_dtype": (
      "dtype in which the accumulator is stored; ``None`` keeps each param's dtype."
    ),
    # ---- the AdamW part of Muon-like methods (the leaves they do not orthogonalise)
    "adam_b1": "``b1`` of AdamW on the other leaves.",
    "adam_b2": "``b2`` of AdamW on the other leaves.",
    "adam_eps_root": "``eps_root`` of AdamW on the other leaves.",
    "adam_weight_decay": "``weight_decay`` of AdamW on the other leaves.",
    "adam_learning_rate": (
      "the learning rate of AdamW on the other leaves; ``None`` uses ``learning_rate``."
    ),
    "nesterov": (
      "use Nesterov's look-ahead momentum: the step uses the momentum as it will "
      "be after this gradient, not as it was before."
    ),
    # ---- schedules
    "warmup_steps": (
      "the number of steps of the linear warmup from ``init_value`` to ``peak_value``; >= 0."
    ),
    "transition_begin": (
      "the number of steps the value stays at its initial value before the transition starts; >= 0."
    ),
    "decay_rate": (
      "the factor $r$ the value is multiplied by every ``transition_steps`` "
      "steps; >= 0 (> 1 grows it)."
    ),
    "staircase": (
      "apply the decay in discrete jumps, every ``transition_steps`` steps, "
      "instead of continuously."
    ),
    "exponent": "the power $e$ of the cosine factor; 1 is the plain half cosine.",
    # ---- the arguments of ``update`` and of functions of the same shape
    "updates": (
      "the incoming updates (gradients, or the output of an earlier transform), a "
      "pytree shaped like the params."
    ),
    "state": "the transform's state, as ``init`` or the previous ``update`` returned it.",
    "extra_args": (
      "keyword extras of ``update`` (such as ``value=loss``), for transforms that use them."
    ),
    # ---- fields of the states (NamedTuples)
    "count": "int32 number of updates taken, saturating at its maximum instead of wrapping.",
    "mu": "the first moment (exponential moving average of the gradient), shaped like params.",
    "nu": (
      "the second moment (exponential moving average of the squared gradient), shaped like params."
    ),
    "inner_state": "the state of the wrapped transform.",
    # ---- trees
    "tree": "a pytree of arrays.",
    "tree_x": "a pytree of arrays.",
    "tree_y": "a pytree of arrays with the structure of ``tree_x``.",
  }
)

_HEAD = re.compile(r"^(\w[\w ]*):\s*$")
_ENTRY = re.compile(r"^(\*{0,2}\w+)(?: \([^)]*\))?:(?:\s|$)")
_AFTER_ARGS = re.compile(r"^(Returns|Yields|Raises|Examples?|References?|Notes?|See Also):")
_WIDTH = 96


def _names(obj):
  """Parameter names in order, ``*``/``**`` marking var-args (a NamedTuple: its fields)."""
  if isinstance(obj, type) and hasattr(obj, "_fields"):
    return list(obj._fields)
  names = []
  for p in inspect.signature(obj).parameters.values():
    prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
    names.append(prefix + p.name)
  return names


def _entries(body):
  """Splits the lines of a section body into ``{name: lines}`` (an entry and its
  continuation lines), keeping their order."""
  out, indent, name = {}, None, None
  for line in body:
    width = len(line) - len(line.lstrip(" "))
    indent = width if indent is None and line.strip() else indent
    match = _ENTRY.match(line.strip()) if line.strip() and width == indent else None
    if match:
      name = match.group(1)
      out[name] = [line]
    elif name is not None:
      out[name].append(line)
  for lines in out.values():
    while not lines[-1].strip():
      lines.pop()
  return out


def _shared_entry(name, indent):
  return textwrap.fill(
    f"{name}: {SHARED[name.lstrip('*')]}",
    width=_WIDTH,
    initial_indent=" " * indent,
    subsequent_indent=" " * (indent + 2),
  )


def _section(lines, section):
  """``(start, stop)``: the header line of ``section`` and the end of its body, or None."""
  start = next(
    (
      i
      for i, line in enumerate(lines)
      if _HEAD.match(line) and _HEAD.match(line).group(1) == section
    ),
    None,
  )
  if start is None:
    return None
  stop = start + 1
  while stop < len(lines) and (not lines[stop].strip() or lines[stop].startswith(" ")):
    stop += 1
  return start, stop


def fill_args(doc, names, section="Args", like=None):
  """``doc`` (a cleaned docstring) with an entry for each of ``names`` that it lacks, merged
  into its ``section`` in the order of ``names``: the entry of the first docstring of ``like``
  (cleaned, e.g. that of the function whose arguments these are) that has one, else the
  `SHARED` text."""
  lines = doc.splitlines()
  if _section(lines, section) is None:
    end = next((i for i, line in enumerate(lines) if _AFTER_ARGS.match(line)), len(lines))
    while end > 0 and not lines[end - 1].strip():
      end -= 1
    lines[end:end] = ["", f"{section}:", ""] if end < len(lines) else ["", f"{section}:"]
  start, stop = _section(lines, section)
  written = _entries(lines[start + 1 : stop])
  borrowed = {}
  for other in reversed(like or ()):  # the first of ``like`` wins
    other = other.splitlines()
    found = _section(other, section)
    borrowed.update(_entries(other[found[0] + 1 : found[1]]) if found else {})
  indent = 2
  if written:
    first = next(iter(written.values()))[0]
    indent = len(first) - len(first.lstrip(" "))
  merged = []
  for name in names:
    bare = name.lstrip("*")
    for source in (written, borrowed):
      if name in source or bare in source:
        merged.extend(source.pop(name if name in source else bare))
        break
    else:
      if bare in SHARED:
        merged.extend(_shared_entry(name, indent).splitlines())
  for rest in written.values():  # entries naming no parameter: kept, for the test to find
    merged.extend(rest)
  while merged and not merged[-1].strip():
    merged.pop()
  if stop < len(lines):
    merged.append("")
  lines[start + 1 : stop] = merged
  return "\n".join(lines)


def shared_args(obj=None, *, like=None):
  """Completes ``obj.__doc__`` with an entry for each parameter it does not describe: that of
  ``like`` (another documented callable taking the same arguments, e.g. ``scale_by_x`` for
  ``x``; or a tuple of them, the first with an entry wins) where it has one, else the
  `SHARED` text; returns ``obj`` itself. Works on functions, NamedTuple classes and
  dataclasses (their fields, under ``Attributes:``). ``@shared_args`` or
  ``@shared_args(like=scale_by_x)``."""
  if obj is None:
    return lambda o: shared_args(o, like=like)
  fields = isinstance(obj, type) and (hasattr(obj, "_fields") or dataclasses.is_dataclass(obj))
  section = "Attributes" if fields else "Args"
  likes = like if isinstance(like, tuple) else () if like is None else (like,)
  others = [inspect.getdoc(o) or "" for o in likes]
  obj.__doc__ = fill_args(inspect.cleandoc(obj.__doc__ or ""), _names(obj), section, others)
  obj.__shared_args__ = True
  return obj
