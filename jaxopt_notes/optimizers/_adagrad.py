"""AdaGrad (Duchi, Hazan & Singer, 2011): per-coordinate steps from the sum of squares.

$$
s_t = s_{t-1} + g_t^2,\\qquad
\\theta_t = \\theta_{t-1} - \\eta\\, \\frac{g_t}{\\sqrt{s_t + \\epsilon_{root}} + \\epsilon},
\\qquad s_0 = \\text{initial\\_accumulator\\_value}
$$

Goodfellow et al. (and the study notes after them) add its delta outside the root:
``adagrad(lr, initial_accumulator_value=0, eps=delta, eps_root=0)``; d2l adds
it inside: ``adagrad(lr, initial_accumulator_value=0, eps=0, eps_root=delta)``.
"""

from typing import Any, NamedTuple

import jax

from jaxopt_notes import _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


class ScaleByRssState(NamedTuple):
  """State of `scale_by_rss` (AdaGrad): the running sum of squared gradients.

  Attributes:
    sum_of_squares: $s_t$, the sum of the squared gradients so far (plus the initial value), shaped
      like params.
  """

  sum_of_squares: Any  # s_t, one leaf per param


@shared_args
def scale_by_rss(
  initial_accumulator_value: jax.typing.ArrayLike = 0.1,
  eps: jax.typing.ArrayLike = 0.0,
  eps_root: jax.typing.ArrayLike = 1e-7,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """AdaGrad's scaling by the root of the summed squared gradients; see `adagrad`.

  Args:
    initial_accumulator_value: $s_0$, the value every sum of squares starts from; >= 0. A positive
      value bounds the first steps.
  """
  _validate.check(
    "scale_by_rss",
    initial_accumulator_value=(initial_accumulator_value, _validate.NONNEGATIVE),
    eps=(eps, _validate.NONNEGATIVE),
    eps_root=(eps_root, _validate.NONNEGATIVE),
  )

  def init_fn(params):
    s = _tree.full_like(params, initial_accumulator_value, _tree.canonical_dtype(nu_dtype))
    return ScaleByRssState(sum_of_squares=s)

  def update_fn(updates, state, params=None):
    del params
    s = _tree.map(lambda g, s: s + _numerics.abs_sq(g), updates, state.sum_of_squares)
    out = _tree.map(lambda g, s: _numerics.rms_scale(g, s, eps, eps_root), updates, s)
    return (
      _tree.cast_like(out, updates),
      ScaleByRssState(sum_of_squares=_tree.cast_like(s, state.sum_of_squares)),
    )

  return GradientTransformation(init_fn, update_fn)


scale_by_adagrad = scale_by_rss
"""The same as `scale_by_rss`: AdaGrad's scaling under its own name."""


@shared_args
def adagrad(
  learning_rate: ScalarOrSchedule,
  initial_accumulator_value: jax.typing.ArrayLike = 0.1,
  eps: jax.typing.ArrayLike = 0.0,
  eps_root: jax.typing.ArrayLike = 1e-7,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """AdaGrad; the update is in the module docstring.

  The defaults give optax's ``adagrad`` numbers (its ``eps`` sits inside the
  root, which is our ``eps_root``).

  Args:
    initial_accumulator_value: $s_0$, the value every sum of squares starts from; >= 0. A positive
      value bounds the first steps.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.adagrad(0.5, initial_accumulator_value=0.0, eps=0.0, eps_root=0.0)
    >>> updates, _ = opt.update(jnp.array([4.0, -0.1]), opt.init(jnp.zeros(2)))
    >>> updates   # the first step is -lr * sign(g)
    Array([-0.5,  0.5], dtype=float32)

  Reference: Duchi, Hazan & Singer, 2011, "Adaptive Subgradient Methods for
  Online Learning and Stochastic Optimization".
  """
  _validate.check("adagrad", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    scale_by_rss(initial_accumulator_value, eps=eps, eps_root=eps_root, nu_dtype=nu_dtype),
    scale_by_learning_rate(learning_rate),
  )
