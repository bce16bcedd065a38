"""Adafactor (Shazeer & Stern, 2018): a factored second moment, relative steps.

For a leaf whose two largest axes both have at least
``min_dim_size_to_factor`` entries, only row and column statistics of
$G_t = g_t^2 + \\epsilon_1$ are kept (means over the largest axis, and over
the second largest):

$$
R_t = \\hat\\beta_{2,t} R_{t-1}
  + (1-\\hat\\beta_{2,t})\\,\\operatorname{mean}_{\\text{cols}} G_t,\\qquad
C_t = \\hat\\beta_{2,t} C_{t-1} + (1-\\hat\\beta_{2,t})\\,\\operatorname{mean}_{\\text{rows}} G_t,
$$

$$
\\hat V_t = \\frac{R_t C_t^\\top}{\\operatorname{mean}(R_t)},\\qquad
U_t = g_t / \\sqrt{\\hat V_t}
$$

(further axes are batch axes, each with its own rows and columns). Smaller
leaves keep the full $V_t = \\hat\\beta_{2,t} V_{t-1} + (1-\\hat\\beta_{2,t}) G_t$.
The decay rises with the step: $\\hat\\beta_{2,t} = 1 - t^{-0.8}$ (``decay_rate``),
so the first step uses $G_1$ alone and no bias correction is needed. The
state of an $n\\times m$ matrix is $n + m$ numbers instead of $nm$.

`adafactor` then clips each leaf's update to RMS at most $d$
(``clipping_threshold``), multiplies by the step size $\\rho_t$
(``learning_rate``) and, with ``multiply_by_parameter_scale``, by
$\\max(\\epsilon_2, \\operatorname{RMS}(\\theta_{t-1}))$ with $\\epsilon_2 = 10^{-3}$: the
paper's *relative* step. Optional momentum (an EMA without debiasing, stored in
``dtype_momentum``) and decoupled weight decay follow.

The statistics are stored in the params' dtype (float32 for float16 params,
whose range cannot hold squared gradients). $\\epsilon_1$ (``epsilon``/``eps``) regularizes
the squared gradient inside
the moving average; it is the only constant, there is no ``eps`` outside the root.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float
from jaxopt_notes.transforms._accumulation import ema
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._clipping import clip_by_block_rms
from jaxopt_notes.transforms._scaling import scale, scale_by_learning_rate, scale_by_param_block_rms
from jaxopt_notes._docargs import shared_args


@shared_args
class FactoredState(NamedTuple):
  """State of `scale_by_factored_rms`; unused fields of a leaf hold one zero.

  Attributes:
    v_row: $R_t$ of each factored leaf (its largest axis reduced); one zero for other leaves.
    v_col: $C_t$ of each factored leaf (its second largest axis reduced); one zero for other leaves.
    v: $V_t$ of each leaf that is not factored; one zero for factored leaves.
  """

  count: jax.Array  # int32 steps taken, saturating
  v_row: Any  # R_t for factored leaves (the largest axis removed)
  v_col: Any  # C_t for factored leaves (the second largest axis removed)
  v: Any  # V_t for leaves that are not factored


def _stat_dtype(p) -> Any:
  """The params' dtype, but float32 for float16 (a squared gradient above 256^2 overflows it)."""
  dtype = jnp.result_type(p)
  return jnp.float32 if dtype == jnp.float16 else dtype


def decay_rate_pow(step: Any, exponent: Any = 0.8) -> jax.Array:
  """The paper's $\\hat\\beta_{2,t} = 1 - t^{-\\text{exponent}}$, with ``t = step + 1``.

  Computed in the default float dtype (float64 when x64 is on).
  """
  t = jnp.asarray(step, jnp.result_type(float)) + 1
  return 1 - t ** (-jnp.asarray(exponent, t.dtype))


def factored_dims(shape: tuple, factored: bool, min_dim_size_to_factor: int):
  """``(second largest axis, largest axis)`` of a leaf to factor, else ``None``."""
  if not factored or len(shape) < 2:
    return None
  second, largest = (int(a) for a in np.argsort(shape, kind="stable")[-2:])
  if shape[second] < min_dim_size_to_factor:
    return None
  return second, largest


@shared_args
def scale_by_factored_rms(
  factored: bool = True,
  decay_rate: Float = 0.8,
  step_offset: Any = 0,
  min_dim_size_to_factor: int = 128,
  epsilon: Float = 1e-30,
  decay_rate_fn: Callable = decay_rate_pow,
  *,
  factors_dtype: Any = None,
) -> GradientTransformation:
  """Adafactor's scaling $g_t / \\sqrt{\\hat V_t}$; see `adafactor`.

  ``decay_rate_fn(step - step_offset, decay_rate)`` gives $\\hat\\beta_{2,t}$
  (steps from 0); ``step_offset`` restarts the schedule for fine-tuning.
  Needs the params (only their shapes are read).

  Args:
    factored: factor the second moment of leaves large enough; False keeps full moments.
    decay_rate: the exponent $c$ of the decay $\\hat\\beta_{2,t} = 1 - t^{-c}$ of the second-moment
      statistics (with the default ``decay_rate_fn``); >= 0.
    step_offset: subtracted from the step count before ``decay_rate_fn`` reads it, to restart the
      decay schedule when fine-tuning.
    min_dim_size_to_factor: a leaf is factored only if its second largest axis has at least this
      many entries; smaller leaves keep a full second moment.
    epsilon: $\\epsilon_1$, added to the squared gradient inside the moving averages; >= 0.
    decay_rate_fn: ``(step, decay_rate) -> decay`` giving $\\hat\\beta_{2,t}$ (steps from 0);
      `decay_rate_pow` by default.
  """
  _validate.check(
    "scale_by_factored_rms",
    decay_rate=(decay_rate, _validate.NONNEGATIVE),
    epsilon=(epsilon, _validate.NONNEGATIVE),
    min_dim_size_to_factor=(min_dim_size_to_factor, _validate.NONNEGATIVE),
  )
  factors_dtype = _tree.canonical_dtype(factors_dtype)
  stat_dtype = lambda p: _stat_dtype(p) if factors_dtype is None else factors_dtype  # noqa: E731

  def dims(x):
    return factored_dims(jnp.shape(x), factored, min_dim_size_to_factor)

  def placeholder(p):  # optax's one zero for an unused field, on every device of p's mesh
    return _placement.replicate_like(jnp.zeros((1,), stat_dtype(p)), p)

  def init_one(p):
    d, dtype = dims(p), stat_dtype(p)
    if d is None:
      return placeholder(p), placeholder(p), _tree.zeros_like(p, dtype)
    second, largest = d
    return (
      _tree.zeros_reduced(p, largest, dtype),
      _tree.zeros_reduced(p, second, dtype),
      placeholder(p),
    )

  def init_fn(params):
    flat, treedef = jax.tree.flatten(params, is_leaf=_tree.is_none)
    parts = [None if p is None or _tree.is_frozen(p) else init_one(p) for p in flat]
    field = lambda i: treedef.unflatten([None if x is None else x[i] for x in parts])  # noqa: E731
    return FactoredState(
      count=_placement.zero_count(params), v_row=field(0), v_col=field(1), v=field(2)
    )

  def update_one(g, v_row, v_col, v, decay):
    compute = jnp.promote_types(v.dtype, jnp.float32)
    decay = decay.astype(compute)
    sq = _numerics.abs_sq(_numerics.widen(g, compute)) + epsilon
    average = lambda old, new: decay * old.astype(compute) + (1 - decay) * new  # noqa: E731
    d = dims(g)
    if d is None:
      new_v = average(v, sq)
      out = g * jax.lax.rsqrt(new_v)
      return out.astype(g.dtype), v_row, v_col, new_v.astype(v.dtype)
    second, largest = d
    new_row = average(v_row, jnp.mean(sq, axis=largest))
    new_col = average(v_col, jnp.mean(sq, axis=second))
    row_axis = second - 1 if second > largest else second  # `second` once `largest` is gone
    row_factor = jax.lax.rsqrt(new_row / jnp.mean(new_row, axis=row_axis, keepdims=True))
    out = g * jnp.expand_dims(row_factor, largest) * jnp.expand_dims(jax.lax.rsqrt(new_col), second)
    # Statistics that overflowed (inf / inf) scale a finite gradient to 0, as Adam's
    # g / sqrt(inf) does; a non-finite gradient still shows.
    out = jnp.where(jnp.isfinite(g) & ~jnp.isfinite(out), 0, out)
    return out.astype(g.dtype), new_row.astype(v_row.dtype), new_col.astype(v_col.dtype), v

  def update_fn(updates, state, params=None):
    # only shapes are read: those of the updates, checked against the params when given
    _tree.check_match(
      updates, *([state.v_row] if params is None else [state.v_row, params]), shapes=False
    )
    if params is not None:
      _tree.check_match(updates, params)
    decay = jnp.asarray(decay_rate_fn(state.count - step_offset, decay_rate))
    flat, treedef = jax.tree.flatten(updates, is_leaf=_tree.is_none)
    rows, cols, vs = (treedef.flatten_up_to(x) for x in (state.v_row, state.v_col, state.v))
    parts = [
      None if r is None else update_one(g, r, c, v, decay)
      for g, r, c, v in zip(flat, rows, cols, vs)
    ]
    field = lambda i: treedef.unflatten([None if x is None else x[i] for x in parts])  # noqa: E731
    new_state = FactoredState(
      count=_numerics.safe_increment(state.count), v_row=field(1), v_col=field(2), v=field(3)
    )
    return _tree.cast_like(field(0), updates), new_state

  return GradientTransformation(init_fn, update_fn)


@shared_args
def adafactor(
  learning_rate: ScalarOrSchedule | None = None,
  min_dim_size_to_factor: int = 128,
  decay_rate: Float = 0.8,
  decay_offset: Any = 0,
  multiply_by_parameter_scale: bool = True,
  clipping_threshold: Float | None = 1.0,
  momentum: Float | None = None,
  dtype_momentum: Any = jnp.float32,
  weight_decay_rate: ScalarOrSchedule | None = None,
  eps: Float = 1e-30,
  factored: bool = True,
  weight_decay_mask: Any = None,
  *,
  factors_dtype: Any = None,
) -> GradientTransformation:
  """Adafactor (module docstring).

  ``learning_rate`` is the step size $\\rho_t$ (a number or schedule; ``None``
  for 1). The paper's relative step is ``learning_rate=lambda t:
  jnp.minimum(1e-2, 1 / jnp.sqrt(t + 1))`` with the default
  ``multiply_by_parameter_scale=True``. ``None`` turns off clipping
  (``clipping_threshold``), momentum and weight decay (``weight_decay_rate``,
  restricted to ``weight_decay_mask``); ``factored=False`` keeps full second
  moments everywhere.

  Args:
    learning_rate: the step size $\\rho_t$, a number or a schedule of the step; ``None`` for 1 (see
      above for the paper's relative step).
    min_dim_size_to_factor: a leaf is factored only if its second largest axis has at least this
      many entries; smaller leaves keep a full second moment.
    decay_rate: the exponent $c$ of the decay $\\hat\\beta_{2,t} = 1 - t^{-c}$ of the second-moment
      statistics (with the default ``decay_rate_fn``); >= 0.
    decay_offset: subtracted from the step count before the decay is computed, to restart it when
      fine-tuning.
    multiply_by_parameter_scale: multiply the step by $\\max(10^{-3},
      \\operatorname{RMS}(\\theta_{t-1}))$ per leaf (the paper's relative step).
    clipping_threshold: $d$: each leaf's update is clipped to RMS at most $d$ before the learning
      rate; > 0, ``None`` for no clipping.
    momentum: decay rate of a momentum (an EMA without debiasing) of the scaled update, in [0, 1];
      ``None`` for none.
    dtype_momentum: dtype in which that momentum is stored.
    weight_decay_rate: decoupled weight decay coefficient (number or schedule of the step),
      ``weight_decay_rate * params`` added after the scaling and momentum; ``None`` for none.
    eps: $\\epsilon_1$, added to the squared gradient inside the moving averages (there is no
      ``eps`` outside the root); >= 0.
    factored: factor the second moment of leaves large enough; False keeps full moments.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> params = {'w': jnp.ones((256, 128)), 'b': jnp.ones(128)}
    >>> state = jon.adafactor(1e-2).init(params)
    >>> state[0].v_row['w'].shape, state[0].v_col['w'].shape, state[0].v['b'].shape
    ((128,), (256,), (128,))

  Reference: Shazeer & Stern, 2018, "Adafactor: Adaptive Learning Rates with
  Sublinear Memory Cost".
  """
  _validate.check(
    "adafactor",
    clipping_threshold=(clipping_threshold, _validate.POSITIVE_OR_INF),
    momentum=(momentum, _validate.UNIT),
  )
  parts = [
    scale_by_factored_rms(
      factored, decay_rate, decay_offset, min_dim_size_to_factor, eps, factors_dtype=factors_dtype
    )
  ]
  if clipping_threshold is not None:
    parts.append(clip_by_block_rms(clipping_threshold))
  if learning_rate is not None:
    parts.append(scale_by_learning_rate(learning_rate, flip_sign=False))
  if multiply_by_parameter_scale:
    parts.append(scale_by_param_block_rms())
  if momentum is not None:
    parts.append(ema(momentum, debias=False, accumulator_dtype=dtype_momentum))
  if weight_decay_rate is not None:
    parts.append(add_decayed_weights(weight_decay_rate, mask=weight_decay_mask))
  parts.append(scale(-1))
  return chain(*parts)
