"""Optimizer state in 8 or 4 bits: blockwise quantized moments.

Each large param-shaped float leaf of an optimizer's state is cut into blocks of
``block_size`` consecutive elements along its last axis. A block keeps one scale,
$s = \\max_i |x_i|$ over its finite elements, and one code per element for
$|x_i| / s \\in [0, 1]$ in a small floating-point map with $m$ mantissa bits and
$F$ octaves below 1,

$$
2^{e}\\left(1 + \\tfrac{j}{2^m}\\right),\\quad e = -F + 1, \\dots, -1,\\ j < 2^m,
\\qquad \\text{then } 1, \\text{ and the linear steps } j\\, 2^{1 - F - m}
\\text{ below } 2^{1 - F},
$$

plus one code for a non-finite value. A block holding a negative value uses the
signed map (a sign bit and the magnitude), a block of non-negative values the
unsigned map (one bit more of mantissa or range): the first moment of Adam gets the
first, its second moment the second. With 8 bits the signed map has $m = 3$,
$F = 15$ (121 magnitudes, down to $2^{-17}$ of the block's largest) and the unsigned
one $m = 4$, $F = 15$ (241 magnitudes, down to $2^{-18}$); with 4 bits, $m = 1$ and
$F = 3$ (0, 1/8, 1/4, 3/8, 1/2, 3/4, 1) signed, $F = 7$ (down to $2^{-7}$) unsigned. Codes
are the bits of the float32 (float64) ratio with its low mantissa bits dropped: no
logarithm, table or search; they are read back as float16 numbers (`_decode`).
Rounded to nearest, an element errs by at most $2^{-m-1}$ of its value above
$2^{1 - F}$ of the scale, by half a linear step below. A linear map would send
the small second moments of a block to zero, and their steps
$m / (\\sqrt{v} + \\epsilon)$ to $m / \\epsilon$: in the unsigned map a positive value
is never rounded to zero.

Rounding to nearest is biased inside a running average: Adam adds
$(1 - \\beta_2) g^2$ to its second moment each step, about 0.1% of it, far below
half a step of any 8-bit map, so each increment is rounded away and the stored
moment lags the exact one (docs/low_bit.md measures it on a language model).
`low_bit_state` therefore rounds stochastically by default: up with the
probability that makes the expected stored value the exact one, so that
increments add up on average. The draws are the element's index times the golden
ratio (in 32-bit fixed point) plus a hash of the state's update count: reproducible,
with no key to carry.

A NaN or an infinity decodes as NaN at its own position: it is neither hidden
nor spread, and the block's other elements are scaled by their finite maximum.

The design follows the blockwise dynamic quantization of Dettmers et al., 2022,
"8-bit Optimizers via Block-wise Quantization", and the 4-bit states of Li, Chen
& Zhu, 2023, "Memory Efficient Optimizers with 4-bit States"; its maps are our own.
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
    scale: each block's largest finite ``|x|``, shaped ``(..., blocks)``, in the array's dtype
      (`low_bit_state` quantizes narrower leaves as float32).
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
    count: uint32 scalar, the updates so far: it seeds the draws of stochastic rounding.
  """

  inner_state: Any
  count: jax.Array


class _Map(NamedTuple):
  """A map of magnitudes in [0, 1]: a small float relative to the block's scale, with
  ``mantissa`` bits, exponents ``-octaves + 1 ... 0`` and linear steps below ``2**(1 - octaves)``
  (code ``c`` stands for ``c * 2**(1 - octaves - mantissa)`` there, for
  ``2**((c >> mantissa) - octaves) * (1 + (c & (2**mantissa - 1)) / 2**mantissa)`` above;
  the largest code, ``octaves << mantissa``, for 1)."""

  mantissa: int
  octaves: int


# (bits, signed) -> map of the magnitudes; a signed code's top bit is its sign
_MAPS = {
  (8, True): _Map(3, 15),  # 121 magnitudes, 8 steps an octave, down to 2**-17
  (8, False): _Map(4, 15),  # 241 magnitudes, 16 steps an octave, down to 2**-18
  (4, True): _Map(1, 3),  # 7 magnitudes: 0, 1/8, 1/4, 3/8, 1/2, 3/4, 1
  (4, False): _Map(1, 7),  # 15 magnitudes: 0, 2**-7, 2**-6, 1.5 * 2**-6, ..., 1.5 / 2, 1
}


def _nan_code(bits: int) -> int:
  """The code of a non-finite value in either map: all ones, past the largest level (in the
  signed map, the negative of a magnitude past it)."""
  return 2**bits - 1


def _float_layout(dtype) -> tuple[Any, int, int]:
  """(integer dtype of the same width, mantissa bits, exponent bias) of float32 or float64."""
  info = jnp.finfo(dtype)
  return (jnp.int64 if info.bits == 64 else jnp.int32), info.nmant, -info.minexp + 1


def _encode(r: jax.Array, mantissa, octaves, dither: jax.Array | None) -> jax.Array:
  """Magnitude codes (int32) of ratios ``r`` in [0, 1] (float32 or float64) in the map
  ``_Map(mantissa, octaves)`` (ints, or int arrays broadcasting against ``r``): the level
  below or the one above ``r``, the nearer by value, or, given ``dither`` (uniform uint32
  draws shaped like ``r``), the one above with the probability that makes the expected
  level ``r`` (unbiased stochastic rounding)."""
  itype, nmant, bias = _float_layout(r.dtype)
  mantissa, octaves = jnp.asarray(mantissa, itype), jnp.asarray(octaves, itype)
  drop = nmant - mantissa
  if dither is None:
    add = jnp.left_shift(jnp.ones((), itype), drop - 1)
  elif nmant - 32 < 0:  # float32: the top bits of the draw fill the dropped ones
    add = jnp.right_shift(dither, (32 - drop).astype(jnp.uint32)).astype(itype)
  else:
    add = jnp.left_shift(dither.astype(itype), drop - 32)
  # below lo = 2**(1 - octaves) the levels are linear: r + lo has lo's exponent and r / lo
  # as its mantissa, so the codes of both ranges are the bits of a float with its low
  # mantissa bits dropped (carrying into the exponent)
  lo = jax.lax.bitcast_convert_type(jnp.left_shift(bias + 1 - octaves, nmant), r.dtype)
  small = r < lo
  bits = jax.lax.bitcast_convert_type(jnp.where(small, r + lo, r), itype)
  bits = bits - jnp.left_shift(bias - octaves + small.astype(itype), nmant)
  return jnp.right_shift(bits + add, drop).astype(jnp.int32)


def _decode(code: jax.Array, signed: jax.Array, bits: int, dtype) -> jax.Array:
  """The signed ratios in [-1, 1] that codes (uint8, one a stored element) stand for, in
  ``dtype``; ``signed`` says, per element, which map the code is in.

  A map's level ``c`` is exactly the float16 whose bits are ``c`` shifted left by
  ``10 - mantissa``, times ``2**(15 - octaves)``: the linear levels are float16's subnormals,
  the others its normal numbers (the largest level, ``octaves << mantissa``, is the float16
  ``2**(octaves - 15)``, so 1). A code is thus read back with one float16-to-float
  conversion (one instruction where the hardware converts float16) rather than by assembling
  a float from its fields. A non-finite value's code reads back as NaN."""
  s, u = _MAPS[bits, True], _MAPS[bits, False]
  c = code.astype(jnp.uint16)
  half = jnp.where(
    signed,
    ((c & (2 ** (bits - 1) - 1)) << (10 - s.mantissa)) | ((c >> (bits - 1)) << 15),
    c << (10 - u.mantissa),
  )
  ratio = jax.lax.bitcast_convert_type(half, jnp.float16).astype(dtype)
  if s.octaves != 15 or u.octaves != 15:  # 4 bits: fewer octaves than float16's 15
    factor = jnp.where(signed, 2.0 ** (15 - s.octaves), 2.0 ** (15 - u.octaves))
    ratio = ratio * factor.astype(dtype)
  return jnp.where(code == _nan_code(bits), np.nan, ratio)


def _hash(x: jax.Array) -> jax.Array:
  """32 well-mixed bits of each uint32 (the finalizer of MurmurHash3)."""
  x = x ^ (x >> 16)
  x = x * np.uint32(0x85EBCA6B)
  x = x ^ (x >> 13)
  x = x * np.uint32(0xC2B2AE35)
  return x ^ (x >> 16)


def _wide(dtype):
  """The dtype a quantized state leaf of ``dtype`` is kept and computed in: float32 at least."""
  return jnp.promote_types(dtype, jnp.float32)


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


def _scale_and_sign(x: jax.Array, finite: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Each block's largest finite ``|x|`` and whether it holds a negative finite value.

  One variadic reduction takes the max and the min of the finite values: XLA fuses it
  with an elementwise producer of ``x`` (the new moment of an optimizer), where a
  reduction of ``|x|`` and one of ``x`` had each written ``x`` out first, with the
  producer recomputed for each."""
  clean = jnp.where(finite, x, 0)
  top, bottom = jax.lax.reduce(
    (clean, clean),
    (np.array(-np.inf, x.dtype), np.array(np.inf, x.dtype)),
    lambda a, b: (jnp.maximum(a[0], b[0]), jnp.minimum(a[1], b[1])),
    (x.ndim - 1,),
  )
  return jnp.maximum(top, -bottom), bottom < 0


@functools.partial(jax.jit, static_argnames=("bits", "block_size"))
def quantize_blockwise(
  x: jax.Array, bits: int = 8, block_size: int | None = None, seed: jax.Array | None = None
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
    seed: None: round each element to the nearer of its two neighbouring levels;
      an integer (uint32, may be traced): round up with the probability that makes
      the expected level the element, the draws a hash of ``seed`` plus a
      multiple of the element's index (the same seed gives the same codes).

  Returns:
    A `QuantizedArray`; `dequantize_blockwise` with ``x``'s shape and the same
    ``bits`` gives ``x`` back within the bound of the module docstring (twice it,
    one level, when ``stochastic``).

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
  if row % block_size:
    x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, -row % block_size)])
  x = x.reshape(*x.shape[:-1], x.shape[-1] // block_size, block_size)
  finite = jnp.isfinite(x)
  magnitude = jnp.where(finite, jnp.abs(x), 0)
  scale, signed = _scale_and_sign(x, finite)
  wide = _wide(x.dtype)
  # |x| / scale, both brought near 1 by a power of two first: XLA divides by multiplying
  # with the reciprocal, which is flushed to zero for a scale near the largest float
  top = jnp.finfo(wide).maxexp - 2
  shift = jnp.where(
    scale > 2.0**top, 2.0 ** -(top // 2), jnp.where(scale < 2.0**-top, 2.0 ** (top // 2), 1)
  )
  scaled = (jnp.where(scale > 0, scale, 1) * shift).astype(wide)[..., None]
  ratio = (magnitude.astype(wide) * shift.astype(wide)[..., None]) / scaled
  dither = None
  if seed is not None:
    index = jnp.arange(x.size, dtype=jnp.uint32).reshape(x.shape)
    # a Weyl sequence over the elements, offset by a hash of the seed: each element's
    # draw is uniform over seeds, and a block's draws spread evenly; one multiply an element
    dither = index * np.uint32(0x9E3779B9) + _hash(jnp.asarray(seed, jnp.uint32))
  s, u = _MAPS[bits, True], _MAPS[bits, False]
  per_block = lambda a, b: jnp.where(signed, a, b)[..., None]  # noqa: E731
  code = _encode(ratio, per_block(s.mantissa, u.mantissa), per_block(s.octaves, u.octaves), dither)
  # a positive value in an unsigned block is never rounded to zero (its step would blow up)
  code = jnp.where(signed[..., None], code, jnp.maximum(code, ratio > 0))
  code = code | jnp.where(signed[..., None] & (x < 0), 2 ** (bits - 1), 0)
  code = jnp.where(finite, code, _nan_code(bits))
  code = code.astype(jnp.uint8)
  if bits == 4:
    code = code[..., 0::2] | (code[..., 1::2] << 4)
  return QuantizedArray(codes=code, scale=scale, signed=signed)


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
  code = q.codes
  if bits == 4:
    code = jnp.stack([code & 15, code >> 4], axis=-1).reshape(*code.shape[:-1], -1)
  dtype = q.scale.dtype
  wide = _wide(dtype)  # one rounding to a narrow dtype, at the end
  ratio = _decode(code, q.signed[..., None], bits, wide)
  x = (ratio * q.scale.astype(wide)[..., None]).astype(dtype)
  lead, row = _blocked(tuple(shape), x.shape[-1])
  return x.reshape(*lead, -1)[..., :row].reshape(shape)


def low_bit_state(
  inner: GradientTransformation,
  bits: int = 8,
  block_size: int | None = None,
  min_size: int = 4096,
  stochastic: bool = True,
) -> GradientTransformationExtraArgs:
  """Keeps ``inner``'s moments in 8 or 4 bits (module docstring).

  The state leaves of ``inner`` shaped like a param, of a real float dtype and of at
  least ``min_size`` elements are stored as a `QuantizedArray`; ``update``
  dequantizes them (to float32 at least: a bfloat16 moment is updated in float32,
  so that increments below its precision reach the stochastic rounding instead of
  being rounded away first), runs ``inner.update`` and quantizes the new values.
  Step counters, small leaves (biases, norms) and state not shaped like a param
  (Adafactor's factors, Kronecker factors) stay as they are. A state of N quantized
  elements takes N bytes with 8 bits (N / 2 with 4) plus 5 bytes a block (float32
  scales): Adam's two moments cost 2.04 (1.08) bytes a param instead of 8.

  Blocks run along the last axis: when that axis is sharded, choose
  ``block_size`` dividing its length per device so that no block straddles
  devices; the codes and scales are then sharded like the param.

  Args:
    inner: the optimizer whose state to compress.
    bits: 8 or 4 bits a stored element.
    block_size: elements sharing one scale; None: 256 with 8 bits, 128 with 4 (an
      even number with 4 bits).
    min_size: leaves of fewer elements stay at full precision.
    stochastic: round the new state stochastically (unbiased, module docstring);
      False rounds to nearest, which loses the small increments of running
      averages.

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
        return quantize_blockwise(x.astype(_wide(x.dtype)), bits, block_size)
      return x

    return jax.tree.map(one, state)

  def init_fn(params):
    return LowBitState(
      inner_state=compress(inner.init(params), params), count=jnp.zeros([], jnp.uint32)
    )

  def update_fn(updates, state, params=None, **extra_args):
    template = jax.eval_shape(inner.init, updates)
    inner_state = jax.tree.map(
      lambda t, s: dequantize_blockwise(s, t.shape, bits) if isinstance(s, QuantizedArray) else s,
      template,
      state.inner_state,
    )
    updates, inner_state = inner.update(updates, inner_state, params, **extra_args)
    new, treedef = jax.tree.flatten(inner_state)
    old = treedef.flatten_up_to(state.inner_state)
    base = state.count * np.uint32(len(new))
    new = [
      quantize_blockwise(
        x.astype(o.scale.dtype), bits, block_size, seed=base + i if stochastic else None
      )
      if isinstance(o, QuantizedArray)
      else x
      for i, (x, o) in enumerate(zip(new, old))
    ]
    return updates, LowBitState(treedef.unflatten(new), state.count + np.uint32(1))

  return GradientTransformationExtraArgs(init_fn, update_fn)
