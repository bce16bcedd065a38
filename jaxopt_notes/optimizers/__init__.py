"""Optimizer families: one module each, holding its maths, state, ``scale_by_x`` and aliases.

Each optimizer's docstring describes every argument. The texts of arguments many share
(``learning_rate``, ``b1``, ``eps``, ``eps_root``, ``mu_dtype``, ``weight_decay``, ``mask``,
...) are written once, in ``jaxopt_notes/_docargs.py``, and filled in by its decorator
``shared_args``. Where optax's constant sits inside the root (``adagrad``, ``rmsprop``,
``adadelta``) its default is carried by ``eps_root``, so default settings give optax's
numbers.

Every hyperparameter may be a traced array (``jit``, ``vmap``, ``grad``).
Concrete values are validated when the optimizer is built. Every step counter
is an int32 that saturates instead of wrapping, and updates keep each param's
dtype.
"""
