"""Distance over gradients: DoG (Ivgi, Hinder & Carmon, 2023) and DoWG (Khaled, Mishchenko &
Jin, 2023).

Step sizes learned from how far the params have moved from where they
started, $x_0$, with no learning rate to tune (``learning_rate`` stays a
plain multiplier, 1 by default):

$$
\\bar r_t = \\max\\left(r_\\epsilon, \\max_{s \\le t} \\|x_s - x_0\\|\\right),\\qquad
G_t = \\sum_{s \\le t} \\|g_s\\|^2,\\qquad
x_{t+1} = x_t - \\frac{\\bar r_t}{\\sqrt{G_t + \\epsilon_{root}} + \\epsilon}\\, g_t
$$

* DoG (`dog`) takes norms over the whole tree. ``init_step`` sets the first
  move: ``("distance", r)`` gives $r_\\epsilon = r$; ``("heuristic", a)``
  gives $r_\\epsilon = a (1 + \\|x_0\\|)$; ``("learning_rate", \\eta_0)``
  takes $\\eta_0$ as the first step size.
* Layer-wise DoG (`scale_by_distance_over_gradients`) does the same per leaf,
  with $r_\\epsilon = $ ``reps_rel`` $(1 + \\|x_0\\|)$ per leaf, and keeps
  $x_0$ in ``param_dtype``.
* DoWG (`dowg`) weights each gradient by the squared distance:
  $v_t = v_{t-1} + \\bar r_t^2 \\|g_t\\|^2$, step
  $\\bar r_t^2 / (\\sqrt{v_t + \\epsilon_{root}} + \\epsilon)\\, g_t$, with
  $\\bar r_0^2$ = ``init_estim_sq_dist`` (``eps`` when None).

Where optax adds its ``eps`` inside the square root (DoG) it is ``eps_root`` here.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule, identity
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args

INIT_STEPS = ("distance", "learning_rate", "heuristic")


class ScaleByDistanceOverGradientsState(NamedTuple):
  """State of `scale_by_distance_over_gradients`: one distance and one sum per leaf.

  Attributes:
    max_dist: $\\bar r_t$ per leaf.
    grad_sum_of_squares: $G_t$ per leaf.
    init_params: $x_0$, stored in ``param_dtype``.
  """

  max_dist: Any  # per leaf: r-bar_t
  grad_sum_of_squares: Any  # per leaf: G_t
  init_params: Any  # x_0 in param_dtype


class DoGState(NamedTuple):
  """State of `scale_by_dog`.

  Attributes:
    is_init_step: True until the first update is taken.
    init_params: $x_0$, the params at initialisation.
    max_dist: $\\bar r_t$, over the whole tree.
    sum_sq_norm_grads: $G_t$, the sum of the squared gradient norms.
  """

  is_init_step: jax.Array
  init_params: Any
  max_dist: jax.Array  # r-bar_t over the whole tree
  sum_sq_norm_grads: jax.Array  # G_t


class DoWGState(NamedTuple):
  """State of `scale_by_dowg`.

  Attributes:
    init_params: $x_0$, the params at initialisation.
    weighted_sq_norm_grads: $v_t = \\sum_s \\bar r_s^2 \\|g_s\\|^2$.
    estim_sq_dist: $\\bar r_t^2$, the squared distance estimate.
  """

  init_params: Any
  weighted_sq_norm_grads: jax.Array  # v_t
  estim_sq_dist: jax.Array  # r-bar_t^2


def _leaf_norm(x, y=None):
  d = x if y is None else x - y
  return jnp.sqrt(jnp.sum(_numerics.abs_sq(d.astype(jnp.promote_types(d.dtype, jnp.float32)))))


def _per_trained_leaf(f, tree):
  return jax.tree.map(
    lambda x: None if x is None or _tree.is_frozen(x) else f(jnp.asarray(x)),
    tree,
    is_leaf=_tree.is_none,
  )


@shared_args
def scale_by_distance_over_gradients(
  reps_rel: Float = 1e-6,
  eps: Float = 0.0,
  param_dtype: Any = jnp.float32,
  global_scale: Float = 1.0,
  eps_root: Float = 1e-8,
) -> GradientTransformation:
  """Layer-wise DoG's step per leaf (module docstring), times ``global_scale``.

  The state keeps $x_0$ and two scalars per leaf. Reference: Ivgi, Hinder &
  Carmon, 2023, "DoG is SGD's Best Friend: A Parameter-Free Dynamic Step Size
  Schedule".

  Args:
    reps_rel: $r_\\epsilon$ relative to each leaf's size: $r_\\epsilon = \\text{reps\\_rel}\\,(1 +
      \\|x_0\\|)$ per leaf; >= 0.
    param_dtype: dtype in which $x_0$ is stored.
    global_scale: multiplies every step (e.g. a sign or a learning rate).
  """
  _validate.check(
    "scale_by_distance_over_gradients",
    reps_rel=(reps_rel, _validate.NONNEGATIVE),
    eps=(eps, _validate.NONNEGATIVE),
    global_scale=(global_scale, _validate.FINITE),
    eps_root=(eps_root, _validate.NONNEGATIVE),
  )

  def init_fn(params):
    return ScaleByDistanceOverGradientsState(
      max_dist=_per_trained_leaf(lambda x: reps_rel * (1 + _leaf_norm(x)), params),
      grad_sum_of_squares=_per_trained_leaf(lambda x: jnp.zeros_like(_leaf_norm(x)), params),
      init_params=_tree.copy(params, _tree.canonical_dtype(param_dtype)),
    )

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError(
        "scale_by_distance_over_gradients needs the params: call update(grads, state, params)"
      )
    max_dist = _tree.map(
      lambda d, x, x0: jnp.maximum(d, _leaf_norm(x, x0)).astype(d.dtype),
      state.max_dist,
      params,
      state.init_params,
      broadcast=True,
    )
    sums = _tree.map(
      lambda g, s: (s + _leaf_norm(g) ** 2).astype(s.dtype),
      updates,
      state.grad_sum_of_squares,
      broadcast=True,
    )
    out = _tree.map(
      lambda g, d, s: global_scale * _numerics.rms_scale(d, s, eps, eps_root) * g,
      updates,
      max_dist,
      sums,
      broadcast=True,
    )
    return _tree.cast_like(out, updates), ScaleByDistanceOverGradientsState(
      max_dist, sums, state.init_params
    )

  return GradientTransformation(init_fn, update_fn)


def _check_init_step(owner: str, init_step: tuple) -> None:
  kind, value = init_step
  _validate.check_choice(owner, "init_step", kind, INIT_STEPS)
  allowed = _validate.FINITE if kind == "learning_rate" else _validate.NONNEGATIVE
  _validate.check(owner, init_step=(value, allowed))


@shared_args
def scale_by_dog(
  init_step: tuple = ("heuristic", 1e-6), eps: Float = 0.0, eps_root: Float = 1e-8
) -> GradientTransformation:
  """DoG's step $\\bar r_t / (\\sqrt{G_t + \\epsilon_{root}} + \\epsilon)\\, g_t$; see `dog`.

  Args:
    init_step: the first move: ``('distance', r)`` sets $r_\\epsilon = r$; ``('heuristic', a)`` sets
      $r_\\epsilon = a (1 + \\|x_0\\|)$; ``('learning_rate', \\eta_0)`` takes $\\eta_0$ as the first
      step size.
  """
  _check_init_step("scale_by_dog", init_step)
  _validate.check(
    "scale_by_dog", eps=(eps, _validate.NONNEGATIVE), eps_root=(eps_root, _validate.NONNEGATIVE)
  )
  kind, value = init_step

  def init_fn(params):
    r_eps = {
      "distance": value,
      "heuristic": value * (1 + _tree.norm(params)),
      "learning_rate": 0.0,
    }[kind]
    return DoGState(
      is_init_step=_placement.replicate_like(jnp.asarray(True), params),
      init_params=_tree.copy(params),
      max_dist=_placement.scalar_like(r_eps, params),
      sum_sq_norm_grads=_placement.scalar_like(0.0, params),
    )

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("scale_by_dog needs the params: call update(grads, state, params)")
    dtype = state.max_dist.dtype
    dist = _tree.norm(_tree.sub(params, state.init_params), dtype=dtype)
    max_dist = jnp.maximum(state.max_dist, dist)
    sums = state.sum_sq_norm_grads + _tree.norm(updates, squared=True, dtype=dtype)
    step = _numerics.rms_scale(max_dist, sums, eps, eps_root)
    if kind == "learning_rate":
      step = jnp.where(state.is_init_step, value, step)
    out = _tree.map(lambda g: step * g, updates)
    return _tree.cast_like(out, updates), DoGState(
      is_init_step=jnp.zeros_like(state.is_init_step),
      init_params=state.init_params,
      max_dist=max_dist,
      sum_sq_norm_grads=sums,
    )

  return GradientTransformation(init_fn, update_fn)


def _decay(weight_decay, mask):
  return identity() if weight_decay is None else add_decayed_weights(weight_decay, mask)


@shared_args(like=scale_by_dog)
def dog(
  learning_rate: ScalarOrSchedule = 1.0,
  init_step: tuple = ("heuristic", 1e-6),
  eps: Float = 0.0,
  weight_decay: Float | None = None,
  mask: Any = None,
  eps_root: Float = 1e-8,
) -> GradientTransformation:
  """DoG (module docstring); weight decay, when given, is added to the gradient first.

  Args:
    learning_rate: a plain multiplier of the learned step (a number or a schedule of the step); 1 by
      default.
    weight_decay: coefficient of ``weight_decay * params``, added to the gradient before the step
      size is applied (so it is scaled by the learned step); ``None`` for none.
    mask: which params are decayed: a tree of booleans with the params' structure (or a prefix of
      it), or a function of the params returning one; ``None`` decays every leaf.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> loss = lambda x: jnp.sum(x ** 2)
    >>> opt = jon.dog(init_step=("distance", 0.5))
    >>> x = jnp.array([3.0, -4.0]); state = opt.init(x)
    >>> updates, state = opt.update(jax.grad(loss)(x), state, x)
    >>> round(float(jnp.linalg.norm(updates)), 4)   # the first move has length r_eps
    0.5

  Reference: Ivgi, Hinder & Carmon, 2023, "DoG is SGD's Best Friend: A
  Parameter-Free Dynamic Step Size Schedule".
  """
  _validate.check("dog", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    _decay(weight_decay, mask),
    scale_by_dog(init_step, eps, eps_root),
    scale_by_learning_rate(learning_rate),
  )


@shared_args
def scale_by_dowg(
  init_estim_sq_dist: Float | None = None, eps: Float = 1e-4, eps_root: Float = 0.0
) -> GradientTransformation:
  """DoWG's step $\\bar r_t^2 / (\\sqrt{v_t + \\epsilon_{root}} + \\epsilon)\\, g_t$; see `dowg`.

  Args:
    init_estim_sq_dist: $\\bar r_0^2$, the initial squared distance estimate; >= 0, ``None`` uses
      ``eps``.
  """
  _validate.check(
    "scale_by_dowg",
    init_estim_sq_dist=(init_estim_sq_dist, _validate.NONNEGATIVE),
    eps=(eps, _validate.NONNEGATIVE),
    eps_root=(eps_root, _validate.NONNEGATIVE),
  )
  start = eps if init_estim_sq_dist is None else init_estim_sq_dist

  def init_fn(params):
    return DoWGState(
      init_params=_tree.copy(params),
      weighted_sq_norm_grads=_placement.scalar_like(0.0, params),
      estim_sq_dist=_placement.scalar_like(start, params),
    )

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("scale_by_dowg needs the params: call update(grads, state, params)")
    dtype = state.estim_sq_dist.dtype
    sq_dist = _tree.norm(_tree.sub(params, state.init_params), squared=True, dtype=dtype)
    estim = jnp.maximum(state.estim_sq_dist, sq_dist)
    weighted = state.weighted_sq_norm_grads + estim * _tree.norm(updates, squared=True, dtype=dtype)
    step = _numerics.rms_scale(estim, weighted, eps, eps_root)
    out = _tree.map(lambda g: step * g, updates)
    return _tree.cast_like(out, updates), DoWGState(state.init_params, weighted, estim)

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=(scale_by_dowg, dog))
def dowg(
  learning_rate: ScalarOrSchedule = 1.0,
  init_estim_sq_dist: Float | None = None,
  eps: Float = 1e-4,
  weight_decay: Float | None = None,
  mask: Any = None,
  eps_root: Float = 0.0,
) -> GradientTransformation:
  """DoWG (module docstring); weight decay, when given, is added to the gradient first.

  Reference: Khaled, Mishchenko & Jin, 2023, "DoWG Unleashed: An Efficient
  Universal Parameter-Free Gradient Descent Method".
  """
  _validate.check("dowg", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    _decay(weight_decay, mask),
    scale_by_dowg(init_estim_sq_dist, eps, eps_root),
    scale_by_learning_rate(learning_rate),
  )
