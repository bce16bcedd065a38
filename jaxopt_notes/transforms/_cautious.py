"""Cautious optimizers (Liang, Chen, Liu & Liu, 2024): drop the update components that would climb.

For any inner optimizer with update $u_t$ (added to the params) and gradient
$g_t$, keep the components that point downhill and rescale by the fraction
kept, leaf by leaf:

$$
\\phi_t = \\mathbb{1}[u_t \\odot g_t < 0],\\qquad
u_t^{\\text{cautious}} = \\frac{u_t \\odot \\phi_t}{\\operatorname{mean}(\\phi_t)}
$$

(zero where no component of a leaf is kept). The inner state is untouched,
so momentum still accumulates every gradient.
"""

from typing import Any, NamedTuple

import jax.numpy as jnp

from jaxopt_notes import _numerics, _tree
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  with_extra_args_support,
)
from jaxopt_notes._docargs import shared_args


@shared_args
class CautiousState(NamedTuple):
  """State of `cautious`: the inner optimizer's state."""

  inner_state: Any


def _cautious_leaf(u: Any, g: Any) -> Any:
  keep = jnp.real(u * jnp.conj(g)) < 0
  fraction = jnp.mean(keep.astype(u.real.dtype))
  return _numerics.safe_div(jnp.where(keep, u, 0), fraction).astype(u.dtype)


def cautious(inner: GradientTransformation) -> GradientTransformationExtraArgs:
  """Wraps ``inner`` so that only its downhill components are applied (module docstring).

  ``update`` takes the raw gradients, as ``inner`` does; put gradient
  transforms (clipping) inside ``inner``.

  Args:
    inner: the optimizer whose update is masked; it sees the raw gradients.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.cautious(jon.sgd(1.0, momentum=0.9))
    >>> state = opt.init(jnp.zeros(2))
    >>> _, state = opt.update(jnp.array([1.0, 1.0]), state)
    >>> updates, _ = opt.update(jnp.array([1.0, -0.5]), state)  # momentum says +, gradient -
    >>> [round(float(u), 4) for u in updates]   # the climbing half is dropped, the other doubled
    [-3.8, 0.0]

  Reference: Liang, Chen, Liu & Liu, 2024, "Cautious Optimizers: Improving
  Training with One Line of Code".
  """
  inner = with_extra_args_support(inner)

  def init_fn(params):
    return CautiousState(inner_state=inner.init(params))

  def update_fn(updates, state, params=None, **extra_args):
    out, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
    return _tree.map(_cautious_leaf, out, updates), CautiousState(inner_state=inner_state)

  return GradientTransformationExtraArgs(init_fn, update_fn)
