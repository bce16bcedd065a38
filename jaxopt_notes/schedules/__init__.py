"""Schedules (functions of the int32 step count, from 0), joins, injected hyperparameters.

Every numeric argument of every schedule may be a traced array, step counts
included, so a schedule works under ``jit``, ``vmap`` and ``grad``. Concrete
bad values raise ``ValueError`` naming the argument when the schedule is built.
"""
