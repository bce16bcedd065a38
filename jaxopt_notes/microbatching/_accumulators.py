"""How the results of the microbatches are combined: `Accumulator` and `AccumulationType`.

A run over $n$ microbatches with results $r_0, \\dots, r_{n-1}$ is the fold

    carry = init(shape_and_dtype_of(r_0))
    for k in range(n): carry = update(carry, r_k, k)
    result = finalize(carry)

and ``aggregate`` reduces results stacked along a leading axis in one go (what
`micro_vmap` applies to the examples of one microbatch).
"""

import dataclasses
import enum
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Accumulator:
  """A way to fold per-microbatch results into one, as four pure functions.

  ``microbatch`` runs ``carry = init(jax.eval_shape(...))``, then
  ``carry = update(carry, value_k, k)`` for each microbatch ``k`` and returns
  ``finalize(carry)``. Each function receives the part of the output (a pytree)
  at the place where the accumulator sits in the ``accumulator`` argument.

  Attributes:
    init: ``init(shapes)`` builds the starting carry from the
      ``jax.ShapeDtypeStruct`` pytree of one microbatch's result.
    update: ``update(carry, value, index)`` folds in the result ``value`` of
      microbatch number ``index`` (an integer scalar, counted from 0).
    finalize: ``finalize(carry)`` turns the last carry into the answer.
    aggregate: ``aggregate(values)`` reduces results stacked along a new
      leading axis, the reduction `micro_vmap` applies within a microbatch.
  """

  init: Callable[[Any], Any]
  update: Callable[[Any, Any, jax.Array], Any]
  finalize: Callable[[Any], Any]
  aggregate: Callable[[Any], Any]


class AccumulationType(enum.Enum):
  """The built-in ways to combine microbatch results, chosen by name.

  The count of microbatches, which ``MEAN`` and ``CONCAT`` need, is read from
  the batch when the microbatched function is called.
  """

  MEAN = enum.auto()
  """The mean over all microbatches (floating-point results only): the sum
  divided by the number of microbatches, executed or not."""
  SUM = enum.auto()
  """The sum over the microbatches."""
  RUNNING_MEAN = enum.auto()
  """The mean over the microbatches actually executed (floating-point results
  only), kept as a running average, so it stays a mean when
  ``num_real_microbatches`` stops the loop early."""
  CONCAT = enum.auto()
  """The results joined along axis 0, in the order of the original batch
  (slots of microbatches not executed stay 0)."""


def _per_leaf(init, update, finalize, aggregate) -> Accumulator:
  """An accumulator applying array-level functions to every leaf of its part."""
  return Accumulator(
    init=lambda shapes: jax.tree.map(init, shapes),
    update=lambda carry, value, index: jax.tree.map(lambda c, v: update(c, v, index), carry, value),
    finalize=lambda carry: jax.tree.map(finalize, carry),
    aggregate=lambda values: jax.tree.map(aggregate, values),
  )


def _zeros(shape: jax.ShapeDtypeStruct) -> jax.Array:
  return jnp.zeros_like(shape)  # keeps the result's sharding, unlike jnp.zeros


def _float_zeros(kind: str, shape: jax.ShapeDtypeStruct) -> jax.Array:
  if not jnp.issubdtype(shape.dtype, jnp.floating):
    raise ValueError(
      f"microbatch: AccumulationType.{kind} averages, so the results it "
      f"combines must be floating point; got a leaf of dtype {shape.dtype}"
    )
  return _zeros(shape)


def _sum() -> Accumulator:
  return _per_leaf(_zeros, lambda c, v, _: c + v, lambda c: c, functools.partial(jnp.sum, axis=0))


def _mean(count: int) -> Accumulator:
  return _per_leaf(
    functools.partial(_float_zeros, "MEAN"),
    lambda c, v, _: c + v,
    lambda c: c / count,
    functools.partial(jnp.mean, axis=0),
  )


def _running_mean_update(carry: jax.Array, value: jax.Array, index: jax.Array) -> jax.Array:
  """$m_k = \\tfrac{k}{k+1} m_{k-1} + \\tfrac{1}{k+1} r_k$, in the carry's dtype."""
  keep = (index / (index + 1)).astype(carry.dtype)
  return carry * keep + value * (1 - keep)


def _running_mean() -> Accumulator:
  return _per_leaf(
    functools.partial(_float_zeros, "RUNNING_MEAN"),
    _running_mean_update,
    lambda c: c,
    functools.partial(jnp.mean, axis=0),
  )


def _concat(count: int) -> Accumulator:
  # Microbatch k holds examples k, k + count, k + 2 count, ... (see
  # `reshape_batch_axis`), so the carry (count, size, ...) is read back in
  # column-major order to restore the batch's order.
  def finalize(carry):
    rest = carry.shape[2:]
    sharding = jax.typeof(carry).sharding
    if sharding.mesh.are_all_axes_explicit and sharding.mesh.axis_names:
      out = jax.sharding.NamedSharding(sharding.mesh, jax.P(*tuple(sharding.spec)[1:]))
      return jnp.reshape(carry, (-1, *rest), order="F", out_sharding=out)
    return jnp.reshape(carry, (-1, *rest), order="F")

  return _per_leaf(
    lambda s: jnp.broadcast_to(_zeros(s), (count, *s.shape)),
    lambda c, v, index: c.at[index].set(v),
    finalize,
    lambda values: values,
  )


def resolve(accumulator: Any, count: int) -> Accumulator:
  """One `Accumulator` from a pytree (a prefix of the results) of accumulators or names."""
  if count < 1:
    raise ValueError(f"microbatch: the batch must hold at least one microbatch; got {count}")
  builders = {
    AccumulationType.SUM: _sum,
    AccumulationType.RUNNING_MEAN: _running_mean,
    AccumulationType.MEAN: lambda: _mean(count),
    AccumulationType.CONCAT: lambda: _concat(count),
  }

  def one(acc):
    if isinstance(acc, Accumulator):
      return acc
    if isinstance(acc, AccumulationType):
      return builders[acc]()
    raise ValueError(
      "microbatch: argument `accumulator` must be an Accumulator, an "
      "AccumulationType or a pytree of them (a prefix of the function's "
      f"output); found {acc!r}"
    )

  parts = jax.tree.map(one, accumulator)
  return Accumulator(
    init=lambda shapes: jax.tree.map(lambda a, s: a.init(s), parts, shapes),
    update=lambda carry, value, index: jax.tree.map(
      lambda a, c, v: a.update(c, v, index), parts, carry, value
    ),
    finalize=lambda carry: jax.tree.map(lambda a, c: a.finalize(c), parts, carry),
    aggregate=lambda values: jax.tree.map(lambda a, v: a.aggregate(v), parts, values),
  )
