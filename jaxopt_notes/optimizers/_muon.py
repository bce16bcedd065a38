"""Muon (Jordan, 2024): momentum orthogonalised by a Newton-Schulz iteration.

For a matrix leaf the momentum $m_t = \\beta m_{t-1} + (1-\\beta) g_t$ is
debiased ($\\hat m_t$, or its Nesterov look-ahead as in NAdam), scaled to unit
norm and pushed through ``ns_steps`` quintic Newton-Schulz steps

$$
X_0 = \\frac{\\hat m_t}{\\|\\hat m_t\\|_F + \\epsilon},\\qquad
X_{k+1} = a X_k + (b A_k + c A_k^2) X_k,\\quad A_k = X_k X_k^\\top,
$$

which drive every singular value of $X_0$ into a band around 1 (with the
default $(a, b, c) = (3.4445, -4.7750, 2.0315)$, about $[0.68, 1.13]$ after
five steps) while keeping its singular vectors: $X_5 \\approx U V^\\top$ for
$\\hat m_t = U S V^\\top$. The update is then scaled for the shape,
$\\sqrt{\\max(1, \\text{fan\\_out}/\\text{fan\\_in})}$ (or
$\\sqrt{\\max(\\text{fan\\_in}, \\text{fan\\_out})}\\cdot$``consistent_rms``),
decayed weights are added and the learning rate applied.

Leaves that are not matrices (vectors, scalars) follow `adamw` with
``adam_b1``, ``adam_b2``, ``eps``, ``adam_eps_root`` and ``nesterov``.
`MuonDimensionNumbers` says which axes of a leaf are the matrix's rows
(``reduction_axis``) and columns (``output_axis``); every other axis is a
batch axis, orthogonalised matrix by matrix (`muon_conv_dimension_numbers`
gives conv kernels their rules). A vector may be used as a
$1 \\times n$ matrix with ``MuonDimensionNumbers(reduction_axis=(),
output_axis=0)``.

* ``preconditioning='spectral'`` divides by the spectral norm instead;
  ``'aol'`` (Boissin et al., 2025) rescales the rows of the first step by
  $(\\sum_j |A_{ij}|)^{-1/2}$; ``'schatten'`` (Grishina et al., 2025) by
  $\\|A\\|_F^{-1/2}$.
* A table of coefficients (shape ``(n, 3)``, e.g. ``ns_coeffs='dion'``) runs
  one row per step, all ``n`` rows; ``ns_steps`` is then not used.
  ``'polar_express'`` (Amsel et al., 2025) holds five quintics, each the one
  closest to 1 on the interval the previous ones leave: after five steps every
  singular value in $[10^{-3}, 1]$ lies in $[0.79, 1.21]$, against
  $[0.47, 1.20]$ with the default coefficients. `polar_express_coefficients`
  builds such a table for any number of steps.
* ``adaptive=True`` scales the orthogonal update $O$ by
  $\\langle \\hat m_t, O\\rangle$ (Bernstein & Newhouse, 2024).
"""

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_notes import _moments, _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule, init_empty_state
from jaxopt_notes._combine import chain
from jaxopt_notes._moments import Float, debiased_first_moment
from jaxopt_notes.optimizers._adam import adamw
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._masking import MaskedNode
from jaxopt_notes.transforms._partition import partition
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args

_STANDARD = (3.4445, -4.7750, 2.0315)
_PRESETS = {
  "standard": _STANDARD,
  "dion": (
    (4.0848, -6.8946, 2.9270),
    (3.9505, -6.3029, 2.6377),
    (3.7418, -5.5913, 2.3037),
    (2.8769, -3.1427, 1.2046),
    (2.8366, -3.0525, 1.2012),
  ),
  # polar_express_coefficients(5): the paper's text (cushion u / 10)
  "polar_express": (
    (7.605392872224708, -18.47180646673436, 12.694828602730299),
    (3.7763535513877664, -2.3105195122976006, 0.4000151033710504),
    (3.6670959883854604, -2.291992392741813, 0.405353401050727),
    (3.323074703887898, -2.2481744308997236, 0.43037760001662645),
    (2.4816958900772, -1.7938453897058921, 0.4170896292580866),
  ),
  # polar_express_coefficients(5, cushion=PUBLISHED_CUSHION, safe_bounds=False):
  # the authors' published table, its first five rows
  "polar_express_published": (
    (8.205160414005569, -22.90193498705604, 16.460724910180307),
    (4.066395159942772, -2.8611540867551404, 0.5183995226694739),
    (3.90959490443791, -2.8233517350395116, 0.5250369769390015),
    (3.285564017198617, -2.4153019596359457, 0.48529406552790877),
    (2.277873287083979, -1.6198217652654423, 0.39848078704168355),
  ),
}
PUBLISHED_CUSHION = 0.02407327424182761  # the cushion of the Polar Express authors' code
_PRECONDITIONINGS = ("frobenius", "spectral", "aol", "schatten")


class MuonDimensionNumbers(NamedTuple):
  """Which axes of a leaf are the rows (``reduction_axis``) and columns (``output_axis``)
  of the matrix Muon orthogonalises; all other axes are batch axes.

  Attributes:
    reduction_axis: the axis or axes of a leaf that form the matrix's rows (fan-in).
    output_axis: the axis or axes that form its columns (fan-out); all others are batch axes.
  """

  reduction_axis: Sequence[int] | int = 0
  output_axis: Sequence[int] | int = 1


@shared_args
class MuonState(NamedTuple):
  """State of `scale_by_muon`.

  Attributes:
    mu: the momentum $m_t$, shaped like params.
    ns_coeffs: the Newton-Schulz coefficients in use, shape ``(3,)`` or ``(n, 3)``.
  """

  count: jax.Array  # int32 steps taken, saturating
  mu: Any  # momentum m_t
  ns_coeffs: jax.Array  # (3,) or (n, 3) Newton-Schulz coefficients


def is_spec(x: Any) -> bool:
  """A leaf of a dimension-numbers tree: a spec, ``None`` (AdamW's leaf) or a masked place."""
  return x is None or isinstance(x, (MuonDimensionNumbers, MaskedNode))


def matrix_axes(x: jax.Array, spec: MuonDimensionNumbers) -> tuple[tuple, tuple, tuple]:
  """The (batch, reduction, output) axes of ``x`` under ``spec``.

  Args:
    x: a leaf.
    spec: which of its axes are the matrix's rows and columns.

  Returns:
    Three tuples of non-negative axis numbers; every axis of ``x`` is in one of them.
  """
  as_tuple = lambda a: (a,) if isinstance(a, int) else tuple(a)  # noqa: E731
  red = tuple(a % x.ndim for a in as_tuple(spec.reduction_axis))
  out = tuple(a % x.ndim for a in as_tuple(spec.output_axis))
  if set(red) & set(out) or not out:
    raise ValueError(
      f"muon: the reduction axes {red} and output axes {out} of a leaf of "
      f"shape {x.shape} must be disjoint, with at least one output axis"
    )
  batch = tuple(a for a in range(x.ndim) if a not in red + out)
  return batch, red, out


_CONV_RULES = ("flatten", "per_tap")


def muon_conv_dimension_numbers(rule: str = "flatten") -> Callable[[Any], Any]:
  """Which leaves Muon takes, conv kernels included, for ``muon_weight_dimension_numbers``.

  A conv kernel in the layout of Flax, Haiku and ``jax.lax.conv`` with
  ``'HWIO'`` — spatial axes first, then inputs, then outputs: ``(w, in, out)``,
  ``(h, w, in, out)`` or ``(d, h, w, in, out)`` — is orthogonalised

  * ``rule='flatten'``: as one $(h w \\cdot \\text{in}) \\times \\text{out}$ matrix
    (every output filter a unit-scaled direction over its whole receptive field;
    the shape factor reads fan-in $h w \\cdot \\text{in}$);
  * ``rule='per_tap'``: as $h w$ separate $\\text{in} \\times \\text{out}$ matrices,
    one per kernel position (the spatial axes are batch axes).

  Matrices keep ``MuonDimensionNumbers()``; vectors and scalars get ``None``
  (AdamW). A 3-D leaf is read as a 1-D conv kernel: stacked layers
  ``(layers, in, out)`` need a spec of their own
  (``MuonDimensionNumbers(reduction_axis=1, output_axis=2)``).

  Args:
    rule: ``'flatten'`` or ``'per_tap'``.

  Returns:
    A function of the params returning their tree of `MuonDimensionNumbers` and ``None``.

  Example:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> params = {'conv': jnp.zeros((3, 3, 2, 4)), 'dense': jnp.zeros((4, 2)), 'b': jnp.zeros(2)}
    >>> specs = jon.muon_conv_dimension_numbers()(params)
    >>> specs['conv'], specs['b']
    (MuonDimensionNumbers(reduction_axis=(0, 1, 2), output_axis=3), None)
    >>> opt = jon.muon(0.1, muon_weight_dimension_numbers=jon.muon_conv_dimension_numbers())
  """
  _validate.check_choice("muon_conv_dimension_numbers", "rule", rule, _CONV_RULES)

  def spec(x):
    ndim = jnp.ndim(x)
    if ndim == 2:
      return MuonDimensionNumbers()
    if ndim < 2:
      return None
    if rule == "flatten":
      return MuonDimensionNumbers(reduction_axis=tuple(range(ndim - 1)), output_axis=ndim - 1)
    return MuonDimensionNumbers(reduction_axis=ndim - 2, output_axis=ndim - 1)

  return lambda params: jax.tree.map(spec, params)


def _fans(x: jax.Array, spec: MuonDimensionNumbers) -> tuple[int, int]:
  _, red, out = matrix_axes(x, spec)
  return math.prod(x.shape[a] for a in red), math.prod(x.shape[a] for a in out)


def _newton_schulz_step(x, coeffs, a=None):
  a = x @ x.conj().T if a is None else a
  return coeffs[0] * x + (coeffs[1] * a + coeffs[2] * a @ a) @ x


def _floored_rsqrt(r, eps):
  """``1 / sqrt(max(r, eps))``, and 0 where ``r`` is 0 (an all-zero row, or eps lost in float16)."""
  return jnp.where(r == 0, 0, jax.lax.rsqrt(jnp.maximum(r, eps)))


def _first_step(x, coeffs, preconditioning, eps):
  """The first Newton-Schulz step, with the preconditioning that needs its Gram matrix."""
  a = x @ x.conj().T
  if preconditioning == "aol":
    s = _floored_rsqrt(jnp.sum(jnp.abs(a), axis=-1), eps)[:, None]
    return _newton_schulz_step(x * s, coeffs, a * s * s.T)
  if preconditioning == "schatten":
    s = _floored_rsqrt(jnp.linalg.norm(a), eps)
    return _newton_schulz_step(x * s, coeffs, a * s * s)
  return _newton_schulz_step(x, coeffs, a)


def _orthogonalize_matrix(x, ns_coeffs, ns_steps, preconditioning, eps):
  wide = x.shape[0] <= x.shape[1]
  x = x if wide else x.T  # X X^T is the smaller Gram matrix
  if preconditioning == "frobenius":
    x = _numerics.safe_div(x, jnp.linalg.norm(x) + eps)  # a zero matrix stays 0 in float16
  elif preconditioning == "spectral":
    x = _numerics.safe_div(x, jnp.linalg.norm(x, ord=2) + eps)
  coeffs = ns_coeffs.astype(x.dtype)
  table = coeffs if coeffs.ndim == 2 else None
  first = table[0] if table is not None else coeffs
  x = _first_step(x, first, preconditioning, eps)
  if table is not None:
    for row in table[1:]:
      x = _newton_schulz_step(x, row)
  elif isinstance(ns_steps, int):
    for _ in range(ns_steps - 1):
      x = _newton_schulz_step(x, coeffs)
  else:  # a traced step count (inject_hyperparams): a loop of dynamic length
    x = jax.lax.fori_loop(1, ns_steps, lambda _, y: _newton_schulz_step(y, coeffs), x)
  return x if wide else x.T


def orthogonalize(
  x: jax.Array,
  spec: MuonDimensionNumbers,
  ns_coeffs: jax.Array,
  ns_steps: Any = 5,
  preconditioning: str = "frobenius",
  eps: Float = 1e-8,
) -> jax.Array:
  """Newton-Schulz orthogonalisation of each matrix of ``x`` (module docstring)."""
  batch, red, out = matrix_axes(x, spec)
  order = batch + red + out
  shape = [x.shape[a] for a in order]
  flat = x.transpose(order).reshape(
    math.prod(shape[: len(batch)]),
    math.prod(x.shape[a] for a in red),
    math.prod(x.shape[a] for a in out),
  )
  done = jax.vmap(lambda m: _orthogonalize_matrix(m, ns_coeffs, ns_steps, preconditioning, eps))(
    flat
  )
  return done.reshape(shape).transpose(sorted(range(x.ndim), key=order.__getitem__))


def widen_float16(tree: Any) -> Any:
  """``tree`` with its float16 leaves as float32 (other leaves as they are).

  ``g / (1 - beta)`` and ``eps`` fall outside float16's range.

  Args:
    tree: a tree of arrays.

  Returns:
    The tree, float16 leaves widened.
  """
  return _tree.map(lambda x: x.astype(jnp.float32) if x.dtype == jnp.float16 else x, tree)


def resolve_dimension_numbers(weight_dimension_numbers: Any, updates: Any) -> Any:
  """The tree of `MuonDimensionNumbers` for ``updates``.

  Args:
    weight_dimension_numbers: a tree (or prefix) of specs, a callable of the
      updates returning one, or ``None`` (every leaf a matrix of rows x columns).
    updates: the tree the specs describe.

  Returns:
    A (prefix) tree of `MuonDimensionNumbers` and ``None``.
  """
  specs = (
    weight_dimension_numbers(updates)
    if callable(weight_dimension_numbers)
    else weight_dimension_numbers
  )
  return MuonDimensionNumbers() if specs is None else specs


def per_matrix(f: Callable, specs: Any, tree: Any, *rest: Any, broadcast: bool = False) -> Any:
  """``f(spec, leaf, *rest_leaves)`` for each leaf under a (prefix) tree of specs.

  Args:
    f: the function of a spec and the matching leaves.
    specs: a (prefix) tree of `MuonDimensionNumbers`; leaves under ``None`` or
      a masked node are returned as they are.
    tree: the leaves ``f`` maps.
    *rest: more trees like ``tree``, passed to ``f`` leaf by leaf.
    broadcast: whether the leaves of ``rest`` may have other (broadcastable) shapes.

  Returns:
    A tree like ``tree``.
  """

  def one(spec, sub, *subs):
    if spec is None or isinstance(spec, MaskedNode):
      return sub
    return _tree.map(lambda x, *r: f(spec, x, *r), sub, *subs, broadcast=broadcast)

  return jax.tree.map(one, specs, tree, *rest, is_leaf=is_spec)


def ns_coefficients(owner: str, ns_coeffs: Any) -> Any:
  """The Newton-Schulz coefficients that ``ns_coeffs`` names or holds, checked.

  Args:
    owner: the function named in an error.
    ns_coeffs: a preset's name (``'standard'``, ``'dion'``, ``'polar_express'``,
      ``'polar_express_published'``), or an array of shape ``(3,)`` or ``(n, 3)``.

  Returns:
    The coefficients.
  """
  if isinstance(ns_coeffs, str):
    _validate.check_choice(owner, "ns_coeffs", ns_coeffs, tuple(_PRESETS))
    return _PRESETS[ns_coeffs]
  shape = np.shape(ns_coeffs)
  if len(shape) not in (1, 2) or shape[-1] != 3:
    raise ValueError(f"{owner}: argument `ns_coeffs` must have shape (3,) or (n, 3), got {shape}")
  return ns_coeffs


def _quintic(coeffs: Sequence[float], x: Any) -> Any:
  a, b, c = coeffs
  return a * x + b * x**3 + c * x**5


def minimax_quintic(lower: float, upper: float) -> tuple[float, float, float]:
  """The odd quintic $p(x) = ax + bx^3 + cx^5$ closest to 1 on ``[lower, upper]``.

  Chebyshev's equioscillation: $1 - p$ takes its largest size $E$ with alternating
  signs at ``lower``, at the two interior extremes of $p$ and at ``upper``. The
  simplified Remez exchange solves $p(x_i) = 1 \\mp E$ on four such points, moves
  the inner two to the new extremes (roots of $p'$, a quadratic in $x^2$) and
  repeats, on ``[lower / upper, 1]``; the result is rescaled to ``[lower, upper]``.

  Args:
    lower: the interval's left end, ``0 < lower <= upper``.
    upper: its right end.

  Returns:
    ``(a, b, c)`` in float64.

  Example:
    >>> [round(c, 4) for c in minimax_quintic(1.0, 1.0)]   # Newton-Schulz's quintic
    [1.875, -1.25, 0.375]
  """
  ratio = lower / upper
  if ratio > 1 - 5e-6:  # the limit of a vanishing interval: p(1) = 1, p'(1) = p''(1) = 0
    a, b, c = 15 / 8, -10 / 8, 3 / 8
  else:
    nodes = np.array([ratio, (3 * ratio + 1) / 4, (ratio + 3) / 4, 1.0])
    signs = np.array([1.0, -1.0, 1.0, -1.0])
    error = np.inf
    for _ in range(100):
      a, b, c, new_error = np.linalg.solve(
        np.stack([nodes, nodes**3, nodes**5, signs], axis=1), np.ones(4)
      )
      root = math.sqrt(9 * b * b - 20 * a * c)
      nodes[1:3] = np.sqrt((-3 * b + np.array([-root, root])) / (10 * c))
      if abs(new_error - error) <= 1e-15:
        break
      error = new_error
  return float(a) / upper, float(b) / upper**3, float(c) / upper**5


def polar_express_coefficients(
  num_steps: int = 5,
  lower: float = 1e-3,
  cushion: float = 0.1,
  safety: float = 1.01,
  *,
  safe_bounds: bool = True,
) -> np.ndarray:
  """Polar Express's Newton-Schulz coefficients, one optimal quintic per step.

  Greedily, from $[\\ell_1, u_1] = [\\ell, 1]$: $p_t$ is the odd quintic
  closest to 1 on $[\\max(\\ell_t, \\kappa u_t), u_t]$ (`minimax_quintic`; the
  cushion $\\kappa$ keeps the early polynomials from oscillating), scaled by
  $2 / (p_t(\\ell_t) + p_t(u_t))$ so that the bounds stay centred on 1, then
  made safe against round-off by $p_t \\leftarrow p_t(\\cdot / s)$; the next
  bounds are $\\ell_{t+1} = p_t(\\ell_t)$, $u_{t+1} = 2 - \\ell_{t+1}$. The
  composition is the best polynomial of its kind on $[\\ell, 1]$ (Amsel et al.,
  2025, Theorem 3.1, without the safety and cushion).

  The paper's text (Algorithm 1) cushions at $u_t / 10$ and takes the next
  bounds from the safe $p_t$ (the defaults; preset ``'polar_express'``). The
  authors' published table cushions at 0.0241 (``PUBLISHED_CUSHION``) and takes
  the bounds from the unscaled $p_t$, scaling by the safety afterwards
  (``safe_bounds=False``; preset ``'polar_express_published'``, the first five of
  its rows, all of which it scales).

  Args:
    num_steps: the number of Newton-Schulz steps (rows).
    lower: $\\ell$, the smallest singular value, relative to the largest, to be
      brought to 1 (``1e-3`` suits bfloat16 gradients).
    cushion: $\\kappa$, in ``[0, 1]``.
    safety: $s \\ge 1$.
    safe_bounds: whether $\\ell_{t+1}$ is $p_t(\\ell_t)$ of the safe $p_t$ (the
      text) or of the unscaled one (the published table).

  Returns:
    An ``(num_steps, 3)`` float64 array, for ``ns_coeffs``.

  Example:
    >>> import jaxopt_notes as jon
    >>> jon.polar_express_coefficients(6).shape
    (6, 3)
  """
  low, high, rows = lower, 1.0, []
  for _ in range(num_steps):
    coeffs = np.array(minimax_quintic(max(low, cushion * high), high))
    coeffs *= 2 / (_quintic(coeffs, low) + _quintic(coeffs, high))
    safe = coeffs / np.array([safety, safety**3, safety**5])
    rows.append(safe)
    low = _quintic(safe if safe_bounds else coeffs, low)
    high = 2 - low
  return np.array(rows)


@shared_args
def scale_by_muon(
  ns_coeffs: Any = _STANDARD,
  ns_steps: Any = 5,
  beta: Float = 0.95,
  eps: Float = 1e-8,
  mu_dtype: Any = None,
  *,
  nesterov: bool = True,
  adaptive: bool = False,
  preconditioning: str = "frobenius",
  weight_dimension_numbers: Any = None,
) -> GradientTransformation:
  """Muon's orthogonalised momentum for every leaf; see `muon`.

  ``weight_dimension_numbers`` is a tree (or a prefix, or a callable of the
  updates returning one) of `MuonDimensionNumbers`; ``None`` treats every leaf
  as a matrix of rows x columns.

  Args:
    ns_coeffs: the Newton-Schulz coefficients $(a, b, c)$: a preset's name (``'standard'``,
      ``'dion'``), an array of shape ``(3,)`` used at every step, or ``(n, 3)``, one row per step
      (``ns_steps`` is then not used).
    ns_steps: the number of Newton-Schulz steps (a positive int) when ``ns_coeffs`` has shape (3,).
    beta: decay rate $\\beta$ of the momentum $m_t$, in [0, 1].
    eps: added to the norm that scales the momentum before the iteration (and, in `muon`, the
      ``eps`` of AdamW on the other leaves); >= 0.
    nesterov: orthogonalise NAdam's look-ahead momentum instead of $\\hat m_t$ (also for AdamW on
      the other leaves in `muon`).
    adaptive: scale the orthogonal update $O$ by $\\langle \\hat m_t, O\\rangle$ (Bernstein &
      Newhouse, 2024).
    preconditioning: how the momentum is normalised before the iteration: ``'frobenius'`` (by its
      Frobenius norm), ``'spectral'``, ``'aol'`` or ``'schatten'`` (module docstring).
    weight_dimension_numbers: a tree (or a prefix, or a callable of the updates returning one) of
      `MuonDimensionNumbers`; ``None`` treats every leaf as a matrix of rows x columns.
  """
  owner = "scale_by_muon"
  ns_coeffs = ns_coefficients(owner, ns_coeffs)
  _validate.check(owner, beta=(beta, _validate.UNIT), eps=(eps, _validate.NONNEGATIVE))
  _validate.check_positive_int(owner, "ns_steps", ns_steps)
  _validate.check_choice(owner, "preconditioning", preconditioning, _PRECONDITIONINGS)
  mu_dtype = _tree.canonical_dtype(mu_dtype)
  steps = ns_steps if isinstance(ns_steps, jax.core.Tracer) else int(ns_steps)

  def init_fn(params):
    return MuonState(
      count=_placement.zero_count(params),
      mu=_tree.zeros_like(params, dtype=mu_dtype),
      ns_coeffs=_placement.replicate_like(jnp.asarray(ns_coeffs), params),
    )

  def update_fn(updates, state, params=None):
    del params
    mu = _moments.update_moment(updates, state.mu, beta, 1)
    count = _numerics.safe_increment(state.count)
    mu_hat = debiased_first_moment(widen_float16(mu), widen_float16(updates), beta, count, nesterov)
    specs = resolve_dimension_numbers(weight_dimension_numbers, updates)
    out = per_matrix(
      lambda s, m: orthogonalize(m, s, state.ns_coeffs, steps, preconditioning, eps), specs, mu_hat
    )
    if adaptive:
      out = per_matrix(lambda s, o, m: jnp.sum(m.conj() * o) * o, specs, out, mu_hat)
    return _tree.cast_like(out, updates), MuonState(
      count=count, mu=_tree.cast_like(mu, state.mu), ns_coeffs=state.ns_coeffs
    )

  return GradientTransformation(init_fn, update_fn)


def _scale_by_shape(weight_dimension_numbers: Any, consistent_rms: Any) -> GradientTransformation:
  """Muon's shape factor (module docstring)."""

  def factor(spec, u):
    fan_in, fan_out = _fans(u, spec)
    if consistent_rms is None:
      return math.sqrt(max(1.0, fan_out / fan_in)) * u
    return (math.sqrt(max(fan_in, fan_out)) * consistent_rms * u).astype(u.dtype)

  def update_fn(updates, state, params=None):
    del params
    specs = resolve_dimension_numbers(weight_dimension_numbers, updates)
    return per_matrix(factor, specs, updates), state

  return GradientTransformation(init_empty_state, update_fn)


@shared_args(like=scale_by_muon)
def muon(
  learning_rate: ScalarOrSchedule,
  ns_coeffs: Any = _STANDARD,
  ns_steps: Any = 5,
  beta: Float = 0.95,
  eps: Float = 1e-8,
  weight_decay: Float = 0.0,
  weight_decay_mask: Any = None,
  mu_dtype: Any = None,
  *,
  nesterov: bool = True,
  adaptive: bool = False,
  preconditioning: str = "frobenius",
  adam_b1: Float = 0.9,
  adam_b2: Float = 0.999,
  adam_eps_root: Float = 0.0,
  adam_weight_decay: Float = 0.0,
  adam_learning_rate: ScalarOrSchedule | None = None,
  muon_weight_dimension_numbers: Any = None,
  consistent_rms: Float | None = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """Muon on the matrix leaves, AdamW on the others (module docstring).

  ``muon_weight_dimension_numbers`` is a tree (or prefix, or callable of the
  params) of `MuonDimensionNumbers` and ``None``: a ``None`` leaf goes to
  AdamW. Left out, the 2-D leaves are Muon's and the others AdamW's.
  ``adam_learning_rate`` defaults to ``learning_rate``. ``ns_coeffs`` may be
  the name of a preset: ``'standard'``, ``'dion'`` (five rows, as optax's),
  ``'polar_express'`` or ``'polar_express_published'`` (five rows each, see
  `polar_express_coefficients`).
  ``mu_dtype`` holds both momenta, ``nu_dtype`` AdamW's second moment.

  Args:
    learning_rate: the step size $\\eta$ of the matrix leaves: a number, a traced array or a
      schedule of the step.
    muon_weight_dimension_numbers: a tree (or prefix, or callable of the params) of
      `MuonDimensionNumbers` and ``None`` (a ``None`` leaf goes to AdamW); ``None`` makes the 2-D
      leaves Muon's and the others AdamW's.
    consistent_rms: if given, the shape factor is $\\sqrt{\\max(\\text{fan\\_in},
      \\text{fan\\_out})}$ times this value (e.g. 0.2 to match AdamW's update RMS) instead of
      $\\sqrt{\\max(1, \\text{fan\\_out}/\\text{fan\\_in})}$.
    weight_decay: coefficient $\\lambda$ of decoupled weight decay of the matrix leaves:
      ``weight_decay * params`` is added after the shape factor, before the learning rate; 0 turns
      it off.
    weight_decay_mask: which matrix leaves are decayed: a tree of booleans (or a prefix, or a
      function of the params returning one); ``None`` decays all.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> params = {'w': jnp.eye(3), 'b': jnp.zeros(3)}
    >>> opt = jon.muon(0.1)
    >>> updates, _ = opt.update(params, opt.init(params))
    >>> [round(float(s), 1) for s in jnp.linalg.svd(updates['w'])[1]]  # about 0.1 each
    [0.1, 0.1, 0.1]

  References: Jordan et al., 2024, "Muon: An optimizer for hidden layers in
  neural networks"; Liu et al., 2025, "Muon is Scalable for LLM Training".
  """
  owner = "muon"
  _validate.check(
    owner,
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
    adam_b1=(adam_b1, _validate.UNIT),
    adam_b2=(adam_b2, _validate.UNIT),
    adam_eps_root=(adam_eps_root, _validate.NONNEGATIVE),
    adam_weight_decay=(adam_weight_decay, _validate.FINITE),
    adam_learning_rate=(adam_learning_rate, _validate.FINITE),
    consistent_rms=(consistent_rms, _validate.NONNEGATIVE),
  )
  ns_coeffs = ns_coefficients(owner, ns_coeffs)
  if adam_learning_rate is None:
    adam_learning_rate = learning_rate

  return split_matrices(
    lambda specs_of: chain(
      scale_by_muon(
        ns_coeffs,
        ns_steps,
        beta,
        eps,
        mu_dtype,
        nesterov=nesterov,
        adaptive=adaptive,
        preconditioning=preconditioning,
        weight_dimension_numbers=specs_of,
      ),
      _scale_by_shape(specs_of, consistent_rms),
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


def split_matrices(
  matrix: Callable[[Callable], GradientTransformation],
  other: GradientTransformation,
  weight_dimension_numbers: Any = None,
) -> GradientTransformation:
  """``matrix`` on the matrix leaves and ``other`` on the rest, as `muon` splits a tree.

  Args:
    matrix: a function of ``specs_of`` (the params -> their tree of
      `MuonDimensionNumbers` and ``None``) returning the matrices' optimizer.
    other: the optimizer of the leaves whose spec is ``None``.
    weight_dimension_numbers: a tree (or prefix, or callable of the params) of
      `MuonDimensionNumbers` and ``None``; left out, the 2-D leaves are matrices.
      Frozen leaves always go to ``other``.

  Returns:
    The combined transform (a `partition`).
  """

  def specs_of(params):
    if weight_dimension_numbers is None:
      return jax.tree.map(
        lambda x: None if _tree.is_frozen(x) or jnp.ndim(x) != 2 else MuonDimensionNumbers(), params
      )
    specs = (
      weight_dimension_numbers(params)
      if callable(weight_dimension_numbers)
      else weight_dimension_numbers
    )
    # spread a prefix tree of specs over the leaves; frozen leaves go to AdamW
    return jax.tree.map(
      lambda s, sub: jax.tree.map(lambda x: None if _tree.is_frozen(x) else s, sub),
      specs,
      params,
      is_leaf=is_spec,
    )

  def labels(params):
    return jax.tree.map(
      lambda s: "adam" if s is None else "muon", specs_of(params), is_leaf=is_spec
    )

  return partition({"muon": matrix(specs_of), "adam": other}, labels)
