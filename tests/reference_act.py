"""NumPy reference for the act family (see reference.py): float64, from the published definitions
(torch.nn.functional docs), evaluated in forms that stay accurate in float64 (e.g. erfc for gelu's
negative tail, logaddexp for softplus), never importing fastnorm's compiled code."""
import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _f64(x):
    return np.asarray(x, np.float64)


def erf(x):
    return _erf(_f64(x))


def erfc(x):
    return _erfc(_f64(x))


def relu6(x):
    return hardtanh(x, 0.0, 6.0)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    x = _f64(x)
    return np.where(x < min_val, min_val, np.where(x > max_val, max_val, x))


def leaky_relu(x, negative_slope=0.01):
    x = _f64(x)
    return np.where(x > 0, x, x * negative_slope)


def prelu(x, weight):
    x = _f64(x)
    w = _f64(weight).reshape(-1)
    if x.ndim >= 2 and w.size > 1:
        w = w.reshape((1, -1) + (1,) * (x.ndim - 2))
    return np.where(x > 0, x, w * x)


def elu(x, alpha=1.0):
    x = _f64(x)
    with np.errstate(over="ignore"):
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def selu(x):
    return SELU_SCALE * elu(x, SELU_ALPHA)


def celu(x, alpha=1.0):
    x = _f64(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha))


def sigmoid(x):
    x = _f64(x)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh(x):
    return np.tanh(_f64(x))


def silu(x):
    x = _f64(x)
    return x * sigmoid(x)


def gelu(x, approximate="none"):
    x = _f64(x)
    if approximate == "tanh":
        u = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
        return x * sigmoid(2 * u)  # = x/2 (1 + tanh(u)), without cancellation for x < 0
    return 0.5 * x * erfc(-x / math.sqrt(2))  # = x/2 (1 + erf(x/sqrt2))


def hardsigmoid(x):
    x = _f64(x)
    return np.clip(x + 3, 0, 6) / 6


def hardswish(x):
    x = _f64(x)
    return x * np.clip(x + 3, 0, 6) / 6


def softplus(x, beta=1.0, threshold=20.0):
    # the branch as torch (and fastnorm) take it, on x * beta rounded to float32: in float64 a product
    # within an ulp of the threshold could take the other branch, a jump of up to exp(-threshold) / beta
    with np.errstate(over="ignore"):
        big = np.asarray(x, np.float32) * np.float32(beta) > np.float32(threshold)
    x = _f64(x)
    return np.where(big, x, np.logaddexp(0, beta * x) / beta)


def logsigmoid(x):
    # log(sigmoid(x)) = -log(1 + exp(-x)); torch and fastnorm return x itself below -20 (their softplus
    # threshold), where the two differ by at most exp(-20) * |x| relative: inside every bound used
    with np.errstate(over="ignore"):
        tail = np.asarray(x, np.float32) < np.float32(-20.0)
    x = _f64(x)
    return np.where(tail, x, -np.logaddexp(0, -x))


def mish(x):
    x = _f64(x)
    return x * np.tanh(np.logaddexp(0, x))


def softmax(x, dim):
    x = _f64(x)
    m = np.max(x, axis=dim, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=dim, keepdims=True)


def log_softmax(x, dim):
    x = _f64(x)
    m = np.max(x, axis=dim, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=dim, keepdims=True))
