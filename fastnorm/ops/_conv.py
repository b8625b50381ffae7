"""conv2d, conv_transpose2d and linear (torch.nn.functional semantics)."""
import numpy as np

from fastnorm import _C
from fastnorm.ops import _dwconv
from fastnorm.ops._common import ACT_NONE, _batched, _pair, _positive, _to_nchw, _to_nhwc, _vector, as_float32
from fastnorm.threads import get_num_threads

__all__ = ["conv2d", "conv_transpose2d", "linear"]


def conv_padding(padding, kernel, dilation, stride, name="padding"):
    """torch's conv padding argument -> (top, left, bottom, right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            if stride != (1, 1):
                raise ValueError("%s='same' is not supported for strided convolutions (stride=%r), as in torch"
                                 % (name, stride))
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            return th // 2, tw // 2, th - th // 2, tw - tw // 2
        raise ValueError("%s: expected 'valid', 'same', an int or a pair, got %r" % (name, padding))
    ph, pw = _pair(padding, name)
    if ph < 0 or pw < 0:
        raise ValueError("%s: expected non-negative values, got %r" % (name, padding))
    return ph, pw, ph, pw


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    x, unbatched = _batched(as_float32(input, "input"), "input", 4)
    w = as_float32(weight, "weight")
    if w.ndim != 4:
        raise ValueError("weight: expected 4D (out_channels, in_channels/groups, kH, kW), got shape %s" % (w.shape,))
    stride, dilation = _positive(stride, "stride"), _positive(dilation, "dilation")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError("groups: expected a positive int, got %r" % (groups,))
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    if c != cg * groups:
        raise ValueError("input: expected %d channels (weight's %d x groups=%d), got %d"
                         % (cg * groups, cg, groups, c))
    if cout % groups:
        raise ValueError("weight: out_channels=%d is not divisible by groups=%d" % (cout, groups))
    b = _vector(bias, "bias", cout)
    pads = conv_padding(padding, (kh, kw), dilation, stride)
    desc = (c, cout, int(groups), kh, kw, stride[0], stride[1], dilation[0], dilation[1]) + pads
    oh = _C.conv_out_extent(h, kh, stride[0], dilation[0], pads[0], pads[2])
    ow = _C.conv_out_extent(wd, kw, stride[1], dilation[1], pads[1], pads[3])
    if oh == 0 or ow == 0:
        raise ValueError("input: spatial size %dx%d (padded %dx%d) is smaller than the kernel %dx%d (dilated)"
                         % (h, wd, h + pads[0] + pads[2], wd + pads[1] + pads[3],
                            dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1))
    if _dwconv.is_depthwise(c, cout, groups):  # channel multiplier 1: the depthwise kernel
        y = _dwconv.dwconv2d_nchw(x, w, b, desc, oh, ow)
        return y[0] if unbatched else y
    packed = _C.conv2d_pack(-1, desc, w, b)
    y = np.empty((n, oh, ow, cout), np.float32)
    _C.conv2d_nhwc(-1, desc, _to_nhwc(x), packed, None, ACT_NONE, y, get_num_threads())
    y = _to_nchw(y)
    return y[0] if unbatched else y


def linear(input, weight, bias=None):
    x = as_float32(input, "input")
    w = as_float32(weight, "weight")
    if w.ndim != 2:
        raise ValueError("weight: expected 2D (out_features, in_features), got shape %s" % (w.shape,))
    out_f, in_f = w.shape
    if x.ndim < 1 or x.shape[-1] != in_f:
        raise ValueError("input: expected last dimension in_features=%d, got shape %s" % (in_f, x.shape))
    b = _vector(bias, "bias", out_f)
    lead = x.shape[:-1]
    rows = int(np.prod(lead)) if lead else 1
    desc = (in_f, out_f, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
    packed = _C.conv2d_pack(-1, desc, w.reshape(out_f, in_f, 1, 1), b)
    y = np.empty((rows, 1, 1, out_f), np.float32)
    if rows:
        _C.conv2d_nhwc(-1, desc, x.reshape(rows, 1, 1, in_f), packed, None, ACT_NONE, y, get_num_threads())
    return y.reshape(lead + (out_f,))


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """torch.nn.functional.conv_transpose2d: weight is (in_channels, out_channels/groups, kH, kW);
    output size (H - 1)*stride - 2*padding + dilation*(kH - 1) + output_padding + 1."""
    x, unbatched = _batched(as_float32(input, "input"), "input", 4)
    w = as_float32(weight, "weight")
    if w.ndim != 4:
        raise ValueError("weight: expected 4D (in_channels, out_channels/groups, kH, kW), got shape %s"
                         % (w.shape,))
    stride, dilation = _positive(stride, "stride"), _positive(dilation, "dilation")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError("groups: expected a positive int, got %r" % (groups,))
    ph, pw = _pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError("padding: expected non-negative values, got %r" % (padding,))
    oph, opw = _pair(output_padding, "output_padding")
    if oph < 0 or opw < 0:
        raise ValueError("output_padding: expected non-negative values, got %r" % (output_padding,))
    if oph >= max(stride[0], dilation[0]) or opw >= max(stride[1], dilation[1]):
        raise ValueError("output_padding: must be smaller than either stride or dilation on each axis, "
                         "got output_padding=%r, stride=%r, dilation=%r"
                         % ((oph, opw), stride, dilation))
    n, c, h, wd = x.shape
    cin, cout_g, kh, kw = w.shape
    if c != cin:
        raise ValueError("input: expected %d channels (weight's in_channels), got %d" % (cin, c))
    if cin % groups:
        raise ValueError("weight: in_channels=%d is not divisible by groups=%d" % (cin, groups))
    if cout_g < 1 or kh < 1 or kw < 1:
        raise ValueError("weight: expected non-empty (in_channels, out_channels/groups, kH, kW), got shape %s"
                         % (w.shape,))
    cout = cout_g * int(groups)
    b = _vector(bias, "bias", cout)
    oh = (h - 1) * stride[0] - 2 * ph + dilation[0] * (kh - 1) + oph + 1
    ow = (wd - 1) * stride[1] - 2 * pw + dilation[1] * (kw - 1) + opw + 1
    if h < 1 or wd < 1 or oh < 1 or ow < 1:
        raise ValueError("input: spatial size %dx%d gives an empty output (%dx%d) with padding %r"
                         % (h, wd, oh, ow, (ph, pw)))
    desc = (cin, cout, int(groups), kh, kw, stride[0], stride[1], dilation[0], dilation[1], ph, pw, ph, pw)
    packed = _C.conv_transpose2d_pack(-1, desc, w, b)
    y = np.empty((n, oh, ow, cout), np.float32)
    _C.conv_transpose2d_nhwc(-1, desc, _to_nhwc(x), packed, ACT_NONE, y, get_num_threads())
    y = _to_nchw(y)
    return y[0] if unbatched else y
