"""NumPy reference for the pool family (see reference.py): float64, written from torch's definitions.

avg_pool2d: output (oy, ox) averages the input under its window; with count_include_pad the divisor
is the window clipped to the padded input (the ceil_mode overhang past it is never counted), else
the number of input elements under it; divisor_override replaces the divisor.
adaptive pooling: output i covers [floor(i*In/Out), ceil((i+1)*In/Out)) on each axis.
Max: NaN anywhere under the window gives NaN (torch propagates it).
"""
import numpy as np


def _pair2(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def pool_extent(n, k, s, p, ceil_mode, d=1):
    """torch's pooling output size along one axis (the ceil_mode window must start inside the
    input or the left padding)."""
    span = d * (k - 1) + 1
    if ceil_mode:
        out = -(-(n + 2 * p - span) // s) + 1
        if (out - 1) * s >= n + p:
            out -= 1
    else:
        out = (n + 2 * p - span) // s + 1
    return out


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    x = np.asarray(x, np.float64)
    kh, kw = _pair2(kernel_size)
    sh, sw = _pair2(stride if stride is not None else kernel_size)
    ph, pw = _pair2(padding)
    n, c, h, w = x.shape
    oh, ow = pool_extent(h, kh, sh, ph, ceil_mode), pool_extent(w, kw, sw, pw, ceil_mode)
    y = np.empty((n, c, oh, ow))
    for oy in range(oh):
        for ox in range(ow):
            hs, ws = oy * sh - ph, ox * sw - pw
            he, we = min(hs + kh, h + ph), min(ws + kw, w + pw)   # clipped to the padded input
            pool_size = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)  # clipped to the input
            win = x[:, :, hs:he, ws:we]
            if divisor_override:
                div = divisor_override
            elif count_include_pad:
                div = pool_size
            else:
                div = (he - hs) * (we - ws)
            with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in torch
                y[:, :, oy, ox] = win.sum(axis=(2, 3)) / div
    return y


def _bins(n_in, n_out):
    return [(i * n_in // n_out, -(-((i + 1) * n_in) // n_out)) for i in range(n_out)]


def _adaptive_size(output_size, h, w):
    if isinstance(output_size, int):
        return output_size, output_size
    oh, ow = output_size
    return (h if oh is None else oh), (w if ow is None else ow)


def _max(win):
    m = win.max(axis=(2, 3))
    m[np.isnan(win).any(axis=(2, 3))] = np.nan
    return m


def adaptive_avg_pool2d(x, output_size):
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    oh, ow = _adaptive_size(output_size, h, w)
    y = np.empty((n, c, oh, ow))
    for oy, (y0, y1) in enumerate(_bins(h, oh)):
        for ox, (x0, x1) in enumerate(_bins(w, ow)):
            with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in torch
                y[:, :, oy, ox] = x[:, :, y0:y1, x0:x1].mean(axis=(2, 3))
    return y


def adaptive_max_pool2d(x, output_size):
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    oh, ow = _adaptive_size(output_size, h, w)
    y = np.empty((n, c, oh, ow))
    for oy, (y0, y1) in enumerate(_bins(h, oh)):
        for ox, (x0, x1) in enumerate(_bins(w, ow)):
            y[:, :, oy, ox] = _max(x[:, :, y0:y1, x0:x1])
    return y


def global_avg_pool2d(x):
    """(N, C, H, W) -> (N, C, 1, 1): the classifier head's pooling."""
    with np.errstate(invalid="ignore"):
        return np.asarray(x, np.float64).mean(axis=(2, 3), keepdims=True)


def global_max_pool2d(x):
    x = np.asarray(x, np.float64)
    return _max(x)[:, :, None, None]


