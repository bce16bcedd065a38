"""Plain-numpy updates written from each paper's formula, one leaf at a time.

Each reference takes the gradient sequence, the starting param (for methods
that read it; the param then moves by the returned updates) and the losses,
and returns the list of updates. Nothing here imports the library.
"""

import itertools

import numpy as np


def _steps(grads, param, values, step):
  """Drives ``step(t, g, p, f) -> update`` over the sequence (t from 1)."""
  p = np.array(param, dtype=np.float64)
  out = []
  for t, (g, f) in enumerate(zip(grads, values), start=1):
    u = step(t, np.asarray(g, np.float64), p, f)
    out.append(u)
    p = p + u
  return out


def sgd(grads, param, values, lr, momentum=None, nesterov=False):
  v = np.zeros_like(param, dtype=np.float64)

  def step(t, g, p, f):
    nonlocal v
    if momentum is None:
      return -lr * g
    v = momentum * v + g
    return -lr * (g + momentum * v if nesterov else v)

  return _steps(grads, param, values, step)


def noisy_sgd(grads, param, values, lr, eta, gamma, noise):
  """``noise[t-1]`` is the standard normal sample of step t."""
  return _steps(
    grads, param, values, lambda t, g, p, f: -lr * (g + np.sqrt(eta / t**gamma) * noise[t - 1])
  )


def adagrad(grads, param, values, lr, initial_accumulator_value=0.1, eps=0.0, eps_root=1e-7):
  s = np.full_like(param, initial_accumulator_value, dtype=np.float64)

  def step(t, g, p, f):
    nonlocal s
    s = s + g * g
    return -lr * g / (np.sqrt(s + eps_root) + eps)

  return _steps(grads, param, values, step)


def rmsprop(
  grads,
  param,
  values,
  lr,
  decay=0.9,
  eps=0.0,
  eps_root=1e-8,
  initial_scale=0.0,
  centered=False,
  momentum=None,
  nesterov=False,
  bias_correction=False,
):
  nu = np.full_like(param, initial_scale, dtype=np.float64)
  mu = np.zeros_like(nu)
  v = np.zeros_like(nu)

  def step(t, g, p, f):
    nonlocal nu, mu, v
    nu = decay * nu + (1 - decay) * g * g
    mu = decay * mu + (1 - decay) * g
    c = (1 - decay**t) if bias_correction else 1.0
    var = nu / c - (mu / c) ** 2 if centered else nu / c
    u = -lr * g / (np.sqrt(var + eps_root) + eps)
    if momentum is None:
      return u
    v = momentum * v + u
    return u + momentum * v if nesterov else v

  return _steps(grads, param, values, step)


def adadelta(grads, param, values, lr=1.0, rho=0.9, eps=0.0, eps_root=1e-6, weight_decay=0.0):
  eg = np.zeros_like(param, dtype=np.float64)
  ex = np.zeros_like(eg)

  def step(t, g, p, f):
    nonlocal eg, ex
    g = g + weight_decay * p
    eg = rho * eg + (1 - rho) * g * g
    delta = (np.sqrt(ex + eps_root) + eps) / (np.sqrt(eg + eps_root) + eps) * g
    ex = rho * ex + (1 - rho) * delta * delta
    return -lr * delta

  return _steps(grads, param, values, step)


class _Moments:
  """m, v and the bias-corrected m_hat (NAdam's look-ahead when nesterov)."""

  def __init__(self, like, b1, b2, v0=0.0):
    self.m = np.zeros_like(like, dtype=np.float64)
    self.v = np.full_like(like, v0, dtype=np.float64)
    self.b1, self.b2 = b1, b2

  def first(self, t, g, nesterov=False):
    b1 = self.b1
    self.m = b1 * self.m + (1 - b1) * g
    if nesterov:
      return b1 * self.m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
    return self.m / (1 - b1**t)


def adam(
  grads,
  param,
  values,
  lr,
  b1=0.9,
  b2=0.999,
  eps=1e-8,
  eps_root=0.0,
  nesterov=False,
  weight_decay=0.0,
):
  mom = _Moments(param, b1, b2)

  def step(t, g, p, f):
    m_hat = mom.first(t, g, nesterov)
    mom.v = b2 * mom.v + (1 - b2) * g * g
    v_hat = mom.v / (1 - b2**t)
    return -lr * (m_hat / (np.sqrt(v_hat + eps_root) + eps) + weight_decay * p)

  return _steps(grads, param, values, step)


def adam_atan2(grads, param, values, lr, b1=0.9, b2=0.999, a=1.27, b=1.0, weight_decay=0.0):
  """Everett et al. 2024: a atan2(m_hat, b sqrt(v_hat)) in place of m_hat / (sqrt(v_hat) + eps)."""
  mom = _Moments(param, b1, b2)

  def step(t, g, p, f):
    m_hat = mom.first(t, g)
    mom.v = b2 * mom.v + (1 - b2) * g * g
    return -lr * (a * np.arctan2(m_hat, b * np.sqrt(mom.v / (1 - b2**t))) + weight_decay * p)

  return _steps(grads, param, values, step)


def stable_adamw(grads, param, values, lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-4):
  """Wortsman et al. 2023, algorithm 2: AdamW at lr / max(1, RMS(g_t / sqrt(max(v_hat, eps^2))))
  per tensor, the weight decay at the same clipped rate."""
  mom = _Moments(param, b1, b2)

  def step(t, g, p, f):
    m_hat = mom.first(t, g)
    mom.v = b2 * mom.v + (1 - b2) * g * g
    v_hat = mom.v / (1 - b2**t)
    rate = lr / max(1.0, np.sqrt(np.mean(g * g / np.maximum(v_hat, eps**2))))
    return -rate * (m_hat / (np.sqrt(v_hat) + eps) + weight_decay * p)

  return _steps(grads, param, values, step)


def spam(
  grads,
  param,
  values,
  lr,
  b1=0.9,
  b2=0.999,
  eps=1e-6,
  threshold=5000.0,
  reset_interval=500,
  warmup_steps=150,
  clip_delay=20,
  weight_decay=0.0,
):
  """Huang et al. 2025, algorithm 1: m = v = 0 when t mod dT = 0; g clipped to
  sign(g) sqrt(theta v) where g^2 > theta v (v from the step before, not right after the start or
  a reset, nor where v = 0); Adam debiased by the global t; the step times a cosine warmup
  over N steps after each reset; weight decay not warmed."""
  mom = _Moments(param, b1, b2)

  def step(t, g, p, f):
    k = t % reset_interval
    if k == 0:
      mom.m, mom.v = np.zeros_like(mom.m), np.zeros_like(mom.v)
    if t >= clip_delay and k >= clip_delay:
      spike = (mom.v > 0) & (g * g > threshold * mom.v)
      g = np.where(spike, np.sign(g) * np.sqrt(threshold * mom.v), g)
    m_hat = mom.first(t, g)
    mom.v = b2 * mom.v + (1 - b2) * g * g
    warm = 1.0
    if warmup_steps and t >= reset_interval and k < warmup_steps:
      warm = 0.5 * (1 - np.cos(np.pi * k / warmup_steps))
    return -lr * (warm * m_hat / (np.sqrt(mom.v / (1 - b2**t)) + eps) + weight_decay * p)

  return _steps(grads, param, values, step)


def amsgrad(grads, param, values, lr, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
  mom = _Moments(param, b1, b2)
  v_max = np.zeros_like(mom.v)

  def step(t, g, p, f):
    nonlocal v_max
    m_hat = mom.first(t, g)
    mom.v = b2 * mom.v + (1 - b2) * g * g
    v_max = np.maximum(v_max, mom.v / (1 - b2**t))
    return -lr * m_hat / (np.sqrt(v_max + eps_root) + eps)

  return _steps(grads, param, values, step)


def adamax(grads, param, values, lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0):
  mom = _Moments(param, b1, b2)

  def step(t, g, p, f):
    m_hat = mom.first(t, g)
    mom.v = np.maximum(b2 * mom.v, np.abs(g) + eps)
    return -lr * (m_hat / mom.v + weight_decay * p)

  return _steps(grads, param, values, step)


def yogi(
  grads, param, values, lr, b1=0.9, b2=0.999, eps=1e-3, eps_root=0.0, initial_accumulator_value=1e-6
):
  mom = _Moments(param, b1, b2, v0=initial_accumulator_value)

  def step(t, g, p, f):
    m_hat = mom.first(t, g)
    mom.v = mom.v - (1 - b2) * np.sign(mom.v - g * g) * g * g
    return -lr * m_hat / (np.sqrt(mom.v / (1 - b2**t) + eps_root) + eps)

  return _steps(grads, param, values, step)


def adabelief(
  grads, param, values, lr, b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16, nesterov=False
):
  mom = _Moments(param, b1, b2)

  def step(t, g, p, f):
    m_hat = mom.first(t, g, nesterov)
    mom.v = b2 * mom.v + (1 - b2) * (g - mom.m) ** 2 + eps_root
    return -lr * m_hat / (np.sqrt(mom.v / (1 - b2**t)) + eps)

  return _steps(grads, param, values, step)


def radam(grads, param, values, lr, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, threshold=5.0):
  mom = _Moments(param, b1, b2)
  rho_inf = 2 / (1 - b2) - 1

  def step(t, g, p, f):
    m_hat = mom.first(t, g)
    mom.v = b2 * mom.v + (1 - b2) * g * g
    rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
    if rho < threshold:
      return -lr * m_hat
    r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return -lr * r * m_hat / (np.sqrt(mom.v / (1 - b2**t) + eps_root) + eps)

  return _steps(grads, param, values, step)


def lion(grads, param, values, lr, b1=0.9, b2=0.99, weight_decay=1e-3):
  m = np.zeros_like(param, dtype=np.float64)

  def step(t, g, p, f):
    nonlocal m
    u = np.sign(b1 * m + (1 - b1) * g)
    m = b2 * m + (1 - b2) * g
    return -lr * (u + weight_decay * p)

  return _steps(grads, param, values, step)


def _trust(u, p, coefficient=1.0, eps=0.0):
  pn, un = np.linalg.norm(p), np.linalg.norm(u)
  return u if pn == 0 or un == 0 else u * coefficient * pn / (un + eps)


def lamb(grads, param, values, lr, b1=0.9, b2=0.999, eps=1e-6, eps_root=0.0, weight_decay=0.0):
  mom = _Moments(param, b1, b2)

  def step(t, g, p, f):
    m_hat = mom.first(t, g)
    mom.v = b2 * mom.v + (1 - b2) * g * g
    r = m_hat / (np.sqrt(mom.v / (1 - b2**t) + eps_root) + eps) + weight_decay * p
    return -lr * _trust(r, p)

  return _steps(grads, param, values, step)


def lars(
  grads,
  param,
  values,
  lr,
  weight_decay=0.0,
  trust_coefficient=0.001,
  eps=0.0,
  momentum=0.9,
  nesterov=False,
):
  v = np.zeros_like(param, dtype=np.float64)

  def step(t, g, p, f):
    nonlocal v
    u = -lr * _trust(g + weight_decay * p, p, trust_coefficient, eps)
    v = momentum * v + u
    return u + momentum * v if nesterov else v

  return _steps(grads, param, values, step)


def eve(
  grads,
  param,
  values,
  lr=1e-3,
  b1=0.9,
  b2=0.999,
  b3=0.999,
  c=10.0,
  eps=1e-8,
  eps_root=0.0,
  f_star=0.0,
):
  """Hayashi et al.'s final Eve: Adam's step divided by the smoothed loss ratio d~."""
  mom = _Moments(param, b1, b2)
  d, f_prev = 1.0, None

  def step(t, g, p, f):
    nonlocal d, f_prev
    m_hat = mom.first(t, g)
    mom.v = b2 * mom.v + (1 - b2) * g * g
    if t > 1:
      ratio = abs(f - f_prev) / (min(f, f_prev) - f_star)
      d = b3 * d + (1 - b3) * min(max(ratio, 1 / c), c)
    f_prev = f
    return -lr / d * m_hat / (np.sqrt(mom.v / (1 - b2**t) + eps_root) + eps)

  return _steps(grads, param, values, step)


def _rms(x):
  return np.sqrt(np.mean(np.square(x)))


def adafactor(
  grads,
  param,
  values,
  lr,
  min_dim_size_to_factor=128,
  decay_rate=0.8,
  multiply_by_parameter_scale=True,
  clipping_threshold=1.0,
  momentum=None,
  weight_decay_rate=None,
  eps=1e-30,
):
  """Shazeer & Stern (2018), Algorithms 4 and 5, for a vector or a matrix."""
  p0 = np.asarray(param, np.float64)
  factored = p0.ndim == 2 and min(p0.shape) >= min_dim_size_to_factor
  row, col = np.zeros(p0.shape[:1]), np.zeros(p0.shape[1:2])
  v, m = np.zeros_like(p0), np.zeros_like(p0)

  def step(t, g, p, f):
    nonlocal row, col, v, m
    beta = 1 - t ** (-decay_rate)
    sq = g * g + eps
    if factored:  # rows: mean over columns; columns: mean over rows
      row = beta * row + (1 - beta) * sq.mean(axis=1)
      col = beta * col + (1 - beta) * sq.mean(axis=0)
      v_hat = np.outer(row, col) / row.mean()
    else:
      v = beta * v + (1 - beta) * sq
      v_hat = v
    u = g / np.sqrt(v_hat)
    if clipping_threshold is not None:
      u = u / max(1.0, _rms(u) / clipping_threshold)
    u = lr * u
    if multiply_by_parameter_scale:
      u = u * max(1e-3, _rms(p))
    if momentum is not None:
      m = momentum * m + (1 - momentum) * u
      u = m
    if weight_decay_rate is not None:
      u = u + weight_decay_rate * p
    return -u

  return _steps(grads, param, values, step)


def sm3(grads, param, values, lr, momentum=0.9, eps_root=1e-8):
  """Anil et al. (2019), SM3-II with a row and a column cover for matrices."""
  p0 = np.asarray(param, np.float64)
  covers = [np.zeros(n) for n in p0.shape] if p0.ndim == 2 else [np.zeros_like(p0)]
  m = np.zeros_like(p0)

  def step(t, g, p, f):
    nonlocal covers, m
    if p0.ndim == 2:
      nu = np.minimum(covers[0][:, None], covers[1][None, :]) + g * g
      covers = [nu.max(axis=1), nu.max(axis=0)]
    else:
      nu = covers[0] + g * g
      covers = [nu]
    m = momentum * m + (1 - momentum) * g / np.sqrt(nu + eps_root)
    return -lr * m

  return _steps(grads, param, values, step)


def sign_sgd(grads, param, values, lr):
  return _steps(grads, param, values, lambda t, g, p, f: -lr * np.sign(g))


def signum(grads, param, values, lr, beta=0.9):
  m = np.zeros_like(param, dtype=np.float64)

  def step(t, g, p, f):
    nonlocal m
    m = beta * m + (1 - beta) * g
    return -lr * np.sign(m)

  return _steps(grads, param, values, step)


def rprop(
  grads, param, values, lr, eta_minus=0.5, eta_plus=1.2, min_step_size=1e-6, max_step_size=50.0
):
  """iRprop- (Igel & Hüsken, 2000, fig. 2)."""
  delta = np.full_like(param, lr, dtype=np.float64)
  prev = np.zeros_like(delta)

  def step(t, g, p, f):
    nonlocal delta, prev
    g = g.copy()
    same, flip = g * prev > 0, g * prev < 0
    delta = np.where(same, np.minimum(delta * eta_plus, max_step_size), delta)
    delta = np.where(flip, np.maximum(delta * eta_minus, min_step_size), delta)
    g[flip] = 0
    prev = g
    return -np.sign(g) * delta

  return _steps(grads, param, values, step)


def fromage(grads, param, values, lr, min_norm=1e-6):
  def step(t, g, p, f):
    ratio = max(np.linalg.norm(p), min_norm) / max(np.linalg.norm(g), min_norm)
    new = (p - lr * ratio * g) / np.sqrt(1 + lr**2)
    return new - p

  return _steps(grads, param, values, step)


def novograd(grads, param, values, lr, b1=0.9, b2=0.25, eps=1e-6, eps_root=0.0, weight_decay=0.0):
  v, m = 0.0, np.zeros_like(param, dtype=np.float64)

  def step(t, g, p, f):
    nonlocal v, m
    sq = np.sum(g * g)
    v = sq if t == 1 else b2 * v + (1 - b2) * sq
    m = b1 * m + g / (np.sqrt(v + eps_root) + eps) + weight_decay * p
    return -lr * m

  return _steps(grads, param, values, step)


def adan(
  grads, param, values, lr, b1=0.98, b2=0.92, b3=0.99, eps=1e-8, eps_root=1e-8, weight_decay=0.0
):
  """Xie et al. (2022), Algorithm 1, with (1 - beta) weighting the new term."""
  m, v, n = (np.zeros_like(param, dtype=np.float64) for _ in range(3))
  last = None

  def step(t, g, p, f):
    nonlocal m, v, n, last
    diff = np.zeros_like(g) if last is None else g - last
    last = g
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * diff
    n = b3 * n + (1 - b3) * (g + (1 - b2) * diff) ** 2
    m_hat, v_hat, n_hat = m / (1 - b1**t), v / (1 - b2**t), n / (1 - b3**t)
    return -lr * ((m_hat + (1 - b2) * v_hat) / (np.sqrt(n_hat + eps_root) + eps) + weight_decay * p)

  return _steps(grads, param, values, step)


def optimistic_gradient_descent(grads, param, values, lr, alpha=1.0, beta=1.0):
  """Mokhtari et al.: u_t = (alpha + beta) g_t - beta g_{t-1}, with g_0 = g_1."""
  prev = None

  def step(t, g, p, f):
    nonlocal prev
    last = g if prev is None else prev
    prev = g
    return -lr * ((alpha + beta) * g - beta * last)

  return _steps(grads, param, values, step)


def optimistic_adam(
  grads, param, values, lr, optimism=None, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, nesterov=True
):
  """Daskalakis et al.: theta -= lr r_t + o (r_t - r_{t-1}), r_t Adam's (NAdam's) direction."""
  o = lr if optimism is None else optimism
  mom, prev = _Moments(param, b1, b2), None

  def step(t, g, p, f):
    nonlocal prev
    m_hat = mom.first(t, g, nesterov)
    mom.v = b2 * mom.v + (1 - b2) * g * g
    r = m_hat / (np.sqrt(mom.v / (1 - b2**t) + eps_root) + eps)
    last = r if prev is None else prev
    prev = r
    return -lr * r - o * (r - last)

  return _steps(grads, param, values, step)


def layerwise_dog(grads, param, values, lr, reps_rel=1e-6, eps_root=1e-8, global_scale=1.0):
  """Ivgi et al.'s LDoG for one leaf: r_t / sqrt(G_t) with r_0 = reps_rel (1 + |x_0|)."""
  x0 = np.array(param, np.float64)
  r, total = reps_rel * (1 + np.linalg.norm(x0)), 0.0

  def step(t, g, p, f):
    nonlocal r, total
    r = max(r, np.linalg.norm(p - x0))
    total += np.sum(g * g)
    return -lr * global_scale * r / np.sqrt(total + eps_root) * g

  return _steps(grads, param, values, step)


def cocob(grads, param, values, lr=1.0, alpha=100.0, eps=1e-8, weight_decay=0.0):
  """Orabona & Tommasi, Algorithm 2.

  w_{t+1} = w_1 + theta_t (L_t + R_t) / (L_t max(G_t + L_t, alpha L_t)).
  """
  w1 = np.array(param, np.float64)
  big_l, big_g, reward, theta = np.full_like(w1, eps), 0 * w1, 0 * w1, 0 * w1

  def step(t, g, p, f):
    nonlocal big_l, big_g, reward, theta
    g = lr * (g + weight_decay * p)
    big_l = np.maximum(big_l, np.abs(g))
    big_g = big_g + np.abs(g)
    reward = np.maximum(reward - g * (p - w1), 0)
    theta = theta - g
    return w1 + theta / (big_l * np.maximum(big_g + big_l, alpha * big_l)) * (big_l + reward) - p

  return _steps(grads, param, values, step)


def _tree_steps(grads, params, values, step):
  """Like `_steps` over dicts of leaves: ``step(t, g, p, f) -> update dict``."""
  p = {k: np.array(v, np.float64) for k, v in params.items()}
  out = []
  for t, (g, f) in enumerate(zip(grads, values), start=1):
    u = step(t, {k: np.asarray(v, np.float64) for k, v in g.items()}, p, f)
    out.append(u)
    p = {k: p[k] + u[k] for k in p}
  return out


def _sq(tree):
  return sum(float(np.sum(x * x)) for x in tree.values())


def _diff(a, b):
  return {k: a[k] - b[k] for k in a}


def polyak_sgd(
  grads, params, values, max_learning_rate=1.0, scaling=1.0, f_min=0.0, eps=0.0, variant="sps"
):
  """Loizou et al.: gamma = min((f - f*) / (|g|^2 + eps), gamma_max), x -= scaling gamma g."""

  def step(t, g, p, f):
    gap = max(f - f_min, 0.0) if variant == "sps+" else f - f_min
    gamma = min(gap / (_sq(g) + eps), max_learning_rate)
    return {k: -scaling * gamma * v for k, v in g.items()}

  return _tree_steps(grads, params, values, step)


def mars(grads, params, values, inner, b1=0.95, gamma=0.025, per_leaf=False):
  """Yuan et al. 2024, algorithm 1 (approximate): c_t = g_t + gamma b1 / (1 - b1) (g_t - g_{t-1})
  (c_1 = g_1), divided by its norm where that exceeds 1 (of the whole tree, or of each leaf),
  then ``inner``, a per-leaf reference of (grads, param, values), run on the c_t."""
  cs, prev = [], None
  for g in grads:
    c = {
      k: v + (0.0 if prev is None else gamma * b1 / (1 - b1) * (v - prev[k])) for k, v in g.items()
    }
    if per_leaf:
      c = {k: v / max(1.0, np.linalg.norm(v)) for k, v in c.items()}
    else:
      c = {k: v / max(1.0, np.sqrt(_sq(c))) for k, v in c.items()}
    cs.append(c)
    prev = g
  per_key = {k: inner([c[k] for c in cs], params[k], values) for k in params}
  return [{k: per_key[k][t] for k in params} for t in range(len(grads))]


def dog(
  grads, params, values, lr=1.0, init_step=("heuristic", 1e-6), eps_root=1e-8, weight_decay=None
):
  """Ivgi et al.: eta_t = max(r_eps, max_s |x_s - x_0|) / sqrt(sum_s |g_s|^2)."""
  x0 = {k: np.array(v, np.float64) for k, v in params.items()}
  kind, value = init_step
  r = {"distance": value, "heuristic": value * (1 + np.sqrt(_sq(x0))), "learning_rate": 0.0}[kind]
  total = 0.0

  def step(t, g, p, f):
    nonlocal r, total
    if weight_decay is not None:
      g = {k: g[k] + weight_decay * p[k] for k in g}
    r = max(r, np.sqrt(_sq(_diff(p, x0))))
    total += _sq(g)
    eta = value if kind == "learning_rate" and t == 1 else r / np.sqrt(total + eps_root)
    return {k: -lr * eta * v for k, v in g.items()}

  return _tree_steps(grads, params, values, step)


def dowg(grads, params, values, lr=1.0, init_estim_sq_dist=None, eps=1e-4):
  """Khaled et al.: v_t = v_{t-1} + r_t^2 |g_t|^2, eta_t = r_t^2 / sqrt(v_t)."""
  x0 = {k: np.array(v, np.float64) for k, v in params.items()}
  r2, v = (eps if init_estim_sq_dist is None else init_estim_sq_dist), 0.0

  def step(t, g, p, f):
    nonlocal r2, v
    r2 = max(r2, _sq(_diff(p, x0)))
    v += r2 * _sq(g)
    return {k: -lr * r2 / (np.sqrt(v) + eps) * x for k, x in g.items()}

  return _tree_steps(grads, params, values, step)


def _dot(a, b):
  return sum(float(np.sum(a[k] * b[k])) for k in a)


def momo(
  grads,
  params,
  values,
  lr=1.0,
  beta=0.9,
  lower_bound=0.0,
  weight_decay=0.0,
  adapt_lower_bound=False,
  adam=None,
):
  """Schaipp et al.: a Polyak-type step from the averaged model of the loss.

  With ``adam=(b2, eps)`` this is MoMo-Adam (``beta`` is then b1, with no
  first-step special case), preconditioned by D = eps + sqrt(v_hat).
  """
  d = {k: np.zeros_like(v, dtype=np.float64) for k, v in params.items()}
  v = {k: np.zeros_like(x, dtype=np.float64) for k, x in params.items()}
  barf = gamma = 0.0
  lb = lower_bound

  def step(t, g, p, f):
    nonlocal d, v, barf, gamma, lb
    b = beta if (t > 1 or adam) else 0.0
    barf = b * barf + (1 - b) * f
    gamma = b * gamma + (1 - b) * _dot(g, p)
    d = {k: b * d[k] + (1 - b) * g[k] for k in g}
    if adam:
      b2, eps = adam
      v = {k: b2 * v[k] + (1 - b2) * g[k] ** 2 for k in g}
      direction = {k: d[k] / (eps + np.sqrt(v[k] / (1 - b2**t))) for k in g}
      bc1 = 1 - beta**t
    else:
      direction, bc1 = d, 1.0
    sq, iprod, shrink = _dot(d, direction), _dot(d, p), 1 + lr * weight_decay
    if adapt_lower_bound:
      model = shrink * (barf - gamma) + iprod
      if model < shrink * bc1 * lb:
        lb = max(model / (2 * bc1 * shrink), lower_bound)
    tau = min(lr / bc1, max(shrink * (barf - bc1 * lb - gamma) + iprod, 0.0) / sq)
    if adapt_lower_bound:
      lb = max((barf + iprod - gamma - tau * sq / 2) / bc1, lower_bound)
    return {k: -lr * weight_decay / shrink * p[k] - tau * direction[k] for k in g}

  return _tree_steps(grads, params, values, step)


def _l1(tree):
  return sum(float(np.sum(np.abs(x))) for x in tree.values())


def dadapt_adamw(
  grads,
  params,
  values,
  lr=1.0,
  betas=(0.9, 0.999),
  eps=1e-8,
  d0=1e-6,
  weight_decay=0.0,
  eps_root=0.0,
):
  """Defazio & Mishchenko, D-Adapted Adam: d = max(d, r / ((1 - sqrt(b2)) |s|_1))."""
  b1, b2 = betas
  rho = np.sqrt(b2)
  zeros = lambda: {k: np.zeros_like(v, dtype=np.float64) for k, v in params.items()}  # noqa: E731
  m, v, s = zeros(), zeros(), zeros()
  d, r = d0, 0.0

  def step(t, g, p, f):
    nonlocal m, v, s, d, r
    lam = d * lr * np.sqrt(1 - b2**t) / (1 - b1**t)
    r = rho * r + (1 - rho) * lam * _dot(g, {k: s[k] / (np.sqrt(v[k] + eps_root) + eps) for k in g})
    m = {k: b1 * m[k] + (1 - b1) * lam * g[k] for k in g}
    v = {k: b2 * v[k] + (1 - b2) * g[k] ** 2 for k in g}
    s = {k: rho * s[k] + (1 - rho) * lam * g[k] for k in g}
    if _l1(s) > 0:
      d = max(d, r / ((1 - rho) * _l1(s)))
    return {k: -m[k] / (np.sqrt(v[k] + eps_root) + eps) - weight_decay * lam * p[k] for k in g}

  return _tree_steps(grads, params, values, step)


def prodigy(
  grads,
  params,
  values,
  lr=1.0,
  betas=(0.9, 0.999),
  beta3=None,
  eps=1e-8,
  d0=1e-6,
  coef=1.0,
  weight_decay=0.0,
  safeguard_warmup=False,
  eps_root=0.0,
):
  """Mishchenko & Defazio, Prodigy (Adam form).

  r and s weighted by d / d0, d = max(d, c r / |s|_1).
  """
  b1, b2 = betas
  b3 = np.sqrt(b2) if beta3 is None else beta3
  x0 = {k: np.array(v, np.float64) for k, v in params.items()}
  zeros = lambda: {k: np.zeros_like(v, dtype=np.float64) for k, v in params.items()}  # noqa: E731
  m, v, s = zeros(), zeros(), zeros()
  d, r = d0, 0.0

  def step(t, g, p, f):
    nonlocal m, v, s, d, r
    lam = d * lr * np.sqrt(1 - b2**t) / (1 - b1**t)
    r = b3 * r + d / d0 * lam * _dot(g, _diff(x0, p))
    s = {k: b3 * s[k] + d / d0 * (d if safeguard_warmup else lam) * g[k] for k in g}
    m = {k: b1 * m[k] + (1 - b1) * d * g[k] for k in g}
    v = {k: b2 * v[k] + (1 - b2) * d**2 * g[k] ** 2 for k in g}
    if _l1(s) > 0:
      d = max(d, coef * r / _l1(s))
    return {
      k: -lam * m[k] / (np.sqrt(v[k] + eps_root) + d * eps) - weight_decay * lam * p[k] for k in g
    }

  return _tree_steps(grads, params, values, step)


def mechanize(
  grads, params, values, lr=0.1, momentum=0.0, weight_decay=1e-2, eps=1e-8, s_init=1e-6, n=6
):
  """Cutkosky et al., Mechanic around SGD(lr, momentum): bettors i = 1..n with beta_i = 1 - 10^-i.

  Delta is recomputed as (x - x_ref) / (S + eps) and h clipped by the previous m, as in the
  authors' code.
  """
  betas = 1 - 0.1 ** np.arange(1, n + 1)
  r, m, v, s = np.zeros(n), np.zeros(n), np.zeros(n), np.full(n, float(s_init))
  trace = {k: np.zeros_like(x, dtype=np.float64) for k, x in params.items()}
  x_ref = None

  def step(t, g, p, f):
    nonlocal r, m, v, s, trace, x_ref
    x_ref = x_ref or {k: x.copy() for k, x in p.items()}
    trace = {k: momentum * trace[k] + g[k] for k in g}
    total = s.sum()
    delta = {k: (p[k] - x_ref[k]) / (total + eps) for k in g}
    pull = weight_decay * total * np.sqrt(_sq(g)) / (np.sqrt(_sq(p)) + eps)
    h = _dot({k: g[k] + pull * p[k] for k in g}, delta)
    r = betas * r - s * np.clip(h, -m, m)
    m = np.maximum(betas * m, abs(h) + eps)
    v = betas**2 * v + h**2
    s = (s_init / n * m + np.maximum(r, 0)) / (np.sqrt(v) + eps)
    return {k: x_ref[k] + s.sum() * (delta[k] - lr * trace[k]) - p[k] for k in g}

  return _tree_steps(grads, params, values, step)


def _newton_schulz(x, coeffs, steps, eps):
  """Quintic Newton-Schulz on one matrix: X <- a X + (b A + c A^2) X, A = X X^T."""
  tall = x.shape[0] > x.shape[1]
  x = x.T if tall else x
  x = x / (np.linalg.norm(x) + eps)
  for _ in range(steps):
    a = x @ x.T
    x = coeffs[0] * x + (coeffs[1] * a + coeffs[2] * a @ a) @ x
  return x.T if tall else x


def muon(
  grads,
  param,
  values,
  lr,
  ns_coeffs=(3.4445, -4.7750, 2.0315),
  ns_steps=5,
  beta=0.95,
  eps=1e-8,
  weight_decay=0.0,
  nesterov=True,
  adam_b1=0.9,
  adam_b2=0.999,
  adam_eps_root=0.0,
  adam_weight_decay=0.0,
):
  """Muon for a matrix (orthogonalised momentum, scaled by sqrt(max(1, cols/rows))), else AdamW."""
  if np.ndim(param) != 2:
    return adam(
      grads, param, values, lr, adam_b1, adam_b2, eps, adam_eps_root, nesterov, adam_weight_decay
    )
  mom = _Moments(param, beta, beta)
  shape = np.sqrt(max(1.0, param.shape[1] / param.shape[0]))

  def step(t, g, p, f):
    o = _newton_schulz(mom.first(t, g, nesterov), ns_coeffs, ns_steps, eps)
    return -lr * (shape * o + weight_decay * p)

  return _steps(grads, param, values, step)


def normuon(
  grads,
  param,
  values,
  lr,
  b1=0.95,
  b2=0.95,
  eps=1e-8,
  weight_decay=0.0,
  nesterov=True,
  rescale="rms",
):
  """Li et al. 2025, algorithm 1: Muon's O_t, divided by the root of an EMA of each output
  neuron's (column's) mean square, then scaled to RMS 0.2 (``rescale='norm'``: to O_t's norm
  and Muon's shape factor, as the published code does). Other leaves: AdamW (nesterov)."""
  if np.ndim(param) != 2:
    return adam(grads, param, values, lr, eps=eps, nesterov=nesterov)
  mom = _Moments(param, b1, b1)
  v = np.zeros((1, param.shape[1]))
  rows, cols = param.shape

  def step(t, g, p, f):
    nonlocal v
    o = _newton_schulz(mom.first(t, g, nesterov), (3.4445, -4.7750, 2.0315), 5, eps)
    v = b2 * v + (1 - b2) * np.mean(o * o, axis=0, keepdims=True)
    y = o / (np.sqrt(v) + eps)
    if rescale == "rms":
      u = 0.2 * np.sqrt(rows * cols) * y / np.linalg.norm(y)
    else:
      u = np.sqrt(max(1.0, cols / rows)) * np.linalg.norm(o) * y / np.linalg.norm(y)
    return -lr * (u + weight_decay * p)

  return _steps(grads, param, values, step)


def adamuon(
  grads,
  param,
  values,
  lr,
  b1=0.95,
  b2=0.999,
  eps=1e-8,
  weight_decay=0.0,
  nesterov=True,
  sign_momentum=True,
):
  """Si et al. 2025, algorithm 1: Newton-Schulz on sign(m_hat) (``sign_momentum=False``: on
  m_hat, as the published code does), over the root of an element-wise debiased EMA of its
  square, scaled to RMS 0.2. Other leaves: AdamW (nesterov)."""
  if np.ndim(param) != 2:
    return adam(grads, param, values, lr, eps=eps, nesterov=nesterov)
  mom = _Moments(param, b1, b2)
  size = np.size(param)

  def step(t, g, p, f):
    m_hat = mom.first(t, g, nesterov)
    o = _newton_schulz(
      np.sign(m_hat) if sign_momentum else m_hat, (3.4445, -4.7750, 2.0315), 5, eps
    )
    mom.v = b2 * mom.v + (1 - b2) * o * o
    y = o / (np.sqrt(mom.v / (1 - b2**t)) + eps)
    return -lr * (0.2 * np.sqrt(size) * y / np.linalg.norm(y) + weight_decay * p)

  return _steps(grads, param, values, step)


def galore(
  grads,
  param,
  values,
  lr,
  rank=128,
  update_proj_gap=200,
  scale=1.0,
  b1=0.9,
  b2=0.999,
  eps=1e-8,
  weight_decay=0.0,
):
  """Zhao et al. 2024, algorithm 2 with Adam: P from the gradient's SVD every
  ``update_proj_gap`` steps (from the first), Adam on R = P^T G (left singular vectors
  when rows >= cols, else G P with right ones), the step lifted back as P N (or N P^T)."""
  if np.ndim(param) != 2:
    return adam(grads, param, values, lr, b1, b2, eps, weight_decay=weight_decay)
  rows, cols = np.shape(param)
  left, r = rows >= cols, min(rank, rows, cols)
  mom = _Moments(np.zeros((r, cols) if left else (rows, r)), b1, b2)
  proj = None

  def step(t, g, p, f):
    nonlocal proj
    if (t - 1) % update_proj_gap == 0:
      u, _, vt = np.linalg.svd(g, full_matrices=False)
      proj = u[:, :r] if left else vt[:r].T
    low = proj.T @ g if left else g @ proj
    m_hat = mom.first(t, low)
    mom.v = b2 * mom.v + (1 - b2) * low * low
    n = m_hat / (np.sqrt(mom.v / (1 - b2**t)) + eps)
    return -lr * (scale * (proj @ n if left else n @ proj.T) + weight_decay * p)

  return _steps(grads, param, values, step)


def schedule_free(
  grads,
  param,
  values,
  lr,
  b1=0.9,
  weight_lr_power=2.0,
  warmup_steps=None,
  adam_b2=None,
  eps=1e-8,
  weight_decay=0.0,
):
  """Defazio et al. 2024, algorithms 1 (SGD) and 2 (AdamW, when ``adam_b2`` is given).

  Keeps x and z; the param is y = b1 x + (1 - b1) z. Step t (from 1) uses
  gamma_t = lr min(1, t / warmup_steps) and weight max_{s<=t} gamma_s ** power.
  """
  x = np.array(param, dtype=np.float64)
  z, v = x.copy(), np.zeros_like(x)
  state = {"sum": 0.0, "max": 0.0}

  def step(t, g, y, f):
    nonlocal x, z, v
    gamma = lr * (min(1.0, t / warmup_steps) if warmup_steps else 1.0)
    if adam_b2 is None:
      d = g + weight_decay * y
    else:
      v = adam_b2 * v + (1 - adam_b2) * g * g
      d = g / (np.sqrt(v / (1 - adam_b2**t)) + eps) + weight_decay * y
    z = z - gamma * d
    state["max"] = max(state["max"], gamma)
    w = state["max"] ** weight_lr_power
    state["sum"] += w
    c = w / state["sum"]
    x = (1 - c) * x + c * z
    return b1 * x + (1 - b1) * z - y

  return _steps(grads, param, values, step)


def laprop(grads, param, values, lr, b1=0.9, b2=0.999, eps=1e-15, eps_root=0.0, weight_decay=0.0):
  """Ziyin et al. 2020, algorithm 1: normalise by the debiased RMS, then average."""
  m = np.zeros_like(param, dtype=np.float64)
  v = np.zeros_like(m)

  def step(t, g, p, f):
    nonlocal m, v
    v = b2 * v + (1 - b2) * g * g
    m = b1 * m + (1 - b1) * g / (np.sqrt(v / (1 - b2**t) + eps_root) + eps)
    return -lr * (m / (1 - b1**t) + weight_decay * p)

  return _steps(grads, param, values, step)


def adopt(grads, param, values, lr, b1=0.9, b2=0.9999, eps=1e-6, clip=True):
  """Taniguchi et al. 2024, algorithm 2: v_0 = g_0^2, then normalise by v_{t-1}, clip at t^(1/4)."""
  m = np.zeros_like(param, dtype=np.float64)
  v = None

  def step(t, g, p, f):
    nonlocal m, v
    if v is None:
      v = g * g
      return np.zeros_like(g)
    x = g / np.maximum(np.sqrt(v), eps)
    if clip:
      x = np.clip(x, -((t - 1) ** 0.25), (t - 1) ** 0.25)
    m = b1 * m + (1 - b1) * x
    v = b2 * v + (1 - b2) * g * g
    return -lr * m

  return _steps(grads, param, values, step)


def ademamix(
  grads,
  param,
  values,
  lr,
  b1=0.9,
  b2=0.999,
  b3=0.9999,
  alpha=5.0,
  eps=1e-8,
  eps_root=0.0,
  weight_decay=0.0,
):
  """Pagliardini et al. 2024, algorithm 1 (constant alpha and b3)."""
  mom = _Moments(param, b1, b2)
  m2 = np.zeros_like(mom.m)

  def step(t, g, p, f):
    nonlocal m2
    m1_hat = mom.first(t, g)
    m2 = b3 * m2 + (1 - b3) * g
    mom.v = b2 * mom.v + (1 - b2) * g * g
    v_hat = mom.v / (1 - b2**t)
    return -lr * ((m1_hat + alpha * m2) / (np.sqrt(v_hat + eps_root) + eps) + weight_decay * p)

  return _steps(grads, param, values, step)


def simplified_ademamix(
  grads, param, values, lr, b1=0.99, b2=0.95, alpha=0.0, eps=1e-8, eps_root=0.0, weight_decay=0.0
):
  """Morwani et al. 2024: m_t = b1 m + g (a sum), step (alpha g + m) / (sqrt(v_hat) + eps)."""
  m = np.zeros_like(param, dtype=np.float64)
  v = np.zeros_like(m)

  def step(t, g, p, f):
    nonlocal m, v
    m = b1 * m + g
    v = b2 * v + (1 - b2) * g * g
    den = np.sqrt(v / (1 - b2**t) + eps_root) + eps
    return -lr * ((alpha * g + m) / den + weight_decay * p)

  return _steps(grads, param, values, step)


def madgrad(grads, param, values, lr, momentum=0.9, weight_decay=0.0, eps=1e-6):
  """Defazio & Jelassi 2021, algorithm 1 (lambda_k = (lr + eps) sqrt(k + 1), k from 0)."""
  x0 = np.array(param, dtype=np.float64)
  s, nu = np.zeros_like(x0), np.zeros_like(x0)

  def step(t, g, x, f):
    nonlocal s, nu
    g = g + weight_decay * x
    lam = (lr + eps) * np.sqrt(t)
    s, nu = s + lam * g, nu + lam * g * g
    z = x0 - s / (np.cbrt(nu) + eps)
    return momentum * x + (1 - momentum) * z - x

  return _steps(grads, param, values, step)


def acprop(
  grads,
  param,
  values,
  lr,
  b1=0.9,
  b2=0.999,
  eps=1e-16,
  eps_root=1e-16,
  weight_decay=0.0,
  centre_on_previous=False,
):
  """Zhuang et al. 2021, algorithm 2: g_t over the root of s_{t-1} (debiased; 1 at t = 1) plus eps.

  ``centre_on_previous`` uses (g_t - m_{t-1})^2 in s_t, the form optax 0.2.8 computes."""
  m = np.zeros_like(param, dtype=np.float64)
  s = np.zeros_like(m)

  def step(t, g, p, f):
    nonlocal m, s
    den = np.sqrt(1.0 if t == 1 else s / (1 - b2 ** (t - 1))) + eps
    m_old, m = m, b1 * m + (1 - b1) * g
    centre = m_old if centre_on_previous else m
    s = b2 * s + (1 - b2) * (g - centre) ** 2 + eps_root
    return -lr * (g / den + weight_decay * p)

  return _steps(grads, param, values, step)


def sophia(
  grads,
  param,
  values,
  lr,
  hessian_diag,
  b1=0.965,
  b2=0.99,
  eps=1e-8,
  weight_decay=1e-4,
  gamma=0.01,
  clip_threshold=1.0,
  update_interval=10,
):
  """Liu et al. 2023, algorithm 3, in the order optax and Levanter use: debiased m_t over
  max(gamma h, eps) with the h of the previous refresh, then h refreshed from
  ``hessian_diag(p)`` at steps 1, 1 + k, ... (t - 1 divisible by k)."""
  m = np.zeros_like(param, dtype=np.float64)
  h = np.zeros_like(m)

  def step(t, g, p, f):
    nonlocal m, h
    m = b1 * m + (1 - b1) * g
    u = m / (1 - b1**t) / np.maximum(gamma * h, eps)
    if clip_threshold is not None:
      u = np.clip(u, -clip_threshold, clip_threshold)
    if (t - 1) % update_interval == 0:
      h = b2 * h + (1 - b2) * hessian_diag(p)
    return -lr * (u + weight_decay * p)

  return _steps(grads, param, values, step)


def sam(grad, params, outer_steps, lr, rho):
  """Foret et al. 2021, algorithm 1 with plain SGD: climb rho along the normalised gradient of
  the whole tree (a dict of arrays), step from the start with the gradient found there.
  Returns the params after each outer step."""
  p = {k: np.array(v, np.float64) for k, v in params.items()}
  out = []
  for _ in range(outer_steps):
    g = grad(p)
    size = np.sqrt(sum(np.sum(v * v) for v in g.values()))
    g_up = grad({k: p[k] + rho * g[k] / size for k in p})
    p = {k: p[k] - lr * g_up[k] for k in p}
    out.append(p)
  return out


def _unfold(x, axis):
  """The matrix whose rows are indexed by ``axis`` of ``x``."""
  return np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)


def _mode_product(x, mat, axis):
  """``x`` with ``mat`` applied along ``axis`` (``mat @ unfold(x, axis)``, folded back)."""
  return np.moveaxis(np.tensordot(mat, x, axes=(1, axis)), 0, axis)


def _ridge_root(s, p, eps, floor):
  """(S + r I)^(-1/p), r = max(eps, floor) * lambda_max (S Hermitian)."""
  w, v = np.linalg.eigh(s)
  w = np.maximum(w, 0)
  return (v * (w + max(eps, floor) * max(w.max(), 1e-16)) ** (-1.0 / p)) @ v.conj().T


def shampoo(
  grads,
  param,
  values,
  lr,
  b1=0.9,
  b2=0.999,
  block_size=1024,
  diagonal_epsilon=1e-10,
  matrix_epsilon=1e-6,
  start=5,
  every=10,
  graft="adam",
  nesterov=True,
  exponent=0,
  weight_decay=0.0,
  min_rank=2,
  max_dim=4096,
  published=False,
):
  """Shampoo per block (Gupta et al., 2018; Anil et al., 2020), blocks taken as slices.

  Unless ``published``, the ridge is at least sqrt(float64 eps) * lambda_max.
  """
  floor = 0.0 if published else np.finfo(np.float64).eps ** 0.5
  shape = np.shape(param)
  kron = len(shape) >= min_rank and all(d <= max_dim for d in shape)
  cuts = []
  for d in shape:
    n = -(-d // block_size)
    b = -(-d // n)
    cuts.append([slice(k * b, min((k + 1) * b, d)) for k in range(n)])
  blocks = list(itertools.product(*[range(len(c)) for c in cuts])) if kron else []
  blocks = [tuple(c[k] for c, k in zip(cuts, key)) for key in blocks]
  stats = [[np.zeros((s.stop - s.start,) * 2) for s in blk] for blk in blocks]
  roots = [[np.eye(s.stop - s.start) for s in blk] for blk in blocks]
  v, m = np.zeros(shape), np.zeros(shape)
  keep, add = (1.0, 1.0) if b2 == 1 else (b2, 1 - b2)
  p_root = exponent if exponent > 0 else 2 * len(shape)

  def step(t, g, p, f):
    nonlocal v, m
    if graft == "adagrad":
      v = v + g * g
    elif graft in ("rmsprop", "adam"):
      v = b2 * v + (1 - b2) * g * g
    vhat = v / (1 - b2**t) if graft == "adam" else v
    a = g / (np.sqrt(vhat) + diagonal_epsilon) if graft in ("adagrad", "rmsprop", "adam") else g
    d = a
    if kron:
      d = np.zeros(shape)
      for j, blk in enumerate(blocks):
        x = g[blk]
        for i in range(len(shape)):
          u = _unfold(x, i)
          stats[j][i] = keep * stats[j][i] + add * u @ u.T
          if t >= start and (t - start) % every == 0:
            roots[j][i] = _ridge_root(stats[j][i], p_root, matrix_epsilon, floor)
        y = x
        for i in range(len(shape)):
          y = _mode_product(y, roots[j][i], i)
        d[blk] = y
      if graft != "none":
        d = d * np.linalg.norm(a) / np.linalg.norm(d)
      if t < start:
        d = a
    m = b1 * m + d
    u = b1 * m + d if nesterov else m
    return -lr * (u + weight_decay * p)

  return _steps(grads, param, values, step)


def rotate(x, bases, back=False):
  """``x`` times ``bases[i]^H`` along each axis ``i`` (``bases[i]`` with ``back``; None: none)."""
  for i, b in enumerate(bases):
    if b is not None:
      x = _mode_product(x, b if back else b.conj().T, i)
  return x


def _merged(shape, limit):
  """Neighbouring axes multiplied together while the product stays within ``limit``."""
  out = []
  for d in shape:
    if out and out[-1] * d <= limit:
      out[-1] *= d
    else:
      out.append(d)
  return tuple(out)


def _clusters(w, floor):
  """Cluster ids of eigenvalues ``w`` (descending): clamped at floor * w[0], cut where
  neighbours differ by more than that."""
  top = max(w[0], 1e-16)
  w = np.maximum(w, floor * top)
  return np.concatenate([[0], np.cumsum(w[:-1] - w[1:] > floor * top)])


def _cluster_mean(ids):
  same = (ids[:, None] == ids[None, :]).astype(float)
  return same / same.sum(axis=1, keepdims=True)


def soap(
  grads,
  param,
  values,
  lr,
  b1=0.95,
  b2=0.95,
  shampoo_beta=None,
  eps=1e-8,
  weight_decay=0.01,
  frequency=10,
  max_dim=10000,
  merge_dims=False,
  precondition_1d=False,
  published=False,
):
  """SOAP (Vyas et al., 2024): Adam in the eigenbasis of Shampoo's factors.

  The first call only starts the factors and their exact eigenbasis; moments
  live in the basis and are carried over when it is refreshed. ``published``:
  refreshed by one QR power iteration, the second moment permuted along.
  Otherwise: refreshed by eigh; eigenvalues within f = eps64 ** (1/4) of the
  largest (clamped at f * largest) form clusters whose second moment is their
  mean; the second moment moves to a new basis by the squared overlaps; and in a
  basis, Adam's eps is at least f times the leaf's root-mean-square second moment.
  """
  floor = np.finfo(np.float64).eps ** 0.25
  sb = b2 if shampoo_beta is None else shampoo_beta
  shape = np.shape(param)
  fshape = _merged(shape, max_dim) if merge_dims and len(shape) > 1 else shape
  on = [not (len(shape) == 1 and not precondition_1d) and d <= max_dim for d in fshape]
  gg = [np.zeros((d, d)) if yes else None for d, yes in zip(fshape, on)]
  q = list(gg)
  means = [None if s is None else np.eye(len(s)) for s in gg]
  mu, nu = np.zeros(fshape), np.zeros(fshape)
  calls = 0

  def step(t, g, p, f):
    nonlocal mu, nu, calls, q, means
    g = g.reshape(fshape)
    u = np.zeros(fshape)
    if calls > 0:
      r = rotate(g, q)
      mu = b1 * mu + (1 - b1) * r
      sq = np.abs(r) ** 2
      if not published:
        sq = rotate(sq, means, back=True)
      nu = b2 * nu + (1 - b2) * sq
      den = np.sqrt(nu) + eps
      if not published and any(on):
        den = np.sqrt(nu) + max(eps, floor * np.sqrt(np.mean(nu)))
      u = rotate(mu / den, q, back=True) * np.sqrt(1 - b2**calls) / (1 - b1**calls)
    for i, s in enumerate(gg):
      if s is not None:
        gg[i] = sb * s + (1 - sb) * _unfold(g, i) @ _unfold(g, i).conj().T
    if calls == 0 and published:
      q = [None if s is None else np.linalg.eigh(s)[1][:, ::-1] for s in gg]
    elif calls % frequency == 0 and published:
      plain = rotate(mu, q, back=True)
      for i, s in enumerate(gg):
        if s is not None:
          order = np.argsort(-np.real(np.diag(q[i].conj().T @ s @ q[i])), kind="stable")
          nu = np.take(nu, order, axis=i)
          q[i] = np.linalg.qr(s @ q[i][:, order])[0]
      mu = rotate(plain, q)
    elif calls % frequency == 0:
      plain = rotate(mu, q, back=True)
      for i, s in enumerate(gg):
        if s is not None:
          w, v = np.linalg.eigh(s)
          means[i] = _cluster_mean(_clusters(w[::-1], floor))
          nu = _mode_product(nu, means[i] @ np.abs(v[:, ::-1].conj().T @ q[i]) ** 2, i)
          q[i] = v[:, ::-1]
      mu = rotate(plain, q)
    calls += 1
    return -lr * (u.reshape(shape) + weight_decay * p)

  return _steps(grads, param, values, step)


def splus(
  grads,
  param,
  values,
  lr,
  b1=0.9,
  b2=0.999,
  eps=1e-30,
  inverse_every=100,
  weight_decay=1e-2,
  nonstandard_constant=0.001,
  max_dim=10000,
):
  """SPlus (Frans et al., 2025): Q_L sign(Q_L^H M conj(Q_R)) Q_R^T for a matrix, sign(M)
  otherwise; bases eigenvectors of L + eps I, R + eps I after step 1 and every
  ``inverse_every`` steps; the step and weight decay scaled by 2 / (m + n) for a matrix,
  ``nonstandard_constant`` otherwise."""
  shape = np.shape(param)
  mat = len(shape) == 2 and max(shape) <= max_dim
  scale = 2.0 / sum(shape) if mat else nonstandard_constant
  m = np.zeros(shape, np.result_type(param, np.float64))
  sides = [np.zeros((d, d), m.dtype) for d in shape] if mat else []
  bases = [np.eye(d) for d in shape] if mat else []

  def step(t, g, p, f):
    nonlocal m
    m = b1 * m + (1 - b1) * g
    if mat:
      d = bases[0] @ np.sign(bases[0].conj().T @ m @ bases[1].conj()) @ bases[1].T
      sides[0] = b2 * sides[0] + (1 - b2) * g @ g.conj().T
      sides[1] = b2 * sides[1] + (1 - b2) * g.T @ g.conj()
      if t == 1 or t % inverse_every == 0:
        for i, s in enumerate(sides):
          bases[i] = np.linalg.eigh(s + eps * np.eye(len(s)))[1]
    else:
      d = np.sign(m)
    return -lr * scale * (d + weight_decay * p)

  p, out = np.array(param, m.dtype), []  # as _steps, complex params kept complex
  for t, (g, f) in enumerate(zip(grads, values), start=1):
    out.append(step(t, np.asarray(g, m.dtype), p, f))
    p = p + out[-1]
  return out


def splus_average(params, ema_rate):
  """SPlus's evaluation params after each step: the exponential average of the params
  each step started from, divided by 1 - ema_rate^t."""
  avg, out = np.zeros_like(params[0]), []
  for t, p in enumerate(params[:-1], start=1):
    avg = ema_rate * avg + (1 - ema_rate) * p
    out.append(avg / (1 - ema_rate**t))
  return out


def kl(
  grads,
  param,
  values,
  lr,
  soap=False,
  b1=0.9,
  b2=0.95,
  shampoo_beta=None,
  eps=1e-8,
  weight_decay=0.01,
  frequency=10,
  init_factor=0.1,
  max_dim=2048,
  merge_dims=False,
  precondition_1d=False,
  max_clamp=4000,
):
  """KL-Shampoo (``soap=False``) and KL-SOAP (Lin et al., 2025), any rank.

  Factor i takes in d_i / n * G_(i) (x_{j != i} S_j^-1) G_(i)^H, each S_j^-1 built from
  the basis Q_j and clamped inverse roots c_j = min(lambda_j^-1/2, max(10, min(d_j,
  max_clamp))) of the step before; lambda_i takes in the diagonal of the same in Q_i;
  bases by one QR power step every ``frequency`` steps (first call: exact eigh, no step).
  KL-Shampoo: rho^-1(rho(M) C / (1 + eps C)), C the outer product of the c_j; KL-SOAP:
  Adam without bias correction in the bases.
  """
  beta = b2 if shampoo_beta is None or not soap else shampoo_beta
  shape = np.shape(param)
  fshape = (_merged(shape, max_dim) if merge_dims and len(shape) > 1 else shape) or (1,)
  on = [not (len(fshape) == 1 and not precondition_1d) and d <= max_dim for d in fshape]
  n, r = int(np.prod(fshape)), len(fshape)
  stats = [np.zeros((d, d)) if yes else None for d, yes in zip(fshape, on)]
  bases = [None] * r
  lam = [np.full(d, init_factor) for d in fshape]
  m, v = np.zeros(fshape), np.zeros(fshape)
  calls = 0

  def along(x, vec, i):
    return x * vec.reshape([-1 if j == i else 1 for j in range(r)])

  def step(t, g, p, f):
    nonlocal m, v, calls, stats, bases, lam
    g = g.reshape(fshape)
    u = np.zeros(fshape)
    if calls == 0:
      for i, s in enumerate(stats):
        if s is not None:
          stats[i] = (1 - beta) * fshape[i] / n * _unfold(g, i) @ _unfold(g, i).conj().T
          bases[i] = np.linalg.eigh(stats[i])[1][:, ::-1]
    else:
      c = []
      for d, values_ in zip(fshape, lam):
        root = np.where(values_ > 0, 1 / np.sqrt(np.where(values_ > 0, values_, 1)), 0)
        c.append(root if max_clamp is None else np.minimum(root, max(10, min(d, max_clamp))))
      if soap:
        rg = rotate(g, bases)
        m = b1 * m + (1 - b1) * rg
        v = b2 * v + (1 - b2) * np.abs(rg) ** 2
        u = rotate(m / (np.sqrt(v) + eps), bases, back=True)
      else:
        m = b1 * m + (1 - b1) * g
        big_c = np.ones(fshape)
        for i in range(r):
          big_c = along(big_c, c[i], i)
        u = rotate(rotate(m, bases) * big_c / (1 + eps * big_c), bases, back=True)
      new_stats = list(stats)
      for i, s in enumerate(stats):
        if s is not None:
          y = g
          for j in range(r):
            if j != i:
              if bases[j] is not None:
                y = _mode_product(y, bases[j].conj().T, j)
              y = along(y, c[j], j)
          u_i = _unfold(y, i)
          new_stats[i] = beta * s + (1 - beta) * fshape[i] / n * u_i @ u_i.conj().T
      sq = np.abs(rotate(g, bases)) ** 2
      for i in range(r):
        w = sq
        for j in range(r):
          if j != i:
            w = along(w, c[j] ** 2, j)
        lam[i] = beta * lam[i] + (1 - beta) * _unfold(w, i).mean(axis=1)
      stats = new_stats
      if calls % frequency == 0:
        new = [None if s is None else np.linalg.qr(s @ q)[0] for s, q in zip(stats, bases)]
        if soap:
          m = rotate(rotate(m, bases, back=True), new)
        bases = new
    calls += 1
    return -lr * (u.reshape(shape) + weight_decay * p)

  return _steps(grads, param, values, step)


def _mode(x, q, j):
  """``x`` times matrix ``q`` along axis ``j``."""
  return np.moveaxis(np.tensordot(q, x, axes=(1, j)), 0, j)


def _unfold_gram(x, j):
  flat = np.moveaxis(x, j, 0).reshape(x.shape[j], -1)
  return flat @ flat.T


def _spectral_lower_bound(s):
  """Li's cheap bound ||S v|| / ||v||, v the column of S of largest norm."""
  v = s[:, np.argmax(np.sum(s * s, axis=0))]
  return np.linalg.norm(s @ v) / np.linalg.norm(v) if np.any(v) else 0.0


def kron(
  grads,
  param,
  values,
  lr,
  probes,
  fits,
  b1=0.9,
  precond_lr=0.1,
  init_scale=1.0,
  block_size=None,
  max_size_triangular=8192,
  min_ndim_triangular=2,
  weight_decay=0.0,
  momentum_into_precond_update=True,
):
  """PSGD-Kron on one leaf (no dim merging). ``probes[t-1]`` is the probe V of step t
  and ``fits[t-1]`` says whether step t refits the factors. Each block (a ragged
  slice of the leaf, cut along triangular dims longer than ``block_size``) has
  factors of its own: full matrices kept upper triangular, or diagonals kept as
  diagonal matrices."""
  shape = np.shape(param) or (1,)
  k = len(shape)
  diag = [d == 1 or d > max_size_triangular or k < min_ndim_triangular for d in shape]
  cuts = [
    [(s, min(s + block_size, d)) for s in range(0, d, block_size)]
    if block_size and not dg and d > block_size
    else [(0, d)]
    for d, dg in zip(shape, diag)
  ]
  blocks = list(np.ndindex(*[len(c) for c in cuts]))
  slices = {b: tuple(slice(*cuts[j][i]) for j, i in enumerate(b)) for b in blocks}
  qs = {
    b: [init_scale ** (1 / k) * np.eye(cuts[j][i][1] - cuts[j][i][0]) for j, i in enumerate(b)]
    for b in blocks
  }
  m = np.zeros(shape)
  eps32 = np.finfo(np.float32).eps

  def fit(q, h, v):
    a, bb = h, v
    for j, qj in enumerate(q):
      a = _mode(a, qj, j)
      bb = _mode(bb, np.linalg.inv(qj).T, j)
    new = []
    for j, qj in enumerate(q):
      t1, t2 = _unfold_gram(a, j), _unfold_gram(bb, j)
      if diag[j]:
        step = np.diag(t1 - t2) / np.max(np.abs(np.diag(t1 + t2)))
        new.append(qj - precond_lr * np.diag(step) @ qj)
      else:
        new.append(qj - precond_lr / _spectral_lower_bound(t1 + t2) * np.triu(t1 - t2) @ qj)
    return new

  def step(t, g, p, f):
    nonlocal m
    g = g.reshape(shape)
    m = b1 * m + (1 - b1) * g
    d = m / (1 - b1**t)
    if fits[t - 1]:
      target = d if momentum_into_precond_update else g
      v = np.reshape(probes[t - 1], shape)
      h = target + np.sqrt(eps32) * np.mean(np.abs(target)) * v
      for b in blocks:
        qs[b] = fit(qs[b], h[slices[b]], v[slices[b]])
    out = np.zeros(shape)
    for b in blocks:
      x = d[slices[b]]
      for j, qj in enumerate(qs[b]):
        x = _mode(x, qj.T @ qj, j)
      out[slices[b]] = x
    out = out / max(1.0, np.sqrt(np.mean(out**2)) / 1.1)
    return -lr * (out.reshape(np.shape(p)) + weight_decay * p)

  return _steps(grads, param, values, step)


def _power_norm(a, iterations):
  """||A x|| with x from power steps x <- A^T A x / ||.||, started at A's largest row
  (both divided by that row's norm first), as PSGD-PRO estimates a largest singular value."""
  norms = np.linalg.norm(a, axis=1)
  k = int(np.argmax(norms))
  top = max(norms[k], float(np.finfo(np.float32).tiny))
  a = a / top
  x = a[k]
  for _ in range(iterations):
    y = a.T @ (a @ x)
    x = y / max(np.linalg.norm(y), 1e-12)
  return np.linalg.norm(a @ x) * top


def psgd_pro(
  grads,
  param,
  values,
  lr,
  probes,
  fits,
  b1=0.9,
  precond_lr=0.1,
  init_scale=1.0,
  lower_bound_beta=0.9,
  dampening=1e-9,
  power_iterations=2,
  max_size_triangular=2048,
  min_ndim_triangular=2,
  weight_decay=0.0,
  momentum_into_precond_update=True,
  published=False,
):
  """PSGD-PRO (Li 2024; HeavyBall's PSGDPRO) on one real leaf, no merging or blocks.
  ``probes[t-1]`` is the probe V of step t, ``fits[t-1]`` whether step t refits.
  Per factor: Q <- Q - eta (C Q - e Q) / ell (C the Gram matrix of the preconditioned
  damped gradient, e = numel / d, ell a running bound of lambda_max(C) + e), then
  Q <- Q + s R Q + s^2 / 2 R^2 Q, R = (Q^T - Q) / sigma_max, s = -tr(RQ) / tr(R^2 Q)
  clipped to [0, s_max] (s_max where tr(R^2 Q) >= 0): 1/8, or 1/2 if ``published``.
  Diagonal factors: q <- q - eta q (diag C - e) / ell, ell from max(diag C) + e."""
  shape = np.shape(param) or (1,)
  k = len(shape)
  diag = [d == 1 or d > max_size_triangular or k < min_ndim_triangular for d in shape]
  qs = [init_scale ** (1 / k) * (np.ones(d) if dg else np.eye(d)) for d, dg in zip(shape, diag)]
  bounds = [0.0] * k
  s_max = 0.5 if published else 0.125
  m = np.zeros(shape)
  eps32 = np.finfo(np.float32).eps

  def precondition(x):
    for j, q in enumerate(qs):
      x = _mode(x, np.diag(q * q) if diag[j] else q.T @ q, j)
    return x

  def running(estimate, j):
    bounds[j] = max(estimate, bounds[j] + (estimate - bounds[j]) * (1 - lower_bound_beta))
    return bounds[j]

  def step(t, g, p, f):
    nonlocal m, qs
    g = g.reshape(shape)
    m = b1 * m + (1 - b1) * g
    d = m / (1 - b1**t)
    if fits[t - 1]:
      if k > 1:
        tops = [np.max(np.abs(q)) for q in qs]
        mean = np.exp(np.mean(np.log(tops)))
        qs = [q * mean / top for q, top in zip(qs, tops)]
      target = d if momentum_into_precond_update else g
      h = target + (dampening + eps32 * np.abs(target)) * np.reshape(probes[t - 1], shape)
      pg = precondition(h)
      for j, q in enumerate(qs):
        c = _unfold_gram(pg, j)
        e = pg.size / shape[j]
        if diag[j]:
          ell = running(np.max(np.diag(c)) + e, j)
          qs[j] = q - precond_lr * q * (np.diag(c) - e) / ell
          continue
        ell = running(_power_norm(c, power_iterations) + e, j)
        q = q - precond_lr * (c @ q - e * q) / ell
        r = q.T - q
        r = r / (_power_norm(r, power_iterations) + np.finfo(np.float64).smallest_normal)
        c1, c2 = np.trace(r @ q), np.trace(r @ r @ q)
        s = min(max(-c1 / c2, 0.0), s_max) if c2 < 0 else s_max
        qs[j] = q + s * r @ q + s * s / 2 * r @ r @ q
    out = precondition(d)
    return -lr * (out.reshape(np.shape(p)) + weight_decay * p)

  return _steps(grads, param, values, step)


def dion(grads, param, values, lr, q0, mu=0.95, eps=1e-8, weight_decay=0.0, nesterov=True):
  """Ahn et al. 2025, algorithm 1 (single device) on X = W^T (fan_out x fan_in), its longer
  side first (a wide B is turned, as the authors' reference code turns it, so that the right
  factor Q0, given, lives on the shorter side): B = M + G, P = orth(B Q), R = B^T P,
  M = B - (1 - mu) P R^T, Q = R / (column norms + eps), step sqrt(m / n) P Q^T.
  Other leaves: AdamW (nesterov)."""
  if np.ndim(param) != 2:
    return adam(grads, param, values, lr, eps=eps, nesterov=nesterov)
  fan_in, fan_out = np.shape(param)
  turn = fan_out < fan_in  # X = W^T is wide
  m, q = np.zeros((fan_out, fan_in)), np.asarray(q0, np.float64)

  def step(t, g, p, f):
    nonlocal m, q
    b = m + g.T
    b = b.T if turn else b
    left, _ = np.linalg.qr(b @ q)
    r = b.T @ left
    residual = b - (1 - mu) * left @ r.T
    q = r / (np.linalg.norm(r, axis=0, keepdims=True) + eps)
    x_step = left @ q.T
    m, x_step = (residual.T, x_step.T) if turn else (residual, x_step)
    return -lr * (np.sqrt(fan_out / fan_in) * x_step.T + weight_decay * p)

  return _steps(grads, param, values, step)
