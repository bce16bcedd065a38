"""Adam (Kingma & Ba, 2015) and its close kin: AdamW, NAdam(W), AMSGrad, Adamax(W).

$$
m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\qquad
v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,
$$

$$
\\hat m_t = \\frac{m_t}{1-\\beta_1^t},\\quad \\hat v_t = \\frac{v_t}{1-\\beta_2^t},\\qquad
\\theta_t = \\theta_{t-1}
  - \\eta\\,\\frac{\\hat m_t}{\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon}
$$

* NAdam (Dozat, 2016; ``nesterov=True``):
  $\\hat m_t = \\beta_1 m_t / (1-\\beta_1^{t+1}) + (1-\\beta_1) g_t / (1-\\beta_1^t)$.
* AdamW (Loshchilov & Hutter, 2019): adds ``weight_decay * params`` to the Adam
  direction before the learning rate.
* AMSGrad (Reddi et al., 2018): divides by $\\sqrt{\\max_{s\\le t} \\hat v_s}$.
* Adamax (Kingma & Ba, 2015, sec. 7.1): $u_t = \\max(|g_t| + \\epsilon,
  \\beta_2 u_{t-1})$, step $\\hat m_t / u_t$.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, check_moments, debiased_first_moment, init_moments
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


@shared_args
class ScaleByAdamState(NamedTuple):
  """State of `scale_by_adam`, `scale_by_adamax`, `scale_by_yogi` and `scale_by_radam`.

  Attributes:
    nu: the second moment $v_t$ (Adamax: the infinity norm $u_t$), shaped like params.
  """

  count: jax.Array  # int32 steps taken, saturating
  mu: Any  # first moment m_t
  nu: Any  # second moment v_t (Adamax: the infinity norm u_t)


@shared_args
class ScaleByAmsgradState(NamedTuple):
  """State of `scale_by_amsgrad`: Adam's moments and the running max of the second.

  Attributes:
    nu_max: $\\max_{s \\le t} \\hat v_s$, the running maximum of the (debiased) second moment,
      shaped like params.
  """

  count: jax.Array
  mu: Any
  nu: Any
  nu_max: Any  # running max of the debiased second moment


def adam_direction(
  updates: Any,
  mu: Any,
  nu: Any,
  count: jax.Array,
  b1: Float,
  b2: Float,
  eps: Float,
  eps_root: Float,
  nesterov: bool = False,
) -> Any:
  """$\\hat m_t / (\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon)$ from updated moments."""
  mu_hat = debiased_first_moment(mu, updates, b1, count, nesterov)
  nu_hat = _moments.bias_correction(nu, b2, count)
  return _tree.map(lambda m, v: _numerics.rms_scale(m, v, eps, eps_root), mu_hat, nu_hat)


@shared_args
def scale_by_adam(
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  nesterov: bool = False,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Adam's direction $\\hat m_t / (\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon)$.

  See `adam`.
  """
  check_moments("scale_by_adam", b1, b2, eps, eps_root)
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    return init_moments(ScaleByAdamState, params, mu_dtype, nu_dtype)

  def update_fn(updates, state, params=None):
    del params
    mu = _moments.update_moment(updates, state.mu, b1, 1)
    nu = _moments.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    count = _numerics.safe_increment(state.count)
    out = adam_direction(updates, mu, nu, count, b1, b2, eps, eps_root, nesterov)
    return _tree.cast_like(out, updates), ScaleByAdamState(
      count=count, mu=_tree.cast_like(mu, state.mu), nu=_tree.cast_like(nu, state.nu)
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args
def scale_by_amsgrad(
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  bias_correction_mu: bool = True,
  bias_correction_nu: bool = True,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """AMSGrad's direction; see `amsgrad`.

  Args:
    bias_correction_mu: divide $m_t$ by $1-\\beta_1^t$; False uses the raw moment.
    bias_correction_nu: divide $v_t$ by $1-\\beta_2^t$ before taking the running max; False takes
      the max of the raw moment.
    nu_dtype: dtype in which the second moment and its running max are stored; ``None``
      keeps each param's dtype.
  """
  check_moments("scale_by_amsgrad", b1, b2, eps, eps_root)
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    return ScaleByAmsgradState(
      count=_placement.zero_count(params),
      mu=_tree.zeros_like(params, dtype=mu_dtype),
      nu=_tree.zeros_like(params, dtype=nu_dtype),
      nu_max=_tree.zeros_like(params, dtype=nu_dtype),
    )

  def update_fn(updates, state, params=None):
    del params
    mu = _moments.update_moment(updates, state.mu, b1, 1)
    nu = _moments.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    count = _numerics.safe_increment(state.count)
    mu_hat = _moments.bias_correction(mu, b1, count) if bias_correction_mu else mu
    nu_hat = _moments.bias_correction(nu, b2, count) if bias_correction_nu else nu
    nu_max = _tree.map(jnp.maximum, nu_hat, state.nu_max)
    out = _tree.map(lambda m, v: _numerics.rms_scale(m, v, eps, eps_root), mu_hat, nu_max)
    return _tree.cast_like(out, updates), ScaleByAmsgradState(
      count=count,
      mu=_tree.cast_like(mu, state.mu),
      nu=_tree.cast_like(nu, state.nu),
      nu_max=_tree.cast_like(nu_max, state.nu_max),
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args
def scale_by_adamax(
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Adamax's direction $\\hat m_t / u_t$; see `adamax`.

  Args:
    b2: decay rate of the infinity norm $u_t = \\max(|g_t| + \\epsilon, \\beta_2 u_{t-1})$, in
      [0, 1].
    eps: added to $|g_t|$ inside the max, so that $u_t > 0$; >= 0.
  """
  check_moments("scale_by_adamax", b1, b2, eps)
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)

  def init_fn(params):
    return init_moments(ScaleByAdamState, params, mu_dtype, nu_dtype)

  def update_fn(updates, state, params=None):
    del params
    count = _numerics.safe_increment(state.count)
    mu = _moments.update_moment(updates, state.mu, b1, 1)
    nu = _moments.update_infinity_moment(updates, state.nu, b2, eps)
    mu_hat = _moments.bias_correction(mu, b1, count)
    out = _tree.map(_numerics.safe_div, mu_hat, nu)
    return _tree.cast_like(out, updates), ScaleByAdamState(
      count=count, mu=_tree.cast_like(mu, state.mu), nu=_tree.cast_like(nu, state.nu)
    )

  return GradientTransformation(init_fn, update_fn)


def _lr(owner, learning_rate, weight_decay=0.0):
  _validate.check(
    owner,
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return scale_by_learning_rate(learning_rate)


@shared_args
def adam(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  nesterov: bool = False,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Adam; the update is in the module docstring.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.adam(0.1)
    >>> updates, _ = opt.update(jnp.array([0.3, -2.0]), opt.init(jnp.zeros(2)))
    >>> [round(float(u), 4) for u in updates]   # the first step is about -lr * sign(g)
    [-0.1, 0.1]

  Reference: Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization".
  """
  return chain(
    scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov, nu_dtype=nu_dtype),
    _lr("adam", learning_rate),
  )


@shared_args
def nadam(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  nesterov: bool = True,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """NAdam: `adam` with ``nesterov=True``. Reference: Dozat, 2016,
  "Incorporating Nesterov Momentum into Adam".

  Args:
    nesterov: use NAdam's look-ahead first moment; True here (False gives `adam`).
  """
  return adam(learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov, nu_dtype=nu_dtype)


@shared_args
def adamw(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  weight_decay: Float = 1e-4,
  mask: Any = None,
  nesterov: bool = False,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """AdamW: Adam with decoupled weight decay (module docstring).

  Reference: Loshchilov & Hutter, 2019, "Decoupled Weight Decay Regularization".
  """
  return chain(
    scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov, nu_dtype=nu_dtype),
    add_decayed_weights(weight_decay, mask),
    _lr("adamw", learning_rate, weight_decay),
  )


@shared_args
def nadamw(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  weight_decay: Float = 1e-4,
  mask: Any = None,
  nesterov: bool = True,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """NAdamW: `adamw` with ``nesterov=True``.

  Args:
    nesterov: use NAdam's look-ahead first moment; True here (False gives `adamw`).
  """
  return adamw(
    learning_rate, b1, b2, eps, eps_root, mu_dtype, weight_decay, mask, nesterov, nu_dtype=nu_dtype
  )


@shared_args(like=scale_by_amsgrad)
def amsgrad(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  eps_root: Float = 0.0,
  mu_dtype: Any = None,
  bias_correction_mu: bool = True,
  bias_correction_nu: bool = True,
  *,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """AMSGrad (module docstring). Reference: Reddi, Kale & Kumar, 2018, "On the
  Convergence of Adam and Beyond".
  """
  return chain(
    scale_by_amsgrad(
      b1, b2, eps, eps_root, mu_dtype, bias_correction_mu, bias_correction_nu, nu_dtype=nu_dtype
    ),
    _lr("amsgrad", learning_rate),
  )


@shared_args(like=scale_by_adamax)
def adamax(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Adamax, Adam with the infinity norm (module docstring). Reference: Kingma &
  Ba, 2015, section 7.1.
  """
  return chain(
    scale_by_adamax(b1, b2, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
    _lr("adamax", learning_rate),
  )


@shared_args
def adamaxw(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  weight_decay: Float = 1e-4,
  mask: Any = None,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Adamax with decoupled weight decay.

  Args:
    b2: decay rate of the infinity norm $u_t = \\max(|g_t| + \\epsilon, \\beta_2 u_{t-1})$, in
      [0, 1].
    eps: added to $|g_t|$ inside the max, so that $u_t > 0$; >= 0.
  """
  return chain(
    scale_by_adamax(b1, b2, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
    add_decayed_weights(weight_decay, mask),
    _lr("adamaxw", learning_rate, weight_decay),
  )
