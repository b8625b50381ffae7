"""NumPy reference for conv_transpose2d (see reference.py): float64, from the definition in torch's
ConvTranspose2d docs (the gradient of conv2d with respect to its input).

Every input pixel (iy, ix) of channel ci = g*Cin_g + i adds x * w[ci, co, ky, kx] to the full output
at (iy*sh + ky*dh, ix*sw + kx*dw), channel g*Cout_g + co. The full output has
(H - 1)*sh + dh*(KH - 1) + 1 + output_padding rows; `padding` crops pt rows from its top and pb
from its bottom (the output_padding rows are appended before the crop), so
OH = (H - 1)*sh - pt - pb + dh*(KH - 1) + output_padding + 1.
"""
import numpy as np


def _pair_t(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    # x: (N, Cin, H, W), w: (Cin, Cout/groups, KH, KW) -> (N, Cout, OH, OW); padding an int, a pair
    # or a 4-tuple (top, left, bottom, right)
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    sh, sw = _pair_t(stride)
    dh, dw = _pair_t(dilation)
    oph, opw = _pair_t(output_padding)
    if isinstance(padding, int) or len(padding) == 2:
        ph, pw = _pair_t(padding)
        pt, pl, pb, pr = ph, pw, ph, pw
    else:
        pt, pl, pb, pr = padding
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = cin // groups
    fh = (h - 1) * sh + dh * (kh - 1) + 1 + oph
    fw = (wd - 1) * sw + dw * (kw - 1) + 1 + opw
    full = np.zeros((n, og * groups, fh, fw))
    for g in range(groups):
        xg = x[:, g * cg:(g + 1) * cg]
        for ky in range(kh):
            for kx in range(kw):
                contrib = np.einsum("nchw,co->nohw", xg, w[g * cg:(g + 1) * cg, :, ky, kx])
                full[:, g * og:(g + 1) * og, ky * dh: ky * dh + sh * (h - 1) + 1: sh,
                     kx * dw: kx * dw + sw * (wd - 1) + 1: sw] += contrib
    y = full[:, :, pt:fh - pb, pl:fw - pr]
    if b is not None:
        y = y + np.asarray(b, np.float64)[None, :, None, None]
    return y
