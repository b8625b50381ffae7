"""Normalization: batch_norm (eval and batch statistics)."""
import math

import numpy as np

from fastnorm import _C
from fastnorm.ops._common import ACT_NONE, _vector, as_float32
from fastnorm.threads import get_num_threads

__all__ = ["batch_norm"]


def _scale_shift(x, scale, shift, act):
    n, c = x.shape[0], x.shape[1]
    inner = math.prod(x.shape[2:])
    y = np.empty_like(x)
    _C.scale_shift(-1, x.reshape(n, c, inner), scale, shift, act, y.reshape(n, c, inner),
                   get_num_threads())
    return y


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Eval mode normalises with the running statistics; training=True with the batch's own
    (biased variance), as torch does for BatchNorm with track_running_stats=False. Running
    statistics are never updated (fastnorm is an inference runtime)."""
    x = as_float32(input, "input")
    if x.ndim < 2:
        raise ValueError("input: expected (N, C) or (N, C, *), got shape %s" % (x.shape,))
    c = x.shape[1]
    if not (isinstance(eps, (float, int)) and eps >= 0):
        raise ValueError("eps: expected a non-negative number, got %r" % (eps,))
    if training:
        count = x.size // c if c else 0
        if count <= 1:
            raise ValueError("input: expected more than 1 value per channel when training, got shape %s"
                             % (x.shape,))
        axes = (0,) + tuple(range(2, x.ndim))
        xd = x.astype(np.float64)
        mean = xd.mean(axis=axes).astype(np.float32)
        var = xd.var(axis=axes).astype(np.float32)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("running_mean/running_var: required when training=False")
        mean = _vector(running_mean, "running_mean", c)
        var = _vector(running_var, "running_var", c)
    scale, shift = _C.bnorm_prepare(mean, var, _vector(weight, "weight", c), _vector(bias, "bias", c),
                                    float(eps))
    return _scale_shift(x, scale, shift, ACT_NONE)
