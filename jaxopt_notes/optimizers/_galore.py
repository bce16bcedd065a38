"""GaLore (Zhao et al., 2024): an optimizer run on low-rank projections of matrix gradients.

For a gradient matrix $G_t \\in \\mathbb{R}^{m \\times n}$ with $m \\ge n$, every
``update_proj_gap`` steps (from step 0) the projector is refreshed from the
singular value decomposition $G_t = U S V^H$ as the first ``rank`` left
singular vectors, $P = U_{:, :r}$ ($r = \\min(\\text{rank}, m, n)$). The inner
optimizer $\\rho$ (``base_optimizer``, Adam by default) then runs on the
projected gradient, and its step is lifted back:

$$
R_t = P^H G_t \\in \\mathbb{R}^{r \\times n},\\qquad
u_t = s\\, P\\, \\rho(R_t).
$$

For $m < n$ the right singular vectors are used instead, $P = V_{:, :r}$,
$R_t = G_t P$ and $u_t = s\\, \\rho(R_t) P^H$. The inner optimizer's state
(Adam's moments) has the projected shape, which is where the memory goes;
between refreshes it is kept as it is, as in the paper. Leaves that are not
projected (vectors, scalars, or any leaf that ``weight_dimension_numbers``
maps to ``None``) go through the inner optimizer whole.

The SVD runs in at least float32 (float16/bfloat16 gradients are widened for
it) and in float64 for float64 gradients; complex gradients use the conjugate
transpose, so $P P^H$ is the orthogonal projector on their range.
"""

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes.optimizers._adam import scale_by_adam
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


class GaLoreDimensionNumbers(NamedTuple):
  """Which axes of a leaf form the rows (``reduction_axis``) and the columns
  (``output_axis``) of the matrix GaLore projects; together they must name every axis.

  Attributes:
    reduction_axis: the axis or axes of a leaf that form the matrix's rows.
    output_axis: the axis or axes that form its columns; with ``reduction_axis`` they must name
      every axis.
  """

  reduction_axis: Sequence[int] | int = 0
  output_axis: Sequence[int] | int = 1


@shared_args
class GaLoreState(NamedTuple):
  """State of `scale_by_galore`.

  Attributes:
    base_optimizer_state: the inner optimizer's state, on the projected shapes.
    projector: $P$ of each projected leaf; ``None`` for a leaf that is not projected.
  """

  count: jax.Array  # int32 steps taken, saturating
  base_optimizer_state: Any  # the inner optimizer's state, on the projected shapes
  projector: Any  # P per leaf; None for a leaf that is not projected


def _replicated(x: jax.Array) -> jax.Array:
  """``x`` constrained to every device of the current mesh (as it is without one).

  A projector is small (``rank`` columns) and comes out of an SVD of the whole
  matrix, so it is kept whole on every device, eagerly and under ``jit`` alike,
  and a jitted step leaves it where ``init`` put it.
  """
  mesh = jax.sharding.get_abstract_mesh()
  if mesh.empty:
    return x
  return jax.lax.with_sharding_constraint(x, jax.sharding.PartitionSpec())


def _is_spec(x: Any) -> bool:
  return x is None or isinstance(x, GaLoreDimensionNumbers)


class _Matrix(NamedTuple):
  """How a leaf is read as an (m, n) matrix and written back."""

  order: tuple  # the leaf's axes, rows first
  shape: tuple  # the leaf's shape in that order
  m: int
  n: int

  @classmethod
  def of(cls, x: jax.Array, spec: GaLoreDimensionNumbers) -> "_Matrix":
    as_tuple = lambda a: (a,) if isinstance(a, int) else tuple(a)  # noqa: E731
    rows = tuple(a % x.ndim for a in as_tuple(spec.reduction_axis))
    cols = tuple(a % x.ndim for a in as_tuple(spec.output_axis))
    if x.ndim < 2 or set(rows) & set(cols) or sorted(rows + cols) != list(range(x.ndim)):
      raise ValueError(
        f"galore: a projected leaf needs two or more axes, each named once by "
        f"`reduction_axis` or `output_axis`; got {spec} for a leaf of shape {x.shape}"
      )
    shape = tuple(x.shape[a] for a in rows + cols)
    return cls(rows + cols, shape, math.prod(shape[: len(rows)]), math.prod(shape[len(rows) :]))

  def to_matrix(self, x: jax.Array) -> jax.Array:
    return x.transpose(self.order).reshape(self.m, self.n)

  def from_matrix(self, x: jax.Array) -> jax.Array:
    return x.reshape(self.shape).transpose(
      sorted(range(len(self.order)), key=self.order.__getitem__)
    )


def _svd_dtype(dtype: Any) -> Any:
  return jnp.promote_types(dtype, jnp.float32)


def scale_by_galore(
  rank: int = 128,
  update_proj_gap: int = 200,
  scale: float = 1.0,
  base_optimizer: GradientTransformation | None = None,
  weight_dimension_numbers: Any = None,
) -> GradientTransformation:
  """Runs ``base_optimizer`` on low-rank projections of matrix gradients (module docstring).

  ``base_optimizer`` sees projected gradients and no params, so it must be a
  gradient transformation that needs none (``scale_by_adam``, ``scale_by_lion``,
  ``scale_by_rms``, ...); decoupled weight decay belongs outside, as in `galore`.

  Args:
    rank: The rank $r$ of the projection (capped at each matrix's smaller side).
    update_proj_gap: Steps between refreshes of the projectors (from step 0).
    scale: The factor $s$ applied to the lifted updates.
    base_optimizer: The optimizer run in the projected space; ``None`` means
      ``scale_by_adam()``.
    weight_dimension_numbers: Which leaves are projected, and how: ``None``
      projects every 2-D leaf as it is; one `GaLoreDimensionNumbers` applies to
      every leaf of two or more axes; a tree of them (``None`` to skip a leaf) or
      a callable of the params returning such a tree chooses per leaf.

  Returns:
    A `GradientTransformation` whose state is a `GaLoreState`.

  Reference: Zhao, Zhang, Chen, Wang, Anandkumar & Tian, 2024, "GaLore:
  Memory-Efficient LLM Training by Gradient Low-Rank Projection".
  """
  base = scale_by_adam() if base_optimizer is None else base_optimizer
  if isinstance(rank, bool) or not isinstance(rank, int):
    raise TypeError(f"galore: argument `rank` must be an int, got {rank!r}")
  _validate.check_positive_int("galore", "rank", rank)
  _validate.check_positive_int("galore", "update_proj_gap", update_proj_gap)

  def specs_of(tree):
    spec = weight_dimension_numbers
    if spec is None or isinstance(spec, GaLoreDimensionNumbers):
      ndim_ok = (lambda n: n == 2) if spec is None else (lambda n: n >= 2)  # noqa: E731
      every = GaLoreDimensionNumbers() if spec is None else spec
      return jax.tree.map(
        lambda x: every if ndim_ok(jnp.ndim(x)) and not _tree.is_frozen(x) else None, tree
      )
    return spec(tree) if callable(spec) else spec

  def layout(x, spec):
    """(matrix layout, projector shape, projected shape, left) of a projected leaf."""
    mat = _Matrix.of(x, spec)
    r = min(rank, mat.m, mat.n)
    left = mat.m >= mat.n
    return mat, (mat.m if left else mat.n, r), ((r, mat.n) if left else (mat.m, r)), left

  def project_matrix(left, g2, p):
    """``P^H G`` (rows at least columns) or ``G P``."""
    return p.conj().T @ g2 if left else g2 @ p

  def per_leaf(f, tree, *rest):
    return jax.tree.map(f, specs_of(tree), tree, *rest, is_leaf=_is_spec)

  def unzip(tree, pairs):
    """Two trees from a tree of pairs built by `per_leaf` over ``tree``."""
    specs = specs_of(tree)
    return tuple(
      jax.tree.map(lambda _, pair, i=i: pair[i], specs, pairs, is_leaf=_is_spec) for i in (0, 1)
    )

  def init_fn(params):
    def shapes(spec, p):
      if spec is None:
        return None, _tree.zeros_like(p)
      mat, proj_shape, _, left = layout(p, spec)
      proj = _placement.replicate_like(_replicated(jnp.zeros(proj_shape, p.dtype)), p)
      # the projection of zeros: placed as a jitted update places a projected gradient
      return proj, project_matrix(left, mat.to_matrix(_tree.zeros_like(p)), proj)

    if not jax.tree.leaves(params):
      return GaLoreState(_placement.zero_count(params), base.init(params), params)
    projectors, proxies = unzip(params, per_leaf(shapes, params))
    return GaLoreState(_placement.zero_count(params), base.init(proxies), projectors)

  def update_fn(updates, state, params=None):
    del params
    refresh = state.count % update_proj_gap == 0

    def project(spec, g, p):
      if spec is None:
        return g, p
      mat, _, _, left = layout(g, spec)
      g2 = mat.to_matrix(g)
      r = p.shape[1]

      def fresh():
        u, _, vh = jnp.linalg.svd(g2.astype(_svd_dtype(g2.dtype)), full_matrices=False)
        basis = u[:, :r] if left else vh[:r].conj().T
        return basis.astype(p.dtype)

      p = _replicated(_numerics.cond(refresh, fresh, lambda: p))
      return project_matrix(left, g2, p), p

    low, projectors = unzip(updates, per_leaf(project, updates, state.projector))
    steps, base_state = base.update(low, state.base_optimizer_state, None)

    def lift(spec, g, u, p):
      if spec is None:
        return u
      mat, _, _, left = layout(g, spec)
      full = p @ u if left else u @ p.conj().T
      return (scale * mat.from_matrix(full)).astype(g.dtype)

    out = per_leaf(lift, updates, steps, projectors)
    return out, GaLoreState(_numerics.safe_increment(state.count), base_state, projectors)

  return GradientTransformation(init_fn, update_fn)


@shared_args
def galore(
  learning_rate: ScalarOrSchedule,
  rank: int = 128,
  update_proj_gap: int = 200,
  scale: float = 1.0,
  base_optimizer: GradientTransformation | None = None,
  weight_decay: jax.typing.ArrayLike = 0.0,
  mask: Any = None,
  weight_dimension_numbers: Any = None,
) -> GradientTransformation:
  """GaLore: `scale_by_galore`, decoupled weight decay on the full params, the learning rate.

  Example:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.contrib.galore(0.01, rank=2)
    >>> params = {"w": jnp.ones((6, 4)), "b": jnp.ones(4)}
    >>> state = opt.init(params)
    >>> state[0].projector["w"].shape    # (rows, rank): Adam's moments are (2, 4)
    (6, 2)
    >>> grads = jax.grad(lambda p: jnp.sum(p["w"] ** 2) + jnp.sum(p["b"] ** 2))(params)
    >>> updates, state = opt.update(grads, state, params)
    >>> updates["w"].shape
    (6, 4)

  Args:
    rank: See `scale_by_galore`.
    update_proj_gap: See `scale_by_galore`.
    scale: See `scale_by_galore`.
    base_optimizer: See `scale_by_galore`.
    weight_decay: Decoupled weight decay, applied to the full params.
    mask: A tree of booleans (or a callable of the params) choosing the leaves
      that are decayed.
    weight_dimension_numbers: See `scale_by_galore`.

  Returns:
    A `GradientTransformation`.
  """
  _validate.check("galore", learning_rate=(learning_rate, _validate.FINITE))
  return chain(
    scale_by_galore(rank, update_proj_gap, scale, base_optimizer, weight_dimension_numbers),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )
