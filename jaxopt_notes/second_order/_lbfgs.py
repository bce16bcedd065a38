"""L-BFGS: a quasi-Newton direction from the last few steps, by the two-loop recursion.

With $s_k = x_{k+1} - x_k$, $y_k = g_{k+1} - g_k$ and $\\rho_k = 1/\\langle
s_k, y_k\\rangle$ for the last $m$ (``memory_size``) pairs, the direction
$d = H g$ applies the BFGS inverse-Hessian update

$$
H \\leftarrow (I - \\rho_k s_k y_k^\\top)\\, H\\, (I - \\rho_k y_k s_k^\\top)
  + \\rho_k s_k s_k^\\top
$$

to $H_0 = \\gamma I$ for the pairs from oldest to newest, without forming any
matrix. With ``scale_init_precond``, $\\gamma = \\langle s, y\\rangle / \\langle
y, y\\rangle$ of the newest pair (Nocedal & Wright, eq. 7.20), and at the
first step, with no pair yet, $\\gamma = \\min(1, 1/\\|g\\|)$ so that the first
trial step is at most 1 long (as in optax); else $\\gamma = 1$. A pair with
$\\langle s, y\\rangle \\le 0$ (no positive
curvature, which a Wolfe step rules out) is stored with $\\rho = 0$ and so
ignored. The first direction is thus $\\gamma g$. `lbfgs` follows the direction
down with a zoom line search by default.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxopt_notes import _numerics, _tree, _validate
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
)
from jaxopt_notes.second_order import _common
from jaxopt_notes.second_order._zoom import scale_by_zoom_linesearch


class ScaleByLBFGSState(NamedTuple):
  """State of `scale_by_lbfgs`; the memories are circular buffers of ``memory_size`` rows.

  Attributes:
    count: int32 steps taken.
    params: the params of the last step.
    updates: the gradient of the last step.
    diff_params_memory: $s_k$, the last ``memory_size`` differences of params, stacked along a
      leading axis (a circular buffer).
    diff_updates_memory: $y_k$, the matching differences of gradients, stacked likewise.
    weights_memory: $\\rho_k = 1 / \\langle s_k, y_k\\rangle$ (0 for a skipped pair).
  """

  count: jax.Array  # steps taken (int32)
  params: Any  # the params of the last step
  updates: Any  # the gradient of the last step
  diff_params_memory: Any  # s_k, stacked along a leading axis
  diff_updates_memory: Any  # y_k, stacked likewise
  weights_memory: jax.Array  # rho_k = 1 / <s_k, y_k> (0 for a skipped pair)


def _two_loop(g, s, y, rho, newest, gamma):
  """$H g$ over flat arrays; row ``newest`` of the circular memory is the latest pair."""
  m = rho.shape[0]
  order = (newest - jnp.arange(m)) % m  # newest to oldest

  def backward(q, i):
    k = order[i]
    alpha = rho[k] * jnp.real(jnp.vdot(s[k], q))
    return q - alpha * y[k], alpha

  q, alphas = jax.lax.scan(backward, g, jnp.arange(m))

  def forward(r, i):
    k = order[i]
    beta = rho[k] * jnp.real(jnp.vdot(y[k], r))
    return r + (alphas[i] - beta) * s[k], None

  r, _ = jax.lax.scan(forward, gamma * q, jnp.arange(m)[::-1])
  return r


def scale_by_lbfgs(
  memory_size: int = 10, scale_init_precond: bool = True
) -> GradientTransformation:
  """The L-BFGS direction $H g$ (module docstring); see `lbfgs`. Needs ``params``.

  Args:
    memory_size: $m$, the number of pairs kept (a positive int).
    scale_init_precond: start each recursion from $\\gamma I$ with $\\gamma = \\langle s, y\\rangle
      / \\langle y, y\\rangle$ of the newest pair ($\\min(1, 1/\\|g\\|)$ at the first step); False
      from $I$.
  """
  _validate.check_positive_int("scale_by_lbfgs", "memory_size", memory_size)

  def init_fn(params):
    flat, _ = ravel_pytree(params)
    stack = lambda: jax.tree.map(  # noqa: E731
      lambda x: jnp.zeros((memory_size, *jnp.shape(x)), jnp.asarray(x).dtype), params
    )
    return ScaleByLBFGSState(
      count=jnp.zeros([], jnp.int32),
      params=_tree.zeros_like(params),
      updates=_tree.zeros_like(params),
      diff_params_memory=stack(),
      diff_updates_memory=stack(),
      weights_memory=jnp.zeros(memory_size, flat.dtype),
    )

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("scale_by_lbfgs: `update` needs the current `params`")
    g, unravel = ravel_pytree(updates)
    x, _ = ravel_pytree(params)
    flat_rows = jax.vmap(lambda row: ravel_pytree(row)[0])
    s_mem = flat_rows(state.diff_params_memory)
    y_mem = flat_rows(state.diff_updates_memory)
    s_new = x - ravel_pytree(state.params)[0]
    y_new = g - ravel_pytree(state.updates)[0]
    sy = jnp.real(jnp.vdot(s_new, y_new))  # real inner products, also for complex
    started = state.count > 0
    rho_new = jnp.where(started & (sy > 0), 1.0 / jnp.where(sy > 0, sy, 1.0), 0.0)
    newest = (state.count - 1) % memory_size
    s_mem = s_mem.at[newest].set(jnp.where(started, s_new, s_mem[newest]))
    y_mem = y_mem.at[newest].set(jnp.where(started, y_new, y_mem[newest]))
    rho = state.weights_memory.at[newest].set(
      jnp.where(started, rho_new, state.weights_memory[newest])
    )
    if scale_init_precond:
      yy = jnp.real(jnp.vdot(y_new, y_new))
      gamma = jnp.where((rho_new > 0) & (yy > 0), sy / jnp.where(yy > 0, yy, 1.0), 1.0)
      gamma = jnp.where(
        started, gamma, jnp.minimum(1.0, _numerics.safe_div(1.0, jnp.linalg.norm(g)))
      )
    else:
      gamma = jnp.ones([], g.dtype)
    direction = _two_loop(g, s_mem, y_mem, rho, newest, gamma.astype(g.dtype))
    unravel_rows = jax.vmap(unravel)
    new_state = ScaleByLBFGSState(
      count=_numerics.safe_increment(state.count),
      params=_tree.cast_like(params, state.params),
      updates=_tree.cast_like(updates, state.updates),
      diff_params_memory=_tree.cast_like(unravel_rows(s_mem), state.diff_params_memory),
      diff_updates_memory=_tree.cast_like(unravel_rows(y_mem), state.diff_updates_memory),
      weights_memory=rho.astype(state.weights_memory.dtype),
    )
    return _tree.cast_like(unravel(direction), updates), new_state

  return GradientTransformation(init_fn, update_fn)


_ZOOM = scale_by_zoom_linesearch(max_linesearch_steps=20, initial_guess_strategy="one")


def lbfgs(
  learning_rate: ScalarOrSchedule | None = None,
  memory_size: int = 10,
  scale_init_precond: bool = True,
  linesearch: GradientTransformation | None = _ZOOM,
) -> GradientTransformationExtraArgs:
  """L-BFGS with a strong-Wolfe (zoom) line search (module docstring).

  ``update(grads, state, params, *, value, grad, value_fn, **extras)``; see
  `value_and_grad_from_state` to reuse the line search's last evaluation.

  Args:
    learning_rate: scales the direction before the line search; ``None``
      negates it (the line search then picks the step).
    memory_size: $m$, the number of pairs kept.
    scale_init_precond: start each recursion from $\\gamma I$ (see above).
    linesearch: the line search, by default ``scale_by_zoom_linesearch(
      max_linesearch_steps=20, initial_guess_strategy="one")``; ``None`` for
      none (then give a learning rate).

  Returns:
    A `GradientTransformationExtraArgs`.

  Examples:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> f = lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    >>> opt = jon.lbfgs()
    >>> x = jnp.array([-1.2, 1.0]); state = opt.init(x)
    >>> step = jax.jit(lambda x, s: opt.update(jax.grad(f)(x), s, x, value=f(x),
    ...                                        grad=jax.grad(f)(x), value_fn=f))
    >>> for _ in range(60):
    ...   updates, state = step(x, state)
    ...   x = jon.apply_updates(x, updates)
    >>> [round(float(v), 3) for v in x]
    [1.0, 1.0]

  References:
    Liu & Nocedal, 1989, "On the limited memory BFGS method for large scale
    optimization"; Nocedal & Wright, 2006, "Numerical Optimization", algorithm 7.4.
  """
  return _common.descend(
    scale_by_lbfgs(memory_size, scale_init_precond), learning_rate, linesearch, "lbfgs"
  )
