"""Averages of the *params* kept in the state: Polyak-Ruppert / SWA and EMA.

Polyak averaging (as in the study notes on optimization algorithms)
$r_t = (1-\\rho) r_{t-1} + \\rho\\,\\theta_t$
(``rate=rho``), or the equal-weight running mean
$r_t = r_{t-1} + (\\theta_t - r_{t-1}) / n$ of the params seen since the
start (``rate=None``: Polyak & Juditsky, 1992; SWA, Izmailov et al., 2018).
The average starts with the params after step ``start_step + 1``
($r = \\theta$ at its first step); until then it follows the params.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation
from jaxopt_notes.transforms._adding import NO_PARAMS
from jaxopt_notes._docargs import shared_args


@shared_args
class AverageParamsState(NamedTuple):
  """State of `average_params`: step counts and the averaged params.

  Attributes:
    num_averaged: int32 number of params averaged so far.
    average: the averaged params.
  """

  count: jax.Array  # steps taken (int32)
  num_averaged: jax.Array  # params averaged so far (int32)
  average: Any  # the averaged params


def average_params(
  rate: jax.typing.ArrayLike | None = None, start_step: int = 0, accumulator_dtype: Any = None
) -> GradientTransformation:
  """Keeps an average of the params in the state; passes the updates through unchanged.

  Put it *last* in a `jaxopt_notes.chain` (it averages
  ``params + updates``, the params the step produces) and read the average
  with `averaged_params`. See the module docstring for the maths.

  Args:
    rate: $\\rho$ of the exponential average $r_t = (1-\\rho) r_{t-1} + \\rho\\theta_t$, in [0, 1];
      ``None`` for the equal-weight mean.
    start_step: the number of steps before averaging starts; until then the average follows the
      params.
    accumulator_dtype: dtype in which the average is stored; ``None`` keeps each param's dtype.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.chain(jon.sgd(1.0), jon.average_params())
    >>> x = jnp.zeros(1); state = opt.init(x)
    >>> for g in (-1.0, -1.0, -1.0):   # x: 1, 2, 3
    ...   u, state = opt.update(jnp.array([g]), state, x); x = x + u
    >>> float(jon.averaged_params(state)[0])   # (1 + 2 + 3) / 3
    2.0
  """
  _validate.check(
    "average_params", rate=(rate, _validate.UNIT), start_step=(start_step, _validate.NONNEGATIVE)
  )
  dtype = _tree.canonical_dtype(accumulator_dtype)

  def init_fn(params):
    # A copy, so that donating the params' buffers never frees the average.
    average = _tree.full_like(params, 0, dtype)  # no state for frozen leaves
    average = _tree.map(lambda a, p: jnp.array(p, dtype=a.dtype, copy=True), average, params)
    return AverageParamsState(
      count=_placement.zero_count(params),
      num_averaged=_placement.zero_count(params),
      average=average,
    )

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError(f"average_params {NO_PARAMS}")
    theta = _tree.cast_like(_tree.add(params, updates), state.average)
    n = state.num_averaged
    if rate is None:
      moved = _tree.map(lambda t, r: r + (t - r) / (n + 1).astype(r.dtype), theta, state.average)
    else:
      moved = _tree.map(lambda t, r: (1 - rate) * r + rate * t, theta, state.average)
    moved = _tree.where(n == 0, theta, moved)
    active = state.count >= start_step
    average = _tree.cast_like(_tree.where(active, moved, theta), state.average)
    return updates, AverageParamsState(
      count=_numerics.safe_increment(state.count),
      num_averaged=jnp.where(active, _numerics.safe_increment(n), n),
      average=average,
    )

  return GradientTransformation(init_fn, update_fn)


def averaged_params(opt_state: Any, params: Any = None) -> Any:
  """The averaged params held by the first `average_params` in ``opt_state``.

  Frozen (integer or boolean) params are not averaged and have no state; pass
  ``params`` to have them filled in from there instead of left as ``None``.

  Args:
    opt_state: the state of an optimizer holding an `average_params`.
    params: the params, to fill in the frozen (integer, boolean) leaves that are not averaged;
      ``None`` leaves them ``None``.
  """
  found = [
    s
    for s in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, AverageParamsState))
    if isinstance(s, AverageParamsState)
  ]
  if not found:
    raise ValueError(
      "averaged_params: the optimizer state holds no average_params state; "
      "add average_params() at the end of the chain"
    )
  average = found[0].average
  if params is None:
    return average
  return jax.tree.map(lambda a, p: p if a is None else a, average, params, is_leaf=_tree.is_none)
