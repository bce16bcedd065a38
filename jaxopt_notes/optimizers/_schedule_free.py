"""Schedule-Free learning (Defazio et al., 2024): averaging and interpolation, no schedule.

Three sequences: the base optimizer steps $z$, the gradient is taken at $y$
(the params the caller holds) and the evaluation point $x$ is a weighted
running average of $z$:

$$
z_{t+1} = z_t + \\Delta_t,\\qquad
x_{t+1} = (1 - c_{t+1})\\, x_t + c_{t+1} z_{t+1},\\qquad
y_{t+1} = \\beta_1 x_{t+1} + (1 - \\beta_1) z_{t+1},
$$

where $\\Delta_t$ is the base optimizer's update for the gradient at $y_t$
(plain SGD: $-\\gamma_t \\nabla f(y_t)$), and the averaging weights follow
the largest learning rate seen so far,

$$
w_t = \\big(\\max_{s \\le t} \\gamma_s\\big)^{r},\\qquad
c_{t+1} = \\frac{w_t}{\\sum_{s \\le t} w_s},
$$

with $r$ = ``weight_lr_power`` (2 in the paper), so warmup steps, with their
small rates, weigh little. Only $z$ is stored: $x = (y - (1-\\beta_1) z) /
\\beta_1$ is recovered from the params by `schedule_free_eval_params`. With
$\\beta_1 = 0$ the params are $z$ itself and $x$ cannot be recovered, so the
state's ``z`` holds $x$ instead (optax's update divides by $\\beta_1$ and
returns NaN there).

The learning rate a schedule gives step $t$ (counted from 0, as the base
optimizer counts) enters both $\\Delta_t$ and $w_t$; ``step_count`` in the
state counts from 1, as in optax. The warmup of the aliases is the paper's,
$\\gamma_t = \\gamma \\min(1, (t+1)/T_{warmup})$.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
  with_extra_args_support,
)
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments
from jaxopt_notes.optimizers._rmsprop import scale_by_rms
from jaxopt_notes.optimizers._sgd import sgd
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


class ScheduleFreeState(NamedTuple):
  """State of `schedule_free`.

  Attributes:
    b1: the interpolation weight $\\beta_1$, kept for `schedule_free_eval_params`.
    weight_sum: the sum of the averaging weights $w_s$ so far.
    step_count: int32 number of the coming step, counted from 1, saturating.
    max_lr: the largest learning rate seen so far.
    base_optimizer_state: the state of the base optimizer.
    z: the base optimizer's iterate $z$ (the average $x$ when $\\beta_1 = 0$).
  """

  b1: jax.Array  # the interpolation weight beta_1, kept for schedule_free_eval_params
  weight_sum: jax.Array  # sum of the averaging weights w_s so far
  step_count: jax.Array  # int32, the number of the coming step counted from 1, saturating
  max_lr: jax.Array  # the largest learning rate seen so far
  base_optimizer_state: Any
  z: Any  # the base optimizer's iterate (the average x when b1 = 0)


def _evaluation_point(b1: Any, params: Any, z: Any) -> Any:
  """$x = (y - (1-\\beta_1) z) / \\beta_1$, or the stored $x$ when $\\beta_1 = 0$."""
  return _tree.map(
    lambda y, zi: jnp.where(b1 == 0, zi, _numerics.safe_div(y - (1 - b1) * zi, b1)), params, z
  )


def schedule_free_eval_params(state: ScheduleFreeState, params: Any) -> Any:
  """The evaluation point $x$ of `schedule_free` from its state and the params $y$.

  Args:
    state: the `ScheduleFreeState` of the optimizer.
    params: the params $y$ the optimizer produced.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.schedule_free_sgd(0.1, b1=0.0)
    >>> params = jnp.array([1.0, -2.0])
    >>> state = opt.init(params)
    >>> for _ in range(2):
    ...   updates, state = opt.update(2 * params, state, params)
    ...   params = jon.apply_updates(params, updates)
    >>> [round(float(v), 4) for v in jon.schedule_free_eval_params(state, params)]  # (0.8 + 0.64)/2
    [0.72, -1.44]
  """
  if not isinstance(state, ScheduleFreeState):
    raise TypeError(
      "schedule_free_eval_params: `state` must be the ScheduleFreeState of "
      f"schedule_free, got {type(state).__name__}"
    )
  x = _evaluation_point(state.b1, params, state.z)
  return _tree.cast_like(x, params)


def _state_scalar_dtype(params: Any) -> Any:
  floats = [jnp.result_type(x) for x in _tree.leaves(params)]
  return jnp.promote_types(jnp.result_type(*floats) if floats else jnp.float32, jnp.float32)


def schedule_free(
  base_optimizer: GradientTransformation,
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  weight_lr_power: Float = 2.0,
  state_dtype: Any = None,
) -> GradientTransformationExtraArgs:
  """Makes ``base_optimizer`` schedule-free (module docstring).

  ``base_optimizer`` should have no momentum of its own (the interpolation
  replaces it) and use the same ``learning_rate``. ``update`` needs the
  params (the gradient point $y$); evaluate at `schedule_free_eval_params`.
  ``state_dtype`` is the dtype of ``z`` (the params' by default).

  Args:
    base_optimizer: the optimizer that steps $z$; it should have no momentum of its own and use
      ``learning_rate``.
    learning_rate: the learning rate $\\gamma_t$ (a number or a schedule of the step from 0); it
      sets the averaging weights.
    b1: $\\beta_1$, the interpolation weight of $y = \\beta_1 x + (1-\\beta_1) z$ (not a momentum),
      in [0, 1].
    weight_lr_power: $r$, the power of the largest learning rate so far in the averaging weights
      $w_t$ (2 in the paper).
    state_dtype: dtype in which ``z`` is stored; ``None`` keeps the params' dtype.

  Reference: Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, 2024,
  "The Road Less Scheduled".
  """
  _validate.check(
    "schedule_free",
    learning_rate=(learning_rate, _validate.FINITE),
    b1=(b1, _validate.UNIT),
    weight_lr_power=(weight_lr_power, _validate.FINITE),
  )
  base = with_extra_args_support(base_optimizer)
  state_dtype = _tree.canonical_dtype(state_dtype)

  def init_fn(params):
    scalar = _state_scalar_dtype(params)
    z = _tree.copy(params, state_dtype)
    scalars = dict(
      b1=jnp.asarray(b1, scalar),
      weight_sum=jnp.zeros([], scalar),
      step_count=jnp.ones([], jnp.int32),
      max_lr=jnp.zeros([], scalar),
    )
    return ScheduleFreeState(
      **_placement.replicate_like(scalars, params), base_optimizer_state=base.init(params), z=z
    )

  def update_fn(updates, state, params=None, **extra_args):
    if params is None:
      raise ValueError("schedule_free: update needs the params (the gradient point y)")
    _tree.check_match(updates, params)
    lr = learning_rate(state.step_count - 1) if callable(learning_rate) else learning_rate
    max_lr = jnp.maximum(state.max_lr, jnp.asarray(lr, state.max_lr.dtype))
    weight = max_lr**weight_lr_power
    weight_sum = state.weight_sum + weight
    c = _numerics.safe_div(weight, weight_sum)
    steps, base_state = base.update(updates, state.base_optimizer_state, params, **extra_args)
    z_prev = _tree.map(lambda y, zi: jnp.where(state.b1 == 0, y, zi), params, state.z)
    z = _tree.map(lambda zi, d: zi + d, z_prev, steps)
    x = _tree.map(
      lambda xi, zi: (1 - c) * xi + c * zi, _evaluation_point(state.b1, params, state.z), z
    )
    y = _tree.map(lambda xi, zi: state.b1 * xi + (1 - state.b1) * zi, x, z)
    stored = _tree.map(lambda xi, zi: jnp.where(state.b1 == 0, xi, zi), x, z)
    out = _tree.cast_like(_tree.sub(y, params), updates)
    return out, ScheduleFreeState(
      b1=state.b1,
      weight_sum=weight_sum,
      step_count=_numerics.safe_increment(state.step_count),
      max_lr=max_lr,
      base_optimizer_state=base_state,
      z=_tree.cast_like(stored, state.z),
    )

  return GradientTransformationExtraArgs(init_fn, update_fn)


def _warmed_up(learning_rate: ScalarOrSchedule, warmup_steps: Any) -> ScalarOrSchedule:
  """The paper's linear warmup, $\\gamma \\min(1, (t+1)/T)$ for step $t$ from 0."""
  if warmup_steps is None:
    return learning_rate
  return lambda count: (
    learning_rate * jnp.minimum(1.0, (jnp.asarray(count, float) + 1) / warmup_steps)
  )


@shared_args(like=schedule_free)
def schedule_free_sgd(
  learning_rate: Float = 1.0,
  warmup_steps: Any = None,
  b1: Float = 0.9,
  weight_decay: Float | None = None,
  weight_lr_power: Float = 2.0,
  state_dtype: Any = None,
) -> GradientTransformationExtraArgs:
  """Schedule-free SGD (module docstring); ``weight_decay`` is added to the gradient.

  Args:
    learning_rate: the peak learning rate $\\gamma$.
    warmup_steps: $T_{warmup}$: the learning rate rises linearly over this many steps, $\\gamma
      \\min(1, (t+1)/T_{warmup})$; ``None`` for no warmup.
    weight_decay: coefficient of ``weight_decay * params`` added to the gradient at $y$; ``None``
      for none.

  Reference: Defazio et al., 2024, "The Road Less Scheduled", algorithm 1.
  """
  _validate.check(
    "schedule_free_sgd",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  _validate.check_positive_int("schedule_free_sgd", "warmup_steps", warmup_steps)
  lr = _warmed_up(learning_rate, warmup_steps)
  base = sgd(lr) if weight_decay is None else chain(add_decayed_weights(weight_decay), sgd(lr))
  return schedule_free(base, lr, b1, weight_lr_power, state_dtype)


@shared_args(like=schedule_free_sgd)
def schedule_free_adamw(
  learning_rate: Float = 0.0025,
  warmup_steps: Any = None,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  weight_decay: Float = 0.0,
  weight_lr_power: Float = 2.0,
  state_dtype: Any = None,
  eps_root: Float = 0.0,
) -> GradientTransformationExtraArgs:
  """Schedule-free AdamW (module docstring): the base step is
  $-\\gamma_t\\,(g_t / (\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon) + \\lambda y_t)$
  with $\\hat v_t$ the debiased EMA of $g^2$ (rate ``b2``); ``b1`` is the
  interpolation weight, not a momentum.

  Reference: Defazio et al., 2024, "The Road Less Scheduled", algorithm 2.
  """
  check_moments(
    "schedule_free_adamw",
    b1,
    b2,
    eps,
    eps_root,
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  _validate.check_positive_int("schedule_free_adamw", "warmup_steps", warmup_steps)
  lr = _warmed_up(learning_rate, warmup_steps)
  base = chain(
    scale_by_rms(b2, eps, eps_in_sqrt=False, bias_correction=True, eps_root=eps_root),
    add_decayed_weights(weight_decay),
    scale_by_learning_rate(lr),
  )
  return schedule_free(base, lr, b1, weight_lr_power, state_dtype)
