"""Normalization: batch_norm (eval and batch statistics), layer_norm, layer_norm_channels,
group_norm, instance_norm. Statistics are computed in C (shifted sums in double, see
src_c/norm/fn_norm.h), then one pass normalises: the kernels run with the GIL released."""
import math

import numpy as np

from fastnorm import _C
from fastnorm.ops._common import ACT_NONE, _vector, as_float32
from fastnorm.threads import get_num_threads

__all__ = ["batch_norm", "layer_norm", "layer_norm_channels", "group_norm", "instance_norm"]


def _scale_shift(x, scale, shift, act):
    n, c = x.shape[0], x.shape[1]
    inner = math.prod(x.shape[2:])
    y = np.empty_like(x)
    _C.scale_shift(-1, x.reshape(n, c, inner), scale, shift, act, y.reshape(n, c, inner),
                   get_num_threads())
    return y


def _eps(eps):
    if isinstance(eps, bool) or not isinstance(eps, (float, int, np.floating, np.integer)) or not eps >= 0:
        raise ValueError("eps: expected a non-negative number, got %r" % (eps,))
    return float(eps)


def _nc(x, what, min_ndim=2):
    if x.ndim < min_ndim:
        raise ValueError("input: expected %s, got shape %s" % (what, x.shape))
    n, c = x.shape[0], x.shape[1]
    return n, c, math.prod(x.shape[2:])


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Eval mode normalises with the running statistics; training=True with the batch's own
    (biased variance), as torch does for BatchNorm with track_running_stats=False. Running
    statistics are never updated (fastnorm is an inference runtime)."""
    x = as_float32(input, "input")
    if x.ndim < 2:
        raise ValueError("input: expected (N, C) or (N, C, *), got shape %s" % (x.shape,))
    c = x.shape[1]
    eps = _eps(eps)
    w, b = _vector(weight, "weight", c), _vector(bias, "bias", c)
    if training:
        count = x.size // c if c else 0
        if count <= 1:
            raise ValueError("input: expected more than 1 value per channel when training, got shape %s"
                             % (x.shape,))
        n, c, hw = _nc(x, "(N, C, *)")
        y = np.empty_like(x)
        _C.batch_norm_stats(-1, x.reshape(n, c, hw), w, b, eps, ACT_NONE, y.reshape(n, c, hw),
                            get_num_threads())
        return y
    if running_mean is None or running_var is None:
        raise ValueError("running_mean/running_var: required when training=False")
    mean = _vector(running_mean, "running_mean", c)
    var = _vector(running_var, "running_var", c)
    scale, shift = _C.bnorm_prepare(mean, var, w, b, eps)
    return _scale_shift(x, scale, shift, ACT_NONE)


def _both(w, b, n):
    """The kernels take weight and bias together: fill in the missing one (ones / zeros)."""
    if w is None and b is None:
        return None, None
    return (np.ones(n, np.float32) if w is None else w), (np.zeros(n, np.float32) if b is None else b)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing dims `normalized_shape` (biased variance, eps inside the sqrt);
    weight/bias have shape normalized_shape (elementwise affine)."""
    x = as_float32(input, "input")
    if isinstance(normalized_shape, (int, np.integer)) and not isinstance(normalized_shape, bool):
        ns = (int(normalized_shape),)
    elif isinstance(normalized_shape, (tuple, list)) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in normalized_shape):
        ns = tuple(int(v) for v in normalized_shape)
    else:
        raise TypeError("normalized_shape: expected an int or a sequence of ints, got %r" % (normalized_shape,))
    if len(ns) == 0 or len(ns) > x.ndim or tuple(x.shape[x.ndim - len(ns):]) != ns:
        raise ValueError("normalized_shape: expected the input's trailing dims %s, got %s (input shape %s)"
                         % (tuple(x.shape[x.ndim - len(ns):]) if 0 < len(ns) <= x.ndim else "?", ns, x.shape))
    eps = _eps(eps)
    d = math.prod(ns)
    w = b = None
    if weight is not None:
        w = as_float32(weight, "weight")
        if w.shape != ns:
            raise ValueError("weight: expected shape %s, got %s" % (ns, w.shape))
        w = w.reshape(-1)
    if bias is not None:
        b = as_float32(bias, "bias")
        if b.shape != ns:
            raise ValueError("bias: expected shape %s, got %s" % (ns, b.shape))
        b = b.reshape(-1)
    w, b = _both(w, b, d)
    y = np.empty_like(x)
    if x.size:
        _C.layer_norm_rows(-1, x.reshape(-1, d), w, b, eps, ACT_NONE, y.reshape(-1, d), get_num_threads())
    return y


def layer_norm_channels(input, weight=None, bias=None, eps=1e-6):
    """LayerNorm over the channel axis of (N, C, *) ("LayerNorm for CNNs", ConvNeXt's channels_first
    LayerNorm): statistics per (sample, position) over C, affine per channel. Equal to torch's
    F.layer_norm(x.movedim(1, -1), (C,), weight, bias, eps).movedim(-1, 1)."""
    x = as_float32(input, "input")
    n, c, hw = _nc(x, "(N, C, *)")
    eps = _eps(eps)
    w, b = _both(_vector(weight, "weight", c), _vector(bias, "bias", c), c)
    y = np.empty_like(x)
    if x.size == 0:
        return y
    nt = get_num_threads()
    if hw == 1:  # (N, C): each sample's channels are one contiguous row
        _C.layer_norm_rows(-1, x.reshape(n, c), w, b, eps, ACT_NONE, y.reshape(n, c), nt)
    else:
        _C.layer_norm_channels_nchw(-1, x.reshape(n, c, hw), w, b, eps, ACT_NONE, y.reshape(n, c, hw), nt)
    return y


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Statistics per (sample, group of C/num_groups channels) over the group's channels and all
    positions; weight/bias per channel. A group of one value normalises to 0 (output = bias), where
    torch.nn.functional refuses such input."""
    x = as_float32(input, "input")
    n, c, hw = _nc(x, "(N, C, *)")
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)):
        raise TypeError("num_groups: expected an int, got %r" % (num_groups,))
    if num_groups < 1 or c % num_groups:
        raise ValueError("num_groups: expected a positive divisor of the %d channels, got %d" % (c, num_groups))
    eps = _eps(eps)
    w, b = _vector(weight, "weight", c), _vector(bias, "bias", c)
    y = np.empty_like(x)
    if x.size:
        _C.group_norm_nchw(-1, x.reshape(n, c, hw), int(num_groups), w, b, eps, ACT_NONE,
                           y.reshape(n, c, hw), get_num_threads())
    return y


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Per (sample, channel) statistics over the positions of (N, C, *). use_input_stats=False
    normalises with running_mean/running_var instead (a per-channel scale/shift). Running statistics
    are never updated (inference runtime). A 1x1 image normalises to 0 (output = bias), where
    torch.nn.functional refuses a single spatial element."""
    x = as_float32(input, "input")
    n, c, hw = _nc(x, "(N, C, *) with at least one spatial dim", 3)
    eps = _eps(eps)
    w, b = _vector(weight, "weight", c), _vector(bias, "bias", c)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("running_mean/running_var: required when use_input_stats=False")
        scale, shift = _C.bnorm_prepare(_vector(running_mean, "running_mean", c),
                                        _vector(running_var, "running_var", c), w, b, eps)
        return _scale_shift(x, scale, shift, ACT_NONE)
    if running_mean is not None:
        _vector(running_mean, "running_mean", c)
    if running_var is not None:
        _vector(running_var, "running_var", c)
    y = np.empty_like(x)
    if x.size:
        _C.group_norm_nchw(-1, x.reshape(n, c, hw), c, w, b, eps, ACT_NONE, y.reshape(n, c, hw),
                           get_num_threads())
    return y
