"""Input checks and axis handling shared by the loss modules.

Every check reads only shapes and dtypes, so it also holds for traced arrays.
"""

import operator
from typing import Any

import jax.numpy as jnp
import numpy as np

Axis = int | tuple[int, ...] | None


def floating(owner: str, name: str, x: Any) -> jnp.ndarray:
  """``x`` as an array, or a TypeError naming ``name`` if it holds no floats."""
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise TypeError(f"{owner}: argument `{name}` must hold floats, got dtype {x.dtype}")
  return x


def integer(owner: str, name: str, x: Any) -> jnp.ndarray:
  """``x`` as an array, or a TypeError naming ``name`` if it holds no integers."""
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.integer):
    raise TypeError(f"{owner}: argument `{name}` must hold integers, got dtype {x.dtype}")
  return x


def same_shape(owner: str, **arrays: Any) -> None:
  """A ValueError naming the arguments unless all ``arrays`` have one shape."""
  shapes = {name: np.shape(x) for name, x in arrays.items()}
  if len(set(shapes.values())) > 1:
    got = ", ".join(f"`{name}` {shape}" for name, shape in shapes.items())
    raise ValueError(f"{owner}: arguments must have the same shape, got {got}")


def rank(owner: str, name: str, x: Any, expected: int) -> None:
  """A ValueError naming ``name`` unless ``x`` has ``expected`` dimensions."""
  if np.ndim(x) != expected:
    raise ValueError(
      f"{owner}: argument `{name}` must have {expected} dimensions, got shape {np.shape(x)}"
    )


def mask_like(where: Any, x: jnp.ndarray, axis: Any) -> Any:
  """A ``where`` mask given per example (without the class axes) gets them back."""
  if where is None:
    return None
  where = jnp.asarray(where)
  return where if where.ndim == x.ndim else jnp.expand_dims(where, axis)


def normalize_axes(owner: str, axis: Any, ndim: int) -> tuple[int, ...]:
  """``axis`` (an int or a tuple of ints) as a tuple of non-negative axes."""
  axes = axis if isinstance(axis, tuple) else (axis,)
  try:
    axes = tuple(operator.index(a) for a in axes)
  except TypeError:
    raise ValueError(
      f"{owner}: argument `axis` must be an int or a tuple of ints, got {axis!r}"
    ) from None
  bad = [a for a in axes if not -ndim <= a < ndim]
  if bad:
    raise ValueError(f"{owner}: argument `axis`={axis!r} is out of bounds for {ndim} dimensions")
  return tuple(a % ndim for a in axes)
