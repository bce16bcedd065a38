"""The optimizers inside the training loops users run: Flax linen, Flax NNX, Haiku."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np

import jaxopt_notes as jon

X = jnp.linspace(-1.0, 1.0, 32)[:, None]
Y = 3.0 * X - 0.5


def _opt():
  return jon.chain(jon.clip_by_global_norm(10.0), jon.adamw(0.1, weight_decay=1e-4))


def test_flax_linen_train_state():
  import flax.linen as nn
  from flax.training import train_state

  model = nn.Dense(1)
  state = train_state.TrainState.create(
    apply_fn=model.apply, params=model.init(jax.random.key(0), X), tx=_opt()
  )

  @jax.jit
  def step(state):
    loss = lambda p: jnp.mean((state.apply_fn(p, X) - Y) ** 2)  # noqa: E731
    return state.apply_gradients(grads=jax.grad(loss)(state.params)), loss(state.params)

  for _ in range(200):
    state, loss = step(state)
  assert float(loss) < 1e-3
  assert int(state.opt_state[1][0].count) == 200


def test_flax_nnx_optimizer():
  from flax import nnx

  model = nnx.Linear(1, 1, rngs=nnx.Rngs(0))
  optimizer = nnx.Optimizer(model, _opt(), wrt=nnx.Param)

  @nnx.jit
  def step(model, optimizer):
    loss_fn = lambda m: jnp.mean((m(X) - Y) ** 2)  # noqa: E731
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss

  for _ in range(200):
    loss = step(model, optimizer)
  assert float(loss) < 1e-3
  np.testing.assert_allclose(model.kernel[...], [[3.0]], atol=0.05)


def test_haiku_training_loop():
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import haiku as hk

  net = hk.without_apply_rng(hk.transform(lambda x: hk.Linear(1)(x)))
  params = net.init(jax.random.key(0), X)
  opt = _opt()
  state = opt.init(params)

  @jax.jit
  def step(params, state):
    loss, grads = jax.value_and_grad(lambda p: jnp.mean((net.apply(p, X) - Y) ** 2))(params)
    updates, state = opt.update(grads, state, params)
    return jon.apply_updates(params, updates), state, loss

  for _ in range(200):
    params, state, loss = step(params, state)
  assert float(loss) < 1e-3
