"""Finding and replacing values in an optimizer state by name (``tree.get``, ``tree.set``).

A name matches a field of a NamedTuple, a key of a dict, or the class name of
a NamedTuple (which then matches the whole tuple). Paths are tuples of
``jax.tree_util`` keys, except that a NamedTuple field is a `NamedTupleKey`,
which also carries the tuple's class name: so ``count`` in an Adam state and
``count`` in a schedule's state can be told apart by a ``filtering`` function.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

Filter = Callable[[tuple, Any], bool]


@dataclasses.dataclass(frozen=True)
class NamedTupleKey:
  """The path entry of a NamedTuple field: the tuple's class name and the field's name.

  Args:
    tuple_name: the class name of the NamedTuple (``"ScaleByAdamState"``).
    name: the field (``"count"``).
  """

  tuple_name: str
  name: str

  def __str__(self) -> str:
    return f"{self.tuple_name}.{self.name}"


def _is_named_tuple(x: Any) -> bool:
  return isinstance(x, tuple) and hasattr(x, "_fields")


def _children(path: tuple, node: Any) -> list:
  """``[(path_to_child, child), ...]`` one level down (empty for a leaf)."""
  if _is_named_tuple(node):
    return [
      ((*path, NamedTupleKey(type(node).__name__, f)), getattr(node, f)) for f in node._fields
    ]
  if node is None:
    return []
  flat, _ = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda x: x is not node)
  if len(flat) == 1 and flat[0][0] == ():  # a leaf
    return []
  return [((*path, *key), child) for key, child in flat]


def _rebuild(node: Any, children: list) -> Any:
  if _is_named_tuple(node):
    return type(node)(*children)
  _, treedef = jax.tree_util.tree_flatten(node, is_leaf=lambda x: x is not node)
  return treedef.unflatten(children)


def _has(node: Any, key: Any) -> bool:
  if _is_named_tuple(node):
    return key in node._fields or type(node).__name__ == key
  return isinstance(node, dict) and key in node


def _value_at(path: tuple, node: Any, key: Any) -> tuple:
  if _is_named_tuple(node):
    if type(node).__name__ == key:
      return path, node
    return (*path, NamedTupleKey(type(node).__name__, key)), getattr(node, key)
  return (*path, jax.tree_util.DictKey(key)), node[key]


def _outermost_matches(path: tuple, node: Any, key: Any) -> list:
  """The nodes holding ``key`` that are not inside another such node."""
  if _has(node, key):
    return [(path, node)]
  return [
    m
    for child_path, child in _children(path, node)
    for m in _outermost_matches(child_path, child, key)
  ]


def _all_with_path(path: tuple, tree: Any, key: Any) -> list:
  matches = _outermost_matches(path, tree, key)
  found = [_value_at(p, node, key) for p, node in matches]
  for p, node in matches:  # then whatever the matched nodes hold further down
    for child_path, child in _children(p, node):
      found += _all_with_path(child_path, child, key)
  return found


def get_all_with_path(tree: Any, key: Any, filtering: Filter | None = None) -> list:
  """Every value in ``tree`` stored under ``key``, with its path.

  Args:
    tree: the tree to search, usually an optimizer state.
    key: a NamedTuple field, a dict key, or a NamedTuple class name.
    filtering: optional ``filtering(path, value) -> bool`` keeping only some
      of the matches.

  Returns:
    A list of ``(path, value)``; ``jax.tree_util.keystr(path)`` prints a path.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> state = jon.adam(0.1).init(jnp.zeros(2))
    >>> [jax.tree_util.keystr(p) for p, _ in jon.tree.get_all_with_path(state, "count")]
    ['[0]ScaleByAdamState.count']
  """
  found = _all_with_path((), tree, key)
  if filtering is not None:
    found = [(p, v) for p, v in found if filtering(p, v)]
  return found


def get(tree: Any, key: Any, default: Any = None, filtering: Filter | None = None) -> Any:
  """The one value in ``tree`` stored under ``key``.

  ``jon.tree.get(state, "learning_rate")`` reads the current learning rate of
  an `inject_hyperparams` optimizer, wherever it sits in the state.

  Args:
    tree: the tree to search, usually an optimizer state.
    key: a NamedTuple field, a dict key, or a NamedTuple class name.
    default: what to return when nothing matches.
    filtering: optional ``filtering(path, value) -> bool`` keeping only some
      of the matches.

  Returns:
    The value, or ``default`` when there is none.

  Raises:
    KeyError: when several values match.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.inject_hyperparams(jon.sgd)(learning_rate=0.5)
    >>> float(jon.tree.get(opt.init(jnp.zeros(2)), "learning_rate"))
    0.5
  """
  found = get_all_with_path(tree, key, filtering)
  if len(found) > 1:
    paths = [jax.tree_util.keystr(p) for p, _ in found]
    raise KeyError(
      f"tree.get: {key!r} matches {len(found)} values, at {paths}; pass `filtering` to choose one"
    )
  return found[0][1] if found else default


def set(tree: Any, filtering: Filter | None = None, /, **kwargs: Any) -> Any:  # noqa: A001
  """A copy of ``tree`` with the values stored under each keyword's name replaced.

  Args:
    tree: the tree, usually an optimizer state.
    filtering: optional ``filtering(path, value) -> bool``: only matches it
      accepts are replaced.
    **kwargs: ``name=new_value`` for each name (field, dict key, or NamedTuple
      class name) to replace.

  Returns:
    The new tree.

  Raises:
    KeyError: when a name matches nothing (that ``filtering`` accepts).

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> state = jon.adam(0.1).init(jnp.zeros(2))
    >>> int(jon.tree.get(jon.tree.set(state, count=3), "count"))
    3
  """
  for key in kwargs:
    if not get_all_with_path(tree, key, filtering):
      raise KeyError(
        f"tree.set: nothing in the tree is stored under {key!r}"
        + (" that `filtering` accepts" if filtering is not None else "")
      )
  accept = (lambda path, value: True) if filtering is None else filtering

  def replace(path, node):
    if _is_named_tuple(node) and type(node).__name__ in kwargs and accept(path, node):
      return kwargs[type(node).__name__]
    children = _children(path, node)
    if not children:
      return node
    holds = _is_named_tuple(node) or isinstance(node, dict)
    new = []
    for child_path, child in children:
      name = child_path[-1]
      name = name.name if isinstance(name, NamedTupleKey) else getattr(name, "key", None)
      if holds and name in kwargs and accept(child_path, child):
        new.append(kwargs[name])
      else:
        new.append(replace(child_path, child))
    return _rebuild(node, new)

  return replace((), tree)
