r"""The linear assignment problem, solved by shortest augmenting paths with potentials.

Given costs $C \in \mathbb{R}^{n \times m}$, find $k = \min(n, m)$ pairs
$(i_1, j_1), \dots, (i_k, j_k)$, no row and no column used twice, minimizing
$\sum_t C_{i_t j_t}$. With $n \le m$ (otherwise solve $C^\top$) the rows are
added one at a time. Potentials $u_i$, $v_j$ keep every reduced cost
$C_{ij} - u_i - v_j \ge 0$, and tight ($= 0$) on matched pairs; the new row
reaches a free column by a shortest path over reduced costs (Dijkstra's
algorithm, one column settled per step), the potentials are shifted by the
path lengths, and the matching is flipped along the path. Each row costs
$O(nm)$, the whole $O(n^2 m)$.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp


class _Search(NamedTuple):
  """Dijkstra's state while row ``start`` looks for a free column."""

  u: jax.Array  # (n,) row potentials
  v: jax.Array  # (m,) column potentials
  settled: jax.Array  # (m,) columns whose shortest distance is final
  in_tree: jax.Array  # (n,) rows reached so far
  dist: jax.Array  # (m,) tentative reduced distance to each column
  way: jax.Array  # (m,) the column before each on its path, -1 for the start row
  row: jax.Array  # the row being expanded
  col: jax.Array  # the column settled last (-1 before the first)
  steps: jax.Array  # columns settled so far


def _add_row(
  costs: jax.Array, start: jax.Array, u: jax.Array, v: jax.Array, row4col: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Matches row ``start``: one shortest augmenting path, then the flip along it."""
  n, m = costs.shape

  def expand(s: _Search) -> _Search:
    reduced = costs[s.row] - s.u[s.row] - s.v
    better = ~s.settled & (reduced < s.dist)
    dist = jnp.where(better, reduced, s.dist)
    way = jnp.where(better, s.col, s.way)
    open_dist = jnp.where(s.settled, jnp.inf, dist)
    col = jnp.argmin(open_dist)
    delta = open_dist[col]
    # Shift the potentials so that the tree's edges stay tight and the
    # distances of the open columns drop by delta.
    u = s.u + jnp.where(s.in_tree, delta, 0)
    v = s.v - jnp.where(s.settled, delta, 0)
    dist = jnp.where(s.settled, dist, dist - delta)
    matched_row = row4col[col]
    settled = s.settled.at[col].set(True)
    # A free column has no row (-1): index n, out of range, is dropped.
    in_tree = s.in_tree.at[jnp.where(matched_row < 0, n, matched_row)].set(True, mode="drop")
    return _Search(u, v, settled, in_tree, dist, way, matched_row, col, s.steps + 1)

  def searching(s: _Search) -> jax.Array:
    reached_free = (s.col >= 0) & (row4col[jnp.maximum(s.col, 0)] < 0)
    return ~reached_free & (s.steps < m)

  search = jax.lax.while_loop(
    searching,
    expand,
    _Search(
      u=u,
      v=v,
      settled=jnp.zeros(m, bool),
      in_tree=jnp.zeros(n, bool).at[start].set(True),
      dist=jnp.full(m, jnp.inf, costs.dtype),
      way=jnp.full(m, -1),
      row=start,
      col=jnp.array(-1),
      steps=jnp.array(0),
    ),
  )

  def flip(carry):
    row4col, col = carry
    before = search.way[col]
    row = jnp.where(before < 0, start, row4col[jnp.maximum(before, 0)])
    return row4col.at[col].set(row), before

  row4col, _ = jax.lax.while_loop(lambda c: c[1] >= 0, flip, (row4col, search.col))
  return search.u, search.v, row4col


def _solve(owner: str, cost_matrix: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The optimal pairs ``(rows, cols)``, sorted by row."""
  costs = jnp.asarray(cost_matrix)
  if costs.ndim != 2:
    raise ValueError(
      f"{owner}: argument `cost_matrix` must be a 2-D array; got shape {costs.shape}"
    )
  if jnp.issubdtype(costs.dtype, jnp.complexfloating):
    raise ValueError(f"{owner}: argument `cost_matrix` must be real; got {costs.dtype}")
  if costs.size == 0:
    return jnp.zeros(0, int), jnp.zeros(0, int)
  dtype = costs.dtype if jnp.issubdtype(costs.dtype, jnp.floating) else jnp.result_type(float)
  tall = costs.shape[0] > costs.shape[1]
  costs = (costs.T if tall else costs).astype(dtype)
  n, m = costs.shape

  def body(carry, start):
    return _add_row(costs, start, *carry), None

  init = (jnp.zeros(n, dtype), jnp.zeros(m, dtype), jnp.full(m, -1))
  (_, _, row4col), _ = jax.lax.scan(body, init, jnp.arange(n))
  # Every row of `costs` is matched: invert column -> row into row -> column.
  matched = row4col >= 0
  col4row = jnp.zeros(n, int).at[jnp.where(matched, row4col, n)].set(jnp.arange(m), mode="drop")
  if not tall:
    return jnp.arange(n), col4row
  order = jnp.argsort(col4row)
  return col4row[order], order


def hungarian_algorithm(cost_matrix: jax.Array) -> tuple[jax.Array, jax.Array]:
  r"""An optimal assignment of rows to columns for a rectangular cost matrix.

  For $C \in \mathbb{R}^{n \times m}$ it returns $k = \min(n, m)$ pairs
  $(i_t, j_t)$ solving

  $$\min \sum_{i, j} C_{ij} X_{ij} \quad\text{s.t.}\quad X_{ij} \in \{0, 1\},\;
  \sum_j X_{ij} \le 1,\; \sum_i X_{ij} \le 1,\; \sum_{i,j} X_{ij} = \min(n, m),$$

  by shortest augmenting paths with dual potentials (the Hungarian method in
  Jonker and Volgenant's form), in $O(\min(n,m)^2 \max(n,m))$ time. It runs
  under ``jax.jit`` and ``jax.vmap`` (over a stack of equally shaped matrices).

  Args:
    cost_matrix: $C$, a 2-D array of finite real (or integer) costs; an empty
      one gives empty indices.

  Returns:
    ``(i, j)``, two integer arrays of length $\min(n, m)$: row ``i[t]`` goes to
    column ``j[t]``, with ``i`` increasing. The total cost is
    ``cost_matrix[i, j].sum()``. Where several assignments are optimal, any one
    of them may be returned.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes.assignment import hungarian_algorithm
    >>> cost = jnp.array([[4, 1, 3], [2, 0, 5], [3, 2, 2], [5, 4, 1]])
    >>> i, j = hungarian_algorithm(cost)
    >>> list(zip(i.tolist(), j.tolist())), int(cost[i, j].sum())
    ([(0, 1), (1, 0), (3, 2)], 4)

  References:
    Kuhn, 1955, The Hungarian method for the assignment problem; Jonker and
    Volgenant, 1987, A shortest augmenting path algorithm for dense and sparse
    linear assignment problems; Crouse, 2016, `On implementing 2D rectangular
    assignment algorithms <https://ieeexplore.ieee.org/document/7738348>`_.
  """
  return _solve("hungarian_algorithm", cost_matrix)


def base_hungarian_algorithm(cost_matrix: jax.Array) -> tuple[jax.Array, jax.Array]:
  r"""An optimal assignment of rows to columns; the same solver as `hungarian_algorithm`.

  optax keeps two implementations of the problem below (a direct transcription
  of Crouse's pseudocode, and a faster one); both return an optimal
  assignment, so here both names run one solver:

  $$\min \sum_{i, j} C_{ij} X_{ij} \quad\text{s.t.}\quad X_{ij} \in \{0, 1\},\;
  \sum_j X_{ij} \le 1,\; \sum_i X_{ij} \le 1,\; \sum_{i,j} X_{ij} = \min(n, m).$$

  Args:
    cost_matrix: $C$, a 2-D array of finite real (or integer) costs; an empty
      one gives empty indices.

  Returns:
    ``(i, j)``, two integer arrays of length $\min(n, m)$ with ``i`` increasing:
    row ``i[t]`` goes to column ``j[t]``, at total cost
    ``cost_matrix[i, j].sum()``.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxopt_notes.assignment import base_hungarian_algorithm
    >>> i, j = base_hungarian_algorithm(jnp.array([[3.0, 1.0], [1.0, 3.0]]))
    >>> list(zip(i.tolist(), j.tolist()))
    [(0, 1), (1, 0)]
  """
  return _solve("base_hungarian_algorithm", cost_matrix)
