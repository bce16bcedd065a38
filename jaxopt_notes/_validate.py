"""Hyperparameter checks shared by every constructor.

Concrete numbers (Python scalars, numpy or jax arrays holding values) are
checked when a transform is built; traced values (inside ``jit``/``vmap``/
``grad``), schedules (callables) and ``None`` pass untouched.
"""

import math
from typing import Any, NamedTuple

import jax
import numpy as np


class Range(NamedTuple):
  lo: float
  hi: float
  lo_closed: bool = True
  hi_closed: bool = True

  def __str__(self) -> str:
    left = "[" if self.lo_closed else "("
    right = "]" if self.hi_closed else ")"
    return f"{left}{self.lo:g}, {self.hi:g}{right}"

  def contains(self, x: np.ndarray) -> bool:
    above = x >= self.lo if self.lo_closed else x > self.lo
    below = x <= self.hi if self.hi_closed else x < self.hi
    return bool(np.all(above & below))


UNIT = Range(0.0, 1.0)  # decays, betas
NONNEGATIVE = Range(0.0, math.inf, hi_closed=False)  # eps, norms, weight decay
POSITIVE = Range(0.0, math.inf, lo_closed=False, hi_closed=False)
FINITE = Range(-math.inf, math.inf, lo_closed=False, hi_closed=False)
AT_LEAST_ONE = Range(1.0, math.inf, hi_closed=False)
# where optax gives infinity a meaning (no clipping, no bound, restart at the maximum)
NONNEGATIVE_OR_INF = Range(0.0, math.inf)
POSITIVE_OR_INF = Range(0.0, math.inf, lo_closed=False)
AT_LEAST_ONE_OR_INF = Range(1.0, math.inf)


def _is_unchecked(value: Any) -> bool:
  return value is None or callable(value) or isinstance(value, jax.core.Tracer)


def check(owner: str, **arguments: tuple[Any, Range]) -> None:
  """Raises ``ValueError`` for a concrete argument outside its range.

  Example: ``check("adam", b1=(b1, UNIT), eps=(eps, NONNEGATIVE))``.
  The message names the function, the argument, its value and the range.
  """
  for name, (value, allowed) in arguments.items():
    if _is_unchecked(value):
      continue
    problem = f"{owner}: argument `{name}` must be a number or an array of numbers, got {value!r}"
    if isinstance(value, (str, bytes)):
      raise TypeError(problem)
    try:
      array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
      raise TypeError(problem) from err
    if np.any(np.isnan(array)):
      raise ValueError(f"{owner}: argument `{name}` is NaN; expected a number in {allowed}")
    if not allowed.contains(array):
      raise ValueError(
        f"{owner}: argument `{name}`={value!r} is outside the allowed range {allowed}"
      )


def check_positive_int(owner: str, name: str, value: Any) -> None:
  """Checks a concrete count (``memory_size``, ``k``, ...) is a positive integer."""
  if _is_unchecked(value):
    return
  if isinstance(value, bool) or int(value) != value or value < 1:
    raise ValueError(f"{owner}: argument `{name}`={value!r} must be a positive integer")


def check_choice(owner: str, name: str, value: Any, choices: tuple) -> None:
  if value not in choices:
    raise ValueError(
      f"{owner}: argument `{name}`={value!r} must be one of {', '.join(map(repr, choices))}"
    )


def reject_complex(owner: str, params: Any, why: str) -> None:
  """Raises a ValueError naming the first complex leaf of ``params``, saying ``why``.

  For algorithms with no meaning on complex numbers (a per-coordinate sign, a
  clip to a real interval). Dtypes are known when tracing, so this runs in
  ``init`` under ``jit`` too.
  """
  for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
    dtype = jax.numpy.result_type(leaf)
    if np.issubdtype(dtype, np.complexfloating):
      where = jax.tree_util.keystr(path) or "the root"
      raise ValueError(
        f"{owner}: the param at {where} is complex ({dtype}), and {why}; "
        "wrap the optimizer in contrib.split_real_and_imaginary to treat the real and "
        "imaginary parts as two real params"
      )
