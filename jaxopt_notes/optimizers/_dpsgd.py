"""DP-SGD (Abadi et al., 2016): clipped per-example gradients plus Gaussian noise.

The updates hold one gradient per example, the batch of $B$ examples on axis 0
of every leaf. Each example's gradient $g^{(b)}$ (all leaves together) is
clipped to norm $C$ (``l2_norm_clip``), the clipped gradients are summed,
noise of standard deviation $\\sigma C$ (``noise_multiplier`` $\\sigma$) is
added, and the sum is averaged:

$$
\\tilde g_t = \\frac{1}{B}\\Big(\\sum_{b=1}^{B} g^{(b)}
\\min\\big(1, C / \\|g^{(b)}\\|_2\\big) + \\mathcal N(0, \\sigma^2 C^2 I)\\Big).
$$

`differentially_private_aggregate` does this and must come first in a
`chain` (it removes the batch axis); `dpsgd` follows it with SGD. Wrappers that
average updates over steps (`MultiSteps`, `apply_every`) change the privacy
accounting and do not compose with it.
"""

from typing import Any, NamedTuple

import jax

from jaxopt_notes import _validate
from jaxopt_notes._base import GradientTransformation, ScalarOrSchedule, identity
from jaxopt_notes._combine import chain
from jaxopt_notes.transforms._accumulation import trace
from jaxopt_notes.transforms._adding import as_key
from jaxopt_notes.transforms._clipping import per_example_global_norm_clip
from jaxopt_notes.transforms._scaling import scale_by_learning_rate
from jaxopt_notes._docargs import shared_args


class DifferentiallyPrivateAggregateState(NamedTuple):
  """State of `differentially_private_aggregate`.

  Attributes:
    rng_key: the PRNG key the next step splits.
  """

  rng_key: jax.Array  # the key the next step splits


def differentially_private_aggregate(
  l2_norm_clip: jax.typing.ArrayLike,
  noise_multiplier: jax.typing.ArrayLike,
  key: Any = None,
  *,
  seed: int | None = None,
) -> GradientTransformation:
  """Clips per-example gradients, sums them, adds Gaussian noise and averages (module docstring).

  Each step splits the key in the state into the next state's key and one key
  per leaf, in tree order.

  Args:
    l2_norm_clip: The bound $C$ on each example's gradient norm.
    noise_multiplier: $\\sigma$, the noise's standard deviation in units of $C$.
    key: A PRNG key or an integer seed for the noise; ``None`` means seed 0.
    seed: An older spelling of an integer ``key`` (give one of the two).

  Returns:
    A `GradientTransformation` taking per-example gradients (batch on axis 0)
    and returning their noisy average.
  """
  _validate.check(
    "differentially_private_aggregate",
    l2_norm_clip=(l2_norm_clip, _validate.NONNEGATIVE),
    noise_multiplier=(noise_multiplier, _validate.NONNEGATIVE),
  )
  if key is not None and seed is not None:
    raise ValueError("differentially_private_aggregate: give `key` or `seed`, not both")
  key = as_key(0 if key is None and seed is None else (seed if key is None else key))
  noise_std = l2_norm_clip * noise_multiplier

  def init_fn(params):
    del params
    return DifferentiallyPrivateAggregateState(rng_key=key)

  def update_fn(updates, state, params=None):
    del params
    leaves, treedef = jax.tree.flatten(updates)
    batch = leaves[0].shape[0]
    clipped, _ = per_example_global_norm_clip(leaves, l2_norm_clip)
    next_key, *keys = jax.random.split(state.rng_key, len(leaves) + 1)
    noisy = [
      (g + noise_std * jax.random.normal(k, g.shape, g.dtype)) / batch
      for g, k in zip(clipped, keys)
    ]
    return treedef.unflatten(noisy), DifferentiallyPrivateAggregateState(rng_key=next_key)

  return GradientTransformation(init_fn, update_fn)


@shared_args
def dpsgd(
  learning_rate: ScalarOrSchedule,
  l2_norm_clip: jax.typing.ArrayLike,
  noise_multiplier: jax.typing.ArrayLike,
  seed: int,
  momentum: jax.typing.ArrayLike | None = None,
  nesterov: bool = False,
) -> GradientTransformation:
  """DP-SGD: `differentially_private_aggregate`, then SGD with optional momentum.

  Example:
    >>> import jax, jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.contrib.dpsgd(0.1, l2_norm_clip=1.0, noise_multiplier=0.0, seed=0)
    >>> per_example = {"w": jnp.array([[3.0, 4.0], [0.3, 0.4]])}  # norms 5 and 0.5
    >>> updates, _ = opt.update(per_example, opt.init({"w": jnp.zeros(2)}))
    >>> updates["w"]      # -0.1 * ((0.6, 0.8) + (0.3, 0.4)) / 2
    Array([-0.045, -0.06 ], dtype=float32)

  Args:
    l2_norm_clip: The bound $C$ on each example's gradient norm.
    noise_multiplier: $\\sigma$, the noise's standard deviation in units of $C$.
    seed: The integer seed of the noise.
    momentum: The decay of heavy-ball momentum; ``None`` keeps none.
    nesterov: Nesterov momentum instead of heavy ball.

  Returns:
    A `GradientTransformation` taking per-example gradients (batch on axis 0).

  Reference: Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar & Zhang, 2016,
  "Deep Learning with Differential Privacy".
  """
  _validate.check(
    "dpsgd", learning_rate=(learning_rate, _validate.FINITE), momentum=(momentum, _validate.UNIT)
  )
  return chain(
    differentially_private_aggregate(l2_norm_clip, noise_multiplier, seed=seed),
    identity() if momentum is None else trace(decay=momentum, nesterov=nesterov),
    scale_by_learning_rate(learning_rate),
  )
