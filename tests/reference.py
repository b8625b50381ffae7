"""Plain NumPy reference for every op: the executable spec the kernels are tested against.

Written from the published definitions (torch.nn.functional docs), float64 accumulation, and it never
imports fastnorm's compiled code.
"""
import numpy as np


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    # x: (N, C, H, W), w: (O, C/groups, KH, KW) -> (N, O, OH, OW); padding int/pair or 4-tuple
    # (top, left, bottom, right)
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    if isinstance(padding, int) or len(padding) == 2:
        ph, pw = _pair(padding)
        pads = (ph, pw, ph, pw)
    else:
        pads = tuple(padding)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.zeros((n, c, h + pads[0] + pads[2], wd + pads[1] + pads[3]))
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    og = o // groups
    y = np.zeros((n, o, max(oh, 0), max(ow, 0)))
    for g in range(groups):
        xg = xp[:, g * cg:(g + 1) * cg]
        wg = w[g * og:(g + 1) * og]
        for ky in range(kh):
            for kx in range(kw):
                patch = xg[:, :, ky * dh: ky * dh + sh * (oh - 1) + 1: sh,
                           kx * dw: kx * dw + sw * (ow - 1) + 1: sw]
                y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, wg[:, :, ky, kx])
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def linear(x, w, b=None):
    y = np.asarray(x, np.float64) @ np.asarray(w, np.float64).T
    if b is not None:
        y = y + np.asarray(b, np.float64)
    return y


def batch_norm(x, mean, var, weight=None, bias=None, eps=1e-5):
    # eval mode: x (N, C, *) normalised per channel with running statistics
    x = np.asarray(x, np.float64)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - np.asarray(mean, np.float64).reshape(shape)) / np.sqrt(
        np.asarray(var, np.float64).reshape(shape) + eps)
    if weight is not None:
        y = y * np.asarray(weight, np.float64).reshape(shape)
    if bias is not None:
        y = y + np.asarray(bias, np.float64).reshape(shape)
    return y


def batch_norm_train_stats(x, weight=None, bias=None, eps=1e-5):
    # batch statistics (biased variance), as BatchNorm with track_running_stats=False
    x = np.asarray(x, np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    return batch_norm(x, x.mean(axis=axes), x.var(axis=axes), weight, bias, eps)


def relu(x):
    x = np.asarray(x, np.float64)
    return np.where(x < 0, 0.0, x)  # NaN stays NaN


def clamp(x, lo, hi):
    x = np.asarray(x, np.float64)
    return np.where(x < lo, lo, np.where(x > hi, hi, x))


def pool_out_extent(n, k, s, p, d, ceil_mode):
    span = d * (k - 1) + 1
    if ceil_mode:
        out = -(-(n + 2 * p - span) // s) + 1
        if (out - 1) * s >= n + p:  # the last window must start inside the input or left pad
            out -= 1
    else:
        out = (n + 2 * p - span) // s + 1
    return out


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    x = np.asarray(x, np.float64)
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    n, c, h, w = x.shape
    oh = pool_out_extent(h, kh, sh, ph, dh, ceil_mode)
    ow = pool_out_extent(w, kw, sw, pw, dw, ceil_mode)
    y = np.empty((n, c, oh, ow))
    for oy in range(oh):
        for ox in range(ow):
            rows = [oy * sh - ph + ky * dh for ky in range(kh)]
            cols = [ox * sw - pw + kx * dw for kx in range(kw)]
            rows = [r for r in rows if 0 <= r < h]
            cols = [q for q in cols if 0 <= q < w]
            win = x[:, :, rows][:, :, :, cols].reshape(n, c, -1)
            if win.shape[2] == 0:  # a dilated window that holds no input: -inf, as torch
                y[:, :, oy, ox] = -np.inf
                continue
            m = win.max(axis=2)
            m[np.isnan(win).any(axis=2)] = np.nan
            y[:, :, oy, ox] = m
    return y


def flatten(x, start_dim=0, end_dim=-1):
    x = np.asarray(x)
    nd = x.ndim
    s, e = start_dim % nd if nd else 0, end_dim % nd if nd else 0
    return x.reshape(x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:])


# The op families keep their references in files of their own; this module is the one to import.
from reference_norm import *  # noqa: E402,F401,F403
from reference_act import *  # noqa: E402,F401,F403
from reference_pool import *  # noqa: E402,F401,F403
from reference_glue import *  # noqa: E402,F401,F403
from reference_convt import *  # noqa: E402,F401,F403
