"""The restore target of an optimizer state: shapes, dtypes and shardings, with no data."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_notes import _tree
from jaxopt_notes._base import GradientTransformation


def _abstract(x: Any) -> jax.ShapeDtypeStruct:
  if isinstance(x, jax.ShapeDtypeStruct):
    return x
  return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None))


def _mesh_of(params: Any) -> Any:
  for leaf in jax.tree.leaves(params):
    if isinstance(leaf.sharding, jax.sharding.NamedSharding):
      return leaf.sharding.mesh
  return None


def abstract_state(optimizer: GradientTransformation, params: Any) -> Any:
  """What ``optimizer.init(params)`` would return, as ``jax.ShapeDtypeStruct`` leaves.

  Each leaf has the shape, dtype and sharding of the state ``init`` builds, which
  is also where a plain jitted ``update`` leaves it: moments sharded like their
  params (``init`` is traced with the params' shardings in their types, on a
  copy of their mesh whose axes are `Explicit`), Kronecker factors spread over
  the mesh by the one rule ``init`` and ``update`` both apply, counters, keys and
  hyperparameters replicated on the params' mesh. It is the target a checkpoint library needs
  to restore a state straight onto its devices (with Orbax:
  ``ocp.args.StandardRestore(abstract_state(opt, params))``), resharding it
  when the params now live on another mesh. Nothing is allocated; ``init`` is
  only traced and compiled.

  Args:
    optimizer: the transformation whose state is restored.
    params: the params, or their abstract form (``jax.ShapeDtypeStruct`` with
      a ``sharding``, e.g. from ``jax.eval_shape``); only shapes, dtypes and
      shardings are read.

  Returns:
    A tree with the structure of ``optimizer.init(params)`` whose leaves are
    ``jax.ShapeDtypeStruct`` with a ``sharding``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> import jaxopt_notes as jon
    >>> params = {"w": jnp.zeros((3, 2))}
    >>> target = jon.abstract_state(jon.adam(0.1), params)
    >>> target[0].mu["w"].shape, target[0].count.dtype
    ((3, 2), dtype('int32'))
  """
  params = jax.tree.map(_abstract, params)
  mesh = _mesh_of(params)
  if mesh is None:
    compiled = jax.jit(optimizer.init).lower(params).compile()
    return jax.tree.map(_struct, jax.eval_shape(optimizer.init, params), compiled.output_shardings)
  # Traced on a copy of the mesh whose axes are all Explicit, ``init`` sees
  # each param's sharding in its type, and what it builds from a param (a
  # moment) takes that sharding as it does eagerly; Auto axes would hide it.
  explicit = jax.sharding.Mesh(
    mesh.devices,
    mesh.axis_names,
    axis_types=(jax.sharding.AxisType.Explicit,) * len(mesh.axis_names),
  )
  typed = jax.tree.map(lambda p: _on(p, mesh, explicit), params)
  with jax.set_mesh(explicit):
    compiled = jax.jit(optimizer.init).lower(typed).compile()
    shapes = jax.eval_shape(optimizer.init, typed)

  def target(shape, sharding):
    # A leaf that depends on no param (a counter, a key) comes out of the
    # compiled init on one device; it belongs on every device of the mesh.
    spec = jax.sharding.PartitionSpec()
    if not sharding.is_fully_replicated:
      spec = sharding.spec
    return _struct(shape, jax.sharding.NamedSharding(mesh, spec))

  return jax.tree.map(target, shapes, compiled.output_shardings)


def _fields(node: Any, found: list) -> list:
  """Appends every field value of every NamedTuple inside ``node`` to ``found``."""
  if isinstance(node, tuple) and hasattr(node, "_fields"):
    found.extend(node)
  children = (
    node.values() if isinstance(node, dict) else (node if isinstance(node, (list, tuple)) else ())
  )
  for child in children:
    _fields(child, found)
  return found


def _params_structure(state: Any, rest: tuple) -> Any:
  """The treedef of the params (``None`` counted as a leaf): from ``rest``, else the
  most frequent container among the state's fields."""
  if rest:
    return jax.tree.structure(rest[0], is_leaf=_tree.is_none)
  counts: dict = {}
  for field in _fields(state, []):
    treedef = jax.tree.structure(field, is_leaf=_tree.is_none)
    if treedef.num_nodes > 1:
      counts[treedef] = counts.get(treedef, 0) + 1
  return max(counts, key=counts.get) if counts else jax.tree.structure(0)


def tree_map_params(
  initable: Any,
  f: Callable[..., Any],
  state: Any,
  /,
  *rest: Any,
  transform_non_params: Callable[..., Any] | None = None,
  is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
  """Applies ``f`` to every copy of the params tree held in an optimizer ``state``.

  A copy is a part of the state with the params' structure whose leaves are
  float arrays (or ``None`` for frozen or masked leaves): Adam's ``mu`` and
  ``nu``, a momentum buffer, ... ``f(leaf, *rest_leaves)`` maps it leafwise,
  with ``rest`` trees shaped like the params (the params' structure is read
  from ``rest`` when given, else it is the container the state repeats
  most). Every other leaf (counters, keys, factored statistics) goes
  through ``transform_non_params`` when given and is kept otherwise.
  ``initable`` (the optimizer or its ``init``) is accepted for optax's
  signature; the state itself is enough. ``is_leaf`` is passed to the
  leafwise map. The usual use: sharding specs of a state from the params'.

  Args:
    initable: the optimizer or its ``init`` (accepted for optax's signature; unused).
    f: ``f(leaf, *rest_leaves) -> new_leaf``, applied to every copy of the params.
    state: the optimizer state to map.
    *rest: trees shaped like the params, whose leaves ``f`` receives too; the first one also fixes
      the params' structure.
    transform_non_params: ``g(leaf) -> new_leaf`` for every other leaf of the state; ``None`` keeps
      them as they are.
    is_leaf: passed to the leafwise map (``jax.tree.map``'s ``is_leaf``).

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> params = {'w': jnp.ones(3)}
    >>> opt = jon.adam(0.1)
    >>> specs = jon.tree_map_params(opt, lambda _, spec: spec, opt.init(params),
    ...                             {'w': 'data'}, transform_non_params=lambda _: None)
    >>> specs[0].mu, specs[0].count
    ({'w': 'data'}, None)
  """
  del initable
  template = _params_structure(state, rest)

  def is_copy(node):
    if jax.tree.structure(node, is_leaf=_tree.is_none) != template:
      return False
    leaves = jax.tree.leaves(node, is_leaf=_tree.is_none)
    return all(
      x is None or (hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)) for x in leaves
    )

  def visit(node):
    if node is not None and is_copy(node):
      return jax.tree.map(
        lambda v, *r: None if v is None else f(v, *r),
        node,
        *rest,
        is_leaf=lambda x: x is None or (is_leaf is not None and is_leaf(x)),
      )
    if transform_non_params is None or node is None:
      return node
    return jax.tree.map(transform_non_params, node)

  return jax.tree.map(visit, state, is_leaf=lambda x: x is None or is_copy(x))


def _struct(shape: Any, sharding: Any) -> jax.ShapeDtypeStruct:
  return jax.ShapeDtypeStruct(shape.shape, shape.dtype, sharding=sharding)


def _on(param: jax.ShapeDtypeStruct, mesh: Any, other: Any) -> jax.ShapeDtypeStruct:
  """``param`` moved from ``mesh`` to ``other`` (same devices and axis names), same spec."""
  sharding = param.sharding
  if isinstance(sharding, jax.sharding.NamedSharding) and sharding.mesh == mesh:
    param = jax.ShapeDtypeStruct(
      param.shape, param.dtype, sharding=jax.sharding.NamedSharding(other, sharding.spec)
    )
  return param
