"""NumPy reference for the glue family (see reference.py): float64 arithmetic, written from the
torch.nn.functional / torch docs and the index rules of aten/src/ATen/native/UpSample.h."""
import math

import numpy as np  # noqa: F401


def add(a, b, alpha=1):
    # torch.add: input + alpha * other, broadcasting
    return np.asarray(a, np.float64) + alpha * np.asarray(b, np.float64)


def mul(a, b):
    return np.asarray(a, np.float64) * np.asarray(b, np.float64)


def cat(xs, dim=0):
    # torch.cat; 1-D empty tensors are skipped (torch's legacy rule)
    xs = [np.asarray(x, np.float64) for x in xs if not (np.ndim(x) == 1 and np.shape(x)[0] == 0)]
    return np.concatenate(xs, axis=dim)


def _pad_index(i, n, mode):
    """Input index read by padded position i (i relative to the input's first element), or None."""
    if mode == "constant":
        return i if 0 <= i < n else None
    if mode == "replicate":
        return min(max(i, 0), n - 1)
    # reflect: mirror about the edge elements, which are not repeated
    if i < 0:
        i = -i
    if i >= n:
        i = 2 * (n - 1) - i
    return i


def pad(x, pad, mode="constant", value=0.0):
    # F.pad over the last len(pad)//2 dims: pad = (left, right[, top, bottom]); negative pads crop
    x = np.asarray(x, np.float64)
    k = len(pad) // 2
    for d in range(k):  # d = 0: last dim with (pad[0], pad[1]); d = 1: the one before
        before, after = pad[2 * d], pad[2 * d + 1]
        axis = x.ndim - 1 - d
        n = x.shape[axis]
        out = n + before + after
        cols = []
        for o in range(out):
            j = _pad_index(o - before, n, mode)
            cols.append(np.full(x.shape[:axis] + (1,) + x.shape[axis + 1:], value) if j is None
                        else np.take(x, [j], axis=axis))
        x = np.concatenate(cols, axis=axis) if cols else np.empty(x.shape[:axis] + (0,) + x.shape[axis + 1:])
    return x


def _out_sizes(ins, size, scale_factor):
    if size is not None:
        outs = tuple(size) if isinstance(size, (tuple, list)) else (size,) * len(ins)
        return outs, (None,) * len(ins)
    sf = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * len(ins)
    return tuple(int(math.floor(n * s)) for n, s in zip(ins, sf)), sf


def _scale32(n, o, s):
    # torch computes index scales in float32: 1/scale_factor when one is given, else in/out
    return np.float32(1.0 / s) if s is not None else np.float32(n) / np.float32(o)


def nearest_index(n, o, s, exact=False):
    """Source index per output index along one axis (torch's float32 rule; legacy 'nearest' copies
    for o == n and takes i >> 1 for o == 2n)."""
    sc = _scale32(n, o, s)
    idx = []
    for i in range(o):
        if exact:
            v = math.floor(np.float32(np.float32(i) + np.float32(0.5)) * sc)
        elif o == n:
            v = i
        elif o == 2 * n:
            v = i >> 1
        else:
            v = math.floor(np.float32(i) * sc)
        idx.append(min(int(v), n - 1))
    return np.array(idx, np.int64)


def linear_index(n, o, s, align_corners):
    """(i0, i1, l0, l1) along one axis: torch's area_pixel_compute_source_index in float32."""
    i0, i1, l0, l1 = [], [], [], []
    f = np.float32
    if align_corners:
        ratio = f(n - 1) / f(o - 1) if o > 1 else f(0)
    else:
        ratio = _scale32(n, o, s)
    for i in range(o):
        if o == n:
            i0.append(i), i1.append(i), l0.append(1.0), l1.append(0.0)
            continue
        src = ratio * f(i) if align_corners else f(ratio * f(f(i) + f(0.5))) - f(0.5)
        if not align_corners and src < 0:
            src = f(0)
        j = min(int(math.floor(src)), n - 1)
        lam = min(max(float(f(src - f(j))), 0.0), 1.0)
        i0.append(j), i1.append(j + (1 if j < n - 1 else 0)), l1.append(lam), l0.append(float(f(1) - f(lam)))
    return np.array(i0), np.array(i1), np.array(l0), np.array(l1)


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None):
    with np.errstate(invalid="ignore"):  # inf * 0 and inf - inf are NaN, as in torch
        return _interpolate(x, size, scale_factor, mode, align_corners, recompute_scale_factor)


def _interpolate(x, size, scale_factor, mode, align_corners, recompute_scale_factor):
    x = np.asarray(x, np.float64)
    ins = x.shape[2:]
    outs, scales = _out_sizes(ins, size, scale_factor)
    if recompute_scale_factor:
        scales = (None,) * len(ins)
    if mode in ("nearest", "nearest-exact"):
        y = x
        for d, (n, o, s) in enumerate(zip(ins, outs, scales)):
            y = np.take(y, nearest_index(n, o, s, mode == "nearest-exact"), axis=2 + d)
        return y
    ac = bool(align_corners)
    if x.ndim == 3:  # linear: y = l0 * x[i0] + l1 * x[i1]
        i0, i1, l0, l1 = linear_index(ins[0], outs[0], scales[0], ac)
        return l0 * x[..., i0] + l1 * x[..., i1]
    # bilinear: torch's nesting, width inside height:
    # y = ly0 * (lx0 * x[y0, x0] + lx1 * x[y0, x1]) + ly1 * (lx0 * x[y1, x0] + lx1 * x[y1, x1])
    y0, y1, ly0, ly1 = linear_index(ins[0], outs[0], scales[0], ac)
    x0, x1, lx0, lx1 = linear_index(ins[1], outs[1], scales[1], ac)
    r0, r1 = x[:, :, y0], x[:, :, y1]
    t0 = lx0 * r0[..., x0] + lx1 * r0[..., x1]
    t1 = lx0 * r1[..., x0] + lx1 * r1[..., x1]
    return ly0[:, None] * t0 + ly1[:, None] * t1


def pixel_shuffle(x, r):
    # (*, C*r*r, H, W) -> (*, C, H*r, W*r): y[c, h*r + i, w*r + j] = x[c*r*r + i*r + j, h, w]
    x = np.asarray(x, np.float64)
    *lead, c2, h, w = x.shape
    c = c2 // (r * r)
    y = x.reshape(*lead, c, r, r, h, w)
    nl = len(lead)
    y = y.transpose(*range(nl), nl, nl + 3, nl + 1, nl + 4, nl + 2)
    return y.reshape(*lead, c, h * r, w * r)


def pixel_unshuffle(x, r):
    # inverse of pixel_shuffle: (*, C, H*r, W*r) -> (*, C*r*r, H, W)
    x = np.asarray(x, np.float64)
    *lead, c, hr, wr = x.shape
    h, w = hr // r, wr // r
    nl = len(lead)
    y = x.reshape(*lead, c, h, r, w, r)
    y = y.transpose(*range(nl), nl, nl + 2, nl + 4, nl + 1, nl + 3)
    return y.reshape(*lead, c * r * r, h, w)


def channel_shuffle(x, groups):
    # (N, C, *) viewed as (N, g, C/g, *), the two channel axes swapped, flattened back
    x = np.asarray(x, np.float64)
    n, c = x.shape[:2]
    rest = x.shape[2:]
    return x.reshape(n, groups, c // groups, *rest).swapaxes(1, 2).reshape(x.shape)
