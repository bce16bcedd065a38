"""NorMuon (Li et al., 2025): Muon's orthogonal update, normalised neuron by neuron.

Muon's orthogonalised momentum $O_t$ (see `muon`; $O_t \\approx UV^\\top$ for
the momentum $\\hat m_t = USV^\\top$) has equal singular values but rows of very
different norms. NorMuon keeps a second moment of each output neuron's mean
square, over the reduction (input) axes, and divides it out:

$$
v_t = \\beta_2 v_{t-1} + (1-\\beta_2)\\,\\operatorname{mean}_{\\text{in}}(O_t \\odot O_t),
\\qquad \\hat O_t = \\frac{O_t}{\\sqrt{v_t} + \\epsilon}
$$

($v_t$ has one entry per output neuron, broadcast over the inputs). The step
is rescaled so that its RMS is 0.2, that of a typical AdamW step, which lets
AdamW's learning rate and weight decay carry over (``rescale='rms'``, the
paper's Algorithm 1):

$$
\\theta_t = \\theta_{t-1} - \\eta\\Big(\\frac{0.2\\sqrt{mn}}{\\lVert \\hat O_t\\rVert_F}\\,\\hat O_t
            + \\lambda\\theta_{t-1}\\Big)
$$

for an $m \\times n$ matrix. The authors' published code instead gives
$\\hat O_t$ the Frobenius norm of $O_t$ and then Muon's shape factor
$\\sqrt{\\max(1, \\text{fan\\_out}/\\text{fan\\_in})}$ (``rescale='norm'``).
Neither debiases $v_t$: the rescaling divides any common factor out again.

Leaves that are not matrices follow `adamw`, as in `muon`; the axes of a
leaf are named by `MuonDimensionNumbers`.
"""

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float
from jaxopt_notes.optimizers._adam import adamw
from jaxopt_notes.optimizers._muon import (
  MuonState,
  matrix_axes,
  ns_coefficients,
  per_matrix,
  resolve_dimension_numbers,
  scale_by_muon,
  split_matrices,
  widen_float16,
)
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args

_RESCALES = ("rms", "norm")
TARGET_RMS = 0.2  # the RMS of a typical AdamW step (Liu et al., 2025)


@shared_args
class ScaleByNorMuonState(NamedTuple):
  """State of `scale_by_normuon`.

  Attributes:
    ns_coeffs: the Newton-Schulz coefficients in use, shape ``(3,)`` or ``(n, 3)``.
    mu: the momentum $m_t$, shaped like params.
    nu: the per-neuron second moment $v_t$ of the orthogonalised update (the reduction axes kept, of
      size 1).
  """

  count: jax.Array  # int32 steps taken, saturating
  mu: Any  # momentum m_t
  nu: Any  # per-neuron second moment v_t (the reduction axes kept, of size 1)
  ns_coeffs: jax.Array  # Newton-Schulz coefficients


def rms_aligned(spec: Any, u: jax.Array) -> jax.Array:
  """``u`` scaled, matrix by matrix, to the RMS of a typical AdamW step.

  $0.2\\sqrt{mn}\\,u / \\lVert u\\rVert_F$ for each $m \\times n$ matrix of
  ``u`` (0 for a zero matrix).

  Args:
    spec: the `MuonDimensionNumbers` of ``u``.
    u: a leaf.

  Returns:
    ``u`` rescaled, in ``u``'s dtype.
  """
  _, red, out = matrix_axes(u, spec)
  axes = red + out
  size = math.prod(u.shape[a] for a in axes)
  norm = jnp.sqrt(jnp.sum(jnp.abs(u) ** 2, axis=axes, keepdims=True))
  return _numerics.safe_div(TARGET_RMS * math.sqrt(size) * u, norm).astype(u.dtype)


def _reduced_zeros(spec: Any, x: jax.Array) -> jax.Array:
  """Zeros of ``x`` (zeros placed like the param) summed over the input axes: a reduction,
  so the per-neuron statistic is placed as the update's reduction places it."""
  _, red, _ = matrix_axes(x, spec)
  return jnp.sum(x, axis=red, keepdims=True)


@shared_args
def scale_by_normuon(
  ns_coeffs: Any = "standard",
  ns_steps: Any = 5,
  b1: Float = 0.95,
  b2: Float = 0.95,
  eps: Float = 1e-8,
  mu_dtype: Any = None,
  *,
  nesterov: bool = True,
  rescale: str = "rms",
  weight_dimension_numbers: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """NorMuon's direction for every leaf; see `normuon` (shape factor included).

  Args:
    ns_coeffs: Newton-Schulz coefficients, ``(3,)`` or ``(n, 3)``, or a preset's name.
    ns_steps: the number of Newton-Schulz steps.
    b1: the momentum's decay.
    b2: the per-neuron second moment's decay.
    eps: added to $\\sqrt{v_t}$ and to the momentum's norm before orthogonalising.
    nesterov: whether to orthogonalise NAdam's look-ahead momentum.
    rescale: ``'rms'`` (the paper's RMS 0.2) or ``'norm'`` (the published code's).
    weight_dimension_numbers: a tree (or prefix, or callable of the updates) of
      `MuonDimensionNumbers`; ``None`` makes every leaf a matrix of rows x columns.

  Returns:
    The transform; its state is `ScaleByNorMuonState`.
  """
  owner = "scale_by_normuon"
  _validate.check(
    owner, b1=(b1, _validate.UNIT), b2=(b2, _validate.UNIT), eps=(eps, _validate.NONNEGATIVE)
  )
  _validate.check_choice(owner, "rescale", rescale, _RESCALES)
  muon = scale_by_muon(
    ns_coefficients(owner, ns_coeffs),
    ns_steps,
    b1,
    eps,
    mu_dtype,
    nesterov=nesterov,
    weight_dimension_numbers=weight_dimension_numbers,
  )

  def init_fn(params):
    first = muon.init(params)
    specs = resolve_dimension_numbers(weight_dimension_numbers, params)
    nu = per_matrix(
      _reduced_zeros, specs, _tree.zeros_like(params, _tree.canonical_dtype(nu_dtype))
    )
    return ScaleByNorMuonState(count=first.count, mu=first.mu, nu=nu, ns_coeffs=first.ns_coeffs)

  def update_fn(updates, state, params=None):
    del params
    o, first = muon.update(updates, MuonState(state.count, state.mu, state.ns_coeffs))
    specs = resolve_dimension_numbers(weight_dimension_numbers, updates)
    o = widen_float16(o)

    def second_moment(spec, x, v):
      _, red, _ = matrix_axes(x, spec)
      return b2 * v + (1 - b2) * jnp.mean(jnp.abs(x) ** 2, axis=red, keepdims=True)

    nu = per_matrix(second_moment, specs, o, state.nu, broadcast=True)

    def direction(spec, x, v):
      y = x / (jnp.sqrt(v) + eps)
      if rescale == "rms":
        return rms_aligned(spec, y)
      _, red, out = matrix_axes(x, spec)
      norm_of = lambda z: jnp.sqrt(
        jnp.sum(
          jnp.abs(z) ** 2,
          axis=red + out,  # noqa: E731
          keepdims=True,
        )
      )
      fan_in = math.prod(x.shape[a] for a in red)
      fan_out = math.prod(x.shape[a] for a in out)
      shape = math.sqrt(max(1.0, fan_out / fan_in))
      return shape * _numerics.safe_div(norm_of(x) * y, norm_of(y))

    out = per_matrix(direction, specs, o, nu, broadcast=True)
    return _tree.cast_like(out, updates), ScaleByNorMuonState(
      count=first.count, mu=first.mu, nu=_tree.cast_like(nu, state.nu), ns_coeffs=first.ns_coeffs
    )

  return GradientTransformation(init_fn, update_fn)


@shared_args(like=scale_by_normuon)
def normuon(
  learning_rate: ScalarOrSchedule,
  ns_coeffs: Any = "standard",
  ns_steps: Any = 5,
  b1: Float = 0.95,
  b2: Float = 0.95,
  eps: Float = 1e-8,
  weight_decay: Float = 0.0,
  weight_decay_mask: Any = None,
  mu_dtype: Any = None,
  *,
  nesterov: bool = True,
  rescale: str = "rms",
  adam_b1: Float = 0.9,
  adam_b2: Float = 0.999,
  adam_eps_root: Float = 0.0,
  adam_weight_decay: Float = 0.0,
  adam_learning_rate: ScalarOrSchedule | None = None,
  muon_weight_dimension_numbers: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """NorMuon on the matrix leaves, AdamW on the others (module docstring).

  Args:
    b1: the momentum's decay $\\beta_1$.
    b2: the per-neuron second moment's decay $\\beta_2$.
    eps: added to $\\sqrt{v_t}$ (and, for the others, AdamW's $\\epsilon$).
    weight_decay: the matrices' decoupled weight decay $\\lambda$.
    weight_decay_mask: which matrices decay (a tree of booleans or a callable).
    nesterov: whether to use NAdam's look-ahead momentum (both parts).
    rescale: ``'rms'`` (the paper's) or ``'norm'`` (the published code's).
    muon_weight_dimension_numbers: a tree (or prefix, or callable of the params)
      of `MuonDimensionNumbers` and ``None`` (``None``: AdamW); left out, the 2-D
      leaves are NorMuon's.

  Returns:
    The optimizer.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> params = {'w': jnp.zeros((4, 2)), 'b': jnp.zeros(2)}
    >>> opt = jon.normuon(0.1)
    >>> grads = {'w': jnp.arange(8.0).reshape(4, 2), 'b': jnp.ones(2)}
    >>> updates, _ = opt.update(grads, opt.init(params))
    >>> round(float(jnp.sqrt(jnp.mean(updates['w'] ** 2))), 4)   # RMS 0.2 lr
    0.02

  Reference: Li et al., 2025, "NorMuon: Making Muon more efficient and scalable".
  """
  return matrices_and_adamw(
    "normuon",
    lambda specs_of: scale_by_normuon(
      ns_coeffs,
      ns_steps,
      b1,
      b2,
      eps,
      mu_dtype,
      nesterov=nesterov,
      rescale=rescale,
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


@shared_args
def matrices_and_adamw(
  owner: str,
  scale: Any,
  learning_rate: ScalarOrSchedule,
  eps: Float,
  weight_decay: Float,
  weight_decay_mask: Any,
  mu_dtype: Any,
  nesterov: bool,
  adam_b1: Float,
  adam_b2: Float,
  adam_eps_root: Float,
  adam_weight_decay: Float,
  adam_learning_rate: Any,
  muon_weight_dimension_numbers: Any,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """``scale``, weight decay and the learning rate on the matrices, AdamW on the rest.

  The layout of `normuon` and `adamuon` (and `muon`), its arguments checked.

  Args:
    owner: the optimizer named in an error.
    scale: a function of ``specs_of`` (see `split_matrices`) returning the
      matrices' direction.
    learning_rate: the step size (a number or a schedule).
    eps: AdamW's $\\epsilon$.
    weight_decay: the matrices' decoupled weight decay.
    weight_decay_mask: which matrices decay.
    mu_dtype: AdamW's first moment's dtype.
    nu_dtype: the second moments' dtype (``scale``'s and AdamW's).
    nesterov: whether AdamW uses NAdam's look-ahead.
    muon_weight_dimension_numbers: which leaves are matrices (see `split_matrices`).

  Returns:
    The optimizer.
  """
  _validate.check(
    owner,
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
    adam_b1=(adam_b1, _validate.UNIT),
    adam_b2=(adam_b2, _validate.UNIT),
    adam_eps_root=(adam_eps_root, _validate.NONNEGATIVE),
    adam_weight_decay=(adam_weight_decay, _validate.FINITE),
    adam_learning_rate=(adam_learning_rate, _validate.FINITE),
  )
  if adam_learning_rate is None:
    adam_learning_rate = learning_rate
  return split_matrices(
    lambda specs_of: chain(
      scale(specs_of),
      add_decayed_weights(weight_decay, weight_decay_mask),
      scale_by_learning_rate(learning_rate),
    ),
    adamw(
      adam_learning_rate,
      adam_b1,
      adam_b2,
      eps,
      adam_eps_root,
      mu_dtype,
      weight_decay=adam_weight_decay,
      nesterov=nesterov,
      nu_dtype=nu_dtype,
    ),
    muon_weight_dimension_numbers,
  )
