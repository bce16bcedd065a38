"""Composition: ``chain`` and ``named_chain``."""

from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  with_extra_args_support,
)


def chain(*transforms: GradientTransformation) -> GradientTransformationExtraArgs:
  """Applies ``transforms`` in order; the state is the tuple of their states.

  Keyword extras given to ``update`` (``value=loss``, ...) reach every member
  that accepts extras; members that do not are called without them.

  Args:
    *transforms: the transforms to apply, first to last.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> tx = jon.chain(jon.clip_by_global_norm(1.0), jon.scale(-0.1))
    >>> updates, _ = tx.update({'w': jnp.array([3.0, 4.0])}, tx.init(None))
    >>> [round(float(u), 6) for u in updates['w']]   # norm 5 clipped to 1, then * -0.1
    [-0.06, -0.08]
  """
  members = tuple(with_extra_args_support(t) for t in transforms)

  def init_fn(params):
    return tuple(t.init(params) for t in members)

  def update_fn(updates, state, params=None, **extra_args):
    if len(state) != len(members):
      raise ValueError(
        f"chain: the state holds {len(state)} member states but the "
        f"chain has {len(members)} transforms; build the state with "
        "this chain's init"
      )
    new_state = []
    for t, s in zip(members, state):
      updates, s = t.update(updates, s, params, **extra_args)
      new_state.append(s)
    return updates, tuple(new_state)

  return GradientTransformationExtraArgs(init_fn, update_fn)


def named_chain(*named: tuple[str, GradientTransformation]) -> GradientTransformationExtraArgs:
  """Like `chain`, with the state a dict keyed by each member's name.

  Args:
    *named: ``(name, transform)`` pairs, applied first to last; the names must be unique and key the
      state.
  """
  names = [name for name, _ in named]
  if len(set(names)) != len(names):
    raise ValueError(f"named_chain: names must be unique, got {names}")
  members = {name: with_extra_args_support(t) for name, t in named}

  def init_fn(params):
    return {name: t.init(params) for name, t in members.items()}

  def update_fn(updates, state, params=None, **extra_args):
    new_state = {}
    for name, t in members.items():
      updates, new_state[name] = t.update(updates, state[name], params, **extra_args)
    return updates, new_state

  return GradientTransformationExtraArgs(init_fn, update_fn)
