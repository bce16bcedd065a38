"""Losses: equal to optax.losses (values and gradients), to numpy references, dtypes kept.

One table, `CASES`, drives the comparisons: each row names a loss and builds its
inputs (float64 for the comparisons, float32 for the dtype check). The first
argument is the one differentiated.
"""

import inspect
import itertools
import warnings
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.scipy.special import logsumexp

import jaxopt_notes as jon
from jaxopt_notes import losses

RTOL = 1e-12


class Case(NamedTuple):
  name: str  # the loss under test, in both libraries
  tag: str  # what this row exercises
  make: Callable[..., tuple]  # (rng, float dtype) -> (args, kwargs)
  grad: bool = True  # compare jax.grad w.r.t. args[0] too
  factory: Callable | None = None  # lib -> loss, for losses built by a factory
  deprecated: bool = False  # both libraries warn
  rtol: float = RTOL
  eager: bool = False  # optax reads values here, so it cannot run under jit


# ------------------------------------------------------------------ input builders


def _normal(rng, dtype, *shape, scale=1.0):
  return jnp.asarray(rng.normal(size=shape) * scale, dtype)


def _probs(rng, dtype, *shape, axis=-1):
  x = rng.gamma(1.0, size=shape)
  return jnp.asarray(x / x.sum(axis=axis, keepdims=True), dtype)


def _one_hot(rng, dtype, *shape):
  return jnp.asarray(jax.nn.one_hot(rng.integers(0, shape[-1], shape[:-1]), shape[-1]), dtype)


def _ints(rng, high, *shape):
  return jnp.asarray(rng.integers(0, high, shape), jnp.int32)


def _mask(rng, *shape):
  m = rng.random(shape) < 0.7
  m[..., 0] = True
  return jnp.asarray(m)


def _signs(rng, dtype, *shape):
  return jnp.asarray(rng.choice([-1.0, 1.0], shape), dtype)


def _with_zeros(rng, dtype, *shape):
  """Probabilities over the last axis with an exact zero in every row."""
  p = np.array(_probs(rng, np.float64, *shape))
  p[..., 1] = 0.0
  return jnp.asarray(p / p.sum(-1, keepdims=True), dtype)


def _masked_logits(rng, dtype, *shape):
  x = rng.normal(size=shape)
  x[..., -1] = -np.inf
  return jnp.asarray(x, dtype)


def _zero_last(p):
  """Labels with one more class, of probability 0 (for a logit of -inf)."""
  return jnp.concatenate([p, jnp.zeros_like(p[..., :1])], axis=-1)


def _ctc_inputs(rng, dtype, blank_id=0):
  logits = _normal(rng, dtype, 2, 6, 4)
  logit_paddings = jnp.asarray([[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1]], dtype)
  labels = jnp.asarray([[1, 1, 2], [3, 2, 0]], jnp.int32)  # a repeat; a padded label
  if blank_id:
    labels = jnp.where(labels == blank_id, 0, labels)
  label_paddings = jnp.asarray([[0, 0, 0], [0, 0, 1]], dtype)
  return (logits, logit_paddings, labels, label_paddings), {"blank_id": blank_id}


def _segmentation(rng, dtype, classes=3):
  logits = _normal(rng, dtype, 2, 4, 4, classes)
  return logits, _one_hot(rng, dtype, 2, 4, 4, classes)


# ------------------------------------------------------------------ the table

CASES = [
  # cross-entropies
  Case(
    "softmax_cross_entropy",
    "basic",
    lambda r, d: ((_normal(r, d, 3, 5, scale=3), _probs(r, d, 3, 5)), {}),
  ),
  Case(
    "softmax_cross_entropy",
    "axis0",
    lambda r, d: ((_normal(r, d, 5, 3), _probs(r, d, 5, 3, axis=0)), {"axis": 0}),
  ),
  Case(
    "softmax_cross_entropy",
    "axis_tuple",
    lambda r, d: (
      (_normal(r, d, 2, 3, 4), _one_hot(r, d, 2, 12).reshape(2, 3, 4)),
      {"axis": (1, 2)},
    ),
  ),
  Case(
    "softmax_cross_entropy",
    "where",
    lambda r, d: ((_normal(r, d, 3, 5), _one_hot(r, d, 3, 5)), {"where": _mask(r, 3, 5)}),
  ),
  Case(
    "softmax_cross_entropy",
    "where_per_example",
    lambda r, d: (
      (_normal(r, d, 4, 5), _probs(r, d, 4, 5)),
      {"where": jnp.asarray([True, False, True, True])},
    ),
  ),
  Case(
    "softmax_cross_entropy",
    "minus_inf_logits",  # NaN in both (0 * -inf)
    lambda r, d: ((_masked_logits(r, d, 3, 4), _zero_last(_one_hot(r, d, 3, 3))), {}),
    grad=False,
  ),
  Case(
    "softmax_cross_entropy_with_integer_labels",
    "basic",
    lambda r, d: ((_normal(r, d, 4, 5, scale=3), _ints(r, 5, 4)), {}),
  ),
  Case(
    "softmax_cross_entropy_with_integer_labels",
    "axis0",
    lambda r, d: ((_normal(r, d, 5, 3), _ints(r, 5, 3)), {"axis": 0}),
  ),
  Case(
    "softmax_cross_entropy_with_integer_labels",
    "axis_tuple",
    lambda r, d: ((_normal(r, d, 2, 3, 4, 2), _ints(r, 4, 3, 4)), {"axis": (3, 0)}),
  ),
  Case(
    "softmax_cross_entropy_with_integer_labels",
    "where",
    lambda r, d: (
      (_normal(r, d, 3, 5), jnp.asarray([0, 2, 4], jnp.int32)),
      {"where": _mask(r, 3, 5)},
    ),
  ),
  Case(
    "softmax_cross_entropy_with_integer_labels",
    "where_per_example",
    lambda r, d: (
      (_normal(r, d, 3, 5), _ints(r, 5, 3)),
      {"where": jnp.asarray([True, False, True])},
    ),
  ),
  Case(
    "softmax_cross_entropy_with_integer_labels",
    "labels_out_of_range",  # wrap or NaN
    lambda r, d: ((_normal(r, d, 4, 5), jnp.asarray([5, -1, -5, -6], jnp.int32)), {}),
    grad=False,
  ),
  Case(
    "softmax_cross_entropy_with_integer_labels",
    "minus_inf_logit",
    lambda r, d: ((_masked_logits(r, d, 3, 4), _ints(r, 3, 3)), {}),
  ),
  Case(
    "safe_softmax_cross_entropy",
    "basic",
    lambda r, d: ((_normal(r, d, 3, 5), _probs(r, d, 3, 5)), {}),
  ),
  Case(
    "safe_softmax_cross_entropy",
    "minus_inf_logits",
    lambda r, d: ((_masked_logits(r, d, 3, 4), _zero_last(_probs(r, d, 3, 3))), {}),
  ),
  Case(
    "poly_loss_cross_entropy", "basic", lambda r, d: ((_normal(r, d, 3, 5), _probs(r, d, 3, 5)), {})
  ),
  Case(
    "poly_loss_cross_entropy",
    "axis0_epsilon",
    lambda r, d: ((_normal(r, d, 5, 3), _probs(r, d, 5, 3, axis=0)), {"epsilon": -1.0, "axis": 0}),
  ),
  Case(
    "poly_loss_cross_entropy",
    "where",
    lambda r, d: ((_normal(r, d, 3, 5), _one_hot(r, d, 3, 5)), {"where": _mask(r, 3, 5)}),
  ),
  Case(
    "sigmoid_binary_cross_entropy",
    "soft_labels",
    lambda r, d: ((_normal(r, d, 3, 4, scale=4), jnp.asarray(r.random((3, 4)), d)), {}),
  ),
  Case(
    "sigmoid_binary_cross_entropy",
    "int_labels_large_logits",
    lambda r, d: ((_normal(r, d, 6, scale=40), _ints(r, 2, 6)), {}),
  ),
  Case(
    "sigmoid_focal_loss",
    "alpha",
    lambda r, d: ((_normal(r, d, 3, 4, scale=3), _ints(r, 2, 3, 4).astype(d)), {"alpha": 0.25}),
  ),
  Case(
    "sigmoid_focal_loss",
    "soft_labels_gamma",
    lambda r, d: ((_normal(r, d, 3, 4, scale=3), jnp.asarray(r.random((3, 4)), d)), {"gamma": 0.5}),
  ),
  Case("smooth_labels", "basic", lambda r, d: ((_one_hot(r, d, 3, 5), 0.1), {})),
  Case(
    "smooth_labels",
    "axis0_where",
    lambda r, d: ((_one_hot(r, d, 3, 5), 0.2), {"axis": 0, "where": _mask(r, 3, 5)}),
  ),
  # margins and sparsemax
  Case("hinge_loss", "basic", lambda r, d: ((_normal(r, d, 3, 4), _signs(r, d, 3, 4)), {})),
  Case("perceptron_loss", "basic", lambda r, d: ((_normal(r, d, 3, 4), _signs(r, d, 3, 4)), {})),
  Case("multiclass_hinge_loss", "basic", lambda r, d: ((_normal(r, d, 4, 5), _ints(r, 5, 4)), {})),
  Case(
    "multiclass_hinge_loss",
    "labels_out_of_range",  # an all-zero one-hot
    lambda r, d: ((_normal(r, d, 3, 5), jnp.asarray([5, -1, 2], jnp.int32)), {}),
  ),
  Case(
    "multiclass_perceptron_loss", "basic", lambda r, d: ((_normal(r, d, 4, 5), _ints(r, 5, 4)), {})
  ),
  Case(
    "sparsemax_loss",
    "basic",
    lambda r, d: ((_normal(r, d, 3, 4, scale=1.5), _ints(r, 2, 3, 4)), {}),
  ),
  Case(
    "multiclass_sparsemax_loss", "basic", lambda r, d: ((_normal(r, d, 4, 5), _ints(r, 5, 4)), {})
  ),
  Case(
    "make_fenchel_young_loss",
    "logsumexp",
    lambda r, d: ((_normal(r, d, 3, 4), _probs(r, d, 3, 4)), {}),
    factory=lambda lib: lib.make_fenchel_young_loss(logsumexp),
  ),
  # divergences
  Case(
    "kl_divergence", "basic", lambda r, d: ((jnp.log(_probs(r, d, 3, 4)), _probs(r, d, 3, 4)), {})
  ),
  Case(
    "kl_divergence",
    "zero_targets_axis0_where",
    lambda r, d: (
      (jnp.log(_probs(r, d, 4, 3, axis=0)), _with_zeros(r, d, 3, 4).T),
      {"axis": 0, "where": _mask(r, 3, 4).T},
    ),
  ),
  Case(
    "kl_divergence_with_log_targets",
    "basic",
    lambda r, d: ((jnp.log(_probs(r, d, 3, 4)), jnp.log(_probs(r, d, 3, 4))), {}),
  ),
  Case(
    "kl_divergence_with_log_targets",
    "where",
    lambda r, d: (
      (jnp.log(_probs(r, d, 3, 4)), jnp.log(_probs(r, d, 3, 4))),
      {"where": _mask(r, 3, 4)},
    ),
  ),
  Case(
    "generalized_kl_divergence",
    "unnormalized",
    lambda r, d: ((_normal(r, d, 3, 4), jnp.asarray(r.gamma(1.0, size=(3, 4)), d)), {}),
  ),
  Case(
    "generalized_kl_divergence",
    "axis_tuple",
    lambda r, d: (
      (_normal(r, d, 2, 3, 4), jnp.asarray(r.gamma(1.0, size=(2, 3, 4)), d)),
      {"axis": (0, 2)},
    ),
  ),
  Case(
    "convex_kl_divergence",
    "unnormalized",
    lambda r, d: ((_normal(r, d, 3, 4), jnp.asarray(r.gamma(1.0, size=(3, 4)), d)), {}),
    deprecated=True,
  ),
  # regression
  Case("squared_error", "targets", lambda r, d: ((_normal(r, d, 3, 4), _normal(r, d, 3, 4)), {})),
  Case("squared_error", "no_targets", lambda r, d: ((_normal(r, d, 5),), {})),
  Case("l2_loss", "targets", lambda r, d: ((_normal(r, d, 3, 4), _normal(r, d, 3, 4)), {})),
  Case("l2_loss", "no_targets", lambda r, d: ((_normal(r, d, 5),), {})),
  Case(
    "huber_loss", "targets", lambda r, d: ((_normal(r, d, 4, 5, scale=2), _normal(r, d, 4, 5)), {})
  ),
  Case("huber_loss", "delta", lambda r, d: ((_normal(r, d, 8, scale=2),), {"delta": 0.5})),
  Case(
    "log_cosh", "targets", lambda r, d: ((_normal(r, d, 4, 5, scale=3), _normal(r, d, 4, 5)), {})
  ),
  Case("log_cosh", "large_errors", lambda r, d: ((_normal(r, d, 6, scale=500),), {})),
  Case("cosine_similarity", "basic", lambda r, d: ((_normal(r, d, 3, 4), _normal(r, d, 3, 4)), {})),
  Case(
    "cosine_similarity",
    "epsilon_axis0_where",
    lambda r, d: (
      (_normal(r, d, 4, 3, scale=0.1), _normal(r, d, 4, 3)),
      {"epsilon": 0.05, "axis": 0, "where": _mask(r, 3, 4).T},
    ),
  ),
  Case("cosine_distance", "basic", lambda r, d: ((_normal(r, d, 3, 4), _normal(r, d, 3, 4)), {})),
  Case(
    "cosine_distance",
    "axis_tuple",
    lambda r, d: ((_normal(r, d, 2, 3, 4), _normal(r, d, 2, 3, 4)), {"axis": (1, 2)}),
  ),
  # sequences, rankings, segmentation, embeddings
  Case("ctc_loss", "paddings_repeats", _ctc_inputs),
  Case("ctc_loss", "blank_last", lambda r, d: _ctc_inputs(r, d, blank_id=3)),
  # Unreachable states hold about log_epsilon = -1e5, whose float64 spacing (1.5e-11)
  # shows in the gradient's weights.
  Case("ctc_loss_with_forward_probs", "paddings_repeats", _ctc_inputs, rtol=1e-9),
  Case(
    "ranking_softmax_loss",
    "basic",
    lambda r, d: ((_normal(r, d, 3, 5), jnp.asarray(r.integers(0, 3, (3, 5)), d)), {}),
  ),
  Case(
    "ranking_softmax_loss",
    "where_weights",
    lambda r, d: (
      (_normal(r, d, 3, 5), jnp.asarray(r.integers(0, 3, (3, 5)), d)),
      {"where": _mask(r, 3, 5), "weights": jnp.asarray(r.random((3, 5)), d)},
    ),
  ),
  Case(
    "ranking_softmax_loss",
    "no_reduction_empty_list",
    lambda r, d: (
      (_normal(r, d, 3, 4), jnp.asarray(r.integers(0, 3, (3, 4)), d)),
      {"where": _mask(r, 3, 4).at[1].set(False), "reduce_fn": None},
    ),
  ),
  Case(
    "ranking_softmax_loss",
    "all_lists_empty",
    lambda r, d: (
      (_normal(r, d, 2, 4), jnp.asarray(r.integers(0, 3, (2, 4)), d)),
      {"where": jnp.zeros((2, 4), bool)},
    ),
  ),
  Case(
    "ranking_softmax_loss",
    "sum",
    lambda r, d: (
      (_normal(r, d, 3, 4), jnp.asarray(r.integers(0, 3, (3, 4)), d)),
      {"reduce_fn": jnp.sum},
    ),
  ),
  Case("dice_loss", "basic", lambda r, d: (_segmentation(r, d), {})),
  Case(
    "dice_loss",
    "tversky_weights_sum",
    lambda r, d: (
      _segmentation(r, d),
      {
        "alpha": 0.3,
        "beta": 0.7,
        "reduction": "sum",
        "class_weights": jnp.asarray([0.2, 1.0, 2.0], d),
      },
    ),
  ),
  Case(
    "dice_loss",
    "none_no_background_axis",
    lambda r, d: (
      _segmentation(r, d),
      {"reduction": "none", "ignore_background": True, "axis": (1,), "smooth": 0.5},
    ),
  ),
  Case(
    "dice_loss",
    "binary_no_channel",
    lambda r, d: ((_normal(r, d, 2, 4, 4), _ints(r, 2, 2, 4, 4).astype(d)), {}),
  ),
  Case(
    "dice_loss",
    "probabilities",
    lambda r, d: ((_probs(r, d, 2, 4, 4, 3), _one_hot(r, d, 2, 4, 4, 3)), {"apply_softmax": False}),
    eager=True,
  ),
  Case(
    "multiclass_generalized_dice_loss", "basic", lambda r, d: (_segmentation(r, d, classes=4), {})
  ),
  Case(
    "multiclass_generalized_dice_loss",
    "no_background",
    lambda r, d: (_segmentation(r, d), {"ignore_background": True, "smooth": 0.1}),
  ),
  Case(
    "binary_dice_loss",
    "basic",
    lambda r, d: ((_normal(r, d, 2, 4, 4), _ints(r, 2, 2, 4, 4).astype(d)), {}),
  ),
  Case(
    "binary_dice_loss",
    "channel",
    lambda r, d: ((_normal(r, d, 2, 5, 1), _ints(r, 2, 2, 5, 1).astype(d)), {"smooth": 0.5}),
  ),
  Case(
    "ntxent", "basic", lambda r, d: ((_normal(r, d, 6, 3), jnp.asarray([0, 0, 1, 1, 2, 2])), {})
  ),
  Case(
    "ntxent",
    "temperature_singletons",  # a group with no positive, one with no negative
    lambda r, d: ((_normal(r, d, 4, 3), jnp.asarray([0, 0, 1, 2])), {"temperature": 0.5}),
  ),
  Case(
    "triplet_margin_loss",
    "basic",
    lambda r, d: ((_normal(r, d, 4, 3), _normal(r, d, 4, 3), _normal(r, d, 4, 3)), {}),
  ),
  Case(
    "triplet_margin_loss",
    "axis0_margin",
    lambda r, d: (
      (_normal(r, d, 3, 4), _normal(r, d, 3, 4), _normal(r, d, 3, 4)),
      {"axis": 0, "margin": 2.0, "eps": 1e-3},
    ),
  ),
]

IDS = [f"{c.name}[{c.tag}]" for c in CASES]


def _call(lib, case, args, kwargs):
  fn = case.factory(lib) if case.factory else getattr(lib, case.name)
  with warnings.catch_warnings():
    if case.deprecated:
      warnings.simplefilter("ignore", DeprecationWarning)
    return fn(*args, **kwargs)


def _value_and_grad(lib, case, args, kwargs):
  """The loss, and the gradient of its sum w.r.t. ``args[0]`` (None without ``case.grad``)."""

  def total(*a):
    out = _call(lib, case, a, kwargs)
    return sum(jnp.sum(leaf) for leaf in jax.tree.leaves(out)), out

  if not case.grad:
    return total(*args)[1], None
  (_, out), grad = jax.value_and_grad(total, has_aux=True)(*args)
  return out, grad


def _both(case, args, kwargs):
  """Ours and optax's, compiled together in one program (under ``jit`` every array input is
  traced, so no loss may branch on values)."""

  def both(*a):
    return (
      _value_and_grad(losses, case, a, kwargs),
      _value_and_grad(optax.losses, case, a, kwargs),
    )

  return both(*args) if case.eager else jax.jit(both)(*args)


def _close(ours, theirs, rtol=RTOL):
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2), ours, theirs
  )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_equals_optax(case):
  args, kwargs = case.make(np.random.default_rng(0), jnp.float64)
  ours, theirs = _both(case, args, kwargs)
  _close(ours, theirs, rtol=case.rtol)
  # float32 in, float32 out
  args, kwargs = case.make(np.random.default_rng(0), jnp.float32)
  out = jax.eval_shape(lambda *a: _call(losses, case, a, kwargs), *args)
  assert {leaf.dtype for leaf in jax.tree.leaves(out)} == {jnp.dtype(jnp.float32)}


def test_every_optax_loss_is_here_with_its_signature():
  names = {
    n for n in dir(optax.losses) if not n.startswith("_") and callable(getattr(optax.losses, n))
  }
  assert set(losses.__all__) == names
  assert {c.name for c in CASES} == names
  for name in names:
    ours = inspect.signature(getattr(losses, name)).parameters
    theirs = inspect.signature(getattr(optax.losses, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [
      (p.name, p.kind, p.default) for p in theirs.values()
    ], name


def test_every_loss_documents_every_argument():
  for name in losses.__all__:
    fn = getattr(losses, name)
    doc = inspect.getdoc(fn)
    summary = doc.splitlines()[0]
    assert summary.endswith(".") and "Returns:" in doc, name
    for param in inspect.signature(fn).parameters:
      assert f"\n  {param}: " in doc, (name, param)


def test_optax_top_level_losses_are_at_the_top_level():
  top = {n for n in dir(optax) if n in losses.__all__}
  assert len(top) == 19
  for name in top:
    assert name in jon.__all__ and getattr(jon, name) is getattr(losses, name)
  assert jon.losses is losses


# ------------------------------------------------------------------ numpy references


def _np_log_softmax(x):
  m = x.max(-1, keepdims=True)
  return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def test_softmax_cross_entropy_matches_numpy():
  rng = np.random.default_rng(2)
  x, y = rng.normal(size=(4, 6)) * 5, rng.dirichlet(np.ones(6), 4)
  want = -(y * _np_log_softmax(x)).sum(-1)
  np.testing.assert_allclose(losses.softmax_cross_entropy(x, y), want, rtol=RTOL)
  labels = rng.integers(0, 6, 4)
  want = -_np_log_softmax(x)[np.arange(4), labels]
  np.testing.assert_allclose(
    losses.softmax_cross_entropy_with_integer_labels(x, labels), want, rtol=RTOL
  )


def test_sigmoid_binary_cross_entropy_matches_numpy():
  rng = np.random.default_rng(3)
  x, y = rng.normal(size=20) * 10, rng.random(20)
  log_p, log_not_p = -np.logaddexp(0, -x), -np.logaddexp(0, x)  # log sigma(x), log sigma(-x)
  np.testing.assert_allclose(
    losses.sigmoid_binary_cross_entropy(x, y), -y * log_p - (1 - y) * log_not_p, rtol=RTOL
  )


def test_huber_matches_numpy():
  e = np.linspace(-3, 3, 25)
  for delta in (0.5, 1.0, 2.0):
    want = np.where(np.abs(e) <= delta, 0.5 * e**2, delta * (np.abs(e) - delta / 2))
    np.testing.assert_allclose(losses.huber_loss(e, delta=delta), want, rtol=RTOL)


def _ctc_by_enumeration(log_probs, labels, blank):
  """-log of the summed probability of every path that collapses to ``labels``."""
  frames, classes = log_probs.shape
  total = 0.0
  for path in itertools.product(range(classes), repeat=frames):
    merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
    if [c for c in merged if c != blank] == list(labels):
      total += np.exp(sum(log_probs[t, c] for t, c in enumerate(path)))
  return -np.log(total)


@pytest.mark.parametrize("labels,blank", [([1, 1], 0), ([2, 1, 2], 0), ([0, 1], 2), ([], 0)])
def test_ctc_matches_path_enumeration(labels, blank):
  rng = np.random.default_rng(4)
  frames, classes, width = 5, 3, 3
  logits = rng.normal(size=(1, frames, classes)) * 2
  padded = np.zeros((1, width), np.int32)
  padded[0, : len(labels)] = labels
  label_paddings = (np.arange(width) >= len(labels)).astype(float)[None]
  got = losses.ctc_loss(logits, np.zeros((1, frames)), padded, label_paddings, blank_id=blank)
  want = _ctc_by_enumeration(_np_log_softmax(logits[0]), labels, blank)
  np.testing.assert_allclose(got, [want], rtol=1e-10)


# ------------------------------------------------------------------ where we differ from optax


def test_kl_divergence_takes_0_log_0_as_0():
  # A target of 0 where the prediction is exactly 0 (log -inf) adds nothing; optax gives NaN.
  log_q = jnp.log(jnp.array([0.5, 0.5, 0.0]))
  p = jnp.array([0.25, 0.75, 0.0])
  want = 0.25 * np.log(0.5) + 0.75 * np.log(1.5)
  np.testing.assert_allclose(losses.kl_divergence(log_q, p), want, rtol=RTOL)
  np.testing.assert_allclose(
    losses.kl_divergence_with_log_targets(log_q, jnp.log(p)), want, rtol=RTOL
  )
  assert np.isnan(optax.losses.kl_divergence(log_q, p))
  grad = jax.grad(losses.kl_divergence, argnums=(0, 1))(log_q, p)
  assert all(np.isfinite(g[:2]).all() for g in grad)


@pytest.mark.parametrize("degree", [1, 3])
def test_triplet_distance_is_a_norm_for_odd_degrees(degree):
  # optax omits the absolute value, so odd degrees give a signed sum (NaN for 3).
  rng = np.random.default_rng(5)
  a, p, n = (rng.normal(size=(4, 3)) for _ in range(3))
  dist = lambda x, y: (np.sum(np.abs(x - y) ** degree, -1) + 1e-6) ** (1 / degree)  # noqa: E731
  want = np.maximum(dist(a, p) - dist(a, n) + 1.0, 0)
  np.testing.assert_allclose(
    losses.triplet_margin_loss(a, p, n, norm_degree=degree), want, rtol=RTOL
  )


def test_squared_error_of_complex_numbers_is_the_squared_modulus():
  rng = np.random.default_rng(6)
  z, w = (rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3)) for _ in range(2))
  np.testing.assert_allclose(losses.squared_error(z, w), np.abs(z - w) ** 2, rtol=RTOL)
  np.testing.assert_allclose(losses.l2_loss(z), np.abs(z) ** 2 / 2, rtol=RTOL)
  assert losses.squared_error(jnp.asarray(z, jnp.complex64)).dtype == jnp.float32


# ------------------------------------------------------------------ bad input


def test_bad_input_names_the_argument():
  with pytest.raises(TypeError, match="`logits` must hold floats"):
    losses.softmax_cross_entropy(jnp.arange(3), jnp.ones(3))
  with pytest.raises(TypeError, match="`labels` must hold integers"):
    losses.softmax_cross_entropy_with_integer_labels(jnp.ones((2, 3)), jnp.ones(2))
  with pytest.raises(ValueError, match="`predictions` .*`targets`"):
    losses.squared_error(jnp.ones(3), jnp.ones(4))
  with pytest.raises(ValueError, match="`reduction`='max'"):
    losses.dice_loss(jnp.ones((1, 2, 2)), jnp.ones((1, 2, 2)), reduction="max")
  with pytest.raises(ValueError, match="`predictions` must sum to 1"):
    losses.dice_loss(jnp.ones((1, 2, 2)), jnp.ones((1, 2, 2)), apply_softmax=False)
  with pytest.raises(ValueError, match="`labels` must have 2 dimensions"):
    losses.ctc_loss(jnp.ones((1, 3, 2)), jnp.zeros((1, 3)), jnp.ones(2, int), jnp.zeros(2))
  with pytest.warns(DeprecationWarning, match="generalized_kl_divergence"):
    losses.convex_kl_divergence(jnp.zeros(2), jnp.ones(2))
