"""D-Adaptation, Prodigy and Mechanic: what the shared registry tests cannot reach."""

import chex
import jax
import jax.numpy as jnp
import pytest

import jaxopt_notes as jon
from test_references import GRADS, PARAMS

P = jax.tree.map(jnp.asarray, PARAMS)
G = [jax.tree.map(jnp.asarray, g) for g in GRADS]


def _rollout(opt):
  params, state, outs = P, opt.init(P), []
  for g in G:
    u, state = opt.update(g, state, params)
    params = jon.apply_updates(params, u)
    outs.append(u)
  return outs


# (factory, how a swept value enters its arguments, default, alternative)
BETAS = [
  (jon.dadapt_adamw, lambda b: {"betas": (b, 0.999)}, 0.9, 0.8),
  (jon.dadapt_adamw, lambda b: {"betas": (0.9, b)}, 0.999, 0.99),
  (jon.prodigy, lambda b: {"betas": (b, 0.999)}, 0.9, 0.8),
  (jon.prodigy, lambda b: {"betas": (0.9, b)}, 0.999, 0.99),
  (jon.prodigy, lambda b: {"beta3": b}, 0.95, 0.9),
]


@pytest.mark.parametrize(
  "factory,args,default,alt", BETAS, ids=[f"{f.__name__}-{i}" for i, (f, *_) in enumerate(BETAS)]
)
def test_vmap_over_each_beta_equals_separate_runs(factory, args, default, alt):
  rollout = lambda b: _rollout(factory(**args(b)))  # noqa: E731
  values = jnp.array([default, alt])
  swept = jax.jit(jax.vmap(rollout))(values)
  for i, b in enumerate((default, alt)):
    chex.assert_trees_all_close(
      jax.tree.map(lambda x: x[i], swept), rollout(b), rtol=1e-9, atol=1e-13
    )


def test_mechanize_hands_extra_arguments_to_its_base():
  """Eve needs the loss: mechanize passes ``value=`` through to it."""
  opt, base = jon.mechanize(jon.eve(1.0)), jon.eve(1.0)
  u, state = opt.update(G[0], opt.init(P), P, value=jnp.asarray(2.0))
  _, base_state = base.update(G[0], base.init(P), P, value=jnp.asarray(2.0))
  chex.assert_trees_all_close(state.base_optimizer_state, base_state)
  with pytest.raises(ValueError, match="value"):
    opt.update(G[0], opt.init(P), P)
