"""Optimizer state in 8 or 4 bits: blockwise quantized moments.

Each large param-shaped float leaf of an optimizer's state is cut into blocks of
``block_size`` consecutive elements along its last axis. A block keeps one scale,
$s = \\max_i |x_i|$ over its finite elements, and one code per element: the
index of the level nearest (by value) to $x_i / s$ in a logarithmic map

$$
\\pm 2^{-k / p},\\quad k = 0, \\dots, L - 1,\\qquad \\text{plus } 0
\\text{ and one code for a non-finite value.}
$$

A block holding a negative value uses the signed map ($L$ magnitudes per sign), a
block of non-negative values the unsigned map ($2L$ magnitudes, finer): the first
moment of Adam gets the first, its second moment the second. With 8 bits,
$p = 8$ levels per factor of two (127 signed, 254 unsigned magnitudes, down to
$2^{-15.75}$ and $2^{-31.6}$ of the block's largest); with 4 bits, 7 signed
magnitudes at $p = 2$ (down to $2^{-3}$) and 14 unsigned ones at $p = 1$ (down to
$2^{-13}$). Rounding to the nearest level errs by at most
$(2^{1/p} - 1) / (2^{1/p} + 1)$ of the value (4.3% with 8 bits; 17% and 33% with 4)
down to the smallest level. A linear map would
send the small second moments of a block to zero, and their steps
$m / (\\sqrt{v} + \\epsilon)$ to $m / \\epsilon$; here a positive value below the
smallest level is raised to it (its step shrinks instead) in the unsigned map,
and rounded to the nearer of 0 and the smallest level in the signed one.

A NaN or an infinity decodes as NaN at its own position: it is neither hidden
nor spread, and the block's other elements are scaled by their finite maximum.

The design follows the blockwise dynamic quantization of Dettmers et al., 2022,
"8-bit Optimizers via Block-wise Quantization", and the 4-bit states of Li, Chen
& Zhu, 2023, "Memory Efficient Optimizers with 4-bit States"; its map is our own.
"""

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_notes import _validate
from jaxopt_notes._base import (
  GradientTransformation,
  GradientTransformationExtraArgs,
  with_extra_args_support,
)


class QuantizedArray(NamedTuple):
  """A float array stored blockwise in 8 or 4 bits (see `quantize_blockwise`).

  Attributes:
    codes: uint8 codes, shaped ``(..., blocks, block_size)``; two codes a byte with 4 bits.
    scale: each block's largest finite ``|x|``, shaped ``(..., blocks)``, in the array's dtype.
    signed: bool ``(..., blocks)``: whether the block holds a negative value (and so uses
      the signed map).
  """

  codes: jax.Array  # uint8, (..., blocks, block_size), two codes a byte with 4 bits
  scale: jax.Array  # (..., blocks) in the array's dtype: each block's largest finite |x|
  signed: jax.Array  # bool (..., blocks): the block holds a negative value (signed map)


class LowBitState(NamedTuple):
  """State of `low_bit_state`.

  Attributes:
    inner_state: the wrapped optimizer's state, its large param-shaped float leaves stored as
      `QuantizedArray`.
  """

  inner_state: Any


def _levels(bits: int, signed: bool) -> tuple[int, int]:
  """(magnitudes per sign, levels per factor of two) of a map."""
  per_octave = 8 if bits == 8 else (2 if signed else 1)
  magnitudes = 2 ** (bits - 1) - 1 if signed else 2**bits - 2
  return magnitudes, per_octave


def _table(bits: int, signed: bool) -> np.ndarray:
  """The value of every code, as a fraction of the block's scale."""
  magnitudes, per_octave = _levels(bits, signed)
  levels = 2.0 ** (-np.arange(magnitudes) / per_octave)
  parts = [[0.0], levels, [np.nan]] + ([-levels] if signed else [])
  return np.concatenate(parts)


def _index(depth: jax.Array, bits: int, signed: bool) -> jax.Array:
  """Index of the nearest level (by value) to ``|x| = scale * 2**-depth``, clipped to the
  map: rounding ``depth * p`` up past ``c`` instead of 1/2, where the level halfway in
  value sits, rounds to the nearer level by value with one logarithm and no division."""
  magnitudes, per_octave = _levels(bits, signed)
  shift = 1 + per_octave * math.log2((1 + 2.0 ** (-1 / per_octave)) / 2)
  return jnp.minimum(jnp.floor(depth * per_octave + shift), magnitudes - 1).astype(jnp.int32)


def _blocked(shape: tuple[int, ...], block_size: int) -> tuple[tuple[int, ...], int]:
  """(leading axes, elements per row): trailing axes merge into rows until a row is
  a whole number of blocks, or all of them are merged (the last block is then padded)."""
  size, lead = 1, len(shape)
  while lead > 0 and (size % block_size or size == 1):
    lead -= 1
    size *= shape[lead]
  return tuple(shape[:lead]), size


def _check(bits: int, block_size: int | None) -> int:
  if bits not in (4, 8):
    raise ValueError(f"low_bit_state: bits must be 4 or 8, got {bits!r}")
  block_size = (256 if bits == 8 else 128) if block_size is None else block_size
  if not isinstance(block_size, int) or block_size < 1 or block_size % (16 // bits):
    raise ValueError(
      f"low_bit_state: block_size must be a positive integer"
      f"{' (even with 4 bits)' if bits == 4 else ''}, got {block_size!r}"
    )
  return block_size


@functools.partial(jax.jit, static_argnames=("bits", "block_size"))
def quantize_blockwise(
  x: jax.Array, bits: int = 8, block_size: int | None = None
) -> QuantizedArray:
  """Quantizes a real float array blockwise to 8 or 4 bits (module docstring).

  Args:
    x: a real float array. The blocks run along its last axis when its length is a
      multiple of ``block_size`` (then no block straddles the shards of a sharded
      last axis whose per-device length is one too); otherwise trailing axes are
      merged until they are, or the whole array is one row, its last block padded
      with zeros.
    bits: 8 or 4 bits a code.
    block_size: elements a block (one scale each); None: 256 with 8 bits, 128 with
      4 (an even number with 4 bits, whose codes are packed two a byte).

  Returns:
    A `QuantizedArray`; `dequantize_blockwise` with ``x``'s shape and the same
    ``bits`` gives ``x`` back within the bound of the module docstring.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> x = jnp.array([1.0, -0.5, 1e-3, 0.0])
    >>> q = jon.quantize_blockwise(x, bits=8, block_size=4)
    >>> [round(float(v), 4) for v in jon.dequantize_blockwise(q, x.shape, bits=8)]
    [1.0, -0.5, 0.001, 0.0]
  """
  block_size = _check(bits, block_size)
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise ValueError(f"quantize_blockwise: x must be a real float array, got {x.dtype}")
  lead, row = _blocked(x.shape, block_size)
  x = x.reshape(*lead, row)
  pad = -row % block_size
  if pad:
    x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)])
  x = x.reshape(*x.shape[:-1], x.shape[-1] // block_size, block_size)
  finite = jnp.isfinite(x)
  magnitude = jnp.where(finite, jnp.abs(x), 0)
  scale = jnp.max(magnitude, axis=-1)
  signed = jnp.any(finite & (x < 0), axis=-1)
  # log2(scale / |x|) as a difference of logarithms: no division, which would flush to
  # zero (1 / scale subnormal) for a scale near the dtype's largest value
  wide = jnp.promote_types(x.dtype, jnp.float32)
  depth = jnp.log2(scale.astype(wide))[..., None] - jnp.log2(magnitude.astype(wide))
  positive, negative = finite & (x > 0), finite & (x < 0)
  s_magnitudes, s_octave = _levels(bits, True)
  k = _index(depth, bits, True)
  s_code = jnp.where(positive, 1 + k, jnp.where(negative, s_magnitudes + 2 + k, 0))
  # below half the smallest level of the signed map: zero
  s_code = jnp.where(depth > (s_magnitudes - 1) / s_octave + 1, 0, s_code)
  u_code = jnp.where(positive, 1 + _index(depth, bits, False), 0)
  codes = jnp.where(signed[..., None], s_code, u_code)
  codes = jnp.where(
    finite, codes, jnp.where(signed[..., None], s_magnitudes + 1, 2**bits - 1)
  ).astype(jnp.uint8)
  if bits == 4:
    codes = codes[..., 0::2] | (codes[..., 1::2] << 4)
  return QuantizedArray(codes=codes, scale=scale, signed=signed)


@functools.partial(jax.jit, static_argnames=("shape", "bits"))
def dequantize_blockwise(q: QuantizedArray, shape: tuple[int, ...], bits: int = 8) -> jax.Array:
  """The array a `QuantizedArray` stands for, in the dtype of its scale.

  Args:
    q: the output of `quantize_blockwise`.
    shape: the shape of the quantized array.
    bits: the ``bits`` it was quantized with (8 or 4).

  Returns:
    An array of ``shape``: each code's level times its block's scale; NaN where
    the quantized value was not finite.
  """
  _check(bits, None)
  codes = q.codes
  if bits == 4:
    codes = jnp.stack([codes & 15, codes >> 4], axis=-1).reshape(*codes.shape[:-1], -1)
  dtype = q.scale.dtype
  wide = jnp.promote_types(dtype, jnp.float32)  # one rounding to a narrow dtype, at the end
  index = codes.astype(jnp.int32) + jnp.where(q.signed, 0, 2**bits)[..., None]
  table = jnp.asarray(np.concatenate([_table(bits, True), _table(bits, False)]), wide)
  x = (table[index] * q.scale.astype(wide)[..., None]).astype(dtype)
  lead, row = _blocked(tuple(shape), x.shape[-1])
  return x.reshape(*lead, -1)[..., :row].reshape(shape)


def low_bit_state(
  inner: GradientTransformation, bits: int = 8, block_size: int | None = None, min_size: int = 4096
) -> GradientTransformationExtraArgs:
  """Keeps ``inner``'s moments in 8 or 4 bits (module docstring).

  The state leaves of ``inner`` shaped like a param, of a real float dtype and of at
  least ``min_size`` elements are stored as a `QuantizedArray`; ``update``
  dequantizes them (to their own dtype), runs ``inner.update`` and quantizes the
  new values. Step counters, small leaves (biases, norms) and state not shaped
  like a param (Adafactor's factors, Kronecker factors) stay as they are.
  A state of N quantized elements takes N bytes with 8 bits (N / 2 with 4) plus
  5 bytes a block: Adam's two moments cost 2.04 (1.08) bytes a param instead of 8.

  Blocks run along the last axis: when that axis is sharded, choose
  ``block_size`` dividing its length per device so that no block straddles
  devices; the codes and scales are then sharded like the param.

  Args:
    inner: the optimizer whose state to compress.
    bits: 8 or 4 bits a stored element.
    block_size: elements sharing one scale; None: 256 with 8 bits, 128 with 4 (an
      even number with 4 bits).
    min_size: leaves of fewer elements stay at full precision.

  Returns:
    A transform with ``inner``'s updates (up to the quantization of its state),
    whose state is a `LowBitState`.

  Examples:
    >>> import jax.numpy as jnp, jaxopt_notes as jon
    >>> opt = jon.low_bit_state(jon.adam(0.1), bits=8, min_size=4)
    >>> state = opt.init(jnp.zeros(8))
    >>> state.inner_state[0].mu.codes.dtype, state.inner_state[0].mu.codes.shape
    (dtype('uint8'), (1, 256))
    >>> updates, state = opt.update(jnp.arange(1.0, 9.0), state)
    >>> [round(float(u), 3) for u in updates[:3]]
    [-0.1, -0.1, -0.1]

  References: Dettmers, Lewis, Shleifer & Zettlemoyer, 2022, "8-bit Optimizers via
  Block-wise Quantization"; Li, Chen & Zhu, 2023, "Memory Efficient Optimizers with
  4-bit States".
  """
  block_size = _check(bits, block_size)
  _validate.check("low_bit_state", min_size=(min_size, _validate.NONNEGATIVE))
  inner = with_extra_args_support(inner)

  def compress(state, params):
    shapes = {jnp.shape(p) for p in jax.tree.leaves(params)}

    def one(x):
      if (
        hasattr(x, "dtype")
        and jnp.issubdtype(x.dtype, jnp.floating)
        and jnp.shape(x) in shapes
        and math.prod(jnp.shape(x)) >= min_size
      ):
        return quantize_blockwise(x, bits, block_size)
      return x

    return jax.tree.map(one, state)

  def init_fn(params):
    return LowBitState(inner_state=compress(inner.init(params), params))

  def update_fn(updates, state, params=None, **extra_args):
    template = jax.eval_shape(inner.init, updates)
    inner_state = jax.tree.map(
      lambda t, s: dequantize_blockwise(s, t.shape, bits) if isinstance(s, QuantizedArray) else s,
      template,
      state.inner_state,
    )
    updates, inner_state = inner.update(updates, inner_state, params, **extra_args)
    inner_state = jax.tree.map(
      lambda new, old: (
        quantize_blockwise(new, bits, block_size) if isinstance(old, QuantizedArray) else new
      ),
      inner_state,
      state.inner_state,
    )
    return updates, LowBitState(inner_state=inner_state)

  return GradientTransformationExtraArgs(init_fn, update_fn)
