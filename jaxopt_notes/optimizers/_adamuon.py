"""AdaMuon (Si, Zhang & Shen, 2025): Adam's element-wise second moment on Muon's update.

For a matrix leaf, the momentum's signs are orthogonalised (the paper's
sign-stabilised orthogonal direction: the sign bounds every entry before the
Newton-Schulz iteration, see `muon`), an element-wise second moment of the
result is kept as in Adam, and the normalised step is scaled to the RMS of a
typical AdamW step:

$$
m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\qquad
O_t = \\operatorname{NS}(\\operatorname{sign}(\\hat m_t)),
$$

$$
v_t = \\beta_2 v_{t-1} + (1-\\beta_2)\\, O_t \\odot O_t,\\qquad
\\hat O_t = \\frac{O_t}{\\sqrt{v_t / (1-\\beta_2^t)} + \\epsilon},
$$

$$
\\theta_t = \\theta_{t-1} - \\eta\\Big(\\frac{0.2\\sqrt{mn}}{\\lVert \\hat O_t\\rVert_F}\\,\\hat O_t
            + \\lambda\\theta_{t-1}\\Big)
$$

for an $m \\times n$ matrix ($\\hat m_t$ is the debiased momentum, or NAdam's
look-ahead with ``nesterov``). The authors' published code orthogonalises the
momentum itself, without the sign (``sign_momentum=False``). The rescaling
divides the debiasing of $v_t$ out again, except through $\\epsilon$.

Leaves that are not matrices follow `adamw`, as in `muon`; the axes of a
leaf are named by `MuonDimensionNumbers`.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _moments, _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._moments import Float, debiased_first_moment
from jaxopt_notes.optimizers._muon import (
  ns_coefficients,
  orthogonalize,
  per_matrix,
  resolve_dimension_numbers,
  widen_float16,
)
from jaxopt_notes.optimizers._normuon import matrices_and_adamw, rms_aligned
from jaxopt_notes._docargs import shared_args


@shared_args
class ScaleByAdaMuonState(NamedTuple):
  """State of `scale_by_adamuon`.

  Attributes:
    mu: the momentum $m_t$, shaped like params.
    nu: the element-wise second moment $v_t$ of the orthogonalised update.
    ns_coeffs: the Newton-Schulz coefficients in use, shape ``(3,)`` or ``(n, 3)``.
  """

  count: jax.Array  # int32 steps taken, saturating
  mu: Any  # momentum m_t
  nu: Any  # element-wise second moment v_t of the orthogonal update
  ns_coeffs: jax.Array  # Newton-Schulz coefficients


@shared_args
def scale_by_adamuon(
  ns_coeffs: Any = "standard",
  ns_steps: Any = 5,
  b1: Float = 0.95,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  mu_dtype: Any = None,
  *,
  nesterov: bool = True,
  sign_momentum: bool = True,
  weight_dimension_numbers: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """AdaMuon's direction (rescaled to RMS 0.2) for every matrix leaf; see `adamuon`.

  Leaves whose dimension number is ``None`` get the debiased momentum.

  Args:
    ns_coeffs: Newton-Schulz coefficients, ``(3,)`` or ``(n, 3)``, or a preset's name.
    ns_steps: the number of Newton-Schulz steps.
    b1: the momentum's decay.
    b2: the second moment's decay.
    eps: added to $\\sqrt{\\hat v_t}$ and to the norm before orthogonalising.
    nesterov: whether to use NAdam's look-ahead momentum.
    sign_momentum: whether to orthogonalise the momentum's sign (the paper) or
      the momentum (the published code).
    weight_dimension_numbers: a tree (or prefix, or callable of the updates) of
      `MuonDimensionNumbers`; ``None`` makes every leaf a matrix of rows x columns.

  Returns:
    The transform; its state is `ScaleByAdaMuonState`.
  """
  owner = "scale_by_adamuon"
  ns_coeffs = ns_coefficients(owner, ns_coeffs)
  _validate.check(
    owner, b1=(b1, _validate.UNIT), b2=(b2, _validate.UNIT), eps=(eps, _validate.NONNEGATIVE)
  )
  _validate.check_positive_int(owner, "ns_steps", ns_steps)
  mu_dtype, nu_dtype = _tree.canonical_dtype(mu_dtype), _tree.canonical_dtype(nu_dtype)
  steps = ns_steps if isinstance(ns_steps, jax.core.Tracer) else int(ns_steps)

  def init_fn(params):
    return ScaleByAdaMuonState(
      count=_placement.zero_count(params),
      mu=_tree.zeros_like(params, dtype=mu_dtype),
      nu=_tree.zeros_like(params, dtype=nu_dtype),
      ns_coeffs=_placement.replicate_like(jnp.asarray(ns_coeffs), params),
    )

  def update_fn(updates, state, params=None):
    del params
    mu = _moments.update_moment(updates, state.mu, b1, 1)
    count = _numerics.safe_increment(state.count)
    mu_hat = debiased_first_moment(widen_float16(mu), widen_float16(updates), b1, count, nesterov)
    specs = resolve_dimension_numbers(weight_dimension_numbers, updates)
    o = per_matrix(
      lambda s, m: orthogonalize(
        jnp.sign(m) if sign_momentum else m, s, state.ns_coeffs, steps, "frobenius", eps
      ),
      specs,
      mu_hat,
    )
    nu = _moments.update_moment_per_elem_norm(o, widen_float16(state.nu), b2, 2)
    nu_hat = _moments.bias_correction(nu, b2, count)
    out = per_matrix(
      lambda s, x, v: rms_aligned(s, _numerics.rms_scale(x, v, eps, 0.0)), specs, o, nu_hat
    )
    return _tree.cast_like(out, updates), ScaleByAdaMuonState(
      count=count,
      mu=_tree.cast_like(mu, state.mu),
      nu=_tree.cast_like(nu, state.nu),
      ns_coeffs=state.ns_coeffs,
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_adamuon)
def adamuon(
  learning_rate: ScalarOrSchedule,
  ns_coeffs: Any = "standard",
  ns_steps: Any = 5,
  b1: Float = 0.95,
  b2: Float = 0.999,
  eps: Float = 1e-8,
  weight_decay: Float = 0.0,
  weight_decay_mask: Any = None,
  mu_dtype: Any = None,
  *,
  nesterov: bool = True,
  sign_momentum: bool = True,
  adam_b1: Float = 0.9,
  adam_b2: Float = 0.999,
  adam_eps_root: Float = 0.0,
  adam_weight_decay: Float = 0.0,
  adam_learning_rate: ScalarOrSchedule | None = None,
  muon_weight_dimension_numbers: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """AdaMuon on the matrix leaves, AdamW on the others (module docstring).

  Args:
    b1: the momentum's decay $\\beta_1$.
    b2: the second moment's decay $\\beta_2$.
    eps: added to $\\sqrt{\\hat v_t}$ (and, for the others, AdamW's $\\epsilon$).
    weight_decay: the matrices' decoupled weight decay $\\lambda$.
    weight_decay_mask: which matrices decay (a tree of booleans or a callable).
    nesterov: whether to use NAdam's look-ahead momentum (both parts).
    sign_momentum: orthogonalise $\\mathrm{sign}(\\hat m_t)$ (the paper) rather
      than $\\hat m_t$ (the published code).
    muon_weight_dimension_numbers: a tree (or prefix, or callable of the params)
      of `MuonDimensionNumbers` and ``None`` (``None``: AdamW); left out, the 2-D
      leaves are AdaMuon's.

  Returns:
    The optimizer.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> params = {'w': jnp.zeros((4, 2)), 'b': jnp.zeros(2)}
    >>> opt = jon.adamuon(0.1)
    >>> grads = {'w': jnp.arange(8.0).reshape(4, 2), 'b': jnp.ones(2)}
    >>> updates, _ = opt.update(grads, opt.init(params))
    >>> round(float(jnp.sqrt(jnp.mean(updates['w'] ** 2))), 4)   # RMS 0.2 lr
    0.02

  Reference: Si, Zhang & Shen, 2025, "AdaMuon: Adaptive Muon Optimizer".
  """
  return matrices_and_adamw(
    "adamuon",
    lambda specs_of: scale_by_adamuon(
      ns_coeffs,
      ns_steps,
      b1,
      b2,
      eps,
      mu_dtype,
      nesterov=nesterov,
      sign_momentum=sign_momentum,
      weight_dimension_numbers=specs_of,
      nu_dtype=nu_dtype,
    ),
    learning_rate,
    eps,
    weight_decay,
    weight_decay_mask,
    mu_dtype,
    nesterov,
    adam_b1,
    adam_b2,
    adam_eps_root,
    adam_weight_decay,
    adam_learning_rate,
    muon_weight_dimension_numbers,
    nu_dtype=nu_dtype,
  )
