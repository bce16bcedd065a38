"""KL-Shampoo and KL-SOAP (Lin et al., 2025): Kronecker factors fitted by KL minimisation.

Shampoo's factors $L = \\mathbb E[GG^\\top]$, $R = \\mathbb E[G^\\top G]$ estimate the
gradient's covariance $\\mathbb E[\\operatorname{vec}G\\operatorname{vec}G^\\top]$ by
$L \\otimes R$ only up to a scale and a mismatch. The Kronecker product $L \\otimes R$
closest to that covariance in the KL divergence between zero-mean Gaussians
satisfies, for a leaf of rank $r$ with $n = \\prod_i d_i$ entries,

$$
S_i = \\frac{d_i}{n}\\, \\mathbb E\\bigl[G_{(i)} \\bigl(\\textstyle\\bigotimes_{j \\ne i}
S_j^{-1}\\bigr) G_{(i)}^\\top\\bigr],
$$

each factor whitened by the others. It is tracked by exponential averages,
$S_i \\leftarrow \\beta S_i + (1-\\beta)\\frac{d_i}{n} G_{(i)} (\\bigotimes_{j\\ne i}
\\hat S_j^{-1}) G_{(i)}^\\top$, where $\\hat S_j = Q_j \\operatorname{diag}(\\lambda_j)
Q_j^\\top$ pairs an orthogonal basis $Q_j$ (refreshed every
``precondition_frequency`` steps by one power step, $Q_j \\leftarrow
\\operatorname{qr}(S_j Q_j)$) with eigenvalue estimates averaged every step in
that basis, $\\lambda_i \\leftarrow \\beta\\lambda_i + (1-\\beta)
\\operatorname{diag}(Q_i^\\top \\frac{d_i}{n} G_{(i)} (\\bigotimes_{j\\ne i}\\hat
S_j^{-1}) G_{(i)}^\\top Q_i)$. Writing $\\rho(X) = X \\times_1 Q_1^\\top \\cdots
\\times_r Q_r^\\top$ for the rotation into the bases and $c_i =
\\min(\\lambda_i^{-1/2}, \\kappa_i)$ for the clamped inverse roots
($\\kappa_i = \\max(10, \\min(d_i, K))$, $K$ = ``max_clamp_value``, a zero
eigenvalue giving 0), the estimates use $G$, $Q$ and $c$ of the step before.

**KL-Shampoo** steps with $\\hat L^{-1/2} M \\hat R^{-1/2}$, the momentum
$M_t = \\beta_1 M_{t-1} + (1-\\beta_1)G_t$ whitened by the fitted covariance
(the square root, not Shampoo's fourth root):

$$
u_t = \\rho^{-1}\\!\\left(\\frac{\\rho(M_t)\\, C}{1 + \\epsilon\\, C}\\right),\\qquad
C = c_1 \\otimes \\cdots \\otimes c_r ,
$$

the factors and eigenvalues averaged with ``b2``. **KL-SOAP** runs Adam (without
bias correction) in the same bases, $m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\rho(G_t)$,
$v_t = \\beta_2 v_{t-1} + (1-\\beta_2)\\rho(G_t)^2$, $u_t = \\rho^{-1}(m_t /
(\\sqrt{v_t} + \\epsilon))$, its factors averaged with ``shampoo_beta``; $m$ is
rotated to the new basis at a refresh ($v$ is kept).

The first call only starts the factors, $S_i = (1-\\beta)\\frac{d_i}{n}
G_{(i)}G_{(i)}^\\top$, takes their exact eigenbases (``eigh``) and sets every
$\\lambda$ to ``init_factor``; it returns a zero update. An axis longer than
``max_precond_dim`` keeps the identity basis (its $\\lambda$ is still estimated:
a leaf with no factor is RMSProp with momentum for KL-Shampoo, Adam without bias
correction for KL-SOAP); so do rank-1 leaves unless ``precondition_1d``.
This is the authors' published algorithm (their code, which heavyball's
``KLShampoo`` and ``KLSOAP`` port); see the docs page "KL-Shampoo and KL-SOAP"
for where heavyball's own variants differ.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _numerics, _placement, _tree, _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule
from jaxopt_notes._combine import chain
from jaxopt_notes.kronecker import _factors
from jaxopt_notes.kronecker._shampoo import per_leaf
from jaxopt_notes.kronecker._soap import merged_shape
from jaxopt_notes._docargs import shared_args
from jaxopt_notes._moments import Float, check_moments
from jaxopt_notes.transforms._adding import add_decayed_weights
from jaxopt_notes.transforms._scaling import scale_by_learning_rate


@shared_args
class ScaleByKlShampooState(NamedTuple):
  """State of `scale_by_kl_shampoo`.

  Attributes:
    count: int32 calls taken (the first only starts the factors), saturating.
    mu: the momentum $M_t$, like the params.
    stats: per leaf, a factor $S_i$ or ``None`` for each (merged) axis.
    bases: per leaf, the matching bases $Q_i$ (``None``: the identity).
    eigenvalues: per leaf, the estimates $\\lambda_i$ of every axis, in its basis.
  """

  count: jax.Array  # int32 calls taken (the first only starts the factors), saturating
  mu: Any  # momentum M_t, like the params
  stats: Any  # per leaf, a factor S_i or None for each (merged) axis
  bases: Any  # per leaf, the matching bases Q_i (None: the identity)
  eigenvalues: Any  # per leaf, the estimates lambda_i of every axis, in its basis


@shared_args
class ScaleByKlSoapState(NamedTuple):
  """State of `scale_by_kl_soap`.

  Attributes:
    count: int32 calls taken (the first only starts the factors), saturating.
    mu: the first moment $m_t$, in the bases.
    nu: the second moment $v_t$, in the bases.
    stats: per leaf, a factor $S_i$ or ``None`` for each (merged) axis.
    bases: per leaf, the matching bases $Q_i$ (``None``: the identity).
    eigenvalues: per leaf, the estimates $\\lambda_i$ of every axis, in its basis.
  """

  count: jax.Array  # int32 calls taken (the first only starts the factors), saturating
  mu: Any  # first moment m_t, in the bases
  nu: Any  # second moment v_t, in the bases
  stats: Any  # per leaf, a factor S_i or None for each (merged) axis
  bases: Any  # per leaf, the matching bases Q_i (None: the identity)
  eigenvalues: Any  # per leaf, the estimates lambda_i of every axis, in its basis


class _Fit(NamedTuple):
  """What the two optimizers share: the layout of a leaf, and the factor estimation."""

  beta: Any
  init_factor: Any
  max_precond_dim: int
  merge_dims: bool
  precondition_1d: bool
  max_clamp_value: Any

  def layout(self, x):
    """The shape the factors see, and which of its axes get one."""
    shape = tuple(jnp.shape(x)) or (1,)
    if self.merge_dims and len(shape) > 1:
      shape = merged_shape(shape, self.max_precond_dim)
    one_d = len(shape) == 1 and not self.precondition_1d
    return shape, tuple(not one_d and d <= self.max_precond_dim for d in shape)

  def init(self, params):
    """Zero factors, identity bases, every eigenvalue ``init_factor`` (spread like params)."""

    def leaf(x, fill):
      shape, which = self.layout(x)
      dtype = _factors.stats_dtype(x)
      return tuple(fill(d, dtype) if yes else None for d, yes in zip(shape, which))

    stats = per_leaf(lambda x: leaf(x, lambda d, dt: jnp.zeros((d, d), dt)), params)
    bases = per_leaf(lambda x: leaf(x, lambda d, dt: jnp.eye(d, dtype=dt)), params)

    def start(x):
      dtype = jnp.finfo(_factors.stats_dtype(x)).dtype
      if self.like_param(x):  # a vector's diagonal second moment: placed like its param
        return (
          jnp.where(
            jnp.zeros_like(x, bool), jnp.real(x).astype(dtype), jnp.asarray(self.init_factor, dtype)
          ),
        )
      return tuple(
        _factors.spread(jnp.full((d,), self.init_factor, dtype), params) for d in self.layout(x)[0]
      )

    return (*_factors.spread((stats, bases), params), per_leaf(start, params))

  def like_param(self, x):
    """Whether a leaf's only eigenvalue vector has the leaf's shape (a vector with no factor)."""
    shape, which = self.layout(x)
    return shape == tuple(jnp.shape(x)) and which == (False,)

  def place(self, new, old, x, *like):
    """New eigenvalue vectors where `init` put the old ones."""
    if self.like_param(x):
      return tuple(
        jnp.where(jnp.zeros_like(o, bool), o, _factors.sharded_like(n, o).astype(o.dtype))
        for n, o in zip(new, old)
      )
    return _factors.spread(new, *like)

  def along(self, x, mats, transpose=False):
    """``x`` (in the factors' shape) times ``mats[i]`` along axis ``i``."""
    mats = [None if m is None else _factors.gathered(m) for m in mats]
    return _factors.along(_factors.gathered(x), mats, 0, transpose=transpose)

  def rotate(self, x, bases, back=False):
    """$\\rho(x)$, or $\\rho^{-1}(x)$ with ``back``."""
    if back:
      return self.along(x, bases)
    return self.along(x, [None if q is None else jnp.conj(q) for q in bases], transpose=True)

  def roots(self, eigenvalues, shape):
    """The clamped inverse roots $c_i$ (0 where an estimate is 0)."""
    out = []
    for lam, d in zip(eigenvalues, shape):
      lam = _factors.gathered(lam)
      c = jnp.where(lam > 0, 1 / jnp.sqrt(jnp.where(lam > 0, lam, 1)), 0)
      if self.max_clamp_value is not None:
        c = jnp.minimum(c, max(10, min(d, self.max_clamp_value)))
      out.append(c)
    return out

  @staticmethod
  def outer(vectors):
    """$c_1 \\otimes \\cdots \\otimes c_r$ as an array of rank r; ``skip`` left out."""
    r = len(vectors)
    out = 1.0
    for i, c in enumerate(vectors):
      if c is not None:
        out = out * c.reshape([-1 if j == i else 1 for j in range(r)])
    return out

  def first(self, x, stats):
    """The first call: factors from ``x`` alone and their exact eigenbases."""
    n = x.size
    new = tuple(
      None
      if s is None
      else ((1 - self.beta) * x.shape[i] / n) * _factors.gram(x.astype(s.dtype), i, 0)
      for i, s in enumerate(stats)
    )
    return new, tuple(None if s is None else _factors.eigenbasis(s) for s in new)

  def fit(self, x, stats, bases, eigenvalues):
    """The factors and eigenvalues after taking in ``x`` (state of the step before)."""
    n, r = x.size, x.ndim
    c = self.roots(eigenvalues, x.shape)
    new_stats = []
    for i, s in enumerate(stats):
      if s is None:
        new_stats.append(None)
        continue
      others = [None if j == i else q for j, q in enumerate(bases)]
      y = self.rotate(x, others) * self.outer([None if j == i else cj for j, cj in enumerate(c)])
      gram = _factors.gram(y, i, 0) * (x.shape[i] / n)
      new_stats.append((self.beta * _factors.gathered(s) + (1 - self.beta) * gram).astype(s.dtype))
    squares = _factors.abs2(self.rotate(x, bases))
    squares = jnp.minimum(squares, jnp.finfo(squares.dtype).max)  # inf * 0 (a zero root): 0
    new_eig = []
    for i, lam in enumerate(eigenvalues):
      weights = self.outer([None if j == i else cj * cj for j, cj in enumerate(c)])
      axes = tuple(j for j in range(r) if j != i)
      diag = jnp.mean(squares * weights, axis=axes) if axes else squares
      new_eig.append(
        (self.beta * _factors.gathered(lam) + (1 - self.beta) * diag).astype(lam.dtype)
      )
    return tuple(new_stats), tuple(new_eig)

  @staticmethod
  def power(stats, bases):
    """One unsorted power step per factor, $Q \\leftarrow \\operatorname{qr}(S Q)$."""
    out = []
    for s, q in zip(stats, bases):
      if s is None:
        out.append(None)
        continue
      new, _ = jnp.linalg.qr(jnp.matmul(s, _factors.gathered(q), precision=_factors.HIGHEST))
      out.append(jnp.where(jnp.all(jnp.isfinite(new)), new, _factors.gathered(q)))
    return tuple(out)


def _check(
  owner, b1, b2, eps, beta, precondition_frequency, init_factor, max_precond_dim, max_clamp_value
):
  check_moments(owner, b1, b2, eps)
  _validate.check(
    owner,
    shampoo_beta=(beta, _validate.UNIT),
    precondition_frequency=(precondition_frequency, _validate.AT_LEAST_ONE),
    init_factor=(init_factor, _validate.POSITIVE),
  )
  _validate.check_positive_int(owner, "max_precond_dim", max_precond_dim)
  if max_clamp_value is not None:
    _validate.check_positive_int(owner, "max_clamp_value", max_clamp_value)


def _kl_transform(
  owner,
  b1,
  b2,
  eps,
  beta,
  precondition_frequency,
  init_factor,
  max_precond_dim,
  merge_dims,
  precondition_1d,
  max_clamp_value,
  adam,
  mu_dtype=None,
  nu_dtype=None,
):
  """The update of `scale_by_kl_shampoo` (``adam=False``) or `scale_by_kl_soap`."""
  _check(
    owner, b1, b2, eps, beta, precondition_frequency, init_factor, max_precond_dim, max_clamp_value
  )
  kl = _Fit(beta, init_factor, max_precond_dim, merge_dims, precondition_1d, max_clamp_value)

  def init_fn(params):
    stats, bases, eigenvalues = kl.init(params)
    moments = dict(mu=_tree.zeros_like(params, _tree.canonical_dtype(mu_dtype)))
    if adam:
      moments["nu"] = _tree.zeros_like(params, _tree.canonical_dtype(nu_dtype))
    kind = ScaleByKlSoapState if adam else ScaleByKlShampooState
    return kind(
      count=_placement.zero_count(params),
      stats=stats,
      bases=bases,
      eigenvalues=eigenvalues,
      **moments,
    )

  def shaped(x):
    return _factors.gathered(x).reshape(kl.layout(x)[0])

  def direction(x, m, v, bases, eigenvalues):
    """One leaf's (update, m, v), all in the factors' shape."""
    if adam:
      p = kl.rotate(x, bases)
      m = (b1 * m + (1 - b1) * p).astype(m.dtype)
      v = (b2 * v + (1 - b2) * _factors.abs2(p)).astype(v.dtype)
      ratio = m.astype(x.dtype) / (jnp.sqrt(v.astype(x.dtype)) + eps)  # eps kept in float16
      return kl.rotate(ratio, bases, back=True), m, v
    m = (b1 * m + (1 - b1) * x).astype(m.dtype)
    scale = kl.outer(kl.roots(eigenvalues, x.shape))
    # C / (1 + eps C), written to stay finite (and 1 / eps) for an infinite C
    return kl.rotate(kl.rotate(m, bases) / (1 / scale + eps), bases, back=True), m, v

  def update_fn(updates, state, params=None):
    del params
    _tree.check_match(updates, state.mu)
    t = state.count
    xs = per_leaf(lambda g: shaped(g).astype(_factors.stats_dtype(g)), updates)
    ms = per_leaf(shaped, state.mu)
    vs = per_leaf(shaped, state.nu) if adam else per_leaf(lambda g: None, updates)
    bases = per_leaf(
      lambda g, q: tuple(None if b is None else _factors.gathered(b) for b in q),
      updates,
      state.bases,
    )
    eigen = per_leaf(
      lambda g, e: tuple(_factors.gathered(lam) for lam in e), updates, state.eigenvalues
    )
    pick = lambda tree, k: per_leaf(lambda g, o: o[k], updates, tree)  # noqa: E731

    def start():
      first = per_leaf(kl.first, xs, state.stats)
      return (_tree.zeros_like(xs), ms, vs, pick(first, 0), pick(first, 1), eigen)

    def later():
      steps = per_leaf(direction, xs, ms, vs, bases, eigen)
      fits = per_leaf(kl.fit, xs, state.stats, bases, eigen)
      stats = pick(fits, 0)
      new = _numerics.cond(
        t % precondition_frequency == 0,
        lambda: per_leaf(lambda x, s, q: kl.power(s, q), xs, stats, bases),
        lambda: bases,
      )
      m = pick(steps, 1)
      if adam:  # the first moment into the new bases
        m = per_leaf(
          lambda x, mm, q, qn: kl.rotate(kl.rotate(mm, q, back=True), qn).astype(mm.dtype),
          xs,
          m,
          bases,
          new,
        )
      u = per_leaf(lambda x, s: s[0].astype(x.dtype), xs, steps)
      return u, m, pick(steps, 2), stats, new, pick(fits, 1)

    u, m, v, stats, bases, eigenvalues = _numerics.cond(t == 0, start, later)
    back = lambda y, z: _factors.sharded_like(y.reshape(jnp.shape(z)), z)  # noqa: E731
    keep = lambda o, n: jnp.where(jnp.zeros_like(o, bool), o, n.astype(o.dtype))  # noqa: E731
    stats, bases = _factors.spread((stats, bases), state.stats, updates)
    eigenvalues = per_leaf(
      lambda g, n, o: kl.place(n, o, g, state.stats, updates),
      updates,
      eigenvalues,
      state.eigenvalues,
    )
    rest = dict(
      stats=stats,
      bases=bases,
      eigenvalues=eigenvalues,
      count=_numerics.safe_increment(state.count),
      mu=_tree.map(keep, state.mu, per_leaf(back, m, state.mu)),
    )
    out = _tree.cast_like(per_leaf(back, u, updates), updates)
    if adam:
      return out, ScaleByKlSoapState(
        nu=_tree.map(keep, state.nu, per_leaf(back, v, state.nu)), **rest
      )
    return out, ScaleByKlShampooState(**rest)

  return GradientTransformation(init_fn, update_fn)


@shared_args
def scale_by_kl_shampoo(
  b1: Float = 0.9,
  b2: Float = 0.95,
  eps: Float = 1e-8,
  precondition_frequency: Any = 10,
  init_factor: Float = 0.1,
  max_precond_dim: int = 2048,
  merge_dims: bool = False,
  precondition_1d: bool = False,
  max_clamp_value: int | None = 4000,
  *,
  mu_dtype: Any = None,
) -> GradientTransformation:
  """KL-Shampoo's direction; see `kl_shampoo`.

  Args:
    b1: momentum decay.
    b2: decay of the factors and of their eigenvalue estimates.
    eps: damping of the step, $\\rho(M) C / (1 + \\epsilon C)$.
    precondition_frequency: steps between the power steps that refresh the bases.
    init_factor: the eigenvalue estimates' starting value.
    max_precond_dim: axes longer than this get no factor (identity basis).
    merge_dims: merge neighbouring axes while their product stays within
      ``max_precond_dim``.
    precondition_1d: give leaves of rank 1 a factor too.
    max_clamp_value: the inverse roots $\\lambda^{-1/2}$ of an axis of length $d$ are
      capped at $\\max(10, \\min(d, K))$, $K$ this value, as in the authors' code;
      ``None``: not capped.
  """
  return _kl_transform(
    "scale_by_kl_shampoo",
    b1,
    b2,
    eps,
    b2,
    precondition_frequency,
    init_factor,
    max_precond_dim,
    merge_dims,
    precondition_1d,
    max_clamp_value,
    adam=False,
    mu_dtype=mu_dtype,
  )


@shared_args
def scale_by_kl_soap(
  b1: Float = 0.9,
  b2: Float = 0.95,
  shampoo_beta: Any = None,
  eps: Float = 1e-8,
  precondition_frequency: Any = 10,
  init_factor: Float = 0.1,
  max_precond_dim: int = 2048,
  merge_dims: bool = False,
  precondition_1d: bool = False,
  max_clamp_value: int | None = 4000,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """KL-SOAP's direction; see `kl_soap`.

  Args:
    b1: decay of the first moment (kept in the bases).
    b2: decay of the second moment (kept in the bases).
    shampoo_beta: decay of the factors and eigenvalue estimates; ``None`` (or a
      negative number, as in the authors' code) uses ``b2``.
    eps: added outside Adam's square root.
    precondition_frequency: steps between the power steps that refresh the bases.
    init_factor: the eigenvalue estimates' starting value.
    max_precond_dim: axes longer than this get no factor (identity basis).
    merge_dims: merge neighbouring axes while their product stays within
      ``max_precond_dim``.
    precondition_1d: give leaves of rank 1 a factor too.
    max_clamp_value: as in `scale_by_kl_shampoo` (the estimates still whiten the factors).
  """
  if _numerics.is_concrete(shampoo_beta) and shampoo_beta < 0:
    shampoo_beta = None  # the authors' -1
  beta = b2 if shampoo_beta is None else shampoo_beta
  return _kl_transform(
    "scale_by_kl_soap",
    b1,
    b2,
    eps,
    beta,
    precondition_frequency,
    init_factor,
    max_precond_dim,
    merge_dims,
    precondition_1d,
    max_clamp_value,
    adam=True,
    mu_dtype=mu_dtype,
    nu_dtype=nu_dtype,
  )


@shared_args(like=scale_by_kl_shampoo)
def kl_shampoo(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.95,
  eps: Float = 1e-8,
  weight_decay: Float = 0.01,
  precondition_frequency: Any = 10,
  init_factor: Float = 0.1,
  max_precond_dim: int = 2048,
  merge_dims: bool = False,
  precondition_1d: bool = False,
  max_clamp_value: int | None = 4000,
  mask: Any = None,
  *,
  mu_dtype: Any = None,
) -> GradientTransformation:
  """KL-Shampoo: momentum whitened by Kronecker factors fitted by KL minimisation.

  The update is in the module docstring (and on the docs page "KL-Shampoo and
  KL-SOAP"): $u_t = \\hat L^{-1/2} M_t \\hat R^{-1/2}$ for a matrix, the factors
  estimated each whitened by the other, their eigenvalues averaged every step in
  bases refreshed by a power step.

  Args:
    learning_rate: a number, traced array or schedule.
    weight_decay: decoupled weight decay; ``mask`` selects the leaves.
    mask: tree or callable selecting the leaves weight decay applies to.

  Returns:
    The chain ``scale_by_kl_shampoo``, ``add_decayed_weights``, ``scale_by_learning_rate``.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.kl_shampoo(0.01, weight_decay=0.0)
    >>> params = jnp.ones((3, 2))
    >>> state = opt.init(params)
    >>> updates, state = opt.update(jnp.full((3, 2), 0.5), state, params)
    >>> float(abs(updates).max())  # the first call only starts the factors
    0.0
    >>> [s.shape for s in state[0].stats]
    [(3, 3), (2, 2)]

  Reference: Lin et al., 2025, "Understanding and Improving Shampoo and SOAP via
  Kullback-Leibler Minimization".
  """
  _validate.check(
    "kl_shampoo",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_kl_shampoo(
      b1,
      b2,
      eps,
      precondition_frequency,
      init_factor,
      max_precond_dim,
      merge_dims,
      precondition_1d,
      max_clamp_value,
      mu_dtype=mu_dtype,
    ),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )


@shared_args(like=scale_by_kl_soap)
def kl_soap(
  learning_rate: ScalarOrSchedule,
  b1: Float = 0.9,
  b2: Float = 0.95,
  shampoo_beta: Any = None,
  eps: Float = 1e-8,
  weight_decay: Float = 0.01,
  precondition_frequency: Any = 10,
  init_factor: Float = 0.1,
  max_precond_dim: int = 2048,
  merge_dims: bool = False,
  precondition_1d: bool = False,
  max_clamp_value: int | None = 4000,
  mask: Any = None,
  *,
  mu_dtype: Any = None,
  nu_dtype: Any = None,
) -> GradientTransformation:
  """KL-SOAP: Adam in the eigenbases of Kronecker factors fitted by KL minimisation.

  The update is in the module docstring (and on the docs page "KL-Shampoo and
  KL-SOAP"): SOAP's Adam in the bases, without bias correction, the factors
  estimated as KL-Shampoo's.

  Args:
    learning_rate: a number, traced array or schedule.
    weight_decay: as in `kl_shampoo`.
    mask: as in `kl_shampoo`.

  Returns:
    The chain ``scale_by_kl_soap``, ``add_decayed_weights``, ``scale_by_learning_rate``.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.kl_soap(0.01, weight_decay=0.0)
    >>> params = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
    >>> state = opt.init(params)
    >>> [len(state[0].stats[k]) for k in ("b", "w")]  # the vector's axis has no factor
    [1, 2]
    >>> [round(float(v), 6) for v in state[0].eigenvalues["b"][0]]  # init_factor
    [0.1, 0.1]

  Reference: Lin et al., 2025, "Understanding and Improving Shampoo and SOAP via
  Kullback-Leibler Minimization".
  """
  _validate.check(
    "kl_soap",
    learning_rate=(learning_rate, _validate.FINITE),
    weight_decay=(weight_decay, _validate.FINITE),
  )
  return chain(
    scale_by_kl_soap(
      b1,
      b2,
      shampoo_beta,
      eps,
      precondition_frequency,
      init_factor,
      max_precond_dim,
      merge_dims,
      precondition_1d,
      max_clamp_value,
      mu_dtype=mu_dtype,
      nu_dtype=nu_dtype,
    ),
    add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate),
  )
