"""Gradient accumulation: one optimizer step every ``k`` mini-steps."""

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  with_extra_args_support,
)
from jaxopt_notes.transforms._conditionality import all_finite
from jaxopt_notes._docargs import shared_args


class MultiStepsState(NamedTuple):
  """State of `MultiSteps`: mini-step and step counts, the inner state, the accumulated gradients.

  Attributes:
    mini_step: int32 mini-steps accumulated towards the next step.
    gradient_step: int32 optimizer steps taken.
    inner_opt_state: the state of the wrapped optimizer.
    acc_grads: the running mean (or sum) of this window's gradients.
    skip_state: the state returned by ``should_skip_update_fn`` at the last mini-step (``()``
      without one).
  """

  mini_step: jax.Array  # mini-steps accumulated towards the next step (int32)
  gradient_step: jax.Array  # optimizer steps taken (int32)
  inner_opt_state: Any
  acc_grads: Any  # the running mean (or sum) of this window's gradients
  skip_state: Any = ()


class ShouldSkipUpdateFunction(Protocol):
  """The ``should_skip_update_fn`` of `MultiSteps` (`skip_not_finite`, `skip_large_updates`)."""

  def __call__(
    self, updates: Any, gradient_step: jax.typing.ArrayLike, params: Any
  ) -> tuple[jax.typing.ArrayLike, Any]:
    """Whether to drop this mini-step's gradients.

    Args:
      updates: the mini-step's gradients.
      gradient_step: the count of optimizer steps taken (``MultiStepsState.gradient_step``).
      params: the params, or ``None``.

    Returns:
      ``(skip, state)``: a boolean scalar, and any tree kept in
      ``MultiStepsState.skip_state`` (for logging).
    """
    ...


@shared_args
def skip_not_finite(updates: Any, gradient_step: jax.Array, params: Any):
  """A ``should_skip_update_fn``: skip a mini-step whose gradients are not all finite.

  Returns ``(should_skip, state)``; the state counts the skipped mini-steps.

  Args:
    gradient_step: int32 optimizer steps taken so far (unused).
    params: the current params (unused).
  """
  del gradient_step, params
  finite = all_finite(updates)
  bad = sum(jnp.sum(~jnp.isfinite(x)) for x in _tree.leaves(updates))
  return ~finite, {"should_skip": ~finite, "num_not_finite": jnp.asarray(bad, jnp.int32)}


@shared_args
def skip_large_updates(
  updates: Any, gradient_step: jax.Array, params: Any, max_squared_norm: float
):
  """A ``should_skip_update_fn``: skip a mini-step whose squared global norm reaches
  ``max_squared_norm`` (or is not finite). Bind ``max_squared_norm`` with
  ``functools.partial``.

  Args:
    gradient_step: int32 optimizer steps taken so far (unused).
    params: the current params (unused).
    max_squared_norm: the squared global norm at or above which a mini-step is skipped.
  """
  del gradient_step, params
  norm_sq = _tree.norm(updates, squared=True)
  skip = ~(norm_sq < max_squared_norm)
  return skip, {"should_skip": skip, "norm_squared": norm_sq}


class MultiSteps:
  """Accumulates gradients over ``every_k_schedule`` mini-steps, then steps once.

  Between steps ``update`` returns zero updates; on the ``k``-th mini-step it
  hands the mean (``use_grad_mean``) or sum of the window's gradients to
  ``opt`` and returns its updates. ``k`` may be a schedule of the optimizer
  step count. For plain SGD the result equals one step on the concatenated
  batch. ``should_skip_update_fn(updates, gradient_step, params) ->
  (skip, state)`` (e.g. `skip_not_finite`) drops a mini-step entirely.
  The accumulator is kept in ``accumulator_dtype``, by default each param's
  dtype promoted to at least float32 (so bfloat16 gradients do not lose the
  window's sum, and float64 ones keep their precision).

  Args:
    opt: the optimizer that steps once per window.
    every_k_schedule: $k$, the mini-steps per optimizer step: an int, or a schedule of the optimizer
      step count.
    use_grad_mean: hand ``opt`` the mean of the window's gradients; False hands it their sum.
    should_skip_update_fn: a `ShouldSkipUpdateFunction` deciding whether to drop a mini-step;
      ``None`` keeps every one.
    accumulator_dtype: dtype in which the accumulated gradients are kept; ``None`` uses each param's
      dtype promoted to at least float32.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> ms = jon.MultiSteps(jon.sgd(1.0), every_k_schedule=2)
    >>> state = ms.init(jnp.zeros(1))
    >>> u1, state = ms.update(jnp.array([1.0]), state)
    >>> u2, state = ms.update(jnp.array([3.0]), state)
    >>> [float(u1[0]), float(u2[0]), bool(ms.has_updated(state))]
    [0.0, -2.0, True]
  """

  def __init__(
    self,
    opt: GradientTransformation,
    every_k_schedule: int | Callable[[jax.Array], jax.Array],
    use_grad_mean: bool = True,
    should_skip_update_fn: Callable | None = None,
    accumulator_dtype: Any = None,
  ):
    self._opt = with_extra_args_support(opt)
    self._every_k = every_k_schedule if callable(every_k_schedule) else (lambda _: every_k_schedule)
    self._use_grad_mean = use_grad_mean
    self._skip = should_skip_update_fn or (lambda *_: (jnp.array(False), ()))
    self._accumulator_dtype = _tree.canonical_dtype(accumulator_dtype)

  @property
  def inner_opt(self) -> GradientTransformation:
    return self._opt

  def init(self, params: Any) -> MultiStepsState:
    zero = _placement.zero_count(params)
    _, skip_state = self._skip(_tree.zero_updates(params), zero, params)
    skip_state = _placement.replicate_like(skip_state, params)
    if self._accumulator_dtype is None:  # the params' dtype, at least float32
      acc = _tree.map(
        lambda z: z.astype(jnp.promote_types(z.dtype, jnp.float32)), _tree.zeros_like(params)
      )
    else:
      acc = _tree.zeros_like(params, dtype=self._accumulator_dtype)
    return MultiStepsState(
      mini_step=zero,
      gradient_step=zero,
      inner_opt_state=self._opt.init(params),
      acc_grads=acc,
      skip_state=skip_state,
    )

  def update(self, updates: Any, state: MultiStepsState, params: Any = None, **extra_args):
    k = self._every_k(state.gradient_step)
    skip, skip_state = self._skip(updates, state.gradient_step, params)
    n = state.mini_step
    if self._use_grad_mean:
      acc = _tree.map(lambda g, a: a + (g - a) / (n + 1), updates, state.acc_grads)
    else:
      acc = _tree.map(lambda g, a: a + g, updates, state.acc_grads)
    acc = _tree.cast_like(acc, state.acc_grads)
    emit = (n + 1 >= k) & ~skip

    def step():
      return self._opt.update(
        _tree.cast_like(acc, updates), state.inner_opt_state, params, **extra_args
      )

    def wait():
      return _tree.zero_updates(updates), state.inner_opt_state

    new_updates, inner_state = _numerics.cond(emit, step, wait)
    keep = lambda new, old: _tree.where(skip, old, new)  # noqa: E731
    new_state = MultiStepsState(
      mini_step=jnp.where(skip, n, jnp.where(emit, 0, n + 1)).astype(jnp.int32),
      gradient_step=jnp.where(
        emit, _numerics.safe_increment(state.gradient_step), state.gradient_step
      ).astype(jnp.int32),
      inner_opt_state=inner_state,
      acc_grads=keep(_tree.where(emit, _tree.zeros_like(acc), acc), state.acc_grads),
      skip_state=skip_state,
    )
    return new_updates, new_state

  def has_updated(self, state: MultiStepsState) -> jax.Array:
    """True right after a mini-step that made an optimizer step."""
    return (state.mini_step == 0) & (state.gradient_step > 0)

  def gradient_transformation(self) -> GradientTransformationExtraArgs:
    """This accumulator as an ``(init, update)`` pair, to put in a `chain`."""
    return GradientTransformationExtraArgs(self.init, self.update)


@shared_args
class ApplyEvery(NamedTuple):
  """State of `apply_every`: the mini-step count (mod ``k``) and the running sum.

  Attributes:
    grad_acc: the sum of this window's updates.
  """

  count: jax.Array  # int32 mini-steps since the last emitted sum
  grad_acc: Any  # the sum of this window's updates


def apply_every(k: jax.typing.ArrayLike = 1) -> GradientTransformation:
  """Sums the updates of ``k`` mini-steps and emits the sum on the ``k``-th, zeros before.

  With $c$ the mini-step count mod $k$ and $a$ the running sum:
  $a \\leftarrow g + [c \\neq 0]\\, a$, and the update is $[c = k - 1]\\, a$.
  Unlike `MultiSteps`, the transforms chained before and after it still step
  every mini-step; `MultiSteps` is the one to use for gradient accumulation.

  Args:
    k: the number of mini-steps per emitted sum.

  Returns:
    The transform; its state is `ApplyEvery`.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> tx = jon.apply_every(2)
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([1.0]), state)
    >>> u2, state = tx.update(jnp.array([3.0]), state)
    >>> [float(u1[0]), float(u2[0])]
    [0.0, 4.0]
  """
  _validate.check_positive_int("apply_every", "k", k)

  def init_fn(params):
    return ApplyEvery(count=_placement.zero_count(params), grad_acc=_tree.zeros_like(params))

  def update_fn(updates, state, params=None):
    del params
    c = state.count % k
    grad_acc = _tree.map(lambda g, a: g + (c != 0) * a, updates, state.grad_acc)
    grad_acc = _tree.cast_like(grad_acc, state.grad_acc)
    emit = c == k - 1
    new_updates = _tree.map(lambda a, g: (emit * a).astype(g.dtype), grad_acc, updates)
    return new_updates, ApplyEvery(
      count=_numerics.safe_increment(state.count) % k, grad_acc=grad_acc
    )

  return GradientTransformation(init_fn, update_fn)
