"""Running a function over a batch in sequential slices: microbatch, micro_vmap, micro_grad.

A batch of $B$ examples is cut into $n = B / s$ microbatches of $s$ examples;
microbatch $k$ holds examples $k, k + n, k + 2n, \\dots$ (a strided, not a
contiguous, slice: with the batch axis sharded over devices, each device keeps
its examples). The function runs on one microbatch at a time in a
``lax.fori_loop``, so peak memory is that of $s$ examples, and an
`Accumulator` folds the results.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes.microbatching._accumulators import AccumulationType, resolve


class PerExampleOutputs(NamedTuple):
  """The per-example outputs that `micro_grad` returns beside the gradient.

  Attributes:
    values: the value of ``fun`` on each example, stacked along axis 0.
    metrics: ``metrics_fn`` of each example's gradient, stacked along axis 0.
    aux: the auxiliary output of ``fun`` on each example (``None`` unless
      ``has_aux``), stacked along axis 0.
  """

  values: Any
  metrics: Any
  aux: Any


def _check_size(owner: str, microbatch_size: Any) -> None:
  if (
    isinstance(microbatch_size, bool)
    or not isinstance(microbatch_size, int)
    or (microbatch_size < 1)
  ):
    raise ValueError(
      f"{owner}: argument `microbatch_size`={microbatch_size!r} must be a positive integer or None"
    )


def _as_tuple(value: Any) -> tuple:
  return (value,) if isinstance(value, (int, str)) else tuple(value)


def reshape_batch_axis(tree: Any, microbatch_size: int, axis: int = 0) -> Any:
  r"""Splits the batch axis of every leaf into (microbatches, examples per microbatch).

  A leaf of shape $(\dots, B, \dots)$, with $B$ at ``axis``, becomes
  $(\dots, n, s, \dots)$ with $s$ = ``microbatch_size`` and $n = B / s$, where

  $$y[\dots, k, j, \dots] = x[\dots, k + n j, \dots],$$

  so microbatch $k$ takes every $n$-th example starting at $k$. A batch axis
  sharded over devices (explicit sharding) stays sharded, along the new
  axis of size $s$.

  Args:
    tree: a pytree of arrays, each with a batch axis of the same size.
    microbatch_size: $s$, the number of examples per microbatch; it must divide
      the size of the batch axis.
    axis: the position of the batch axis in every leaf (negative counts from
      the end).

  Returns:
    The pytree with each leaf reshaped as above (one more dimension).

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes.microbatching import reshape_batch_axis
    >>> reshape_batch_axis(jnp.arange(6), 2)
    Array([[0, 3],
           [1, 4],
           [2, 5]], dtype=int32)
  """
  _check_size("reshape_batch_axis", microbatch_size)

  def split(path, x):
    x = jnp.asarray(x)
    ax = axis + x.ndim if axis < 0 else axis
    if not 0 <= ax < x.ndim or x.shape[ax] % microbatch_size:
      raise ValueError(
        f"reshape_batch_axis: the leaf at {jax.tree_util.keystr(path) or 'root'}"
        f" of shape {x.shape} has no batch axis {axis} divisible by "
        f"`microbatch_size`={microbatch_size}"
      )
    shape = x.shape[:ax] + (x.shape[ax] // microbatch_size, microbatch_size) + x.shape[ax + 1 :]
    sharding = jax.typeof(x).sharding
    if not (sharding.mesh.are_all_axes_explicit and sharding.mesh.axis_names):
      return jnp.reshape(x, shape, order="F")
    spec = tuple(sharding.spec) + (None,) * (x.ndim - len(sharding.spec))
    shards = x.shape[ax] // sharding.shard_shape(x.shape)[ax]
    if microbatch_size % shards:
      raise ValueError(
        f"reshape_batch_axis: the batch axis is split over {shards} devices, "
        f"which must divide `microbatch_size`={microbatch_size}"
      )
    out = jax.sharding.NamedSharding(
      sharding.mesh, jax.P(*spec[:ax], None, spec[ax], *spec[ax + 1 :])
    )
    return jnp.reshape(x, shape, order="F", out_sharding=out)

  return jax.tree_util.tree_map_with_path(split, tree)


def _batch_size(argnums, argnames, in_axes, args, kwargs) -> int:
  """The common size of every batch axis, with an error naming the mismatch."""
  sizes = {}
  for where, ax, tree in [(f"argument {i}", ax, args[i]) for i, ax in zip(argnums, in_axes)] + [
    (f"keyword argument {n!r}", ax, kwargs[n]) for n, ax in zip(argnames, in_axes[len(argnums) :])
  ]:
    for path, x in jax.tree_util.tree_leaves_with_path(tree):
      shape = jnp.shape(x)
      if not -len(shape) <= ax < len(shape):
        raise ValueError(
          f"microbatch: {where}{jax.tree_util.keystr(path)} of shape {shape} "
          f"has no batch axis {ax} (`in_axes`)"
        )
      sizes[f"{where}{jax.tree_util.keystr(path)}"] = shape[ax]
  if not sizes:
    raise ValueError(
      "microbatch: no argument named by `argnums`/`argnames` holds an array to split"
    )
  if len(set(sizes.values())) > 1:
    raise ValueError(f"microbatch: batch arguments must have batch axes of equal size; got {sizes}")
  return next(iter(sizes.values()))


def microbatch(
  fun: Callable,
  argnums: int | Sequence[int],
  microbatch_size: int | None,
  accumulator: Any = AccumulationType.SUM,
  *,
  argnames: str | Sequence[str] = (),
  in_axes: int | Sequence[int] = 0,
  num_real_microbatches: int | jax.Array | None = None,
) -> Callable:
  r"""Evaluates ``fun`` one microbatch at a time and combines the results.

  With the batch arguments cut into microbatches $b_0, \dots, b_{n-1}$ (see
  `reshape_batch_axis`), the returned function computes

  $$\mathrm{finalize}\big(\mathrm{update}(\cdots\mathrm{update}(\mathrm{init},
  f(b_0), 0)\cdots, f(b_{n-1}), n-1)\big)$$

  in a ``lax.fori_loop``: for ``SUM``, $\sum_k f(b_k)$. The other arguments are
  passed unchanged to every call. Use it when ``fun`` on the whole batch does
  not fit in memory; the answer equals ``fun(batch)`` when ``fun`` is itself a
  sum (or mean, or per-example map) over the batch.

  Args:
    fun: the function to evaluate.
    argnums: the position (or positions) of the arguments that have a batch axis.
    microbatch_size: examples per microbatch; it must divide the batch size.
      ``None`` returns ``fun`` itself.
    accumulator: how results are combined: an `AccumulationType`, an
      `Accumulator`, or a pytree of them that is a prefix of ``fun``'s output,
      to combine its parts differently (``SUM`` by default).
    argnames: the name (or names) of keyword arguments that have a batch axis.
    in_axes: the batch axis of each argument of ``argnums`` then ``argnames``,
      in that order; one integer applies to all (0 by default).
    num_real_microbatches: if given, only the first this-many microbatches are
      evaluated (it may be a traced integer, so a varying batch needs no
      recompilation).

  Returns:
    A function taking the same arguments as ``fun`` and returning the combined
    result.

  Example:
    >>> import jax.numpy as jnp
    >>> import jaxopt_notes as jon
    >>> fun = lambda x: (2 * x, jnp.sum(x))
    >>> kinds = (jon.microbatching.AccumulationType.CONCAT,
    ...          jon.microbatching.AccumulationType.SUM)
    >>> jon.microbatch(fun, 0, 2, kinds)(jnp.arange(4.0))
    (Array([0., 2., 4., 6.], dtype=float32), Array(6., dtype=float32))
  """
  if microbatch_size is None:
    return fun
  _check_size("microbatch", microbatch_size)
  argnums, argnames = _as_tuple(argnums), _as_tuple(argnames)
  in_axes = _as_tuple(in_axes)
  if len(in_axes) == 1:
    in_axes = in_axes * (len(argnums) + len(argnames))
  if len(in_axes) != len(argnums) + len(argnames):
    raise ValueError(
      f"microbatch: argument `in_axes` has {len(in_axes)} entries for "
      f"{len(argnums) + len(argnames)} batch arguments (`argnums` + `argnames`)"
    )

  @functools.wraps(fun)
  def microbatched(*args, **kwargs):
    missing = [i for i in argnums if not -len(args) <= i < len(args)]
    missing += [n for n in argnames if n not in kwargs]
    if missing:
      raise ValueError(
        f"microbatch: batch arguments {missing} (`argnums`/`argnames`) were not passed"
      )
    size = _batch_size(argnums, argnames, in_axes, args, kwargs)
    if size % microbatch_size:
      raise ValueError(
        f"microbatch: the batch size {size} must be divisible by "
        f"`microbatch_size`={microbatch_size}"
      )
    count = size // microbatch_size
    steps = count if num_real_microbatches is None else num_real_microbatches
    if not isinstance(steps, jax.core.Tracer) and not 0 <= int(steps) <= count:
      raise ValueError(
        f"microbatch: argument `num_real_microbatches`={steps!r} must lie in "
        f"[0, {count}], the number of microbatches"
      )
    split_args, split_kwargs = list(args), dict(kwargs)
    for i, ax in zip(argnums, in_axes):
      split_args[i] = reshape_batch_axis(args[i], microbatch_size, ax)
    for n, ax in zip(argnames, in_axes[len(argnums) :]):
      split_kwargs[n] = reshape_batch_axis(kwargs[n], microbatch_size, ax)

    def on_microbatch(k):
      # After the split, the microbatch index sits at the batch axis (one
      # further from the end when that axis was counted from the end).
      take = lambda ax: functools.partial(jnp.take, indices=k, axis=ax if ax >= 0 else ax - 1)
      call_args, call_kwargs = list(split_args), dict(split_kwargs)
      for i, ax in zip(argnums, in_axes):
        call_args[i] = jax.tree.map(take(ax), split_args[i])
      for n, ax in zip(argnames, in_axes[len(argnums) :]):
        call_kwargs[n] = jax.tree.map(take(ax), split_kwargs[n])
      return fun(*call_args, **call_kwargs)

    acc = resolve(accumulator, count)
    carry = acc.init(jax.eval_shape(on_microbatch, 0))
    carry = jax.lax.fori_loop(0, steps, lambda k, c: acc.update(c, on_microbatch(k), k), carry)
    return acc.finalize(carry)

  return microbatched


def micro_vmap(
  fun: Callable,
  in_axes: int | Sequence[int | None] = 0,
  out_axes: Any = 0,
  *,
  microbatch_size: int | None = None,
  vmap_fn: Callable = jax.vmap,
  accumulator: Any = AccumulationType.CONCAT,
  num_real_microbatches: int | jax.Array | None = None,
) -> Callable:
  r"""``jax.vmap`` over a batch processed a microbatch at a time, optionally reduced.

  Each microbatch is mapped with ``vmap_fn`` and reduced with the accumulator's
  ``aggregate``; the microbatches are then combined by `microbatch`. With the
  default ``CONCAT`` the result equals ``jax.vmap(fun, in_axes)(...)``; with
  ``SUM`` or ``MEAN`` it is that result summed or averaged over axis 0,
  without ever holding the whole mapped output.

  Args:
    fun: the function to map over examples.
    in_axes: the mapped axis of each positional argument (``None``: not mapped),
      or one integer for every positional argument. Keyword arguments are all
      mapped over axis 0, as in ``jax.vmap``.
    out_axes: must be 0 (the only supported output axis).
    microbatch_size: examples per microbatch; ``None`` maps the whole batch at
      once.
    vmap_fn: the mapping transform, called as ``vmap_fn(fun, in_axes, out_axes)``
      (``jax.vmap`` by default; pass a ``functools.partial`` of it to set more
      options).
    accumulator: what to do with the mapped outputs, as in `microbatch`:
      ``CONCAT`` (stack them, the default), ``SUM``, ``MEAN``, ... or a pytree of
      them matching a prefix of ``fun``'s output.
    num_real_microbatches: if given, only the first this-many microbatches are
      evaluated (see `microbatch`).

  Returns:
    A function taking ``fun``'s arguments with an extra batch axis.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes.microbatching import micro_vmap
    >>> micro_vmap(lambda x: x ** 2, microbatch_size=2)(jnp.arange(6))
    Array([ 0,  1,  4,  9, 16, 25], dtype=int32)
  """
  if not (isinstance(out_axes, int) and out_axes == 0):
    raise NotImplementedError(
      f"micro_vmap: argument `out_axes`={out_axes!r} is not supported; only 0 is"
    )
  for ax in _as_tuple(in_axes):
    if ax is not None and (isinstance(ax, bool) or not isinstance(ax, int)):
      raise ValueError(
        f"micro_vmap: argument `in_axes` must hold integers or None; got {in_axes!r}"
      )

  def mapped(*args, **kwargs):
    axes = (in_axes,) * len(args) if isinstance(in_axes, int) else tuple(in_axes)

    def map_and_reduce(*positional, kwargs):
      out = vmap_fn(fun, axes, out_axes)(*positional, **kwargs)
      return resolve(accumulator, jax.tree.leaves(out)[0].shape[0]).aggregate(out)

    batched = [i for i, ax in enumerate(axes) if ax is not None]
    run = microbatch(
      map_and_reduce,
      batched,
      microbatch_size,
      accumulator,
      argnames="kwargs",
      in_axes=[axes[i] for i in batched] + [0],
      num_real_microbatches=num_real_microbatches,
    )
    return run(*args, kwargs=kwargs)

  return mapped


def micro_grad(
  fun: Callable,
  has_aux: bool = False,
  argnums: int | Sequence[int] = 0,
  *,
  batch_argnums: int | Sequence[int] = 1,
  keep_batch_dim: bool = True,
  microbatch_size: int | None = None,
  accumulator: Any = AccumulationType.SUM,
  transform_fn: Callable = lambda x: x,
  metrics_fn: Callable = lambda x: None,
  num_real_microbatches: int | jax.Array | None = None,
) -> Callable:
  r"""Per-example gradients, transformed and combined over the batch, a microbatch at a time.

  For each example $i$ of the batch, $g_i = \nabla f(\theta; x_i)$ (with
  respect to the arguments ``argnums``); the result is

  $$\bigoplus_i T(g_i)$$

  where $T$ is ``transform_fn`` and $\oplus$ the accumulator (a sum by
  default), beside the per-example values $f(\theta; x_i)$ and metrics
  $M(g_i)$. Clipping each $g_i$ before summing (as in differentially private
  SGD), or getting $\tfrac1B\sum_i g_i^2$ with ``transform_fn=jnp.square`` and
  ``MEAN``, are one-liners.

  Args:
    fun: the loss, ``fun(params, batch, ...)`` by default; it returns a scalar,
      or ``(scalar, aux)`` when ``has_aux``.
    has_aux: whether ``fun`` returns ``(value, aux)``.
    argnums: the argument (or arguments) to differentiate, as in ``jax.grad``.
    batch_argnums: the argument (or arguments) holding examples along axis 0
      (1 by default, the ``batch`` of ``fun(params, batch)``).
    keep_batch_dim: if True, ``fun`` sees each example with a batch axis of
      size 1 (so a ``fun`` written for batches works unchanged); if False, it
      sees the bare example.
    microbatch_size: examples per microbatch (see `microbatch`); ``None``
      processes all examples at once.
    accumulator: how the transformed gradients are combined over examples
      (``SUM`` by default; see `microbatch`).
    transform_fn: $T$, applied to each example's gradient (a pytree) before
      combining; it may return any pytree, e.g. ``(g, g ** 2)``.
    metrics_fn: $M$, applied to each example's gradient; its per-example
      results are returned, so keep them small (a norm, say).
    num_real_microbatches: if given, only the first this-many microbatches are
      evaluated (see `microbatch`).

  Returns:
    A function of ``fun``'s arguments returning ``(combined, outputs)``: the
    combined transformed gradients, and a ``PerExampleOutputs(values, metrics,
    aux)`` whose fields are stacked over the examples.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes.microbatching import micro_grad
    >>> loss = lambda w, x: jnp.sum(x @ w)
    >>> grad, out = micro_grad(loss, microbatch_size=2)(jnp.zeros(2), jnp.ones((4, 2)))
    >>> grad, out.values
    (Array([4., 4.], dtype=float32), Array([0., 0., 0., 0.], dtype=float32))
  """
  batch_argnums = _as_tuple(batch_argnums)
  with_aux = fun if has_aux else lambda *a, **k: (fun(*a, **k), None)
  value_and_grad = jax.value_and_grad(with_aux, argnums, has_aux=True)

  def per_example(*args, **kwargs):
    (value, aux), grad = value_and_grad(*args, **kwargs)
    return transform_fn(grad), PerExampleOutputs(value, metrics_fn(grad), aux)

  def run(*args, **kwargs):
    missing = [i for i in batch_argnums if not 0 <= i < len(args)]
    if missing:
      raise ValueError(
        f"micro_grad: argument `batch_argnums` names positions {missing}, but "
        f"only {len(args)} positional arguments were passed"
      )
    args = list(args)
    if keep_batch_dim:
      for i in batch_argnums:
        args[i] = jax.tree.map(lambda x: jnp.expand_dims(x, 1), args[i])
    axes = [0 if i in batch_argnums else None for i in range(len(args))]
    return micro_vmap(
      per_example,
      axes,
      microbatch_size=microbatch_size,
      accumulator=(accumulator, AccumulationType.CONCAT),
      num_real_microbatches=num_real_microbatches,
    )(*args, **kwargs)

  return run
