"""Handlers: Conv, ConvTranspose, Gemm, MatMul (activation x constant, constant x activation, two activations).
"""
import math

import numpy as np

from fastnorm.optable import OPS
from fastnorm.frontends.onnx._base import (BATCH, BatchDep, Malformed, Unsupported, attr_str, emit_permute,
    emit_reshape, fmt_shape)


def auto_pads(auto_pad, ins, ks, ss, ds):
    """SAME_UPPER / SAME_LOWER: per-axis (begin, end) pads so that out = ceil(in / stride)."""
    out = []
    for n, k, s, d in zip(ins, ks, ss, ds):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        small = total // 2
        out.append((small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small))
    return out


def _conv_geometry(c, node, attrs, spatial, kshape, what="Conv", nd=2):
    """(strides, dilations, pads) of an nd-D conv; pads in ONNX's order (every axis' begin, then every
    axis' end: [top, left, bottom, right] in 2-D)."""
    if len(spatial) != nd:
        raise Unsupported("%dD %s (only 2D runs)" % (len(spatial), what))
    ks = attrs.get("kernel_shape")
    if ks is not None and list(ks) != list(kshape):
        raise Malformed("kernel_shape %r does not match the weight's %r" % (list(ks), list(kshape)))
    strides = [int(v) for v in attrs.get("strides", [1] * nd)]
    dil = [int(v) for v in attrs.get("dilations", [1] * nd)]
    if len(strides) != nd or len(dil) != nd or min(strides + dil) < 1:
        raise Malformed("strides %r / dilations %r" % (strides, dil))
    auto_pad = attr_str(attrs.get("auto_pad"), "NOTSET")
    if auto_pad in ("NOTSET", ""):
        pads = [int(v) for v in attrs.get("pads", [0] * (2 * nd))]
        if len(pads) != 2 * nd:
            raise Malformed("pads %r (expected %d values)" % (pads, 2 * nd))
    elif auto_pad == "VALID":
        pads = [0] * (2 * nd)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        be = auto_pads(auto_pad, spatial, kshape, strides, dil)
        pads = [b for b, _ in be] + [e for _, e in be]
    else:
        raise Unsupported("auto_pad %r" % auto_pad)
    if min(pads) < 0:
        raise Unsupported("negative pads %r" % pads)
    return strides, dil, pads


def _conv_operands(c, node, what):
    """(input name, input shape, weight W, bias B or None) of a 2D Conv / ConvTranspose."""
    name, shape = c.act(node)
    w = c.fweight(node, 1, "weight W", required=True)
    b = c.fweight(node, 2, "bias B")
    if w.ndim != len(shape) or w.ndim < 3:
        raise Malformed("weight %r does not fit input %r" % (w.shape, shape))
    if w.ndim != 4:
        raise Unsupported("%dD %s (only 2D runs)" % (w.ndim - 2, what))
    return name, shape, w, b


def _attrs_2d(attrs):
    """A 1-D conv's attributes as the 2-D conv's over (1, L): unit height, no vertical padding."""
    out = dict(attrs)
    for k in ("kernel_shape", "strides", "dilations"):
        if attrs.get(k) is not None:
            out[k] = [1] + [int(v) for v in attrs[k]]
    if attrs.get("pads") is not None:
        p = [int(v) for v in attrs["pads"]]
        out["pads"] = [0, p[0], 0, p[1]] if len(p) == 2 else p
    return out


def op_conv1d(c, node, attrs, name, shape, w, b):
    """Conv on (n, c, l): reshape to (n, c, 1, l), conv2d with a (cout, cin/g, 1, k) weight, reshape back."""
    a2 = _attrs_2d(attrs)
    w4 = w[:, :, None, :]
    strides, dil, pads = _conv_geometry(c, node, a2, (1,) + tuple(shape[2:]), w4.shape[2:])
    lead = -1 if shape[0] is BATCH else int(shape[0])
    up = c.emit(node, "reshape", [name], {"shape": [lead, int(shape[1]), 1, int(shape[2])]})
    ins = [up, c.weight(node, "weight", w4), c.weight(node, "bias", b.reshape(-1)) if b is not None else ""]
    y = c.emit(node, "conv2d", ins, {"stride": strides, "padding": pads, "dilation": dil,
                                     "groups": int(attrs.get("group", 1))})
    ys = c._ir_value_shape[y]
    c.set_act(node.output[0], c.emit(node, "reshape", [y], {"shape": [lead, int(ys[1]), int(ys[3])]},
                                     node.output[0]))


def op_conv3d(c, node, attrs, name, shape, w, b):
    """Conv on (n, c, t, h, w): a conv3d node (video nets: C3D, R(2+1)D, I3D)."""
    strides, dil, pads = _conv_geometry(c, node, attrs, shape[2:], w.shape[2:], nd=3)
    ins = [name, c.weight(node, "weight", w), c.weight(node, "bias", b.reshape(-1)) if b is not None else ""]
    c.set_act(node.output[0], c.emit(node, "conv3d", ins, {
        "stride": strides, "padding": pads, "dilation": dil, "groups": int(attrs.get("group", 1))},
        node.output[0]))


def op_conv(c, node, attrs):
    name, shape = c.act(node)
    w = c.fweight(node, 1, "weight W", required=True)
    if len(shape) == 3 and w.ndim == 3:
        return op_conv1d(c, node, attrs, name, shape, w, c.fweight(node, 2, "bias B"))
    if len(shape) == 5 and w.ndim == 5:
        return op_conv3d(c, node, attrs, name, shape, w, c.fweight(node, 2, "bias B"))
    name, shape, w, b = _conv_operands(c, node, "Conv")
    strides, dil, pads = _conv_geometry(c, node, attrs, shape[2:], w.shape[2:])
    groups = int(attrs.get("group", 1))
    ins = [name, c.weight(node, "weight", w), c.weight(node, "bias", b.reshape(-1)) if b is not None else ""]
    c.set_act(node.output[0], c.emit(node, "conv2d", ins, {
        "stride": strides, "padding": [pads[0], pads[1], pads[2], pads[3]], "dilation": dil,
        "groups": groups}, node.output[0]))


def op_conv_transpose(c, node, attrs):
    name, shape, w, b = _conv_operands(c, node, "ConvTranspose")
    ks = attrs.get("kernel_shape")
    if ks is not None and list(ks) != list(w.shape[2:]):
        raise Malformed("kernel_shape %r does not match the weight's %r" % (list(ks), list(w.shape[2:])))
    k = list(w.shape[2:])
    ins = list(shape[2:])
    strides = [int(v) for v in attrs.get("strides", [1, 1])]
    dil = [int(v) for v in attrs.get("dilations", [1, 1])]
    opad = [int(v) for v in attrs.get("output_padding", [0, 0])]
    groups = int(attrs.get("group", 1))
    auto_pad = attr_str(attrs.get("auto_pad"), "NOTSET")
    out_shape = attrs.get("output_shape")
    if out_shape is not None:
        out_shape = [int(v) for v in out_shape][-2:]
    if auto_pad not in ("NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise Unsupported("auto_pad %r" % auto_pad)
    pads = attrs.get("pads")
    # output_shape given: the pads follow from it (the spec: explicit pads are then ignored)
    if pads is None and auto_pad in ("SAME_UPPER", "SAME_LOWER") or out_shape is not None:
        if out_shape is None:
            out_shape = [ins[i] * strides[i] for i in range(2)]
        total = [strides[i] * (ins[i] - 1) + opad[i] + (k[i] - 1) * dil[i] + 1 - out_shape[i] for i in range(2)]
        begin, end = [], []
        for t in total:
            if auto_pad == "SAME_UPPER":
                begin.append(t // 2)
                end.append(t - t // 2)
            else:
                begin.append(t - t // 2)
                end.append(t // 2)
        pads = begin + end
    elif pads is None:
        pads = [0, 0, 0, 0]
    pads = [int(v) for v in pads]
    if len(pads) != 4:
        raise Malformed("pads %r (expected 4 values)" % pads)
    # a negative end pad extends the output: the same as output_padding
    for i in range(2):
        if pads[2 + i] < 0:
            opad[i] -= pads[2 + i]
            pads[2 + i] = 0
    if min(pads) < 0:
        raise Unsupported("negative begin pads %r" % pads)
    ins_ir = [name, c.weight(node, "weight", w), c.weight(node, "bias", b.reshape(-1)) if b is not None else ""]
    if "conv_transpose2d" not in OPS:
        raise Unsupported("ConvTranspose needs the conv_transpose2d op (not in this version)")
    c.set_act(node.output[0], c.emit(node, "conv_transpose2d", ins_ir, {
        "stride": strides, "padding": [pads[0], pads[1], pads[2], pads[3]], "output_padding": opad,
        "dilation": dil, "groups": groups}, node.output[0]))


def op_gemm(c, node, attrs):
    a_in, b_in = node.input[0], node.input[1]
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    ta, tb = int(attrs.get("transA", 0)), int(attrs.get("transB", 0))
    if not c.is_act(a_in):
        raise Unsupported("A is a constant and B %s (only activation x constant weight runs)"
                           % ("an activation" if c.is_act(b_in) else "a constant"))
    name, shape = c.act(node)
    if len(shape) != 2:
        raise Malformed("A must be 2D, got %r" % (fmt_shape(shape),))
    if ta:
        if shape[0] is BATCH:
            raise BatchDep("transA=1 transposes the batch")
        raise Unsupported("transA=1 with an activation A")
    if c.is_act(b_in):
        raise Unsupported("B is an activation (only constant weights)")
    bm = c.fweight(node, 1, "B", True)
    if bm.ndim != 2:
        raise Malformed("B must be 2D, got %r" % (bm.shape,))
    w = bm if tb else bm.T                                    # (out, in)
    if alpha != 1.0:                                          # (a float32 B times 1.0 is itself: no copy)
        w = w.astype(np.float64) * alpha
    if w.shape[1] != shape[1]:
        raise Malformed("A %r and B %r do not fit (transB=%d)" % (fmt_shape(shape), bm.shape, tb))
    cm = c.fweight(node, 2, "C")
    bias, extra = None, None
    if cm is not None and beta != 0.0:
        cm = cm.astype(np.float64) * beta
        if cm.ndim <= 1 or (cm.ndim == 2 and cm.shape[0] == 1):
            v = cm.reshape(-1)
            if v.size not in (1, w.shape[0]):
                raise Malformed("C %r does not broadcast to (M, %d)" % (cm.shape, w.shape[0]))
            bias = np.broadcast_to(v, (w.shape[0],))
        else:
            if shape[0] is BATCH:
                raise BatchDep("C %r varies along the batch" % (cm.shape,))
            extra = cm
    ins = [name, c.weight(node, "weight", w, transposed_ok=True),
           c.weight(node, "bias", bias) if bias is not None else ""]
    if extra is None:
        c.set_act(node.output[0], c.emit(node, "linear", ins, {}, node.output[0]))
    else:
        y = c.emit(node, "linear", ins)
        c.set_act(node.output[0], c.emit(node, "add", [y, c.weight(node, "C", extra)], {}, node.output[0]))


def op_matmul(c, node, attrs):
    a_in, b_in = node.input[0], node.input[1]
    if c.is_act(a_in) and c.is_act(b_in):   # attention's q @ k^T, attn @ v
        (a_name, a_shape), (b_name, b_shape) = c.act(node), c.act(node, 1)
        if len(a_shape) < 2 or len(b_shape) < 2:
            raise Unsupported("a 1D operand of a product of two activations (A %s, B %s)"
                              % (fmt_shape(a_shape), fmt_shape(b_shape)))
        c.set_act(node.output[0], c.emit(node, "matmul", [a_name, b_name], {}, node.output[0]))
        return
    if c.is_act(b_in) and not c.is_act(a_in):
        return _matmul_const_a(c, node, c.fweight(node, 0, "A", True))
    if not c.is_act(a_in) or c.is_act(b_in):
        raise Unsupported("only activation x constant 2D weight runs (A %s, B %s)"
                           % ("activation" if c.is_act(a_in) else "constant",
                              "activation" if c.is_act(b_in) else "constant"))
    name, shape = c.act(node)
    bm = c.fweight(node, 1, "B", True)
    if bm.ndim != 2:
        raise Unsupported("a %dD constant B (only 2D weights)" % bm.ndim)
    if len(shape) < 2:
        raise Unsupported("a 1D A")
    if shape[-1] != bm.shape[0]:
        raise Malformed("A %r and B %r do not fit" % (fmt_shape(shape), bm.shape))
    c.set_act(node.output[0], c.emit(node, "linear", [name, c.weight(node, "weight", bm.T, transposed_ok=True), ""], {},
                                     node.output[0]))


def _matmul_const_a(c, node, a):
    """W @ x (DETR's learned queries by the memory): A a constant (M, K), B an activation (..., K, N) ->
    (..., M, N), as B's last two dims swapped, a linear by A (already the (out, in) weight), swapped
    back. A 1-D A (K,) gives (..., N): a linear with one output, that dim then dropped. A constant
    (..., G, M, K) whose leading dims are B's last ones (per-head queries folded into a fixed-batch
    export) is a 1x1 conv with G groups on B viewed as (rest, G * K, N, 1)."""
    b_name, b_shape = c.act(node, 1)
    if a.ndim == 0:
        raise Malformed("A is a scalar (MatMul needs at least 1D operands)")
    if len(b_shape) < 2:
        raise Unsupported("a 1D activation B %s by a constant A %s" % (fmt_shape(b_shape), list(a.shape)))
    k = a.shape[-1]
    if b_shape[-2] is BATCH:
        raise BatchDep("A %s contracts over B %s's batch" % (list(a.shape), fmt_shape(b_shape)))
    if b_shape[-2] != k:
        raise Malformed("A %s and B %s do not fit (A's last dim %d, B's second-to-last %d)"
                        % (list(a.shape), fmt_shape(b_shape), k, b_shape[-2]))
    groups = list(a.shape[:-2])
    while groups and groups[0] == 1:
        groups.pop(0)
    r = len(b_shape)
    # the result's dims: B's leading ones, and a 1 for each extra leading dim of A
    out_shape = [1] * max(0, a.ndim - r) + list(b_shape[:-2]) + ([a.shape[-2]] if a.ndim > 1 else []) \
        + [b_shape[-1]]
    if groups:
        out, _ = _matmul_grouped(c, node, a, groups, b_name, b_shape)
    else:
        swap = list(range(r - 2)) + [r - 1, r - 2]
        t, _ = emit_permute(c, node, b_name, b_shape, swap)                 # (..., N, K)
        y = c.emit(node, "linear", [t, c.weight(node, "weight", a.reshape(-1, k)), ""])     # (..., N, M)
        ys = c.shape_of_ir(y)
        if a.ndim == 1:
            out, _ = emit_reshape(c, node, y, ys, ys[:-1])                 # (..., N)
        else:
            out, _ = emit_permute(c, node, y, ys, swap)                    # (..., M, N)
    out, _ = emit_reshape(c, node, out, c.shape_of_ir(out), out_shape)
    c.rename(out, node.output[0])


def _matmul_grouped(c, node, a, groups, b_name, b_shape):
    """A (1.., G1.., M, K) @ B (..., G1.., K, N): a grouped 1x1 conv; -> (IR value, shape (..., G1.., M, N))."""
    j = len(groups)
    if len(b_shape) - 2 < j:
        raise Unsupported("a constant A %s with more non-unit leading dims than B %s"
                          % (list(a.shape), fmt_shape(b_shape)))
    if any(d is BATCH for d in b_shape[-2 - j:-2]):
        raise BatchDep("a constant A %s varies along B %s's batch" % (list(a.shape), fmt_shape(b_shape)))
    if list(b_shape[-2 - j:-2]) != groups:
        raise Unsupported("a constant A %s whose leading dims %s broadcast against B %s's (only equal "
                          "ones, or ones)" % (list(a.shape), groups, fmt_shape(b_shape)))
    rest = list(b_shape[:-2 - j])
    if len(rest) == 1 or not rest:
        p = rest[0] if rest else 1
    elif BATCH in rest:
        raise BatchDep("B %s's batch would merge with its other leading dims" % (fmt_shape(b_shape),))
    else:
        p = math.prod(rest)
    g = math.prod(groups)
    m, k, n = a.shape[-2], a.shape[-1], b_shape[-1]
    x4, _ = emit_reshape(c, node, b_name, b_shape, [p, g * k, n, 1])
    w = a.reshape(g * m, k, 1, 1)                  # output channel g * M + m reads group g's K inputs
    y = c.emit(node, "conv2d", [x4, c.weight(node, "weight", w), ""],
               {"stride": [1, 1], "padding": [0, 0, 0, 0], "dilation": [1, 1], "groups": g})
    return emit_reshape(c, node, y, c.shape_of_ir(y), list(b_shape[:-2]) + [m, n])


# ONNX op type -> handler(converter, node, attrs)
HANDLERS = {
    "Conv": op_conv,
    "ConvTranspose": op_conv_transpose,
    "Gemm": op_gemm,
    "MatMul": op_matmul,
}
