"""Complex params as pairs of real ones: `split_real_and_imaginary`.

Every optimizer of the library takes complex params directly (see "Complex
parameters" in docs/scale.md): a complex coordinate $z = x + iy$ is one
coordinate whose second moment is $|g|^2$. This wrapper instead hands the inner
transformation $x$ and $y$ as two real leaves, so that a per-coordinate method
adapts to each separately (and methods that refuse complex params, such as
`rprop`, run on them).
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_notes import _tree
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  with_extra_args_support,
)
from jaxopt_notes._docargs import shared_args


class SplitRealAndImaginaryArrays(NamedTuple):
  """The real and imaginary parts of one complex leaf, as two real leaves."""

  real: Any
  imaginary: Any


@shared_args
class SplitRealAndImaginaryState(NamedTuple):
  """State of `split_real_and_imaginary`: the inner state, over the split params."""

  inner_state: Any


def _split(x: Any) -> Any:
  if x is not None and jnp.iscomplexobj(x):
    return SplitRealAndImaginaryArrays(jnp.real(x), jnp.imag(x))
  return x


def _merge(x: Any) -> Any:
  if isinstance(x, SplitRealAndImaginaryArrays):
    return jax.lax.complex(x.real, x.imaginary)
  return x


def _split_tree(tree: Any) -> Any:
  return jax.tree.map(_split, tree, is_leaf=_tree.is_none)


def split_real_and_imaginary(inner: GradientTransformation) -> GradientTransformationExtraArgs:
  """Runs ``inner`` on the real and imaginary parts of complex leaves as separate real leaves.

  Each complex leaf $z = x + iy$ of the updates and params becomes the pair
  `SplitRealAndImaginaryArrays` ``(x, y)`` for ``inner``; the pair of updates
  it returns is merged back into $u_x + i u_y$. Real leaves pass as they are.
  Extra keyword arguments of ``update`` (``value``, ...) reach ``inner``.

  Args:
    inner: the transformation to run on real leaves.

  Returns:
    A `GradientTransformationExtraArgs` whose state is `SplitRealAndImaginaryState`.

  Example:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.contrib.split_real_and_imaginary(jon.sign_sgd(0.1))
    >>> z = jnp.array([1.0 + 2.0j]); state = opt.init(z)
    >>> updates, state = opt.update(jnp.array([3.0 - 0.5j]), state, z)
    >>> updates   # the sign of each part, not z / |z|
    Array([-0.1+0.1j], dtype=complex64)

  References:
    optax's ``contrib.split_real_and_imaginary`` (the same names and state).
  """
  inner = with_extra_args_support(inner)

  def init_fn(params):
    return SplitRealAndImaginaryState(inner_state=inner.init(_split_tree(params)))

  def update_fn(updates, state, params=None, **extra_args):
    split_updates, inner_state = inner.update(
      _split_tree(updates), state.inner_state, _split_tree(params), **extra_args
    )
    merged = jax.tree.map(
      _merge, split_updates, is_leaf=lambda x: isinstance(x, SplitRealAndImaginaryArrays)
    )
    return merged, SplitRealAndImaginaryState(inner_state=inner_state)

  return GradientTransformationExtraArgs(init_fn, update_fn)
