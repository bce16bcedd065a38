"""Optimizer families: one module each, holding its maths, state, ``scale_by_x`` and aliases.

Arguments shared by many optimizers are described here once:

``learning_rate``
  A number, a traced array or a schedule ``step -> rate`` (steps count from 0).
``eps``
  Added *outside* the square root: ``g / (sqrt(v) + eps)``.
``eps_root``
  Added *inside* the square root: ``g / sqrt(v + eps_root)``. Together with
  ``eps`` this reproduces either convention found in papers and textbooks
  (Goodfellow et al. add delta outside for AdaGrad; d2l adds it inside). Where
  optax's constant sits inside the root (``adagrad``, ``rmsprop``,
  ``adadelta``) the default is carried by ``eps_root`` so that default
  settings give optax's numbers.
``mu_dtype``, ``accumulator_dtype``
  The dtype in which the first moment (momentum) is stored, e.g.
  ``jnp.bfloat16`` to halve its memory; ``None`` keeps the params' dtype.
``nu_dtype``
  The same for the second moment (keyword-only, after optax's arguments); for
  8 or 4 bits a moment, wrap the optimizer in `low_bit_state`.
``weight_decay``, ``mask``
  Decoupled weight decay ``u += weight_decay * params`` on the leaves selected
  by ``mask`` (a tree of booleans or a callable of the params).

Every hyperparameter may be a traced array (``jit``, ``vmap``, ``grad``).
Concrete values are validated when the optimizer is built. Every step counter
is an int32 that saturates instead of wrapping, and updates keep each param's
dtype.
"""
