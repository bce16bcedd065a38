"""Evaluating a function over a batch one microbatch at a time (as ``optax.microbatching``).

`microbatch` runs any function over slices of its batch arguments in a loop and
combines the results with an `Accumulator` (or an `AccumulationType` by name);
`micro_vmap` is ``jax.vmap`` done that way; `micro_grad` gives per-example
gradients, transformed (clipped, squared, ...) and combined, with per-example
values and metrics. `microbatch` is also at the top level, as in optax.
"""

from jaxopt_notes.microbatching._accumulators import AccumulationType, Accumulator
from jaxopt_notes.microbatching._microbatching import (
  micro_grad,
  micro_vmap,
  microbatch,
  reshape_batch_axis,
)

__all__ = [
  "AccumulationType",
  "Accumulator",
  "micro_grad",
  "micro_vmap",
  "microbatch",
  "reshape_batch_axis",
]
