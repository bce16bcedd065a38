"""Sharpness-aware minimisation (Foret et al., 2021): the gradient of a nearby worse point.

SAM minimises $\\max_{\\|\\epsilon\\| \\le \\rho} f(\\theta + \\epsilon)$. Its
first-order answer climbs first, then descends from where it started with
the gradient found up there:

$$
\\tilde\\theta = \\theta_t
  + \\rho\\,\\frac{\\nabla f(\\theta_t)}{\\|\\nabla f(\\theta_t)\\|},\\qquad
\\theta_{t+1} = \\theta_t + \\operatorname{opt}(\\nabla f(\\tilde\\theta))
$$

`sam` generalises both moves: ``adv_optimizer`` makes the climbing steps
(its update is *subtracted*, so a descent optimizer such as
``chain(normalize(), sgd(rho))`` climbs), taken ``sync_period - 1`` times,
and ``optimizer`` makes the outer step from the cached start. Each call of
``update`` is one gradient: the params move up the adversarial path and,
every ``sync_period``-th call, back to the start plus the outer step.
``opaque_mode`` instead runs the whole cycle in one call, asking
``grad_fn(params, i)`` for the gradients on the way up.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  with_extra_args_support,
)


class NormalizeState(NamedTuple):
  """State of `normalize` (it keeps none)."""


def normalize() -> GradientTransformation:
  """Divides the updates by their global l2 norm (zero updates stay zero).

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> updates, _ = jon.normalize().update(jnp.array([3.0, -4.0]), jon.NormalizeState())
    >>> [round(float(u), 4) for u in updates]
    [0.6, -0.8]
  """

  def update_fn(updates, state, params=None):
    del params
    size = _tree.norm(updates)
    return _tree.map(lambda g: _numerics.safe_div(g, size).astype(g.dtype), updates), state

  return GradientTransformation(lambda params: NormalizeState(), update_fn)


class SAMState(NamedTuple):
  """State of `sam`.

  Attributes:
    steps_since_sync: int32 number of gradients since the last outer step.
    opt_state: the state of ``optimizer``.
    adv_state: the state of ``adv_optimizer``.
    cache: the params at the start of the cycle (``None`` in opaque mode).
  """

  steps_since_sync: jax.Array
  opt_state: Any
  adv_state: Any
  cache: Any  # the params at the start of the cycle (None in opaque mode)


def _negate(tree: Any) -> Any:
  return _tree.map(jnp.negative, tree)


def sam(
  optimizer: GradientTransformation,
  adv_optimizer: GradientTransformation,
  sync_period: int = 2,
  reset_state: bool = True,
  opaque_mode: bool = False,
  batch_axis_name: str | None = None,
) -> GradientTransformationExtraArgs:
  """SAM around any outer ``optimizer`` and climbing ``adv_optimizer`` (module docstring).

  Args:
    optimizer: makes the outer step, from the gradient at the last adversarial point.
    adv_optimizer: its update, negated, is each climbing step.
    sync_period: one outer step every ``sync_period`` gradients (2: classic SAM).
    reset_state: re-initialise ``adv_optimizer`` at every outer step.
    opaque_mode: one ``update`` call per cycle; it then needs ``grad_fn``.
    batch_axis_name: in opaque mode, the axis whose gradients ``grad_fn`` results are
      averaged over (``jax.lax.pmean``).

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> loss = lambda p: jnp.sum(p ** 2)
    >>> opt = jon.sam(jon.sgd(0.1), jon.chain(jon.normalize(), jon.sgd(0.05)))
    >>> params = jnp.array([3.0, 4.0])
    >>> state = opt.init(params)
    >>> for _ in range(2):   # climb 0.05 along the gradient, then step from the start
    ...   updates, state = opt.update(jax.grad(loss)(params), state, params)
    ...   params = jon.apply_updates(params, updates)
    >>> [round(float(p), 4) for p in params]   # 0.8 * (3, 4) - 0.2 * 0.05 * (0.6, 0.8)
    [2.394, 3.192]

  Reference: Foret, Kleiner, Mobahi & Neyshabur, 2021, "Sharpness-Aware
  Minimization for Efficiently Improving Generalization".
  """
  _validate.check_positive_int("sam", "sync_period", sync_period)
  optimizer, adv_optimizer = map(with_extra_args_support, (optimizer, adv_optimizer))

  def init_fn(params):
    return SAMState(
      steps_since_sync=_placement.zero_count(params),
      opt_state=optimizer.init(params),
      adv_state=adv_optimizer.init(params),
      cache=None if opaque_mode else _tree.copy(params),
    )

  def transparent_update(updates, state, params=None, grad_fn=None, **extra_args):
    del grad_fn
    first, last = state.steps_since_sync == 0, state.steps_since_sync == sync_period - 1
    pick = lambda c, a, b: jax.tree.map(lambda x, y: jnp.where(c, x, y), a, b)  # noqa: E731
    adv_updates, adv_state = adv_optimizer.update(updates, state.adv_state, params, **extra_args)
    outer, opt_state = optimizer.update(updates, state.opt_state, state.cache, **extra_args)
    # back to the cached start, then the outer step (frozen leaves have no cache: their zero update)
    home = jax.tree.map(
      lambda u, c, p: u if c is None else (c - p + u).astype(u.dtype),
      outer,
      state.cache,
      params,
      is_leaf=_tree.is_none,
    )
    if reset_state:
      adv_state = pick(last, adv_optimizer.init(params), adv_state)
    else:
      adv_state = pick(last, state.adv_state, adv_state)
    return pick(last, home, _negate(adv_updates)), SAMState(
      steps_since_sync=(state.steps_since_sync + 1) % sync_period,
      opt_state=pick(last, opt_state, state.opt_state),
      adv_state=adv_state,
      cache=pick(first, _tree.copy(params), state.cache),
    )

  def opaque_update(updates, state, params=None, grad_fn: Callable | None = None, **extra_args):
    if grad_fn is None:
      raise ValueError("sam: opaque_mode needs `grad_fn(params, i)` in update")
    adv_params, adv_state = params, state.adv_state
    for i in range(sync_period - 1):
      climb, adv_state = adv_optimizer.update(updates, adv_state, adv_params, **extra_args)
      adv_params = jax.tree.map(lambda p, u: p if _tree.is_frozen(p) else p - u, adv_params, climb)
      updates = grad_fn(adv_params, i)
      if batch_axis_name is not None:
        updates = jax.lax.pmean(updates, axis_name=batch_axis_name)
    if reset_state:
      adv_state = adv_optimizer.init(params)
    out, opt_state = optimizer.update(updates, state.opt_state, params, **extra_args)
    return out, SAMState(
      steps_since_sync=jnp.zeros_like(state.steps_since_sync),
      opt_state=opt_state,
      adv_state=adv_state,
      cache=None,
    )

  return GradientTransformationExtraArgs(
    init_fn, opaque_update if opaque_mode else transparent_update
  )
