"""jit equals eager, with chex's variants, for every optimizer of the registry."""

import chex
import jax
import jax.numpy as jnp
from absl.testing import parameterized

from registry import REGISTRY, atol_for
from test_conformance import _rollout


class JitEqualsEager(chex.TestCase):
  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters((entry.name, entry) for entry in REGISTRY)
  def test_rollout_matches_eager(self, entry):
    opt = entry.make(0.01)
    with jax.disable_jit():
      eager, eager_state = _rollout(opt, opt.update)
    ours, state = _rollout(opt, self.variant(opt.update))
    chex.assert_trees_all_close(ours, eager, rtol=1e-12, atol=atol_for(eager, 1e-12, 1e-14))
    chex.assert_trees_all_close(_raw(state), _raw(eager_state), rtol=1e-12, atol=1e-14)


def _raw(state):
  """Typed PRNG keys (noisy_sgd's state) as their integer data, for comparison."""
  is_key = lambda x: jnp.issubdtype(x.dtype, jax.dtypes.prng_key)  # noqa: E731
  return jax.tree.map(lambda x: jax.random.key_data(x) if is_key(x) else x, state)
