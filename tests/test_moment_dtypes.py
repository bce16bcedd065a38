"""The dtype arguments of the moments (``mu_dtype``, ``nu_dtype``, ...) set the dtypes of
the state fields the registry names, keep them across steps, and change nothing else."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from registry import REGISTRY

PARAMS = {
  "w": jnp.linspace(-1.0, 1.0, 12, dtype=jnp.float32).reshape(3, 4),
  "b": jnp.linspace(0.5, -0.5, 4, dtype=jnp.float32),
}
WITH_DTYPES = [e for e in REGISTRY if e.moment_dtypes]


def _field_dtypes(state, named=()):
  """(state field, leaf dtype) of every param-shaped float leaf, and of every float leaf of a
  field in ``named`` (statistics kept per row or per column): the field is the last named
  attribute on the leaf's path."""
  shapes = {x.shape for x in jax.tree.leaves(PARAMS)}
  found = []
  for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
    names = [k.name for k in path if isinstance(k, jax.tree_util.GetAttrKey)]
    ours = names and (leaf.shape in shapes or names[-1] in named)
    if ours and jnp.issubdtype(leaf.dtype, jnp.floating):
      found.append((names[-1], leaf.dtype))
  return found


def _step(opt):
  def step(params, state):
    grads = jax.tree.map(lambda p: jnp.cos(p) * 0.1, params)
    updates, state = opt.update(grads, state, params, value=jnp.asarray(1.0))
    return jax.tree.map(lambda p, u: (p + u).astype(p.dtype), params, updates), state

  return step


@pytest.mark.parametrize("entry", WITH_DTYPES, ids=repr)
@pytest.mark.parametrize("dtype", [jnp.bfloat16])
def test_moment_dtypes_follow_their_arguments(entry, dtype):
  """The named fields start in ``dtype``, the others in the params' float32 (that a step keeps
  them so: `test_dtype_arguments_at_the_defaults_change_nothing_and_narrow_ones_stay`)."""
  chosen = {arg: dtype for arg in entry.moment_dtypes}
  opt = entry.make(0.01, **chosen)
  state = opt.init(PARAMS)
  fields = {f for names in entry.moment_dtypes.values() for f in names}
  found = _field_dtypes(state, fields)
  assert {f for f, _ in found} >= fields, found  # every named field is there
  for field, leaf_dtype in found:
    assert leaf_dtype == (dtype if field in fields else jnp.float32), (field, leaf_dtype)


@pytest.mark.parametrize("entry", WITH_DTYPES, ids=repr)
def test_each_dtype_argument_sets_only_its_fields(entry):
  for arg, fields in entry.moment_dtypes.items():
    found = _field_dtypes(entry.make(0.01, **{arg: jnp.bfloat16}).init(PARAMS), fields)
    narrow = {f for f, d in found if d == jnp.bfloat16}
    assert narrow == set(fields), (arg, narrow)


def _narrow(entry):
  return {arg: jnp.bfloat16 for arg in entry.moment_dtypes}


@pytest.mark.parametrize("entry", WITH_DTYPES, ids=repr)
def test_dtype_arguments_at_the_defaults_change_nothing_and_narrow_ones_stay(entry):
  """Every dtype argument set to the dtype its fields have by default traces to the defaults'
  program (the same numbers bit for bit: the arguments add no cast of their own); set to
  bfloat16, a step returns a state of the same structure and dtypes (traced only)."""
  fields = [f for names in entry.moment_dtypes.values() for f in names]
  found = dict(_field_dtypes(entry.make(0.01).init(PARAMS), fields))
  wide = {arg: found[fields[0]] for arg, fields in entry.moment_dtypes.items()}
  programs = [
    str(jax.make_jaxpr(_step(opt))(PARAMS, opt.init(PARAMS)))
    for opt in (entry.make(0.01), entry.make(0.01, **wide))
  ]
  assert programs[0] == programs[1]
  opt = entry.make(0.01, **_narrow(entry))
  state = opt.init(PARAMS)
  _, after = jax.eval_shape(_step(opt), PARAMS, state)
  chex.assert_trees_all_equal_shapes_and_dtypes(after, state)


# The numbers with bfloat16 moments: one compiled run per entry (about 1.4 s each), so on
# one entry of each way a moment is read (upcast where used alone, inside the Adam step,
# factored, in a rotated basis, orthogonalised, averaged iterates, a Hessian estimate).
NUMERIC = {
  "adam", "rmsprop_centered_momentum", "adadelta", "yogi", "adopt", "lion", "adafactor",
  "novograd", "muon", "normuon", "shampoo", "soap", "kl_soap", "schedule_free_adamw",
  "sophia", "dadapt_adamw",
}  # fmt: skip


@pytest.mark.parametrize("entry", [e for e in WITH_DTYPES if e.name in NUMERIC], ids=repr)
def test_narrow_moments_step_close_to_wide_ones(entry):
  """Set to bfloat16, three steps (one compiled scan for both, whose carry keeps its dtypes)
  stay finite and near the defaults': within ``narrow_moments_tol`` (5%) of how far the
  params moved, plus bfloat16's rounding of a param-sized value (Schedule-Free keeps its
  iterate z in that dtype)."""

  @jax.jit
  def run(params):
    def final(opt):
      body = lambda carry, _: (_step(opt)(*carry), None)  # noqa: E731
      return jax.lax.scan(body, (params, opt.init(params)), length=3)[0][0]

    return final(entry.make(0.01)), final(entry.make(0.01, **_narrow(entry)))

  default, got = run(PARAMS)
  for x, want, start in zip(*map(jax.tree.leaves, (got, default, PARAMS))):
    assert bool(jnp.all(jnp.isfinite(x))), entry.name
    moved, size = (float(jnp.max(jnp.abs(y))) for y in (want - start, start))
    tol = entry.narrow_moments_tol * moved + float(jnp.finfo(jnp.bfloat16).eps) * size
    np.testing.assert_allclose(x, want, rtol=0, atol=tol, err_msg=entry.name)


def test_every_numeric_sample_is_a_registry_entry_with_dtypes():
  assert not NUMERIC - {e.name for e in WITH_DTYPES}
